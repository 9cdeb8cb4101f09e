package rollout

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/remask/remask/model"
)

// Options configure a sampler.
type Options struct {
	GenLength   int     // completion tokens to generate
	Steps       int     // denoising steps in all; divided evenly between blocks
	Block       int     // block length; 0 or GenLength = one block
	Temperature float64 // Gumbel-max temperature; 0 = greedy argmax
	Remasking   string  // low_confidence | random
	MaskID      int
	EOSID       int
	PadID       int
}

// Validate reports options the sampler cannot run with.
func (o Options) Validate() error {
	block := o.Block
	if block == 0 {
		block = o.GenLength
	}
	switch {
	case o.GenLength < 1:
		return fmt.Errorf("sampler: gen_length %d, want >= 1", o.GenLength)
	case block < 1 || o.GenLength%block != 0:
		return fmt.Errorf("sampler: block %d must divide gen_length %d", block, o.GenLength)
	case o.Steps < 1 || o.Steps%(o.GenLength/block) != 0:
		return fmt.Errorf("sampler: steps %d must be a positive multiple of the number of blocks %d", o.Steps, o.GenLength/block)
	case o.Temperature < 0:
		return fmt.Errorf("sampler: temperature %g, want >= 0", o.Temperature)
	case o.Remasking != "low_confidence" && o.Remasking != "random":
		return fmt.Errorf("sampler: remasking %q, want low_confidence or random", o.Remasking)
	}
	return nil
}

// Result holds one completion per prompt.
type Result struct {
	Tokens [][]int // GenLength tokens each, after the EOS rule
	Trace  [][]int // the step (0-based) at which each token was committed
	NFE    int     // model forwards spent
}

// TransferSchedule splits m masked tokens over s steps as LLaDA does:
// floor(m/s) each, and the first m mod s steps take one more.
func TransferSchedule(m, s int) []int {
	k := make([]int, s)
	for i := range k {
		k[i] = m / s
		if i < m%s {
			k[i]++
		}
	}
	return k
}

// Model is what a sampler needs of a model: logits (B*L rows of VocabSize)
// for a batch of token ids. *model.Inference is one; tests script others.
type Model interface {
	Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error)
	VocabSize() int
}

var _ Model = (*model.Inference)(nil)

// Generate samples a completion for every prompt (token ids, <bos> included)
// in one batch. Prompts of different lengths are padded after their
// completion, behind the key-padding mask.
func Generate(inf Model, prompts [][]int, o Options, rng *rand.Rand) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	B := len(prompts)
	if B == 0 {
		return Result{}, nil
	}
	maxP := 0
	for _, p := range prompts {
		maxP = max(maxP, len(p))
	}
	L := maxP + o.GenLength
	V := inf.VocabSize()
	ids := make([]int, B*L)
	var valid []bool
	start := make([]int, B)
	for b, p := range prompts {
		start[b] = len(p)
		row := ids[b*L : (b+1)*L]
		copy(row, p)
		for l := len(p); l < L; l++ {
			if l < len(p)+o.GenLength {
				row[l] = o.MaskID
			} else {
				row[l] = o.PadID
			}
		}
		if len(p) < maxP {
			if valid == nil {
				valid = make([]bool, B*L)
				for i := range valid {
					valid[i] = true
				}
			}
			for l := len(p) + o.GenLength; l < L; l++ {
				valid[b*L+l] = false
			}
		}
	}
	res := Result{Tokens: make([][]int, B), Trace: make([][]int, B)}
	for b := range res.Trace {
		res.Trace[b] = make([]int, o.GenLength)
	}
	block := o.Block
	if block == 0 {
		block = o.GenLength
	}
	nBlocks := o.GenLength / block
	stepsPerBlock := o.Steps / nBlocks
	var logits []float32
	type cand struct {
		pos   int
		tok   int
		score float64
	}
	step := 0
	for blk := 0; blk < nBlocks; blk++ {
		sched := TransferSchedule(block, stepsPerBlock)
		for s := 0; s < stepsPerBlock; s++ {
			var err error
			if logits, err = inf.Forward(ids, B, L, valid, logits); err != nil {
				return Result{}, err
			}
			res.NFE++
			for b := 0; b < B; b++ {
				lo, hi := start[b]+blk*block, start[b]+(blk+1)*block
				var cands []cand
				for l := lo; l < hi; l++ {
					if ids[b*L+l] != o.MaskID {
						continue
					}
					row := logits[(b*L+l)*V : (b*L+l+1)*V]
					tok := propose(row, o.Temperature, o.MaskID, rng)
					score := rng.Float64()
					if o.Remasking == "low_confidence" {
						score = softmaxProb(row, tok)
					}
					cands = append(cands, cand{l, tok, score})
				}
				sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
				for _, c := range cands[:min(sched[s], len(cands))] {
					ids[b*L+c.pos] = c.tok
					res.Trace[b][c.pos-start[b]] = step
				}
			}
			step++
		}
	}
	for b := 0; b < B; b++ {
		out := append([]int(nil), ids[b*L+start[b]:b*L+start[b]+o.GenLength]...)
		seenEOS := false
		for i, t := range out {
			if seenEOS {
				out[i] = o.EOSID
			}
			seenEOS = seenEOS || t == o.EOSID
		}
		res.Tokens[b] = out
	}
	return res, nil
}

// propose picks argmax(logits + temperature * Gumbel noise), never the mask
// token; the noise is drawn in float64.
func propose(row []float32, temperature float64, maskID int, rng *rand.Rand) int {
	best, bestV := -1, math.Inf(-1)
	for j, x := range row {
		if j == maskID {
			continue
		}
		v := float64(x)
		if temperature > 0 {
			u := rng.Float64()
			for u == 0 {
				u = rng.Float64()
			}
			v += temperature * -math.Log(-math.Log(u))
		}
		if v > bestV {
			best, bestV = j, v
		}
	}
	return best
}

// softmaxProb returns softmax(row)[tok] in float64.
func softmaxProb(row []float32, tok int) float64 {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x) - mx)
	}
	return math.Exp(float64(row[tok])-mx) / s
}
