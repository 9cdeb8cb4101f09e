package data

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestCountdownCorrect pins d1's rule on hand-written cases; each verdict is
// what d1's compute_score gives the same equation (1.0 for true).
func TestCountdownCorrect(t *testing.T) {
	task, _ := TaskByName("countdown")
	ex := CountdownExample([]int{30, 100, 93}, 23, "")
	if ex.Prompt != " 30,100, 93> 23=" || !reflect.DeepEqual(ex.Ref["numbers"], []int{30, 100, 93}) || ex.Ref["target"] != 23 {
		t.Fatalf("example %+v", ex)
	}
	for c, want := range map[string]bool{
		"30-(100-93)":                  true,
		"30-100+93":                    true,  // -70 + 93: negative intermediate results are fine
		"93-(100-30)":                  true,  // other order
		"-100+93+30":                   true,  // unary minus: d1 counts the digit runs, 100 is used
		"-(100-93-30)":                 true,  // unary minus on a group
		"+30-(100-93)":                 true,  // unary plus
		"--30-(100-93)":                true,  // Python reads --30 as 30
		"30-(100-93)\n":                true,  // trailing newline
		" 30 - (100 - 93) ":            true,  // spaces anywhere
		"\t30-(100-93)\t":              true,  // tabs stripped like d1's strip()
		"30-(100\n-93)":                true,  // a newline inside parentheses is Python whitespace
		"30-\n(100-93)":                false, // a newline outside: SyntaxError
		"3 0-(100-93)":                 false, // digit runs 3, 0: other numbers
		"30+100-93":                    false, // 37: wrong value
		"30-(100-30)":                  false, // reuses 30, misses 93
		"30-(100-30)+93-93":            false, // 93 used twice
		"100-93":                       false, // misses 30
		"30-(100-93)+0":                false, // an extra number
		"30-(100-93)*1":                false, // an extra number, even a neutral one
		"30.0-(100-93)":                false, // "30.0" is the digit runs 30 and 0
		"030-(100-93)":                 false, // 30 by the digit runs, but Python rejects the leading zero
		"30/(100-100)+93":              false, // division by zero (and 100 twice)
		"30-(100-93":                   false,
		"30-(100-93)=23":               false, // '=' is outside d1's allowed characters
		"(30)(100-93)":                 false, // a call: TypeError
		"abc":                          false,
		"":                             false,
		"<answer>30-(100-93)</answer>": false, // the task scores the bare equation
	} {
		if task.Correct(ex, c) != want {
			t.Errorf("Correct(%q) = %v, want %v", c, !want, want)
		}
	}
	zero := CountdownExample([]int{5, 5, 7}, 7, "")
	if task.Correct(zero, "7/(5-5)") || task.Correct(zero, "7+5//(5-5)") || !task.Correct(zero, "7+(5-5)") || !task.Correct(zero, "7-(5-5)") {
		t.Error("division by zero handled wrongly")
	}
	div := CountdownExample([]int{6, 4, 3}, 8, "")
	if !task.Correct(div, "6*4/3") || !task.Correct(div, "6/3*4") || !task.Correct(div, "4/3*6") || task.Correct(div, "6/(3*4)") {
		t.Error("division handled wrongly")
	}
	// Non-integer intermediate results count, as Python's true division
	// makes them: 4/3*6 above is 1.333...*6, 8.000000000000002 in floats,
	// within d1's 1e-5 of 8; 7/2 is 3.5, never truncated to 3.
	if !task.Correct(CountdownExample([]int{7, 2, 2}, 7, ""), "7/2*2") || task.Correct(CountdownExample([]int{7, 2, 2}, 6, ""), "7/2*2") {
		t.Error("7/2*2 should make 7 and not 6")
	}
	if task.Correct(CountdownExample([]int{1, 2, 3}, 1, ""), "1/2*3") { // 3/2, not 1
		t.Error("1/2*3 accepted as 1")
	}
	if !task.Correct(CountdownExample([]int{10, 3, 3}, 10, ""), "10/3*3") { // 10.000000000000002 in floats
		t.Error("10/3*3 rejected: d1's 1e-5 tolerance")
	}
	if task.Correct(CountdownExample([]int{7, 2, 2}, 3, ""), "7//2*2//2") {
		t.Error("an extra number (2 three times) accepted")
	}
	if !task.Correct(CountdownExample([]int{7, 2, 1}, 3, ""), "7//2*1") { // // is allowed by d1's character set
		t.Error("7//2*1 rejected")
	}
	rep := CountdownExample([]int{90, 43, 90}, 43, "") // d1 has repeated numbers
	if !task.Correct(rep, "90/90*43") || !task.Correct(rep, "43+90-90") || task.Correct(rep, "43*90/43") {
		t.Error("repeated numbers handled wrongly")
	}
	if task.Correct(Example{Prompt: "30,100,93>23="}, "30-(100-93)") {
		t.Error("an example without Ref accepted")
	}
}

