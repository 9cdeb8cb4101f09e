package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
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
	Resume bool // continue from the latest checkpoint of an existing run store
	// AcceptChanges lets a resumed run change fields that define the run
	// (configs.DefinesRun); without it such a resume is refused.
	AcceptChanges bool
	Log           zerolog.Logger // structured log
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

// ModelConfig turns the config's model section into the model's shape, for
// a tokenizer of vocab ids. A llada or dream model scores model.vocab_size
// ids, which may be more than its tokenizer has (Hugging Face embeddings
// are often padded), never fewer.
func ModelConfig(cfg configs.Config, vocab int) (model.Config, error) {
	if m := cfg.Model; m.Family != model.FamilyRemask && m.Family != "" {
		if vocab > m.VocabSize {
			return model.Config{}, fmt.Errorf("model.family %s scores %d token ids (model.vocab_size), fewer than the %d of its tokenizer: is model.vocab the checkpoint's own tokenizer?",
				m.Family, m.VocabSize, vocab)
		}
		vocab = m.VocabSize
	}
	return modelConfig(cfg, vocab)
}

func modelConfig(cfg configs.Config, vocab int) (model.Config, error) {
	shape, err := cfg.Model.Resolved()
	if err != nil {
		return model.Config{}, err
	}
	m := cfg.Model
	mc := model.Config{Vocab: vocab, D: shape.D, Layers: shape.Layers, Heads: shape.Heads, FF: shape.FF,
		MaxLen: m.MaxLen, RopeTheta: m.RopeTheta, NormEps: m.NormEps,
		KVHeads: m.KVHeads, HeadDim: m.HeadDim, QKVBias: m.QKVBias, TiedEmbed: m.TiedEmbed, LogitShift: m.LogitShift, QKNorm: m.QKNorm}
	if m.Attention == "block_causal" {
		mc.BlockSize = m.BlockSize
	}
	return mc, nil
}

// Train runs a run from a validated config: supervised (mdlm, sft, edit) or
// RL (a registered estimator, `remask algos`), both through the same loop. It creates the run store (or resumes
// it), trains, evaluates and checkpoints.
// Cancelling ctx (SIGINT, SIGTERM) writes a final checkpoint and returns.
func Train(ctx context.Context, cfg configs.Config, opt Options) (Summary, error) {
	if err := preflight(cfg, opt); err != nil {
		return Summary{}, err
	}
	if IsRL(cfg.Objective) {
		return trainRL(ctx, cfg, opt)
	}
	return trainSupervised(ctx, cfg, opt)
}

