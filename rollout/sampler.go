package rollout

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/remask/remask/model"
)

// Options configure a sampler. Each is a config field (sample.*) and a
// `remask sample` flag.
type Options struct {
	GenLength   int     // completion tokens to generate
	Steps       int     // denoising steps in all, divided evenly between blocks; with Threshold, the most per block is Steps/blocks
	Block       int     // block length (semi-autoregressive, left to right); 0 or GenLength = one block
	Temperature float64 // Gumbel-max temperature; 0 = greedy argmax
	Remasking   string  // low_confidence | random: which proposals to keep
	Confidence  string  // prob | margin | neg_entropy: the score low_confidence ranks by ("" = prob)
	Threshold   float64 // > 0: Fast-dLLM parallel decoding, commit every proposal with confidence >= Threshold (at least one a step)
	Cache       string  // none | prefix | dual: Fast-dLLM block KV cache ("" = none)
	// Revise > 0 adds up to that many revision passes after the last step, for
	// models trained with edit-based corruption: one forward over the finished
	// sequence, and every committed token whose position the model gives
	// another token at least ReviseThreshold probability is replaced by it.
	Revise          int
	ReviseThreshold float64
	MaskID          int
	EOSID           int
	PadID           int
}

// Validate reports options the sampler cannot run with.
func (o Options) Validate() error {
	block := o.block()
	switch {
	case o.GenLength < 1:
		return fmt.Errorf("sampler: gen_length %d, want >= 1", o.GenLength)
	case block < 1 || o.GenLength%block != 0:
		return fmt.Errorf("sampler: block %d must divide gen_length %d", block, o.GenLength)
	case o.Steps < 1 || o.Steps%(o.GenLength/block) != 0:
		return fmt.Errorf("sampler: steps %d must be a positive multiple of the number of blocks %d", o.Steps, o.GenLength/block)
	case o.Temperature < 0 || math.IsNaN(o.Temperature):
		return fmt.Errorf("sampler: temperature %g, want >= 0", o.Temperature)
	case o.Remasking != "low_confidence" && o.Remasking != "random":
		return fmt.Errorf("sampler: remasking %q, want low_confidence or random", o.Remasking)
	case o.Confidence != "" && o.Confidence != "prob" && o.Confidence != "margin" && o.Confidence != "neg_entropy":
		return fmt.Errorf("sampler: confidence %q, want prob, margin or neg_entropy", o.Confidence)
	case !(o.Threshold >= 0 && o.Threshold <= 1):
		return fmt.Errorf("sampler: threshold %g, want 0 (off) to 1: it compares against a confidence", o.Threshold)
	case o.Threshold > 0 && o.Remasking != "low_confidence":
		return fmt.Errorf("sampler: threshold decoding ranks by confidence; use remasking low_confidence")
	case o.Revise < 0 || (o.Revise > 0 && !(o.ReviseThreshold > 0 && o.ReviseThreshold <= 1)):
		return fmt.Errorf("sampler: revise %d with revise_threshold %g: want revise >= 0 and a threshold in (0, 1]", o.Revise, o.ReviseThreshold)
	case o.Cache != "" && o.Cache != "none" && o.Cache != "prefix" && o.Cache != "dual":
		return fmt.Errorf("sampler: cache %q, want none, prefix or dual", o.Cache)
	}
	return nil
}

func (o Options) block() int {
	if o.Block == 0 {
		return o.GenLength
	}
	return o.Block
}

// Result holds one completion per prompt.
type Result struct {
	Tokens [][]int // GenLength tokens each, after the EOS rule
	Trace  [][]int // the step (0-based, counted over the whole generation) at which each token was committed
	// Entropy is, per completion, the mean entropy (nats) of the distributions
	// its tokens were committed from (before temperature): how much choice the
	// policy still has, the RL loop's entropy metric.
	Entropy []float64
	NFE     int // model forwards spent (a forward over part of the positions counts as one)
	// Revised counts the tokens the revision passes changed.
	Revised int
}

