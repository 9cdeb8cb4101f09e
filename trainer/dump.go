package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/configs"
)

// Dump is one inner iteration of an RL update as --dump-batch writes it,
// one JSON file per iteration (DIR/stepSSSSSS_iterII.json): everything
// needed to recompute the loss from the file alone. docs/estimators.md
// describes each key; Version changes when a key changes meaning.
type Dump struct {
	Version   int    `json:"version"`
	Algorithm string `json:"algorithm"`
	Step      int    `json:"step"` // 0-based step of the update
	Iter      int    `json:"iter"` // inner iteration, 0 .. mu-1
	Mu        int    `json:"mu"`
	Seed      int64  `json:"seed"` // run.seed: every random draw derives from (seed, step, iter, purpose)

	Group         int     `json:"group"`          // completions per prompt; completion i is in group i / group
	AdvantageMode string  `json:"advantage_mode"` // mean | group_norm | loo
	LossAgg       string  `json:"loss_agg"`       // token | sequence
	EpsLow        float64 `json:"eps_low"`
	EpsHigh       float64 `json:"eps_high"`
	Beta          float64 `json:"beta"`
	MaskID        int     `json:"mask_id"`
	EOSID         int     `json:"eos_id"`
	PadID         int     `json:"pad_id"`
	BOSID         int     `json:"bos_id"`

	// the completions the update learns from (after algo.drop_zero_signal)
	PromptLens  []int     `json:"prompt_lens"` // <bos> + prompt tokens, before left-padding
	GenLength   int       `json:"gen_length"`  // completion tokens per sample
	Prompts     [][]int   `json:"prompts"`
	Completions [][]int   `json:"completions"`
	Rewards     []float64 `json:"rewards"`
	Advantages  []float64 `json:"advantages"`

	// the estimator's inputs: B rows of L tokens (row-major), masks applied
	B       int                `json:"b"`
	L       int                `json:"l"`
	IDs     []int              `json:"ids"`
	Valid   []bool             `json:"valid,omitempty"` // padding mask, absent when nothing is padded
	Targets []int              `json:"targets"`         // the token each row position scores, -1 = none
	Units   [][]algos.Estimate `json:"units"`           // per completion, each counted unit's estimate: sum of w[j] * log_probs[rows[j]]
	Draws   map[string]any     `json:"draws,omitempty"` // the estimator's own random draws (t, ratios, ...)
	// a block-causal model's rows (clean and masked copies side by side):
	// each row's block, copy and RoPE position; absent with full attention
	Blocks *algos.BlockRows `json:"blocks,omitempty"`

	LogProbs []float64   `json:"log_probs"`     // the policy's log-prob of targets[r] at every row r, at this update
	Old      [][]float64 `json:"old"`           // per unit, the old (rollout) policy's estimate
	Ref      [][]float64 `json:"ref,omitempty"` // per unit, the reference model's estimate (absent when the loss has no KL)
	Loss     float64     `json:"loss"`          // the loss the update took a step on
}

func newDump(cfg configs.Config, rs rlSettings, b *Batch, samples []algos.Sample, rewards []float64, iter int, lb algos.LossBatch, loss float64) Dump {
	c := rs.common
	d := Dump{Version: 1, Algorithm: rs.name, Step: b.Step, Iter: iter, Mu: c.Mu, Seed: cfg.Run.Seed,
		Group: c.Group, AdvantageMode: c.Advantage, LossAgg: c.LossAgg, EpsLow: c.EpsLow, EpsHigh: c.EpsHigh, Beta: c.Beta,
		MaskID: c.Tok.Mask, EOSID: c.Tok.EOS, PadID: c.Tok.Pad, BOSID: c.Tok.BOS,
		Rewards: rewards, Advantages: lb.Adv,
		B: lb.In.B, L: lb.In.L, IDs: lb.In.IDs, Valid: lb.In.Valid, Targets: lb.In.Targets, Units: lb.In.Tokens, Draws: lb.In.Draws, Blocks: lb.In.Blocks,
		LogProbs: lb.LP, Old: lb.Old, Ref: lb.Ref, Loss: loss}
	for _, s := range samples {
		d.PromptLens = append(d.PromptLens, len(s.Prompt))
		d.Prompts = append(d.Prompts, s.Prompt)
		d.Completions = append(d.Completions, s.Completion)
		d.GenLength = max(d.GenLength, len(s.Completion))
	}
	return d
}

func writeDump(dir string, d Dump) error {
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
