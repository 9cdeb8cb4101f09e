package algos

import (
	"fmt"
	"math"
	"strings"
)

// AdvantageModes are the modes Advantages knows.
var AdvantageModes = []string{"mean", "group_norm", "loo", "zscore"}

// Advantages turns the rewards of groups of G consecutive completions into
// advantages:
//   - "mean": r_i - mean(r) (d1's code: no division by the std)
//   - "group_norm": (r_i - mean(r)) / (std(r) + 1e-4), std unbiased as in TRL
//   - "loo": r_i - mean of the other G-1 rewards (leave-one-out, DiffuCoder)
//   - "zscore": (r_i - mean(r)) / std(r), std of the population (divided by
//     G), 0 for a group whose rewards are all equal (TraceRL's dLLM-RL)
//
// It also reports which groups carry no signal (all rewards equal).
func Advantages(rewards []float64, G int, mode string) (adv []float64, zeroSignal []bool, err error) {
	if G < 1 || len(rewards)%G != 0 {
		return nil, nil, fmt.Errorf("advantages: %d rewards do not split into groups of %d", len(rewards), G)
	}
	adv = make([]float64, len(rewards))
	for g := 0; g < len(rewards)/G; g++ {
		r := rewards[g*G : (g+1)*G]
		var mean float64
		same := true
		for _, x := range r {
			mean += x
			same = same && x == r[0]
		}
		mean /= float64(G)
		zeroSignal = append(zeroSignal, same)
		var sq, std float64
		for _, x := range r {
			sq += (x - mean) * (x - mean)
		}
		if G > 1 {
			std = math.Sqrt(sq / float64(G-1))
		}
		stdPop := math.Sqrt(sq / float64(G))
		for i, x := range r {
			switch mode {
			case "mean":
				adv[g*G+i] = x - mean
			case "group_norm":
				adv[g*G+i] = (x - mean) / (std + 1e-4)
			case "loo":
				if G > 1 {
					adv[g*G+i] = x - (mean*float64(G)-x)/float64(G-1)
				}
			case "zscore":
				if !same {
					adv[g*G+i] = (x - mean) / stdPop
				}
			default:
				return nil, nil, fmt.Errorf("advantages: unknown mode %q (%s)", mode, strings.Join(AdvantageModes, ", "))
			}
		}
	}
	return adv, zeroSignal, nil
}

// Surrogate is the per-token GRPO loss and its derivative with respect to the
// policy's log-probability l:
//
//	rho = exp(l - lOld)
//	loss = -min(rho A, clip(rho, 1-epsLow, 1+epsHigh) A) + beta (exp(lRef - l) - (lRef - l) - 1)
//
// The min takes the clipped branch only where clipping lowers the
// objective; there the gradient of the first term is zero.
func Surrogate(l, lOld, lRef, A, epsLow, epsHigh, beta float64) (loss, grad float64, clipped bool) {
	rho := math.Exp(l - lOld)
	unclipped := rho * A
	c := math.Min(math.Max(rho, 1-epsLow), 1+epsHigh) * A
	if c < unclipped {
		loss, clipped = -c, true
	} else {
		loss, grad = -unclipped, -unclipped
	}
	if beta != 0 {
		d := lRef - l
		loss += beta * (math.Exp(d) - d - 1)
		grad += beta * (1 - math.Exp(d))
	}
	return loss, grad, clipped
}

// Estimate is how one completion token's log-probability is read off the
// graph's per-row log-probabilities: sum_j W[j] * lp[Rows[j]].
type Estimate struct {
	Rows []int     `json:"rows"`
	W    []float64 `json:"w"`
}

// Value evaluates the estimate.
func (e Estimate) Value(lp []float64) float64 {
	var v float64
	for j, r := range e.Rows {
		v += e.W[j] * lp[r]
	}
	return v
}

// Inputs are one inner iteration's masked model inputs for a batch of
// completions, and which tokens of each completion the loss counts.
type Inputs struct {
	B, L    int
	IDs     []int
	Valid   []bool
	Targets []int        // the token whose log-prob each row gives; -1 = none
	Tokens  [][]Estimate // per completion, the counted units' estimates (a token's, or a sequence's for a sequence-level estimator)
	// Draws are the estimator's random draws that the masks alone do not
	// show (a masking ratio, a t per completion), by name, for --dump-batch.
	Draws map[string]any
	// Blocks place the rows for a block-causal model (SideBySide); nil with
	// full attention.
	Blocks *BlockRows `json:"blocks,omitempty"`
}

// Params are the loss settings.
type Params struct {
	EpsLow, EpsHigh, Beta float64
	// Agg is how per-token terms are averaged (Aggregations): "token" or
	// "sequence"; "" is "sequence", what remask did before the option.
	Agg string
}

// Stats summarise one loss evaluation.
type Stats struct {
	Loss, ClipFrac, RatioMean, RatioMin, RatioMax, KL float64
	Tokens                                            int
}

