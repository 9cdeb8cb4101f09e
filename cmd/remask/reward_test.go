package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/reward"
	"github.com/remask/remask/trainer"
)

func TestRewardList(t *testing.T) {
	code, stdout, stderr := runCaptured(t, "reward", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	names := strings.Fields(stdout)
	for _, n := range []string{"d1_gsm8k_correct", "d1_gsm8k_int", "d1_gsm8k_strict_format", "d1_gsm8k_soft_format", "d1_gsm8k_xmlcount",
		"d1_countdown", "d1_sudoku", "code_pass_rate", "code_format"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+n+" ") {
			t.Errorf("%s missing from %v", n, names)
		}
	}
}

func readScores(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRewardScoreGSM8K(t *testing.T) {
	dir := t.TempDir()
	good := `<reasoning>\nShe sold 48 + 24.\n</reasoning>\n<answer>\n72\n</answer>\n`
	in := write(t, dir, "in.jsonl", strings.Join([]string{
		`{"id": "a", "prompt": "p", "completion": "` + good + `", "reference": {"answer": "72"}, "extra": 1}`,
		``,
		`{"id": 12345678901234567, "completion": "<answer>71</answer>", "reference": {"answer": "72"}}`,
		`{"id": 3, "completion": "<answer>72</answer>", "reference": {}}`,
	}, "\n"))
	out := filepath.Join(dir, "out.jsonl")
	code, _, stderr := runCaptured(t, "reward", "score", "--reward", "d1_gsm8k_correct, d1_gsm8k_strict_format", "--in", in, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := readScores(t, out)
	if len(got) != 3 {
		t.Fatalf("%d lines: %v", len(got), got)
	}
	c0 := got[0]["components"].(map[string]any)
	if got[0]["id"] != "a" || got[0]["total"] != 2.5 || c0["d1_gsm8k_correct"] != 2.0 || c0["d1_gsm8k_strict_format"] != 0.5 || got[0]["failures"] != nil {
		t.Errorf("line 1: %v", got[0])
	}
	if got[1]["total"] != 0.0 {
		t.Errorf("line 2: %v", got[1])
	}
	// the id comes back exactly as given, even past float precision
	raw, _ := os.ReadFile(out)
	if !strings.Contains(string(raw), `"id":12345678901234567`) {
		t.Errorf("id not preserved: %s", raw)
	}
	// a reward that fails (no reference answer) is reported, scored 0 and counted
	if f := got[2]["failures"].(map[string]any); !strings.Contains(f["d1_gsm8k_correct"].(string), "answer") {
		t.Errorf("line 3: %v", got[2])
	}
	for _, want := range []string{"REWARD", "d1_gsm8k_correct", "0.6667", "0.1667", "0.8333", "3 completions"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	if !regexpFailures(stderr, "d1_gsm8k_correct", "1") {
		t.Errorf("the failure is not counted:\n%s", stderr)
	}
	// no input, no reward, a missing file: errors
	for _, args := range [][]string{
		{"reward", "score", "--reward", "d1_sudoku"},
		{"reward", "score", "--in", in},
		{"reward", "score", "--reward", "d1_sudoku", "--in", filepath.Join(dir, "none.jsonl")},
		{"reward", "score", "--exec", "python3 x.py", "--timeout", "soon", "--in", in},
	} {
		if code, _, _ := runCaptured(t, args...); code != 1 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// regexpFailures reports whether the summary row of name ends in failures n.
func regexpFailures(summary, name, n string) bool {
	for _, line := range strings.Split(summary, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == name && f[3] == n {
			return true
		}
	}
	return false
}

// An exec plugin scores through the CLI with its details; one that crashes
// on a line costs that line only.
func TestRewardScoreExec(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.jsonl", `{"id": 1, "completion": "1234341221434321", "reference": {"puzzle": "0004300021000320"}}
{"id": 2, "completion": "1234", "reference": {}}
{"id": 3, "completion": "1234341221434322", "reference": {"puzzle": "0004300021000320"}}
`)
	out := filepath.Join(dir, "out.jsonl")
	// a generous timeout: this tests the scores, and python3 can take seconds
	// to start on a loaded machine
	code, _, stderr := runCaptured(t, "reward", "score", "--exec", "python3 ../../examples/sudoku_rules_reward.py", "--timeout", "60s", "--failure-score", "-1", "--in", in, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := readScores(t, out)
	name := "python3 ../../examples/sudoku_rules_reward.py"
	if got[0]["total"] != 1.0 || got[0]["details"].(map[string]any)[name].(map[string]any)["good_units"] != 12.0 {
		t.Errorf("line 1: %v", got[0])
	}
	if got[1]["total"] != -1.0 || got[1]["failures"] == nil {
		t.Errorf("line 2: %v", got[1])
	}
	if got[2]["total"] != 0.75 {
		t.Errorf("line 3: %v", got[2])
	}
	crash := write(t, dir, "crash.py", "import json, sys\nfor line in sys.stdin:\n    r = json.loads(line)\n    if r['completion'] == 'die': sys.exit(1)\n    print(json.dumps({'id': r['id'], 'score': 1}), flush=True)\n")
	in2 := write(t, dir, "in2.jsonl", "{\"id\": 1, \"completion\": \"ok\"}\n{\"id\": 2, \"completion\": \"die\"}\n{\"id\": 3, \"completion\": \"ok\"}\n")
	code, _, stderr = runCaptured(t, "reward", "score", "--exec", "python3 "+crash, "--in", in2, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got = readScores(t, out)
	if got[0]["total"] != 1.0 || got[1]["total"] != 0.0 || got[2]["total"] != 1.0 {
		t.Errorf("crash in the middle: %v", got)
	}
}

// -c takes the rewards of a run config.
func TestRewardScoreConfig(t *testing.T) {
	cfgPath := "../../configs/sudoku-diffu-grpo.yaml"
	cfg, err := configs.Load(cfgPath, nil)
	if err != nil {
		t.Skipf("config: %v", err)
	}
	dir := t.TempDir()
	in := write(t, dir, "in.jsonl", `{"id": 1, "completion": "1234341221434321", "reference": {"puzzle": "0004300021000320", "solution": "1234341221434321"}}`+"\n")
	out := filepath.Join(dir, "out.jsonl")
	if code, _, stderr := runCaptured(t, "reward", "score", "-c", cfgPath, "--in", in, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	comps := readScores(t, out)[0]["components"].(map[string]any)
	if len(comps) != len(cfg.Rewards) {
		t.Fatalf("components %v, config rewards %v", comps, cfg.Rewards)
	}
	for _, r := range cfg.Rewards {
		if _, ok := comps[r.Label()]; !ok {
			t.Errorf("%s missing from %v", r.Label(), comps)
		}
	}
}

// A plugin that cannot start: one line on stderr, exit 1, before any
// scoring. One whose completions all fail: the scores are written, then exit
// 1 with the reason.
func TestRewardScoreExitCodes(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.jsonl", "{\"id\": 1, \"completion\": \"a\"}\n{\"id\": 2, \"completion\": \"b\"}\n")
	out := filepath.Join(dir, "out.jsonl")
	code, stdout, stderr := runCaptured(t, "reward", "score", "--exec", "/nonexistent/plugin", "--in", in)
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "goroutine") ||
		!strings.Contains(stderr, `reward plugin "/nonexistent/plugin" cannot start`) || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing program: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// a script that is not there: python3 starts and exits at once (at Start,
	// or at the first request if this machine is slow to start it)
	code, _, stderr = runCaptured(t, "reward", "score", "--exec", "python3 "+filepath.Join(dir, "missing.py"), "--in", in, "--out", out)
	last := lastLine(stderr)
	if code != 1 || !strings.Contains(last, "cannot start") || !strings.Contains(last, "missing.py") || !strings.Contains(last, "stderr:") {
		t.Errorf("missing script: exit %d, stderr %q", code, stderr)
	}
	// every completion fails: an error answer for each
	refuse := write(t, dir, "refuse.py", "import json, sys\nfor line in sys.stdin:\n    r = json.loads(line)\n    print(json.dumps({'id': r['id'], 'error': 'no reference'}), flush=True)\n")
	code, _, stderr = runCaptured(t, "reward", "score", "--exec", "python3 "+refuse, "--name", "refuser", "--in", in, "--out", out)
	last = lastLine(stderr)
	if code != 1 || !strings.Contains(last, "refuser failed on every completion (2)") || !strings.Contains(last, "no reference") {
		t.Errorf("all failed: exit %d, stderr %q", code, stderr)
	}
	if got := readScores(t, out); len(got) != 2 || got[1]["failures"].(map[string]any)["refuser"] == nil {
		t.Errorf("scores of an all-failed file: %v", got)
	}
	// a plugin that dies on its first request ends the scoring there
	die := write(t, dir, "die.py", "import sys\nsys.stdin.readline()\nsys.stderr.write('no model here\\n')\nsys.exit(1)\n")
	code, _, stderr = runCaptured(t, "reward", "score", "--exec", "python3 "+die, "--in", in, "--out", out)
	last = lastLine(stderr)
	if code != 1 || !strings.Contains(last, "cannot start") || !strings.Contains(last, "no model here") {
		t.Errorf("dies at once: exit %d, stderr %q", code, stderr)
	}
	// bad flags, a reward used twice
	for _, args := range [][]string{
		{"reward", "score", "--exec", "python3 x.py", "--startup-grace", "-1s", "--in", in},
		{"reward", "score", "--exec", "python3 x.py", "--max-consecutive-failures", "-1", "--in", in},
		{"reward", "score", "--reward", "d1_sudoku,d1_sudoku", "--in", in},
	} {
		if code, _, stderr := runCaptured(t, args...); code != 1 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// name + exec: name is the plugin's key, and the plugin fields of the
// config reach it.
func TestRewardScoreNamedPlugin(t *testing.T) {
	dir := t.TempDir()
	plugin, _ := filepath.Abs("../../examples/sudoku_rules_reward.py")
	cfgPath := write(t, dir, "run.yaml", `data: {task: sudoku4x4, train: gen:10}
objective: unigrpo
rewards:
  - {name: rules, exec: [python3, `+plugin+`], weight: 0.5, startup_grace: 30s, max_consecutive_failures: 0}
  - {name: sudoku_cells, weight: 1}
`)
	cfg, err := configs.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	comps, closeAll, err := trainer.RewardComponents(cfg.Rewards, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	e, ok := comps[0].Reward.(*reward.Exec)
	if !ok || comps[0].Name != "rules" || e.Name != "rules" || e.Startup != 30*time.Second || e.MaxConsecutiveFailures != 0 || e.Timeout != reward.DefaultExecTimeout {
		t.Fatalf("%+v %+v", comps[0], e)
	}
	in := write(t, dir, "in.jsonl", `{"id": 1, "completion": "1234341221434321", "reference": {"puzzle": "0004300021000320", "solution": "1234341221434321"}}`+"\n")
	out := filepath.Join(dir, "out.jsonl")
	if code, _, stderr := runCaptured(t, "reward", "score", "-c", cfgPath, "--in", in, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := readScores(t, out)[0]
	if c := got["components"].(map[string]any); c["rules"] != 1.0 || c["sudoku_cells"] != 1.0 || got["total"] != 1.5 {
		t.Fatalf("%v", got)
	}
	if got["details"].(map[string]any)["rules"] == nil {
		t.Fatalf("details not under the name: %v", got)
	}
	// --name does the same for --exec
	if code, _, stderr := runCaptured(t, "reward", "score", "--exec", "python3 "+plugin, "--name", "rules", "--in", in, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if c := readScores(t, out)[0]["components"].(map[string]any); c["rules"] != 1.0 || len(c) != 1 {
		t.Fatalf("%v", c)
	}
	// defaults when the config leaves them out
	comps2, close2, err := trainer.RewardComponents([]configs.RewardSpec{{Exec: []string{"python3", plugin}, Weight: 1}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	e = comps2[0].Reward.(*reward.Exec)
	if comps2[0].Name != "python3 "+plugin || e.Startup != reward.DefaultExecStartupGrace || e.MaxConsecutiveFailures != reward.DefaultMaxConsecutiveFailures {
		t.Fatalf("%+v %+v", comps2[0], e)
	}
}
