package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/reward"
	"github.com/remask/remask/rollout"
)

// Version is written into every run store.
const Version = "0.1.0"

// Options are the parts of a run that are not in its config.
type Options struct {
	Resume bool           // continue from the latest checkpoint of an existing run store
	// AcceptChanges lets a resumed run change fields that define the run
	// (configs.DefinesRun); without it such a resume is refused.
	AcceptChanges bool
	Log    zerolog.Logger // structured log
	// Progress, when set, is called after every step (the CLI draws a bar).
	Progress func(step, total int, s StepStats)
	// DumpBatch, when set, is a folder where RL runs write every inner
	// iteration's batch as JSON (inputs, masks, log-probs, advantages, loss).
	DumpBatch string
	// AtPhase, when set, is called as a step enters one of its phases:
	// "rollout" (RL), "update", "eval" and "ckpt". The signal test uses it to
	// interrupt a run at an exact moment.
	AtPhase func(phase string, step int)
}

// at calls the AtPhase hook, if any.
func (o Options) at(phase string, step int) {
	if o.AtPhase != nil {
		o.AtPhase(phase, step)
	}
}

// Summary is what a finished (or interrupted) run reports.
type Summary struct {
	Path        string
	Steps       int     // last completed step count
	Loss        float64 // loss of the last step
	EvalAcc     float64 // last periodic eval accuracy (-1 when none ran)
	Interrupted bool
	Elapsed     time.Duration
}

// StorePath is where a config's run store lives.
func StorePath(cfg configs.Config) string {
	return filepath.Join(cfg.Run.Dir, cfg.Run.Name+".db")
}

// stepRNG is the random stream of one purpose at one step: derived from the
// run seed and the step only, so a resumed run draws exactly what an unbroken
// one would.
func stepRNG(seed int64, step int, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(step)<<8|purpose))
}

const (
	purposeMask uint64 = iota + 1
	purposeEval
)

// ModelConfig turns the config's model section into the model's shape.
func ModelConfig(cfg configs.Config, vocab int) (model.Config, error) {
	shape, err := cfg.Model.Resolved()
	if err != nil {
		return model.Config{}, err
	}
	return model.Config{Vocab: vocab, D: shape.D, Layers: shape.Layers, Heads: shape.Heads, FF: shape.FF,
		MaxLen: cfg.Model.MaxLen, RopeTheta: cfg.Model.RopeTheta, NormEps: cfg.Model.NormEps}, nil
}

