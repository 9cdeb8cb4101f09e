package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/algos/coupledgrpo"
	"github.com/remask/remask/algos/diffugrpo"
	"github.com/remask/remask/algos/unigrpo"
	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/reward"
	"github.com/remask/remask/rollout"
	natsrollout "github.com/remask/remask/rollout/nats"
)

// IsRL reports whether an objective is one of the RL algorithms.
func IsRL(objective string) bool {
	return objective == "diffu_grpo" || objective == "unigrpo" || objective == "coupled_grpo"
}

// rlSettings are the algorithm's resolved settings: zeros in the config take
// the published defaults of DESIGN.md section 6.
type rlSettings struct {
	masker    algos.Masker
	group, mu int
	beta      float64
	advantage string
	loss      algos.Params
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

func resolveRL(cfg configs.Config, tok *data.Tokenizer) rlSettings {
	sp := algos.Special{Mask: tok.MaskID(), EOS: tok.EOSID(), Pad: tok.PadID(), BOS: tok.BOSID()}
	a := cfg.Algo
	s := rlSettings{group: cfg.Rollout.Group, mu: a.Mu, beta: a.Beta, advantage: a.Advantage,
		loss: algos.Params{EpsLow: a.EpsLow, EpsHigh: a.EpsHigh}, minSignal: a.MinSignalGroups, maxRefills: a.MaxRefills}
	def := func(group, mu int, beta float64, adv string) {
		if s.group == 0 {
			s.group = group
		}
		if s.mu == 0 {
			s.mu = mu
		}
		if s.beta < 0 {
			s.beta = beta
		}
		if s.advantage == "" {
			s.advantage = adv
		}
	}
	switch cfg.Objective {
	case "diffu_grpo":
		s.masker = diffugrpo.Masker{PMaskPrompt: a.PMaskPrompt, Tok: sp}
		def(6, 8, 0.04, "mean")
	case "unigrpo":
		s.masker = unigrpo.Masker{T: a.T, Tok: sp, TraceMasks: a.TraceMasks}
		def(6, 4, 0.04, "group_norm")
	case "coupled_grpo":
		s.masker = coupledgrpo.Masker{TMin: a.TMin, TMax: a.TMax, Tok: sp}
		def(10, 2, 0.01, "loo")
	}
	s.loss.Beta = s.beta
	return s
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
func rolloutOptions(cfg configs.Config, tok *data.Tokenizer, task data.Task) rollout.Options {
	r := cfg.Rollout
	return samplerOptions(configs.Sample{GenLength: r.GenLength, Steps: r.Steps, Block: r.Block, Temperature: r.Temperature,
		Remasking: r.Remasking, Confidence: r.Confidence, Threshold: r.Threshold, Cache: r.Cache}, tok, task)
}

// rolloutPool is the rollout backend of an RL config: its workers, its group
// size and the run seed, so a probe samples what the run's first step
// samples; in process (rollout.backend local) or on NATS workers.
func rolloutPool(cfg configs.Config, rs rlSettings, ro rollout.Options, log zerolog.Logger) (rollout.Backend, error) {
	pc := rollout.PoolConfig{Workers: cfg.Rollout.Workers, Group: rs.group, Seed: uint64(cfg.Run.Seed), Options: ro}
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
// no gradients).
func estimates(inf *model.Inference, in *algos.Inputs) ([][]float64, error) {
	logits, err := inf.Forward(in.IDs, in.B, in.L, in.Valid, nil)
	if err != nil {
		return nil, err
	}
	lp := model.TargetLogProbs(logits, inf.VocabSize(), in.Targets)
	return algos.EstimateAll(in, lp), nil
}

// dumpedBatch is what --dump-batch writes for one inner iteration: enough to
// recompute the loss independently.
type dumpedBatch struct {
	Step, Iter int
	Algorithm  string
	B, L       int
	IDs        []int
	Valid      []bool
	Targets    []int
	Tokens     [][]algos.Estimate
	LogProbs   []float64 // the policy's per-row log-probs at this update
	Old, Ref   [][]float64
	Advantages []float64
	Params     algos.Params
	Loss       float64
}

// trainRL is the RL loop: prompts -> rollout pool -> rewards -> advantages ->
// mu inner updates through the shared trainer -> metrics -> checkpoint.
func trainRL(ctx context.Context, cfg configs.Config, opt Options) (Summary, error) {
	t0 := time.Now()
	log := opt.Log
	tok := data.NewDefaultTokenizer()
	task, err := data.TaskByName(cfg.Data.Task)
	if err != nil {
		return Summary{}, err
	}
	trainEx, err := data.Load(cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed)
	if err != nil {
		return Summary{}, fmt.Errorf("data.train: %w", err)
	}
	evalEx, err := evalSet(cfg, trainEx, log)
	if err != nil {
		return Summary{}, err
	}
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
	rs := resolveRL(cfg, tok)
	ro := rolloutOptions(cfg, tok, task)
	pool, err := rolloutPool(cfg, rs, ro, log)
	if err != nil {
		return Summary{}, fmt.Errorf("rollout: %w", err)
	}
	defer pool.Close()
	mc, err := ModelConfig(cfg, tok.Size())
	if err != nil {
		return Summary{}, err
	}
	run, err := beginRun(cfg, opt, mc, tok)
	if err != nil {
		return Summary{}, err
	}
	st, path, params, cursor, start := run.store, run.path, run.params, run.cursor, run.step
	defer st.Close()
	// the frozen reference: saved with each checkpoint, else the starting weights
	var ref *model.Params
	if run.ck == nil {
		ref = params.Clone()
	} else if ref, err = restoreRef(run.ck, mc); err != nil {
		return Summary{}, fmt.Errorf("resume %s step %d: %w", path, run.ck.Step, err)
	}
	tr := newTrainer(cfg, params, run.adam)
	defer tr.Close()
	it := data.NewIterator(len(prompts), cfg.Rollout.Prompts, cfg.Run.Seed, cursor)
	evalOpts := SampleOptions(cfg, tok, task)
	refInf := model.NewInference(ref)

	log.Info().Str("store", path).Str("algorithm", rs.masker.Name()).Int("group", rs.group).Int("mu", rs.mu).
		Float64("beta", rs.beta).Str("advantage", rs.advantage).Int("workers", pool.Workers()).Int("steps", cfg.Train.Steps).Msg("RL training")

	sum := resumedSummary(path, run)
	save := func(step int, metrics map[string]float64) error {
		ck := snapshot(step, params, tr.Opt, it.Cursor(), metrics)
		for _, t := range ref.Tensors {
			ck.Optim = append(ck.Optim, checkpoint.Tensor{Name: "ref/" + t.Name, Shape: t.Shape, Data: t.Data})
		}
		if err := st.Save(ck); err != nil {
			return fmt.Errorf("save checkpoint at step %d: %w", step, err)
		}
		if cfg.Train.KeepLast > 0 {
			return st.Retain(cfg.Train.KeepLast, cfg.Train.KeepEvery)
		}
		return nil
	}
	evaluate := func(step int, metrics map[string]float64) error {
		acc, samples, err := Evaluate(NewEvalModel(params), tok, task, evalEx, evalOpts, stepRNG(cfg.Run.Seed, step, purposeEval))
		if err != nil {
			return fmt.Errorf("eval at step %d: %w", step, err)
		}
		metrics["eval_acc"] = acc
		sum.EvalAcc = acc
		log.Info().Int("step", step).Float64("eval_acc", acc).Int("n", len(evalEx)).Msg("eval")
		return st.AddSamples(step, samples)
	}
	if start == 0 && len(evalEx) > 0 && cfg.Train.EvalEvery > 0 {
		m := map[string]float64{}
		if err := evaluate(0, m); err != nil {
			return sum, err
		}
		if err := st.LogMetrics(0, m); err != nil {
			return sum, err
		}
	}
	var last StepStats
	// interrupted writes the final checkpoint of a run stopped before step's
	// update: step updates are done, and the data cursor is put back to where
	// step began, so a resumed run rolls out the same prompts again.
	interrupted := func(step int, cursor data.Cursor) (Summary, error) {
		sum.Interrupted = true
		log.Warn().Int("step", step).Msg("interrupted: writing a final checkpoint")
		it = data.NewIterator(len(prompts), cfg.Rollout.Prompts, cfg.Run.Seed, cursor)
		if err := save(step, map[string]float64{"loss": last.Loss}); err != nil {
			return sum, err
		}
		sum.Steps, sum.Elapsed = step, time.Since(t0)
		return sum, nil
	}
	for step := start; step < cfg.Train.Steps; step++ {
		stepCursor := it.Cursor()
		if ctx.Err() != nil {
			return interrupted(step, stepCursor)
		}
		metrics := map[string]float64{}
		// 1. rollout with a frozen snapshot of the policy; with dynamic
		// sampling, further batches of prompts until enough groups carry signal
		tRoll := time.Now()
		snap := rollout.NewSnapshot(params, step)
		var (
			samples     []algos.Sample
			completions []reward.Completion
			scored      []reward.Scored
			groups      []rollout.Group
			rollErr     error
		)
		rounds, signal := 0, 0
		opt.at("rollout", step)
		for {
			idx := it.Next()
			batchPrompts := make([][]int, len(idx))
			for i, j := range idx {
				batchPrompts[i] = prompts[j]
			}
			gs, err := pool.RolloutFrom(ctx, snap, step, len(groups), batchPrompts)
			if err != nil {
				rollErr = err
				break
			}
			var cs []reward.Completion
			for gi, g := range gs {
				ex := trainEx[idx[gi]]
				for s, toks := range g.Tokens {
					cs = append(cs, reward.Completion{Prompt: ex.Prompt, Text: tok.DecodeAnswer(toks), Ref: ex.Ref})
					samples = append(samples, algos.Sample{Prompt: batchPrompts[gi], Completion: toks, Trace: g.Trace[s]})
				}
			}
			// 2. rewards: one batch, so exec plugins pipeline it and code
			// rewards run their sandboxes in parallel
			sc, err := reward.CombineBatch(comps, cs)
			if err != nil {
				return sum, fmt.Errorf("step %d: %w", step, err)
			}
			for gi := range gs {
				if !sameTotals(sc[gi*rs.group : (gi+1)*rs.group]) {
					signal++
				}
			}
			groups, completions, scored = append(groups, gs...), append(completions, cs...), append(scored, sc...)
			rounds++
			if rs.minSignal == 0 || signal >= rs.minSignal || rounds > rs.maxRefills {
				break
			}
		}
		if rollErr != nil {
			if ctx.Err() != nil {
				return interrupted(step, stepCursor)
			}
			return sum, fmt.Errorf("step %d: %w", step, rollErr)
		}
		metrics["rollout_s"] = time.Since(tRoll).Seconds()
		for k, v := range pool.Metrics() {
			metrics[k] = v
		}
		var entSum float64
		for _, g := range groups {
			for _, e := range g.Entropy {
				entSum += e
			}
		}
		rewards := make([]float64, len(scored))
		compSum := map[string]float64{}
		failures := 0
		var logged []checkpoint.Sample
		for i, sc := range scored {
			rewards[i] = sc.Total
			for k, v := range sc.Components {
				compSum[k] += v
			}
			failures += len(sc.Failures)
			if gi, s := i/rs.group, i%rs.group; gi == 0 && s < 4 {
				c := completions[i]
				logged = append(logged, checkpoint.Sample{Prompt: c.Prompt, Completion: c.Text, Reward: sc.Total, Components: sc.Components,
					Failures: sc.Failures, Details: sc.Details, Trace: groups[0].Trace[s]})
			}
		}
		adv, zero, err := algos.Advantages(rewards, rs.group, rs.advantage)
		if err != nil {
			return sum, err
		}
		nZero := 0
		for _, z := range zero {
			if z {
				nZero++
			}
		}
		var rMean, aAbs, lenSum float64
		for i, r := range rewards {
			rMean += r
			aAbs += math.Abs(adv[i])
			lenSum += float64(algos.CountedLength(samples[i].Completion, tok.EOSID()))
		}
		n := float64(len(rewards))
		metrics["reward"] = rMean / n
		for k, v := range compSum {
			metrics["reward/"+k] = v / n
		}
		metrics["adv_abs_mean"] = aAbs / n
		metrics["zero_signal_groups"] = float64(nZero)
		metrics["completion_len"] = lenSum / n
		metrics["entropy"] = entSum / n
		metrics["reward_failures"] = float64(failures)
		if rs.minSignal > 0 {
			metrics["rollout_rounds"] = float64(rounds)
			metrics["prompts_rolled"] = float64(len(groups))
		}
		if cfg.Algo.DropZeroSignal {
			// with dynamic sampling, the first minSignal groups with signal:
			// the update's batch keeps one shape once enough were found
			var ks []algos.Sample
			var ka []float64
			kept := 0
			for gi := range groups {
				if zero[gi] || (rs.minSignal > 0 && kept == rs.minSignal) {
					continue
				}
				kept++
				ks = append(ks, samples[gi*rs.group:(gi+1)*rs.group]...)
				ka = append(ka, adv[gi*rs.group:(gi+1)*rs.group]...)
			}
			samples, adv = ks, ka
		}
		// 3. mu inner updates; old and reference estimates first, without gradients
		tUpd := time.Now()
		if len(samples) > 0 {
			inputs := make([]*algos.Inputs, rs.mu)
			olds := make([][][]float64, rs.mu)
			refs := make([][][]float64, rs.mu)
			oldInf := model.NewInference(snap.Params)
			for k := 0; k < rs.mu; k++ {
				in, err := rs.masker.Inputs(samples, k, rs.mu, rlRNG(cfg.Run.Seed, step, 0, purposeRLBatch), rlRNG(cfg.Run.Seed, step, k, purposeRLIter))
				if err != nil {
					return sum, err
				}
				inputs[k] = in
				if rs.mu > 1 {
					if olds[k], err = estimates(oldInf, in); err != nil {
						return sum, err
					}
				}
				if rs.beta != 0 {
					if refs[k], err = estimates(refInf, in); err != nil {
						return sum, err
					}
				}
			}
			var stats algos.Stats
			for k := 0; k < rs.mu; k++ {
				opt.at("update", step)
				in, old, refK := inputs[k], olds[k], refs[k]
				var lpSeen []float64
				batch := model.Batch{IDs: in.IDs, Valid: in.Valid, Targets: in.Targets, Loss: func(lp []float64) (float64, []float64, error) {
					o := old
					if o == nil { // mu = 1: the old policy is the policy itself, detached: every ratio is exactly 1
						o = algos.EstimateAll(in, lp)
					}
					r := refK
					if r == nil {
						r = o // beta = 0: the KL term has no weight
					}
					loss, grad, s, err := algos.Loss(in, lp, o, r, adv, rs.loss)
					stats = s
					lpSeen = lp
					return loss, grad, err
				}}
				if last, err = tr.Update(step, in.B, in.L, batch); err != nil {
					return sum, fmt.Errorf("step %d iteration %d: %w", step, k, err)
				}
				if opt.DumpBatch != "" {
					o := old
					if o == nil {
						o = algos.EstimateAll(in, lpSeen)
					}
					d := dumpedBatch{Step: step, Iter: k, Algorithm: rs.masker.Name(), B: in.B, L: in.L, IDs: in.IDs, Valid: in.Valid,
						Targets: in.Targets, Tokens: in.Tokens, LogProbs: lpSeen, Old: o, Ref: refK, Advantages: adv, Params: rs.loss, Loss: last.Loss}
					if err := writeDump(opt.DumpBatch, d); err != nil {
						return sum, err
					}
				}
			}
			metrics["loss"] = last.Loss
			metrics["grad_norm"] = last.GradNorm
			metrics["kl"] = stats.KL
			metrics["clip_frac"] = stats.ClipFrac
			metrics["ratio_mean"] = stats.RatioMean
			metrics["ratio_min"] = stats.RatioMin
			metrics["ratio_max"] = stats.RatioMax
		}
		metrics["update_s"] = time.Since(tUpd).Seconds()
		metrics["lr"] = last.LR
		done := step + 1
		// 4. reference re-sync
		if cfg.Algo.RefSyncEvery > 0 && done%cfg.Algo.RefSyncEvery == 0 {
			alpha := float32(cfg.Algo.RefSyncAlpha)
			for i, t := range ref.Tensors {
				for j := range t.Data {
					t.Data[j] = alpha*params.Tensors[i].Data[j] + (1-alpha)*t.Data[j]
				}
			}
		}
		if opt.Progress != nil {
			opt.Progress(done, cfg.Train.Steps, last)
		}
		if cfg.Train.EvalEvery > 0 && len(evalEx) > 0 && (done%cfg.Train.EvalEvery == 0 || done == cfg.Train.Steps) {
			opt.at("eval", done)
			if err := evaluate(done, metrics); err != nil {
				return sum, err
			}
		} else if err := st.AddSamples(done, logged); err != nil {
			return sum, err
		}
		if done%max(cfg.Train.LogEvery, 1) == 0 || done == cfg.Train.Steps {
			if err := st.LogMetrics(done, metrics); err != nil {
				return sum, err
			}
			log.Info().Int("step", done).Float64("reward", metrics["reward"]).Float64("loss", metrics["loss"]).
				Float64("kl", metrics["kl"]).Float64("entropy", metrics["entropy"]).Float64("clip_frac", metrics["clip_frac"]).Float64("zero_signal_groups", metrics["zero_signal_groups"]).Msg("rl")
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

func writeDump(dir string, d dumpedBatch) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--dump-batch: %w", err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("--dump-batch: %w", err)
	}
	p := filepath.Join(dir, fmt.Sprintf("step%06d_iter%02d.json", d.Step, d.Iter))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("--dump-batch: %w", err)
	}
	return nil
}
