package reward

import "testing"

func TestMathCorrect(t *testing.T) {
	cases := []struct {
		ref, text string
		want      float64
	}{
		{"The answer is $\\boxed{\\frac{1}{2}}$.", "so $\\boxed{\\frac12}$", 2}, // \frac12 -> \frac{1}{2}
		{"\\boxed{\\frac{1}{2}}", "\\boxed{0.5}", 2},                            // 0.5 -> \frac{1}{2}
		{"\\boxed{\\frac{1}{2}}", "\\boxed{1/2}", 2},                            // a/b -> \frac{a}{b}
		{"\\boxed{\\frac{1}{2}}", "\\boxed{\\dfrac{1}{2}}", 2},                  // dfrac
		{"\\boxed{\\frac{1}{2}}", "\\boxed{.5}", 2},                             // .5 -> 0.5 -> \frac{1}{2}
		{"\\boxed{12}", "first \\boxed{3} then \\boxed{12}", 2},                 // the last box
		{"\\boxed{12}", "first \\boxed{12} then \\boxed{3}", 0},                 // ... only
		{"\\boxed{12}", "\\boxed{ 12 }", 2},                                     // spaces go
		{"\\boxed{12}", "\\boxed{x = 12}", 2},                                   // "x =" goes (at most 2 characters before =)
		{"\\boxed{12}", "\\boxed{xy= 12}", 2},                                   // 2 characters
		{"\\boxed{12}", "\\boxed{xyz=12}", 0},                                   // 3 are kept
		{"\\boxed{12}", "12", 2},                                                // no box: the whole text
		{"\\boxed{12}", "The answer is 12", 0},                                  // ... all of it
		{"\\boxed{12}", "\\boxed 12$ more", 2},                                  // "\boxed " up to a $
		{"\\boxed{12}", "\\fbox{12}", 0},                                        // \fbox is found but not unwrapped
		{"\\boxed{12}", "\\boxed{12", 0},                                        // unbalanced: the whole text stays
		{"\\boxed{90}", "\\boxed{90^\\circ}", 2},                                // degrees
		{"\\boxed{5}", "\\boxed{5\\text{ cm}}", 2},                              // units
		{"\\boxed{5}", "\\boxed{5\\text{ cm}\\text{ s}}", 0},                    // two units: the published code raises, raw strings differ
		{"\\boxed{\\sqrt{2}}", "\\boxed{\\sqrt2}", 2},                           // \sqrt2 -> \sqrt{2}
		{"\\boxed{\\left(1,2\\right)}", "\\boxed{(1,2)}", 2},                    // \left \right
		{"\\boxed{50\\%}", "\\boxed{50}", 2},                                    // percent
		{"\\boxed{a/b}", "\\boxed{a/b}", 2},                                     // int() raises: equal raw strings
		{"\\boxed{a/b}", "\\boxed{a / b}", 0},                                   // ... and only those
		{"\\boxed{01/2}", "\\boxed{\\frac{1}{2}}", 0},                           // not a canonical a/b: kept
		{"12", "\\boxed{12}", 2},                                                // a bare reference answer
	}
	for _, c := range cases {
		if got := score(t, "d1_math_correct", Completion{Text: c.text, Ref: map[string]any{"answer": c.ref}}); got != c.want {
			t.Errorf("ref %q, completion %q: %v, want %v", c.ref, c.text, got, c.want)
		}
	}
	r, _ := New("d1_math_correct")
	for _, ref := range []map[string]any{{}, {"answer": "\\boxed{12"}} {
		if _, err := r.Score(Completion{Text: "12", Ref: ref}); err == nil {
			t.Errorf("reference %v accepted", ref)
		}
	}
	if got := score(t, "d1_math_correct", Completion{Text: "\\boxed{7}", Ref: map[string]any{"solution": "so \\boxed{7}"}}); got != 2 {
		t.Errorf("solution field: %v", got)
	}
}

// The published format check looks for "\boxed" in a Python string where
// "\b" is a backspace, so it never finds it; remask looks for \boxed.
func TestMathFormat(t *testing.T) {
	cases := map[string]float64{
		"<answer>\\boxed{12}</answer>":           1,    // 0.5 * (1 + 1)
		"<answer>12</answer>":                    0.75, // 0.5 * (1 + 0.5)
		"\\boxed{12}":                            0.5,  // 0.5 * (0 + 1): no tag, the box anywhere
		"12":                                     0.25, // 0.5 * (0 + 0.5)
		"<answer>12</answer> \\boxed{12}":        0.75, // the box is outside the answer
		"<answer>12<answer>\\boxed{1}</answer>":  0.75, // the text after the FIRST tag, up to the next tag
		"<answer>\\boxed{12}":                    1,    // a tag, never closed
		"\\boxed{1} <answer>\\boxed{2}</answer>": 1,
	}
	for text, want := range cases {
		if got := score(t, "d1_math_format", Completion{Text: text}); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
