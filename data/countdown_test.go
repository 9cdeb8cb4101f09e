package data

import (
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestEvalExpression(t *testing.T) {
	for _, c := range []struct {
		in   string
		num  int64
		den  int64
		used []int
	}{
		{"2+3*4", 14, 1, []int{2, 3, 4}},
		{"(2+3)*4", 20, 1, []int{2, 3, 4}},
		{"8-4-2", 2, 1, []int{8, 4, 2}},
		{"8-(4-2)", 6, 1, []int{8, 4, 2}},
		{"8/4/2", 1, 1, []int{8, 4, 2}},
		{"8/(4/2)", 4, 1, []int{8, 4, 2}},
		{"7/2", 7, 2, []int{7, 2}},
		{" ( 10 ) ", 10, 1, []int{10}},
		{"007", 7, 1, []int{7}},
	} {
		v, used, err := EvalExpression(c.in)
		if err != nil || v.Cmp(big.NewRat(c.num, c.den)) != 0 || !reflect.DeepEqual(used, c.used) {
			t.Errorf("EvalExpression(%q) = %v, %v, %v; want %d/%d, %v", c.in, v, used, err, c.num, c.den, c.used)
		}
	}
	for in, want := range map[string]string{
		"":           "ends early",
		"1+":         "ends early",
		"-1+2":       `unexpected '-' at byte 0`,
		"1 2":        `unexpected '2' at byte 2`,
		"(1+2":       "missing )",
		"1+2)":       `unexpected ')' at byte 3`,
		"4/(2-2)":    "division by zero",
		"1+x":        `unexpected 'x' at byte 2`,
		"1234567890": "more than 9 digits",
		strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100): "nested deeper",
	} {
		if _, _, err := EvalExpression(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("EvalExpression(%.20q): error %v, want one containing %q", in, err, want)
		}
	}
}

func TestCountdownCorrect(t *testing.T) {
	task, _ := TaskByName("countdown")
	ex := CountdownExample([]int{30, 100, 93}, 23, "")
	if ex.Prompt != "30,100,93>23=" || !reflect.DeepEqual(ex.Ref["numbers"], []int{30, 100, 93}) || ex.Ref["target"] != 23 {
		t.Fatalf("example %+v", ex)
	}
	for c, want := range map[string]bool{
		"30-(100-93)":       true,
		" 30 - (100 - 93) ": true,
		"30-100+93":         true,  // -70 + 93
		"93-(100-30)":       true,  // other order
		"30+100-93":         false, // 37: wrong value
		"30-(100-30)":       false, // reuses 30, misses 93
		"100-93":            false, // misses 30
		"30-(100-93)+0":     false, // an extra number
		"30/(100-100)":      false, // division by zero
		"30-(100-93":        false,
		"30-(100-93)=23":    false,
		"30-\n(100-93)":     false, // only spaces inside
		"abc":               false,
		"":                  false,
	} {
		if task.Correct(ex, c) != want {
			t.Errorf("Correct(%q) = %v, want %v", c, !want, want)
		}
	}
	div := CountdownExample([]int{6, 4, 3}, 8, "")
	if !task.Correct(div, "6*4/3") || !task.Correct(div, "6/3*4") || !task.Correct(div, "4/3*6") || task.Correct(div, "6/(3*4)") {
		t.Error("division handled wrongly")
	}
	if task.Correct(CountdownExample([]int{1, 2, 3}, 1, ""), "1/2*3") { // 3/2, not 1: no truncation
		t.Error("1/2*3 accepted as 1")
	}
	rep := CountdownExample([]int{90, 43, 90}, 43, "") // d1 has repeated numbers
	if !task.Correct(rep, "90/90*43") || !task.Correct(rep, "43+90-90") || task.Correct(rep, "43*90/43") {
		t.Error("repeated numbers handled wrongly")
	}
	if task.Correct(Example{Prompt: "30,100,93>23="}, "30-(100-93)") {
		t.Error("an example without Ref accepted")
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
