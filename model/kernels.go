package model

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// The kernels below work on row-major matrices held in flat slices. They are
// generic over float32 (training and inference) and float64 (the
// finite-difference tests), and shared by the gorgonia ops and the plain-Go
// forward, so the two paths differ only in how they are driven.

type float interface{ ~float32 | ~float64 }

// gemm computes c = alpha * op(a) * op(b) + beta * c with BLAS, where op(x) is x
// or its transpose; m x k times k x n.
//
// par is the number of goroutines to use (0 = GOMAXPROCS); 1 keeps the
// product on the calling goroutine, for callers that are themselves one of
// several parallel workers.
func gemm[T float](par int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	var impl blasBase = blasImpl
	if par == 1 {
		impl = blasImpl.blasBase
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	switch cc := any(c).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), cc, ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), cc, ldc)
	}
}

// threads resolves a parallelism setting: 0 means GOMAXPROCS.
func threads(par int) int {
	if par <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return par
}

// parallelFor runs fn(i) for i in [0, n) on up to par goroutines.
func parallelFor(par, n int, fn func(i int)) {
	workers := threads(par)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// parallelRows splits rows [0, n) into one contiguous range per core and runs
// fn on each; small inputs stay on the calling goroutine.
func parallelRows(par, n, work int, fn func(lo, hi int)) {
	w := threads(par)
	if w <= 1 || n < 2*w || n*work < 1<<15 {
		fn(0, n)
		return
	}
	per := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// embedForward gathers rows of the table: out[i] = table[ids[i]].
func embedForward[T float](table []T, ids []int, d int, out []T) {
	for i, id := range ids {
		copy(out[i*d:(i+1)*d], table[id*d:(id+1)*d])
	}
}

// embedBackward scatters gradients back into table rows: dTable[ids[i]] += dOut[i].
func embedBackward[T float](dOut []T, ids []int, d int, dTable []T) {
	for i, id := range ids {
		row, g := dTable[id*d:(id+1)*d], dOut[i*d:(i+1)*d]
		for j := range row {
			row[j] += g[j]
		}
	}
}

// rmsInv returns 1/sqrt(mean(x^2) + eps) for one row, accumulated in float64.
func rmsInv[T float](x []T, eps float64) float64 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	return 1 / math.Sqrt(ss/float64(len(x))+eps)
}

// rmsNormForward: out = x * rmsInv(x) * w, row by row.
func rmsNormForward[T float](par int, x, w []T, d int, eps float64, out []T) {
	parallelRows(par, len(x)/d, d, func(lo, hi int) {
		i := lo
		if x32, ok := any(x).([]float32); ok {
			// Four rows at a time: their sums are independent chains the
			// core overlaps, each in rmsInv's order (the same bits).
			w32, o32 := any(w).([]float32), any(out).([]float32)
			for ; i+4 <= hi; i += 4 {
				rmsNorm4(x32[i*d:(i+4)*d], w32, d, eps, o32[i*d:(i+4)*d])
			}
		}
		for ; i < hi; i++ {
			row, o := x[i*d:(i+1)*d], out[i*d:(i+1)*d]
			r := T(rmsInv(row, eps))
			for j := range row {
				o[j] = row[j] * r * w[j]
			}
		}
	})
}

// rmsNorm4 is rmsNormForward's float32 rows, four at once.
func rmsNorm4(x, w []float32, d int, eps float64, out []float32) {
	x0, x1, x2, x3 := x[:d], x[d:2*d], x[2*d:3*d], x[3*d:4*d]
	var s0, s1, s2, s3 float64
	for j := range x0 {
		v0, v1, v2, v3 := float64(x0[j]), float64(x1[j]), float64(x2[j]), float64(x3[j])
		s0 += v0 * v0
		s1 += v1 * v1
		s2 += v2 * v2
		s3 += v3 * v3
	}
	for r, ss := range [4]float64{s0, s1, s2, s3} {
		row, o := x[r*d:(r+1)*d], out[r*d:(r+1)*d]
		f := float32(1 / math.Sqrt(ss/float64(d)+eps))
		for j := range row {
			o[j] = row[j] * f * w[j]
		}
	}
}

// rmsNormBackward accumulates into dx (if non-nil) and dw (if non-nil).
// With r = rmsInv(x): dw_j += sum_i dy_ij x_ij r_i and
// dx_i = r_i (dy_i * w) - r_i^3 / d * x_i * sum_j dy_ij w_j x_ij.
func rmsNormBackward[T float](par int, x, w, dy []T, d int, eps float64, dx, dw []T) {
	rows := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row, g := x[i*d:(i+1)*d], dy[i*d:(i+1)*d]
			r := rmsInv(row, eps)
			if dw != nil {
				for j := range row {
					dw[j] += T(float64(g[j]) * float64(row[j]) * r)
				}
			}
			if dx != nil {
				var dot float64
				for j := range row {
					dot += float64(g[j]) * float64(w[j]) * float64(row[j])
				}
				c := r * r * r / float64(d) * dot
				o := dx[i*d : (i+1)*d]
				for j := range row {
					o[j] += T(r*float64(g[j])*float64(w[j]) - c*float64(row[j]))
				}
			}
		}
	}
	if dw != nil {
		rows(0, len(x)/d) // dw sums over rows: one goroutine keeps the order fixed
		return
	}
	parallelRows(par, len(x)/d, d, rows)
}