func TestSolveCountdown(t *testing.T) {
	for _, c := range []struct {
		nums   []int
		target int
		want   string
	}{
		{[]int{24, 53, 70}, 41, "24+70-53"}, // not 24-53+70: 24-53 is negative
		{[]int{43, 37, 29}, 23, "37+29-43"}, // the first order with positive intermediates
		{[]int{98, 49, 33}, 66, "98/49*33"}, // + and - cannot make it
		{[]int{30, 100, 93}, 23, "30+93-100"},
		{[]int{12, 5, 3}, 6, "12/(5-3)"}, // only with parentheses
		{[]int{2, 3, 4}, 20, "(2+3)*4"},
	} {
		got, ok := SolveCountdown(c.nums, c.target)
		if !ok || got != c.want {
			t.Errorf("SolveCountdown(%v, %d) = %q, %v; want %q", c.nums, c.target, got, ok, c.want)
		}
	}
	if got, ok := SolveCountdown([]int{1, 1, 1}, 100); ok {
		t.Errorf("SolveCountdown(1,1,1 -> 100) = %q, want none", got)
	}
	if _, ok := SolveCountdown([]int{1, 2}, 3); ok {
		t.Error("two numbers solved")
	}
}

func TestCountdownAnswer(t *testing.T) {
	for _, c := range []struct {
		nums   []int
		target int
		want   string
	}{
		{[]int{24, 53, 70}, 41, "+ 24- 53+ 70"},  // the numbers in the prompt's order
		{[]int{43, 37, 29}, 23, "- 43+ 37+ 29"},  // a leading unary minus
		{[]int{24, 53, 70}, 147, "+ 24+ 53+ 70"}, // all + first
		{[]int{98, 49, 33}, 66, " 98/ 49* 33"},   // + and - cannot: SolveCountdown's expression
		{[]int{12, 5, 3}, 6, " 12/(  5-  3)"},
		{[]int{50, 40, 25}, 80, " 50* 40/ 25"},
		{[]int{100, 9, 1}, 10, "100/(  9+  1)"},
	} {
		got := countdownAnswer(c.nums, c.target)
		if got != c.want {
			t.Errorf("countdownAnswer(%v, %d) = %q, want %q", c.nums, c.target, got, c.want)
		}
		if !(Countdown{}).Correct(CountdownExample(c.nums, c.target, ""), got) {
			t.Errorf("countdownAnswer(%v, %d) = %q fails d1's check", c.nums, c.target, got)
		}
	}
}

func TestExprString(t *testing.T) {
	n := func(v int) *expr { return &expr{val: v} }
	mk := func(op byte, a, b *expr) *expr { return &expr{op: op, left: a, right: b} }
	for _, c := range []struct {
		e    *expr
		want string
	}{
		{mk('-', n(1), mk('-', n(2), n(3))), "1-(2-3)"},
		{mk('-', mk('-', n(1), n(2)), n(3)), "1-2-3"},
		{mk('+', n(1), mk('-', n(2), n(3))), "1+2-3"},
		{mk('*', n(1), mk('+', n(2), n(3))), "1*(2+3)"},
		{mk('*', mk('+', n(1), n(2)), n(3)), "(1+2)*3"},
		{mk('+', mk('*', n(1), n(2)), n(3)), "1*2+3"},
		{mk('/', n(1), mk('*', n(2), n(3))), "1/(2*3)"},
		{mk('*', n(1), mk('/', n(2), n(3))), "1*2/3"},
		{mk('-', n(1), mk('*', n(2), n(3))), "1-2*3"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("String = %q, want %q", got, c.want)
		}
	}
}

func TestGenerateCountdown(t *testing.T) {
	a := GenerateCountdown(rand.New(rand.NewPCG(3, 3)), 500)
	if !reflect.DeepEqual(a, GenerateCountdown(rand.New(rand.NewPCG(3, 3)), 500)) {
		t.Fatal("same seed, different problems")
	}
	if reflect.DeepEqual(a, GenerateCountdown(rand.New(rand.NewPCG(4, 3)), 500)) {
		t.Fatal("different seeds, same problems")
	}
	ops := map[byte]int{}
	for _, e := range a {
		nums := e.Ref["numbers"].([]int)
		target := e.Ref["target"].(int)
		if len(nums) != 3 || target < 1 || target > CountdownMaxTarget {
			t.Fatalf("problem %s out of bounds", e.Prompt)
		}
		for _, x := range nums {
			if x < 1 || x > CountdownMaxNumber {
				t.Fatalf("problem %s: number %d out of 1..100", e.Prompt, x)
			}
		}
		if !(Countdown{}).Correct(e, e.Answer) {
			t.Fatalf("generated answer %q wrong for %s", e.Answer, e.Prompt)
		}
		for _, op := range []byte("+-*/") {
			if strings.IndexByte(e.Answer, op) >= 0 {
				ops[op]++
			}
		}
	}
	if len(ops) != 4 {
		t.Errorf("operators used: %v, want all four", ops)
	}
}

func BenchmarkGenerateCountdown(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		GenerateCountdown(rng, 100)
	}
}
