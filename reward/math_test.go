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

func TestMathNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"\\frac12", "\\frac{1}{2}"},
		{"\\frac1{72}", "\\frac{1}{72}"},
		{"\\frac{1}2", "\\frac{1}2"},
		{"\\tfrac{3}{4}", "\\frac{3}{4}"},
		{"3/4", "\\frac{3}{4}"},
		{"-3/4", "\\frac{-3}{4}"},
		{"k = 7", "7"},
		{"\\sqrt3+\\sqrt{5}", "\\sqrt{3}+\\sqrt{5}"},
		{"0.5", "\\frac{1}{2}"},
		{" .5", "\\frac{1}{2}"}, // " ." -> " 0.", then the spaces go
		{"10\\%", "10"},
		{"\\$5", "5"},
		{"1\n2", "12"},
		{"", ""},
	}
	for _, c := range cases {
		if got, err := mathNormalize(c.in); err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.want)
		}
	}
	// where the published code raises
	for _, in := range []string{"\\frac", "x\\sqrt", "1\\text{ a}\\text{ b}", "a/b", "1.5/2"} {
		if _, err := mathNormalize(in); err == nil {
			t.Errorf("%q normalised", in)
		}
	}
	// Python's int() reads other scripts' digits and underscores
	for in, want := range map[string]int64{"١٢": 12, " 7 ": 7, "1_000": 1000, "-5": -5, "+5": 5, "𝟗": 9} {
		if v, ok := pyParseInt(in); !ok || v.Int64() != want {
			t.Errorf("int(%q) = %v %v, want %d", in, v, ok, want)
		}
	}
	for _, in := range []string{"", "1__0", "_1", "1_", "1.0", "²", "- 1"} {
		if _, ok := pyParseInt(in); ok {
			t.Errorf("int(%q) accepted", in)
		}
	}
}
