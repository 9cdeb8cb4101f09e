package trainer

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
)

// TestDropSeenInTrainingCountdown: a countdown test file is scored only on
// problems the run did not train on, whatever order they come in.
func TestDropSeenInTrainingCountdown(t *testing.T) {
	cfg := configs.Default()
	cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed = "countdown", "gen:500", 7
	train := mustLoad(t, "countdown", "gen:500", 7)
	other := mustLoad(t, "countdown", "gen:50", 8)
	seen := map[string]bool{}
	for _, ex := range train {
		seen[ex.Prompt] = true
	}
	var fresh []data.Example
	for _, ex := range other {
		if !seen[ex.Prompt] {
			fresh = append(fresh, ex)
		}
	}
	// a file mixing three trained problems (one as d1 writes it, without
	// an answer) with fresh ones
	d1 := data.CountdownExample(train[4].Ref["numbers"].([]int), train[4].Ref["target"].(int), "")
	test := append([]data.Example{train[0], d1}, fresh...)
	test = append(test, train[499])
	kept, dropped, err := DropSeenInTraining(cfg, test, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 3 || len(kept) != len(fresh) {
		t.Fatalf("dropped %d, kept %d; want 3 dropped and the %d fresh kept", dropped, len(kept), len(fresh))
	}
	for i := range kept {
		if kept[i].Prompt != fresh[i].Prompt {
			t.Fatalf("kept[%d] = %q, want %q", i, kept[i].Prompt, fresh[i].Prompt)
		}
	}
}

// TestDropSeenFollowsInitFrom: a run started from another (model.init_from)
// is not scored on the problems its start trained on, even when it trains on
// other data itself, through a chain of two starts; a start that is gone only
// warns.
func TestDropSeenFollowsInitFrom(t *testing.T) {
	dir := t.TempDir()
	sft := smallRun(t, dir, "sft", "train.steps=1", "optim.warmup=0", "train.eval_every=0", "data.eval=")
	if _, err := Train(context.Background(), sft, Options{Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	// the middle run: other training data (gen:200 from seed 8), started
	// from the SFT run
	mid := smallRun(t, dir, "mid", "train.steps=1", "optim.warmup=0", "train.eval_every=0", "data.eval=",
		"run.seed=8", "model.init_from="+filepath.Join(dir, "sft.db"))
	if _, err := Train(context.Background(), mid, Options{Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	sftTrain := mustLoad(t, "sudoku4x4", "gen:200", 7)
	midTrain := mustLoad(t, "sudoku4x4", "gen:200", 8)
	fresh := mustLoad(t, "sudoku4x4", "gen:40", 99)
	fresh = heldOut(heldOut(fresh, sftTrain), midTrain)
	// the last run trains on gen:200 from seed 9 and starts from the middle one
	last := smallRun(t, dir, "last", "run.seed=9", "model.init_from="+filepath.Join(dir, "mid.db"))
	lastTrain := mustLoad(t, "sudoku4x4", "gen:200", 9)
	fresh = heldOut(fresh, lastTrain)
	test := append([]data.Example{sftTrain[3], midTrain[5], lastTrain[0]}, fresh...)
	kept, dropped, err := DropSeenInTraining(last, test, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 3 || len(kept) != len(fresh) {
		t.Fatalf("dropped %d, kept %d; want 3 dropped (one from each run of the chain) and %d kept", dropped, len(kept), len(fresh))
	}
	// the in-run eval set drops them too
	f, err := os.Create(filepath.Join(dir, "test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := data.WriteSudokuCSV(f, test); err != nil {
		t.Fatal(err)
	}
	f.Close()
	withEval := last
	withEval.Data.Eval, withEval.Data.EvalN = f.Name(), 0
	evalEx, err := evalSet(withEval, lastTrain, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(evalEx) != len(fresh) {
		t.Fatalf("in-run eval kept %d, want %d", len(evalEx), len(fresh))
	}
	// a start that is gone: only the run's own data is dropped
	gone := last
	gone.Model.InitFrom = filepath.Join(dir, "no-such.db")
	kept, dropped, err = DropSeenInTraining(gone, test, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 1 || len(kept) != len(fresh)+2 {
		t.Fatalf("start gone: dropped %d, kept %d; want 1 dropped and %d kept", dropped, len(kept), len(fresh)+2)
	}
}

// mustLoad is data.Load that fails the test on an error.
func mustLoad(t *testing.T, task, spec string, seed int64) []data.Example {
	t.Helper()
	exs, err := data.Load(task, spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	return exs
}
