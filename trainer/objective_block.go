package trainer

import (
	"fmt"
	"math/rand/v2"

	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
)

// Block is block diffusion training (BD3-LM, Arriola et al. 2025; SDAR) for
// a block-causal model: mdlm and sft become it when model.attention is
// block_causal. The answer (the whole sequence for pretraining) is cut into
// blocks of Size from its first position, the prompt into whole blocks
// counted back from there (as the sampler lays prompts out). Each block b
// gets its own t_b ~ U(0,1) and p_b = (1 - eps) t_b + eps, each of its real
// tokens is masked with probability p_b, and a masked token's cross-entropy
// weighs 1 / (p_b N), N = B L for pretraining and B L'_s (the sequence's
// answer length) for SFT, as in MDLM and SFT.
//
// BD3-LM's vectorised form: one forward per batch sees every block denoised
// given the clean blocks before it. Each sequence of L tokens becomes 2L rows,
// the clean sequence then its noised copy at the same RoPE positions; under
// model.Layout a clean row sees the clean rows of its own and earlier
// blocks, a noised row the noised rows of its own block and the clean rows
// of earlier blocks, which is what decoding a block sees. Only the noised
// copy's masked answer rows have targets. The noised copy's prompt rows are
// padding: no noised row may see them.
//
// Draws: per sequence, per answer block in order, t_b, then one uniform per
// position of the block (padding included, so the stream does not depend on
// padding).
type Block struct {
	MaskID int
	Size   int
	SFT    bool // prompt positions are never masked, loss over the answer length
}

func (o Block) Name() string {
	if o.SFT {
		return "block_sft"
	}
	return "block_mdlm"
}

func (o Block) Build(rng *rand.Rand, seqs []data.Sequence) (model.Batch, Metrics, error) {
	ids0, valid0, L, err := flatten(seqs)
	if err != nil {
		return model.Batch{}, nil, err
	}
	if o.Size < 1 {
		return model.Batch{}, nil, fmt.Errorf("block objective: block size %d", o.Size)
	}
	B, L2 := len(seqs), 2*L
	n := B * L2
	ids, targets, w := make([]int, n), make([]int, n), make([]float64, n)
	valid := make([]bool, n)
	lay := &model.Layout{Block: make([]int, n), Noisy: make([]bool, n), Pos: make([]int, n)}
	var masked, maskable int
	for b, s := range seqs {
		start, norm := 0, float64(B*L)
		if o.SFT {
			start = s.PromptLen
			if start >= L {
				return model.Batch{}, nil, fmt.Errorf("sequence %d: prompt fills all %d positions, no answer to learn", b, L)
			}
			norm = float64(B * (L - start))
		}
		clean, noisy := b*L2, b*L2+L
		for l := 0; l < L; l++ {
			blk := floorDiv(l-start, o.Size)
			ok := valid0 == nil || valid0[b*L+l]
			for _, r := range []int{clean + l, noisy + l} {
				ids[r], targets[r], valid[r] = ids0[b*L+l], -1, ok
				lay.Block[r], lay.Pos[r] = blk, l
			}
			lay.Noisy[noisy+l] = true
			if l < start {
				valid[noisy+l] = false
			}
		}
		for lo := start; lo < L; lo += o.Size {
			p := (1-MaskEps)*rng.Float64() + MaskEps
			for l := lo; l < min(lo+o.Size, L); l++ {
				u := rng.Float64()
				r := noisy + l
				if !valid[r] {
					continue
				}
				maskable++
				if u < p {
					targets[r] = ids[r]
					ids[r] = o.MaskID
					w[r] = 1 / (p * norm)
					masked++
				}
			}
		}
	}
	m := Metrics{"mask_frac": float64(masked) / float64(max(maskable, 1))}
	return model.Batch{IDs: ids, Valid: valid, Targets: targets, Loss: linearLoss(w), Layout: lay}, m, nil
}

// floorDiv is a / b rounded down (b > 0): block -1 is the last prompt block.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
