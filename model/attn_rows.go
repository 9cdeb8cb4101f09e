package model

import "math"

// attnRowsF32 is attnRows for the float32 forward with the AVX-512 kernels
// of matmul: per sequence and key/value head the keys are transposed once
// (dh x Lp, Lp = L rounded up to 16, zero-padded), so that the scores of a
// query head are one product Q (n x dh) Kt and its output one product
// P (n x L) V, both read in place through strides. The scores, scale and
// softmax are attnRows' operations on the same values; only the products'
// summation order can differ (each score a single FMA chain over dh).
func (f *Inference) attnRowsF32(par, B int, qOff []int, L, H, KVH, dh int, valid []bool, q, k, v, out []float32) {
	if !useAVX512 || dh%16 != 0 {
		f.probs = grow(f.probs, qOff[B]*H*L)
		attnRows(par, B, qOff, L, H, KVH, dh, valid, q, k, v, f.probs, out)
		return
	}
	dq, dkv, rep := H*dh, KVH*dh, H/KVH
	lp := (L + 15) &^ 15
	scale := float32(1 / math.Sqrt(float64(dh)))
	f.kt = grow(f.kt, B*dkv*lp)
	f.sc = grow(f.sc, qOff[B]*H*lp)
	parallelFor(par, B, func(b int) {
		r0, n := qOff[b], qOff[b+1]-qOff[b]
		if n == 0 {
			return
		}
		kt := f.kt[b*dkv*lp : (b+1)*dkv*lp] // row g*dh+e holds element e of head g's keys
		for e := 0; e < dkv; e++ {
			row := kt[e*lp : (e+1)*lp]
			for j := 0; j < L; j++ {
				row[j] = k[(b*L+j)*dkv+e]
			}
			clear(row[L:])
		}
		var vm []bool
		if valid != nil {
			vm = valid[b*L : (b+1)*L]
		}
		for h := 0; h < H; h++ {
			g := h / rep
			s := f.sc[(r0*H+h*n)*lp : (r0*H+(h+1)*n)*lp]
			q0 := r0*dq + h*dh
			matmulStrided(1, n, lp, dh, q[q0:], dq, kt[g*dh*lp:], lp, s, lp, false)
			for i := 0; i < n; i++ {
				row := s[i*lp : i*lp+L]
				if vm == nil {
					softmaxScaled(row, scale)
					continue
				}
				for j := range row {
					row[j] *= scale
				}
				softmaxMasked(row, vm)
			}
			matmulStrided(1, n, dh, L, s, lp, v[b*L*dkv+g*dh:], dkv, out[q0:], dq, false)
		}
	})
}
