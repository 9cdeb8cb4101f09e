package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/reward"
	"github.com/remask/remask/rollout"
	natsrollout "github.com/remask/remask/rollout/nats"
)

// IsRL reports whether an objective is one of the registered RL algorithms
// (algos.Register; `remask algos` lists them).
func IsRL(objective string) bool { return configs.IsRL(objective) }

// rlSettings are the algorithm and its resolved settings: zeros in the
// config take the algorithm's published defaults (algos.Registration).
type rlSettings struct {
	name   string
	algo   algos.Algorithm
	common algos.Common
	// dynamic sampling: roll further batches of prompts, at most maxRefills,
	// until minSignal groups have unequal rewards (0 = off)
	minSignal, maxRefills int
}

// sameTotals reports whether a group's rewards are all equal: it carries no
// signal for a group-relative advantage.
func sameTotals(g []reward.Scored) bool {
	for _, s := range g {
		if s.Total != g[0].Total {
			return false
		}
	}
	return true
}

// resolveRL builds the config's algorithm from the registry for a model of
// attention block bs (0: full attention).
func resolveRL(cfg configs.Config, tok data.Tokenizer, bs int) (rlSettings, error) {
	reg, ok := algos.Lookup(cfg.Objective)
	if !ok {
		return rlSettings{}, fmt.Errorf("objective %q is not a registered RL algorithm (%s)", cfg.Objective, strings.Join(algos.Names(), ", "))
	}
	a := cfg.Algo
	c := reg.Resolve(algos.Common{
		Tok:   algos.Special{Mask: tok.MaskID(), EOS: tok.EOSID(), Pad: tok.PadID(), BOS: tok.BOSID()},
		Group: cfg.Rollout.Group, Mu: a.Mu, Beta: a.Beta, EpsLow: a.EpsLow, EpsHigh: a.EpsHigh, Advantage: a.Advantage, LossAgg: a.LossAgg, BlockSize: bs})
	algo, err := reg.New(a.Section(cfg.Objective), c)
	if err != nil {
		return rlSettings{}, fmt.Errorf("algo.%s: %w", cfg.Objective, err)
	}
	return rlSettings{name: reg.Name, algo: algo, common: c, minSignal: a.MinSignalGroups, maxRefills: a.MaxRefills}, nil
}

// RewardComponents builds the weighted rewards of a config and starts its
// exec plugins; the returned function stops them.
func RewardComponents(specs []configs.RewardSpec, log zerolog.Logger) ([]reward.Component, func(), error) {
	var comps []reward.Component
	var plugins []*reward.Exec
	closeAll := func() {
		for _, p := range plugins {
			p.Close()
		}
	}
	keys := map[string]int{} // configs refuses a key used twice; so do we, for other callers
	for i, r := range specs {
		if j, dup := keys[r.Label()]; dup {
			closeAll()
			return nil, nil, fmt.Errorf("rewards[%d]: key %q is also rewards[%d]'s", i, r.Label(), j)
		}
		keys[r.Label()] = i
		var rw reward.Reward
		var err error
		if len(r.Exec) > 0 {
			timeout := 2 * time.Second
			if r.Timeout != "" {
				timeout, _ = time.ParseDuration(r.Timeout) // validated by configs
			}
			var p *reward.Exec
			if p, err = reward.NewExec(r.Exec, timeout, log); err == nil {
				p.Name = r.Name
				if r.StartupGrace != "" {
					p.Startup, _ = time.ParseDuration(r.StartupGrace)
				}
				if r.MaxConsecutiveFailures != nil {
					p.MaxConsecutiveFailures = *r.MaxConsecutiveFailures
				}
				plugins = append(plugins, p)
				rw, err = p, p.Start() // one that cannot start fails the run here, before any rollout
			}
		} else {
			rw, err = reward.NewLogged(r.Name, log)
		}
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("rewards[%d]: %w", i, err)
		}
		comps = append(comps, reward.Component{Name: r.Label(), Weight: r.Weight, Reward: rw, FailureScore: r.FailureScore})
	}
	return comps, closeAll, nil
}

