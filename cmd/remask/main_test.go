package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCaptured runs the CLI in-process and returns its exit code, stdout and stderr.
func runCaptured(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	done := make(chan [2]string)
	go func() {
		o, _ := io.ReadAll(outR)
		e, _ := io.ReadAll(errR)
		done <- [2]string{string(o), string(e)}
	}()
	code := run(args)
	outW.Close()
	errW.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	r := <-done
	return code, r[0], r[1]
}

func write(t *testing.T, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad input anywhere: one line on stderr, exit code 1, no stack trace.
func TestBadInputIsOneLine(t *testing.T) {
	dir := t.TempDir()
	badYAML := write(t, dir, "bad.yaml", "data: {task: sudoku4x4, train: gen:10}\noptim: {lr: fast}\n")
	unknown := write(t, dir, "unk.yaml", "data: {task: sudoku4x4, train: gen:10}\ntrian: {steps: 3}\n")
	badCSV := write(t, dir, "bad.csv", "Puzzle,Solution\n12,34\n")
	badJSONL := write(t, dir, "bad.jsonl", "{\"input\": \"1,2,3\"}\n")
	foreign := write(t, dir, "foreign.db", strings.Repeat("not a database ", 500))
	empty := write(t, dir, "empty.db", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "-c", badYAML}, "bad.yaml:2: field optim.lr"},
		{[]string{"train", "-c", unknown}, `unknown field "trian"`},
		{[]string{"train", "-c", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{[]string{"train", "-c", badYAML, "--set", "train.steps=abc"}, "bad.yaml"},
		{[]string{"train", "-c", write(t, dir, "ok.yaml", "data: {task: sudoku4x4, train: "+badCSV+"}\nrun: {dir: "+dir+"}\n")}, "line 2"},
		{[]string{"eval", "--ckpt", foreign, "--data", badCSV, "--task", "sudoku4x4"}, "not a remask run store"},
		{[]string{"eval", "--ckpt", empty, "--data", badCSV, "--task", "sudoku4x4"}, "empty"},
		{[]string{"sample", "--ckpt", foreign + ":12", "--prompt", "1"}, "not a remask run store"},
		{[]string{"sample", "--ckpt", foreign + ":x", "--prompt", "1"}, "not a step number"},
		{[]string{"eval", "--ckpt", foreign, "--data", badJSONL, "--task", "countdown"}, "not a remask run store"},
		{[]string{"bench", "--preset", "huge"}, "--preset"},
		{[]string{"bench", "--what", "sample", "--task", "sudoku4x4", "--strategies", "low_confidence,fastest"}, `"fastest" is not one of`},
		{[]string{"bench", "--what", "sample", "--task", "sudoku4x4", "--sample-batch", "0"}, "--sample-batch"},
		{[]string{"bench", "--what", "sample", "--ckpt", foreign, "--preset", "small"}, "--preset"},
		{[]string{"data", "gen", "--task", "chess"}, "chess"},
		{[]string{"nosuchcommand"}, "unknown command"},
	}
	for _, c := range cases {
		code, _, stderr := runCaptured(t, c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// The sample bench times only the strategies named, on the preset asked for.
func TestBenchSampleStrategiesAndPreset(t *testing.T) {
	code, stdout, stderr := runCaptured(t, "bench", "--what", "sample", "--task", "sudoku4x4", "--n", "3", "--sample-batch", "2",
		"--preset", "small", "--strategies", "low_confidence,random")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2 lines", code, stdout, stderr)
	}
	for i, want := range []string{`"strategy":"low_confidence"`, `"strategy":"random"`} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `"preset":"small"`) || !strings.Contains(lines[i], `"n":3`) {
			t.Errorf("line %d %q: want %s, preset small, n 3", i, lines[i], want)
		}
	}
}

func TestDataGenWritesD1Format(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.csv")
	if code, _, stderr := runCaptured(t, "data", "gen", "--task", "sudoku4x4", "--n", "5", "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "Puzzle,Solution" || len(lines) != 6 || len(lines[1]) != 33 {
		t.Fatalf("%q", b)
	}
}

func TestRewardScore(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "c.jsonl", `{"id": "a", "prompt": "p", "completion": "30-(100-93)", "reference": {"numbers": [30, 100, 93], "target": 23}}
{"id": "b", "completion": "30+100-93", "reference": {"numbers": [30, 100, 93], "target": 23}, "extra": 1}
`)
	out := filepath.Join(dir, "s.jsonl")
	code, _, stderr := runCaptured(t, "reward", "score", "--reward", "countdown", "--in", in, "--out", out)
	if code != 0 || !strings.Contains(stderr, "countdown") || !strings.Contains(stderr, "0.5500") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"total":1`) || !strings.Contains(lines[1], `"total":0.1`) || !strings.Contains(lines[0], `"id":"a"`) {
		t.Fatalf("scores %q", b)
	}
	bad := write(t, dir, "bad.jsonl", "{\"id\": 1}\n")
	if code, _, stderr := runCaptured(t, "reward", "score", "--reward", "countdown", "--in", bad); code != 1 || !strings.Contains(stderr, "line 1") {
		t.Fatalf("bad input: %d %q", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "reward", "score", "--reward", "nope", "--in", in); code != 1 || !strings.Contains(stderr, "unknown reward") {
		t.Fatalf("unknown reward: %d %q", code, stderr)
	}
}

// A run that cannot start (here: model.init_from missing) leaves no run store behind.
func TestFailedStartLeavesNoStore(t *testing.T) {
	dir := t.TempDir()
	cfg := write(t, dir, "r.yaml", "run: {name: r, dir: "+dir+"}\nmodel: {init_from: "+filepath.Join(dir, "missing.db")+"}\ndata: {task: sudoku4x4, train: gen:10}\n")
	if code, _, stderr := runCaptured(t, "train", "-c", cfg); code != 1 || !strings.Contains(stderr, "model.init_from") {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.db")); err == nil {
		t.Fatal("a run store was created for a run that never started")
	}
}
