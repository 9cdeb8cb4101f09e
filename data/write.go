package data

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteSudokuCSV writes d1's format: a Puzzle,Solution header and one row
// per example, from Ref["puzzle"] and Ref["solution"].
func WriteSudokuCSV(w io.Writer, exs []Example) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"Puzzle", "Solution"}); err != nil {
		return fmt.Errorf("write sudoku CSV header: %w", err)
	}
	for i, ex := range exs {
		p, _ := ex.Ref["puzzle"].(string)
		s, _ := ex.Ref["solution"].(string)
		if !wellFormedPuzzle(p) || !validGrid(s) {
			return fmt.Errorf("write sudoku CSV example %d: Ref puzzle %q and solution %q are not 16 digits each", i, p, s)
		}
		if err := cw.Write([]string{p, s}); err != nil {
			return fmt.Errorf("write sudoku CSV example %d: %w", i, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write sudoku CSV: %w", err)
	}
	return nil
}

// countdownRecord is one line of d1's countdown JSONL, fields in d1's
// order, plus our solution expression when known.
type countdownRecord struct {
	Input  string `json:"input"`
	Output string `json:"output"`
	Answer string `json:"answer,omitempty"`
}

// WriteCountdownJSONL writes d1's format, {"input": "30,100,93", "output":
// "23"}, plus "answer" (the solution expression) when the example has one.
func WriteCountdownJSONL(w io.Writer, exs []Example) error {
	enc := json.NewEncoder(w)
	for i, ex := range exs {
		nums, ok1 := ex.Ref["numbers"].([]int)
		target, ok2 := ex.Ref["target"].(int)
		if !ok1 || !ok2 || len(nums) == 0 {
			return fmt.Errorf("write countdown JSONL example %d: Ref lacks numbers ([]int) or target (int)", i)
		}
		parts := make([]string, len(nums))
		for j, n := range nums {
			parts[j] = strconv.Itoa(n)
		}
		rec := countdownRecord{Input: strings.Join(parts, ","), Output: strconv.Itoa(target), Answer: ex.Answer}
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("write countdown JSONL example %d: %w", i, err)
		}
	}
	return nil
}
