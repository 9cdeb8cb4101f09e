package model

import (
	"fmt"
	"math"
)

// forwardBlocks is forwardRange for a block-causal model (DefaultLayout:
// block l/BlockSize at position l). Its point is that the KV cache is exact
// to the bit: the logits of a block computed by a forward over a few blocks,
// the earlier ones read from the cache, equal those of a forward over the
// whole sequence. Two things make that hold on any BLAS:
//
//   - Rows are processed block-major: every matrix product is issued once per
//     block, over that block's rows of all B sequences, so a block's rows go
//     through the same BLAS calls, with the same operands, however many
//     blocks the forward covers. (BLAS kernels give a row different bits
//     depending on how many rows share its call and where it sits among
//     them; OpenBLAS does.)
//   - Attention is plain Go over the visible keys only, in order, so a
//     query's result does not depend on how many keys the forward holds.
//
// The buffers are laid out block-major: row r belongs to sequence
// rowSeq[r] at position rowPos[r].
//
// With a Layout (ForwardLayout: BD3-LM's clean and noised copies side by
// side) a row's RoPE position and the keys it sees come from the layout
// instead, and all rows form one group: the layout's forward has no cache to
// keep exact.
func (f *Inference) forwardBlocks(ids []int, B, L int, valid []bool, lo, hi int, cache *KVCache, lay *Layout, out []float32) ([]float32, error) {
	c := f.p.Config
	d, bs := c.D, c.BlockSize
	n := hi - lo
	rows := B * n
	dq, dkv, wq := c.qDim(), c.kvDim(), c.qkvDim()
	f.x, f.h = grow(f.x, rows*d), grow(f.h, rows*d)
	f.qkv, f.qr, f.att = grow(f.qkv, rows*wq), grow(f.qr, rows*dq), grow(f.att, rows*dq)
	f.gu, f.s = grow(f.gu, rows*2*c.FF), grow(f.s, rows*c.FF)
	// groups[g] is the first row of the g-th block's rows; the last entry is rows.
	f.sub, f.rowPos, f.rowSeq, f.groups = f.sub[:0], f.rowPos[:0], f.rowSeq[:0], f.groups[:0]
	for start := lo; start < hi; {
		end := min(blockEnd(start, bs, L), hi)
		if lay != nil {
			end = hi
		}
		f.groups = append(f.groups, len(f.sub))
		for b := 0; b < B; b++ {
			for pos := start; pos < end; pos++ {
				f.sub = append(f.sub, ids[b*L+pos])
				f.rowPos = append(f.rowPos, pos)
				f.rowSeq = append(f.rowSeq, b)
			}
		}
		start = end
	}
	f.groups = append(f.groups, rows)
	w := func(name string) []float32 { return f.p.Get(name).Data }
	dh := c.headDim()
	par := f.Threads
	// perBlock runs a matrix product y = alpha * a @ wt + beta * y on each
	// block's rows separately (a is (rows, k), y is (rows, m)).
	perBlock := func(k, m int, a, wt []float32, beta float32, y []float32, transB bool) {
		for g := 0; g+1 < len(f.groups); g++ {
			r0, r1 := f.groups[g], f.groups[g+1]
			ldb := m
			if transB {
				ldb = k
			}
			if !transB {
				matmul(par, r1-r0, m, k, a[r0*k:r1*k], wt, y[r0*m:r1*m], beta != 0)
				continue
			}
			gemm(par, false, transB, r1-r0, m, k, 1, a[r0*k:], k, wt, ldb, beta, y[r0*m:], m)
		}
	}

	embedForward(w(nameEmbed), f.sub, d, f.x)
	for i := 0; i < c.Layers; i++ {
		rmsNormForward(par, f.x, w(layerName(i, nameAttnNrm)), d, c.NormEps, f.h)
		perBlock(d, wq, f.h, w(layerName(i, nameQKV)), 0, f.qkv, false)
		if c.QKVBias {
			addBias(f.qkv, w(layerName(i, nameQKVBias)), f.qkv)
		}
		if c.QKNorm {
			qkNormForward(par, f.qkv, wq, c.Heads, c.kvHeads(), dh, w(layerName(i, nameQNorm)), w(layerName(i, nameKNorm)), c.NormEps, f.qkv)
		}
		K, V := cache.K[i], cache.V[i]
		parallelRows(par, rows, wq, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				pos, rp := f.rowPos[r], f.rowPos[r]
				if lay != nil && lay.Pos != nil {
					rp = lay.Pos[f.rowSeq[r]*L+pos]
				}
				cs, sn := f.cos[rp*dh:(rp+1)*dh], f.sin[rp*dh:(rp+1)*dh]
				dst := (f.rowSeq[r]*L + pos) * dkv
				row := f.qkv[r*wq : (r+1)*wq]
				for h := 0; h < c.Heads; h++ {
					o := h * dh
					ropeApply(row[o:o+dh], cs, sn, false, f.qr[r*dq+o:r*dq+o+dh])
				}
				for g := 0; g < c.kvHeads(); g++ {
					o := g * dh
					ropeApply(row[dq+o:dq+o+dh], cs, sn, false, K[dst+o:dst+o+dh])
				}
				copy(V[dst:dst+dkv], row[dq+dkv:])
			}
		})
		f.blockAttention(par, L, valid, lay, K, V)
		perBlock(dq, d, f.att, w(layerName(i, nameWO)), 1, f.x, false) // x += att @ Wo
		rmsNormForward(par, f.x, w(layerName(i, nameMLPNrm)), d, c.NormEps, f.h)
		perBlock(d, 2*c.FF, f.h, w(layerName(i, nameGateUp)), 0, f.gu, false)
		swiGLUForward(par, f.gu, c.FF, f.s)
		perBlock(c.FF, d, f.s, w(layerName(i, nameDown)), 1, f.x, false) // x += s @ Wdown
	}
	rmsNormForward(par, f.x, w(nameNorm), d, c.NormEps, f.h)
	f.logits = grow(f.logits, rows*c.Vocab)
	if c.TiedEmbed { // logits = h @ embedding^T
		perBlock(d, c.Vocab, f.h, w(nameEmbed), 0, f.logits, true)
	} else {
		perBlock(d, c.Vocab, f.h, w(nameHead), 0, f.logits, false)
	}
	if cap(out) < rows*c.Vocab {
		out = make([]float32, rows*c.Vocab)
	}
	out = out[:rows*c.Vocab]
	for r := range rows { // block-major back to sequence-major
		dst := f.rowSeq[r]*n + f.rowPos[r] - lo
		copy(out[dst*c.Vocab:(dst+1)*c.Vocab], f.logits[r*c.Vocab:(r+1)*c.Vocab])
	}
	return out, nil
}