// Train runs a run from a validated config: supervised (mdlm, sft) or RL
// (diffu_grpo, unigrpo, coupled_grpo). It creates the run store (or resumes
// it), trains, evaluates and checkpoints.
// Cancelling ctx (SIGINT, SIGTERM) writes a final checkpoint and returns.
func Train(ctx context.Context, cfg configs.Config, opt Options) (Summary, error) {
	if err := preflight(cfg, opt); err != nil {
		return Summary{}, err
	}
	if IsRL(cfg.Objective) {
		return trainRL(ctx, cfg, opt)
	}
	t0 := time.Now()
	log := opt.Log
	if cfg.Train.Threads > 0 {
		runtime.GOMAXPROCS(cfg.Train.Threads)
	}
	tok := data.NewDefaultTokenizer()
	task, err := data.TaskByName(cfg.Data.Task)
	if err != nil {
		return Summary{}, err
	}
	trainEx, err := data.Load(cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed)
	if err != nil {
		return Summary{}, fmt.Errorf("data.train: %w", err)
	}
	if len(trainEx) == 0 {
		return Summary{}, fmt.Errorf("data.train %q has no examples", cfg.Data.Train)
	}
	evalEx, err := evalSet(cfg, trainEx, log)
	if err != nil {
		return Summary{}, err
	}
	seqLen := cfg.Data.SeqLen
	if seqLen == 0 {
		if seqLen, err = data.SeqLenFor(tok, trainEx); err != nil {
			return Summary{}, err
		}
	}
	seqs := make([]data.Sequence, len(trainEx))
	for i, ex := range trainEx {
		if cfg.Objective == "mdlm" {
			seqs[i], err = data.EncodePretrain(tok, ex, seqLen)
		} else {
			seqs[i], err = data.EncodeSFT(tok, ex, seqLen)
		}
		if err != nil {
			return Summary{}, fmt.Errorf("data.train example %d: %w", i, err)
		}
	}
	obj, err := NewObjective(cfg, tok)
	if err != nil {
		return Summary{}, err
	}
	mc, err := ModelConfig(cfg, tok.Size())
	if err != nil {
		return Summary{}, err
	}
	if seqLen > mc.MaxLen {
		return Summary{}, fmt.Errorf("sequence length %d exceeds model.max_len %d", seqLen, mc.MaxLen)
	}
	if err := configs.CheckMemory(cfg, seqLen); err != nil {
		return Summary{}, err
	}
	run, err := beginRun(cfg, opt, mc, tok)
	if err != nil {
		return Summary{}, err
	}
	st, path, params, cursor, start := run.store, run.path, run.params, run.cursor, run.step
	defer st.Close()
	tr := newTrainer(cfg, params, run.adam)
	defer tr.Close()
	it := data.NewIterator(len(seqs), cfg.Train.Batch, cfg.Run.Seed, cursor)
	sampleOpts := SampleOptions(cfg, tok, task)

	log.Info().Str("store", path).Str("objective", obj.Name()).Int("params", params.NumParams()).
		Int("seq_len", seqLen).Int("train_examples", len(seqs)).Int("steps", cfg.Train.Steps).Msg("training")

	sum := resumedSummary(path, run)
	save := func(step int, metrics map[string]float64) error {
		ck := snapshot(step, params, tr.Opt, it.Cursor(), metrics)
		if err := st.Save(ck); err != nil {
			return fmt.Errorf("save checkpoint at step %d: %w", step, err)
		}
		if cfg.Train.KeepLast > 0 {
			if err := st.Retain(cfg.Train.KeepLast, cfg.Train.KeepEvery); err != nil {
				return err
			}
		}
		return nil
	}
	var last StepStats
	batchSeqs := make([]data.Sequence, cfg.Train.Batch)
	for step := start; step < cfg.Train.Steps; step++ {
		if ctx.Err() != nil {
			sum.Interrupted = true
			log.Warn().Int("step", step).Msg("interrupted: writing a final checkpoint")
			if err := save(step, map[string]float64{"loss": last.Loss}); err != nil {
				return sum, err
			}
			sum.Steps, sum.Elapsed = step, time.Since(t0)
			return sum, nil
		}
		for i, idx := range it.Next() {
			batchSeqs[i] = seqs[idx]
		}
		if s, ok := obj.(interface{ SetStep(int) }); ok {
			s.SetStep(step)
		}
		batch, m, err := obj.Build(stepRNG(cfg.Run.Seed, step, purposeMask), batchSeqs)
		if err != nil {
			return sum, fmt.Errorf("step %d: %w", step, err)
		}
		stepT := time.Now()
		opt.at("update", step)
		if last, err = tr.Update(step, cfg.Train.Batch, seqLen, batch); err != nil {
			return sum, fmt.Errorf("step %d: %w", step, err)
		}
		done := step + 1
		if opt.Progress != nil {
			opt.Progress(done, cfg.Train.Steps, last)
		}
		metrics := map[string]float64{"loss": last.Loss, "grad_norm": last.GradNorm, "lr": last.LR, "step_ms": float64(time.Since(stepT).Microseconds()) / 1e3}
		for k, v := range m {
			metrics[k] = v
		}
		evalNow := cfg.Train.EvalEvery > 0 && len(evalEx) > 0 && (done%cfg.Train.EvalEvery == 0 || done == cfg.Train.Steps)
		if evalNow {
			opt.at("eval", done)
			acc, samples, err := Evaluate(NewEvalModel(params), tok, task, evalEx, sampleOpts, stepRNG(cfg.Run.Seed, done, purposeEval))
			if err != nil {
				return sum, fmt.Errorf("eval at step %d: %w", done, err)
			}
			metrics["eval_acc"] = acc
			sum.EvalAcc = acc
			if err := st.AddSamples(done, samples); err != nil {
				return sum, err
			}
			log.Info().Int("step", done).Float64("eval_acc", acc).Int("n", len(evalEx)).Msg("eval")
		}
		if done%max(cfg.Train.LogEvery, 1) == 0 || evalNow || done == cfg.Train.Steps {
			if err := st.LogMetrics(done, metrics); err != nil {
				return sum, err
			}
			log.Info().Int("step", done).Float64("loss", last.Loss).Float64("grad_norm", last.GradNorm).Float64("lr", last.LR).Msg("train")
		}
		if (cfg.Train.CkptEvery > 0 && done%cfg.Train.CkptEvery == 0) || done == cfg.Train.Steps {
			opt.at("ckpt", done)
			if err := save(done, metrics); err != nil {
				return sum, err
			}
		}
		sum.Steps, sum.Loss = done, last.Loss
	}
	sum.Elapsed = time.Since(t0)
	return sum, nil
}

