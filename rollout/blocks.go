package rollout

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/remask/remask/model"
)

// BlockModel is a model with block-causal attention (model.Config.BlockSize):
// a position sees the positions of its own and earlier blocks, counted from
// position 0. *model.Inference is one; BlockSize is 0 with full attention.
type BlockModel interface {
	CachedModel
	BlockSize() int
}

var _ BlockModel = (*model.Inference)(nil)

// blockSize is m's attention block, 0 for full attention.
func blockSize(m Model) int {
	if bm, ok := m.(BlockModel); ok {
		return bm.BlockSize()
	}
	return 0
}

// generateBlocks is Generate for a block-causal model (SDAR, BD3-LM): the
// completion is decoded block by block in the model's own blocks, each
// block with the options' remasking, schedule or threshold. Prompts are
// left-padded to a multiple of the block size, so that the completion's
// blocks start on the model's block boundaries and the prompt fills whole
// blocks before them (as SDAR blocks its prompt).
//
// With a cache (prefix or dual: the two are the same here, as no position
// sees a later block) the first forward of each block computes the block
// just finished, whose tokens are now final, into the KV cache together
// with the new block; every later forward of the block computes the block
// alone. A finished block is thus computed into the cache once and never
// again, and the cache is exact: the tokens are bit for bit those of
// decoding without it (model.Inference.ForwardRange).
func generateBlocks(m BlockModel, prompts [][]int, o Options, rowRNG func(b int) *rand.Rand) (Result, error) {
	bs := m.BlockSize()
	if o.Block != 0 && o.Block != bs {
		return Result{}, fmt.Errorf("sampler: block %d: this block-causal model decodes in its own blocks of %d", o.Block, bs)
	}
	o.Block = bs
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	B := len(prompts)
	cached := o.Cache == "prefix" || o.Cache == "dual"
	ids, valid, P, L := leftPadded(prompts, o.GenLength, o.PadID, func(b int, gen []int) {
		for l := range gen {
			gen[l] = o.MaskID
		}
	})
	if pad := (bs - P%bs) % bs; pad > 0 { // align the completion to a block boundary
		ids, valid, P, L = padLeft(ids, valid, B, L, pad, o.PadID), padValid(valid, B, L, pad), P+pad, L+pad
	}
	V := m.VocabSize()
	res := Result{Tokens: make([][]int, B), Trace: make([][]int, B), Entropy: make([]float64, B)}
	for b := range res.Trace {
		res.Trace[b] = make([]int, o.GenLength)
	}
	nBlocks := o.GenLength / bs
	stepsPerBlock := o.Steps / nBlocks
	var kv *model.KVCache
	if cached {
		kv = m.NewCache(B, L)
	}
	var logits []float32
	var cands []candidate
	step := 0
	for blk := 0; blk < nBlocks; blk++ {
		lo, hi := P+blk*bs, P+(blk+1)*bs
		sched := TransferSchedule(bs, stepsPerBlock)
		for s := 0; ; s++ {
			var err error
			fLo := 0
			switch {
			case !cached:
				logits, err = m.Forward(ids, B, L, valid, logits)
			case s == 0: // the finished block (or the prompt) into the cache, and this block
				fLo = max(lo-bs, 0)
				if blk == 0 {
					fLo = 0
				}
				logits, err = m.ForwardRange(ids, B, L, valid, fLo, hi, kv, logits)
			default:
				fLo = lo
				logits, err = m.ForwardRange(ids, B, L, valid, lo, hi, kv, logits)
			}
			if err != nil {
				return Result{}, err
			}
			res.NFE++
			n := L - fLo
			if cached {
				n = hi - fLo
			}
			remaining := 0
			for b := 0; b < B; b++ {
				rng := rowRNG(b)
				cands = cands[:0]
				for l := lo; l < hi; l++ {
					if ids[b*L+l] != o.MaskID {
						continue
					}
					row := logits[(b*n+l-fLo)*V : (b*n+l-fLo+1)*V]
					tok := propose(row, o.Temperature, o.MaskID, rng)
					var score float64
					if o.Remasking == "random" {
						score = rng.Float64()
					} else {
						score = confidence(row, tok, o.Confidence)
					}
					cands = append(cands, candidate{l, tok, score, row})
				}
				if len(cands) == 0 {
					continue
				}
				k := commitCount(cands, o, sched, s)
				for _, c := range cands[:k] {
					ids[b*L+c.pos] = c.tok
					res.Trace[b][c.pos-P] = step
					res.Entropy[b] += entropy(c.row, o.MaskID)
				}
				remaining += len(cands) - k
			}
			step++
			if remaining == 0 || (o.Threshold == 0 && s+1 >= stepsPerBlock) {
				break
			}
		}
	}
	if o.Revise > 0 {
		nfe, changed, err := revise(m, ids, B, L, P, valid, o.Revise, o.ReviseThreshold, o.MaskID, func(b, l int) { res.Trace[b][l-P] = step })
		if err != nil {
			return Result{}, err
		}
		res.NFE += nfe
		res.Revised += changed
	}
	for b := 0; b < B; b++ {
		res.Entropy[b] /= float64(max(o.GenLength, 1))
		res.Tokens[b] = afterEOS(ids[b*L+P:(b+1)*L], o.EOSID)
	}
	return res, nil
}

// candidate is one masked position's proposal in a decoding step.
type candidate struct {
	pos   int
	tok   int
	score float64
	row   []float32
}

// commitCount sorts a row's proposals by score and says how many to commit
// at step s of a block: with a threshold every proposal at or above it (at
// least one, Fast-dLLM), else the schedule's count, and all that are left
// at the last scheduled step.
func commitCount(cands []candidate, o Options, sched []int, s int) int {
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	if o.Threshold > 0 {
		// Fast-dLLM: every proposal at or above the threshold, and at least
		// the most confident one.
		thr := thresholdScore(o.Threshold, o.Confidence)
		k := 0
		for k < len(cands) && cands[k].score >= thr {
			k++
		}
		return max(k, 1)
	}
	if s >= len(sched)-1 {
		return len(cands) // the last scheduled step commits what is left
	}
	return min(sched[s], len(cands))
}

// afterEOS copies a completion with every token after the first EOS set to
// EOS.
func afterEOS(gen []int, eos int) []int {
	out := append([]int(nil), gen...)
	seen := false
	for i, t := range out {
		if seen {
			out[i] = eos
		}
		seen = seen || t == eos
	}
	return out
}

// padLeft puts pad more padding positions before each of B rows of L ids.
func padLeft(ids []int, valid []bool, B, L, pad, padID int) []int {
	out := make([]int, B*(L+pad))
	for b := 0; b < B; b++ {
		row := out[b*(L+pad) : (b+1)*(L+pad)]
		for l := 0; l < pad; l++ {
			row[l] = padID
		}
		copy(row[pad:], ids[b*L:(b+1)*L])
	}
	return out
}

// padValid is the key-padding mask after padLeft.
func padValid(valid []bool, B, L, pad int) []bool {
	out := make([]bool, B*(L+pad))
	for b := 0; b < B; b++ {
		for l := 0; l < L; l++ {
			out[b*(L+pad)+pad+l] = valid == nil || valid[b*L+l]
		}
	}
	return out
}
