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
	// BlockSize is a block-causal model's attention block (0: full
	// attention): the ratio then applies within each answer block (round(ratio
	// * its length) of its positions, at least one) and the rows are
	// algos.SideBySide, each block's masked tokens predicted from the clean
	// blocks before it.
	BlockSize int
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
// one, chosen uniformly (on a block model: of each answer block's n
// positions); the loss counts the masked positions up to and including the
// first <eos>.
func (m Masker) Inputs(samples []algos.Sample, iter, mu int, batch, rng *rand.Rand) (*algos.Inputs, error) {
	ratio := m.Ratio(batch.Float64(), iter, mu)
	ids, valid, P, L := algos.Layout(samples, 1, m.Tok.Pad)
	in := &algos.Inputs{B: len(samples), L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids)), Draws: map[string]any{"ratio": ratio}}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for i, s := range samples {
		spans := [][2]int{{0, len(s.Completion)}}
		if m.BlockSize > 0 {
			spans = algos.AnswerBlocks(len(s.Completion), m.BlockSize)
		}
		for _, sp := range spans {
			n := sp[1] - sp[0]
			k := max(1, int(math.Round(ratio*float64(n))))
			chosen := rng.Perm(n)
			if m.TraceMasks && len(s.Trace) == len(s.Completion) {
				// latest commits first; the random order above breaks ties
				// between tokens committed at the same step
				tr := s.Trace[sp[0]:sp[1]]
				sort.SliceStable(chosen, func(a, b int) bool { return tr[chosen[a]] > tr[chosen[b]] })
			}
			for _, pos := range chosen[:k] {
				r := i*L + P + sp[0] + pos
				in.Targets[r] = s.Completion[sp[0]+pos]
				ids[r] = m.Tok.Mask
			}
		}
		counted := algos.CountedLength(s.Completion, m.Tok.EOS)
		var toks []algos.Estimate
		for pos := 0; pos < counted; pos++ {
			if r := i*L + P + pos; in.Targets[r] >= 0 {
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