// TransferSchedule splits m masked tokens over s steps as LLaDA does:
// floor(m/s) each, and the first (m mod s) steps take one more.
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

// Model is what a sampler needs of a model. *model.Inference is one; tests
// script others. ForwardRange and NewCache serve the KV-cache modes.
type Model interface {
	Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error)
	VocabSize() int
}

// CachedModel is a Model with Fast-dLLM's block KV cache.
type CachedModel interface {
	Model
	NewCache(B, L int) *model.KVCache
	ForwardRange(ids []int, B, L int, valid []bool, lo, hi int, cache *model.KVCache, out []float32) ([]float32, error)
}

// SelectModel is a Model that can return the logits of chosen positions only
// (see model.Inference.ForwardSelect); the sampler asks it for its masked
// positions, which spares the last layer and the head every other row.
type SelectModel interface {
	ForwardSelect(ids []int, B, L int, valid []bool, lo, hi int, sel []bool, cache *model.KVCache, out []float32) ([]float32, error)
}

var (
	_ CachedModel = (*model.Inference)(nil)
	_ SelectModel = (*model.Inference)(nil)
)

// Generate samples a completion for every prompt (token ids, <bos>
// included) in one batch. Prompts are left-padded to a common length behind
// the key-padding mask, so that every completion occupies the same
// positions (RoPE depends only on relative positions, so the padding does not
// change what the model sees). rngs gives each row its own random stream
// (Gumbel noise, random remasking): a row's output does not depend on which
// other rows share its batch. With one rng, all rows share it.
func Generate(m Model, prompts [][]int, o Options, rngs ...*rand.Rand) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	B := len(prompts)
	if B == 0 {
		return Result{}, nil
	}
	if len(rngs) != 1 && len(rngs) != B {
		return Result{}, fmt.Errorf("sampler: %d random streams for %d prompts", len(rngs), B)
	}
	rowRNG := func(b int) *rand.Rand {
		if len(rngs) == 1 {
			return rngs[0]
		}
		return rngs[b]
	}
	cache := o.Cache
	if cache == "" {
		cache = "none"
	}
	cm, hasCache := m.(CachedModel)
	if cache != "none" && !hasCache {
		return Result{}, fmt.Errorf("sampler: cache %q needs a model with a KV cache", cache)
	}
	for _, p := range prompts {
		if len(p) == 0 {
			return Result{}, fmt.Errorf("sampler: empty prompt")
		}
	}
	if blockSize(m) > 0 { // block-causal: decode in the model's blocks, exact cache (blocks.go)
		return generateBlocks(m.(BlockModel), prompts, o, rowRNG)
	}
	ids, valid, P, L := leftPadded(prompts, o.GenLength, o.PadID, func(b int, gen []int) {
		for l := range gen {
			gen[l] = o.MaskID
		}
	})
	V := m.VocabSize()
	res := Result{Tokens: make([][]int, B), Trace: make([][]int, B), Entropy: make([]float64, B)}
	for b := range res.Trace {
		res.Trace[b] = make([]int, o.GenLength)
	}
	block := o.block()
	nBlocks := o.GenLength / block
	stepsPerBlock := o.Steps / nBlocks
	var kv *model.KVCache
	if cache != "none" {
		kv = cm.NewCache(B, L)
	}
	var logits []float32
	cands := make([]candidate, 0, block)
	sm, selective := m.(SelectModel)
	var sel []bool
	if selective {
		sel = make([]bool, B*L)
	}
	step := 0
	for blk := 0; blk < nBlocks; blk++ {
		lo, hi := P+blk*block, P+(blk+1)*block
		sched := TransferSchedule(block, stepsPerBlock)
		for s := 0; ; s++ {
			// Which positions this forward computes, and where row l of the
			// block sits in its output.
			var err error
			fLo, fHi := 0, L
			switch {
			case selective: // the rows of the masked positions of the block, in order
				for b := 0; b < B; b++ {
					for l := 0; l < L; l++ {
						sel[b*L+l] = l >= lo && l < hi && ids[b*L+l] == o.MaskID
					}
				}
				var c *model.KVCache
				switch {
				case cache == "none":
				case s == 0:
					c = kv
				case cache == "prefix":
					fLo, c = lo, kv
				default:
					fLo, fHi, c = lo, hi, kv
				}
				logits, err = sm.ForwardSelect(ids, B, L, valid, fLo, fHi, sel, c, logits)
			case cache == "none":
				logits, err = m.Forward(ids, B, L, valid, logits)
			case s == 0: // the first step of a block refreshes the whole cache
				logits, err = cm.ForwardRange(ids, B, L, valid, 0, L, kv, logits)
			case cache == "prefix": // prefix cached; the block and the suffix recomputed
				fLo = lo
				logits, err = cm.ForwardRange(ids, B, L, valid, lo, L, kv, logits)
			default: // dual: prefix and suffix cached; only the block recomputed
				fLo, fHi = lo, hi
				logits, err = cm.ForwardRange(ids, B, L, valid, lo, hi, kv, logits)
			}
			if err != nil {
				return Result{}, err
			}
			res.NFE++
			n := fHi - fLo
			remaining, next := 0, 0 // next: the selected row of the next masked position
			for b := 0; b < B; b++ {
				rng := rowRNG(b)
				cands = cands[:0]
				for l := lo; l < hi; l++ {
					if ids[b*L+l] != o.MaskID {
						continue
					}
					r := b*n + l - fLo
					if selective {
						r, next = next, next+1
					}
					row := logits[r*V : (r+1)*V]
					tok := propose(row, o.Temperature, o.MaskID, rng)
					score := 0.0
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
		// Revised tokens get the step after the last denoising step.
		nfe, changed, err := revise(m, ids, B, L, P, valid, o.Revise, o.ReviseThreshold, o.MaskID, func(b, l int) { res.Trace[b][l-P] = step })
		if err != nil {
			return Result{}, err
		}
		step += nfe
		res.NFE += nfe
		res.Revised += changed
	}
	for b := 0; b < B; b++ {
		res.Entropy[b] /= float64(max(o.GenLength, 1))
		out := append([]int(nil), ids[b*L+P:(b+1)*L]...)
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

// entropy is the entropy (nats) of softmax(row) over every token but the
// mask, the distribution propose draws from at temperature 1.
func entropy(row []float32, maskID int) float64 {
	mx := math.Inf(-1)
	for j, x := range row {
		if j != maskID {
			mx = math.Max(mx, float64(x))
		}
	}
	var z, zx float64
	for j, x := range row {
		if j == maskID {
			continue
		}
		d := float64(x) - mx
		e := math.Exp(d)
		z += e
		zx += e * d
	}
	return math.Log(z) - zx/z // -sum p log p with p = e/z, log p = d - log z
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

// confidence scores a proposal from the model's distribution at its
// position (softmax of the raw logits, in float64):
//   - prob: p(tok)
//   - margin: p1 - p2, the gap between the two most likely tokens
//   - neg_entropy: sum_v p_v log p_v, which is <= 0 and higher when the
//     distribution is more peaked (so higher = more confident, as for the
//     other two)
func confidence(row []float32, tok int, kind string) float64 {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	var z float64
	for _, x := range row {
		z += math.Exp(float64(x) - mx)
	}
	switch kind {
	case "margin":
		p1, p2 := 0.0, 0.0
		for _, x := range row {
			p := math.Exp(float64(x)-mx) / z
			if p > p1 {
				p1, p2 = p, p1
			} else if p > p2 {
				p2 = p
			}
		}
		return p1 - p2
	case "neg_entropy":
		var s float64
		for _, x := range row {
			p := math.Exp(float64(x)-mx) / z
			if p > 0 {
				s += p * math.Log(p)
			}
		}
		return s
	}
	return math.Exp(float64(row[tok])-mx) / z
}

// thresholdScore maps a threshold on the probability scale onto the
// confidence's own scale: prob and margin are compared directly; for
// neg_entropy the threshold is the entropy of a distribution that puts
// probability t on one token and spreads the rest over one other, so
// threshold 0.9 means "about as peaked as 90% confident".
func thresholdScore(t float64, kind string) float64 {
	if kind != "neg_entropy" || t >= 1 {
		return t
	}
	return t*math.Log(t) + (1-t)*math.Log(1-t)
}

// revise runs up to passes revision passes over the completions at positions
// [P, L) of a laid-out batch, in place: each pass is one forward, and every
// token whose position the model gives another token at least thr
// probability is replaced. It stops early when a pass changes nothing.
func revise(m Model, ids []int, B, L, P int, valid []bool, passes int, thr float64, maskID int, onChange func(b, l int)) (nfe, changed int, err error) {
	V := m.VocabSize()
	var logits []float32
	for pass := 0; pass < passes; pass++ {
		if logits, err = m.Forward(ids, B, L, valid, logits); err != nil {
			return nfe, changed, err
		}
		nfe++
		n := 0
		for b := 0; b < B; b++ {
			for l := P; l < L; l++ {
				row := logits[(b*L+l)*V : (b*L+l+1)*V]
				best := propose(row, 0, maskID, nil)
				if best != ids[b*L+l] && confidence(row, best, "prob") >= thr {
					ids[b*L+l] = best
					if onChange != nil {
						onChange(b, l)
					}
					n++
				}
			}
		}
		changed += n
		if n == 0 {
			break
		}
	}
	return nfe, changed, nil
}

// Revise runs revision passes over given completions (the repair test of
// edit-trained models): each prompt (with <bos>) followed by its completion,
// left-padded as Generate lays them out. It returns the revised completions
// and how many tokens changed.
func Revise(m Model, prompts, completions [][]int, passes int, thr float64, o Options) ([][]int, int, error) {
	if len(prompts) != len(completions) {
		return nil, 0, fmt.Errorf("revise: %d prompts, %d completions", len(prompts), len(completions))
	}
	B := len(prompts)
	if B == 0 {
		return nil, 0, nil
	}
	G := 0
	for _, c := range completions {
		G = max(G, len(c))
	}
	ids, valid, P, L := leftPadded(prompts, G, o.PadID, func(b int, gen []int) {
		n := copy(gen, completions[b])
		for l := n; l < len(gen); l++ {
			gen[l] = o.EOSID
		}
	})
	_, changed, err := revise(m, ids, B, L, P, valid, passes, thr, o.MaskID, nil)
	if err != nil {
		return nil, 0, err
	}
	out := make([][]int, B)
	for b := range out {
		out[b] = append([]int(nil), ids[b*L+P:b*L+P+len(completions[b])]...)
	}
	return out, changed, nil
}

// leftPadded lays out a batch as the sampler sees it: each prompt left-padded
// to the longest, then gen positions that fill writes, and the padding mask
// (nil when no prompt is padded).
func leftPadded(prompts [][]int, gen, padID int, fill func(b int, gen []int)) (ids []int, valid []bool, P, L int) {
	for _, p := range prompts {
		P = max(P, len(p))
	}
	L = P + gen
	B := len(prompts)
	ids = make([]int, B*L)
	for b, p := range prompts {
		row := ids[b*L : (b+1)*L]
		pad := P - len(p)
		for l := 0; l < pad; l++ {
			row[l] = padID
		}
		copy(row[pad:], p)
		fill(b, row[P:])
		if pad > 0 {
			if valid == nil {
				valid = make([]bool, B*L)
				for i := range valid {
					valid[i] = true
				}
			}
			for l := 0; l < pad; l++ {
				valid[b*L+l] = false
			}
		}
	}
	return ids, valid, P, L
}