// preflight refuses a run that cannot start, before it logs or writes
// anything: a new run over an existing store, a resume without a store, past
// train.steps or with changes that define the run (checkResumeConfig), a
// reward name nobody registered.
func preflight(cfg configs.Config, opt Options) error {
	for i, r := range cfg.Rewards {
		if len(r.Exec) == 0 {
			if _, err := reward.New(r.Name); err != nil {
				return fmt.Errorf("rewards[%d]: %w", i, err)
			}
		}
	}
	path := StorePath(cfg)
	if !opt.Resume {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("run store %s already exists: pass --resume to continue it, or set run.name to start a new run", path)
		}
		return nil
	}
	st, err := checkpoint.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer st.Close()
	ck, err := st.Latest()
	switch {
	case errors.Is(err, checkpoint.ErrNoCheckpoint):
		ck = nil
	case err != nil:
		return err
	case ck.Step > cfg.Train.Steps:
		return fmt.Errorf("resume %s: its last checkpoint is at step %d, past train.steps %d; raise train.steps to continue the run", path, ck.Step, cfg.Train.Steps)
	}
	_, defining, err := resumeChanges(st, cfg)
	if err == nil && len(defining) > 0 && !opt.AcceptChanges {
		err = fmt.Errorf("resume %s: %s would change what the run computes; pass --accept-changes to continue with them anyway (recorded in the store), or set run.name to start a new run",
			path, strings.Join(defining, ", "))
	}
	return err
}

// resumeChanges lists how cfg differs from the config a store holds, and
// which of the changes define the run (configs.DefinesRun).
func resumeChanges(st *checkpoint.Store, cfg configs.Config) (all []configs.Change, defining []string, err error) {
	meta, err := st.Meta()
	if err != nil {
		return nil, nil, err
	}
	stored, _, err := configs.ParseStored(st.Path()+" (stored config)", []byte(meta.ConfigYAML))
	if err != nil {
		return nil, nil, err
	}
	all = configs.Diff(stored, cfg)
	for _, c := range all {
		if configs.DefinesRun(c.Field) {
			defining = append(defining, c.String())
		}
	}
	return all, defining, nil
}

// DropSeenInTraining removes the examples whose prompt occurs in the training
// data of the run that cfg describes (regenerated when it is gen:N), and
// says how many it dropped.
func DropSeenInTraining(cfg configs.Config, exs []data.Example) ([]data.Example, int, error) {
	train, err := data.Load(cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed)
	if err != nil {
		return nil, 0, fmt.Errorf("training data of the run (to drop seen examples; --keep-seen skips this): %w", err)
	}
	kept := heldOut(exs, train)
	return kept, len(exs) - len(kept), nil
}

