package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
)

// rlRun is a tiny RL run starting from a tiny SFT run of the same shape.
func rlRun(t *testing.T, dir, name, objective string, extra ...string) configs.Config {
	t.Helper()
	return rlRunFrom(t, dir, "sft", nil, name, objective, extra...)
}

// rlRunFrom is rlRun starting from the SFT run sftName, trained first (with
// the overrides sftExtra) when dir does not hold it yet.
func rlRunFrom(t *testing.T, dir, sftName string, sftExtra []string, name, objective string, extra ...string) configs.Config {
	t.Helper()
	sftPath := filepath.Join(dir, sftName+".db")
	if _, err := os.Stat(sftPath); err != nil {
		sft := smallRun(t, dir, sftName, append([]string{"train.eval_every=0"}, sftExtra...)...)
		if _, err := Train(context.Background(), sft, Options{Log: zerolog.Nop()}); err != nil {
			t.Fatal(err)
		}
	}
	y := `
run: {name: NAME, dir: DIR, seed: 3}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64, init_from: ` + sftPath + `}
data: {task: sudoku4x4, train: gen:200, eval: gen:8}
objective: ` + objective + `
rewards: [{name: sudoku_cells, weight: 1}]
rollout: {group: 3, prompts: 2, gen_length: 16, steps: 8, temperature: 1, workers: 2}
algo: {mu: 2}
optim: {lr: 1.0e-3, schedule: constant}
train: {steps: 6, eval_every: 3, ckpt_every: 2, log_every: 1}
sample: {gen_length: 16, steps: 8}
`
	cfg, err := configs.Parse("rl.yaml", []byte(y), append([]string{"run.name=" + name, "run.dir=" + dir}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Every algorithm runs end to end, logs its metrics, and resumes exactly.
func TestRLRunsAndResumesExactly(t *testing.T) {
	dir := t.TempDir()
	for _, obj := range []string{"diffu_grpo", "unigrpo", "coupled_grpo"} {
		full := rlRun(t, dir, obj+"-full", obj)
		if _, err := Train(context.Background(), full, Options{Log: zerolog.Nop()}); err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		broken := rlRun(t, dir, obj+"-broken", obj)
		interruptAndResume(t, broken, 3)
		if a, b := finalWeights(t, StorePath(full)), finalWeights(t, StorePath(broken)); a.Step != 6 || b.Step != 6 {
			t.Fatalf("%s: steps %d %d", obj, a.Step, b.Step)
		}
		sameFinalWeights(t, obj, StorePath(full), StorePath(broken))
		st, _ := checkpoint.OpenReadOnly(StorePath(full))
		rows, _ := st.Metrics()
		// a step without eval keeps the first group's completions with each reward component
		ss, err := st.Samples(5)
		st.Close()
		if err != nil || len(ss) != 3 {
			t.Fatalf("%s: samples at step 5: %v, %d", obj, err, len(ss))
		}
		for _, s := range ss {
			if v, ok := s.Components["sudoku_cells"]; !ok || v != s.Reward || len(s.Trace) != 16 {
				t.Fatalf("%s: logged sample %+v", obj, s)
			}
		}
		last := rows[len(rows)-1].Values
		for _, k := range []string{"reward", "reward/sudoku_cells", "kl", "clip_frac", "ratio_mean", "zero_signal_groups", "completion_len", "entropy", "rollout_s", "update_s", "eval_acc"} {
			if _, ok := last[k]; !ok {
				t.Fatalf("%s: metric %s missing from %v", obj, k, last)
			}
		}
	}
}

// With mu = 1 every ratio is exactly 1; --dump-batch writes batches from
// which the loss can be recomputed independently of the run, in both
// aggregations.
func TestMuOneAndDumpBatch(t *testing.T) {
	for _, agg := range []string{"token", "sequence"} {
		dir := t.TempDir()
		dump := filepath.Join(dir, "dump")
		cfg := rlRun(t, dir, "mu1", "diffu_grpo", "algo.mu=1", "train.steps=2", "train.eval_every=0", "algo.loss_agg="+agg)
		if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop(), DumpBatch: dump}); err != nil {
			t.Fatal(err)
		}
		st, _ := checkpoint.OpenReadOnly(StorePath(cfg))
		rows, _ := st.Metrics()
		st.Close()
		for _, r := range rows {
			if r.Values["ratio_min"] != 1 || r.Values["ratio_max"] != 1 {
				t.Fatalf("mu 1: ratios %v..%v", r.Values["ratio_min"], r.Values["ratio_max"])
			}
		}
		b, err := os.ReadFile(filepath.Join(dump, "step000001_iter00.json"))
		if err != nil {
			t.Fatal(err)
		}
		var d Dump
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		// Recompute the loss by hand from the dump: per token -min(rho A,
		// clip(rho) A) + beta k3; "sequence": the mean per completion, then
		// over completions; "token": the sum over all tokens / their number.
		var loss, all float64
		n, tokens := 0, 0
		for i, toks := range d.Units {
			if len(toks) == 0 {
				continue
			}
			n++
			var s float64
			for k, e := range toks {
				var l float64
				for j, r := range e.Rows {
					l += e.W[j] * d.LogProbs[r]
				}
				rho := math.Exp(l - d.Old[i][k])
				a := d.Advantages[i]
				obj := math.Min(rho*a, math.Min(math.Max(rho, 1-d.EpsLow), 1+d.EpsHigh)*a)
				kl := 0.0
				if d.Ref != nil {
					x := d.Ref[i][k] - l
					kl = math.Exp(x) - x - 1
				}
				s += -obj + d.Beta*kl
			}
			loss += s / float64(len(toks))
			all += s
			tokens += len(toks)
		}
		loss /= float64(n)
		if agg == "token" {
			loss = all / float64(tokens)
		}
		if d.LossAgg != agg || math.Abs(loss-d.Loss) > 1e-9*math.Max(1, math.Abs(loss)) {
			t.Fatalf("%s (dump says %s): recomputed loss %v, run logged %v", agg, d.LossAgg, loss, d.Loss)
		}
		if d.Algorithm != "diffu_grpo" || d.B != 6 || len(d.IDs) != d.B*d.L || len(d.Rewards) != 6 || d.Group != 3 && d.Group != 6 || d.EOSID == 0 {
			t.Fatalf("dump header %s b=%d rewards=%d group=%d", d.Algorithm, d.B, len(d.Rewards), d.Group)
		}
	}
}

// Every RL recipe in configs/ runs: one step of each, from a small SFT run of
// the recipe's task and model shape, with the recipe's algorithm settings.
func TestRLRecipesRun(t *testing.T) {
	all, _ := filepath.Glob("../configs/*.yaml")
	var recipes []string
	for _, r := range all {
		if c, err := configs.Load(r, nil); err == nil && IsRL(c.Objective) {
			recipes = append(recipes, r)
		}
	}
	if len(recipes) < 10 {
		t.Fatalf("RL recipes: %v", recipes)
	}
	dir := t.TempDir()
	for _, r := range recipes {
		probe, err := configs.Load(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		task := probe.Data.Task
		// a block-causal recipe starts from a block model of its block size
		name, attn := task+"-sft", []string{}
		if probe.Model.Attention == "block_causal" {
			name = fmt.Sprintf("%s-block%d-sft", task, probe.Model.BlockSize)
			attn = []string{"model.attention=block_causal", fmt.Sprintf("model.block_size=%d", probe.Model.BlockSize)}
		}
		sft := filepath.Join(dir, name+".db")
		if _, err := os.Stat(sft); err != nil {
			cfg := smallRun(t, dir, name, append([]string{"model.preset=tiny", "model.d=0", "model.layers=0", "model.heads=0", "model.ff=0", "model.max_len=512", "data.task=" + task, "train.steps=2", "train.eval_every=0", "optim.warmup=0"}, attn...)...)
			if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()}); err != nil {
				t.Fatalf("%s: SFT start: %v", r, err)
			}
		}
		cfg, err := configs.Load(r, []string{"run.dir=" + dir, "model.init_from=" + sft, "rollout.prompts=2",
			"train.steps=1", "optim.warmup=0", "train.eval_every=0", "data.train=gen:50", "data.eval=gen:4"})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()})
		if err != nil || sum.Steps != 1 {
			t.Fatalf("%s: %v (%d steps)", r, err, sum.Steps)
		}
	}
}