// ropeTables returns cos and sin of position * inv_freq for positions [0, maxLen),
// each row dh wide with the half-width angles repeated (rotate-half convention).
func ropeTables(maxLen, dh int, theta float64) (cos, sin []float64) {
	half := dh / 2
	cos, sin = make([]float64, maxLen*dh), make([]float64, maxLen*dh)
	for p := 0; p < maxLen; p++ {
		for i := 0; i < half; i++ {
			ang := float64(p) / math.Pow(theta, float64(2*i)/float64(dh))
			c, s := math.Cos(ang), math.Sin(ang)
			cos[p*dh+i], cos[p*dh+i+half] = c, c
			sin[p*dh+i], sin[p*dh+i+half] = s, s
		}
	}
	return cos, sin
}

// ropeApply rotates one head vector x (length dh) at table row (cos, sin):
// out = x*cos + rotate_half(x)*sin, rotate_half(x) = (-x2, x1). With inverse,
// it applies the transpose (rotation by the negative angle), which is the
// backward pass.
func ropeApply[T float](x []T, cos, sin []float64, inverse bool, out []T) {
	half := len(x) / 2
	sgn := 1.0
	if inverse {
		sgn = -1
	}
	for i := 0; i < half; i++ {
		a, b := float64(x[i]), float64(x[i+half])
		out[i] = T(a*cos[i] - sgn*b*sin[i])
		out[i+half] = T(b*cos[i+half] + sgn*a*sin[i+half])
	}
}

// attnShape describes one attention call over a batch of B sequences of L
// tokens: H query heads and KVH key/value heads (KVH < H is grouped-query
// attention: query head h reads k/v head h / (H/KVH)), each Dh wide. The
// projections arrive as one (N, H*Dh + 2*KVH*Dh) matrix, q | k | v.
type attnShape struct {
	B, L, H, KVH, Dh int
	// Valid is the key-padding mask, B*L long; nil means every key is valid.
	Valid []bool
	// Layout is block-causal attention's view of the rows (and their RoPE
	// positions); nil is full attention at positions 0..L-1.
	Layout *Layout
	// Cos and Sin are the RoPE tables (at least L rows of Dh).
	Cos, Sin []float64
	// Par is the parallelism (0 = GOMAXPROCS).
	Par int
}

func (s attnShape) dq() int  { return s.H * s.Dh }
func (s attnShape) dkv() int { return s.KVH * s.Dh }
func (s attnShape) w() int   { return s.dq() + 2*s.dkv() }
func (s attnShape) rep() int { return s.H / s.KVH }

// ropeQK writes RoPE-rotated q (N, H*Dh) and k (N, KVH*Dh) from the qkv matrix.
func ropeQK[T float](s attnShape, qkv, qr, kr []T) {
	dq, dkv, w := s.dq(), s.dkv(), s.w()
	parallelFor(s.Par, s.B, func(b int) {
		for l := 0; l < s.L; l++ {
			n, at := b*s.L+l, s.pos(b, l)
			cs, sn := s.Cos[at*s.Dh:(at+1)*s.Dh], s.Sin[at*s.Dh:(at+1)*s.Dh]
			for h := 0; h < s.H; h++ {
				o := h * s.Dh
				ropeApply(qkv[n*w+o:n*w+o+s.Dh], cs, sn, false, qr[n*dq+o:n*dq+o+s.Dh])
			}
			for g := 0; g < s.KVH; g++ {
				o := g * s.Dh
				ropeApply(qkv[n*w+dq+o:n*w+dq+o+s.Dh], cs, sn, false, kr[n*dkv+o:n*dkv+o+s.Dh])
			}
		}
	})
}

