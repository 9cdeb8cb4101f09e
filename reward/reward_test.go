package reward

import (
	"errors"
	"fmt"
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
		t.Fatalf("%s(%q): %v", name, c.Text, err)
	}
	return v
}

// The names recipes and scripts rely on.
func TestRegisteredNames(t *testing.T) {
	names := strings.Join(Names(), " ")
	for _, n := range []string{"d1_gsm8k_correct", "d1_gsm8k_int", "d1_gsm8k_strict_format", "d1_gsm8k_soft_format", "d1_gsm8k_xmlcount",
		"d1_countdown", "d1_sudoku", "code_pass_rate", "code_format", "d1_math_correct", "d1_math_format", "sudoku_cells", "countdown"} {
		if !strings.Contains(" "+names+" ", " "+n+" ") {
			t.Errorf("%s not registered (have %s)", n, names)
		}
	}
	if _, err := New("nope"); err == nil || !strings.Contains(err.Error(), "d1_sudoku") {
		t.Fatalf("unknown reward: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second d1_sudoku was accepted")
		}
	}()
	Register("d1_sudoku", func() Reward { return nil })
}

func TestSudokuSolved(t *testing.T) {
	ref := map[string]any{"puzzle": "0004300021000320", "solution": "1234341221434321"}
	cases := map[string]float64{
		"1234341221434321":      1,
		"  1234341221434321\n":  1, // stripped
		"1234341221434321<eos>": 1, // only the first 16 characters count
		"1234341221434322":      0, // last row repeats a 2
		"1234 3412 2143 4321":   0, // a grid is 16 digits, no spaces
		"1234312421341324":      0, // givens kept, every row a permutation, but columns and boxes repeat
		"123434122143432":       0, // short
		"1239341221434321":      0, // a given (the 4) overwritten
		"":                      0,
	}
	for text, want := range cases {
		if got := score(t, "sudoku_solved", Completion{Text: text, Ref: ref}); got != want {
			t.Errorf("sudoku_solved %q: %v, want %v", text, got, want)
		}
	}
	// another valid grid keeping the givens counts, as in remask eval: this
	// puzzle has two solutions (the 1s and 2s of rows 0 and 2 swap)
	multi := map[string]any{"puzzle": "0034341200434321", "solution": "1234341221434321"}
	for _, g := range []string{"1234341221434321", "2134341212434321"} {
		if got := score(t, "sudoku_solved", Completion{Text: g, Ref: multi}); got != 1 {
			t.Errorf("valid solution %s of a two-solution puzzle scored %v", g, got)
		}
	}
	if _, err := (func() (float64, error) {
		r, _ := New("sudoku_solved")
		return r.Score(Completion{Text: "1", Ref: map[string]any{}})
	})(); err == nil {
		t.Error("missing puzzle accepted")
	}
}

func TestSudokuCells(t *testing.T) {
	// puzzle 0004300021000320 has 10 empty cells
	ref := map[string]any{"puzzle": "0004300021000320", "solution": "1234341221434321"}
	untagged := map[string]float64{
		"1234341221434321":    1,
		"1234 3412 2143 4321": 1, // non-digits dropped
		"0000000000000000":    0,
		"1234341221434322":    0.9, // the last (empty) cell wrong
		"12":                  0.2, // padded with 0: two empty cells right
		"1234341221434321999": 1,   // cut to 16
		"9234341221434321":    0.9, // the first cell is empty in the puzzle: wrong
		"1239341221434321":    1,   // a given cell (the 4) overwritten: not counted
		"":                    0,
		"no digits":           0,
		"١234341221434321":    0.9, // an Arabic-Indic digit takes the first cell, as Python's isdigit does, and matches nothing
	}
	for text, want := range untagged {
		if got := score(t, "sudoku_cells", Completion{Text: text, Ref: ref}); math.Abs(got-want) > 1e-12 {
			t.Errorf("sudoku_cells %q: %v, want %v", text, got, want)
		}
	}
	tagged := map[string]float64{
		"1234341221434321":                                             0, // d1: no <answer> tag, no score
		"<answer>1234341221434321</answer>":                            1,
		"<answer>0000</answer> then <answer>1234341221434321</answer>": 1,   // the last tag counts
		"<answer>1234341221434321</answer> then <answer>0000</answer>": 0,   // ... even when it is worse
		"<answer>\n1234\n3412\n2143\n4321\n</answer>":                  1,   // lines and whitespace
		"<answer>  12  </answer>":                                      0.2, // padded
		"<answer></answer>":                                            0,
		"<answer>1234341221434321":                                     0, // never closed
		"reasoning 1234341221434321 <answer>12</answer>":               0.2,
	}
	for text, want := range tagged {
		if got := score(t, "d1_sudoku", Completion{Text: text, Ref: ref}); math.Abs(got-want) > 1e-12 {
			t.Errorf("d1_sudoku %q: %v, want %v", text, got, want)
		}
	}
	r, _ := New("d1_sudoku")
	if _, err := r.Score(Completion{Text: "1", Ref: map[string]any{}}); err == nil {
		t.Error("missing reference accepted")
	}
	// a puzzle without empty cells scores 0, as in d1
	full := map[string]any{"puzzle": "1234341221434321", "solution": "1234341221434321"}
	if got := score(t, "sudoku_cells", Completion{Text: "1234341221434321", Ref: full}); got != 0 {
		t.Errorf("full puzzle: %v", got)
	}
}

