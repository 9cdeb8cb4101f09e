package unigrpo

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/remask/remask/algos"
)

// Masker is UniGRPO's masking.
type Masker struct {
	T   int // discretisation of the ratio, 1000 in MMaDA
	Tok algos.Special
	// TraceMasks masks the k tokens the sampler committed last instead of k
	// uniform ones (remask's option, not MMaDA's): the masked input is then
	// a state the sampler really passed through, so the update trains the
	// decoding states it will meet.
	TraceMasks bool
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
	in := &algos.Inputs{B: len(samples), L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids)), Draws: map[string]any{"ratio": ratio}}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for i, s := range samples {
		n := len(s.Completion)
		k := max(1, int(math.Round(ratio*float64(n))))
		counted := algos.CountedLength(s.Completion, m.Tok.EOS)
		var toks []algos.Estimate
		chosen := rng.Perm(n)
		if m.TraceMasks && len(s.Trace) == n {
			// latest commits first; the random order above breaks ties
			// between tokens committed at the same step
			sort.SliceStable(chosen, func(a, b int) bool { return s.Trace[chosen[a]] > s.Trace[chosen[b]] })
		}
		for _, pos := range chosen[:k] {
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