// rng streams of the RL loop, each derived from (seed, step, purpose[, iteration]).
func rlRNG(seed int64, step, iter int, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0x524c, uint64(step)<<20|uint64(iter)<<8|purpose))
}

const (
	purposeRLBatch uint64 = iota + 10
	purposeRLIter
)

// rolloutOptions are the sampler settings of the rollout section.
func rolloutOptions(cfg configs.Config, tok data.Tokenizer, task data.Task) rollout.Options {
	r := cfg.Rollout
	return samplerOptions(configs.Sample{GenLength: r.GenLength, Steps: r.Steps, Block: r.Block, Temperature: r.Temperature,
		Remasking: r.Remasking, Confidence: r.Confidence, Threshold: r.Threshold, Cache: r.Cache}, tok, task)
}

// rolloutPool is the rollout backend of an RL config: its workers, its group
// size and the run seed, so a probe samples what the run's first step
// samples; in process (rollout.backend local) or on NATS workers.
func rolloutPool(cfg configs.Config, rs rlSettings, ro rollout.Options, log zerolog.Logger) (rollout.Backend, error) {
	pc := rollout.PoolConfig{Workers: cfg.Rollout.Workers, Group: rs.common.Group, Seed: uint64(cfg.Run.Seed), Options: ro}
	if r := cfg.Rollout; r.Backend == "nats" {
		n := r.NATS
		return natsrollout.Open(natsrollout.Settings{URL: n.URL, User: n.User, Password: string(n.Password), Token: string(n.Token), Creds: n.Creds,
			NKey: n.NKey, CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile, InsecureSkipVerify: n.TLS.InsecureSkipVerify,
			ConnectTimeout: n.ConnectTimeout, AckWait: n.AckWait, StepTimeout: n.StepTimeout, MaxStaleness: r.MaxStaleness}, pc, Version, log)
	}
	return rollout.NewPool(pc)
}

// estimates runs the plain-Go forward of p on an iteration's inputs and
// returns every counted token's log-prob estimate (old or reference policy:
// no gradients). A block-causal model's side-by-side rows go through the
// forward under their layout, as the training graph sees them.
func estimates(inf *model.Inference, in *algos.Inputs) ([][]float64, error) {
	var logits []float32
	var err error
	if lay := inLayout(in); lay != nil {
		logits, err = inf.ForwardLayout(in.IDs, in.B, in.L, in.Valid, lay, nil)
	} else {
		logits, err = inf.Forward(in.IDs, in.B, in.L, in.Valid, nil)
	}
	if err != nil {
		return nil, err
	}
	lp := model.TargetLogProbs(logits, inf.VocabSize(), in.Targets)
	return algos.EstimateAll(in, lp), nil
}

// inLayout is the model layout of an estimator's block rows, nil without.
func inLayout(in *algos.Inputs) *model.Layout {
	if in.Blocks == nil {
		return nil
	}
	return &model.Layout{Block: in.Blocks.Block, Noisy: in.Blocks.Noisy, Pos: in.Blocks.Pos}
}

// Batch is what the collect phase of one RL step produces and the update
// phase learns from (`remask probe` collects the same way): the groups
// rolled out with the step's snapshot, their rewards and advantages.
// Completion i belongs to group i / Group; the arrays are in group order.
type Batch struct {
	Step     int
	Group    int               // completions per prompt
	Snapshot *rollout.Snapshot // the policy the completions were sampled with (the old policy)
	Groups   []rollout.Group
	Examples []int // per group, the index of its example in the training set
	Samples  []algos.Sample
	// the completions as the rewards saw them, and their scores
	Completions []reward.Completion
	Scored      []reward.Scored
	Rewards     []float64 // per completion, the weighted total
	Advantages  []float64 // per completion (algo.advantage)
	ZeroSignal  []bool    // per group: all its rewards are equal
	Rounds      int       // rollout rounds (more than 1 with dynamic sampling)
	FirstRound  int       // groups of the first round, before any refill
}

