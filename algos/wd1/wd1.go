package wd1

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/algos/diffugrpo"
)

// Config is wd1's section, algo.wd1.
type Config struct {
	PMaskPrompt float64 `yaml:"p_mask_prompt" mapstructure:"p_mask_prompt" doc:"prompt-token mask probability of d1's masking (wd1: 0.15)"`
	Negative    bool    `yaml:"negative" mapstructure:"negative" doc:"also lower the likelihood of completions weighted by softmax(-A) (wd1's wll_d1_neg; false is its positive-only variant)"`
}

// Validate: a probability.
func (c *Config) Validate() []algos.FieldError {
	if !(c.PMaskPrompt >= 0 && c.PMaskPrompt <= 1) {
		return []algos.FieldError{{Field: "p_mask_prompt", Msg: fmt.Sprintf("%g must be in [0, 1]", c.PMaskPrompt)}}
	}
	return nil
}

// Algorithm is wd1: d1's masking and the weighted likelihood loss.
type Algorithm struct {
	Masker   diffugrpo.Masker
	Negative bool
	Agg      string // sequence (wd1's) | token
}

func init() {
	algos.Register(algos.Registration{
		Name: "wd1",
		Doc:  "wd1: ratio-free weighted likelihood, softmax(A) up and softmax(-A) down on d1's one-step sequence estimate",
		// wd1's sudoku recipe (run/wll_NP_sudoku.sh, wd1/train.yaml): 6
		// generations, 8 inner iterations, advantages r - mean, no KL in
		// the loss; its loss sums token log-probs per completion
		Defaults: algos.Defaults{Group: 6, Mu: 8, Beta: 0, Advantage: "mean", LossAgg: "sequence"},
		Section:  func() algos.Section { return &Config{PMaskPrompt: 0.15, Negative: true} },
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			s := sec.(*Config)
			return Algorithm{Masker: diffugrpo.Masker{PMaskPrompt: s.PMaskPrompt, Tok: c.Tok, BlockSize: c.BlockSize}, Negative: s.Negative, Agg: c.LossAgg}, nil
		},
	})
}

// Inputs are d1's: a fresh prompt mask per iteration, the completion fully
// masked, every token up to and including the first <eos> counted.
func (a Algorithm) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	return a.Masker.Inputs(samples, iter, mu, batch, rng)
}

// Needs nothing besides the policy: no ratio, no KL.
func (Algorithm) Needs() (old, ref bool) { return false, false }

// Weights are each completion's coefficient c_i = [negative] softmax(-A)_i -
// softmax(A)_i within its group of g.
func Weights(adv []float64, g int, negative bool) ([]float64, error) {
	if g < 1 || len(adv)%g != 0 {
		return nil, fmt.Errorf("wd1: %d advantages do not split into groups of %d", len(adv), g)
	}
	c := make([]float64, len(adv))
	for s := 0; s < len(adv); s += g {
		pos, neg := softmax(adv[s:s+g], 1), softmax(adv[s:s+g], -1)
		for i := range pos {
			c[s+i] = -pos[i]
			if negative {
				c[s+i] += neg[i]
			}
		}
	}
	return c, nil
}

// softmax of sign*x, shifted by its max for stability.
func softmax(x []float64, sign float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, sign*v)
	}
	out := make([]float64, len(x))
	var z float64
	for i, v := range x {
		out[i] = math.Exp(sign*v - m)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

// Loss is sum_i c_i log pi(o_i), log pi(o_i) the sum of o_i's counted
// token estimates. "sequence" (wd1's): divided by the number of groups (its
// trainer sums a group's weighted terms on each device and the devices'
// gradients are averaged); "token": divided by the batch's counted tokens.
func (a Algorithm) Loss(b algos.LossBatch) (float64, []float64, algos.Stats, error) {
	in := b.In
	if len(b.Adv) != len(in.Tokens) {
		return 0, nil, algos.Stats{}, fmt.Errorf("wd1 loss: %d completions, %d advantages", len(in.Tokens), len(b.Adv))
	}
	c, err := Weights(b.Adv, b.Group, a.Negative)
	if err != nil {
		return 0, nil, algos.Stats{}, err
	}
	total := 0
	for _, toks := range in.Tokens {
		total += len(toks)
	}
	var scale float64
	switch a.Agg {
	case "sequence":
		scale = float64(b.Group) / float64(len(in.Tokens))
	case "token":
		scale = 1 / float64(max(total, 1))
	default:
		return 0, nil, algos.Stats{}, fmt.Errorf("wd1 loss: unknown aggregation %q (token, sequence)", a.Agg)
	}
	grad := make([]float64, len(b.LP))
	var loss float64
	for i, toks := range in.Tokens {
		for _, e := range toks {
			loss += scale * c[i] * e.Value(b.LP)
			for j, r := range e.Rows {
				grad[r] += scale * c[i] * e.W[j]
			}
		}
	}
	// no ratio: the stats a ratio-based loss reports read as "at 1"
	st := algos.Stats{Loss: loss, Tokens: total, RatioMean: 1, RatioMin: 1, RatioMax: 1}
	return loss, grad, st, nil
}