// Dynamic sampling rolls further batches of prompts until enough groups have
// signal, trains on exactly that many groups, and still resumes exactly.
func TestDynamicSampling(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump")
	// sudoku_cells almost always differs within a group of 3, so 3 groups with
	// signal take two batches of 2 prompts
	extra := []string{"algo.mu=1", "algo.drop_zero_signal=true", "algo.min_signal_groups=3", "algo.max_refills=5"}
	full := rlRun(t, dir, "dyn-full", "unigrpo", extra...)
	if _, err := Train(context.Background(), full, Options{Log: zerolog.Nop(), DumpBatch: dump}); err != nil {
		t.Fatal(err)
	}
	st, _ := checkpoint.OpenReadOnly(StorePath(full))
	rows, _ := st.Metrics()
	st.Close()
	for _, r := range rows {
		v := r.Values
		if r.Step == 0 {
			continue // the eval before training
		}
		// stop at 3 groups with signal (at most 2 come per batch) or after 5 refills
		rolled, signal := v["prompts_rolled"], v["prompts_rolled"]-v["zero_signal_groups"]
		if v["rollout_rounds"]*2 != rolled || (signal < 3 && rolled != 12) || signal >= 5 {
			t.Fatalf("step %d: rounds %v, prompts %v, zero-signal %v", r.Step, v["rollout_rounds"], rolled, v["zero_signal_groups"])
		}
	}
	var d Dump
	b, err := os.ReadFile(filepath.Join(dump, "step000002_iter00.json"))
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil || d.B != 9 {
		t.Fatalf("update batch %d rows (%v), want 3 groups of 3", d.B, err)
	}
	broken := rlRun(t, dir, "dyn-broken", "unigrpo", extra...)
	interruptAndResume(t, broken, 3)
	sameFinalWeights(t, "dynamic sampling", StorePath(full), StorePath(broken))
}

