package diffugrpo

import (
	"fmt"

	"github.com/remask/remask/algos"
)

// Config is diffu-GRPO's section, algo.diffu_grpo.
type Config struct {
	PMaskPrompt float64 `yaml:"p_mask_prompt" mapstructure:"p_mask_prompt" doc:"prompt-token mask probability (d1: 0.15)"`
}

// Validate: a probability.
func (c *Config) Validate() []algos.FieldError {
	if !(c.PMaskPrompt >= 0 && c.PMaskPrompt <= 1) {
		return []algos.FieldError{{Field: "p_mask_prompt", Msg: fmt.Sprintf("%g must be in [0, 1]", c.PMaskPrompt)}}
	}
	return nil
}

// Algorithm is diffu-GRPO: its masking and the clipped GRPO loss.
type Algorithm struct {
	Masker
	algos.ClippedGRPO
}

func init() {
	algos.Register(algos.Registration{
		Name: "diffu_grpo",
		Doc:  "d1's diffu-GRPO: one-step estimate, completion fully masked, prompt masked at random, clipped ratio",
		// d1's recipe; its trainer (TRL's GRPO loss) averages per token over the batch
		Defaults: algos.Defaults{Group: 6, Mu: 8, Beta: 0.04, Advantage: "mean", LossAgg: "token", Clip: 0.5},
		Section:  func() algos.Section { return &Config{PMaskPrompt: 0.15} },
		Flat:     map[string]string{"p_mask_prompt": "p_mask_prompt"},
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			return Algorithm{Masker{PMaskPrompt: sec.(*Config).PMaskPrompt, Tok: c.Tok, BlockSize: c.BlockSize}, algos.NewClippedGRPO(c)}, nil
		},
	})
}