func TestCountdown(t *testing.T) {
	ref := map[string]any{"numbers": []int{30, 100, 93}, "target": 23}
	tagged := map[string]float64{
		"<answer>30-(100-93)</answer>":                   1,
		"<answer> 30 - ( 100 - 93 ) </answer>":           1,   // extra whitespace
		"<answer>\n30 - (100 - 93)\n</answer>":           1,   // stripped
		"<answer>30 - (100\n- 93)</answer>":              1,   // a line break inside parentheses is fine in Python
		"<answer>30 -\n(100 - 93)</answer>":              0.1, // ... outside them a SyntaxError
		"<answer>30\t-(100-93)</answer>":                 1,
		"<answer>-(100-93)+30</answer>":                  1,   // unary minus
		"<answer>30-(100-93)=23</answer>":                0.1, // '=' brings in 23: numbers differ
		"<answer>30+100-93</answer>":                     0.1, // wrong value
		"<answer>100-93</answer>":                        0.1, // a number missing
		"<answer>30-(100-93)+0</answer>":                 0.1, // an extra number
		"<answer>30-(100-93)</answer><answer>1</answer>": 0.1, // the last tag counts
		"<answer>1</answer><answer>30-(100-93)</answer>": 1,
		"<answer>abc</answer>":                           0.1,
		"<answer>30 x (100-93)</answer>":                 0.1,
		"<answer></answer>":                              0.1, // an answer, empty
		"30-(100-93)":                                    0,   // no tag
		"<answer>30-(100-93)":                            0,   // never closed
		"<answer>030-(100-93)</answer>":                  0.1, // leading zero: SyntaxError in Python 3
		"<answer>30.-(100-93)</answer>":                  1,   // a float literal: 23.0
		"<answer>30(100-93)</answer>":                    0.1, // a call of an int: TypeError
		"<answer>30**(100-93)</answer>":                  0.1, // valid, wrong
	}
	for text, want := range tagged {
		if got := score(t, "d1_countdown", Completion{Text: text, Ref: ref}); got != want {
			t.Errorf("d1_countdown %q: %v, want %v", text, got, want)
		}
	}
	if got := score(t, "countdown", Completion{Text: "30-(100-93)", Ref: ref}); got != 1 {
		t.Errorf("untagged countdown: %v", got)
	}
	if got := score(t, "countdown", Completion{Text: "  ", Ref: ref}); got != 0 {
		t.Errorf("empty untagged countdown: %v", got)
	}
	// the generator's layout: padded numbers, signs, a leading unary minus
	for text, want := range map[string]float64{
		"+ 30-100+ 93":   1,
		"- 30+100- 93":   0.1, // -23
		"+ 30-(100- 93)": 1,
		"30- 100 +93":    1,
		"+ 30- 10 0+ 93": 0.1, // the digit runs 10 and 0
	} {
		if got := score(t, "countdown", Completion{Text: text, Ref: ref}); got != want {
			t.Errorf("countdown %q: %v, want %v", text, got, want)
		}
	}
	// division, and the 1e-5 tolerance on float results
	cases := []struct {
		nums   []any
		target any
		eq     string
		want   float64
	}{
		{[]any{6.0, 4.0, 3.0}, 8.0, "6/3*4", 1},                           // JSON-decoded numbers
		{[]any{6.0, 4.0, 3.0}, 8.0, "6//3*4", 1},                          // floor division
		{[]any{7.0, 2.0, 3.0}, 1.0, "7//2-3+1", 0.1},                      // numbers differ (the 1)
		{[]any{1.0, 3.0, 3.0}, 1.0, "1/3*3", 1},                           // 0.333..*3 == 1.0 in floats
		{[]any{2.0, 3.0, 7.0}, 0.0, "2/3-7/10", 0.1},                      // 10 is not given
		{[]any{10.0, 3.0, 5.0}, 2.0, "10/3-5/3", 0.1},                     // 3 used twice
		{[]any{100.0, 7.0, 3.0}, 14.285714, "100/7", 0.1},                 // 3 unused
		{[]any{100.0, 7.0}, 14.285714, "100/7", 1},                        // within 1e-5 of a float target
		{[]any{100.0, 7.0}, 14.2857, "100/7", 0.1},                        // not within
		{[]any{4.0, 0.0}, 1.0, "4/0", 0.1},                                // ZeroDivisionError
		{[]any{4.0, 0.0, 4.0}, 1.0, "4**0", 0.1},                          // numbers differ
		{[]any{4.0, 0.0}, 1.0, "4**0", 1},                                 // int power
		{[]any{2.0, 1.0}, 0.5, "2**-1", 1},                                // negative exponent: a float
		{[]any{8.0, 3.0, 1.0}, 2.0, "8**(1/3)", 1},                        // float power within tolerance
		{[]any{8.0, 3.0, 1.0}, 2.0, "(-8)**(1/3)", 0.1},                   // a complex number in Python
		{[]any{100.0, 93.0, 30.0}, 23.0, "100**93**30", 0.1},              // too big to evaluate (d1 would hang)
		{[]any{2.0, 10.0}, 1024.0, "2**10", 1},                            // exponentiation
		{[]any{7.0, 2.0}, -4.0, "-7//2", 1},                               // floors towards -inf
		{[]any{75.0, 5.0, 2.0, 3.0}, 39.0, "(75/5-2)*3", 1},               // 75/5 is the float 15.0
		{[]any{75.0, 5.0, 2.0, 3.0}, 10.0, "(75/5-2)*3-29", 0.1},          // 29 not given
		{[]any{75.0, 5.0, 2.0, 3.0}, 36.0, "(75 / 5 - 3) * (2 + 1)", 0.1}, // 1 not given
	}
	for _, c := range cases {
		ref := map[string]any{"numbers": c.nums, "target": c.target}
		if got := score(t, "countdown", Completion{Text: c.eq, Ref: ref}); got != c.want {
			t.Errorf("countdown %v -> %v with %q: %v, want %v", c.nums, c.target, c.eq, got, c.want)
		}
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
		{"d1_gsm8k_correct", "<answer>\n\t72\u00a0\n</answer>", 2}, // Python's strip takes Unicode spaces
		{"d1_gsm8k_correct", "72", 2},                              // no tag: the whole text, as in d1
		{"d1_gsm8k_correct", "The answer is 72", 0},
		{"d1_gsm8k_correct", "<answer>72.0</answer>", 0},
		{"d1_gsm8k_correct", "<answer>$72</answer>", 0},
		{"d1_gsm8k_correct", "<answer>1</answer><answer>72</answer>", 2}, // the last tag
		{"d1_gsm8k_correct", "<answer>72</answer><answer>1</answer>", 0},
		{"d1_gsm8k_correct", "<answer>72", 2},           // the last tag, even unclosed
		{"d1_gsm8k_correct", "72</answer> trailing", 2}, // up to the first close
		{"d1_gsm8k_int", good, 0.5},
		{"d1_gsm8k_int", "<answer>-72</answer>", 0},
		{"d1_gsm8k_int", "<answer>7.2</answer>", 0},
		{"d1_gsm8k_int", "<answer>1,000</answer>", 0},
		{"d1_gsm8k_int", "<answer></answer>", 0},
		{"d1_gsm8k_int", "<answer>٧٢</answer>", 0.5}, // Arabic-Indic digits are digits to Python
		{"d1_gsm8k_strict_format", good, 0.5},
		{"d1_gsm8k_strict_format", good + "\n", 0.5}, // Python's $ also matches before one final newline
		{"d1_gsm8k_strict_format", good + "\n\n", 0}, // but not two
		{"d1_gsm8k_strict_format", strings.TrimSuffix(good, "\n"), 0},
		{"d1_gsm8k_strict_format", good + "extra", 0},
		{"d1_gsm8k_strict_format", " " + good, 0},
		{"d1_gsm8k_strict_format", "<reasoning>x</reasoning><answer>72</answer>", 0},
		{"d1_gsm8k_strict_format", "<reasoning>\n\n</reasoning>\n<answer>\n\n</answer>\n", 0.5}, // empty blocks: .*? may match nothing
		{"d1_gsm8k_soft_format", "<reasoning>x</reasoning> \n <answer>72</answer> trailing", 0.5},
		{"d1_gsm8k_soft_format", "<reasoning>x</reasoning>\u2003<answer>72</answer>", 0.5}, // Unicode whitespace is \s to Python
		{"d1_gsm8k_soft_format", "<reasoning>x</reasoning>.<answer>72</answer>", 0},
		{"d1_gsm8k_soft_format", "preamble <reasoning>x</reasoning><answer>72</answer>", 0},
		{"d1_gsm8k_soft_format", good, 0.5},
		{"d1_gsm8k_xmlcount", good, 0.5},
		// 3 characters after "\n</answer>\n", 4 after "\n</answer>" (counted as 3): 0.5 - 0.003 - 0.003
		{"d1_gsm8k_xmlcount", good + "abc", 0.5 - 0.003 - 0.003},
		{"d1_gsm8k_xmlcount", "<reasoning>\nx", 0.125},
		{"d1_gsm8k_xmlcount", "<reasoning>\nx\n</reasoning>\n<reasoning>\n", 0.125}, // the opening tag twice
		// no newline after </answer>: "\n</answer>" scores, with -(0-1)*0.001 = +0.001
		{"d1_gsm8k_xmlcount", "<reasoning>\nx\n</reasoning>\n<answer>\n72\n</answer>", 0.125*4 - 0.0 + 0.001 - float64(len("<reasoning>\nx\n</reasoning>\n<answer>\n72\n</answer>"))*0.001},
		{"d1_gsm8k_xmlcount", "", 0},
		{"d1_gsm8k_xmlcount", good + "é", 0.5 - 0.001 - 0.001}, // characters, not bytes
	}
	for _, c := range cases {
		if got := score(t, c.name, Completion{Text: c.text, Ref: ref}); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s(%q) = %v, want %v", c.name, c.text, got, c.want)
		}
	}
	// a raw GSM8K answer is cut at "####" the way d1 prepares its data; an
	// integer reference reads as its digits
	for _, a := range []any{"Natalia sold 48/2 = 24 clips...\n#### 72", 72} {
		if got := score(t, "d1_gsm8k_correct", Completion{Text: good, Ref: map[string]any{"answer": a}}); got != 2 {
			t.Errorf("reference %q: %v", a, got)
		}
	}
	r, _ := New("d1_gsm8k_correct")
	if _, err := r.Score(Completion{Text: good}); err == nil {
		t.Error("missing answer accepted")
	}
}

