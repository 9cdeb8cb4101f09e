package diffugrpo

import (
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Masker is diffu-GRPO's masking.
type Masker struct {
	PMaskPrompt float64 // d1: 0.15
	Tok         algos.Special
	BlockSize   int // a block-causal model's attention block, 0 with full attention
}

func (Masker) Name() string { return "diffu_grpo" }

// Inputs masks the prompt tokens (never <bos> or padding) with probability
// PMaskPrompt and the whole completion; the loss counts completion tokens up
// to and including the first <eos>. On a block-causal model the rows are
// algos.SideBySide: every answer block fully masked given the clean blocks
// before it (the first decoding step of each block), the prompt masks in the
// context all blocks see.
func (m Masker) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	ids, valid, P, L := algos.Layout(samples, 1, m.Tok.Pad)
	in := &algos.Inputs{B: len(samples), L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids))}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for i, s := range samples {
		row := ids[i*L : (i+1)*L]
		for l := P - len(s.Prompt); l < P; l++ {
			u := rng.Float64()
			if row[l] != m.Tok.BOS && u < m.PMaskPrompt {
				row[l] = m.Tok.Mask
			}
		}
		n := algos.CountedLength(s.Completion, m.Tok.EOS)
		toks := make([]algos.Estimate, 0, n)
		for k := range s.Completion {
			r := i*L + P + k
			in.Targets[r] = s.Completion[k]
			row[P+k] = m.Tok.Mask
			if k < n {
				toks = append(toks, algos.Estimate{Rows: []int{r}, W: []float64{1}})
			}
		}
		in.Tokens = append(in.Tokens, toks)
	}
	if m.BlockSize > 0 {
		return algos.SideBySide(in, samples, func(r int) int { return r }, P, m.BlockSize)
	}
	return in, nil
}
