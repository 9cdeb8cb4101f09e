package data

import (
	"math/rand/v2"
	"strconv"
)

// Default number of empty cells of generated sudoku puzzles.
const (
	SudokuMinEmpty = 6
	SudokuMaxEmpty = 10
)

// GenerateSudoku4x4 makes n distinct puzzles, each with a unique solution and
// between minEmpty and maxEmpty empty cells (0, 0: the defaults).
func GenerateSudoku4x4(rng *rand.Rand, n, minEmpty, maxEmpty int) []Example {
	if minEmpty <= 0 && maxEmpty <= 0 {
		minEmpty, maxEmpty = SudokuMinEmpty, SudokuMaxEmpty
	}
	maxEmpty = max(min(maxEmpty, 12), 1) // more than 12 blanks never has a unique solution
	minEmpty = min(max(minEmpty, 1), maxEmpty)
	seen := map[string]bool{}
	var out []Example
	for len(out) < n {
		sol := randomGrid(rng)
		k := minEmpty + rng.IntN(maxEmpty-minEmpty+1)
		puzzle := []byte(sol)
		// Blank cells in random order, skipping any blank that would make the
		// solution ambiguous.
		blanks := 0
		for _, i := range rng.Perm(16) {
			if blanks == k {
				break
			}
			puzzle[i] = '0'
			if c, _ := SolveSudoku4x4(string(puzzle)); c != 1 {
				puzzle[i] = sol[i]
				continue
			}
			blanks++
		}
		if blanks < minEmpty || seen[string(puzzle)] {
			continue
		}
		seen[string(puzzle)] = true
		out = append(out, SudokuExample(string(puzzle), sol))
	}
	return out
}

// randomGrid is a uniformly chosen valid full 4x4 grid: random digit order at
// every cell of a backtracking fill.
func randomGrid(rng *rand.Rand) string {
	g := []byte("0000000000000000")
	var fill func(i int) bool
	fill = func(i int) bool {
		if i == 16 {
			return true
		}
		for _, d := range rng.Perm(4) {
			c := byte('1' + d)
			if canPlace(g, i, c) {
				g[i] = c
				if fill(i + 1) {
					return true
				}
			}
		}
		g[i] = '0'
		return false
	}
	fill(0)
	return string(g)
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

// String prints with the parentheses that precedence and left-associativity need.
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

// combine applies op when the result stays a positive integer.
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

// GenerateCountdown makes n countdown problems with 3 numbers in 1..100 and a
// positive integer target up to 1000 reached by a random expression over all
// three numbers (integer intermediate results); Answer is that expression.
func GenerateCountdown(rng *rand.Rand, n int) []Example {
	ops := []byte{'+', '-', '*', '/'}
	var out []Example
	for len(out) < n {
		nums := []int{1 + rng.IntN(100), 1 + rng.IntN(100), 1 + rng.IntN(100)}
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
		if !ok || e.val > 1000 {
			continue
		}
		out = append(out, CountdownExample(nums, e.val, e.String()))
	}
	return out
}
