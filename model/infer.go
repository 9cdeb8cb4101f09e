package model

import "fmt"

// Inference is the plain-Go forward over a Params' float32 weights: no graph,
// no gradients. It keeps scratch buffers between calls, so one Inference must
// not be used by two goroutines at once; make one per worker (they can share
// the Params, which Forward only reads).
type Inference struct {
	// Threads is how many goroutines one forward may use (0 = GOMAXPROCS).
	// Workers of a pool set 1 and get their parallelism from each other.
	Threads int

	p        *Params
	cos, sin []float64

	// scratch, grown on demand
	x, h, qkv, qr, att, gu, s []float32
	probs, raw                []float32
	sub                       []int
	// block-causal forward (infer_block.go): each row's sequence and
	// position, where each block's rows start, logits in row order
	rowSeq, rowPos, groups []int
	logits                 []float32
	own                    *KVCache  // Forward's cache
	xs, qs                 []float32 // the last layer's selected rows
	rowSel, qOff           []int
	selRaw                 []bool
	blockAll               []float32 // forwardBlocks' rows before the selection
	slot                   []int32   // tokenQKV: each token's row in tq, -1 when none
	uniq                   []int
	tx, th, tq             []float32
	kt, sc                 []float32 // attnRowsF32: transposed keys, scores
	kvK, kvV               []float32 // scratchKV's buffers
	kvShared               KVCache
	noTokenQKV             bool // tests: always the full first-layer product

	// workers run the chunks of a batch in parallel, each single-threaded
	// on its own scratch; view is a worker's window on the caller's cache.
	workers []*Inference
	view    KVCache
}

// chunkRows is about how many rows (sequences x positions) one worker pushes
// through all layers at a time: the activations of a chunk stay in the core's
// cache between the products, and with whole chunks on separate cores the
// goroutines meet once a forward rather than at every product.
const chunkRows = 512

// NewInference prepares the forward for p.
func NewInference(p *Params) *Inference {
	c := p.Config
	cos, sin := ropeTables(c.MaxLen, c.headDim(), c.RopeTheta)
	return &Inference{p: p, cos: cos, sin: sin}
}

// VocabSize is the number of logits per position.
func (f *Inference) VocabSize() int { return f.p.Config.Vocab }

// BlockSize is the block of block-causal attention, 0 with full attention.
func (f *Inference) BlockSize() int { return f.p.Config.BlockSize }

// Params returns the weights this forward reads.
func (f *Inference) Params() *Params { return f.p }

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// KVCache keeps, for every layer, the RoPE-rotated keys and the values of B
// sequences of L tokens, so that a forward over a few positions can attend to
// all of them (Fast-dLLM's prefix and dual caches).
type KVCache struct {
	B, L int
	K, V [][]float32 // per layer, (B*L, KVH*dh)
}

// NewCache allocates a cache for B sequences of L tokens.
func (f *Inference) NewCache(B, L int) *KVCache {
	c := &KVCache{B: B, L: L}
	n := B * L * f.p.Config.kvDim()
	for i := 0; i < f.p.Config.Layers; i++ {
		c.K = append(c.K, make([]float32, n))
		c.V = append(c.V, make([]float32, n))
	}
	return c
}

// Forward computes the logits (B*L rows of V) of B sequences of L tokens given
// row-major in ids, with an optional key-padding mask (nil: all valid). The
// result is written to out when it is large enough, else freshly allocated.
func (f *Inference) Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error) {
	if f.own == nil || f.own.B != B || f.own.L != L {
		f.own = f.NewCache(B, L)
	}
	return f.ForwardRange(ids, B, L, valid, 0, L, f.own, out)
}

