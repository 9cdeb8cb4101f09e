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
	empty := float64(strings.Count("0004300021000320", "0"))
	untagged := map[string]float64{
		"1234341221434321":    1,
		"1234 3412 2143 4321": 1, // non-digits dropped
		"0000000000000000":    0,
		"1234341221434322":    (empty - 1) / empty, // last (empty) cell wrong
		"12":                  2 / empty,           // padded with 0
		"1234341221434321999": 1,                   // cut to 16
		"":                    0,
		"no digits":           0,
	}
	for text, want := range untagged {
		if got := score(t, "sudoku_cells", Completion{Text: text, Ref: ref}); math.Abs(got-want) > 1e-12 {
			t.Errorf("sudoku_cells %q: %v, want %v", text, got, want)
		}
	}
	tagged := map[string]float64{
		"1234341221434321":                                             0, // d1: no <answer> tag, no score
		"<answer>1234341221434321</answer>":                            1,
		"<answer>0000</answer> then <answer>1234341221434321</answer>": 1, // the last tag counts
		"<answer>\n1234\n3412\n2143\n4321\n</answer>":                  1,
		"<answer></answer>":                                            0,
	}
	for text, want := range tagged {
		if got := score(t, "d1_sudoku", Completion{Text: text, Ref: ref}); math.Abs(got-want) > 1e-12 {
			t.Errorf("d1_sudoku %q: %v, want %v", text, got, want)
		}
	}
	if _, err := New("d1_sudoku"); err != nil {
		t.Fatal(err)
	}
	r, _ := New("d1_sudoku")
	if _, err := r.Score(Completion{Text: "1", Ref: map[string]any{}}); err == nil {
		t.Error("missing reference accepted")
	}
}

func TestCountdown(t *testing.T) {
	ref := map[string]any{"numbers": []int{30, 100, 93}, "target": 23}
	tagged := map[string]float64{
		"<answer>30-(100-93)</answer>":   1,
		"<answer> 30-(100-93) </answer>": 1,
		"<answer>30+100-93</answer>":     0.1, // wrong value
		"<answer>100-93</answer>":        0.1, // a number missing
		"<answer>30/(100-100)</answer>":  0.1, // division by zero
		"<answer>abc</answer>":           0.1,
		"30-(100-93)":                    0, // no tag
	}
	for text, want := range tagged {
		if got := score(t, "d1_countdown", Completion{Text: text, Ref: ref}); got != want {
			t.Errorf("d1_countdown %q: %v, want %v", text, got, want)
		}
	}
	if got := score(t, "countdown", Completion{Text: "30-(100-93)", Ref: ref}); got != 1 {
		t.Errorf("untagged countdown: %v", got)
	}
	if got := score(t, "countdown", Completion{Text: "", Ref: ref}); got != 0 {
		t.Errorf("empty countdown: %v", got)
	}
	div := map[string]any{"numbers": []int{6, 4, 3}, "target": 8}
	if got := score(t, "countdown", Completion{Text: "6/3*4", Ref: div}); got != 1 {
		t.Errorf("division: %v", got)
	}
}

func TestGSM8K(t *testing.T) {
	ref := map[string]any{"answer": "72"}
	good := "<reasoning>\nShe sold 48 + 24.\nSo 72.\n</reasoning>\n<answer>\n72\n</answer>\n"
	cases := []struct {
		name, text string
		want       float64
	}{
		{"d1_gsm8k_correct", good, 2},
		{"d1_gsm8k_correct", "<answer> 72 </answer>", 2},
		{"d1_gsm8k_correct", "72", 2}, // no tag: the whole text, as in d1
		{"d1_gsm8k_correct", "<answer>72.0</answer>", 0},
		{"d1_gsm8k_correct", "<answer>1</answer><answer>72</answer>", 2}, // last tag
		{"d1_gsm8k_int", good, 0.5},
		{"d1_gsm8k_int", "<answer>-72</answer>", 0},
		{"d1_gsm8k_int", "<answer></answer>", 0},
		{"d1_gsm8k_strict_format", good, 0.5},
		{"d1_gsm8k_strict_format", good + "extra", 0},
		{"d1_gsm8k_strict_format", "<reasoning>x</reasoning><answer>72</answer>", 0},
		{"d1_gsm8k_soft_format", "<reasoning>x</reasoning> \n <answer>72</answer> trailing", 0.5},
		{"d1_gsm8k_soft_format", "preamble <reasoning>x</reasoning><answer>72</answer>", 0},
		{"d1_gsm8k_xmlcount", good, 0.5},
		{"d1_gsm8k_xmlcount", good + "abc", 0.5 - 0.003 - 0.003},
		{"d1_gsm8k_xmlcount", "<reasoning>\nx", 0.125},
		{"d1_gsm8k_xmlcount", "", 0},
	}
	for _, c := range cases {
		if got := score(t, c.name, Completion{Text: c.text, Ref: ref}); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s(%q) = %v, want %v", c.name, c.text, got, c.want)
		}
	}
}

func TestCombine(t *testing.T) {
	bad := Func(func(Completion) (float64, error) { return math.NaN(), nil })
	one := Func(func(Completion) (float64, error) { return 1, nil })
	s := Combine([]Component{{Name: "a", Weight: 0.5, Reward: one}, {Name: "b", Weight: 2, Reward: bad, FailureScore: -1}, {Name: "c", Weight: 2, Reward: one}}, Completion{})
	if s.Total != 0.5 || s.Components["b"] != -1 || s.Failures["b"] == "" || s.Components["a"] != 1 {
		t.Fatalf("%+v", s)
	}
	if _, err := New("nope"); err == nil || !strings.Contains(err.Error(), "d1_sudoku") {
		t.Fatalf("unknown reward: %v", err)
	}
}

// BenchmarkBuiltins scores 10,000 completions with every built-in.
func BenchmarkBuiltins(b *testing.B) {
	var comps []Component
	for _, n := range []string{"sudoku_cells", "d1_sudoku", "countdown", "d1_countdown", "d1_gsm8k_correct", "d1_gsm8k_int", "d1_gsm8k_strict_format", "d1_gsm8k_soft_format", "d1_gsm8k_xmlcount"} {
		r, _ := New(n)
		comps = append(comps, Component{Name: n, Weight: 1, Reward: r})
	}
	texts := []string{"1234341221434321", "<answer>30-(100-93)</answer>", "<reasoning>\nx\n</reasoning>\n<answer>\n72\n</answer>\n", "garbage 12"}
	ref := map[string]any{"puzzle": "0004300021000320", "solution": "1234341221434321", "numbers": []int{30, 100, 93}, "target": 23, "answer": "72"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 10000; j++ {
			Combine(comps, Completion{Text: texts[j%len(texts)], Ref: ref})
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)/10, "ms/1000completions")
}

func TestNormalizeRef(t *testing.T) {
	got := NormalizeRef(map[string]any{"numbers": []any{30.0, 100.0}, "target": 23.0, "x": 1.5, "s": "a"})
	if n, ok := got["numbers"].([]int); !ok || n[1] != 100 || got["target"] != 23 || got["x"] != 1.5 || got["s"] != "a" {
		t.Fatalf("%#v", got)
	}
}
