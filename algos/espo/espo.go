package espo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Masker is ESPO's masking.
type Masker struct {
	NumMC     int  // Monte Carlo masks per iteration (ESPO's recipes: 2)
	ReduceVar bool // add the coupled complement pass (ESPO: true)
	Tok       algos.Special
	// BlockSize is a block-causal model's attention block (0: full
	// attention). The sequence ELBO of a block model is the sum of its
	// blocks' ELBOs, each block denoised given the clean blocks before it
	// (BD3-LM), so each answer block is then masked as ESPO masks a
	// sequence: x of its m positions, x stratified over the batch's blocks,
	// weight (m+1)/x, the complement pass beside it; the rows are
	// algos.SideBySide.
	BlockSize int
}

// Draw is one Monte Carlo mask of the batch.
type Draw struct {
	K int `json:"k"` // the batch's offset, uniform on 0..m (m: the masked unit's length)
	// x: the masked positions of each unit in the first pass, unit = a
	// completion (a completion's block, completion-major, on a block model)
	Masked []int `json:"x"`
}

// Inputs are an iteration's masked copies of the batch. Copy c of
// completion i is row c*B + i, c = mc*passes + pass (pass 1 = complement).
// Tokens[i] holds one estimate: completion i's ELBO.
type Inputs struct {
	*algos.Inputs
	N     int // generation length: the ratio's normaliser
	Draws []Draw
}

// Passes is the number of forwards per MC mask.
func (m Masker) Passes() int {
	if m.ReduceVar {
		return 2
	}
	return 1
}

// Masks draws an iteration's NumMC masks from rng. Every completion must
// have the same length (the sampler's generation length).
func (m Masker) Masks(samples []algos.Sample, rng *rand.Rand) (*Inputs, error) {
	if m.NumMC < 1 {
		return nil, fmt.Errorf("espo: num_mc %d, want at least 1", m.NumMC)
	}
	B := len(samples)
	if B == 0 {
		return nil, fmt.Errorf("espo: no completions")
	}
	n := len(samples[0].Completion)
	for i, s := range samples {
		if len(s.Completion) != n {
			return nil, fmt.Errorf("espo: completion %d has %d tokens, completion 0 has %d (ESPO needs one generation length)", i, len(s.Completion), n)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("espo: empty completions")
	}
	passes := m.Passes()
	copies := m.NumMC * passes
	ids, valid, P, L := algos.Layout(samples, copies, m.Tok.Pad)
	in := &Inputs{Inputs: &algos.Inputs{B: copies * B, L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids))}, N: n}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	est := make([]algos.Estimate, B)
	// each pass is averaged with its complement, and the MC masks averaged
	scale := 1 / float64(m.NumMC*passes)
	spans := [][2]int{{0, n}}
	if m.BlockSize > 0 {
		spans = algos.AnswerBlocks(n, m.BlockSize)
	}
	units := B * len(spans)
	for mc := 0; mc < m.NumMC; mc++ {
		m0 := spans[0][1] - spans[0][0]
		d := Draw{K: rng.IntN(m0 + 1), Masked: make([]int, units)}
		for u := range d.Masked {
			mu := spans[u%len(spans)][1] - spans[u%len(spans)][0]
			d.Masked[u] = int(math.RoundToEven(float64(d.K)+float64(u)*float64(mu+1)/float64(units))) % (mu + 1)
		}
		for i, s := range samples {
			for j, sp := range spans {
				mu := sp[1] - sp[0]
				x := d.Masked[i*len(spans)+j]
				masked := make([]bool, mu)
				for _, pos := range rng.Perm(mu)[:x] {
					masked[pos] = true
				}
				for pass := 0; pass < passes; pass++ {
					c := mc*passes + pass
					for pos := 0; pos < mu; pos++ {
						// pass 0 masks the x drawn positions, pass 1 the m - x others
						if masked[pos] != (pass == 0) {
							continue
						}
						r := (c*B+i)*L + P + sp[0] + pos
						ids[r] = m.Tok.Mask
						in.Targets[r] = s.Completion[sp[0]+pos]
						frac := float64(x) / float64(mu+1) // ESPO's p_mask
						if pass == 1 {
							frac = float64(mu)/float64(mu+1) - frac
						}
						est[i].Rows = append(est[i].Rows, r)
						est[i].W = append(est[i].W, scale/frac)
					}
				}
			}
		}
		in.Draws = append(in.Draws, d)
	}
	for i := range est {
		in.Tokens = append(in.Tokens, []algos.Estimate{est[i]})
	}
	if m.BlockSize > 0 {
		side, err := algos.SideBySide(in.Inputs, samples, func(r int) int { return r % B }, P, m.BlockSize)
		if err != nil {
			return nil, err
		}
		in.Inputs = side
	}
	return in, nil
}

// ELBO evaluates every completion's ELBO on per-row log-probs lp.
func ELBO(in *algos.Inputs, lp []float64) []float64 {
	out := make([]float64, len(in.Tokens))
	for i, toks := range in.Tokens {
		for _, e := range toks {
			out[i] += e.Value(lp)
		}
	}
	return out
}

// Stats summarise one loss evaluation.
type Stats struct {
	Loss, ClipFrac, RatioMean, RatioMin, RatioMax float64
	KL                                            float64 // mean over sequences of (ELBO - ELBO_ref)^2 / (2 n)
	ELBOPerToken                                  float64 // mean ELBO / n
}

// Loss is ESPO's loss of a batch and its gradient with respect to every
// row's log-prob. old and ref are the old and reference policies' ELBOs
// (one per completion), n the generation length, adv one advantage per
// completion.
func Loss(in *algos.Inputs, n int, lp, old, ref, adv []float64, p algos.Params) (float64, []float64, Stats, error) {
	B := len(in.Tokens)
	if len(adv) != B || len(old) != B || len(ref) != B {
		return 0, nil, Stats{}, fmt.Errorf("espo loss: %d completions, %d advantages, %d old, %d ref", B, len(adv), len(old), len(ref))
	}
	if B == 0 || n < 1 {
		return 0, make([]float64, len(lp)), Stats{}, nil
	}
	elbo := ELBO(in, lp)
	grad := make([]float64, len(lp))
	st := Stats{RatioMin: math.Inf(1), RatioMax: math.Inf(-1)}
	N, nb := float64(n), float64(B)
	var loss, clipped float64
	for i := range elbo {
		l, lo := elbo[i]/N, old[i]/N
		sl, g, c := algos.Surrogate(l, lo, 0, adv[i], p.EpsLow, p.EpsHigh, 0)
		loss += sl / nb
		dE := g / (N * nb)
		if p.Beta != 0 {
			d := elbo[i] - ref[i]
			loss += p.Beta * d * d / 2 / (nb * N)
			dE += p.Beta * d / (nb * N)
		}
		for _, e := range in.Tokens[i] {
			for j, r := range e.Rows {
				grad[r] += dE * e.W[j]
			}
		}
		rho := math.Exp(l - lo)
		st.RatioMean += rho / nb
		st.RatioMin, st.RatioMax = math.Min(st.RatioMin, rho), math.Max(st.RatioMax, rho)
		d := elbo[i] - ref[i]
		st.KL += d * d / (2 * N) / nb
		st.ELBOPerToken += l / nb
		if c {
			clipped++
		}
	}
	st.Loss = loss
	st.ClipFrac = clipped / nb
	return loss, grad, st, nil
}