// SignalGroups counts the groups whose rewards differ.
func (b *Batch) SignalGroups() int {
	n := 0
	for _, z := range b.ZeroSignal {
		if !z {
			n++
		}
	}
	return n
}

// ZeroSignalFrac is the fraction of the first round's groups (before any
// refill) whose rewards are all equal: the share of prompts that teach
// nothing at the current policy.
func (b *Batch) ZeroSignalFrac() float64 {
	if b.FirstRound == 0 {
		return 0
	}
	n := 0
	for _, z := range b.ZeroSignal[:b.FirstRound] {
		if z {
			n++
		}
	}
	return float64(n) / float64(b.FirstRound)
}

// collector runs the collect phase: rollout, rewards, advantages.
type collector struct {
	tok     data.Tokenizer
	exs     []data.Example
	prompts [][]int
	comps   []reward.Component
	pool    rollout.Backend
	rs      rlSettings
}

// collect rolls out the iterator's next prompts with snap and scores them;
// with dynamic sampling (rs.minSignal > 0), further batches until enough
// groups carry signal or the refills run out.
func (c *collector) collect(ctx context.Context, snap *rollout.Snapshot, step int, it *data.Iterator) (*Batch, error) {
	G := c.rs.common.Group
	b := &Batch{Step: step, Group: G, Snapshot: snap}
	signal := 0
	for {
		idx := it.Next()
		batchPrompts := make([][]int, len(idx))
		for i, j := range idx {
			batchPrompts[i] = c.prompts[j]
		}
		gs, err := c.pool.RolloutFrom(ctx, snap, step, len(b.Groups), batchPrompts)
		if err != nil {
			return nil, err
		}
		var cs []reward.Completion
		for gi, g := range gs {
			ex := c.exs[idx[gi]]
			for s, toks := range g.Tokens {
				cs = append(cs, reward.Completion{Prompt: ex.Prompt, Text: c.tok.DecodeAnswer(toks), Ref: ex.Ref})
				b.Samples = append(b.Samples, algos.Sample{Prompt: batchPrompts[gi], Completion: toks, Trace: g.Trace[s]})
			}
		}
		// one batch, so exec plugins pipeline it and code rewards run their
		// sandboxes in parallel
		sc, err := reward.CombineBatch(c.comps, cs)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		for gi := range gs {
			if !sameTotals(sc[gi*G : (gi+1)*G]) {
				signal++
			}
		}
		b.Groups, b.Examples = append(b.Groups, gs...), append(b.Examples, idx...)
		b.Completions, b.Scored = append(b.Completions, cs...), append(b.Scored, sc...)
		b.Rounds++
		if b.Rounds == 1 {
			b.FirstRound = len(gs)
		}
		if c.rs.minSignal == 0 || signal >= c.rs.minSignal || b.Rounds > c.rs.maxRefills {
			break
		}
	}
	b.Rewards = make([]float64, len(b.Scored))
	for i, sc := range b.Scored {
		b.Rewards[i] = sc.Total
	}
	var err error
	b.Advantages, b.ZeroSignal, err = algos.Advantages(b.Rewards, G, c.rs.common.Advantage)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// metrics are the collect phase's figures for the step's metrics row.
func (b *Batch) metrics(eos int, dynamic bool, m map[string]float64) {
	var entSum float64
	for _, g := range b.Groups {
		for _, e := range g.Entropy {
			entSum += e
		}
	}
	compSum := map[string]float64{}
	failures := 0
	var rMean, aAbs, lenSum float64
	for i, sc := range b.Scored {
		for k, v := range sc.Components {
			compSum[k] += v
		}
		failures += len(sc.Failures)
		rMean += b.Rewards[i]
		aAbs += math.Abs(b.Advantages[i])
		lenSum += float64(algos.CountedLength(b.Samples[i].Completion, eos))
	}
	n := float64(len(b.Rewards))
	m["reward"] = rMean / n
	for k, v := range compSum {
		m["reward/"+k] = v / n
	}
	m["adv_abs_mean"] = aAbs / n
	m["zero_signal_groups"] = float64(len(b.ZeroSignal) - b.SignalGroups())
	m["zero_signal_frac"] = b.ZeroSignalFrac()
	m["completion_len"] = lenSum / n
	m["entropy"] = entSum / n
	m["reward_failures"] = float64(failures)
	if dynamic {
		m["rollout_rounds"] = float64(b.Rounds)
		m["prompts_rolled"] = float64(len(b.Groups))
	}
}

// logged are the first group's first completions, kept with the step.
func (b *Batch) logged() []checkpoint.Sample {
	var out []checkpoint.Sample
	for s := 0; s < min(4, b.Group, len(b.Scored)); s++ {
		c, sc := b.Completions[s], b.Scored[s]
		out = append(out, checkpoint.Sample{Prompt: c.Prompt, Completion: c.Text, Reward: sc.Total, Components: sc.Components,
			Failures: sc.Failures, Details: sc.Details, Trace: b.Groups[0].Trace[s]})
	}
	return out
}

// learnable is what the update trains on: every group, or with
// algo.drop_zero_signal those with signal (with dynamic sampling, the
// first minSignal of them, so the update's batch keeps one shape once
// enough were found). It returns the samples, their rewards and
// advantages.
func (b *Batch) learnable(drop bool, minSignal int) ([]algos.Sample, []float64, []float64) {
	if !drop {
		return b.Samples, b.Rewards, b.Advantages
	}
	var ks []algos.Sample
	var kr, ka []float64
	kept, G := 0, b.Group
	for gi := range b.Groups {
		if b.ZeroSignal[gi] || (minSignal > 0 && kept == minSignal) {
			continue
		}
		kept++
		ks = append(ks, b.Samples[gi*G:(gi+1)*G]...)
		kr = append(kr, b.Rewards[gi*G:(gi+1)*G]...)
		ka = append(ka, b.Advantages[gi*G:(gi+1)*G]...)
	}
	return ks, kr, ka
}

// signalWatch warns when rewards stop separating completions: once per run
// when most groups (> 50%) of a step carry no signal, and loudly whenever no
// group at all had signal for `patience` steps in a row.
type signalWatch struct {
	patience int
	dynamic  bool // dynamic sampling is on: it already rolls further prompts
	warned   bool
	streak   int
}

func (w *signalWatch) observe(log zerolog.Logger, step int, b *Batch, rewardMean float64) {
	frac := b.ZeroSignalFrac()
	if frac > 0.5 && !w.warned {
		w.warned = true
		advice := "consider algo.drop_zero_signal with algo.min_signal_groups, a larger rollout.group, a higher rollout.temperature or a shaped reward"
		if w.dynamic {
			advice = "dynamic sampling rolls further prompts to make up for them, which costs rollout time; a larger rollout.group, a higher rollout.temperature or a shaped reward would waste fewer"
		}
		log.Warn().Int("step", step).Float64("zero_signal_frac", frac).Float64("reward", rewardMean).
			Msg("most groups have no reward signal (all completions of a prompt score the same): they teach nothing; " + advice)
	}
	if b.SignalGroups() > 0 {
		w.streak = 0
		return
	}
	w.streak++
	if w.streak%w.patience == 0 {
		log.Error().Int("step", step).Int("steps_without_signal", w.streak).Float64("zero_signal_frac", frac).Float64("reward", rewardMean).
			Msgf("NO REWARD SIGNAL for %d steps in a row: every group's completions scored the same (mean reward %g); the loss is zero and the policy is not learning", w.streak, rewardMean)
	}
}

// updater runs the update phase: mu inner updates of the algorithm's loss
// through the shared trainer.
type updater struct {
	cfg    configs.Config
	rs     rlSettings
	tr     *Trainer
	refInf *model.Inference
	opt    Options
}

// update trains on b's learnable groups, writing the dump when asked, and
// adds the update's figures to m. It returns the last inner update's stats
// (last, unchanged, when no group was learnable).
func (u *updater) update(b *Batch, m map[string]float64, last StepStats) (StepStats, error) {
	samples, rewards, adv := b.learnable(u.cfg.Algo.DropZeroSignal, u.rs.minSignal)
	if len(samples) == 0 {
		return last, nil
	}
	step, mu, seed := b.Step, u.rs.common.Mu, u.cfg.Run.Seed
	needOld, needRef := u.rs.algo.Needs()
	// the inputs and the old and reference estimates first, without gradients
	inputs := make([]*algos.Inputs, mu)
	olds := make([][][]float64, mu)
	refs := make([][][]float64, mu)
	oldInf := model.NewInference(b.Snapshot.Params)
	for k := 0; k < mu; k++ {
		in, err := u.rs.algo.Inputs(samples, k, mu, rlRNG(seed, step, 0, purposeRLBatch), rlRNG(seed, step, k, purposeRLIter))
		if err != nil {
			return last, err
		}
		inputs[k] = in
		if needOld {
			if olds[k], err = estimates(oldInf, in); err != nil {
				return last, err
			}
		}
		if needRef {
			if refs[k], err = estimates(u.refInf, in); err != nil {
				return last, err
			}
		}
	}
	var stats algos.Stats
	skipped := 0
	for k := 0; k < mu; k++ {
		u.opt.at("update", step)
		in := inputs[k]
		lb := algos.LossBatch{In: in, Old: olds[k], Ref: refs[k], Adv: adv, Rewards: rewards, Group: b.Group}
		batch := model.Batch{IDs: in.IDs, Valid: in.Valid, Targets: in.Targets, Layout: inLayout(in), Loss: func(lp []float64) (float64, []float64, error) {
			lb.LP = lp
			if olds[k] == nil { // the old policy is the policy itself, detached: every ratio is exactly 1
				lb.Old = algos.EstimateAll(in, lp)
			}
			loss, grad, s, err := u.rs.algo.Loss(lb)
			stats = s
			return loss, grad, err
		}}
		var err error
		if last, err = u.tr.Update(step, in.B, in.L, batch); err != nil {
			return last, fmt.Errorf("step %d iteration %d: %w", step, k, err)
		}
		if last.Skipped {
			skipped++
		}
		if u.opt.DumpBatch != "" {
			if err := writeDump(u.opt.DumpBatch, newDump(u.cfg, u.rs, b, samples, rewards, k, lb, last.Loss)); err != nil {
				return last, err
			}
		}
	}
	m["loss"] = last.Loss
	m["skipped_updates"] = float64(skipped)
	m["grad_norm"] = last.GradNorm
	m["kl"] = stats.KL
	m["clip_frac"] = stats.ClipFrac
	m["ratio_mean"] = stats.RatioMean
	m["ratio_min"] = stats.RatioMin
	m["ratio_max"] = stats.RatioMax
	return last, nil
}

// trainRL is the RL loop: each step collects (rollout, rewards,
// advantages), updates (mu inner updates through the shared trainer), then
// the after-step work (reference sync here; metrics, eval and checkpoint in
// the shared loop).
func trainRL(ctx context.Context, cfg configs.Config, opt Options) (Summary, error) {
	log := opt.Log
	rd, err := loadRun(cfg, opt)
	if err != nil {
		return Summary{}, err
	}
	tok, trainEx := rd.tok, rd.trainEx
	prompts := make([][]int, len(trainEx))
	for i, ex := range trainEx {
		if prompts[i], err = data.EncodePrompt(tok, ex); err != nil {
			return Summary{}, fmt.Errorf("data.train example %d: %w", i, err)
		}
	}
	comps, closeRewards, err := RewardComponents(cfg.Rewards, log)
	if err != nil {
		return Summary{}, err
	}
	defer closeRewards()
	rs, err := resolveRL(cfg, tok, rd.mc.BlockSize)
	if err != nil {
		return Summary{}, err
	}
	pool, err := rolloutPool(cfg, rs, rolloutOptions(cfg, tok, rd.task), log)
	if err != nil {
		return Summary{}, fmt.Errorf("rollout: %w", err)
	}
	defer pool.Close()
	l, run, err := rd.begin(cfg, opt, len(prompts), cfg.Rollout.Prompts)
	if err != nil {
		return Summary{}, err
	}
	defer l.close()
	params := run.params
	// the frozen reference: saved with each checkpoint, else the starting weights
	var ref *model.Params
	if run.ck == nil {
		ref = params.Clone()
	} else if ref, err = restoreRef(run.ck, rd.mc); err != nil {
		return Summary{}, fmt.Errorf("resume %s step %d: %w", run.path, run.ck.Step, err)
	}
	l.extra = func() []checkpoint.Tensor {
		var ts []checkpoint.Tensor
		for _, t := range ref.Tensors {
			ts = append(ts, checkpoint.Tensor{Name: "ref/" + t.Name, Shape: t.Shape, Data: t.Data})
		}
		return ts
	}
	col := &collector{tok: tok, exs: trainEx, prompts: prompts, comps: comps, pool: pool, rs: rs}
	upd := &updater{cfg: cfg, rs: rs, tr: l.tr, refInf: model.NewInference(ref), opt: opt}
	watch := &signalWatch{patience: max(cfg.Algo.ZeroSignalSteps, 1), dynamic: cfg.Algo.DropZeroSignal && rs.minSignal > 0}

	c := rs.common
	log.Info().Str("store", run.path).Str("algorithm", rs.name).Int("group", c.Group).Int("mu", c.Mu).
		Float64("beta", c.Beta).Str("advantage", c.Advantage).Str("loss_agg", c.LossAgg).Int("workers", pool.Workers()).Int("steps", cfg.Train.Steps).Msg("RL training")

	return l.run(ctx, run.step, true, func(ctx context.Context, step int, last StepStats, metrics map[string]float64) (stepResult, error) {
		// 1. collect: rollout with a frozen snapshot of the policy, rewards, advantages
		tRoll := time.Now()
		opt.at("rollout", step)
		b, err := col.collect(ctx, rollout.NewSnapshot(params, step), step, l.it)
		if err != nil {
			if ctx.Err() != nil {
				return stepResult{}, errInterrupted
			}
			return stepResult{}, fmt.Errorf("step %d: %w", step, err)
		}
		metrics["rollout_s"] = time.Since(tRoll).Seconds()
		for k, v := range pool.Metrics() {
			metrics[k] = v
		}
		b.metrics(tok.EOSID(), rs.minSignal > 0, metrics)
		watch.observe(log, step+1, b, metrics["reward"])
		// 2. update
		tUpd := time.Now()
		if last, err = upd.update(b, metrics, last); err != nil {
			return stepResult{}, err
		}
		metrics["update_s"] = time.Since(tUpd).Seconds()
		metrics["lr"] = last.LR
		// 3. after the step: the reference re-sync (the loop does the rest)
		if done := step + 1; cfg.Algo.RefSyncEvery > 0 && done%cfg.Algo.RefSyncEvery == 0 {
			alpha := float32(cfg.Algo.RefSyncAlpha)
			for i, t := range ref.Tensors {
				for j := range t.Data {
					t.Data[j] = alpha*params.Tensors[i].Data[j] + (1-alpha)*t.Data[j]
				}
			}
		}
		return stepResult{stats: last, logged: b.logged(), log: func(e *zerolog.Event) {
			e.Float64("reward", metrics["reward"]).Float64("loss", metrics["loss"]).Float64("kl", metrics["kl"]).
				Float64("entropy", metrics["entropy"]).Float64("clip_frac", metrics["clip_frac"]).
				Float64("zero_signal_frac", metrics["zero_signal_frac"]).Msg("rl")
		}}, nil
	})
}

// restoreRef reads the reference model kept in a checkpoint's optimizer
// group under "ref/".
func restoreRef(ck *checkpoint.Checkpoint, mc model.Config) (*model.Params, error) {
	var ts []model.Tensor
	for _, t := range ck.Optim {
		if name, ok := strings.CutPrefix(t.Name, "ref/"); ok {
			ts = append(ts, model.Tensor{Name: name, Shape: t.Shape, Data: t.Data})
		}
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("checkpoint has no reference model")
	}
	return model.FromTensors(mc, ts)
}
