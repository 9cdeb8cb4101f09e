package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttnRowsF32MatchesFloat64 checks the forward's attention (the
// transposed-key products where AVX-512 serves) against attnRows run in
// float64 on the same inputs: grouped-query heads, a padding mask, a
// sequence without query rows, head widths the kernels take and one they
// leave to BLAS.
func TestAttnRowsF32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ L, H, KVH, dh int }{{34, 4, 4, 32}, {17, 4, 2, 16}, {50, 2, 1, 32}, {9, 2, 2, 8}} {
		const B = 3
		qOff := []int{0, 5, 5, 5 + s.L} // sequence 1 has no query rows
		rows := qOff[B]
		dq, dkv := s.H*s.dh, s.KVH*s.dh
		q, k, v := randF32(rng, rows*dq), randF32(rng, B*s.L*dkv), randF32(rng, B*s.L*dkv)
		valid := make([]bool, B*s.L)
		for i := range valid {
			valid[i] = i%s.L >= 2 || i/s.L != 2 // sequence 2's first two keys are padding
		}
		f := &Inference{}
		got := make([]float32, rows*dq)
		f.attnRowsF32(1, B, qOff, s.L, s.H, s.KVH, s.dh, valid, q, k, v, got)
		f64 := func(x []float32) []float64 {
			y := make([]float64, len(x))
			for i, e := range x {
				y[i] = float64(e)
			}
			return y
		}
		want := make([]float64, rows*dq)
		attnRows(1, B, qOff, s.L, s.H, s.KVH, s.dh, valid, f64(q), f64(k), f64(v), make([]float64, rows*s.H*s.L), want)
		for i := range want {
			if d := math.Abs(float64(got[i]) - want[i]); d > 2e-5*(1+math.Abs(want[i])) {
				t.Fatalf("%+v: out[%d] = %g, want %g", s, i, got[i], want[i])
			}
		}
	}
}
