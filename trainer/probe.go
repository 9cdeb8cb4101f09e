package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rs/zerolog"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/algos/unigrpo"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

// ProbeOptions say how much an RL gradient probe samples.
type ProbeOptions struct {
	Prompts int // prompts rolled out (G completions each)
	Splits  int // random halvings averaged over
	Log     zerolog.Logger
}

// ProbeReport describes the first RL gradient of a config at its starting
// weights. Each figure is a cosine between two gradients, averaged over
// Splits random halvings of the groups with signal:
//   - HalfAgreement: the gradients of two disjoint halves (different
//     puzzles, different masks). Near 0, one update of that many groups is
//     mostly noise.
//   - MaskAgreement: the same half under two mask draws: how much of the
//     noise is the masking's.
//   - SupervisedAlignment: a half's gradient against the supervised one, the
//     gradient of the same groups' reference answers with advantage +1 under
//     uniform random-ratio masks (4 draws), i.e. where SFT on the right
//     answers would move the weights. Positive: the update teaches the
//     answers. NaN when the task's examples have no reference answer.
type ProbeReport struct {
	Algorithm           string
	Prompts             int
	Group               int
	SignalGroups        int
	Reward              float64
	HalfAgreement       float64
	MaskAgreement       float64
	SupervisedAlignment float64
	Splits              int
}

// Probe rolls out opt.Prompts training prompts of an RL config with its
// starting weights (model.init_from), scores them with its rewards and
// measures its loss's gradient (mu = 1: the plain policy gradient of the
// algorithm's log-prob estimate). It changes no weights and writes nothing:
// it is how to compare estimators and batch sizes before paying for a run.
func Probe(ctx context.Context, cfg configs.Config, opt ProbeOptions) (ProbeReport, error) {
	if !IsRL(cfg.Objective) {
		return ProbeReport{}, fmt.Errorf("probe: objective %s is not an RL algorithm", cfg.Objective)
	}
	if opt.Prompts < 4 || opt.Splits < 1 {
		return ProbeReport{}, fmt.Errorf("probe: need at least 4 prompts and 1 split (got %d, %d)", opt.Prompts, opt.Splits)
	}
	tok, err := runTokenizer(cfg, Options{})
	if err != nil {
		return ProbeReport{}, err
	}
	task, err := data.TaskByName(cfg.Data.Task)
	if err != nil {
		return ProbeReport{}, err
	}
	exs, err := data.Load(cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed)
	if err != nil {
		return ProbeReport{}, fmt.Errorf("data.train: %w", err)
	}
	mc, err := ModelConfig(cfg, tok.Size())
	if err != nil {
		return ProbeReport{}, err
	}
	params, err := initialParams(cfg, mc, opt.Log)
	if err != nil {
		return ProbeReport{}, err
	}
	comps, closeRewards, err := RewardComponents(cfg.Rewards, opt.Log)
	if err != nil {
		return ProbeReport{}, err
	}
	defer closeRewards()
	rs, err := resolveRL(cfg, tok, mc.BlockSize)
	if err != nil {
		return ProbeReport{}, err
	}
	rs.minSignal = 0 // one batch of opt.Prompts prompts, no refills
	pool, err := rolloutPool(cfg, rs, rolloutOptions(cfg, tok, task), opt.Log)
	if err != nil {
		return ProbeReport{}, fmt.Errorf("rollout: %w", err)
	}
	defer pool.Close()
	prompts := make([][]int, len(exs))
	for i, ex := range exs {
		if prompts[i], err = data.EncodePrompt(tok, ex); err != nil {
			return ProbeReport{}, fmt.Errorf("data.train example %d: %w", i, err)
		}
	}
	// the prompts of the run's first step, in its order, collected as the run collects
	col := &collector{tok: tok, exs: exs, prompts: prompts, comps: comps, pool: pool, rs: rs}
	it := data.NewIterator(len(exs), min(opt.Prompts, len(exs)), cfg.Run.Seed, data.Cursor{})
	batch, err := col.collect(ctx, rollout.NewSnapshot(params, 0), 0, it)
	if err != nil {
		return ProbeReport{}, err
	}
	G := rs.common.Group
	samples, rewards, adv, zero, idx, groups := batch.Samples, batch.Rewards, batch.Advantages, batch.ZeroSignal, batch.Examples, batch.Groups
	rep := ProbeReport{Algorithm: cfg.Objective, Prompts: len(groups), Group: G, Splits: opt.Splits}
	for _, r := range rewards {
		rep.Reward += r / float64(len(rewards))
	}
	var signal []int
	for gi, z := range zero {
		if !z {
			signal = append(signal, gi)
		}
	}
	rep.SignalGroups = len(signal)
	if len(signal) < 2 {
		return rep, fmt.Errorf("probe: %d of %d groups have unequal rewards; need 2 (more prompts, or a reward that separates the completions)", len(signal), len(groups))
	}
	// reference answers as completions of the sampler's length
	genLen := len(samples[0].Completion)
	refs := make(map[int]algos.Sample)
	for _, gi := range signal {
		ex := exs[idx[gi]]
		if ex.Answer == "" {
			refs = nil
			break
		}
		a, err := tok.Encode(ex.Answer)
		if err != nil {
			return rep, fmt.Errorf("data.train example %d answer: %w", idx[gi], err)
		}
		for len(a) < genLen {
			a = append(a, tok.EOSID())
		}
		refs[gi] = algos.Sample{Prompt: prompts[idx[gi]], Completion: a[:genLen]}
	}
	gp := &gradProbe{tr: NewTrainer(params, NewAdamW(params, 0.9, 0.999, 1e-8, 0), Schedule{Kind: "constant"}, 0)}
	defer gp.tr.Close()
	gather := func(set []int, ref bool) ([]algos.Sample, []float64, []float64) {
		var s []algos.Sample
		var r, a []float64
		for _, gi := range set {
			if ref {
				s, r, a = append(s, refs[gi]), append(r, 1), append(a, 1)
				continue
			}
			s = append(s, samples[gi*G:(gi+1)*G]...)
			r = append(r, rewards[gi*G:(gi+1)*G]...)
			a = append(a, adv[gi*G:(gi+1)*G]...)
		}
		return s, r, a
	}
	// the supervised direction: the reference answers under uniform
	// random-ratio masks, the clipped loss at ratio 1 (a plain likelihood gradient)
	c := rs.common
	uniform := unigrpo.Algorithm{Masker: unigrpo.Masker{T: 1000, Tok: c.Tok},
		ClippedGRPO: algos.ClippedGRPO{Params: algos.Params{EpsLow: c.EpsLow, EpsHigh: c.EpsHigh, Agg: c.LossAgg}, Mu: 1}}
	rep.SupervisedAlignment = math.NaN()
	var supervised []float64
	if refs != nil {
		s, r, a := gather(signal, true)
		for d := uint64(0); d < 4; d++ {
			g, err := gp.grad(uniform, s, r, a, 1, 0, 1, rlRNG(cfg.Run.Seed, 0, int(d), purposeProbe))
			if err != nil {
				return rep, err
			}
			supervised = addTo(supervised, g)
		}
		rep.SupervisedAlignment = 0
	}
	for k := 0; k < opt.Splits; k++ {
		perm := rlRNG(cfg.Run.Seed, k, 0, purposeProbe+1).Perm(len(signal))
		var A, B []int
		for i, p := range perm {
			if i%2 == 0 {
				A = append(A, signal[p])
			} else {
				B = append(B, signal[p])
			}
		}
		var gs [3][]float64
		for j, set := range [][]int{A, B, A} {
			s, r, a := gather(set, false)
			if gs[j], err = gp.grad(rs.algo, s, r, a, G, 0, c.Mu, rlRNG(cfg.Run.Seed, k, j, purposeProbe+2)); err != nil {
				return rep, err
			}
		}
		n := float64(opt.Splits)
		rep.HalfAgreement += cosine(gs[0], gs[1]) / n
		rep.MaskAgreement += cosine(gs[0], gs[2]) / n
		if supervised != nil {
			rep.SupervisedAlignment += (cosine(gs[0], supervised) + cosine(gs[1], supervised)) / (2 * n)
		}
	}
	return rep, nil
}