// blockAttention writes f.att for every row: the query (f.qr) of a row at
// position pos attends to the keys at positions [0, blockEnd(pos)) of its
// sequence that valid allows, read from the cache; with a layout, to the
// keys the layout shows it (attnShape.keyMask). Each output is a sum over
// those keys in position order, in float64 as softmaxMasked does.
func (f *Inference) blockAttention(par, L int, valid []bool, lay *Layout, K, V []float32) {
	c := f.p.Config
	H, dh, dq, dkv, rep := c.Heads, c.headDim(), c.qDim(), c.kvDim(), c.Heads/c.kvHeads()
	scale := 1 / math.Sqrt(float64(dh))
	rows := len(f.rowPos)
	parallelRows(par, rows, H*L*dh, func(r0, r1 int) {
		p := make([]float64, L)
		acc := make([]float64, dh)
		var seen []bool // the layout's keys of the row
		if lay != nil {
			seen = make([]bool, L)
		}
		for r := r0; r < r1; r++ {
			b, end := f.rowSeq[r], blockEnd(f.rowPos[r], c.BlockSize, L)
			if lay != nil {
				end = L
				attnShape{L: L, Valid: valid, Layout: lay}.keyMask(b, f.rowPos[r], seen)
			}
			for h := 0; h < H; h++ {
				q := f.qr[r*dq+h*dh : r*dq+(h+1)*dh]
				ko := (h / rep) * dh
				mx := math.Inf(-1)
				for j := 0; j < end; j++ {
					if (valid != nil && !valid[b*L+j]) || (seen != nil && !seen[j]) {
						continue
					}
					k := K[(b*L+j)*dkv+ko : (b*L+j)*dkv+ko+dh]
					var s float32
					for e, qe := range q {
						s += qe * k[e]
					}
					p[j] = float64(s) * scale
					mx = math.Max(mx, p[j])
				}
				o := f.att[r*dq+h*dh : r*dq+(h+1)*dh]
				if math.IsInf(mx, -1) { // no visible key
					clear(o)
					continue
				}
				var sum float64
				clear(acc)
				for j := 0; j < end; j++ {
					if (valid != nil && !valid[b*L+j]) || (seen != nil && !seen[j]) {
						continue
					}
					e := math.Exp(p[j] - mx)
					sum += e
					v := V[(b*L+j)*dkv+ko : (b*L+j)*dkv+ko+dh]
					for x, ve := range v {
						acc[x] += e * float64(ve)
					}
				}
				for x := range o {
					o[x] = float32(acc[x] / sum)
				}
			}
		}
	})
}

// ForwardLayout is Forward for a block-causal model under an explicit
// Layout: BD3-LM's clean and noised copies of each sequence side by side in
// one row of L (twice the sequence), the RoPE positions from the layout, as
// the training graph sees a batch with a Layout. It gives an RL update the
// rollout policy's and the reference's log-probs of the rows the graph
// trains on.
func (f *Inference) ForwardLayout(ids []int, B, L int, valid []bool, lay *Layout, out []float32) ([]float32, error) {
	c := f.p.Config
	if c.BlockSize == 0 {
		return nil, fmt.Errorf("model: a block layout for a full-attention model")
	}
	if len(ids) != B*L || (valid != nil && len(valid) != B*L) {
		return nil, fmt.Errorf("model: forward got %d ids, %d valid for %dx%d", len(ids), len(valid), B, L)
	}
	if lay == nil {
		return nil, fmt.Errorf("model: ForwardLayout without a layout")
	}
	if err := lay.check(B*L, c.MaxLen); err != nil {
		return nil, err
	}
	if lay.Pos == nil && L > c.MaxLen {
		return nil, fmt.Errorf("model: sequence length %d exceeds max_len %d", L, c.MaxLen)
	}
	for i, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("model: token id %d at %d outside vocab %d", id, i, c.Vocab)
		}
	}
	if f.own == nil || f.own.B != B || f.own.L != L {
		f.own = f.NewCache(B, L)
	}
	return f.forwardBlocks(ids, B, L, valid, 0, L, f.own, lay, out)
}
