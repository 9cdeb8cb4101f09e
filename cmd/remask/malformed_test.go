package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// malformedCase is one bad input: the CLI arguments, with DIR standing for
// the test's folder, STORE for a real run store in it.
type malformedCase struct {
	name string
	args []string
}

// storeHashes hashes every file in dir, so a case can prove it changed none.
func storeHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".db") {
			out[p] = fileHash(t, p)
		}
		return nil
	})
	return out
}

// Every malformed input, across YAML, --set, CSV, JSONL, run stores,
// safetensors, plugin commands and CLI flags, exits non-zero with one line
// on stderr and no stack trace, and changes no existing run store.
func TestMalformedInputsAreOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI on every malformed input")
	}
	dir := t.TempDir()
	store := trainTiny(t, dir, "good")
	f := func(name, body string) string { return write(t, dir, name, body) }
	base := "run: {dir: " + dir + ", name: x}\ndata: {task: sudoku4x4, train: gen:20}\n"
	var cases []malformedCase
	add := func(name string, args ...string) { cases = append(cases, malformedCase{name, args}) }

	// YAML files
	for i, body := range []string{
		"", "[1, 2]\n", "just text\n", "run: [1]\n", "data: 5\n", "\tdata: {}\n", "data: {task: sudoku4x4, train: gen:20\n",
		"data: {task: sudoku4x4, train: gen:20}\ndata: {task: countdown}\n", "objective: [sft]\n" + base,
		base + "trian: {steps: 3}\n", base + "optim: {lr: fast}\n", base + "optim: {lr: -1}\n", base + "optim: {lr: .nan}\n",
		base + "optim: {lr: .inf}\n", base + "optim: {beta1: 1.5}\n", base + "optim: {schedule: zigzag}\n",
		base + "optim: {warmup: -1}\n", base + "optim: {schedule: warmup_stable_decay}\n", base + "train: {steps: 0}\n",
		base + "train: {batch: -3}\n", base + "train: {steps: 99999999999999999999}\n", base + "model: {preset: huge}\n",
		base + "model: {preset: \"\", d: 16}\n", base + "model: {heads: 3}\n", base + "model: {max_len: 4}\n",
		base + "model: {vocab: bpe}\n", base + "model: {norm_eps: 0}\n", base + "objective: ppo\n",
		base + "sample: {remasking: sometimes}\n", base + "sample: {threshold: 2}\n", base + "sample: {cache: full}\n",
		base + "rollout: {group: 1}\n", base + "rewards: [{name: no_such_reward}]\n", base + "rewards: [{}]\n",
		base + "rewards: [{name: sudoku_solved, weight: x}]\n", base + "algo: {mu: -1}\n",
		"run: {name: a/b}\ndata: {task: sudoku4x4, train: gen:20}\n", "run: {seed: -1}\ndata: {task: sudoku4x4, train: gen:20}\n",
		"data: {task: chess, train: gen:20}\n", "data: {task: sudoku4x4}\n", "data: {task: sudoku4x4, train: gen:abc}\n",
		"data: {task: text, train: gen:20}\n", "a: &x [*x]\n",
	} {
		add(fmt.Sprintf("yaml %d", i), "train", "-c", f(fmt.Sprintf("y%d.yaml", i), body))
	}
	add("yaml missing file", "train", "-c", filepath.Join(dir, "nope.yaml"))
	add("yaml is a directory", "train", "-c", dir)
	add("yaml binary", "train", "-c", f("bin.yaml", "\x00\x01\x02\xff\xfe"))

	// --set overrides on a good file
	good := f("ok.yaml", base)
	for _, s := range []string{
		"train.steps=abc", "train.steps=-1", "train.steps=", "train.batch=1000000000", "train.batch=10000000", "train.threads=100000000",
		"rollout.workers=99999999", "rollout.group=1", "rollout.group=1000000", "rollout.prompts=0", "rollout.gen_length=100000",
		"rollout.steps=1000000000", "rollout.temperature=-1", "rollout.threshold=1.5", "model.d=1000000000", "model.layers=1000000",
		"model.heads=0x", "model.preset=xl", "model.max_len=0", "optim.lr=2", "optim.lr=nan", "optim.clip_norm=-1",
		"optim.weight_decay=-0.1", "data.train=gen:100000000", "data.train=gen:0", "data.eval=gen:-5", "data.task=go",
		"data.seq_len=-1", "data.seq_len=100000", "nosuch.field=1", "train.nosuch=1", "run=5", "train=", "=5", "noequals",
		"sample.steps=-5", "sample.gen_length=-1", "sample.block=-7", "sample.temperature=-5", "sample.revise=-1",
		"algo.max_refills=1000", "objective=mdlm2",
	} {
		add("--set "+s, "train", "-c", good, "--set", s)
	}

	// sudoku CSV
	for i, body := range []string{
		"", "Puzzle,Solution\n", "Puzzle\n0000\n", "A,B\n1,2\n", "Puzzle,Solution\n0401023000034310,1432\n",
		"Puzzle,Solution\n04010230000343,1432214334212314\n", "Puzzle,Solution\n04010230000343100,1432214334212314\n",
		"Puzzle,Solution\n04010230000343ab,1432214334212314\n", "Puzzle,Solution\n0401023000034390,1432214334212314\n",
		"Puzzle,Solution\n0401023000034310,1111111111111111\n", "Puzzle,Solution\n2401023000034310,1432214334212314\n",
		"Puzzle,Solution\n\"0401023000034310,1432214334212314\n", "Puzzle,Solution\n0401023000034310,1432214334212314,9\n",
		"Puzzle,Solution\n" + strings.Repeat("7", 2<<20) + "\n", "\x00\x01binary\xff",
	} {
		p := f(fmt.Sprintf("c%d.csv", i), body)
		add(fmt.Sprintf("csv %d train", i), "train", "-c", good, "--set", "data.train="+p)
		if i%3 == 0 {
			add(fmt.Sprintf("csv %d eval", i), "eval", "--ckpt", store, "--data", p, "--task", "sudoku4x4")
		}
	}

	// countdown and text JSONL
	cd := "run: {dir: " + dir + ", name: x}\ndata: {task: countdown, train: %s}\n"
	for i, body := range []string{
		"", "\n\n", "not json\n", "[1,2]\n", "null\n", "{\"input\": \"1,2,3\"}\n", "{\"output\": \"5\"}\n",
		"{\"input\": \"a,b,c\", \"output\": \"5\"}\n", "{\"input\": \"1,2,3\", \"output\": \"five\"}\n",
		"{\"input\": {\"a\": 1}, \"output\": \"5\"}\n", "{\"input\": \"1,2,3\", \"output\": \"5\"}\n{oops\n",
		"{\"input\": \"1,,3\", \"output\": \"5\"}\n", "{\"input\": \"\", \"output\": \"5\"}\n",
	} {
		p := f(fmt.Sprintf("j%d.jsonl", i), body)
		add(fmt.Sprintf("countdown jsonl %d", i), "train", "-c", f(fmt.Sprintf("cd%d.yaml", i), fmt.Sprintf(cd, p)))
	}
	for i, body := range []string{"{\"answer\": \"x\"}\n", "{\"prompt\": [\"a\"], \"answer\": \"x\"}\n", "{\"prompt\": \"p\", \"answer\": {\"x\": 1}}\n"} {
		p := f(fmt.Sprintf("t%d.jsonl", i), body)
		add(fmt.Sprintf("text jsonl %d", i), "train", "-c", f(fmt.Sprintf("tx%d.yaml", i),
			"run: {dir: "+dir+", name: x}\ndata: {task: text, train: "+p+"}\n"))
	}
	add("countdown file as csv", "train", "-c", f("cdcsv.yaml", fmt.Sprintf(cd, f("cd.csv", "a,b\n"))))

	// run stores
	raw, _ := os.ReadFile(store)
	badStores := map[string]string{
		"empty": "", "garbage": strings.Repeat("not a database ", 500), "truncated": string(raw[:len(raw)/3]),
		"head only": string(raw[:8192]),
	}
	var names []string
	for k := range badStores {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := f(strings.ReplaceAll(k, " ", "_")+".db", badStores[k])
		add("store "+k+" ls", "ckpt", "ls", p)
		add("store "+k+" show", "ckpt", "show", p)
		add("store "+k+" metrics", "ckpt", "metrics", p)
		add("store "+k+" sample", "sample", "--ckpt", p, "--prompt", "0401023000034310")
		add("store "+k+" init_from", "train", "-c", good, "--set", "model.init_from="+p)
	}
	add("store missing", "ckpt", "ls", filepath.Join(dir, "missing.db"))
	add("store is a dir", "ckpt", "show", dir)
	add("store bad step", "ckpt", "show", store+":abc")
	add("store absent step", "ckpt", "show", store+":999")
	add("store negative step", "sample", "--ckpt", store+":-1", "--prompt", "0401023000034310")
	add("store missing tensor", "ckpt", "show", store, "no.such.tensor")
	add("diff one arg", "ckpt", "diff", store)
	add("diff bad second", "ckpt", "diff", store, filepath.Join(dir, "missing.db"))
	add("metrics unknown key", "ckpt", "metrics", store, "--keys", "los")
	comps0 := f("afile.txt", "x")
	add("plot no -o", "ckpt", "plot", store)
	add("plot unknown key", "ckpt", "plot", store, "--keys", "los", "-o", filepath.Join(dir, "p.png"))
	add("export no -o", "ckpt", "export", store)
	add("export bad format", "ckpt", "export", store, "--format", "onnx", "-o", filepath.Join(dir, "m.onnx"))
	add("export under a file", "ckpt", "export", store, "-o", filepath.Join(comps0, "m.safetensors"))
	add("compact missing", "ckpt", "compact", filepath.Join(dir, "missing.db"))
	add("compact garbage", "ckpt", "compact", filepath.Join(dir, "garbage.db"))
	add("resume missing store", "train", "-c", f("r.yaml", "run: {dir: "+dir+", name: nostore}\ndata: {task: sudoku4x4, train: gen:20}\n"), "--resume")
	add("new run over existing store", "train", "-c", filepath.Join(dir, "good.yaml"))
	add("resume with new seed", "train", "-c", filepath.Join(dir, "good.yaml"), "--resume", "--set", "run.seed=7")
	add("resume with new objective", "train", "-c", filepath.Join(dir, "good.yaml"), "--resume", "--set", "objective=mdlm")
	add("resume past train.steps", "train", "-c", filepath.Join(dir, "good.yaml"), "--resume", "--set", "train.steps=2")

	// safetensors
	model := write(t, dir, "import.yaml", "run: {dir: "+dir+", name: imported}\nmodel: {preset: \"\", d: 16, layers: 1, heads: 2, ff: 24, max_len: 64}\ndata: {task: sudoku4x4, train: gen:20}\n")
	hdr := func(h string) string {
		n := len(h)
		return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0}) + h
	}
	for i, body := range []string{
		"", "abc", "\xff\xff\xff\xff\xff\xff\xff\x7f", hdr("not json"), hdr("[]"), hdr(`{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}`),
		hdr(`{"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}`) + "x",
		hdr(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}`) + "12345678",
		hdr(`{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}`) + "12345678",
		hdr(`{"embed": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}`) + "1234",
	} {
		add(fmt.Sprintf("safetensors %d", i), "ckpt", "import", f(fmt.Sprintf("s%d.safetensors", i), body), "-c", model)
	}
	add("import without -c", "ckpt", "import", f("s.safetensors", "x"))

	// reward plugins and reward score
	comps := f("comps.jsonl", `{"id":"a","prompt":"x","completion":"y"}`+"\n")
	add("plugin missing", "reward", "score", "--exec", "/nonexistent/plugin", "--in", comps)
	add("plugin not executable", "reward", "score", "--exec", f("noexec.sh", "echo hi\n"), "--in", comps)
	crash := f("crash.sh", "#!/bin/sh\nexit 3\n")
	os.Chmod(crash, 0o755)
	add("plugin crashes", "reward", "score", "--exec", crash, "--in", comps)
	garbage := f("garbage.sh", "#!/bin/sh\nwhile read l; do echo nonsense; done\n")
	os.Chmod(garbage, 0o755)
	// the plugin's restarts are logged as warnings; the failure is one line
	add("plugin answers garbage", "--log-level", "error", "reward", "score", "--exec", garbage, "--in", comps)
	add("score unknown reward", "reward", "score", "--reward", "nope", "--in", comps)
	add("score missing input", "reward", "score", "--reward", "sudoku_solved", "--in", filepath.Join(dir, "none.jsonl"))
	add("score bad input", "reward", "score", "--reward", "sudoku_solved", "--in", f("badin.jsonl", "not json\n"))
	add("score nothing to score", "reward", "score", "--in", comps)
	add("run with missing plugin", "train", "-c", good, "--set", "objective=unigrpo", "--set", "rewards=[{exec: [/nonexistent/plugin]}]")

	// CLI flags
	const prompt = "0401023000034310"
	for _, fl := range [][]string{
		{"-n", "-1"}, {"-n", "0"}, {"-n", "1000000000"}, {"--steps", "-5"}, {"--steps", "0"}, {"--gen-length", "-1"},
		{"--block", "-7"}, {"--temperature", "-5"}, {"--temperature", "NaN"}, {"--threshold", "2"}, {"--threshold", "-0.5"},
		{"--revise", "-1"}, {"--revise-threshold", "0"}, {"--remasking", "sometimes"}, {"--confidence", "vibes"},
		{"--cache", "full"}, {"--gen-length", "7", "--block", "2"}, {"--steps", "abc"}, {"--seed", "-1"},
	} {
		add("sample "+strings.Join(fl, " "), append([]string{"sample", "--ckpt", store, "--prompt", prompt}, fl...)...)
	}
	for _, p := range []string{"04010230000343ab", "040102300003431", "04010230000343100", "0401023000034319", "hello", "1,2,3>6"} {
		add("sample prompt "+p, "sample", "--ckpt", store, "--prompt", p)
	}
	add("sample no prompt", "sample", "--ckpt", store)
	add("eval other task", "eval", "--ckpt", store, "--data", "gen:10", "--task", "countdown")
	add("eval unknown task", "eval", "--ckpt", store, "--data", "gen:10", "--task", "go")
	add("eval -n -1", "eval", "--ckpt", store, "--data", "gen:10", "--task", "sudoku4x4", "-n", "-1")
	add("eval missing data", "eval", "--ckpt", store, "--task", "sudoku4x4")
	for _, fl := range [][]string{{"--n", "0"}, {"--n", "-1"}, {"--n", "10000000"}, {"--task", "chess"}, {"--n", "x"}} {
		add("data gen "+strings.Join(fl, " "), append([]string{"data", "gen", "--task", "sudoku4x4", "-o", filepath.Join(dir, "gen.csv")}, fl...)...)
	}
	for _, fl := range [][]string{{"--preset", "xl"}, {"--batch", "1000000000"}, {"--seq", "0"}, {"--what", "everything"}, {"--iters", "-1"}} {
		add("bench "+strings.Join(fl, " "), append([]string{"bench"}, fl...)...)
	}
	add("unknown command", "frobnicate")
	add("unknown flag", "train", "--frob")
	add("train without -c", "train")
	add("bad log level", "--log-level", "loud", "ckpt", "ls", store)
	add("bad log format", "--log-format", "xml", "ckpt", "ls", store)
	add("probe without init", "probe", "-c", good)

	before := storeHashes(t, dir)
	for _, c := range cases {
		code, _, stderr := runCaptured(t, c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		switch {
		case code == 0:
			t.Errorf("%s: accepted (exit 0)", c.name)
		case strings.Contains(stderr, "internal error") || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic"):
			t.Errorf("%s: stack trace or internal error:\n%s", c.name, stderr)
		case strings.TrimSpace(stderr) == "":
			t.Errorf("%s: exit %d with nothing on stderr", c.name, code)
		case len(lines) != 1:
			t.Errorf("%s: %d lines of stderr:\n%s", c.name, len(lines), stderr)
		}
	}
	after := storeHashes(t, dir)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed", p)
		}
	}
	t.Logf("%d malformed inputs", len(cases))
	if len(cases) < 150 {
		t.Fatalf("only %d cases", len(cases))
	}
}