func TestCombine(t *testing.T) {
	nan := Func(func(Completion) (float64, error) { return math.NaN(), nil })
	inf := Func(func(Completion) (float64, error) { return math.Inf(1), nil })
	broken := Func(func(Completion) (float64, error) { return 5, errors.New("broken") })
	one := Func(func(Completion) (float64, error) { return 1, nil })
	cs := []Component{
		{Name: "a", Weight: 0.5, Reward: one},
		{Name: "nan", Weight: 2, Reward: nan, FailureScore: -1},
		{Name: "inf", Weight: 1, Reward: inf},
		{Name: "err", Weight: 1, Reward: broken, FailureScore: 0.25},
		{Name: "c", Weight: 2, Reward: one},
	}
	s, err := Combine(cs, Completion{})
	if err != nil {
		t.Fatal(err)
	}
	// 0.5*1 + 2*(-1) + 1*0 + 1*0.25 + 2*1
	if s.Total != 0.75 || s.Components["nan"] != -1 || s.Components["inf"] != 0 || s.Components["err"] != 0.25 || s.Components["a"] != 1 || len(s.Failures) != 3 || s.Failures["err"] != "broken" {
		t.Fatalf("%+v", s)
	}
	// a batch scores each completion as Combine would
	b, err := CombineBatch(cs, []Completion{{}, {}})
	if err != nil || len(b) != 2 || b[1].Total != 0.75 || len(b[0].Failures) != 3 {
		t.Fatalf("%+v", b)
	}
	if got, err := CombineBatch(cs, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %+v %v", got, err)
	}
	// an error that wraps ErrAbort is not a failure score: it ends the run
	abort := Func(func(c Completion) (float64, error) {
		if c.Text == "stop" {
			return 0, fmt.Errorf("plugin gone: %w", ErrAbort)
		}
		return 1, nil
	})
	ab := []Component{{Name: "a", Weight: 1, Reward: one}, {Name: "abort", Weight: 1, Reward: abort}}
	if got, err := CombineBatch(ab, []Completion{{Text: "go"}, {Text: "stop"}}); !errors.Is(err, ErrAbort) || got != nil || !strings.Contains(err.Error(), "plugin gone") {
		t.Fatalf("abort: %+v %v", got, err)
	}
	if _, err := Combine(ab, Completion{Text: "stop"}); !errors.Is(err, ErrAbort) {
		t.Fatalf("abort through Combine: %v", err)
	}
}