// ForwardSelect is ForwardRange (Forward when cache is nil) that returns the
// logits of the positions marked in sel only (B*L long, every mark inside
// [lo, hi)), one row each, sequence by sequence, position by position. The
// last layer's attention, MLP and the head run for those rows alone: a
// sampler needs the distributions at its masked positions, no others. The
// rows are those of ForwardRange, to float32 rounding (the products run on
// fewer rows).
func (f *Inference) ForwardSelect(ids []int, B, L int, valid []bool, lo, hi int, sel []bool, cache *KVCache, out []float32) ([]float32, error) {
	if len(sel) != B*L {
		return nil, fmt.Errorf("model: selection of %d positions for %dx%d", len(sel), B, L)
	}
	if cache == nil {
		if f.own == nil || f.own.B != B || f.own.L != L {
			f.own = f.NewCache(B, L)
		}
		cache = f.own
	}
	if lo < 0 || hi > L || lo >= hi {
		return nil, fmt.Errorf("model: forward range [%d, %d) outside [0, %d)", lo, hi, L)
	}
	for b := 0; b < B; b++ {
		for l := 0; l < L; l++ {
			if sel[b*L+l] && (l < lo || l >= hi) {
				return nil, fmt.Errorf("model: selected position %d outside the forward range [%d, %d)", l, lo, hi)
			}
		}
	}
	if !f.p.Config.LogitShift {
		return f.forwardRange(ids, B, L, valid, lo, hi, sel, cache, out)
	}
	// Position i reads the network's row i-1 (row 0 its own): select those,
	// then copy each selected position's row out.
	from := max(lo-1, 0)
	f.selRaw = growBool(f.selRaw, B*L)
	clear(f.selRaw)
	for i, on := range sel {
		if on {
			f.selRaw[i-min(i%L, 1)] = true
		}
	}
	raw, err := f.forwardRange(ids, B, L, valid, from, hi, f.selRaw, cache, f.raw)
	if err != nil {
		return nil, err
	}
	f.raw = raw
	v, n := f.p.Config.Vocab, 0
	for _, on := range sel {
		if on {
			n++
		}
	}
	out = grow(out, n*v)
	r, k := -1, 0 // r: the raw row of the last raw position passed
	for i := range sel {
		if f.selRaw[i] {
			r++
		}
		if sel[i] {
			src := r // position i reads raw position i-1, the row counted just before
			if i%L != 0 {
				src = r - boolInt(f.selRaw[i])
			}
			copy(out[k*v:(k+1)*v], raw[src*v:(src+1)*v])
			k++
		}
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func growBool(buf []bool, n int) []bool {
	if cap(buf) < n {
		return make([]bool, n)
	}
	return buf[:n]
}

// ForwardRaw is Forward without the logit shift of a family that has one:
// the network's own output, row i predicting token i+1 for Dream (what the
// family's modeling code returns, and what `remask ckpt logits` prints).
func (f *Inference) ForwardRaw(ids []int, B, L int, valid []bool, out []float32) ([]float32, error) {
	if f.own == nil || f.own.B != B || f.own.L != L {
		f.own = f.NewCache(B, L)
	}
	return f.forwardRange(ids, B, L, valid, 0, L, nil, f.own, out)
}

// ForwardRange computes the logits of positions [lo, hi) of every sequence
// only (B*(hi-lo) rows), attending to all L positions: the keys and values of
// [lo, hi) are computed now and written into the cache, those of the other
// positions are read from it, as an earlier call over them left them. With
// block-causal attention (BlockSize > 0) a position sees the positions of
// its own and earlier blocks only (DefaultLayout), so a cache holding the
// finished blocks is exact: over ranges that start and end at block
// boundaries, the logits equal Forward's bit for bit. Row i
// is always token i's distribution: with LogitShift it is the network's
// output at i-1 (so the range is computed from lo-1), at 0 its own.
func (f *Inference) ForwardRange(ids []int, B, L int, valid []bool, lo, hi int, cache *KVCache, out []float32) ([]float32, error) {
	if !f.p.Config.LogitShift {
		return f.forwardRange(ids, B, L, valid, lo, hi, nil, cache, out)
	}
	if lo < 0 || hi > L || lo >= hi {
		return nil, fmt.Errorf("model: forward range [%d, %d) outside [0, %d)", lo, hi, L)
	}
	from := max(lo-1, 0)
	raw, err := f.forwardRange(ids, B, L, valid, from, hi, nil, cache, f.raw)
	if err != nil {
		return nil, err
	}
	f.raw = raw
	v, n, m := f.p.Config.Vocab, hi-lo, hi-from
	if cap(out) < B*n*v {
		out = make([]float32, B*n*v)
	}
	out = out[:B*n*v]
	for b := 0; b < B; b++ {
		src, dst := raw[b*m*v:(b+1)*m*v], out[b*n*v:(b+1)*n*v]
		if lo == 0 { // position 0 keeps its own row; position i reads i-1
			copy(dst[:v], src[:v])
			copy(dst[v:], src[:(n-1)*v])
		} else { // raw starts at lo-1: position lo+j reads raw row j
			copy(dst, src[:n*v])
		}
	}
	return out, nil
}

// forwardRange checks the call and splits the batch into chunks of whole
// sequences (sequences never attend to each other), run in parallel on the
// workers; sel (nil = every position of [lo, hi)) picks the output rows.
func (f *Inference) forwardRange(ids []int, B, L int, valid []bool, lo, hi int, sel []bool, cache *KVCache, out []float32) ([]float32, error) {
	c := f.p.Config
	if len(ids) != B*L || (valid != nil && len(valid) != B*L) {
		return nil, fmt.Errorf("model: forward got %d ids, %d valid for %dx%d", len(ids), len(valid), B, L)
	}
	if L > c.MaxLen {
		return nil, fmt.Errorf("model: sequence length %d exceeds max_len %d", L, c.MaxLen)
	}
	if lo < 0 || hi > L || lo >= hi {
		return nil, fmt.Errorf("model: forward range [%d, %d) outside [0, %d)", lo, hi, L)
	}
	if cache == nil || cache.B != B || cache.L != L || len(cache.K) != c.Layers {
		return nil, fmt.Errorf("model: KV cache does not match a %dx%d batch", B, L)
	}
	for i, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("model: token id %d at %d outside vocab %d", id, i, c.Vocab)
		}
	}
	n := hi - lo
	if c.BlockSize > 0 { // its own block-major order keeps the cache exact
		if sel == nil {
			return f.forwardBlocks(ids, B, L, valid, lo, hi, cache, nil, out)
		}
		all, err := f.forwardBlocks(ids, B, L, valid, lo, hi, cache, nil, f.blockAll)
		if err != nil {
			return nil, err
		}
		f.blockAll = all
		v := c.Vocab
		out = out[:0]
		for b := 0; b < B; b++ {
			for j := 0; j < n; j++ {
				if sel[b*L+lo+j] {
					out = append(out, all[(b*n+j)*v:(b*n+j+1)*v]...)
				}
			}
		}
		return out, nil
	}
	// outRows[b] is where sequence b's rows start in out
	outRows := make([]int, B+1)
	for b := 0; b < B; b++ {
		k := n
		if sel != nil {
			k = 0
			for _, on := range sel[b*L+lo : b*L+hi] {
				k += boolInt(on)
			}
		}
		outRows[b+1] = outRows[b] + k
	}
	out = grow(out, outRows[B]*c.Vocab)
	// Chunks of about chunkRows rows, as many for each worker.
	workers := threads(f.Threads)
	per := max(chunkRows/n, 1) // sequences per chunk
	nChunks := (B + per - 1) / per
	if B >= workers {
		nChunks = (nChunks + workers - 1) / workers * workers
	}
	per = (B + nChunks - 1) / nChunks
	// A forward of whole sequences into the forward's own cache leaves
	// nothing anyone reads afterwards: each layer's keys and values are
	// needed during that layer only, so one buffer, reused by every layer,
	// serves (it stays in the core's cache; the big one would be written
	// cold, 36 MB a forward for 256 tiny sequences).
	ephemeral := cache == f.own && lo == 0 && hi == L
	if per >= B { // one chunk: the products split across the cores instead
		if ephemeral {
			cache = f.scratchKV(B, L)
		}
		f.forwardChunk(f.Threads, ids, B, L, valid, lo, hi, sel, cache, out)
		return out, nil
	}
	for len(f.workers) < workers {
		w := &Inference{Threads: 1, p: f.p, cos: f.cos, sin: f.sin, noTokenQKV: f.noTokenQKV}
		w.view.K, w.view.V = make([][]float32, c.Layers), make([][]float32, c.Layers)
		f.workers = append(f.workers, w)
	}
	nChunks = (B + per - 1) / per
	next := make(chan int, nChunks)
	for i := 0; i < nChunks; i++ {
		next <- i
	}
	close(next)
	dkv := c.kvDim()
	parallelFor(workers, workers, func(wi int) {
		w := f.workers[wi]
		for ch := range next {
			b0, b1 := ch*per, min((ch+1)*per, B)
			view := &w.view
			if ephemeral {
				view = w.scratchKV(b1-b0, L)
			} else {
				w.view.B, w.view.L = b1-b0, L
				for i := range cache.K {
					w.view.K[i] = cache.K[i][b0*L*dkv : b1*L*dkv]
					w.view.V[i] = cache.V[i][b0*L*dkv : b1*L*dkv]
				}
			}
			var vs, ss []bool
			if valid != nil {
				vs = valid[b0*L : b1*L]
			}
			if sel != nil {
				ss = sel[b0*L : b1*L]
			}
			w.forwardChunk(1, ids[b0*L:b1*L], b1-b0, L, vs, lo, hi, ss, view, out[outRows[b0]*c.Vocab:outRows[b1]*c.Vocab])
		}
	})
	return out, nil
}

