package data

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Example is one task instance.
type Example struct {
	Prompt string         // what the model is conditioned on (after <bos>)
	Answer string         // the target completion for SFT; "" when unknown
	Ref    map[string]any // reference fields the task and the rewards check against
}

// Task knows whether a completion solves an example.
type Task interface {
	Name() string
	Correct(ex Example, completion string) bool
}

// TaskByName returns sudoku4x4, countdown or text.
func TaskByName(name string) (Task, error) {
	switch name {
	case "sudoku4x4":
		return Sudoku4x4{}, nil
	case "countdown":
		return Countdown{}, nil
	case "text":
		return Text{}, nil
	}
	return nil, fmt.Errorf("unknown task %q (want sudoku4x4, countdown or text)", name)
}

// Text is free text: a completion is correct when it equals the answer.
type Text struct{}

func (Text) Name() string { return "text" }
func (Text) Correct(ex Example, c string) bool {
	return strings.TrimSpace(c) == strings.TrimSpace(ex.Answer)
}

// Sudoku4x4 is the 4x4 sudoku of d1 (2x2 boxes, digits 1-4).
type Sudoku4x4 struct{}

func (Sudoku4x4) Name() string { return "sudoku4x4" }

// SudokuExample makes the example of a puzzle and its solution (16 digits
// each, 0 = empty).
func SudokuExample(puzzle, solution string) Example {
	return Example{Prompt: puzzle + "=", Answer: solution, Ref: map[string]any{"puzzle": puzzle, "solution": solution}}
}

// Correct: the first 16 characters of the completion are a valid full grid
// that keeps every given cell of the puzzle.
func (Sudoku4x4) Correct(ex Example, c string) bool {
	puzzle, _ := ex.Ref["puzzle"].(string)
	c = strings.TrimSpace(c)
	if len(c) < 16 || len(puzzle) != 16 {
		return false
	}
	grid := c[:16]
	for i := 0; i < 16; i++ {
		if grid[i] < '1' || grid[i] > '4' || (puzzle[i] != '0' && puzzle[i] != grid[i]) {
			return false
		}
	}
	return validGrid(grid)
}

// sudokuUnits are the rows, columns and 2x2 boxes as cell indices.
var sudokuUnits = func() [][4]int {
	var us [][4]int
	for i := 0; i < 4; i++ {
		us = append(us, [4]int{4 * i, 4*i + 1, 4*i + 2, 4*i + 3}, [4]int{i, i + 4, i + 8, i + 12})
	}
	for _, top := range []int{0, 2, 8, 10} {
		us = append(us, [4]int{top, top + 1, top + 4, top + 5})
	}
	return us
}()

func validGrid(g string) bool {
	for _, u := range sudokuUnits {
		seen := 0
		for _, i := range u {
			seen |= 1 << (g[i] - '0')
		}
		if seen != 0b11110 {
			return false
		}
	}
	return true
}

// SolveSudoku4x4 counts the solutions of a puzzle (stopping at 2) and returns
// the first one found.
func SolveSudoku4x4(puzzle string) (solutions int, first string) {
	g := []byte(puzzle)
	var rec func(i int) bool
	rec = func(i int) bool {
		for i < 16 && g[i] != '0' {
			i++
		}
		if i == 16 {
			solutions++
			if solutions == 1 {
				first = string(g)
			}
			return solutions >= 2
		}
		for d := byte('1'); d <= '4'; d++ {
			if canPlace(g, i, d) {
				g[i] = d
				if rec(i + 1) {
					return true
				}
				g[i] = '0'
			}
		}
		return false
	}
	rec(0)
	return solutions, first
}

func canPlace(g []byte, i int, d byte) bool {
	for _, u := range sudokuUnits {
		in := false
		for _, j := range u {
			in = in || j == i
		}
		if !in {
			continue
		}
		for _, j := range u {
			if j != i && g[j] == d {
				return false
			}
		}
	}
	return true
}

// Countdown is d1's countdown with 3 numbers: write an arithmetic expression
// that uses each number exactly once and equals the target.
type Countdown struct{}

func (Countdown) Name() string { return "countdown" }

// CountdownExample makes the example of numbers, a target and an optional
// solution expression.
func CountdownExample(nums []int, target int, answer string) Example {
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.Itoa(n)
	}
	return Example{Prompt: strings.Join(parts, ",") + ">" + strconv.Itoa(target) + "=", Answer: answer,
		Ref: map[string]any{"numbers": append([]int(nil), nums...), "target": target}}
}

// Correct: the completion is an expression over + - * / and parentheses
// that uses exactly the example's numbers and equals the target exactly
// (rational arithmetic; division by zero is wrong).
func (Countdown) Correct(ex Example, c string) bool {
	nums, _ := ex.Ref["numbers"].([]int)
	target, ok := ex.Ref["target"].(int)
	if !ok {
		return false
	}
	val, used, err := EvalExpression(strings.TrimSpace(c))
	if err != nil {
		return false
	}
	if !sameMultiset(used, nums) {
		return false
	}
	return val.Cmp(new(big.Rat).SetInt64(int64(target))) == 0
}

func sameMultiset(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]int(nil), a...), append([]int(nil), b...)
	sort.Ints(x)
	sort.Ints(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// EvalExpression parses and evaluates an arithmetic expression of
// non-negative integers, + - * /, parentheses and spaces, exactly. It returns
// the value and the numbers it used.
func EvalExpression(s string) (*big.Rat, []int, error) {
	p := &exprParser{s: s}
	v, err := p.sum()
	if err != nil {
		return nil, nil, err
	}
	p.skip()
	if p.i != len(p.s) {
		return nil, nil, fmt.Errorf("unexpected %q at %d", p.s[p.i], p.i)
	}
	return v, p.nums, nil
}

type exprParser struct {
	s     string
	i     int
	nums  []int
	depth int
}

func (p *exprParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *exprParser) sum() (*big.Rat, error) {
	v, err := p.product()
	if err != nil {
		return nil, err
	}
	for {
		p.skip()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			return v, nil
		}
		op := p.s[p.i]
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
		p.skip()
		if p.i >= len(p.s) || (p.s[p.i] != '*' && p.s[p.i] != '/') {
			return v, nil
		}
		op := p.s[p.i]
		p.i++
		w, err := p.atom()
		if err != nil {
			return nil, err
		}
		if op == '*' {
			v = new(big.Rat).Mul(v, w)
		} else {
			if w.Sign() == 0 {
				return nil, fmt.Errorf("division by zero")
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
		if p.depth++; p.depth > 64 {
			return nil, fmt.Errorf("parentheses nested too deep")
		}
		p.i++
		v, err := p.sum()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing ) at %d", p.i)
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
		return nil, fmt.Errorf("unexpected %q at %d", p.s[p.i], p.i)
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil || p.i-start > 9 {
		return nil, fmt.Errorf("number %q too large", p.s[start:p.i])
	}
	p.nums = append(p.nums, n)
	return new(big.Rat).SetInt64(int64(n)), nil
}
