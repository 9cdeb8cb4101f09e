package reward

import (
	"math"
	"strings"
	"testing"
)

func score(t *testing.T, name string, c Completion) float64 {
	t.Helper()
	r, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Score(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSudokuCells(t *testing.T) {
	ref := map[string]any{"puzzle": "0004300021000320", "solution": "1234341221434321"}
	// 9 empty cells: positions 0,1,2,5,6,7,10,11,12 (0-based) and 15.
	empty := strings.Count("0004300021000320", "0")
	cases := map[string]float64{
		"1234341221434321":                  1,
		"<answer>1234341221434321</answer>": 1,
		"1234 3412 2143 4321":               1, // whitespace ignored
		"0000000000000000":                  0,
		"1234341221434322":                  float64(empty-1) / float64(empty), // last cell wrong
		"12":                                2 / float64(empty),                // padded with 0
		"1234341221434321999":               1,                                 // cut to 16
		"":                                  0,
	}
	for text, want := range cases {
		if got := score(t, "d1_sudoku", Completion{Text: text, Ref: ref}); math.Abs(got-want) > 1e-12 {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
	if _, err := Func(sudokuCells).Score(Completion{Text: "1", Ref: map[string]any{}}); err == nil {
		t.Error("missing reference accepted")
	}
}

func TestCountdown(t *testing.T) {
	ref := map[string]any{"numbers": []int{30, 100, 93}, "target": 23}
	cases := map[string]float64{
		"30-(100-93)":                    1,
		"<answer> 30-(100-93) </answer>": 1,
		"30+100-93":                      0.1, // wrong value
		"100-93":                         0.1, // a number missing
		"30/(100-100)":                   0.1, // unparsable (division by zero)
		"abc":                            0.1,
		"":                               0,
	}
	for text, want := range cases {
		if got := score(t, "d1_countdown", Completion{Text: text, Ref: ref}); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}

func TestCombine(t *testing.T) {
	bad := Func(func(Completion) (float64, error) { return math.NaN(), nil })
	one := Func(func(Completion) (float64, error) { return 1, nil })
	s := Combine([]Component{{"a", 0.5, one}, {"b", 2, bad}, {"c", 2, one}}, Completion{})
	if s.Total != 2.5 || s.Components["b"] != 0 || s.Failures["b"] == "" || s.Components["a"] != 1 {
		t.Fatalf("%+v", s)
	}
	if _, err := New("nope"); err == nil || !strings.Contains(err.Error(), "d1_sudoku") {
		t.Fatalf("unknown reward: %v", err)
	}
}