// scratchKV returns a cache for B sequences of L tokens whose layers all
// share one key and one value buffer: for a forward that computes every
// position and keeps nothing.
func (f *Inference) scratchKV(B, L int) *KVCache {
	c := f.p.Config
	n := B * L * c.kvDim()
	f.kvK, f.kvV = grow(f.kvK, n), grow(f.kvV, n)
	s := &f.kvShared
	s.B, s.L = B, L
	if len(s.K) != c.Layers {
		s.K, s.V = make([][]float32, c.Layers), make([][]float32, c.Layers)
	}
	for i := range s.K {
		s.K[i], s.V[i] = f.kvK, f.kvV
	}
	return s
}

// forwardChunk is the forward of B sequences on f's scratch with par
// goroutines, the arguments checked; out has exactly the selected rows.
func (f *Inference) forwardChunk(par int, ids []int, B, L int, valid []bool, lo, hi int, sel []bool, cache *KVCache, out []float32) {
	c := f.p.Config
	d := c.D
	n := hi - lo
	rows := B * n
	dq, dkv, wq := c.qDim(), c.kvDim(), c.qkvDim()
	f.x, f.h = grow(f.x, rows*d), grow(f.h, rows*d)
	f.qkv, f.qr, f.att = grow(f.qkv, rows*wq), grow(f.qr, rows*dq), grow(f.att, rows*dq)
	f.gu, f.s = grow(f.gu, rows*2*c.FF), grow(f.s, rows*c.FF)
	f.sub = f.sub[:0]
	for b := 0; b < B; b++ {
		f.sub = append(f.sub, ids[b*L+lo:b*L+hi]...)
	}
	w := func(name string) []float32 { return f.p.Get(name).Data }
	dh := c.headDim()
	x, q := f.x, f.qr // the rows that go on: all, or the last layer's selected
	qOff := f.qOff[:0]
	for b := 0; b <= B; b++ {
		qOff = append(qOff, b*n)
	}

	embedForward(w(nameEmbed), f.sub, d, f.x)
	for i := 0; i < c.Layers; i++ {
		if i > 0 || !f.tokenQKV(par) {
			rmsNormForward(par, f.x, w(layerName(i, nameAttnNrm)), d, c.NormEps, f.h)
			matmul(par, rows, wq, d, f.h, w(layerName(i, nameQKV)), f.qkv, false)
			if c.QKVBias {
				addBias(f.qkv, w(layerName(i, nameQKVBias)), f.qkv)
			}
		}
		if c.QKNorm {
			qkNormForward(par, f.qkv, wq, c.Heads, c.kvHeads(), dh, w(layerName(i, nameQNorm)), w(layerName(i, nameKNorm)), c.NormEps, f.qkv)
		}
		// rotate q into qr and k into the cache, copy v into the cache
		K, V := cache.K[i], cache.V[i]
		parallelFor(par, B, func(b int) {
			for j := 0; j < n; j++ {
				r, pos := b*n+j, lo+j
				cs, sn := f.cos[pos*dh:(pos+1)*dh], f.sin[pos*dh:(pos+1)*dh]
				dst := (b*L + pos) * dkv
				row := f.qkv[r*wq : (r+1)*wq]
				ropeHeads(row[:dq], c.Heads, dh, cs, sn, f.qr[r*dq:(r+1)*dq])
				ropeHeads(row[dq:dq+dkv], c.kvHeads(), dh, cs, sn, K[dst:dst+dkv])
				copy(V[dst:dst+dkv], row[dq+dkv:])
			}
		})
		if sel != nil && i == c.Layers-1 {
			// Past the keys and values, only the selected rows matter.
			x, q, rows, qOff = f.selectRows(B, L, lo, n, sel, d, dq)
		}
		h, att, gu, s := f.h[:rows*d], f.att[:rows*dq], f.gu[:rows*2*c.FF], f.s[:rows*c.FF]
		f.attnRowsF32(par, B, qOff, L, c.Heads, c.kvHeads(), dh, valid, q, K, V, att)
		matmul(par, rows, d, dq, att, w(layerName(i, nameWO)), x, true) // x += att @ Wo
		rmsNormForward(par, x, w(layerName(i, nameMLPNrm)), d, c.NormEps, h)
		matmul(par, rows, 2*c.FF, d, h, w(layerName(i, nameGateUp)), gu, false)
		swiGLUForward(par, gu, c.FF, s)
		matmul(par, rows, d, c.FF, s, w(layerName(i, nameDown)), x, true) // x += s @ Wdown
	}
	f.qOff = qOff
	h := f.h[:rows*d]
	rmsNormForward(par, x, w(nameNorm), d, c.NormEps, h)
	if rows == 0 {
		return
	}
	if c.TiedEmbed { // logits = h @ embedding^T
		gemm(par, false, true, rows, c.Vocab, d, 1, h, d, w(nameEmbed), d, 0, out, c.Vocab)
	} else {
		matmul(par, rows, c.Vocab, d, h, w(nameHead), out, false)
	}
}