const purposeProbe uint64 = 40

// gradProbe computes loss gradients without applying them.
type gradProbe struct {
	tr *Trainer
}

// grad is the gradient of the algorithm's loss at ratio 1 (old = the
// policy, so it is the policy gradient of the estimate; a KL term's
// gradient vanishes with ref = the policy) for one mask draw from rng.
func (g *gradProbe) grad(a algos.Algorithm, s []algos.Sample, rewards, adv []float64, group, iter, mu int, rng *rand.Rand) ([]float64, error) {
	in, err := a.Inputs(s, iter, mu, rng, rng)
	if err != nil {
		return nil, err
	}
	tg, err := g.tr.Graph(in.B, in.L)
	if err != nil {
		return nil, err
	}
	b := model.Batch{IDs: in.IDs, Valid: in.Valid, Targets: in.Targets, Layout: inLayout(in), Loss: func(lp []float64) (float64, []float64, error) {
		o := algos.EstimateAll(in, lp)
		l, gr, _, err := a.Loss(algos.LossBatch{In: in, LP: lp, Old: o, Ref: o, Adv: adv, Rewards: rewards, Group: group})
		return l, gr, err
	}}
	if _, _, err := tg.Run(b); err != nil {
		return nil, err
	}
	grads, err := tg.Grads()
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, t := range grads {
		for _, v := range t {
			out = append(out, float64(v))
		}
	}
	return out, nil
}

func addTo(sum, g []float64) []float64 {
	if sum == nil {
		return g
	}
	for i := range g {
		sum[i] += g[i]
	}
	return sum
}

// cosine of two vectors; 0 when either is zero.
func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