// attnForward computes softmax(q k^T / sqrt(dh) + padding and layout masks) v
// for every sequence and query head. qr (N, H*Dh) and kr (N, KVH*Dh) are RoPE-rotated; v is read
// from the qkv matrix. probs (B*H*L*L) receives the attention weights; out is
// (N, H*Dh).
func attnForward[T float](s attnShape, qr, kr, qkv, probs, out []T) {
	dq, dkv, w := s.dq(), s.dkv(), s.w()
	L := s.L
	scale := T(1 / math.Sqrt(float64(s.Dh)))
	parallelFor(s.Par, s.B*s.H, func(bh int) {
		b, h := bh/s.H, bh%s.H
		g := h / s.rep()
		p := probs[bh*L*L : (bh+1)*L*L]
		q0, k0, v0 := b*L*dq+h*s.Dh, b*L*dkv+g*s.Dh, b*L*w+dq+dkv+g*s.Dh
		gemm(s.Par, false, true, L, L, s.Dh, scale, qr[q0:], dq, kr[k0:], dkv, 0, p, L)
		var m []bool
		if s.Layout != nil {
			m = make([]bool, L)
		}
		for i := 0; i < L; i++ {
			softmaxMasked(p[i*L:(i+1)*L], s.keyMask(b, i, m))
		}
		gemm(s.Par, false, false, L, s.Dh, L, 1, p, L, qkv[v0:], w, 0, out[q0:], dq)
	})
}

// softmaxMasked replaces row by its softmax over the valid entries (all when
// valid is nil); invalid entries become 0. A row with no valid entry is all 0.
func softmaxMasked[T float](row []T, valid []bool) {
	mx := math.Inf(-1)
	for j, v := range row {
		if (valid == nil || valid[j]) && float64(v) > mx {
			mx = float64(v)
		}
	}
	softmaxFromMax(row, valid, mx)
}

// softmaxFromMax is softmaxMasked given the largest valid entry mx.
func softmaxFromMax[T float](row []T, valid []bool, mx float64) {
	if math.IsInf(mx, -1) {
		clear(row)
		return
	}
	var sum float64
	f32 := isFloat32[T]()
	start := 0
	if r32, ok := any(row).([]float32); ok && valid == nil {
		start, sum = expShiftVec(r32, mx, sum)
	}
	for j := start; j < len(row); j++ {
		v := row[j]
		if valid != nil && !valid[j] {
			row[j] = 0
			continue
		}
		y := float64(v) - mx
		var e float64
		if f32 { // exp32 inlined: y <= 0, and below -120 e^y is 0 in float32
			e = expReduced(max(y, -120))
		} else {
			e = math.Exp(y)
		}
		row[j] = T(e)
		sum += e
	}
	inv := 1 / sum
	start = 0
	if r32, ok := any(row).([]float32); ok && valid == nil {
		start = scaleRowVec(r32, inv)
	}
	for j := start; j < len(row); j++ {
		row[j] = T(float64(row[j]) * inv)
	}
}

