package data

import "testing"

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
