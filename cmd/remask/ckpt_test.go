package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remask/remask/checkpoint"
)

// trainTiny makes a small real run store to inspect.
func trainTiny(t *testing.T, dir, name string) string {
	t.Helper()
	cfg := write(t, dir, name+".yaml", `
run: {name: `+name+`, dir: `+dir+`, seed: 3}
model: {preset: "", d: 16, layers: 1, heads: 2, ff: 24, max_len: 64}
data: {task: sudoku4x4, train: gen:64, eval: gen:8}
train: {steps: 6, batch: 4, eval_every: 3, ckpt_every: 3, log_every: 1}
optim: {warmup: 1}
`)
	if code, _, stderr := runCaptured(t, "train", "-c", cfg, "--no-progress", "--log-level", "error"); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	return filepath.Join(dir, name+".db")
}

func TestCkptCommands(t *testing.T) {
	dir := t.TempDir()
	db := trainTiny(t, dir, "r")
	code, out, stderr := runCaptured(t, "ckpt", "ls", db)
	if code != 0 || !strings.Contains(out, "STEP") || !strings.Contains(out, "\n3 ") || !strings.Contains(out, "\n6 ") {
		t.Fatalf("ls: %d %q %q", code, out, stderr)
	}
	code, out, _ = runCaptured(t, "ckpt", "ls", db, "--json")
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Fatalf("ls --json: %q", out)
	}
	code, out, _ = runCaptured(t, "ckpt", "show", db+":3", "head")
	if code != 0 || !strings.Contains(out, "[16 100]") {
		t.Fatalf("show tensor: %q", out)
	}
	code, out, _ = runCaptured(t, "ckpt", "show", db, "--json")
	var shown struct {
		Step    int              `json:"step"`
		Tensors []map[string]any `json:"tensors"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.Step != 6 || len(shown.Tensors) != 9 {
		t.Fatalf("show --json: %q", out)
	}
	if code, _, stderr = runCaptured(t, "ckpt", "show", db, "nope"); code != 1 || !strings.Contains(stderr, `no tensor "nope"`) {
		t.Fatalf("show unknown tensor: %q", stderr)
	}
	db2 := trainTiny(t, dir, "r2")
	code, out, _ = runCaptured(t, "ckpt", "diff", db+":3", db2+":6")
	if code != 0 || !strings.Contains(out, "REL_CHANGE") || !strings.Contains(out, "config run.name: r -> r2") {
		t.Fatalf("diff: %q", out)
	}
	code, out, _ = runCaptured(t, "ckpt", "metrics", db, "--keys", "loss", "--csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || lines[0] != "step,loss" || len(lines) != 7 {
		t.Fatalf("metrics csv: %q", out)
	}
	code, out, _ = runCaptured(t, "ckpt", "samples", db)
	if code != 0 || !strings.Contains(out, "unmasking:") || !strings.Contains(out, "step 6") {
		t.Fatalf("samples: %q", out)
	}
	png := filepath.Join(dir, "m.png")
	if code, _, stderr = runCaptured(t, "ckpt", "plot", db, "--keys", "loss,eval_acc", "-o", png); code != 0 {
		t.Fatalf("plot: %s", stderr)
	}
	if b, _ := os.ReadFile(png); len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatal("plot did not write a PNG")
	}
	st := filepath.Join(dir, "out", "m.safetensors")
	if code, _, stderr = runCaptured(t, "ckpt", "export", db+":3", "-o", st); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	cfg := write(t, dir, "imp.yaml", "run: {name: imp, dir: "+dir+"}\nmodel: {preset: \"\", d: 16, layers: 1, heads: 2, ff: 24, max_len: 64}\ndata: {task: sudoku4x4, train: gen:8}\n")
	if code, _, stderr = runCaptured(t, "ckpt", "import", st, "-c", cfg); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	code, out, _ = runCaptured(t, "ckpt", "diff", db+":3", filepath.Join(dir, "imp.db"), "--json")
	var d struct {
		Tensors []struct {
			RelChange float64 `json:"rel_change"`
		} `json:"tensors"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || len(d.Tensors) != 9 {
		t.Fatalf("diff after import: %q", out)
	}
	for _, x := range d.Tensors {
		if x.RelChange != 0 {
			t.Fatalf("imported weights differ: %q", out)
		}
	}
	// Importing into a model of another shape is refused with the tensor named.
	bad := write(t, dir, "bad.yaml", "run: {name: bad, dir: "+dir+"}\nmodel: {preset: tiny}\ndata: {task: sudoku4x4, train: gen:8}\n")
	if code, _, stderr = runCaptured(t, "ckpt", "import", st, "-c", bad); code != 1 || !strings.Contains(stderr, "tok_emb") {
		t.Fatalf("import into wrong shape: %q", stderr)
	}
}

// ckpt samples shows each reward component, why one failed, and what a
// reward reported, sorted by name.
func TestRewardView(t *testing.T) {
	s := checkpoint.Sample{Components: map[string]float64{"solved": 1, "format": 0.5, "plugin": 0},
		Failures: map[string]string{"plugin": "timeout after 2s"},
		Details:  map[string]any{"solved": map[string]any{"wrong_cells": 0}}}
	want := `format=0.5  plugin=0 (failed: timeout after 2s)  solved=1 {"wrong_cells":0}`
	if got := rewardView(s); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