// attnBackward turns dOut (N, H*Dh) into dqkv (N, H*Dh + 2*KVH*Dh), given the
// forward's qr, kr, qkv and probs. For one query head: dV = P^T dO,
// dP = dO V^T, dS = P * (dP - rowsum(dP * P)) / sqrt(dh), dQr = dS Kr,
// dKr = dS^T Qr; the k/v gradients of the query heads that share a k/v head
// add up (one goroutine per shared head, so nothing races), and the RoPE
// rotation is undone on dQr and dKr.
func attnBackward[T float](s attnShape, qr, kr, qkv, probs, dOut, dqkv []T) {
	dq, dkv, w := s.dq(), s.dkv(), s.w()
	L := s.L
	scale := 1 / math.Sqrt(float64(s.Dh))
	dqr := make([]T, len(qr))
	dkr := make([]T, len(kr))
	parallelFor(s.Par, s.B*s.KVH, func(bg int) {
		b, g := bg/s.KVH, bg%s.KVH
		k0, v0 := b*L*dkv+g*s.Dh, b*L*w+dq+dkv+g*s.Dh
		dp := make([]T, L*L)
		for r := 0; r < s.rep(); r++ {
			h := g*s.rep() + r
			beta := T(0)
			if r > 0 {
				beta = 1
			}
			p := probs[(b*s.H+h)*L*L : (b*s.H+h+1)*L*L]
			q0 := b*L*dq + h*s.Dh
			// dV += P^T dO, straight into the v columns of dqkv.
			gemm(s.Par, true, false, L, s.Dh, L, 1, p, L, dOut[q0:], dq, beta, dqkv[v0:], w)
			gemm(s.Par, false, true, L, L, s.Dh, 1, dOut[q0:], dq, qkv[v0:], w, 0, dp, L)
			for i := 0; i < L; i++ {
				pr, dr := p[i*L:(i+1)*L], dp[i*L:(i+1)*L]
				var dot float64
				for j := range pr {
					dot += float64(pr[j]) * float64(dr[j])
				}
				for j := range pr {
					dr[j] = T(float64(pr[j]) * (float64(dr[j]) - dot) * scale)
				}
			}
			gemm(s.Par, false, false, L, s.Dh, L, 1, dp, L, kr[k0:], dkv, 0, dqr[q0:], dq)
			gemm(s.Par, true, false, L, s.Dh, L, 1, dp, L, qr[q0:], dq, beta, dkr[k0:], dkv)
		}
	})
	parallelFor(s.Par, s.B, func(b int) {
		for l := 0; l < s.L; l++ {
			n, at := b*s.L+l, s.pos(b, l)
			cs, sn := s.Cos[at*s.Dh:(at+1)*s.Dh], s.Sin[at*s.Dh:(at+1)*s.Dh]
			for h := 0; h < s.H; h++ {
				o := h * s.Dh
				ropeApply(dqr[n*dq+o:n*dq+o+s.Dh], cs, sn, true, dqkv[n*w+o:n*w+o+s.Dh])
			}
			for g := 0; g < s.KVH; g++ {
				o := g * s.Dh
				ropeApply(dkr[n*dkv+o:n*dkv+o+s.Dh], cs, sn, true, dqkv[n*w+dq+o:n*w+dq+o+s.Dh])
			}
		}
	})
}

func sigmoid(f32 bool, x float64) float64 { return 1 / (1 + expFor(f32, -x)) }

// siluMul32 sets o = silu(g) * u to float32 precision.
// The reduction runs in float64, so clamping -x to [-120, 700] changes nothing
// a float32 holds: below -700 silu(x) rounds to 0, above 120 to x itself.
func siluMul32[T float](g, u, o []T) {
	start := 0
	if g32, ok := any(g).([]float32); ok {
		start = siluMulVec(g32, any(u).([]float32), any(o).([]float32))
	}
	for j := start; j < len(o); j++ {
		x := float64(g[j])
		y := -x
		if y > 700 {
			y = 700
		}
		if y < -120 {
			y = -120
		}
		o[j] = T(x / (1 + expReduced(y)) * float64(u[j]))
	}
}

// swiGLUForward: in is (N, 2f) = [gate | up], out (N, f) = silu(gate) * up.
func swiGLUForward[T float](par int, in []T, f int, out []T) {
	f32 := isFloat32[T]()
	parallelRows(par, len(out)/f, f, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g, u, o := in[i*2*f:i*2*f+f], in[i*2*f+f:(i+1)*2*f], out[i*f:(i+1)*f]
			if f32 {
				siluMul32(g, u, o)
				continue
			}
			for j := range o {
				a := float64(g[j])
				o[j] = T(a * sigmoid(false, a) * float64(u[j]))
			}
		}
	})
}

// swiGLUBackward: d gate = dy * up * s * (1 + a (1 - s)), d up = dy * silu(a),
// with s = sigmoid(a).
func swiGLUBackward[T float](par int, in, dy []T, f int, dIn []T) {
	f32 := isFloat32[T]()
	parallelRows(par, len(dy)/f, f, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g, u, gy := in[i*2*f:i*2*f+f], in[i*2*f+f:(i+1)*2*f], dy[i*f:(i+1)*f]
			dg, du := dIn[i*2*f:i*2*f+f], dIn[i*2*f+f:(i+1)*2*f]
			for j := range gy {
				a := float64(g[j])
				s := sigmoid(f32, a)
				dg[j] = T(float64(gy[j]) * float64(u[j]) * s * (1 + a*(1-s)))
				du[j] = T(float64(gy[j]) * a * s)
			}
		}
	})
}

