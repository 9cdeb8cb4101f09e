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
	"path/filepath"
	"strconv"
	"strings"
)

// MaxGenerated bounds gen:N and remask data gen: generated examples are held
// in memory, and generation slows as distinct examples run out.
const MaxGenerated = 1_000_000

// Load resolves a dataset spec for a task: "gen:N" generates N examples from
// seed (sudoku4x4 and countdown); anything else is a file path read in the
// task's format (sudoku4x4: CSV; countdown and text: JSONL).
func Load(task, spec string, seed int64) ([]Example, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("dataset for task %q: empty spec, want gen:N or a file path", task)
	}
	if rest, ok := strings.CutPrefix(spec, "gen:"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > MaxGenerated {
			return nil, fmt.Errorf("dataset %q: want gen:N with N a whole number from 1 to %d (generated data is held in memory; write a file for more)", spec, MaxGenerated)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 0x67656e)) // stream "gen"
		var exs []Example
		switch task {
		case "sudoku4x4":
			exs = GenerateSudoku4x4(rng, n, 0, 0)
		case "countdown":
			exs = GenerateCountdown(rng, n)
		default:
			return nil, fmt.Errorf("dataset %q: task %q has no generator (sudoku4x4 and countdown do)", spec, task)
		}
		if len(exs) < n {
			return nil, fmt.Errorf("dataset %q: only %d distinct %s examples exist at the default settings", spec, len(exs), task)
		}
		return exs, nil
	}
	ext := strings.ToLower(filepath.Ext(spec))
	switch task {
	case "sudoku4x4":
		if ext == ".jsonl" || ext == ".json" {
			return nil, fmt.Errorf("dataset %s: task sudoku4x4 reads d1's CSV (Puzzle,Solution), not %s", spec, ext)
		}
		return LoadSudokuCSV(spec)
	case "countdown":
		if ext == ".csv" {
			return nil, fmt.Errorf("dataset %s: task countdown reads d1's JSONL ({\"input\", \"output\"}), not CSV", spec)
		}
		return LoadCountdownJSONL(spec)
	case "gsm8k":
		if ext == ".csv" || ext == ".parquet" {
			return nil, fmt.Errorf("dataset %s: task gsm8k reads GSM8K JSONL ({\"question\", \"answer\": \"... #### N\"}), not %s", spec, ext)
		}
		return LoadGSM8KJSONL(spec)
	case "math":
		if ext == ".csv" || ext == ".parquet" {
			return nil, fmt.Errorf("dataset %s: task math reads MATH JSONL ({\"problem\", \"solution\"[, \"answer\"]}), not %s", spec, ext)
		}
		return LoadMathJSONL(spec)
	case "text":
		if ext == ".csv" {
			return nil, fmt.Errorf("dataset %s: task text reads JSONL ({\"prompt\", \"answer\"}), not CSV", spec)
		}
		return LoadPromptAnswerJSONL(spec)
	}
	return nil, fmt.Errorf("dataset %q: unknown task %q (want sudoku4x4, countdown, gsm8k, math or text)", spec, task)
}

// LoadSudokuCSV reads d1's sudoku CSV: a header with Puzzle and Solution
// columns (any case; Quizzes/Solutions also accepted; other columns
// ignored), then one row per puzzle, 16 digits each, 0 = empty in the
// puzzle. Every row must have as many fields as the header, the solution
// must be a valid grid and agree with the puzzle's givens.
func LoadSudokuCSV(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load sudoku CSV: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(&lineLimited{r: f, max: maxCSVLine}) // FieldsPerRecord 0: every row as wide as the header
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
	headerLine, _ := r.FieldPos(0)
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
		return nil, fail(headerLine, "header %q lacks Puzzle and Solution columns", strings.Join(header, ","))
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
		p, s := strings.TrimSpace(rec[pc]), strings.TrimSpace(rec[sc])
		if err := checkDigits("puzzle", p, '0'); err != nil {
			return nil, fail(line, "%v", err)
		}
		if err := checkDigits("solution", s, '1'); err != nil {
			return nil, fail(line, "%v", err)
		}
		if !validGrid(s) {
			return nil, fail(line, "solution %s is not a valid grid (each row, column and 2x2 box must hold 1-4 once)", s)
		}
		for i := range p {
			if p[i] != '0' && p[i] != s[i] {
				return nil, fail(line, "solution %s disagrees with puzzle %s at cell %d", s, p, i+1)
			}
		}
		if len(out) == MaxFileExamples {
			return nil, fail(line, "more than %d examples: split the file", MaxFileExamples)
		}
		out = append(out, SudokuExample(p, s))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load sudoku CSV %s: no rows after the header", path)
	}
	return out, nil
}

