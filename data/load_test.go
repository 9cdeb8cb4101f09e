package data

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantLoadError runs load on a file with body and checks the error names the
// file and contains want (typically "line N: ...").
func wantLoadError(t *testing.T, load func(string) ([]Example, error), name, body, want string) {
	t.Helper()
	p := writeTemp(t, name, body)
	exs, err := load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
		t.Errorf("%q: got %d examples, error %v; want an error naming the file and %q", body, len(exs), err, want)
	}
}

func TestLoadSudokuCSV(t *testing.T) {
	good := writeTemp(t, "s.csv", "\ufeffid,SOLUTION,puzzle\r\n7,1234341221434321,0004300021000320\r\n\r\n8, 1234341221434321 ,1234341221434321\r\n")
	exs, err := LoadSudokuCSV(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{SudokuExample("0004300021000320", sol), SudokuExample(sol, sol)}
	if !reflect.DeepEqual(exs, want) {
		t.Fatalf("got %+v\nwant %+v", exs, want)
	}
	const h = "Puzzle,Solution\n"
	const row = "0004300021000320,1234341221434321\n"
	for body, want := range map[string]string{
		h + "000430002100032,1234341221434321\n":          `line 2: puzzle "000430002100032" has 15 characters, want 16 digits`,
		h + row + "0004300021000320\n":                    "line 3: wrong number of fields",
		h + row + "0004300021000320,1234341221434321,9\n": "line 3: wrong number of fields",
		h + "00043000210x0320,1234341221434321\n":         `line 2: puzzle "00043000210x0320": character 12 is 'x', want a digit 0-4`,
		h + "0004300021000320,1234341221434320\n":         "line 2: solution",
		h + "0004300021000325,1234341221434321\n":         "line 2: puzzle",
		h + "0004300021000320,1234341221434312\n":         "line 2: solution 1234341221434312 is not a valid grid",
		h + "2004300021000320,1234341221434321\n":         "line 2: solution 1234341221434321 disagrees with puzzle 2004300021000320 at cell 1",
		h + row + "\"0004300021000320,1234341221434321\n": "line 3",
		h + "00043\"00021000320,1234341221434321\n":       "line 2: bare \" in non-quoted-field",
		"A,B\n1,2\n":                     `line 1: header "A,B" lacks Puzzle and Solution`,
		"\n\nPuzzle\n0004300021000320\n": "line 3: header",
		h:                                "no rows after the header",
		"":                               "empty file",
	} {
		wantLoadError(t, LoadSudokuCSV, "bad.csv", body, want)
	}
	if _, err := LoadSudokuCSV(filepath.Join(t.TempDir(), "none.csv")); err == nil || !strings.Contains(err.Error(), "none.csv") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadCountdownJSONL(t *testing.T) {
	good := writeTemp(t, "c.jsonl", `{"input": "30,100,93", "output": "23"}`+"\n\n  \r\n"+
		`{"input": "1, 2,3", "output": 6, "answer": "1+2+3", "note": [1]}`+"\r\n")
	exs, err := LoadCountdownJSONL(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{CountdownExample([]int{30, 100, 93}, 23, ""), CountdownExample([]int{1, 2, 3}, 6, "1+2+3")}
	if !reflect.DeepEqual(exs, want) {
		t.Fatalf("got %+v\nwant %+v", exs, want)
	}
	const ok = `{"input": "1,2,3", "output": "6"}` + "\n"
	for body, want := range map[string]string{
		`{"input": "30,100,93"}`: `line 1: missing field "output"`,
		`{"output": "3"}`:        `line 1: missing field "input"`,
		ok + "\n" + `{oops`:      "line 3: not a JSON object",
		ok + `[1, 2]`:            "line 2: not a JSON object",
		ok + `null`:              "line 2: not a JSON object",
		ok + ok + `{"input": "1,2,3", "output": "6"} x`:          "line 3: not a JSON object",
		`{"input": "1,x,3", "output": "3"}`:                      `line 1: input "1,x,3": "x" is not`,
		`{"input": "1,-2,3", "output": "3"}`:                     `line 1: input "1,-2,3"`,
		`{"input": "", "output": "3"}`:                           `line 1: input ""`,
		`{"input": "1,2,3", "output": "three"}`:                  `line 1: output "three" is not an integer`,
		`{"input": "1,2,3", "output": 6.5}`:                      `line 1: output "6.5"`,
		`{"input": [1,2], "output": "3"}`:                        `line 1: field "input" is [1,2], want a string`,
		`{"input": "1,2,3", "output": "6", "answer": "1*2*3*1"}`: `line 1: answer "1*2*3*1" does not make 6`,
		`{"input": "1,2,3", "output": "6", "answer": true}`:      `line 1: field "answer" is true`,
		"\n\n": "no examples",
		"":     "no examples",
	} {
		wantLoadError(t, LoadCountdownJSONL, "bad.jsonl", body, want)
	}
	// A line longer than the scanner allows is reported at its own number.
	long := ok + ok + `{"input": "` + strings.Repeat("1", maxJSONLine) + `"}` + "\n"
	wantLoadError(t, LoadCountdownJSONL, "long.jsonl", long, "line 3: bufio.Scanner: token too long")
	if _, err := LoadCountdownJSONL(filepath.Join(t.TempDir(), "none.jsonl")); err == nil || !strings.Contains(err.Error(), "none.jsonl") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadPromptAnswerJSONL(t *testing.T) {
	good := writeTemp(t, "t.jsonl", `{"prompt": "Q: 1+1?", "answer": " 2"}`+"\n\n"+`{"prompt": "free text"}`+"\n")
	exs, err := LoadPromptAnswerJSONL(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{Prompt: "Q: 1+1?", Answer: " 2", Ref: map[string]any{"answer": " 2"}},
		{Prompt: "free text", Answer: "", Ref: map[string]any{"answer": ""}},
	}
	if !reflect.DeepEqual(exs, want) {
		t.Fatalf("got %+v\nwant %+v", exs, want)
	}
	task, _ := TaskByName("text")
	if !task.Correct(exs[0], "2\n") || task.Correct(exs[0], "3") {
		t.Error("text Correct")
	}
	for body, want := range map[string]string{
		`{"answer": "2"}`:                           `line 1: missing field "prompt"`,
		`{"prompt": {"a": 1}}`:                      `line 1: field "prompt"`,
		`{"prompt": "a"}` + "\n" + `{"prompt": "b"`: "line 2: not a JSON object",
		"   \n": "no examples",
	} {
		wantLoadError(t, LoadPromptAnswerJSONL, "bad.jsonl", body, want)
	}
}

func TestWriteReadBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var buf bytes.Buffer
	sud := GenerateSudoku4x4(rng, 20, 0, 0)
	if err := WriteSudokuCSV(&buf, sud); err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(buf.String(), "\n", 3); first[0] != "Puzzle,Solution" || first[1] != sud[0].Ref["puzzle"].(string)+","+sud[0].Answer {
		t.Fatalf("CSV starts %q", first[:2])
	}
	back, err := LoadSudokuCSV(writeTemp(t, "s.csv", buf.String()))
	if err != nil || !reflect.DeepEqual(back, sud) {
		t.Fatalf("sudoku round trip: %v", err)
	}
	buf.Reset()
	cd := append(GenerateCountdown(rng, 20), CountdownExample([]int{30, 100, 93}, 23, ""))
	if err := WriteCountdownJSONL(&buf, cd); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[20] != `{"input":"30,100,93","output":"23"}` {
		t.Fatalf("d1 line written as %s", lines[20])
	}
	back, err = LoadCountdownJSONL(writeTemp(t, "c.jsonl", buf.String()))
	if err != nil || !reflect.DeepEqual(back, cd) {
		t.Fatalf("countdown round trip: %v", err)
	}
	if err := WriteSudokuCSV(&buf, []Example{sud[0], {Prompt: "x"}}); err == nil || !strings.Contains(err.Error(), "example 1") {
		t.Errorf("sudoku example without Ref: %v", err)
	}
	if err := WriteCountdownJSONL(&buf, []Example{{Prompt: "x", Ref: map[string]any{"numbers": []int{1}}}}); err == nil || !strings.Contains(err.Error(), "example 0") {
		t.Errorf("countdown example without target: %v", err)
	}
}

func TestLoad(t *testing.T) {
	a, err := Load("sudoku4x4", "gen:50", 7)
	if err != nil || len(a) != 50 {
		t.Fatalf("gen:50: %d, %v", len(a), err)
	}
	b, _ := Load("sudoku4x4", "gen:50", 7)
	c, _ := Load("sudoku4x4", "gen:50", 8)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Fatal("gen: not determined by the seed")
	}
	if cd, err := Load("countdown", "gen:30", 7); err != nil || len(cd) != 30 || cd[0].Ref["target"] == nil {
		t.Fatalf("countdown gen:30: %v", err)
	}
	csvPath := writeTemp(t, "s.csv", "Puzzle,Solution\n0004300021000320,1234341221434321\n")
	if exs, err := Load("sudoku4x4", csvPath, 0); err != nil || len(exs) != 1 {
		t.Fatalf("sudoku file: %v", err)
	}
	jsonlPath := writeTemp(t, "c.jsonl", `{"input": "30,100,93", "output": "23"}`)
	if exs, err := Load("countdown", jsonlPath, 0); err != nil || len(exs) != 1 {
		t.Fatalf("countdown file: %v", err)
	}
	textPath := writeTemp(t, "t.jsonl", `{"prompt": "a", "answer": "b"}`)
	if exs, err := Load("text", textPath, 0); err != nil || exs[0].Answer != "b" {
		t.Fatalf("text file: %v", err)
	}
	for _, c := range []struct{ task, spec, want string }{
		{"sudoku4x4", "gen:0", "N a whole number from 1"},
		{"sudoku4x4", "gen:x", "gen:N"},
		{"sudoku4x4", "gen:-3", "gen:N"},
		{"text", "gen:5", `task "text" has no generator`},
		{"chess", "gen:5", `task "chess"`},
		{"chess", csvPath, `unknown task "chess"`},
		{"sudoku4x4", "", "empty spec"},
		{"sudoku4x4", jsonlPath, "reads d1's CSV"},
		{"countdown", csvPath, "not CSV"},
		{"text", csvPath, "not CSV"},
		{"countdown", filepath.Join(t.TempDir(), "none.jsonl"), "none.jsonl"},
	} {
		if _, err := Load(c.task, c.spec, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s, %s): error %v, want one containing %q", c.task, c.spec, err, c.want)
		}
	}
}

// A runaway CSV line fails with a clear error instead of being read whole;
// a byte-order mark does not break a JSONL file.
func TestReadersBoundLinesAndTakeBOM(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long.csv")
	body := "Puzzle,Solution\n" + strings.Repeat("1", 2<<20) + "\n"
	if err := os.WriteFile(long, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSudokuCSV(long); err == nil || !strings.Contains(err.Error(), "line 2 is longer than 1048576 bytes") {
		t.Fatalf("long CSV line: %v", err)
	}
	bom := filepath.Join(dir, "bom.jsonl")
	if err := os.WriteFile(bom, []byte("\ufeff{\"input\": \"30,100,93\", \"output\": \"23\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if exs, err := LoadCountdownJSONL(bom); err != nil || len(exs) != 1 {
		t.Fatalf("countdown JSONL with a BOM: %v %v", exs, err)
	}
}

// TestLoadCountdownD1File reads lines written byte for byte as d1's
// dataset/countdown_cd3_test.jsonl writes them (a space after each colon and
// comma, the target as a string, no answer).
func TestLoadCountdownD1File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countdown_cd3_test.jsonl")
	lines := "{\"input\": \"30,100,93\", \"output\": \"23\"}\n{\"input\": \"90,43,90\", \"output\": \"43\"}\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	exs, err := Load("countdown", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 || exs[0].Prompt != " 30,100, 93> 23=" || exs[0].Answer != "" || exs[1].Prompt != " 90, 43, 90> 43=" ||
		!reflect.DeepEqual(exs[1].Ref["numbers"], []int{90, 43, 90}) || exs[1].Ref["target"] != 43 {
		t.Fatalf("loaded %+v", exs)
	}
	if !(Countdown{}).Correct(exs[0], "30-(100-93)") || !(Countdown{}).Correct(exs[1], "43+90-90") {
		t.Error("d1's problems not solvable by their solutions")
	}
}