// tokenQKV fills the first layer's q|k|v rows (before RoPE) of the tokens in
// f.sub. They depend on the token alone (its embedding, normed, projected),
// and a batch holds few distinct tokens (a sudoku's digits, the mask, the
// answer's characters): they are computed once per distinct token and copied
// to its rows. It does nothing and returns false when most tokens differ.
func (f *Inference) tokenQKV(par int) bool {
	c := f.p.Config
	d, wq := c.D, c.qkvDim()
	if len(f.slot) != c.Vocab {
		f.slot = make([]int32, c.Vocab)
		for i := range f.slot {
			f.slot[i] = -1
		}
	}
	f.uniq = f.uniq[:0]
	for _, id := range f.sub {
		if f.slot[id] < 0 {
			f.slot[id] = int32(len(f.uniq))
			f.uniq = append(f.uniq, id)
		}
	}
	defer func() {
		for _, id := range f.uniq {
			f.slot[id] = -1
		}
	}()
	u := len(f.uniq)
	if 2*u > len(f.sub) || f.noTokenQKV {
		return false
	}
	f.tx, f.th, f.tq = grow(f.tx, u*d), grow(f.th, u*d), grow(f.tq, u*wq)
	embedForward(f.p.Get(nameEmbed).Data, f.uniq, d, f.tx)
	rmsNormForward(par, f.tx, f.p.Get(layerName(0, nameAttnNrm)).Data, d, c.NormEps, f.th)
	matmul(par, u, wq, d, f.th, f.p.Get(layerName(0, nameQKV)).Data, f.tq, false)
	if c.QKVBias {
		addBias(f.tq, f.p.Get(layerName(0, nameQKVBias)).Data, f.tq)
	}
	for r, id := range f.sub {
		k := int(f.slot[id])
		copy(f.qkv[r*wq:(r+1)*wq], f.tq[k*wq:(k+1)*wq])
	}
	return true
}

