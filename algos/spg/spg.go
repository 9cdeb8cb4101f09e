package spg

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/remask/remask/algos"
)

// Masker is SPG's block-wise masking.
type Masker struct {
	NumT        int     // draws per completion and iteration (SPG: 2)
	BlockLength int     // must divide the generation length (SPG: 32)
	MinT, MaxT  float64 // range of the masked share of the chosen block (SPG: 0, 1)
	PMaskPrompt float64 // mask probability of the positions before the chosen block (SPG: 0.15)
	Tok         algos.Special
	// BlockSize is a block-causal model's attention block (0: full
	// attention). BlockLength must then be a multiple of it, so SPG's blocks
	// are whole attention blocks, and the rows are algos.SideBySide: each
	// attention block's masked tokens are predicted from the clean blocks
	// before it, the prompt's masks stay in the context every block sees.
	BlockSize int
}

// Draw is one masked copy of a completion.
type Draw struct {
	Block   int     `json:"block"`    // m_j: positions after this block are all masked
	NumMask int     `json:"num_mask"` // masked counted positions chosen inside block m_j
	Pos     []int   `json:"pos"`      // D_j: the counted completion positions masked, ascending
	Rows    []int   `json:"rows"`     // their rows
	T       float64 `json:"t"`        // t_j = |D_j| / counted
}

// Seq is one completion's draws.
type Seq struct {
	Counted int    `json:"counted"` // tokens up to and including the first <eos>
	Draws   []Draw `json:"draws"`
}

// Inputs are an iteration's NumT masked copies of the batch: draw j of
// completion i is row j*B + i. Tokens[i] holds one estimate, completion
// i's ELBO; Seqs hold what the EUBO needs besides.
type Inputs struct {
	*algos.Inputs
	Seqs []Seq
}

// Masks draws an iteration's masks from rng.
func (m Masker) Masks(samples []algos.Sample, rng *rand.Rand) (*Inputs, error) {
	if m.NumT < 1 || m.BlockLength < 1 {
		return nil, fmt.Errorf("spg: num_t %d and block_length %d must be at least 1", m.NumT, m.BlockLength)
	}
	if m.BlockSize > 0 && m.BlockLength%m.BlockSize != 0 {
		return nil, fmt.Errorf("algo.spg.block_length %d must be a multiple of model.block_size %d on a block-causal model", m.BlockLength, m.BlockSize)
	}
	B := len(samples)
	ids, valid, P, L := algos.Layout(samples, m.NumT, m.Tok.Pad)
	in := &Inputs{Inputs: &algos.Inputs{B: m.NumT * B, L: L, IDs: ids, Valid: valid, Targets: make([]int, len(ids))}}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	bl := m.BlockLength
	for i, s := range samples {
		n := len(s.Completion)
		if n == 0 || n%bl != 0 {
			return nil, fmt.Errorf("algo.spg.block_length %d does not divide the generation length %d (rollout.gen_length)", bl, n)
		}
		nBlocks := n / bl
		if m.NumT > nBlocks {
			return nil, fmt.Errorf("algo.spg.num_t %d exceeds the %d blocks of algo.spg.block_length %d in a completion of %d", m.NumT, nBlocks, bl, n)
		}
		counted := algos.CountedLength(s.Completion, m.Tok.EOS)
		cBlocks := (counted-1)/bl + 1
		seq := Seq{Counted: counted}
		perm := rng.Perm(nBlocks)
		for j := 0; j < m.NumT; j++ {
			blk := perm[j] % cBlocks
			start := blk * bl
			l := min(bl, counted-start) // counted positions of the block
			lo, hi := max(int(float64(l)*m.MinT), 1), min(int(float64(l)*m.MaxT), l)
			if lo > hi {
				return nil, fmt.Errorf("spg: min_t %v and max_t %v leave no mask count for a block of %d counted tokens", m.MinT, m.MaxT, l)
			}
			d := Draw{Block: blk, NumMask: lo + rng.IntN(hi-lo+1)}
			masked := make([]bool, n)
			for _, k := range rng.Perm(l)[:d.NumMask] {
				masked[start+k] = true
			}
			for k := start + l; k < n; k++ {
				masked[k] = true
			}
			row := ids[(j*B+i)*L : (j*B+i+1)*L]
			off := P - len(s.Prompt)
			// the clean part before the chosen block, prompt included
			for k := off; k < P+start; k++ {
				if u := rng.Float64(); k < P && (row[k] == m.Tok.BOS || row[k] == m.Tok.Pad) {
					continue
				} else if u < m.PMaskPrompt {
					if k >= P {
						masked[k-P] = true
					} else {
						row[k] = m.Tok.Mask
					}
				}
			}
			for k := 0; k < n; k++ {
				if !masked[k] {
					continue
				}
				r := (j*B+i)*L + P + k
				row[P+k] = m.Tok.Mask
				if k < counted {
					in.Targets[r] = s.Completion[k]
					d.Pos = append(d.Pos, k)
					d.Rows = append(d.Rows, r)
				}
			}
			d.T = float64(len(d.Pos)) / float64(counted)
			seq.Draws = append(seq.Draws, d)
		}
		in.Seqs = append(in.Seqs, seq)
		// the unit of completion i is its ELBO, linear in the log-probs
		var unit algos.Estimate
		for _, d := range seq.Draws {
			for _, r := range d.Rows {
				unit.Rows = append(unit.Rows, r)
				unit.W = append(unit.W, 1/(float64(m.NumT)*float64(len(d.Rows))))
			}
		}
		in.Tokens = append(in.Tokens, []algos.Estimate{unit})
	}
	if m.BlockSize > 0 {
		side, err := algos.SideBySide(in.Inputs, samples, func(r int) int { return r % B }, P, m.BlockSize)
		if err != nil {
			return nil, err
		}
		in.Inputs = side
		for i := range in.Seqs {
			for j := range in.Seqs[i].Draws {
				for q, r := range in.Seqs[i].Draws[j].Rows {
					in.Seqs[i].Draws[j].Rows[q] = algos.SideRow(r, L)
				}
			}
		}
	}
	return in, nil
}