// evalSet loads data.eval from its own seed stream, drops the examples whose
// prompt is in the training data (the eval figure is on held-out examples
// only) and keeps the first eval_n.
func evalSet(cfg configs.Config, trainEx []data.Example, log zerolog.Logger) ([]data.Example, error) {
	if cfg.Data.Eval == "" {
		return nil, nil
	}
	all, err := data.Load(cfg.Data.Task, cfg.Data.Eval, cfg.Run.Seed+1_000_003)
	if err != nil {
		return nil, fmt.Errorf("data.eval: %w", err)
	}
	evalEx := heldOut(all, trainEx)
	dropped := len(all) - len(evalEx)
	if n := cfg.Data.EvalN; n > 0 && len(evalEx) > n {
		evalEx = evalEx[:n]
	}
	log.Info().Int("eval_examples", len(evalEx)).Int("dropped_seen_in_train", dropped).Msg("eval set")
	return evalEx, nil
}

// runStart is where a run's loop starts.
type runStart struct {
	store  *checkpoint.Store
	path   string
	ck     *checkpoint.Checkpoint // the checkpoint resumed from; nil for a fresh start
	params *model.Params
	adam   *AdamW
	cursor data.Cursor
	step   int
}

// beginRun creates the run store of a new run, or opens it to resume, and
// returns where the loop starts: the latest checkpoint's weights, optimizer
// and data cursor when resuming, else the starting weights with a new
// optimizer at step 0. The starting weights are made (or read from
// model.init_from) before the store is created, so that a bad init_from
// leaves nothing behind.
func beginRun(cfg configs.Config, opt Options, mc model.Config, tok *data.Tokenizer) (*runStart, error) {
	resume, log := opt.Resume, opt.Log
	cfgYAML, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	var fresh *model.Params
	if !resume {
		if fresh, err = initialParams(cfg, mc, log); err != nil {
			return nil, err
		}
	}
	st, ck, err := openRunStore(cfg, opt, cfgYAML, tok)
	if err != nil {
		return nil, err
	}
	r := &runStart{store: st, path: StorePath(cfg), ck: ck, params: fresh}
	switch {
	case ck != nil:
		if r.params, r.adam, r.cursor, err = restore(ck, mc, cfg); err != nil {
			st.Close()
			return nil, fmt.Errorf("resume %s step %d: %w", r.path, ck.Step, err)
		}
		r.step = ck.Step
		return r, nil
	case fresh == nil: // --resume of a store without a checkpoint
		if r.params, err = initialParams(cfg, mc, log); err != nil {
			st.Close()
			return nil, err
		}
	}
	r.adam = NewAdamW(r.params, cfg.Optim.Beta1, cfg.Optim.Beta2, cfg.Optim.Eps, cfg.Optim.WeightDecay)
	return r, nil
}

// resumedSummary is what a run reports before its first step: the step and
// loss of the checkpoint it resumed from (all a run already at train.steps
// has to say).
func resumedSummary(path string, run *runStart) Summary {
	sum := Summary{Path: path, EvalAcc: -1, Steps: run.step}
	if run.ck != nil {
		sum.Loss = run.ck.Metrics["loss"]
		if acc, ok := run.ck.Metrics["eval_acc"]; ok {
			sum.EvalAcc = acc
		}
	}
	return sum
}

// newTrainer is the shared trainer with the config's schedule and clipping.
func newTrainer(cfg configs.Config, params *model.Params, adam *AdamW) *Trainer {
	sched := Schedule{Kind: cfg.Optim.Schedule, Peak: cfg.Optim.LR, Warmup: cfg.Optim.Warmup, Total: cfg.Train.Steps, MinLRRatio: cfg.Optim.MinLRRatio, Decay: cfg.Optim.DecaySteps}
	return NewTrainer(params, adam, sched, cfg.Optim.ClipNorm)
}

