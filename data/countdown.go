package data

import (
	"fmt"
	"math/big"
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
// solution expression. The prompt is "30,100,93>23=": the numbers, ">", the
// target, "=".
func CountdownExample(nums []int, target int, answer string) Example {
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.Itoa(n)
	}
	return Example{Prompt: strings.Join(parts, ",") + ">" + strconv.Itoa(target) + "=", Answer: answer,
		Ref: map[string]any{"numbers": slices.Clone(nums), "target": target}}
}

// Correct: the trimmed completion is an expression of digits, + - * /,
// parentheses and spaces that uses exactly the multiset of the example's
// numbers and equals the target exactly (rational arithmetic, so 1/2*4 is 2
// and 7/2 is not 3; division by zero is wrong).
func (Countdown) Correct(ex Example, c string) bool {
	nums, ok1 := ex.Ref["numbers"].([]int)
	target, ok2 := ex.Ref["target"].(int)
	if !ok1 || !ok2 {
		return false
	}
	val, used, err := EvalExpression(strings.TrimSpace(c))
	if err != nil || !sameMultiset(used, nums) {
		return false
	}
	return val.Cmp(new(big.Rat).SetInt64(int64(target))) == 0
}

func sameMultiset(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// EvalExpression parses and evaluates, exactly, an arithmetic expression of
// non-negative integers (at most 9 digits), + - * /, parentheses and spaces,
// with the usual precedence and left associativity; there is no unary minus.
// It returns the value and the numbers the expression uses, in order.
func EvalExpression(s string) (*big.Rat, []int, error) {
	p := &exprParser{s: s}
	v, err := p.sum()
	if err != nil {
		return nil, nil, err
	}
	p.skip()
	if p.i != len(p.s) {
		return nil, nil, fmt.Errorf("unexpected %q at byte %d", p.s[p.i], p.i)
	}
	return v, p.nums, nil
}

// exprParser is a recursive-descent parser over the grammar
//
//	sum     = product { ("+" | "-") product }
//	product = atom { ("*" | "/") atom }
//	atom    = number | "(" sum ")"
type exprParser struct {
	s     string
	i     int
	nums  []int
	depth int
}

// maxParenDepth bounds recursion on hostile input such as a long run of "(".
const maxParenDepth = 64

func (p *exprParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// peekOp returns the operator at the cursor when it is one of ops.
func (p *exprParser) peekOp(ops string) (byte, bool) {
	p.skip()
	if p.i < len(p.s) && strings.IndexByte(ops, p.s[p.i]) >= 0 {
		return p.s[p.i], true
	}
	return 0, false
}

func (p *exprParser) sum() (*big.Rat, error) {
	v, err := p.product()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.peekOp("+-")
		if !ok {
			return v, nil
		}
		p.i++
		w, err := p.product()
		if err != nil {
			return nil, err
		}
		if op == '+' {
			v = new(big.Rat).Add(v, w)
		} else {
			v = new(big.Rat).Sub(v, w)
		}
	}
}

func (p *exprParser) product() (*big.Rat, error) {
	v, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.peekOp("*/")
		if !ok {
			return v, nil
		}
		p.i++
		w, err := p.atom()
		if err != nil {
			return nil, err
		}
		if op == '*' {
			v = new(big.Rat).Mul(v, w)
		} else {
			if w.Sign() == 0 {
				return nil, fmt.Errorf("division by zero at byte %d", p.i)
			}
			v = new(big.Rat).Quo(v, w)
		}
	}
}

func (p *exprParser) atom() (*big.Rat, error) {
	p.skip()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("expression ends early")
	}
	if p.s[p.i] == '(' {
		if p.depth++; p.depth > maxParenDepth {
			return nil, fmt.Errorf("parentheses nested deeper than %d", maxParenDepth)
		}
		p.i++
		v, err := p.sum()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing ) at byte %d", p.i)
		}
		p.i++
		p.depth--
		return v, nil
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if start == p.i {
		return nil, fmt.Errorf("unexpected %q at byte %d", p.s[p.i], p.i)
	}
	if p.i-start > 9 {
		return nil, fmt.Errorf("number %q at byte %d has more than 9 digits", p.s[start:p.i], start)
	}
	n, _ := strconv.Atoi(p.s[start:p.i]) // at most 9 digits: always fits
	p.nums = append(p.nums, n)
	return new(big.Rat).SetInt64(int64(n)), nil
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
func (e *expr) String() string {
	if e.op == 0 {
		return strconv.Itoa(e.val)
	}
	l, r := e.left.String(), e.right.String()
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
	CountdownMaxTarget = 1000
)

// GenerateCountdown makes n countdown problems: 3 numbers drawn from
// 1..CountdownMaxNumber (repeats allowed, as in d1) and the value of a random
// expression tree over all three with + - * /, kept when every intermediate
// result and the target are positive integers and the target is at most
// CountdownMaxTarget. Answer is that expression with minimal parentheses;
// other expressions may reach the same target.
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
		out = append(out, CountdownExample(nums, e.val, e.String()))
	}
	return out
}