// selectRows gathers the residual stream and the rotated queries of the rows
// that sel marks (positions lo+j of each sequence) into xs and qs, and
// returns them with their count and where each sequence's rows start.
func (f *Inference) selectRows(B, L, lo, n int, sel []bool, d, dq int) (xs, qs []float32, rows int, qOff []int) {
	f.rowSel, qOff = f.rowSel[:0], f.qOff[:0]
	for b := 0; b < B; b++ {
		qOff = append(qOff, len(f.rowSel))
		for j := 0; j < n; j++ {
			if sel[b*L+lo+j] {
				f.rowSel = append(f.rowSel, b*n+j)
			}
		}
	}
	rows = len(f.rowSel)
	qOff = append(qOff, rows)
	f.xs, f.qs = grow(f.xs, rows*d), grow(f.qs, rows*dq)
	for k, r := range f.rowSel {
		copy(f.xs[k*d:(k+1)*d], f.x[r*d:(r+1)*d])
		copy(f.qs[k*dq:(k+1)*dq], f.qr[r*dq:(r+1)*dq])
	}
	return f.xs, f.qs, rows, qOff
}

// TargetLogProbs returns log softmax(logits_i)[targets_i] for every row with
// a target >= 0 (0 elsewhere): what the training graph's loss reads, here for
// forwards without gradients (the old and reference policies of RL).
func TargetLogProbs(logits []float32, vocab int, targets []int) []float64 {
	lp := make([]float64, len(targets))
	targetLogProbs(logits, vocab, targets, lp)
	return lp
}