// ELBO is the lower-bound estimate of a completion and its gradient with
// respect to each of its draws' rows (same layout as Draw.Rows).
func ELBO(s Seq, lp []float64) (float64, [][]float64) {
	var v float64
	g := make([][]float64, len(s.Draws))
	nt := float64(len(s.Draws))
	for j, d := range s.Draws {
		g[j] = make([]float64, len(d.Rows))
		if len(d.Rows) == 0 {
			continue
		}
		w := 1 / (nt * float64(len(d.Rows)))
		for q, r := range d.Rows {
			v += w * lp[r]
			g[j][q] = w
		}
	}
	return v, g
}

// EUBO is the upper-bound estimate of a completion with exponent beta and
// its gradient.
func EUBO(s Seq, lp []float64, beta float64) (float64, [][]float64) {
	nt := float64(len(s.Draws))
	sum := map[int]float64{} // position -> mean_j [k in D_j] p^beta / t_j
	for _, d := range s.Draws {
		for q, k := range d.Pos {
			sum[k] += math.Exp(beta*lp[d.Rows[q]]) / d.T / nt
		}
	}
	g := make([][]float64, len(s.Draws))
	if len(sum) == 0 {
		for j, d := range s.Draws {
			g[j] = make([]float64, len(d.Rows))
		}
		return 0, g
	}
	var v float64
	for _, sk := range sum {
		v += math.Log(sk)
	}
	M := float64(len(sum))
	v /= beta * M
	for j, d := range s.Draws {
		g[j] = make([]float64, len(d.Rows))
		for q, k := range d.Pos {
			g[j][q] = math.Exp(beta*lp[d.Rows[q]]) / d.T / nt / sum[k] / M
		}
	}
	return v, g
}

// Params are the loss settings.
type Params struct {
	Estimate  string  // for A <= 0: mix (SPG's default) | eubo | elbo
	MixWeight float64 // mix: weight of the EUBO (SPG: 0.5)
	EUBOBeta  float64 // EUBO exponent (SPG: 1.0 sudoku, 1.5 countdown)
	// Agg weighs the completions: "token" (SPG's, or "") by their counted
	// length, "sequence" equally.
	Agg string
}

// Stats summarise one loss evaluation.
type Stats struct {
	Loss float64
	ELBO float64 // mean per-token ELBO of the completions with A > 0
	EUBO float64 // mean per-token EUBO of the completions with A <= 0
	Pos  int     // completions with A > 0
}

// Estimate is completion s's likelihood estimate for advantage a and its
// gradient.
func (p Params) estimate(s Seq, lp []float64, a float64) (float64, [][]float64, float64, error) {
	elbo, ge := ELBO(s, lp)
	if a > 0 {
		return elbo, ge, 0, nil
	}
	switch p.Estimate {
	case "elbo":
		return elbo, ge, 0, nil
	case "eubo", "mix":
		eubo, gu := EUBO(s, lp, p.EUBOBeta)
		if p.Estimate == "eubo" {
			return eubo, gu, eubo, nil
		}
		w := p.MixWeight
		for j := range gu {
			for q := range gu[j] {
				gu[j][q] = w*gu[j][q] + (1-w)*ge[j][q]
			}
		}
		return w*eubo + (1-w)*elbo, gu, eubo, nil
	}
	return 0, nil, 0, fmt.Errorf("spg: unknown estimate %q (mix, eubo, elbo)", p.Estimate)
}

// Loss is SPG's loss of a batch and its gradient with respect to every
// row's log-prob.
func Loss(in *Inputs, lp, adv []float64, p Params) (float64, []float64, Stats, error) {
	if len(adv) != len(in.Seqs) {
		return 0, nil, Stats{}, fmt.Errorf("spg loss: %d completions, %d advantages", len(in.Seqs), len(adv))
	}
	if p.Estimate != "elbo" && !(p.EUBOBeta > 0) {
		return 0, nil, Stats{}, fmt.Errorf("spg loss: eubo_beta %v, want > 0", p.EUBOBeta)
	}
	weight := func(s Seq) float64 { return float64(s.Counted) }
	switch p.Agg {
	case "", "token":
	case "sequence":
		weight = func(Seq) float64 { return 1 }
	default:
		return 0, nil, Stats{}, fmt.Errorf("spg loss: unknown aggregation %q (token, sequence)", p.Agg)
	}
	grad := make([]float64, len(lp))
	var st Stats
	var total float64
	for _, s := range in.Seqs {
		total += weight(s)
	}
	if total == 0 {
		return 0, grad, st, nil
	}
	var loss float64
	neg := 0
	for i, s := range in.Seqs {
		v, g, eubo, err := p.estimate(s, lp, adv[i])
		if err != nil {
			return 0, nil, Stats{}, err
		}
		c := -adv[i] * weight(s) / total
		loss += c * v
		for j, d := range s.Draws {
			for q, r := range d.Rows {
				grad[r] += c * g[j][q]
			}
		}
		if adv[i] > 0 {
			st.Pos++
			st.ELBO += v
		} else {
			neg++
			st.EUBO += eubo
		}
	}
	if st.Pos > 0 {
		st.ELBO /= float64(st.Pos)
	}
	if neg > 0 {
		st.EUBO /= float64(neg)
	}
	st.Loss = loss
	return loss, grad, st, nil
}
