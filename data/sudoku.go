package data

import (
	"math/rand/v2"
	"strings"
)

// Default number of empty cells of generated sudoku puzzles. d1's 4x4 test
// set (dataset/4x4_test_sudoku.csv, 500 puzzles) has 8 in every puzzle.
const (
	SudokuMinEmpty = 6
	SudokuMaxEmpty = 10
)

// sudokuMaxEmpty is the most blanks a 4x4 puzzle with a unique solution can
// have: such a puzzle needs at least 4 givens.
const sudokuMaxEmpty = 12

// Sudoku4x4 is the 4x4 sudoku of d1: 2x2 boxes, digits 1-4, a puzzle and a
// solution written as 16 digits row by row with 0 for an empty cell.
type Sudoku4x4 struct{}

func (Sudoku4x4) Name() string { return "sudoku4x4" }

// SudokuExample makes the example of a puzzle and its solution: the prompt
// is the puzzle then "=", the answer the solution.
func SudokuExample(puzzle, solution string) Example {
	return Example{Prompt: puzzle + "=", Answer: solution, Ref: map[string]any{"puzzle": puzzle, "solution": solution}}
}

// Correct: the first 16 characters of the trimmed completion are a valid full
// grid that keeps every given cell of the puzzle. Any valid grid counts, not
// only the reference solution. The puzzle comes from Ref["puzzle"], or from
// the prompt when Ref lacks it.
func (Sudoku4x4) Correct(ex Example, c string) bool {
	puzzle, ok := ex.Ref["puzzle"].(string)
	if !ok {
		puzzle = strings.TrimSuffix(ex.Prompt, "=")
	}
	c = strings.TrimSpace(c)
	if len(c) < 16 || !wellFormedPuzzle(puzzle) {
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

// cellUnits lists, for each cell, the three units (row, column, box) it is in.
var cellUnits = func() [16][][4]int {
	var cu [16][][4]int
	for _, u := range sudokuUnits {
		for _, i := range u {
			cu[i] = append(cu[i], u)
		}
	}
	return cu
}()

// wellFormedPuzzle: 16 characters, each 0-4.
func wellFormedPuzzle(p string) bool {
	if len(p) != 16 {
		return false
	}
	for i := 0; i < 16; i++ {
		if p[i] < '0' || p[i] > '4' {
			return false
		}
	}
	return true
}

// validGrid: every row, column and box holds 1, 2, 3 and 4.
func validGrid(g string) bool {
	if len(g) != 16 {
		return false
	}
	for _, u := range sudokuUnits {
		seen := 0
		for _, i := range u {
			if g[i] < '1' || g[i] > '4' {
				return false
			}
			seen |= 1 << (g[i] - '0')
		}
		if seen != 0b11110 {
			return false
		}
	}
	return true
}

// canPlace: digit d at cell i clashes with no other cell of its units.
func canPlace(g []byte, i int, d byte) bool {
	for _, u := range cellUnits[i] {
		for _, j := range u {
			if j != i && g[j] == d {
				return false
			}
		}
	}
	return true
}

// SolveSudoku4x4 counts the solutions of a puzzle, stopping at 2, and returns
// the first one found. A malformed puzzle (not 16 characters 0-4) or one whose
// givens already clash has 0 solutions.
func SolveSudoku4x4(puzzle string) (solutions int, first string) {
	if !wellFormedPuzzle(puzzle) {
		return 0, ""
	}
	g := []byte(puzzle)
	for i, d := range g {
		if d != '0' && !canPlace(g, i, d) {
			return 0, ""
		}
	}
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
			}
		}
		g[i] = '0'
		return false
	}
	rec(0)
	return solutions, first
}

// allGrids are the 288 valid full 4x4 grids, in lexicographic order.
var allGrids = func() []string {
	var out []string
	g := []byte("0000000000000000")
	var fill func(i int)
	fill = func(i int) {
		if i == 16 {
			out = append(out, string(g))
			return
		}
		for d := byte('1'); d <= '4'; d++ {
			if canPlace(g, i, d) {
				g[i] = d
				fill(i + 1)
			}
		}
		g[i] = '0'
	}
	fill(0)
	return out
}()

// generateGiveUp is how many draws in a row may bring nothing new before
// GenerateSudoku4x4 decides the puzzle space is exhausted.
const generateGiveUp = 20000

// GenerateSudoku4x4 makes n distinct puzzles, each with a unique solution and
// between minEmpty and maxEmpty empty cells (both 0: the defaults 6..10; the
// range is clamped to 1..12). Each puzzle starts from a uniformly drawn full
// grid and blanks cells in random order, skipping a cell whose blanking would
// admit a second solution. When the range holds fewer than n distinct
// puzzles it returns the ones it found (Load reports the shortfall).
func GenerateSudoku4x4(rng *rand.Rand, n, minEmpty, maxEmpty int) []Example {
	if minEmpty <= 0 && maxEmpty <= 0 {
		minEmpty, maxEmpty = SudokuMinEmpty, SudokuMaxEmpty
	}
	maxEmpty = max(min(maxEmpty, sudokuMaxEmpty), 1)
	minEmpty = min(max(minEmpty, 1), maxEmpty)
	seen := map[string]bool{}
	var out []Example
	for misses := 0; len(out) < n && misses < generateGiveUp; {
		sol := allGrids[rng.IntN(len(allGrids))]
		k := minEmpty + rng.IntN(maxEmpty-minEmpty+1)
		puzzle := []byte(sol)
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
			misses++
			continue
		}
		misses = 0
		seen[string(puzzle)] = true
		out = append(out, SudokuExample(string(puzzle), sol))
	}
	return out
}
