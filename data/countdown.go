package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Countdown is d1's countdown with 3 numbers: write an arithmetic expression
// that uses each number exactly once and equals the target.
type Countdown struct{}

func (Countdown) Name() string { return "countdown" }

// CountdownExample makes the example of numbers, a target and an optional
// solution. The prompt is " 30,100, 93> 23=": the numbers, ">", the target,
// "=", each number right-aligned to CountdownWidth characters with spaces,
// so that every number sits at a fixed offset and its units digit in a fixed
// column (a small model then copies and adds digits by position; Python, and
// so d1's check, ignores the spaces).
func CountdownExample(nums []int, target int, answer string) Example {
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = countdownNumber(n)
	}
	return Example{Prompt: strings.Join(parts, ",") + ">" + countdownNumber(target) + "=", Answer: answer,
		Ref: map[string]any{"numbers": slices.Clone(nums), "target": target}}
}

// CountdownWidth is the width numbers are padded to in countdown prompts and
// generated answers: d1's numbers and targets have at most 3 digits.
const CountdownWidth = 3

// countdownNumber is n right-aligned to CountdownWidth (wider when it has
// more digits).
func countdownNumber(n int) string {
	s := strconv.Itoa(n)
	if len(s) < CountdownWidth {
		s = strings.Repeat(" ", CountdownWidth-len(s)) + s
	}
	return s
}

// ParseCountdownPrompt reads a countdown prompt as a user types it,
// "30,100,93>23" (spaces around the numbers and a trailing "=" allowed), so
// that it can be rewritten in the training layout with CountdownExample.
func ParseCountdownPrompt(prompt string) ([]int, int, error) {
	p := strings.TrimSuffix(strings.TrimSpace(prompt), "=")
	numsText, targetText, ok := strings.Cut(p, ">")
	if !ok {
		return nil, 0, fmt.Errorf("countdown prompt %q: want numbers and a target like 30,100,93>23", prompt)
	}
	var vals []int
	for _, f := range append(strings.Split(numsText, ","), targetText) {
		f = strings.TrimSpace(f)
		if f == "" || len(f) > 9 || strings.Trim(f, "0123456789") != "" {
			return nil, 0, fmt.Errorf("countdown prompt %q: %q is not a non-negative integer of at most 9 digits", prompt, f)
		}
		n, _ := strconv.Atoi(f) // at most 9 digits: fits
		vals = append(vals, n)
	}
	return vals[:len(vals)-1], vals[len(vals)-1], nil
}

// Correct: the completion, stripped of surrounding white space as d1 strips
// its extracted answer, passes d1's check (CountdownD1Correct): its digit
// runs are exactly the example's numbers and Python's eval of it is within
// 1e-5 of the target.
func (Countdown) Correct(ex Example, c string) bool {
	nums, ok1 := ex.Ref["numbers"].([]int)
	target, ok2 := ex.Ref["target"].(int)
	if !ok1 || !ok2 {
		return false
	}
	given := make([]int64, len(nums))
	for i, n := range nums {
		given[i] = int64(n)
	}
	return CountdownD1Correct(strings.TrimSpace(c), given, float64(target))
}

// expr is a countdown expression tree.
type expr struct {
	op          byte // 0 for a number
	val         int
	left, right *expr
}

func prec(op byte) int {
	switch op {
	case '+', '-':
		return 1
	case '*', '/':
		return 2
	}
	return 3
}

// String prints the expression with the fewest parentheses that keep its
// value under precedence and left associativity: a left operand needs them
// only when it binds more loosely; a right operand also when it binds equally
// under - or / (a-(b-c) is not a-b-c), but not under + or * (a*(b/c) has the
// value of a*b/c, which is what Correct checks).
func (e *expr) String() string { return e.format(strconv.Itoa) }

// padded is String with every number right-aligned to CountdownWidth.
func (e *expr) padded() string { return e.format(countdownNumber) }

func (e *expr) format(number func(int) string) string {
	if e.op == 0 {
		return number(e.val)
	}
	l, r := e.left.format(number), e.right.format(number)
	if prec(e.left.op) < prec(e.op) {
		l = "(" + l + ")"
	}
	if prec(e.right.op) < prec(e.op) || (prec(e.right.op) == prec(e.op) && (e.op == '-' || e.op == '/')) {
		r = "(" + r + ")"
	}
	return l + string(e.op) + r
}

// combine applies op when the result is a positive integer.
func combine(op byte, a, b *expr) (*expr, bool) {
	var v int
	switch op {
	case '+':
		v = a.val + b.val
	case '-':
		v = a.val - b.val
	case '*':
		v = a.val * b.val
	case '/':
		if b.val == 0 || a.val%b.val != 0 {
			return nil, false
		}
		v = a.val / b.val
	}
	if v <= 0 {
		return nil, false
	}
	return &expr{op: op, val: v, left: a, right: b}, true
}