// interruptAndResume runs cfg, cancelling it after step stop, then resumes it
// to its end.
func interruptAndResume(t *testing.T, cfg configs.Config, stop int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Train(ctx, cfg, Options{Log: zerolog.Nop(), Progress: func(step, total int, s StepStats) {
		if step == stop {
			cancel()
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop(), Resume: true}); err != nil {
		t.Fatal(err)
	}
}

// sameFinalWeights fails unless two run stores end with bit-identical weights.
func sameFinalWeights(t *testing.T, what, pathA, pathB string) {
	t.Helper()
	a, b := finalWeights(t, pathA), finalWeights(t, pathB)
	for i := range a.Weights {
		for j := range a.Weights[i].Data {
			if math.Float32bits(a.Weights[i].Data[j]) != math.Float32bits(b.Weights[i].Data[j]) {
				t.Fatalf("%s: %s[%d] differs after resume", what, a.Weights[i].Name, j)
			}
		}
	}
}

// A store written by a remask version with fields this one lacks still serves
// as model.init_from (and for eval): the fields are dropped with a warning.
func TestInitFromStoreWithRemovedConfigFields(t *testing.T) {
	dir := t.TempDir()
	rlRun(t, dir, "x", "unigrpo") // trains sft.db
	st, ck, err := checkpoint.OpenRef(filepath.Join(dir, "sft.db"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := st.Meta()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	meta.ConfigYAML += "retired_section: {x: 1}\n"
	old := filepath.Join(dir, "old.db")
	ost, err := checkpoint.Create(old, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := ost.Save(ck); err != nil {
		t.Fatal(err)
	}
	ost.Close()
	var logged bytes.Buffer
	if _, _, err := LoadParams(old, zerolog.New(&logged)); err != nil {
		t.Fatalf("old store refused: %v", err)
	}
	if !bytes.Contains(logged.Bytes(), []byte(`"fields":["retired_section"]`)) {
		t.Errorf("no warning naming the dropped field: %s", logged.String())
	}
	cfg := rlRun(t, dir, "from-old", "unigrpo", "model.init_from="+old, "train.steps=1")
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()}); err != nil {
		t.Fatalf("init_from an old store: %v", err)
	}
}
