package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRowKernelsSameBits: the forward's row kernels that run several rows
// or lanes at once (rmsNorm4, ropeHeads' AVX-512 loop) give the bits of the
// one-row scalar code.
func TestRowKernelsSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const d = 96
	for _, rows := range []int{1, 4, 7, 9} {
		x, w := randF32(rng, rows*d), randF32(rng, d)
		x[3] = 0
		got := make([]float32, rows*d)
		rmsNormForward(1, x, w, d, 1e-5, got)
		for i := 0; i < rows; i++ {
			row := x[i*d : (i+1)*d]
			r := float32(rmsInv(row, 1e-5))
			for j := range row {
				if want := row[j] * r * w[j]; math.Float32bits(got[i*d+j]) != math.Float32bits(want) {
					t.Fatalf("rows %d: rmsnorm[%d,%d] = %v, scalar %v", rows, i, j, got[i*d+j], want)
				}
			}
		}
	}
	for _, dh := range []int{32, 16, 64, 8} {
		cos, sin := ropeTables(64, dh, 10000)
		for _, heads := range []int{1, 3, 4} {
			for _, pos := range []int{0, 5, 63} {
				x := randF32(rng, heads*dh)
				x[1] = float32(math.Inf(1))
				cs, sn := cos[pos*dh:(pos+1)*dh], sin[pos*dh:(pos+1)*dh]
				got, want := make([]float32, heads*dh), make([]float32, heads*dh)
				ropeHeads(x, heads, dh, cs, sn, got)
				for h := 0; h < heads; h++ {
					ropeApply(x[h*dh:(h+1)*dh], cs, sn, false, want[h*dh:(h+1)*dh])
				}
				for j := range want {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(isNaN32(got[j]) && isNaN32(want[j])) {
						t.Fatalf("dh %d heads %d pos %d: rope[%d] = %v, scalar %v", dh, heads, pos, j, got[j], want[j])
					}
				}
			}
		}
	}
}

// TestSoftmaxScaledSameBits: attention's scaled softmax (AVX-512 scale and
// max where the CPU has it) against scaling then the scalar softmax.
func TestSoftmaxScaledSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, 88, -700}
	for _, L := range []int{34, 48, 16, 15, 17, 1} {
		for trial := 0; trial < 300; trial++ {
			row := make([]float32, L)
			for j := range row {
				row[j] = float32(rng.NormFloat64() * math.Pow(10, float64(trial%5-1)))
			}
			if trial%5 == 0 {
				row[rng.IntN(L)] = specials[rng.IntN(len(specials))]
			}
			if trial%11 == 0 {
				for j := range row {
					row[j] = float32(math.NaN())
				}
			}
			const s = 0.17677669
			got, want := append([]float32(nil), row...), append([]float32(nil), row...)
			softmaxScaled(got, s)
			all := make([]bool, L)
			for j := range want {
				want[j] *= s
				all[j] = true
			}
			softmaxMasked(want, all) // the mask keeps it scalar
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(isNaN32(got[j]) && isNaN32(want[j])) {
					t.Fatalf("L %d row %v: softmax[%d] = %v, scalar %v", L, row, j, got[j], want[j])
				}
			}
		}
	}
}