// A Batcher that returns the wrong number of outcomes is scored one by one.
type shortBatcher struct{ Func }

func (shortBatcher) ScoreBatch(cs []Completion) []Outcome { return nil }

func TestCombineBatchFallsBack(t *testing.T) {
	r := shortBatcher{Func(func(c Completion) (float64, error) { return float64(len(c.Text)), nil })}
	b, err := CombineBatch([]Component{{Name: "len", Weight: 1, Reward: r}}, []Completion{{Text: "ab"}, {Text: "abc"}})
	if err != nil || b[0].Total != 2 || b[1].Total != 3 {
		t.Fatalf("%+v", b)
	}
}

func TestNormalizeRef(t *testing.T) {
	got := NormalizeRef(map[string]any{"numbers": []any{30.0, 100.0}, "target": 23.0, "x": 1.5, "s": "a", "mixed": []any{1.0, "a"}})
	if n, ok := got["numbers"].([]int); !ok || n[1] != 100 || got["target"] != 23 || got["x"] != 1.5 || got["s"] != "a" {
		t.Fatalf("%#v", got)
	}
	if _, ok := got["mixed"].([]any); !ok {
		t.Fatalf("mixed list: %#v", got["mixed"])
	}
}

// BenchmarkBuiltins scores 10,000 completions with every built-in that does
// not run code (nine of them) and reports the time per 1000 completions.
func BenchmarkBuiltins(b *testing.B) {
	var comps []Component
	for _, n := range []string{"sudoku_cells", "d1_sudoku", "d1_countdown", "d1_gsm8k_correct", "d1_gsm8k_int", "d1_gsm8k_strict_format", "d1_gsm8k_soft_format", "d1_gsm8k_xmlcount", "d1_math_correct", "d1_math_format"} {
		r, err := New(n)
		if err != nil {
			b.Fatal(err)
		}
		comps = append(comps, Component{Name: n, Weight: 1, Reward: r})
	}
	texts := []string{
		"<reasoning>\nThe grid needs each digit once per row.\n</reasoning>\n<answer>\n1234\n3412\n2143\n4321\n</answer>\n",
		"<reasoning>\nTry 30 - 7.\n</reasoning>\n<answer>\n30-(100-93)\n</answer>\n",
		"<reasoning>\nShe sold 48 + 24 = 72 clips.\n</reasoning>\n<answer>\n72\n</answer>\n",
		"So the answer is $\\boxed{\\frac{1}{2}}$. <answer>\\boxed{\\frac12}</answer>",
		"garbage 12 without any tags at all, rambling on for a while",
	}
	ref := map[string]any{"puzzle": "0004300021000320", "solution": "1234341221434321", "numbers": []int{30, 100, 93}, "target": 23, "answer": "72"}
	const n = 10000
	batch := make([]Completion, n)
	for j := range batch {
		batch[j] = Completion{Text: texts[j%len(texts)], Ref: ref}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := CombineBatch(comps, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)/(n/1000), "ms/1000completions")
}
