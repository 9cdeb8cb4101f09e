package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remask/remask/checkpoint"
)

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// --resume refuses changes to the fields that define a run, naming them and
// leaving the store as it was; it takes the others (and, with
// --accept-changes, the defining ones too) and records them in the store's
// config history, which ckpt show prints.
func TestResumeConfigContract(t *testing.T) {
	dir := t.TempDir()
	db := trainTiny(t, dir, "r")
	cfg := filepath.Join(dir, "r.yaml")
	before := fileHash(t, db)
	for _, c := range []struct {
		sets []string
		want []string
	}{
		{[]string{"run.seed=7"}, []string{"run.seed (3 -> 7)"}},
		{[]string{"objective=mdlm"}, []string{"objective (sft -> mdlm)"}},
		{[]string{"train.batch=16", "model.d=32"}, []string{"model.d (16 -> 32)", "train.batch (4 -> 16)"}},
	} {
		args := []string{"train", "-c", cfg, "--resume", "--no-progress", "--log-level", "error"}
		for _, s := range c.sets {
			args = append(args, "--set", s)
		}
		code, _, stderr := runCaptured(t, args...)
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "--accept-changes") {
			t.Errorf("%v: exit %d, stderr %q: want exit 1 and one line", c.sets, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: %q does not name %s", c.sets, stderr, w)
			}
		}
		if fileHash(t, db) != before {
			t.Fatalf("%v: a refused resume changed the store", c.sets)
		}
	}

	// train.steps and eval settings may change; the change is recorded
	code, _, stderr := runCaptured(t, "train", "-c", cfg, "--resume", "--no-progress", "--log-level", "error", "--set", "train.steps=8", "--set", "data.eval_n=4")
	if code != 0 {
		t.Fatalf("resume with more steps: %s", stderr)
	}
	// a defining change goes through with --accept-changes, marked as such
	code, _, stderr = runCaptured(t, "train", "-c", cfg, "--resume", "--accept-changes", "--no-progress", "--log-level", "error",
		"--set", "train.steps=9", "--set", "data.eval_n=4", "--set", "optim.lr=0.0005")
	if code != 0 {
		t.Fatalf("resume with --accept-changes: %s", stderr)
	}
	st, err := checkpoint.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := st.ConfigHistory()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Step != 6 || hist[0].Accepted || len(hist[0].Changes) != 2 ||
		hist[1].Step != 8 || !hist[1].Accepted || len(hist[1].Changes) != 2 {
		t.Fatalf("config history %+v: want two entries (steps 6 and 8; the second accepted)", hist)
	}
	code, stdout, stderr := runCaptured(t, "ckpt", "show", db)
	if code != 0 || !strings.Contains(stdout, "resumed at step 6") || !strings.Contains(stdout, "train.steps (8 -> 9)") ||
		!strings.Contains(stdout, "optim.lr (0.001 -> 0.0005)") || !strings.Contains(stdout, "steps: 9") {
		t.Fatalf("ckpt show: exit %d\n%s%s", code, stdout, stderr)
	}
}

// The hint printed after an interrupt repeats the --set flags.
func TestResumeCommandKeepsOverrides(t *testing.T) {
	got := resumeCommand("configs/a b.yaml", []string{"train.steps=3", "run.name=it's"})
	want := `remask train -c 'configs/a b.yaml' --set train.steps=3 --set 'run.name=it'\''s' --resume`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