// Bounds of generated countdown problems. d1's test set
// (dataset/countdown_cd3_test.jsonl, 256 problems) draws numbers from 1..100,
// repeats allowed, with targets in 1..100.
const (
	CountdownMaxNumber = 100
	CountdownMaxTarget = 100
)

// GenerateCountdown makes n countdown problems: 3 numbers drawn from
// 1..CountdownMaxNumber (repeats allowed, as in d1) and the value of a random
// expression tree over all three with + - * /, kept when every intermediate
// result and the target are positive integers and the target is at most
// CountdownMaxTarget. Answer is countdownAnswer's canonical solution, not
// the drawn tree: a problem has one answer however it was drawn, so SFT does
// not teach a mixture of solutions that a sampler deciding tokens in
// parallel could splice into an invalid one.
func GenerateCountdown(rng *rand.Rand, n int) []Example {
	const ops = "+-*/"
	var out []Example
	for len(out) < n {
		nums := []int{1 + rng.IntN(CountdownMaxNumber), 1 + rng.IntN(CountdownMaxNumber), 1 + rng.IntN(CountdownMaxNumber)}
		leaf := make([]*expr, 3)
		for i, j := range rng.Perm(3) {
			leaf[i] = &expr{val: nums[j]}
		}
		var e *expr
		var ok bool
		if rng.IntN(2) == 0 { // (a op b) op c
			if e, ok = combine(ops[rng.IntN(4)], leaf[0], leaf[1]); ok {
				e, ok = combine(ops[rng.IntN(4)], e, leaf[2])
			}
		} else { // a op (b op c)
			if e, ok = combine(ops[rng.IntN(4)], leaf[1], leaf[2]); ok {
				e, ok = combine(ops[rng.IntN(4)], leaf[0], e)
			}
		}
		if !ok || e.val > CountdownMaxTarget {
			continue
		}
		out = append(out, CountdownExample(nums, e.val, countdownAnswer(nums, e.val)))
	}
	return out
}

// SolveCountdown returns the canonical solution of three numbers and a
// target: the first expression, in a fixed order, whose intermediate result
// is a positive integer and whose value is the target. The order prefers
// what is easiest to write: only + and - before any * or /, then (a op b) op
// c (no parentheses) before a op (b op c), then the numbers in the order
// given (permutations in lexicographic order), then the operators in the
// order + - * /. It
// reports false when no such expression exists (or len(nums) != 3).
func SolveCountdown(nums []int, target int) (string, bool) {
	e := solveCountdown(nums, target)
	if e == nil {
		return "", false
	}
	return e.String(), true
}

// solveCountdown is SolveCountdown's expression tree, nil when none.
func solveCountdown(nums []int, target int) *expr {
	if len(nums) != 3 {
		return nil
	}
	const ops = "+-*/"
	perms := [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, additive := range []bool{true, false} {
		for _, leftShape := range []bool{true, false} {
			for _, p := range perms {
				a, b, c := &expr{val: nums[p[0]]}, &expr{val: nums[p[1]]}, &expr{val: nums[p[2]]}
				for i := range 4 {
					for j := range 4 {
						if (i < 2 && j < 2) != additive {
							continue
						}
						var e *expr
						var ok bool
						if leftShape {
							if e, ok = combine(ops[i], a, b); ok {
								e, ok = combine(ops[j], e, c)
							}
						} else if e, ok = combine(ops[j], b, c); ok {
							e, ok = combine(ops[i], a, e)
						}
						if ok && e.val == target {
							return e
						}
					}
				}
			}
		}
	}
	return nil
}

// countdownAnswer is the generator's answer: when + and - can make the
// target, the numbers in the order given, each with its sign and padded to
// CountdownWidth ("+ 24- 53+ 70" for 24,53,70 -> 41), so that every number
// sits at a fixed offset from its place in the prompt and only the signs are
// left to decide; otherwise SolveCountdown's expression with padded numbers.
// A leading unary minus is allowed ("- 24+ 53+ 70"): d1's check counts the
// digit runs and Python evaluates it.
func countdownAnswer(nums []int, target int) string {
	for mask := range 1 << len(nums) {
		sum := 0
		for i, n := range nums {
			if mask&(1<<i) != 0 {
				sum -= n
			} else {
				sum += n
			}
		}
		if sum != target {
			continue
		}
		var b strings.Builder
		for i, n := range nums {
			if mask&(1<<i) != 0 {
				b.WriteByte('-')
			} else {
				b.WriteByte('+')
			}
			b.WriteString(countdownNumber(n))
		}
		return b.String()
	}
	e := solveCountdown(nums, target)
	return e.padded()
}