// openRunStore creates the run store of a new run, or opens it to resume;
// then it returns the latest checkpoint (nil when there is none) and drops
// the metrics logged after it, which the resumed run logs again.
func openRunStore(cfg configs.Config, opt Options, cfgYAML []byte, tok *data.Tokenizer) (*checkpoint.Store, *checkpoint.Checkpoint, error) {
	path, log := StorePath(cfg), opt.Log
	if !opt.Resume {
		meta := checkpoint.Meta{ConfigYAML: string(cfgYAML), Seed: cfg.Run.Seed, Version: Version, Created: time.Now().UTC(), Vocab: tok.Vocab()}
		st, err := checkpoint.Create(path, meta)
		if errors.Is(err, checkpoint.ErrExists) {
			return nil, nil, fmt.Errorf("run store %s already exists: pass --resume to continue it, or set run.name to start a new run", path)
		}
		return st, nil, err
	}
	st, err := checkpoint.Open(path)
	if err != nil {
		return nil, nil, err
	}
	ck, err := st.Latest()
	if errors.Is(err, checkpoint.ErrNoCheckpoint) {
		ck, err = nil, nil
	}
	if err == nil && ck != nil && ck.Step > cfg.Train.Steps {
		err = fmt.Errorf("resume %s: its last checkpoint is at step %d, past train.steps %d; raise train.steps to continue the run", path, ck.Step, cfg.Train.Steps)
	}
	if err == nil {
		err = checkResumeConfig(st, cfg, opt, cfgYAML, ck)
	}
	if err == nil && ck != nil {
		err = st.TruncateMetricsAfter(ck.Step)
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if ck != nil {
		log.Info().Str("store", path).Int("step", ck.Step).Msg("resumed")
	}
	return st, ck, nil
}

// checkResumeConfig compares a resumed run's config with the one its store
// holds. Changes to fields that define the run are refused, naming them,
// unless opt.AcceptChanges; the changes that go ahead become the store's
// config and are appended to its config history (remask ckpt show).
func checkResumeConfig(st *checkpoint.Store, cfg configs.Config, opt Options, cfgYAML []byte, ck *checkpoint.Checkpoint) error {
	changes, defining, err := resumeChanges(st, cfg)
	if err != nil || len(changes) == 0 {
		return err
	}
	if len(defining) > 0 && !opt.AcceptChanges {
		return fmt.Errorf("resume %s: %s would change what the run computes; pass --accept-changes to continue with them anyway (recorded in the store), or set run.name to start a new run",
			st.Path(), strings.Join(defining, ", "))
	}
	step := 0
	if ck != nil {
		step = ck.Step
	}
	for _, c := range changes {
		ev := opt.Log.Info()
		if configs.DefinesRun(c.Field) {
			ev = opt.Log.Warn()
		}
		ev.Str("field", c.Field).Str("old", c.Old).Str("new", c.New).Int("from_step", step).Msg("resumed with a changed config")
		if c.Field == "train.steps" && scheduleDependsOnTotal(cfg.Optim.Schedule) {
			opt.Log.Warn().Str("schedule", cfg.Optim.Schedule).Msg("train.steps changed: the lr schedule is recomputed for the new length from this step on")
		}
	}
	return st.RecordConfigChange(string(cfgYAML), checkpoint.ConfigChange{Time: time.Now().UTC(), Step: step, Changes: changes, Accepted: len(defining) > 0})
}

// scheduleDependsOnTotal reports whether a schedule's lr at a step depends
// on the run's length (so lengthening a resumed run changes later steps).
func scheduleDependsOnTotal(kind string) bool {
	return kind == "cosine" || kind == "cosine_with_min_lr" || kind == "warmup_stable_decay"
}

// heldOut drops every example whose prompt also occurs in train.
func heldOut(all, train []data.Example) []data.Example {
	seen := make(map[string]bool, len(train))
	for _, ex := range train {
		seen[ex.Prompt] = true
	}
	var out []data.Example
	for _, ex := range all {
		if !seen[ex.Prompt] {
			out = append(out, ex)
		}
	}
	return out
}

// initialParams is a fresh model, or the weights of model.init_from.
func initialParams(cfg configs.Config, mc model.Config, log zerolog.Logger) (*model.Params, error) {
	if cfg.Model.InitFrom == "" {
		return model.New(mc, uint64(cfg.Run.Seed))
	}
	p, _, err := LoadParams(cfg.Model.InitFrom, log)
	if err != nil {
		return nil, fmt.Errorf("model.init_from: %w", err)
	}
	if p.Config != mc {
		return nil, fmt.Errorf("model.init_from %s has shape %+v, this run wants %+v", cfg.Model.InitFrom, p.Config, mc)
	}
	return p, nil
}

// snapshot gathers everything a resume needs.
func snapshot(step int, p *model.Params, opt *AdamW, cur data.Cursor, metrics map[string]float64) *checkpoint.Checkpoint {
	ck := &checkpoint.Checkpoint{Step: step, Time: time.Now().UTC(), OptimStep: opt.Step, Metrics: metrics}
	for i, t := range p.Tensors {
		ck.Weights = append(ck.Weights, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data})
		ck.Optim = append(ck.Optim,
			checkpoint.Tensor{Name: "adam.m/" + t.Name, Shape: t.Shape, Data: opt.M[i]},
			checkpoint.Tensor{Name: "adam.v/" + t.Name, Shape: t.Shape, Data: opt.V[i]})
	}
	ck.Cursor, _ = json.Marshal(cur) // a struct of two ints always marshals
	// Every random draw is derived from (seed, step, purpose), so there is no
	// generator state to keep; the record says which derivation was used.
	ck.RNG = []byte("pcg(seed, step<<8|purpose) v1")
	return ck
}

