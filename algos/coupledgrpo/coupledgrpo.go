package coupledgrpo

import (
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Masker is coupled-GRPO's masking.
type Masker struct {
	TMin, TMax float64 // the range of t, (0.2, 0.8) in DiffuCoder
	Tok        algos.Special
}

func (Masker) Name() string { return "coupled_grpo" }

// Inputs lays out the three passes as three copies of the batch (pass c of
// completion i is row c*B + i) and counts the tokens up to and including the
// first <eos>.
func (m Masker) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	B := len(samples)
	ids, valid, P, L := algos.Layout(samples, 3, m.Tok.Pad)
	in := &algos.Inputs{B: 3 * B, L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids))}
	ts := make([]float64, B)
	in.Draws = map[string]any{"t": ts}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for i, s := range samples {
		t := m.TMin + (m.TMax-m.TMin)*rng.Float64()
		ts[i] = t
		counted := algos.CountedLength(s.Completion, m.Tok.EOS)
		toks := make([]algos.Estimate, 0, counted)
		for k, tok := range s.Completion {
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
		in.Tokens = append(in.Tokens, toks)
	}
	return in, nil
}
