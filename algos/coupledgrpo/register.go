package coupledgrpo

import (
	"fmt"

	"github.com/remask/remask/algos"
)

// Config is coupled-GRPO's section, algo.coupled_grpo.
type Config struct {
	TMin float64 `yaml:"t_min" mapstructure:"t_min" doc:"t ~ U(t_min, t_max) (DiffuCoder: 0.2)"`
	TMax float64 `yaml:"t_max" mapstructure:"t_max" doc:"upper end of t's range (DiffuCoder: 0.8)"`
}

// Validate: 0 < t_min <= t_max < 1.
func (c *Config) Validate() []algos.FieldError {
	if !(c.TMin > 0 && c.TMin <= c.TMax && c.TMax < 1) {
		return []algos.FieldError{{Field: "t_min", Msg: fmt.Sprintf("need 0 < t_min %g <= t_max %g < 1", c.TMin, c.TMax)}}
	}
	return nil
}

// Algorithm is coupled-GRPO: its three-pass masking and the clipped GRPO loss.
type Algorithm struct {
	Masker
	algos.ClippedGRPO
}

func init() {
	algos.Register(algos.Registration{
		Name: "coupled_grpo",
		Doc:  "DiffuCoder's coupled-GRPO: complementary mask pairs plus a fully masked pass, clipped ratio",
		// DiffuCoder's recipe; its trainer (TRL's GRPO loss) averages per token over the batch
		Defaults: algos.Defaults{Group: 10, Mu: 2, Beta: 0.01, Advantage: "loo", LossAgg: "token", Clip: 0.5},
		Section:  func() algos.Section { return &Config{TMin: 0.2, TMax: 0.8} },
		Flat:     map[string]string{"t_min": "t_min", "t_max": "t_max"},
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			s := sec.(*Config)
			return Algorithm{Masker{TMin: s.TMin, TMax: s.TMax, Tok: c.Tok, BlockSize: c.BlockSize}, algos.NewClippedGRPO(c)}, nil
		},
	})
}
