package unigrpo

import (
	"math"
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Masker is UniGRPO's masking.
type Masker struct {
	T   int // discretisation of the ratio, 1000 in MMaDA
	Tok algos.Special
}

func (Masker) Name() string { return "unigrpo" }

// Ratio is the masking ratio t_n / T of iteration iter (0-based) of mu for
// the batch's draw r.
func (m Masker) Ratio(r float64, iter, mu int) float64 {
	T := float64(m.T)
	t1 := math.Floor(r * T)
	if mu <= 1 {
		return t1 / T
	}
	tn := math.Floor(float64(iter)/float64(mu-1)*(T-t1) + t1)
	return tn / T
}

// Inputs masks round(ratio * n) of each completion's n positions, at least
// one, chosen uniformly; the loss counts the masked positions up to and
// including the first <eos>.
func (m Masker) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	ratio := m.Ratio(batch.Float64(), iter, mu)
	ids, valid, P, L := algos.Layout(samples, 1, m.Tok.Pad)
	in := &algos.Inputs{B: len(samples), L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids))}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for i, s := range samples {
		n := len(s.Completion)
		k := max(1, int(math.Round(ratio*float64(n))))
		counted := algos.CountedLength(s.Completion, m.Tok.EOS)
		var toks []algos.Estimate
		for _, pos := range rng.Perm(n)[:k] {
			r := i*L + P + pos
			in.Targets[r] = s.Completion[pos]
			ids[r] = m.Tok.Mask
		}
		for pos := 0; pos < counted; pos++ {
			if r := i*L + P + pos; in.Targets[r] >= 0 {
				toks = append(toks, algos.Estimate{Rows: []int{r}, W: []float64{1}})
			}
		}
		in.Tokens = append(in.Tokens, toks)
	}
	return in, nil
}