// restore rebuilds the weights, optimizer and data cursor of a checkpoint.
func restore(ck *checkpoint.Checkpoint, mc model.Config, cfg configs.Config) (*model.Params, *AdamW, data.Cursor, error) {
	p, err := model.FromTensors(mc, toModelTensors(ck.Weights))
	if err != nil {
		return nil, nil, data.Cursor{}, err
	}
	opt := NewAdamW(p, cfg.Optim.Beta1, cfg.Optim.Beta2, cfg.Optim.Eps, cfg.Optim.WeightDecay)
	opt.Step = ck.OptimStep
	byName := map[string][]float32{}
	for _, t := range ck.Optim {
		byName[t.Name] = t.Data
	}
	for i, t := range p.Tensors {
		m, v := byName["adam.m/"+t.Name], byName["adam.v/"+t.Name]
		if len(m) != len(t.Data) || len(v) != len(t.Data) {
			return nil, nil, data.Cursor{}, fmt.Errorf("optimizer state for %s missing or of the wrong size", t.Name)
		}
		copy(opt.M[i], m)
		copy(opt.V[i], v)
	}
	var cur data.Cursor
	if err := json.Unmarshal(ck.Cursor, &cur); err != nil {
		return nil, nil, data.Cursor{}, fmt.Errorf("data cursor: %w", err)
	}
	return p, opt, cur, nil
}

