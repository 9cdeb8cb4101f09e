package unigrpo

import (
	"fmt"

	"github.com/remask/remask/algos"
)

// Config is UniGRPO's section, algo.unigrpo.
type Config struct {
	T          int  `yaml:"t" mapstructure:"t" doc:"ratio discretisation T (MMaDA: 1000)"`
	TraceMasks bool `yaml:"trace_masks" mapstructure:"trace_masks" doc:"mask the tokens the sampler committed last, not uniform ones (remask's option)"`
}

// Validate: T >= 1.
func (c *Config) Validate() []algos.FieldError {
	if c.T < 1 {
		return []algos.FieldError{{Field: "t", Msg: fmt.Sprintf("%d must be >= 1", c.T)}}
	}
	return nil
}

// Algorithm is UniGRPO: its masking and the clipped GRPO loss.
type Algorithm struct {
	Masker
	algos.ClippedGRPO
}

func init() {
	algos.Register(algos.Registration{
		Name: "unigrpo",
		Doc:  "MMaDA's UniGRPO: a structured masking ratio across the mu iterations, estimate on masked tokens, clipped ratio",
		// MMaDA's objective is the GRPO paper's: per completion, then over completions
		Defaults: algos.Defaults{Group: 6, Mu: 4, Beta: 0.04, Advantage: "group_norm", LossAgg: "sequence", Clip: 0.5},
		Section:  func() algos.Section { return &Config{T: 1000} },
		Flat:     map[string]string{"t": "t", "trace_masks": "trace_masks"},
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			s := sec.(*Config)
			return Algorithm{Masker{T: s.T, Tok: c.Tok, TraceMasks: s.TraceMasks, BlockSize: c.BlockSize}, algos.NewClippedGRPO(c)}, nil
		},
	})
}