// trainSupervised is the loop of the supervised objectives (mdlm, sft,
// edit): each step masks a batch of sequences and takes one update.
func trainSupervised(ctx context.Context, cfg configs.Config, opt Options) (Summary, error) {
	rd, err := loadRun(cfg, opt)
	if err != nil {
		return Summary{}, err
	}
	tok, trainEx := rd.tok, rd.trainEx
	seqLen := cfg.Data.SeqLen
	if seqLen == 0 {
		if seqLen, err = data.SeqLenFor(tok, trainEx, cfg.Objective != "mdlm"); err != nil {
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
	if seqLen > rd.mc.MaxLen {
		return Summary{}, fmt.Errorf("sequence length %d exceeds model.max_len %d", seqLen, rd.mc.MaxLen)
	}
	if err := configs.CheckMemory(cfg, seqLen); err != nil {
		return Summary{}, err
	}
	l, run, err := rd.begin(cfg, opt, len(seqs), cfg.Train.Batch)
	if err != nil {
		return Summary{}, err
	}
	defer l.close()
	opt.Log.Info().Str("store", run.path).Str("objective", obj.Name()).Int("params", run.params.NumParams()).
		Int("seq_len", seqLen).Int("train_examples", len(seqs)).Int("steps", cfg.Train.Steps).Msg("training")

	batchSeqs := make([]data.Sequence, cfg.Train.Batch)
	return l.run(ctx, run.step, false, func(ctx context.Context, step int, _ StepStats, metrics map[string]float64) (stepResult, error) {
		for i, idx := range l.it.Next() {
			batchSeqs[i] = seqs[idx]
		}
		if s, ok := obj.(interface{ SetStep(int) }); ok {
			s.SetStep(step)
		}
		batch, m, err := obj.Build(stepRNG(cfg.Run.Seed, step, purposeMask), batchSeqs)
		if err != nil {
			return stepResult{}, fmt.Errorf("step %d: %w", step, err)
		}
		stepT := time.Now()
		opt.at("update", step)
		// rows per sequence: 2 seqLen for block diffusion's clean and noised copies
		last, err := l.tr.Update(step, cfg.Train.Batch, len(batch.IDs)/cfg.Train.Batch, batch)
		if err != nil {
			return stepResult{}, fmt.Errorf("step %d: %w", step, err)
		}
		metrics["loss"], metrics["grad_norm"], metrics["lr"] = last.Loss, last.GradNorm, last.LR
		metrics["step_ms"] = float64(time.Since(stepT).Microseconds()) / 1e3
		for k, v := range m {
			metrics[k] = v
		}
		return stepResult{stats: last, log: func(e *zerolog.Event) {
			e.Float64("loss", last.Loss).Float64("grad_norm", last.GradNorm).Float64("lr", last.LR).Msg("train")
		}}, nil
	})
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
// data of the run that cfg describes (regenerated when it is gen:N) or of the
// runs it started from through model.init_from, and says how many it dropped.
func DropSeenInTraining(cfg configs.Config, exs []data.Example, log zerolog.Logger) ([]data.Example, int, error) {
	var train []data.Example
	if cfg.Data.Train != HFImportedData {
		var err error
		if train, err = data.Load(cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed); err != nil {
			return nil, 0, fmt.Errorf("training data of the run (to drop seen examples; --keep-seen skips this): %w", err)
		}
	}
	train = append(train, ancestorTrainData(cfg, log)...)
	kept := heldOut(exs, train)
	return kept, len(exs) - len(kept), nil
}

// maxAncestors bounds the model.init_from chain that ancestorTrainData
// follows (a store cannot name itself, but a copied one could name a copy).
const maxAncestors = 8

// ancestorTrainData is the training data of the runs that cfg's weights come
// from: model.init_from's store, the store that one started from, and so on.
// An RL run that trains on other prompts than its SFT start would otherwise
// evaluate on problems the SFT run learnt the answers of. Stores that are
// gone, imported weights and data that cannot be loaded are skipped with a
// warning: the eval still runs, on a set that may hold seen examples.
func ancestorTrainData(cfg configs.Config, log zerolog.Logger) []data.Example {
	var out []data.Example
	ref := cfg.Model.InitFrom
	for i := 0; ref != "" && i < maxAncestors; i++ {
		anc, err := storedConfig(ref)
		if err != nil {
			log.Warn().Err(err).Str("init_from", ref).Msg("cannot read the training data of the run this one started from; eval examples it trained on are not dropped")
			return out
		}
		if anc.Data.Train != HFImportedData && anc.Data.Task == cfg.Data.Task &&
			(anc.Data.Train != cfg.Data.Train || anc.Run.Seed != cfg.Run.Seed) {
			exs, err := data.Load(anc.Data.Task, anc.Data.Train, anc.Run.Seed)
			if err != nil {
				log.Warn().Err(err).Str("init_from", ref).Msg("cannot load the training data of the run this one started from; eval examples it trained on are not dropped")
			} else {
				out = append(out, exs...)
			}
		}
		ref = anc.Model.InitFrom
	}
	return out
}

// storedConfig is the config kept in the run store that ref (RUN.db[:STEP])
// names.
func storedConfig(ref string) (configs.Config, error) {
	path, _, _, err := checkpoint.ParseRef(ref)
	if err != nil {
		return configs.Config{}, err
	}
	st, err := checkpoint.OpenReadOnly(path)
	if err != nil {
		return configs.Config{}, err
	}
	defer st.Close()
	meta, err := st.Meta()
	if err != nil {
		return configs.Config{}, err
	}
	cfg, _, err := configs.ParseStored(path+" (stored config)", []byte(meta.ConfigYAML))
	return cfg, err
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
	evalEx := heldOut(all, append(trainEx[:len(trainEx):len(trainEx)], ancestorTrainData(cfg, log)...))
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
func beginRun(cfg configs.Config, opt Options, mc model.Config, tok data.Tokenizer) (*runStart, error) {
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
func openRunStore(cfg configs.Config, opt Options, cfgYAML []byte, tok data.Tokenizer) (*checkpoint.Store, *checkpoint.Checkpoint, error) {
	path, log := StorePath(cfg), opt.Log
	if !opt.Resume {
		meta := checkpoint.Meta{ConfigYAML: string(cfgYAML), Seed: cfg.Run.Seed, Version: Version, Created: time.Now().UTC()}
		if ct, ok := tok.(*data.CharTokenizer); ok {
			meta.Vocab = ct.Vocab()
		}
		// an imported model's tokenizer and config files go along, so that
		// sample, eval and export --format hf work on this run's store too
		files, err := tokenizerSourceFiles(cfg, opt)
		if err != nil {
			return nil, nil, err
		}
		st, err := checkpoint.Create(path, meta)
		if errors.Is(err, checkpoint.ErrExists) {
			return nil, nil, fmt.Errorf("run store %s already exists: pass --resume to continue it, or set run.name to start a new run", path)
		}
		if err == nil && len(files) > 0 {
			if err = st.PutFiles(files); err != nil {
				st.Close()
				os.Remove(path)
			}
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
	// preflight has refused a store past train.steps before anything was written
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
	if !sameWeights(p.Config, mc) {
		return nil, fmt.Errorf("model.init_from %s has shape %+v, this run wants %+v", cfg.Model.InitFrom, p.Config, mc)
	}
	if p.Config.BlockSize != mc.BlockSize {
		log.Info().Int("from_block_size", p.Config.BlockSize).Int("block_size", mc.BlockSize).
			Msg("model.init_from: same weights, other attention; the run uses its own (SDAR starts block diffusion from a full-attention model this way)")
		p.Config.BlockSize = mc.BlockSize
	}
	return p, nil
}

// sameWeights: a and b have the same tensors, so weights of one start the
// other. The attention pattern (block size, 0 = full) is not a weight: a
// full-attention checkpoint starts a block-causal run and back.
func sameWeights(a, b model.Config) bool {
	a.BlockSize = b.BlockSize
	return a == b
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
	p, cfg, _, _, err := loadParams(ref, log, false)
	return p, cfg, err
}

// loadParams is LoadParams that also returns the checkpoint's step and, with
// withFiles, the files the store keeps.
func loadParams(ref string, log zerolog.Logger, withFiles bool) (_ *model.Params, _ configs.Config, files map[string][]byte, step int, _ error) {
	st, ck, err := checkpoint.OpenRef(ref)
	if err != nil {
		return nil, configs.Config{}, nil, 0, err
	}
	defer st.Close()
	p, cfg, err := paramsOf(st, ck, log)
	if err == nil && withFiles {
		files, err = st.Files()
	}
	if err != nil {
		return nil, configs.Config{}, nil, 0, err
	}
	return p, cfg, files, ck.Step, nil
}

func paramsOf(st *checkpoint.Store, ck *checkpoint.Checkpoint, log zerolog.Logger) (*model.Params, configs.Config, error) {
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
	// remask's own model keeps its char vocab in the store; an imported
	// llada or dream model says its vocabulary size in its config (its
	// tokenizer files are kept in the store).
	vocab := cfg.Model.VocabSize
	if cfg.Model.Family == model.FamilyRemask {
		tok, err := data.TokenizerFromVocab(meta.Vocab)
		if err != nil {
			return nil, configs.Config{}, fmt.Errorf("%s: stored vocab: %w", path, err)
		}
		vocab = tok.Size()
	}
	mc, err := modelConfig(cfg, vocab)
	if err != nil {
		return nil, configs.Config{}, err
	}
	// the checkpoint's tensors were decoded for this call: hand them over
	// instead of copying (a large model would be held twice)
	p, err := model.Adopt(mc, toModelTensors(ck.Weights))
	if err != nil {
		return nil, configs.Config{}, fmt.Errorf("%s step %d: %w", path, ck.Step, err)
	}
	return p, cfg, nil
}

// SampleOptions are the decoding settings of a config's sample section; a
// zero gen_length takes the task's answer length.
func SampleOptions(cfg configs.Config, tok data.Tokenizer, task data.Task) rollout.Options {
	return samplerOptions(cfg.Sample, tok, task)
}

// samplerOptions turns sampler settings (the sample section, or the rollout
// section's copy of them) into rollout.Options.
func samplerOptions(s configs.Sample, tok data.Tokenizer, task data.Task) rollout.Options {
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
func Evaluate(m EvalModel, tok data.Tokenizer, task data.Task, exs []data.Example, o rollout.Options, rng *rand.Rand) (float64, []checkpoint.Sample, error) {
	return evaluate(m, tok, task, exs, o, rng, nil)
}

// EvaluateByStep is Evaluate that also counts, per denoising step, the
// tokens committed at that step and how many of them are right.
func EvaluateByStep(m EvalModel, tok data.Tokenizer, task data.Task, exs []data.Example, o rollout.Options, rng *rand.Rand) (float64, CommitCounts, error) {
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
func referenceCompletion(tok data.Tokenizer, ex data.Example, n int) ([]int, error) {
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

func evaluate(m EvalModel, tok data.Tokenizer, task data.Task, exs []data.Example, o rollout.Options, rng *rand.Rand, byStep *CommitCounts) (float64, []checkpoint.Sample, error) {
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

// HFFiles are the files of a Hugging Face model folder that an import keeps
// in the run store besides config.json (which it keeps too): the tokenizer
// and generation settings, which the hf tokenizer and chat template read,
// and which an export writes back. The folder's *.py files (the family's
// modeling code, which config.json's auto_map names) are kept as well.
var HFFiles = []string{"tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json",
	"vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja", "tokenizer.model"}

// HFImport describes a model ImportHF imported.
type HFImport struct {
	Path   string
	Family string
	Config model.Config
	Params int
	DTypes []string // the checkpoint's dtypes (stored as float32)
	Files  []string // files kept in the store
}

// ImportHF creates the run store out from a Hugging Face model folder of
// the llada or dream family: config.json, model.safetensors or the shards
// of model.safetensors.index.json (F32, F16 or BF16), and the files of
// HFFiles. The store holds a step-0 checkpoint of the weights as float32
// in remask's layout (q, k, v fused into wqkv, gate and up into w_gate_up,
// linear layers transposed to (in, out)), a config whose model section
// says the family and shape, and the kept files; model.init_from, `remask
// ckpt show` and `remask ckpt export --format hf` read it. maxLen > 0 sets
// model.max_len (the RoPE tables), else the checkpoint's limit up to
// model.DefaultHFMaxLen.
//
// Everything is checked before anything is written (config, every
// tensor's presence, shape and dtype, the safetensors headers), and the
// weights are converted tensor by tensor, so the memory it takes is a few
// times the largest tensor, not the model.
func ImportHF(dir, out string, maxLen int) (HFImport, error) {
	hf, err := model.ReadHFConfig(dir, maxLen)
	if err != nil {
		return HFImport{}, err
	}
	set, err := checkpoint.OpenSafetensorsDir(dir)
	if err != nil {
		return HFImport{}, err
	}
	defer set.Close()
	layout, err := model.HFLayout(hf.Family, hf.Config)
	if err != nil {
		return HFImport{}, err
	}
	if err := checkHFTensors(dir, hf, layout, set); err != nil {
		return HFImport{}, err
	}
	files, err := readHFFiles(dir)
	if err != nil {
		return HFImport{}, err
	}
	// the tokenizer and chat template are read (and the template rendered
	// once) now, so that a folder whose tokenizer remask cannot use is
	// refused before anything is written
	if _, ok := files["tokenizer.json"]; ok {
		if _, err := data.NewHFTokenizer(files, hf.MaskID); err != nil {
			return HFImport{}, fmt.Errorf("%s: %w", dir, err)
		}
	}
	cfg := hfRunConfig(hf, out)
	if err := cfg.ValidateFields(); err != nil {
		return HFImport{}, fmt.Errorf("%s: the model's config: %w", dir, err)
	}
	y, err := cfg.YAML()
	if err != nil {
		return HFImport{}, err
	}
	abs, _ := filepath.Abs(dir)
	meta := checkpoint.Meta{ConfigYAML: string(y), Seed: cfg.Run.Seed, Version: Version, Created: time.Now().UTC(),
		Extra: map[string]string{"family": hf.Family, "imported_from": abs, "hf_vocab_size": fmt.Sprint(hf.VocabSize),
			"hf_max_positions": fmt.Sprint(hf.MaxPositions), "hf_dtypes": strings.Join(set.DTypes(), ",")}}
	shapes := hf.Config.Shapes()
	specs := make([]checkpoint.WeightSpec, len(shapes))
	n := 0
	for i, s := range shapes {
		specs[i] = checkpoint.WeightSpec{Name: s.Name, Shape: s.Shape}
		n += numelOf(s.Shape)
	}
	err = checkpoint.CreateStreamed(out, meta, files, 0, specs, func(i int, dst []float32) error {
		return model.FillFromHF(layout, specs[i].Name, specs[i].Shape, dst, set)
	})
	if err != nil {
		return HFImport{}, fmt.Errorf("import %s: %w", dir, err)
	}
	imp := HFImport{Path: out, Family: hf.Family, Config: hf.Config, Params: n, DTypes: set.DTypes()}
	for name := range files {
		imp.Files = append(imp.Files, name)
	}
	sort.Strings(imp.Files)
	return imp, nil
}

func numelOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// checkHFTensors checks that the checkpoint holds exactly the family's
// tensors for this config, each of the right shape.
func checkHFTensors(dir string, hf model.HFModel, layout []model.HFTensor, set *checkpoint.SafetensorsSet) error {
	want := map[string]bool{}
	for _, t := range layout {
		want[t.Name] = true
		got, ok := set.Tensor(t.Name)
		if !ok {
			return fmt.Errorf("%s: tensor %s is missing (a %s checkpoint of this config.json has it)", dir, t.Name, hf.Family)
		}
		if !slices.Equal(got.Shape, t.Shape) {
			return fmt.Errorf("%s: tensor %s has shape %v, config.json makes it %v", dir, t.Name, got.Shape, t.Shape)
		}
	}
	for _, t := range set.Tensors() {
		if !want[t.Name] && !model.HFIgnored(hf.Family, hf.Config, t.Name) {
			return fmt.Errorf("%s: tensor %s is not part of a %s model of this config.json", dir, t.Name, hf.Family)
		}
	}
	return nil
}

// readHFFiles reads config.json, the HFFiles present and the *.py files of a
// model folder.
func readHFFiles(dir string) (map[string][]byte, error) {
	names := append([]string{"config.json"}, HFFiles...)
	py, _ := filepath.Glob(filepath.Join(dir, "*.py"))
	for _, p := range py {
		names = append(names, filepath.Base(p))
	}
	files := map[string][]byte{}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files[name] = b
	}
	return files, nil
}

// HFImportedData is data.train in the config of an imported model's store:
// it names no training data (eval has nothing to hold out, and any task
// may be evaluated).
const HFImportedData = "none"

// hfRunConfig is the config an imported model's store holds: the defaults,
// named after the store, with the model section of the checkpoint. It
// describes a model, not a run to repeat: data.train is "none".
func hfRunConfig(hf model.HFModel, out string) configs.Config {
	cfg := configs.Default()
	cfg.Run.Name = strings.TrimSuffix(filepath.Base(out), ".db")
	cfg.Run.Dir = filepath.Dir(out)
	cfg.Data.Task, cfg.Data.Train = "text", HFImportedData
	c := hf.Config
	cfg.Model = configs.Model{D: c.D, Layers: c.Layers, Heads: c.Heads, FF: c.FF, Vocab: "hf", MaxLen: c.MaxLen,
		RopeTheta: c.RopeTheta, NormEps: c.NormEps, Family: hf.Family, KVHeads: c.KVHeads, HeadDim: c.HeadDim,
		QKVBias: c.QKVBias, TiedEmbed: c.TiedEmbed, LogitShift: c.LogitShift, QKNorm: c.QKNorm, VocabSize: c.Vocab, MaskID: hf.MaskID,
		Attention: "full"}
	if c.BlockSize > 0 {
		cfg.Model.Attention, cfg.Model.BlockSize = "block_causal", c.BlockSize
	}
	return cfg
}

// ExportHF writes the checkpoint RUN.db[:STEP] of a llada or dream model as
// a Hugging Face folder dir that the family's published modeling code loads
// unchanged: config.json in the family's schema (the imported config.json's
// fields kept, the network's set from the store's config), model.safetensors
// (F32, the family's tensor names and shapes) and the files the import kept
// (tokenizer, generation config, modeling code). dir must not exist or be
// empty; it is written under a temporary name and renamed, so a failed
// export leaves nothing.
func ExportHF(ref, dir string) (files []string, err error) {
	p, cfg, kept, step, err := loadParams(ref, zerolog.Nop(), true)
	if err != nil {
		return nil, err
	}
	family := cfg.Model.Family
	if family == model.FamilyRemask {
		return nil, fmt.Errorf("export --format hf: %s holds remask's own model (model.family remask), which has no Hugging Face layout; --format safetensors writes its weights", ref)
	}
	var base map[string]any
	if b, ok := kept["config.json"]; ok {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(&base); err != nil {
			return nil, fmt.Errorf("export: the stored config.json: %w", err)
		}
	}
	cj, err := model.HFConfigJSON(family, p.Config, cfg.Model.MaskID, base)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	layout, err := model.HFLayout(family, p.Config)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("export: %s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("export: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dir))+".export-*")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	write := func(name string, fill func(f *os.File) error) error {
		f, err := os.Create(filepath.Join(tmp, name))
		if err != nil {
			return err
		}
		if err := fill(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	infos := make([]checkpoint.STTensor, len(layout))
	for i, t := range layout {
		infos[i] = checkpoint.STTensor{Name: t.Name, Shape: t.Shape}
	}
	var buf []float32
	err = write(checkpoint.SafetensorsFile, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		meta := map[string]string{"format": "pt", "remask_step": strconv.Itoa(step), "remask_version": Version}
		if err := checkpoint.WriteSafetensorsFunc(bw, infos, meta, func(i int) ([]float32, error) {
			var err error
			buf, err = p.HFData(layout[i], buf)
			return buf, err
		}); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out := map[string][]byte{"config.json": cj}
	for name, b := range kept {
		if name != "config.json" {
			out[name] = b
		}
	}
	for name, b := range out {
		if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("export: the store keeps a file named %q, not a plain file name", name)
		}
		if err := write(name, func(f *os.File) error { _, err := f.Write(b); return err }); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		files = append(files, name)
	}
	files = append(files, checkpoint.SafetensorsFile)
	sort.Strings(files)
	os.Remove(dir) // an empty folder given as the target
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return files, nil
}
