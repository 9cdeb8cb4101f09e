package espo

import (
	"fmt"
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Config is ESPO's section, algo.espo.
type Config struct {
	NumMC     int  `yaml:"num_mc" mapstructure:"num_mc" doc:"Monte Carlo masks per inner iteration, each one more forward (two with reduce_var) (ESPO's recipes: 2)"`
	ReduceVar bool `yaml:"reduce_var" mapstructure:"reduce_var" doc:"pair each mask with its complement to lower the estimate's variance, one more forward each (ESPO: true)"`
}

// Validate: at least one mask.
func (c *Config) Validate() []algos.FieldError {
	if c.NumMC < 1 {
		return []algos.FieldError{{Field: "num_mc", Msg: fmt.Sprintf("%d must be >= 1", c.NumMC)}}
	}
	return nil
}

// Algorithm is ESPO: its masks, the sequence ELBO and the per-token
// normalised sequence ratio.
type Algorithm struct {
	Masker
	Params algos.Params
	Mu     int
}

// Inputs draws the iteration's masks; the dump gets the draws and n.
func (a Algorithm) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	in, err := a.Masks(samples, rng)
	if err != nil {
		return nil, err
	}
	in.Inputs.Draws = map[string]any{"espo": in.Draws, "gen_length": in.N}
	return in.Inputs, nil
}

// Needs: the old ELBOs with several inner updates, the reference's with a KL.
func (a Algorithm) Needs() (old, ref bool) { return a.Mu > 1, a.Params.Beta != 0 }

// Loss is ESPO's loss on the batch's ELBOs.
func (a Algorithm) Loss(b algos.LossBatch) (float64, []float64, algos.Stats, error) {
	n, ok := b.In.Draws["gen_length"].(int)
	if !ok {
		return 0, nil, algos.Stats{}, fmt.Errorf("espo loss: inputs without a generation length")
	}
	unit := func(est [][]float64) []float64 {
		if est == nil {
			return nil
		}
		out := make([]float64, len(est))
		for i, e := range est {
			if len(e) != 1 {
				return nil
			}
			out[i] = e[0]
		}
		return out
	}
	old, ref := unit(b.Old), unit(b.Ref)
	if old == nil {
		return 0, nil, algos.Stats{}, fmt.Errorf("espo loss: want one old ELBO per completion")
	}
	if ref == nil {
		ref = old // beta 0: the KL has no weight
	}
	loss, grad, st, err := Loss(b.In, n, b.LP, old, ref, b.Adv, a.Params)
	return loss, grad, algos.Stats{Loss: st.Loss, ClipFrac: st.ClipFrac, RatioMean: st.RatioMean, RatioMin: st.RatioMin,
		RatioMax: st.RatioMax, KL: st.KL, Tokens: n * len(b.Adv)}, err
}

func init() {
	algos.Register(algos.Registration{
		Name: "espo",
		Doc:  "ESPO (ML-GSAI): sequence ELBO from stratified Monte Carlo masks, per-token normalised sequence ratio, k2 KL",
		// ESPO's sudoku recipe: 6 completions, 8 inner iterations, beta 1e-2,
		// leave-one-out advantages; its loss averages the sequence terms over
		// completions
		Defaults: algos.Defaults{Group: 6, Mu: 8, Beta: 0.01, Advantage: "loo", LossAgg: "sequence", Clip: 0.2},
		Section:  func() algos.Section { return &Config{NumMC: 2, ReduceVar: true} },
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			s := sec.(*Config)
			return Algorithm{Masker{NumMC: s.NumMC, ReduceVar: s.ReduceVar, Tok: c.Tok, BlockSize: c.BlockSize},
				algos.Params{EpsLow: c.EpsLow, EpsHigh: c.EpsHigh, Beta: c.Beta, Agg: c.LossAgg}, c.Mu}, nil
		},
	})
}