// checkDigits: s is 16 digits from lo to 4.
func checkDigits(what, s string, lo byte) error {
	if len(s) != 16 {
		return fmt.Errorf("%s %q has %d characters, want 16 digits", what, s, len(s))
	}
	for i := 0; i < 16; i++ {
		if s[i] < lo || s[i] > '4' {
			return fmt.Errorf("%s %q: character %d is %q, want a digit %c-4", what, s, i+1, s[i], lo)
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

// MaxFileExamples bounds the examples read from one file: they are all
// held in memory.
const MaxFileExamples = 10_000_000

// maxCSVLine bounds one CSV line (a sudoku row is about 40 bytes).
const maxCSVLine = 1 << 20

// lineLimited fails a read once a line runs past max bytes, so that a
// binary file or a runaway line cannot be read whole into memory.
type lineLimited struct {
	r        io.Reader
	max, run int
	line     int // newlines seen
}

func (l *lineLimited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.line, l.run = l.line+1, 0
			continue
		}
		if l.run++; l.run > l.max {
			return 0, fmt.Errorf("line %d is longer than %d bytes", l.line+1, l.max)
		}
	}
	return n, err
}

// maxJSONLine bounds one JSONL line (a guard against reading a binary file
// as one enormous line).
const maxJSONLine = 16 << 20

// eachJSONLine calls fn with every non-blank line of a JSONL file, parsed as
// a JSON object, and its 1-based number; errors come back naming the file
// and line.
func eachJSONLine(path, what string, fn func(raw map[string]json.RawMessage) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load %s: %w", what, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), maxJSONLine)
	n, count := 0, 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a byte-order mark, as some editors write
		}
		if text == "" {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &raw); err != nil || raw == nil {
			if err == nil {
				err = errors.New("null")
			}
			return fmt.Errorf("load %s %s line %d: not a JSON object: %v", what, path, n, err)
		}
		if count == MaxFileExamples {
			return fmt.Errorf("load %s %s line %d: more than %d examples: split the file", what, path, n, MaxFileExamples)
		}
		if err := fn(raw); err != nil {
			return fmt.Errorf("load %s %s line %d: %w", what, path, n, err)
		}
		count++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("load %s %s line %d: %w", what, path, n+1, err)
	}
	if count == 0 {
		return fmt.Errorf("load %s %s: no examples (the file is empty or blank)", what, path)
	}
	return nil
}

// stringField reads a field that may be a JSON string or number (d1 writes
// the countdown target as a string, others as a number).
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

// LoadCountdownJSONL reads d1's countdown JSONL, one {"input": "30,100,93",
// "output": "23"} per line (output may also be a JSON number), with an
// optional "answer": a solution expression, which must be correct. Blank
// lines are skipped; other fields are ignored.
func LoadCountdownJSONL(path string) ([]Example, error) {
	var out []Example
	err := eachJSONLine(path, "countdown JSONL", func(raw map[string]json.RawMessage) error {
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
		ex := CountdownExample(nums, target, answer)
		if answer != "" && !(Countdown{}).Correct(ex, answer) {
			return fmt.Errorf("answer %q does not make %d from the numbers %s, each used once", answer, target, in)
		}
		out = append(out, ex)
		return nil
	})
	return out, err
}

// LoadPromptAnswerJSONL reads {"prompt": ..., "answer": ...} lines for the
// text task; "prompt" is required, a missing "answer" reads as "". Ref holds
// {"answer": answer}.
func LoadPromptAnswerJSONL(path string) ([]Example, error) {
	var out []Example
	err := eachJSONLine(path, "prompt/answer JSONL", func(raw map[string]json.RawMessage) error {
		p, err := stringField(raw, "prompt", true)
		if err != nil {
			return err
		}
		a, err := stringField(raw, "answer", false)
		if err != nil {
			return err
		}
		out = append(out, Example{Prompt: p, Answer: a, Ref: map[string]any{"answer": a}})
		return nil
	})
	return out, err
}
