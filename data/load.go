package data

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Load resolves a dataset spec for a task: "gen:N" generates N examples from
// seed, anything else is a file in the task's format.
func Load(task, spec string, seed int64) ([]Example, error) {
	if rest, ok := strings.CutPrefix(spec, "gen:"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("dataset %q: want gen:N with N >= 1", spec)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 0x67656e)) // "gen"
		switch task {
		case "sudoku4x4":
			return GenerateSudoku4x4(rng, n, 0, 0), nil
		case "countdown":
			return GenerateCountdown(rng, n), nil
		}
		return nil, fmt.Errorf("dataset %q: task %q has no generator", spec, task)
	}
	switch task {
	case "sudoku4x4":
		return LoadSudokuCSV(spec)
	case "countdown":
		return LoadCountdownJSONL(spec)
	case "text":
		return LoadPromptAnswerJSONL(spec)
	}
	return nil, fmt.Errorf("dataset %q: unknown task %q", spec, task)
}

// LoadSudokuCSV reads d1's sudoku CSV: a header with Puzzle and Solution
// columns (any case, other columns ignored), 16 digits each, 0 = empty.
func LoadSudokuCSV(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load sudoku CSV: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("load sudoku CSV %s line %d: %s", path, line, fmt.Sprintf(format, args...))
	}
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("load sudoku CSV %s: empty file, want a header Puzzle,Solution", path)
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	pc, sc := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "puzzle", "quizzes", "quiz":
			pc = i
		case "solution", "solutions":
			sc = i
		}
	}
	if pc < 0 || sc < 0 {
		return nil, fail(1, "header %q lacks Puzzle and Solution columns", strings.Join(header, ","))
	}
	var out []Example
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) <= max(pc, sc) {
			return nil, fail(line, "%d columns, want at least %d", len(rec), max(pc, sc)+1)
		}
		p, s := strings.TrimSpace(rec[pc]), strings.TrimSpace(rec[sc])
		if err := checkDigits(p, '0'); err != nil {
			return nil, fail(line, "puzzle: %v", err)
		}
		if err := checkDigits(s, '1'); err != nil {
			return nil, fail(line, "solution: %v", err)
		}
		for i := range p {
			if p[i] != '0' && p[i] != s[i] {
				return nil, fail(line, "solution disagrees with the puzzle at cell %d", i+1)
			}
		}
		out = append(out, SudokuExample(p, s))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load sudoku CSV %s: no rows after the header", path)
	}
	return out, nil
}

func checkDigits(s string, lo byte) error {
	if len(s) != 16 {
		return fmt.Errorf("%q has %d characters, want 16 digits", s, len(s))
	}
	for i := 0; i < 16; i++ {
		if s[i] < lo || s[i] > '4' {
			return fmt.Errorf("%q: character %d is %q, want a digit %c-4", s, i+1, s[i], lo)
		}
	}
	return nil
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("load sudoku CSV %s line %d: %v", path, pe.Line, pe.Err)
	}
	return fmt.Errorf("load sudoku CSV %s: %w", path, err)
}

// eachJSONLine calls fn with every non-blank line of a JSONL file and its
// 1-based number.
func eachJSONLine(path, what string, fn func(line int, raw map[string]json.RawMessage) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load %s: %w", what, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	n, count := 0, 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &raw); err != nil {
			return fmt.Errorf("load %s %s line %d: not a JSON object: %v", what, path, n, err)
		}
		if err := fn(n, raw); err != nil {
			return fmt.Errorf("load %s %s line %d: %w", what, path, n, err)
		}
		count++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("load %s %s after line %d: %w", what, path, n, err)
	}
	if count == 0 {
		return fmt.Errorf("load %s %s: no examples", what, path)
	}
	return nil
}

// stringField reads a field that may be a JSON string or number.
func stringField(raw map[string]json.RawMessage, name string, required bool) (string, error) {
	v, ok := raw[name]
	if !ok {
		if required {
			return "", fmt.Errorf("missing field %q", name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var num json.Number
	if err := json.Unmarshal(v, &num); err == nil {
		return num.String(), nil
	}
	return "", fmt.Errorf("field %q is %s, want a string", name, string(v))
}

// LoadCountdownJSONL reads d1's countdown JSONL, {"input": "30,100,93",
// "output": "23"}, with an optional "answer" expression.
func LoadCountdownJSONL(path string) ([]Example, error) {
	var out []Example
	err := eachJSONLine(path, "countdown JSONL", func(line int, raw map[string]json.RawMessage) error {
		in, err := stringField(raw, "input", true)
		if err != nil {
			return err
		}
		outS, err := stringField(raw, "output", true)
		if err != nil {
			return err
		}
		answer, err := stringField(raw, "answer", false)
		if err != nil {
			return err
		}
		var nums []int
		for _, part := range strings.Split(in, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 0 {
				return fmt.Errorf("input %q: %q is not a non-negative integer", in, part)
			}
			nums = append(nums, n)
		}
		target, err := strconv.Atoi(strings.TrimSpace(outS))
		if err != nil {
			return fmt.Errorf("output %q is not an integer", outS)
		}
		out = append(out, CountdownExample(nums, target, answer))
		return nil
	})
	return out, err
}

// LoadPromptAnswerJSONL reads {"prompt": ..., "answer": ...} lines.
func LoadPromptAnswerJSONL(path string) ([]Example, error) {
	var out []Example
	err := eachJSONLine(path, "prompt/answer JSONL", func(line int, raw map[string]json.RawMessage) error {
		p, err := stringField(raw, "prompt", true)
		if err != nil {
			return err
		}
		a, err := stringField(raw, "answer", true)
		if err != nil {
			return err
		}
		out = append(out, Example{Prompt: p, Answer: a, Ref: map[string]any{"answer": a}})
		return nil
	})
	return out, err
}

// WriteSudokuCSV writes d1's format.
func WriteSudokuCSV(w io.Writer, exs []Example) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"Puzzle", "Solution"}); err != nil {
		return err
	}
	for _, ex := range exs {
		p, _ := ex.Ref["puzzle"].(string)
		s, _ := ex.Ref["solution"].(string)
		if err := cw.Write([]string{p, s}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteCountdownJSONL writes d1's format plus the "answer" expression.
func WriteCountdownJSONL(w io.Writer, exs []Example) error {
	enc := json.NewEncoder(w)
	for _, ex := range exs {
		nums, _ := ex.Ref["numbers"].([]int)
		parts := make([]string, len(nums))
		for i, n := range nums {
			parts[i] = strconv.Itoa(n)
		}
		rec := map[string]string{"input": strings.Join(parts, ","), "output": strconv.Itoa(ex.Ref["target"].(int)), "answer": ex.Answer}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}
