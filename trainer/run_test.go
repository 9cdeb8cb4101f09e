package trainer

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
)

func smallRun(t *testing.T, dir, name string, extra ...string) configs.Config {
	t.Helper()
	y := `
run: {name: NAME, dir: DIR, seed: 7}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64}
data: {task: sudoku4x4, train: gen:200, eval: gen:16}
objective: sft
optim: {lr: 3.0e-3, schedule: cosine_with_min_lr, warmup: 2}
train: {steps: 12, batch: 8, eval_every: 6, ckpt_every: 4, log_every: 1}
`
	cfg, err := configs.Parse("test.yaml", []byte(y), append([]string{"run.name=" + name, "run.dir=" + dir}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func finalWeights(t *testing.T, path string) *checkpoint.Checkpoint {
	t.Helper()
	st, err := checkpoint.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ck, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// A run interrupted part-way and resumed ends bit-identical to one that never
// stopped: same batches, same masks, same optimizer state.
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	full := smallRun(t, dir, "full")
	sum, err := Train(context.Background(), full, Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 12 || math.IsNaN(sum.Loss) {
		t.Fatalf("summary %+v", sum)
	}

	broken := smallRun(t, dir, "broken")
	ctx, cancel := context.WithCancel(context.Background())
	sum, err = Train(ctx, broken, Options{Log: zerolog.Nop(), Progress: func(step, total int, s StepStats) {
		if step == 7 { // not a checkpoint step: the interrupt writes one
			cancel()
		}
	}})
	if err != nil || !sum.Interrupted || sum.Steps != 7 {
		t.Fatalf("interrupted run: %+v %v", sum, err)
	}
	if _, err := Train(context.Background(), broken, Options{Log: zerolog.Nop()}); err == nil {
		t.Fatal("starting over an existing store without --resume was accepted")
	}
	if _, err := Train(context.Background(), broken, Options{Log: zerolog.Nop(), Resume: true}); err != nil {
		t.Fatal(err)
	}
	a := finalWeights(t, filepath.Join(dir, "full.db"))
	b := finalWeights(t, filepath.Join(dir, "broken.db"))
	if a.Step != 12 || b.Step != 12 {
		t.Fatalf("final steps %d %d", a.Step, b.Step)
	}
	for i := range a.Weights {
		for j := range a.Weights[i].Data {
			if math.Float32bits(a.Weights[i].Data[j]) != math.Float32bits(b.Weights[i].Data[j]) {
				t.Fatalf("%s[%d]: %g unbroken, %g resumed", a.Weights[i].Name, j, a.Weights[i].Data[j], b.Weights[i].Data[j])
			}
		}
	}
	for i := range a.Optim {
		for j := range a.Optim[i].Data {
			if math.Float32bits(a.Optim[i].Data[j]) != math.Float32bits(b.Optim[i].Data[j]) {
				t.Fatalf("optimizer %s differs", a.Optim[i].Name)
			}
		}
	}
	// The metrics rows of both runs agree too (the resumed run re-logs steps 8..12).
	sa, _ := checkpoint.OpenReadOnly(filepath.Join(dir, "full.db"))
	defer sa.Close()
	sb, _ := checkpoint.OpenReadOnly(filepath.Join(dir, "broken.db"))
	defer sb.Close()
	ra, _ := sa.Metrics()
	rb, _ := sb.Metrics()
	if len(ra) != 12 || len(rb) != 12 {
		t.Fatalf("metric rows %d %d", len(ra), len(rb))
	}
	for i := range ra {
		if ra[i].Values["loss"] != rb[i].Values["loss"] {
			t.Fatalf("step %d loss %v vs %v", ra[i].Step, ra[i].Values["loss"], rb[i].Values["loss"])
		}
	}
}

// SFT on sudoku lowers the loss: the whole loop learns something.
func TestTrainingLowersLoss(t *testing.T) {
	cfg := smallRun(t, t.TempDir(), "learn", "train.steps=60", "train.eval_every=0", "train.ckpt_every=0")
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	st, _ := checkpoint.OpenReadOnly(StorePath(cfg))
	defer st.Close()
	rows, _ := st.Metrics()
	first := (rows[0].Values["loss"] + rows[1].Values["loss"] + rows[2].Values["loss"]) / 3
	last := (rows[57].Values["loss"] + rows[58].Values["loss"] + rows[59].Values["loss"]) / 3
	if !(last < 0.7*first) {
		t.Fatalf("loss %v -> %v: not learning", first, last)
	}
}
