package reward

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/reward/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeChild()
	os.Exit(m.Run())
}

func TestCodeFence(t *testing.T) {
	cases := []struct {
		text, code string
		ok         bool
	}{
		{"Here:\n```python\nx = 1\n```\n", "x = 1\n", true},
		{"```python\nx = 1\n```\n", "x = 1\n", true},
		{"```python\nx = 1\n```", "", false},               // no final newline
		{"```python\nx = 1\n```\n\n", "", false},           // something after it
		{"```python\nx = 1\n```\nThat's it.\n", "", false}, // text after the block
		{"```\nx = 1\n```\n", "", false},                   // no language
		{"```py\nx = 1\n```\n", "", false},
		{"a ``` b\n```python\nx = 1\n```\n", "", false}, // a fence before the block
		{"```python\ns = '```'\n```\n", "", false},      // ``` inside the code
		{"`\n```python\nx\n```\n", "x\n", true},
		{"no code", "", false},
	}
	for _, c := range cases {
		code, ok := codeFence(c.text)
		if ok != c.ok || code != c.code {
			t.Errorf("%q: %q %v, want %q %v", c.text, code, ok, c.code, c.ok)
		}
	}
}

func testCodeOptions() CodeOptions {
	o := DefaultCodeOptions()
	o.Test.Wall, o.Test.CPU = 3*time.Second, 2*time.Second
	return o
}

func TestCodeRewards(t *testing.T) {
	ref := map[string]any{"test_cases": []any{"assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"}}
	fence := func(code string) string { return "Here:\n```python\n" + code + "```\n" }
	add := "def add(a, b):\n    return a + b\n"
	cases := []struct {
		name, text     string
		format, passed float64
	}{
		{"good", fence(add), 1, 2.0 / 3},
		{"indented", fence("    " + add), 1, 0}, // DiffuCoder strips before the syntax check, not before running: IndentationError
		{"syntax error", fence("def add(a, b)\n    return a + b\n"), 0.5, 0},
		{"no block", "def add(a, b): return a + b", 0, 0},
		{"text after the block", fence(add) + "Done.\n", 0, 0},
		{"NUL byte", fence("x = '\x00'\n"), 0.5, 0},
		// each test is a fresh process: state does not leak between tests
		{"global state", fence("n = [0]\ndef add(a, b):\n    n[0] += 1\n    assert n[0] == 1\n    return a + b\n"), 1, 2.0 / 3},
		// exiting 0 passes every test, as in DiffuCoder (python3 -c code+test)
		{"exit 0", fence("import sys\nsys.exit(0)\n"), 1, 1},
		{"exit 1", fence("raise SystemExit(1)\n"), 1, 0},
		// a test that hangs ends the evaluation: 0 for the completion
		{"hang", fence("import time\ndef add(a, b):\n    if a == 2: time.sleep(60)\n    return a + b\n"), 1, 0},
		{"busy", fence("def add(a, b):\n    while a == 2: pass\n    return a + b\n"), 1, 0}, // the CPU limit counts as the timeout
		{"writes /etc", fence("import os\ntry:\n    open('/etc/remask-pwned', 'w')\nexcept OSError:\n    pass\n" + add), 1, 2.0 / 3},
	}
	format := NewCodeReward(false, testCodeOptions(), zerolog.Nop())
	pass := NewCodeReward(true, testCodeOptions(), zerolog.Nop())
	var batch []Completion
	for _, c := range cases {
		batch = append(batch, Completion{Text: c.text, Ref: ref})
	}
	formats := format.ScoreBatch(batch)
	passes := pass.ScoreBatch(batch)
	for i, c := range cases {
		if formats[i].Err != nil || passes[i].Err != nil || formats[i].Score != c.format || passes[i].Score != c.passed {
			t.Errorf("%s: format %+v pass %+v, want %v %v", c.name, formats[i], passes[i], c.format, c.passed)
		}
	}
	if d := passes[0].Details; d["passed"] != 2 || d["tests"] != 3 || d["timed_out"] != false {
		t.Errorf("details %v", d)
	}
	for _, i := range []int{9, 10} {
		if d := passes[i].Details; d["timed_out"] != true {
			t.Errorf("%s: details %v", cases[i].name, d)
		}
	}
	if _, err := os.Stat("/etc/remask-pwned"); err == nil {
		os.Remove("/etc/remask-pwned")
		t.Fatal("model code wrote into /etc")
	}
	// one at a time gives the same
	if v, err := pass.Score(batch[0]); err != nil || v != 2.0/3 {
		t.Fatalf("Score: %v %v", v, err)
	}
	// reference tests are required, in either published form
	if _, err := pass.Score(Completion{Text: fence(add), Ref: map[string]any{}}); err == nil {
		t.Fatal("missing tests accepted")
	}
	block := map[string]any{"tests": "def check():\n    assert add(1, 2) == 3\n    assert add(0, 0) == 1\n"}
	if v, err := pass.Score(Completion{Text: fence(add), Ref: block}); err != nil || v != 0.5 {
		t.Fatalf("d1-style block of asserts: %v %v", v, err)
	}
	// the registered rewards are these
	for _, n := range []string{"code_format", "code_pass_rate"} {
		r, err := NewLogged(n, zerolog.Nop())
		if _, ok := r.(*CodeReward); err != nil || !ok {
			t.Fatalf("%s: %T %v", n, r, err)
		}
	}
}

// A budget on the total test time: past it the completion scores 0, as in
// DiffuCoder, whose evaluation script runs in a sandbox of 30 s.
func TestCodeBudget(t *testing.T) {
	o := testCodeOptions()
	o.Budget = 10 * time.Millisecond
	pass := NewCodeReward(true, o, zerolog.Nop())
	out := pass.ScoreBatch([]Completion{{Text: "```python\nimport time\ntime.sleep(0.05)\n```\n", Ref: map[string]any{"test_cases": []any{"assert True"}}}})
	if out[0].Score != 0 || out[0].Details["over_budget"] != true || !strings.Contains(out[0].Details["isolation"].(string), "namespaces") && os.Geteuid() == 0 {
		t.Fatalf("%+v", out[0])
	}
}

// BenchmarkCodePassRate scores batches of 16 completions with 3 tests each
// (64 sandboxed Python runs per batch: 16 syntax checks in one, 48 tests).
func BenchmarkCodePassRate(b *testing.B) {
	pass := NewCodeReward(true, DefaultCodeOptions(), zerolog.Nop())
	ref := map[string]any{"test_cases": []any{"assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"}}
	batch := make([]Completion, 16)
	for i := range batch {
		batch[i] = Completion{Text: "```python\ndef add(a, b):\n    return a + b\n```\n", Ref: ref}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, o := range pass.ScoreBatch(batch) {
			if o.Err != nil || o.Score != 2.0/3 {
				b.Fatalf("%+v", o)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)/float64(len(batch)), "ms/completion")
}