// logSumExp of one row of logits, in float64.
func logSumExp[T float](row []T) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	f32 := isFloat32[T]()
	for _, v := range row {
		s += expFor(f32, float64(v)-mx)
	}
	return mx + math.Log(s)
}

// targetLogProbs writes log softmax(logits_i)[targets_i] into lp for rows with
// a target >= 0, and 0 for the others.
func targetLogProbs[T float](logits []T, v int, targets []int, lp []float64) {
	for i, t := range targets {
		if t < 0 {
			lp[i] = 0
			continue
		}
		row := logits[i*v : (i+1)*v]
		lp[i] = float64(row[t]) - logSumExp(row)
	}
}

// targetLogProbsBackward: dlogits_i = scale * g_i * (onehot(t_i) - softmax_i).
func targetLogProbsBackward[T float](logits []T, v int, targets []int, g []float64, scale float64, dLogits []T) {
	for i, t := range targets {
		row, out := logits[i*v:(i+1)*v], dLogits[i*v:(i+1)*v]
		if t < 0 || g[i] == 0 {
			clear(out)
			continue
		}
		lse := logSumExp(row)
		c := scale * g[i]
		f32 := isFloat32[T]()
		for j, x := range row {
			out[j] = T(-c * expFor(f32, float64(x)-lse))
		}
		out[t] += T(c)
	}
}

// attnRows is attention for query rows of each of B sequences against all L
// keys of that sequence: sequence b's queries are rows [qOff[b], qOff[b+1])
// of q (rows, H*dh) RoPE-rotated, k and v are (B*L, KVH*dh) with k rotated,
// out is (rows, H*dh). probs needs H*L per query row. valid (B*L) masks
// keys; nil = all valid.
func attnRows[T float](par, B int, qOff []int, L, H, KVH, dh int, valid []bool, q, k, v, probs, out []T) {
	dq, dkv, rep := H*dh, KVH*dh, H/KVH
	scale := T(1 / math.Sqrt(float64(dh)))
	parallelFor(par, B*H, func(bh int) {
		b, h := bh/H, bh%H
		r0, n := qOff[b], qOff[b+1]-qOff[b]
		if n == 0 {
			return
		}
		p := probs[(r0*H+h*n)*L : (r0*H+(h+1)*n)*L]
		q0, k0 := r0*dq+h*dh, b*L*dkv+(h/rep)*dh
		gemm(1, false, true, n, L, dh, scale, q[q0:], dq, k[k0:], dkv, 0, p, L)
		var vm []bool
		if valid != nil {
			vm = valid[b*L : (b+1)*L]
		}
		for i := 0; i < n; i++ {
			softmaxMasked(p[i*L:(i+1)*L], vm)
		}
		gemm(1, false, false, n, dh, L, 1, p, L, v[k0:], dkv, 0, out[q0:], dq)
	})
}

// addBias sets out = x + b on every row (b is one row wide).
func addBias[T float](x, b, out []T) {
	n := len(b)
	for i := range x {
		out[i] = x[i] + b[i%n]
	}
}

// colSum sets out[j] to the sum of column j of x (rows of cols).
func colSum[T float](x []T, cols int, out []T) {
	acc := make([]float64, cols)
	for i, v := range x {
		acc[i%cols] += float64(v)
	}
	for j, v := range acc {
		out[j] = T(v)
	}
}

// shiftRows writes, for each of B sequences of L rows (each v wide), row i of
// in into row i+1 of out, and row 0 into row 0: logits at i-1 predict token i.
func shiftRows[T float](in []T, B, L, v int, out []T) {
	for b := 0; b < B; b++ {
		base := b * L * v
		copy(out[base:base+v], in[base:base+v])
		copy(out[base+v:base+L*v], in[base:base+(L-1)*v])
	}
}

// shiftRowsBackward is shiftRows' gradient: row 0 of the input collects the
// gradient of output rows 0 and 1, row i (0 < i < L-1) that of row i+1, and
// the last row none.
func shiftRowsBackward[T float](dOut []T, B, L, v int, dIn []T) {
	for b := 0; b < B; b++ {
		base := b * L * v
		copy(dIn[base:base+(L-1)*v], dOut[base+v:base+L*v])
		clear(dIn[base+(L-1)*v : base+L*v])
		for j := 0; j < v; j++ {
			dIn[base+j] += dOut[base+j]
		}
	}
}