func toModelTensors(ts []checkpoint.Tensor) []model.Tensor {
	out := make([]model.Tensor, len(ts))
	for i, t := range ts {
		out[i] = model.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	return out
}

// LoadParams opens RUN.db[:STEP] read-only and returns the weights of that
// checkpoint (the latest when no step is given) with the run's config. Fields
// of a store written by another remask version that this one lacks are
// dropped with a warning on log.
func LoadParams(ref string, log zerolog.Logger) (*model.Params, configs.Config, error) {
	st, ck, err := checkpoint.OpenRef(ref)
	if err != nil {
		return nil, configs.Config{}, err
	}
	defer st.Close()
	path := st.Path()
	meta, err := st.Meta()
	if err != nil {
		return nil, configs.Config{}, err
	}
	cfg, dropped, err := configs.ParseStored(path+" (stored config)", []byte(meta.ConfigYAML))
	if err != nil {
		return nil, configs.Config{}, err
	}
	if len(dropped) > 0 {
		log.Warn().Str("store", path).Str("written_by", meta.Version).Strs("fields", dropped).
			Msg("stored config has fields this remask version does not know; ignoring them")
	}
	tok, err := data.TokenizerFromVocab(meta.Vocab)
	if err != nil {
		return nil, configs.Config{}, fmt.Errorf("%s: stored vocab: %w", path, err)
	}
	mc, err := ModelConfig(cfg, tok.Size())
	if err != nil {
		return nil, configs.Config{}, err
	}
	p, err := model.FromTensors(mc, toModelTensors(ck.Weights))
	if err != nil {
		return nil, configs.Config{}, fmt.Errorf("%s step %d: %w", path, ck.Step, err)
	}
	return p, cfg, nil
}

// SampleOptions are the decoding settings of a config's sample section; a
// zero gen_length takes the task's answer length.
func SampleOptions(cfg configs.Config, tok *data.Tokenizer, task data.Task) rollout.Options {
	return samplerOptions(cfg.Sample, tok, task)
}

// samplerOptions turns sampler settings (the sample section, or the rollout
// section's copy of them) into rollout.Options.
func samplerOptions(s configs.Sample, tok *data.Tokenizer, task data.Task) rollout.Options {
	o := rollout.Options{GenLength: s.GenLength, Steps: s.Steps, Block: s.Block, Temperature: s.Temperature,
		Remasking: s.Remasking, Confidence: s.Confidence, Threshold: s.Threshold, Cache: s.Cache,
		Revise: s.Revise, ReviseThreshold: s.ReviseThreshold,
		MaskID: tok.MaskID(), EOSID: tok.EOSID(), PadID: tok.PadID()}
	if o.GenLength == 0 {
		o.GenLength = defaultGenLength(task)
	}
	if o.Steps == 0 {
		o.Steps = o.GenLength
	}
	return o
}

func defaultGenLength(task data.Task) int {
	switch task.Name() {
	case "sudoku4x4":
		return 16
	}
	return 32
}

// EvalModel is a read-only view of weights for sampling.
type EvalModel struct{ inf *model.Inference }

// NewEvalModel prepares p for sampling.
func NewEvalModel(p *model.Params) EvalModel { return EvalModel{model.NewInference(p)} }

// Evaluate samples a completion for every example and returns the fraction
// that the task marks correct, with a few samples for the run store.
func Evaluate(m EvalModel, tok *data.Tokenizer, task data.Task, exs []data.Example, o rollout.Options, rng *rand.Rand) (float64, []checkpoint.Sample, error) {
	return evaluate(m, tok, task, exs, o, rng, nil)
}

// EvaluateByStep is Evaluate that also counts, per denoising step, the
// tokens committed at that step and how many of them are right.
func EvaluateByStep(m EvalModel, tok *data.Tokenizer, task data.Task, exs []data.Example, o rollout.Options, rng *rand.Rand) (float64, CommitCounts, error) {
	var cc CommitCounts
	acc, _, err := evaluate(m, tok, task, exs, o, rng, &cc)
	return acc, cc, err
}

// CommitCounts says where in the denoising order a model's errors arise:
// Committed[s] completion tokens were committed at step s, Right[s] of them
// equal the reference answer at their position (the answer then <eos>
// padding, as SFT lays it out). Only examples with a reference answer count;
// the figure means most where the answer is unique, as in sudoku.
type CommitCounts struct {
	Committed []int `json:"committed"`
	Right     []int `json:"right"`
}

// Accuracy is Right/Committed per step (0 where nothing was committed).
func (c CommitCounts) Accuracy() []float64 {
	out := make([]float64, len(c.Committed))
	for s, n := range c.Committed {
		if n > 0 {
			out[s] = float64(c.Right[s]) / float64(n)
		}
	}
	return out
}

// add counts one completion: tokens[k] was committed at step trace[k];
// ref is the reference completion (positions past its end count as wrong).
func (c *CommitCounts) add(tokens, trace, ref []int) {
	for k, s := range trace {
		for len(c.Committed) <= s {
			c.Committed = append(c.Committed, 0)
			c.Right = append(c.Right, 0)
		}
		c.Committed[s]++
		if k < len(ref) && tokens[k] == ref[k] {
			c.Right[s]++
		}
	}
}

// referenceCompletion is ex's answer followed by <eos> up to n tokens, or
// nil when ex has no answer.
func referenceCompletion(tok *data.Tokenizer, ex data.Example, n int) ([]int, error) {
	if ex.Answer == "" {
		return nil, nil
	}
	a, err := tok.Encode(ex.Answer)
	if err != nil {
		return nil, fmt.Errorf("answer: %w", err)
	}
	for len(a) < n {
		a = append(a, tok.EOSID())
	}
	return a, nil
}

func evaluate(m EvalModel, tok *data.Tokenizer, task data.Task, exs []data.Example, o rollout.Options, rng *rand.Rand, byStep *CommitCounts) (float64, []checkpoint.Sample, error) {
	const batch = 64
	correct := 0
	var samples []checkpoint.Sample
	for lo := 0; lo < len(exs); lo += batch {
		hi := min(lo+batch, len(exs))
		prompts := make([][]int, 0, hi-lo)
		for _, ex := range exs[lo:hi] {
			p, err := data.EncodePrompt(tok, ex)
			if err != nil {
				return 0, nil, err
			}
			prompts = append(prompts, p)
		}
		res, err := rollout.Generate(m.inf, prompts, o, rng)
		if err != nil {
			return 0, nil, err
		}
		for i, ex := range exs[lo:hi] {
			text := tok.DecodeAnswer(res.Tokens[i])
			ok := task.Correct(ex, text)
			if ok {
				correct++
			}
			if byStep != nil {
				ref, err := referenceCompletion(tok, ex, len(res.Tokens[i]))
				if err != nil {
					return 0, nil, fmt.Errorf("example %d: %w", lo+i+1, err)
				}
				if ref != nil {
					byStep.add(res.Tokens[i], res.Trace[i], ref)
				}
			}
			if len(samples) < 8 {
				r := 0.0
				if ok {
					r = 1
				}
				samples = append(samples, checkpoint.Sample{Prompt: ex.Prompt, Completion: text, Reward: r, Trace: res.Trace[i]})
			}
		}
	}
	return float64(correct) / float64(max(len(exs), 1)), samples, nil
}

// ImportWeights creates the run store of cfg with a step-0 checkpoint holding
// the weights of a safetensors file (as `remask ckpt export` writes them), so
// that another run can start from it with model.init_from.
func ImportWeights(cfg configs.Config, file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	ts, _, err := checkpoint.ReadSafetensors(f, fi.Size())
	if err != nil {
		return "", fmt.Errorf("import %s: %w", file, err)
	}
	tok := data.NewDefaultTokenizer()
	mc, err := ModelConfig(cfg, tok.Size())
	if err != nil {
		return "", err
	}
	p, err := model.FromTensors(mc, toModelTensors(ts))
	if err != nil {
		return "", fmt.Errorf("import %s: %w", file, err)
	}
	y, err := cfg.YAML()
	if err != nil {
		return "", err
	}
	path := StorePath(cfg)
	st, err := checkpoint.Create(path, checkpoint.Meta{ConfigYAML: string(y), Seed: cfg.Run.Seed, Version: Version, Created: time.Now().UTC(), Vocab: tok.Vocab(),
		Extra: map[string]string{"imported_from": file}})
	if err != nil {
		return "", err
	}
	defer st.Close()
	ck := &checkpoint.Checkpoint{Step: 0, Time: time.Now().UTC()}
	for _, t := range p.Tensors {
		ck.Weights = append(ck.Weights, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data})
	}
	return path, st.Save(ck)
}
