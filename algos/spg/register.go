package spg

import (
	"fmt"
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Config is SPG's section, algo.spg.
type Config struct {
	NumT        int     `yaml:"num_t" mapstructure:"num_t" doc:"masked copies of each completion per inner iteration (SPG: 2)"`
	BlockLength int     `yaml:"block_length" mapstructure:"block_length" doc:"mask block length, must divide rollout.gen_length into at least num_t blocks (SPG: 32, its decoding block)"`
	MinT        float64 `yaml:"min_t" mapstructure:"min_t" doc:"least masked share of the chosen block (SPG: 0)"`
	MaxT        float64 `yaml:"max_t" mapstructure:"max_t" doc:"largest masked share of the chosen block (SPG: 1)"`
	PMaskPrompt float64 `yaml:"p_mask_prompt" mapstructure:"p_mask_prompt" doc:"mask probability of the prompt and the clean blocks before the chosen one (SPG: 0.15)"`
	Estimate    string  `yaml:"estimate" mapstructure:"estimate" doc:"likelihood bound of completions with advantage <= 0: mix | eubo | elbo (SPG: mix)"`
	MixWeight   float64 `yaml:"mix_weight" mapstructure:"mix_weight" doc:"mix: weight of the EUBO against the ELBO (SPG: 0.5)"`
	EUBOBeta    float64 `yaml:"eubo_beta" mapstructure:"eubo_beta" doc:"the EUBO's exponent (SPG: 1.0 sudoku, 1.5 countdown)"`
}

// Validate names each bad field.
func (c *Config) Validate() []algos.FieldError {
	var errs []algos.FieldError
	bad := func(f, format string, a ...any) {
		errs = append(errs, algos.FieldError{Field: f, Msg: fmt.Sprintf(format, a...)})
	}
	if c.NumT < 1 {
		bad("num_t", "%d must be >= 1", c.NumT)
	}
	if c.BlockLength < 1 {
		bad("block_length", "%d must be >= 1", c.BlockLength)
	}
	if !(c.MinT >= 0 && c.MinT <= c.MaxT && c.MaxT <= 1) {
		bad("min_t", "need 0 <= min_t %g <= max_t %g <= 1", c.MinT, c.MaxT)
	}
	if !(c.PMaskPrompt >= 0 && c.PMaskPrompt <= 1) {
		bad("p_mask_prompt", "%g must be in [0, 1]", c.PMaskPrompt)
	}
	switch c.Estimate {
	case "mix", "eubo", "elbo":
	default:
		bad("estimate", "%q is not one of mix, eubo, elbo", c.Estimate)
	}
	if !(c.MixWeight >= 0 && c.MixWeight <= 1) {
		bad("mix_weight", "%g must be in [0, 1]", c.MixWeight)
	}
	if !(c.EUBOBeta > 0) {
		bad("eubo_beta", "%g must be > 0", c.EUBOBeta)
	}
	return errs
}

// Algorithm is SPG: block-wise masks and the sandwiched, ratio-free loss.
type Algorithm struct {
	Masker
	Params Params
}

// Inputs draws the iteration's block masks. The units are each
// completion's ELBO (linear in the log-probs); the draws carry what the
// EUBO needs.
func (a Algorithm) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	in, err := a.Masks(samples, rng)
	if err != nil {
		return nil, err
	}
	// the loss settings ride along so a dump alone recomputes the loss
	in.Inputs.Draws = map[string]any{"spg": in.Seqs, "estimate": a.Params.Estimate, "mix_weight": a.Params.MixWeight, "eubo_beta": a.Params.EUBOBeta}
	return in.Inputs, nil
}

// Needs nothing: no ratio, no KL.
func (Algorithm) Needs() (old, ref bool) { return false, false }

// Loss is SPG's loss.
func (a Algorithm) Loss(b algos.LossBatch) (float64, []float64, algos.Stats, error) {
	seqs, ok := b.In.Draws["spg"].([]Seq)
	if !ok {
		return 0, nil, algos.Stats{}, fmt.Errorf("spg loss: inputs without SPG's draws")
	}
	loss, grad, st, err := Loss(&Inputs{Inputs: b.In, Seqs: seqs}, b.LP, b.Adv, a.Params)
	n := 0
	for _, s := range seqs {
		n += s.Counted
	}
	return loss, grad, algos.Stats{Loss: st.Loss, RatioMean: 1, RatioMin: 1, RatioMax: 1, Tokens: n}, err
}

func init() {
	algos.Register(algos.Registration{
		Name: "spg",
		Doc:  "SPG (facebookresearch): ELBO for positive advantages, EUBO/ELBO mixture for the others, block-wise masks, no ratio",
		// SPG's recipes: 6 completions, 4 inner iterations, no KL, mean-centred
		// advantages, the loss weighted by completion length
		Defaults: algos.Defaults{Group: 6, Mu: 4, Beta: 0, Advantage: "mean", LossAgg: "token"},
		Section: func() algos.Section {
			return &Config{NumT: 2, BlockLength: 32, MinT: 0, MaxT: 1, PMaskPrompt: 0.15, Estimate: "mix", MixWeight: 0.5, EUBOBeta: 1}
		},
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			s := sec.(*Config)
			if c.Beta != 0 {
				return nil, fmt.Errorf("algo.beta %g: SPG has no KL term, set it to 0", c.Beta)
			}
			return Algorithm{Masker{NumT: s.NumT, BlockLength: s.BlockLength, MinT: s.MinT, MaxT: s.MaxT, PMaskPrompt: s.PMaskPrompt, Tok: c.Tok, BlockSize: c.BlockSize},
				Params{Estimate: s.Estimate, MixWeight: s.MixWeight, EUBOBeta: s.EUBOBeta, Agg: c.LossAgg}}, nil
		},
	})
}

// BlockLen is block_length, for the config's check against a block-causal
// model's attention block.
func (c *Config) BlockLen() int { return c.BlockLength }
