package tracerl

import (
	"fmt"
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Config is TraceRL's section, algo.tracerl.
type Config struct {
	Shrink   int     `yaml:"shrink" mapstructure:"shrink" doc:"merge runs of this many consecutive decoding steps into one training state (dLLM-RL's LLaDA recipe: 8; 1 = every step its own state)"`
	PostNum  int     `yaml:"post_num" mapstructure:"post_num" doc:"completion tokens after the first end-of-sequence token that are still scored (dLLM-RL: 0)"`
	KeepLow  float64 `yaml:"keep_low" mapstructure:"keep_low" doc:"learn only from groups whose mean reward is at least this (dLLM-RL: 0.2, for 0/1 rewards)"`
	KeepHigh float64 `yaml:"keep_high" mapstructure:"keep_high" doc:"and at most this (dLLM-RL: 0.8); keep_low 0 and keep_high 1 keep every group of 0/1 rewards"`
}

// Validate names each bad field.
func (c *Config) Validate() []algos.FieldError {
	var fe []algos.FieldError
	if c.Shrink < 1 {
		fe = append(fe, algos.FieldError{Field: "shrink", Msg: fmt.Sprintf("%d must be at least 1", c.Shrink)})
	}
	if c.PostNum < 0 {
		fe = append(fe, algos.FieldError{Field: "post_num", Msg: fmt.Sprintf("%d must not be negative", c.PostNum)})
	}
	if !(c.KeepLow <= c.KeepHigh) {
		fe = append(fe, algos.FieldError{Field: "keep_low", Msg: fmt.Sprintf("%g is above keep_high %g: no group would be kept", c.KeepLow, c.KeepHigh)})
	}
	return fe
}

// Algorithm is TraceRL: the rollout's decoding states, split in order into
// mu chunks, one update each, and its loss.
type Algorithm struct {
	Config
	Tok    algos.Special
	Params Params
	Mu     int
	// BlockSize is a block-causal model's attention block, 0 with full
	// attention.
	BlockSize int
}

// Inputs lays out chunk iter of mu of the batch's decoding states (no
// random draws: the traces fix them). Draws record each row's state, every
// completion's trace and the settings, for Loss and for --dump-batch.
func (a Algorithm) Inputs(samples []algos.Sample, iter, mu int, _, _ *rand.Rand) (*algos.Inputs, error) {
	states, err := a.states(samples)
	if err != nil {
		return nil, err
	}
	lo, hi := Chunk(len(states), iter, mu)
	if lo == hi {
		return nil, fmt.Errorf("tracerl: %d decoding states do not fill %d updates (lower algo.mu)", len(states), mu)
	}
	in, err := Inputs(samples, states[lo:hi], a.Tok, a.BlockSize)
	if err != nil {
		return nil, err
	}
	traces := make([][]int, len(samples))
	for i, s := range samples {
		traces[i] = s.Trace
	}
	in.Draws = map[string]any{"states": states[lo:hi], "traces": traces,
		"shrink": a.Shrink, "post_num": a.PostNum, "keep_low": a.KeepLow, "keep_high": a.KeepHigh}
	return in, nil
}

// states are the batch's decoding states: per step of the trace, or on a
// block-causal model per block (BlockStates).
func (a Algorithm) states(samples []algos.Sample) ([]State, error) {
	if a.BlockSize > 0 {
		return BlockStates(samples, a.Shrink, a.PostNum, a.Tok.EOS, a.BlockSize)
	}
	return States(samples, a.Shrink, a.PostNum, a.Tok.EOS)
}

// Needs: the rollout policy's estimates when there are several updates;
// the KL is to the rollout policy, so never the reference model's.
func (a Algorithm) Needs() (old, ref bool) { return a.Mu > 1, false }

// Loss is TraceRL's loss on the chunk's state rows: each row takes its
// completion's advantage, and rows of groups outside [keep_low, keep_high]
// count for nothing.
func (a Algorithm) Loss(b algos.LossBatch) (float64, []float64, algos.Stats, error) {
	states, ok := b.In.Draws["states"].([]State)
	if !ok || len(states) != len(b.In.Tokens) || len(b.Old) != len(states) {
		return 0, nil, algos.Stats{}, fmt.Errorf("tracerl loss: inputs without one state per row")
	}
	keep, err := Kept(b.Rewards, b.Group, a.KeepLow, a.KeepHigh)
	if err != nil {
		return 0, nil, algos.Stats{}, err
	}
	in := *b.In
	in.Tokens = make([][]algos.Estimate, len(states))
	old := make([][]float64, len(states))
	adv := make([]float64, len(states))
	for r, st := range states {
		if st.Sample >= len(b.Adv) {
			return 0, nil, algos.Stats{}, fmt.Errorf("tracerl loss: row %d is completion %d of %d", r, st.Sample, len(b.Adv))
		}
		if keep[st.Sample/b.Group] {
			in.Tokens[r], old[r], adv[r] = b.In.Tokens[r], b.Old[r], b.Adv[st.Sample]
		}
	}
	return Loss(&in, b.LP, old, adv, a.Params)
}

func init() {
	algos.Register(algos.Registration{
		Name: "tracerl",
		Doc:  "TraceRL (Gen-Verse/dLLM-RL): each token scored in the decoding state where the sampler decided it, clipped ratio, k3 KL to the rollout policy",
		// dLLM-RL's LLaDA recipe (configs/rl_llada.yaml): 8 responses per
		// task, beta 0.01, z-scored rewards, the clipped term averaged per
		// state row and the rows averaged. Its updates are one pass over the
		// state rows with an optimizer step every 256 rows, a count that
		// follows the batch; mu 4 is remask's choice.
		Defaults: algos.Defaults{Group: 8, Mu: 4, Beta: 0.01, Advantage: "zscore", LossAgg: "sequence", Clip: 0.2},
		Section:  func() algos.Section { return &Config{Shrink: 8, PostNum: 0, KeepLow: 0.2, KeepHigh: 0.8} },
		New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) {
			return Algorithm{Config: *sec.(*Config), Tok: c.Tok, Mu: c.Mu, BlockSize: c.BlockSize,
				Params: Params{EpsLow: c.EpsLow, EpsHigh: c.EpsHigh, Beta: c.Beta, Agg: c.LossAgg}}, nil
		},
	})
}
