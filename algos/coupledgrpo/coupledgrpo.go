package coupledgrpo

import (
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Masker is coupled-GRPO's masking.
type Masker struct {
	TMin, TMax float64 // the range of t, (0.2, 0.8) in DiffuCoder
	Tok        algos.Special
	// BlockSize is a block-causal model's attention block (0: full
	// attention). Each answer block then draws its own t, as dLLM-RL's
	// coupled masking of SDAR draws a ratio per block, and the three passes
	// are algos.SideBySide rows.
	BlockSize int
}

func (Masker) Name() string { return "coupled_grpo" }

// Inputs lays out the three passes as three copies of the batch (pass c of
// completion i is row c*B + i) and counts the tokens up to and including the
// first <eos>. Draws: per completion (per block, in order, on a block model)
// t, then one uniform per completion position.
func (m Masker) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	B := len(samples)
	ids, valid, P, L := algos.Layout(samples, 3, m.Tok.Pad)
	in := &algos.Inputs{B: 3 * B, L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids))}
	ts := make([][]float64, B)
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for i, s := range samples {
		spans := [][2]int{{0, len(s.Completion)}}
		if m.BlockSize > 0 {
			spans = algos.AnswerBlocks(len(s.Completion), m.BlockSize)
		}
		counted := algos.CountedLength(s.Completion, m.Tok.EOS)
		toks := make([]algos.Estimate, 0, counted)
		for _, sp := range spans {
			t := m.TMin + (m.TMax-m.TMin)*rng.Float64()
			ts[i] = append(ts[i], t)
			for k := sp[0]; k < sp[1]; k++ {
				tok := s.Completion[k]
				r0, r1, r2 := i*L+P+k, (B+i)*L+P+k, (2*B+i)*L+P+k
				ids[r0] = m.Tok.Mask
				in.Targets[r0] = tok
				inPass1 := rng.Float64() < t
				if inPass1 {
					ids[r1] = m.Tok.Mask
					in.Targets[r1] = tok
				} else {
					ids[r2] = m.Tok.Mask
					in.Targets[r2] = tok
				}
				if k >= counted {
					continue
				}
				if inPass1 {
					toks = append(toks, algos.Estimate{Rows: []int{r0, r1}, W: []float64{0.5, 0.5 / t}})
				} else {
					toks = append(toks, algos.Estimate{Rows: []int{r0, r2}, W: []float64{0.5, 0.5 / (1 - t)}})
				}
			}
		}
		in.Tokens = append(in.Tokens, toks)
	}
	if m.BlockSize > 0 {
		in.Draws = map[string]any{"t": ts} // per completion, per block
		return algos.SideBySide(in, samples, func(r int) int { return r % B }, P, m.BlockSize)
	}
	flat := make([]float64, B)
	for i := range ts {
		flat[i] = ts[i][0]
	}
	in.Draws = map[string]any{"t": flat}
	return in, nil
}