// Loss evaluates the GRPO loss of a batch. With p.Agg "sequence" (or ""):
// per completion, the mean over its counted tokens of Surrogate, then the
// mean over completions (completions with no counted token are skipped);
// with "token": the sum over every counted token of the batch divided by
// their number. old and ref are the per-token estimates
// of the old and reference policies (same shape as in.Tokens); adv is one
// advantage per completion. It returns the loss, d loss / d lp for every row,
// and stats.
func Loss(in *Inputs, lp []float64, old, ref [][]float64, adv []float64, p Params) (float64, []float64, Stats, error) {
	if len(adv) != len(in.Tokens) || len(old) != len(in.Tokens) || len(ref) != len(in.Tokens) {
		return 0, nil, Stats{}, fmt.Errorf("grpo loss: %d completions, %d advantages, %d old, %d ref", len(in.Tokens), len(adv), len(old), len(ref))
	}
	grad := make([]float64, len(lp))
	st := Stats{RatioMin: math.Inf(1), RatioMax: math.Inf(-1)}
	counted, total := 0, 0
	for _, toks := range in.Tokens {
		if len(toks) > 0 {
			counted++
		}
		total += len(toks)
	}
	switch p.Agg {
	case "", "sequence", "token":
	default:
		return 0, nil, Stats{}, fmt.Errorf("grpo loss: unknown aggregation %q (token, sequence)", p.Agg)
	}
	if counted == 0 {
		return 0, grad, Stats{}, nil
	}
	var loss, clipped, ratioSum, klSum float64
	for i, toks := range in.Tokens {
		if len(toks) == 0 {
			continue
		}
		if len(old[i]) != len(toks) || len(ref[i]) != len(toks) {
			return 0, nil, Stats{}, fmt.Errorf("grpo loss: completion %d has %d tokens, %d old, %d ref", i, len(toks), len(old[i]), len(ref[i]))
		}
		scale := 1 / (float64(len(toks)) * float64(counted))
		if p.Agg == "token" {
			scale = 1 / float64(total)
		}
		for k, e := range toks {
			l := e.Value(lp)
			tl, g, c := Surrogate(l, old[i][k], ref[i][k], adv[i], p.EpsLow, p.EpsHigh, p.Beta)
			loss += scale * tl
			for j, r := range e.Rows {
				grad[r] += scale * g * e.W[j]
			}
			rho := math.Exp(l - old[i][k])
			ratioSum += rho
			st.RatioMin, st.RatioMax = math.Min(st.RatioMin, rho), math.Max(st.RatioMax, rho)
			d := ref[i][k] - l
			klSum += math.Exp(d) - d - 1
			if c {
				clipped++
			}
			st.Tokens++
		}
	}
	st.Loss = loss
	st.ClipFrac = clipped / float64(st.Tokens)
	st.RatioMean = ratioSum / float64(st.Tokens)
	st.KL = klSum / float64(st.Tokens)
	return loss, grad, st, nil
}

// EstimateAll evaluates every token estimate of in on lp.
func EstimateAll(in *Inputs, lp []float64) [][]float64 {
	out := make([][]float64, len(in.Tokens))
	for i, toks := range in.Tokens {
		out[i] = make([]float64, len(toks))
		for k, e := range toks {
			out[i][k] = e.Value(lp)
		}
	}
	return out
}

// CountedLength is the number of completion tokens up to and including the
// first <eos> (all of them when there is none).
func CountedLength(completion []int, eos int) int {
	for i, t := range completion {
		if t == eos {
			return i + 1
		}
	}
	return len(completion)
}

// Sample is one completion to learn from.
type Sample struct {
	Prompt     []int // <bos> + prompt
	Completion []int // the generated tokens
	Trace      []int // the denoising step at which each completion token was committed (nil when unknown)
}

// Layout left-pads the prompts of a batch to a common length P, as the
// sampler does, and returns P, the sequence length and the padding mask
// (nil when nothing is padded). Each copy of the batch (coupled-GRPO uses
// three) repeats the layout.
func Layout(samples []Sample, copies, padID int) (ids []int, valid []bool, P, L int) {
	for _, s := range samples {
		P = max(P, len(s.Prompt))
	}
	G := 0
	for _, s := range samples {
		G = max(G, len(s.Completion))
	}
	L = P + G
	padded := false
	for _, s := range samples {
		padded = padded || len(s.Prompt) < P
	}
	for c := 0; c < copies; c++ {
		for _, s := range samples {
			row := make([]int, 0, L)
			for l := len(s.Prompt); l < P; l++ {
				row = append(row, padID)
			}
			row = append(append(row, s.Prompt...), s.Completion...)
			ids = append(ids, row...)
			if padded {
				for l := 0; l < L; l++ {
					valid = append(valid, l >= P-len(s.Prompt))
				}
			}
		}
	}
	return ids, valid, P, L
}

// Special are the token ids the maskers need.
type Special struct{ Mask, EOS, Pad, BOS int }

// ClippedGRPO is the loss of the GRPO family (Loss with Params): the
// clipped ratio against the rollout's policy, and the k3 KL to the
// reference when beta > 0. An algorithm of the family embeds it beside its
// masking.
type ClippedGRPO struct {
	Params Params
	Mu     int
}

// NewClippedGRPO is the family's loss for resolved common settings.
func NewClippedGRPO(c Common) ClippedGRPO {
	return ClippedGRPO{Params: Params{EpsLow: c.EpsLow, EpsHigh: c.EpsHigh, Beta: c.Beta, Agg: c.LossAgg}, Mu: c.Mu}
}

// Needs: the old policy's estimates only when there are several inner
// updates (with one, the ratio is exactly 1), the reference's only with a KL.
func (g ClippedGRPO) Needs() (old, ref bool) { return g.Mu > 1, g.Params.Beta != 0 }

// Loss is Loss; without reference estimates (beta 0) the KL term has no
// weight, so the old estimates stand in for them.
func (g ClippedGRPO) Loss(b LossBatch) (float64, []float64, Stats, error) {
	ref := b.Ref
	if ref == nil {
		ref = b.Old
	}
	return Loss(b.In, b.LP, b.Old, ref, b.Adv, g.Params)
}
