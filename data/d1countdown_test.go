package data

import (
	"math"
	"testing"
)

// Values as CPython 3.11's eval gives them. The failures are Python's errors,
// except "()" and "1,2" (tuples, which d1 then fails to compare), "1e5" and
// "1,2" (characters d1 rejects before eval) and "(-8)**(1/3)" (a complex
// number in Python; see evalPython).
func TestEvalPython(t *testing.T) {
	ints := map[string]int64{
		"1+2*3":        7,
		"(1+2)*3":      9,
		"2**3**2":      512, // right-associative
		"-2**2":        -4,  // ** binds tighter than unary minus on its left
		"2**-1*4":      2,   // checked as a float below too
		"--5":          5,
		"+-+5":         -5,
		"7//2":         3,
		"-7//2":        -4,
		"7//-2":        -4,
		"00":           0,
		"0 * 100":      0,
		"(\n1 +\n2\n)": 3,
		"1\n":          1,
		"1 \x0c+ 2":    3,
	}
	for s, want := range ints {
		v, err := evalPython(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if v.isFloat {
			if v.f != float64(want) {
				t.Errorf("%q = %v, want %d", s, v.f, want)
			}
		} else if v.i.Int64() != want {
			t.Errorf("%q = %v, want %d", s, v.i, want)
		}
	}
	floats := map[string]float64{
		"6/3":        2,
		"1/3":        1.0 / 3,
		"2**-1":      0.5,
		"7.5//2":     3,
		"-7.5//2":    -4,
		"5.//2":      2,
		".5+.5":      1,
		"007.5":      7.5,
		"1/3*3":      1,
		"8**(1/3)":   2,
		"10**0.5":    math.Sqrt(10),
		"(75/5-2)*3": 39,
	}
	for s, want := range floats {
		v, err := evalPython(s)
		if err != nil || !v.isFloat || math.Abs(v.f-want) > 1e-15 {
			t.Errorf("%q = %+v %v, want float %v", s, v, err, want)
		}
	}
	fails := []string{
		"", "007", "0_1", "1..2", "1.2.3", "5 5", ".", "1 +\n2", "1\n+2", "1\r+2", "1\x0b+2", "1\x1c",
		"()", "(1)(2)", "2(3)", "1/0", "1//0", "1.5//0", "0**-1", "0.0**-1", "(-8)**(1/3)", "1+", "(1", "1)", "***2", "2***2",
		"100**93**30", "9**9**9", "1e5", "a", "1,2", "٣+1",
	}
	for _, s := range fails {
		if v, err := evalPython(s); err == nil {
			t.Errorf("%q evaluated to %+v", s, v)
		}
	}
	// big integers stay exact
	v, err := evalPython("2**100-2**100+23")
	if err != nil || v.isFloat || v.i.Int64() != 23 {
		t.Fatalf("big ints: %+v %v", v, err)
	}
	if ok, err := v.within(23, 1e-5); !ok || err != nil {
		t.Fatal("within")
	}
}

func TestDigitRuns(t *testing.T) {
	got := digitRuns("30-(100-93)=23 x07 99999999999999999999")
	want := []int64{30, 100, 93, 23, 7, -1}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}
