package algos

import "fmt"

// BlockRows place the rows of Inputs for a block-causal model (SDAR,
// BD3-LM): each row's block, whether it belongs to the noised copy, and its
// RoPE position, as model.Layout takes them (the trainer converts; algos
// imports nothing of ours).
type BlockRows struct {
	Block []int  `json:"block"`
	Noisy []bool `json:"noisy"`
	Pos   []int  `json:"pos"`
}

// SideBySide turns an estimator's masked rows into BD3-LM's side-by-side
// rows for a model with attention blocks of bs, so that every estimate
// conditions as the block sampler decides a token: a token of answer block
// b is predicted from the blocks before b, clean (committed), and block b as
// the estimator masked it. Blocks after b are invisible to it, so what an
// estimator masks there changes nothing for block b; each answer block's
// masks act within that block.
//
// in holds rows of L = P + n (the prompt left-padded to P, then the
// completion), each one masked copy of completion sampleOf(row). Each
// becomes 2L rows: the clean copy (the prompt as the estimator left it, so
// its prompt masks still perturb the context, then the clean completion),
// then the masked copy, whose prompt rows are padding (no row sees them)
// and whose answer rows carry the estimator's targets. Blocks are counted
// from the answer's first position, prompt blocks back from it, and the
// RoPE positions are shifted as the sampler's (it left-pads the prompt to a
// multiple of bs), so a row's logits are those of the sampler's forward on
// the same state. Estimates move to the masked copy's rows; Row maps an old
// row to its new one for estimators that keep rows elsewhere.
func SideBySide(in *Inputs, samples []Sample, sampleOf func(row int) int, P, bs int) (*Inputs, error) {
	if bs < 1 {
		return nil, fmt.Errorf("side by side: block size %d", bs)
	}
	B, L := in.B, in.L
	L2 := 2 * L
	pad := (bs - P%bs) % bs
	out := &Inputs{B: B, L: L2, IDs: make([]int, B*L2), Targets: make([]int, B*L2), Draws: in.Draws,
		Blocks: &BlockRows{Block: make([]int, B*L2), Noisy: make([]bool, B*L2), Pos: make([]int, B*L2)}}
	if in.Valid != nil || P > 0 {
		out.Valid = make([]bool, B*L2)
	}
	for r := 0; r < B; r++ {
		s := samples[sampleOf(r)]
		if len(s.Completion) != L-P {
			return nil, fmt.Errorf("side by side: row %d has %d answer positions, its completion %d tokens", r, L-P, len(s.Completion))
		}
		for l := 0; l < L; l++ {
			src, c, m := r*L+l, r*L2+l, r*L2+L+l
			ok := in.Valid == nil || in.Valid[src]
			blk := floorDiv(l-P, bs)
			for _, d := range []int{c, m} {
				out.Blocks.Block[d], out.Blocks.Pos[d] = blk, l+pad
				out.Targets[d] = -1
			}
			out.Blocks.Noisy[m] = true
			if l < P {
				if in.Targets[src] >= 0 {
					return nil, fmt.Errorf("side by side: row %d scores prompt position %d", r, l)
				}
				out.IDs[c], out.IDs[m] = in.IDs[src], in.IDs[src]
				if out.Valid != nil {
					out.Valid[c] = ok
				}
				continue
			}
			out.IDs[c], out.IDs[m] = s.Completion[l-P], in.IDs[src]
			out.Targets[m] = in.Targets[src]
			if out.Valid != nil {
				out.Valid[c], out.Valid[m] = ok, ok
			}
		}
	}
	out.Tokens = make([][]Estimate, len(in.Tokens))
	for i, toks := range in.Tokens {
		out.Tokens[i] = make([]Estimate, len(toks))
		for k, e := range toks {
			rows := make([]int, len(e.Rows))
			for j, row := range e.Rows {
				rows[j] = SideRow(row, L)
			}
			out.Tokens[i][k] = Estimate{Rows: rows, W: e.W}
		}
	}
	return out, nil
}

// SideRow is where SideBySide moves row-major position row of rows of L:
// the same position of the masked copy.
func SideRow(row, L int) int { return (row/L)*2*L + L + row%L }

// floorDiv is a / b rounded down (b > 0): block -1 is the last prompt block.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// AnswerBlocks splits n completion positions into the model's attention
// blocks of bs (the last one shorter when bs does not divide n) and returns
// each block's [lo, hi).
func AnswerBlocks(n, bs int) [][2]int {
	var out [][2]int
	for lo := 0; lo < n; lo += bs {
		out = append(out, [2]int{lo, min(lo+bs, n)})
	}
	return out
}
