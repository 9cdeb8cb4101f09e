package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remask/remask/algos"
)

// remask algos lists every registered estimator with its defaults; train's
// help points to it.
func TestAlgosCommand(t *testing.T) {
	code, out, errOut := runCaptured(t, "algos")
	if code != 0 {
		t.Fatalf("algos: %d %s", code, errOut)
	}
	for _, n := range algos.Names() {
		r, _ := algos.Lookup(n)
		if !strings.Contains(out, n) || !strings.Contains(out, r.Doc) {
			t.Errorf("algos lacks %s:\n%s", n, out)
		}
	}
	if !strings.Contains(out, "p_mask_prompt 0.15") || !strings.Contains(out, "loss_agg token") {
		t.Errorf("algos lacks defaults:\n%s", out)
	}
	code, out, _ = runCaptured(t, "algos", "--json")
	var infos []algoInfo
	if err := json.Unmarshal([]byte(out), &infos); code != 0 || err != nil || len(infos) != len(algos.Names()) {
		t.Fatalf("algos --json: %d %v\n%s", code, err, out)
	}
	for _, a := range infos {
		if a.Name == "unigrpo" && (a.Defaults.Mu != 4 || a.Section["t"] != float64(1000)) {
			t.Errorf("unigrpo: %+v", a)
		}
	}
	if _, out, _ := runCaptured(t, "train", "--help"); !strings.Contains(out, "remask algos") {
		t.Errorf("train --help does not point to remask algos:\n%s", out)
	}
}

// examples/sudoku_test.csv, the held-out file the sudoku RL recipes
// evaluate on, is what the quickstart writes to runs/sudoku_test.csv:
// `remask data gen --task sudoku4x4 --n 500 --seed 4242`.
func TestHeldOutSudokuFileIsTheQuickstarts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.csv")
	if code, _, errOut := runCaptured(t, "data", "gen", "--task", "sudoku4x4", "--n", "500", "--seed", "4242", "-o", out); code != 0 {
		t.Fatal(errOut)
	}
	a, err1 := os.ReadFile(out)
	b, err2 := os.ReadFile("../../examples/sudoku_test.csv")
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Fatalf("examples/sudoku_test.csv is not the generator's output (%v, %v); regenerate it with the command above", err1, err2)
	}
}
