package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatmulAgainstFloat64 checks matmul (the AVX-512 kernels where the CPU
// has them) against the product summed in float64, over shapes with tail
// rows, k = 0 and 1, both with and without accumulation into c.
func TestMatmulAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, n, k int }{
		{1, 64, 1}, {5, 64, 3}, {6, 64, 128}, {7, 128, 128}, {13, 384, 128}, {512, 768, 128}, {100, 128, 384}, {3, 64, 0}, {9, 96, 17},
		{8, 16, 32}, {13, 32, 34}, {7, 48, 32}, {6, 112, 5}, {11, 20, 9},
	} {
		a, b, c0 := randF32(rng, s.m*s.k), randF32(rng, s.k*s.n), randF32(rng, s.m*s.n)
		for _, add := range []bool{false, true} {
			for _, par := range []int{1, 2} {
				c := append([]float32(nil), c0...)
				matmul(par, s.m, s.n, s.k, a, b, c, add)
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						var want, mag float64
						if add {
							want, mag = float64(c0[i*s.n+j]), math.Abs(float64(c0[i*s.n+j]))
						}
						for l := 0; l < s.k; l++ {
							p := float64(a[i*s.k+l]) * float64(b[l*s.n+j])
							want += p
							mag += math.Abs(p)
						}
						got := float64(c[i*s.n+j])
						// float32 accumulation: a few ulps of the terms' magnitude per term
						if tol := 1e-6 * mag * float64(s.k+2); math.Abs(got-want) > tol {
							t.Fatalf("%dx%dx%d add=%v par=%d: c[%d,%d] = %g, want %g (tol %g)", s.m, s.n, s.k, add, par, i, j, got, want, tol)
						}
					}
				}
			}
		}
	}
}

// TestMatmulRowsIndependentOfBatch: a row of the product has the same bits
// whether it is computed alone, in a six-row tile or as a tail row.
func TestMatmulRowsIndependentOfBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, n, k = 23, 192, 130
	a, b := randF32(rng, m*k), randF32(rng, k*n)
	all := make([]float32, m*n)
	matmul(1, m, n, k, a, b, all, false)
	one := make([]float32, n)
	for i := 0; i < m; i++ {
		matmul(1, 1, n, k, a[i*k:(i+1)*k], b, one, false)
		for j := range one {
			if math.Float32bits(one[j]) != math.Float32bits(all[i*n+j]) {
				t.Fatalf("row %d col %d: alone %g, in the batch %g", i, j, one[j], all[i*n+j])
			}
		}
	}
}

// TestMatmulStrided: products of sub-matrices (rows further apart than
// their width), as attention's per-head products read them; the elements
// between the rows of c stay untouched.
func TestMatmulStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ m, n, k, lda, ldb, ldc int }{
		{34, 48, 32, 128, 48, 48}, {34, 32, 34, 48, 96, 128}, {9, 64, 7, 9, 200, 70}, {1, 16, 3, 5, 16, 16},
	} {
		a, b, c0 := randF32(rng, s.m*s.lda), randF32(rng, s.k*s.ldb), randF32(rng, s.m*s.ldc)
		for _, add := range []bool{false, true} {
			c := append([]float32(nil), c0...)
			matmulStrided(1, s.m, s.n, s.k, a, s.lda, b, s.ldb, c, s.ldc, add)
			for i := 0; i < s.m; i++ {
				for j := 0; j < s.ldc; j++ {
					got := float64(c[i*s.ldc+j])
					if j >= s.n {
						if c[i*s.ldc+j] != c0[i*s.ldc+j] {
							t.Fatalf("%+v: c[%d,%d] outside the product changed", s, i, j)
						}
						continue
					}
					var want, mag float64
					if add {
						want, mag = float64(c0[i*s.ldc+j]), math.Abs(float64(c0[i*s.ldc+j]))
					}
					for l := 0; l < s.k; l++ {
						p := float64(a[i*s.lda+l]) * float64(b[l*s.ldb+j])
						want += p
						mag += math.Abs(p)
					}
					if tol := 1e-6 * mag * float64(s.k+2); math.Abs(got-want) > tol {
						t.Fatalf("%+v add=%v: c[%d,%d] = %g, want %g", s, add, i, j, got, want)
					}
				}
			}
		}
	}
}

func randF32(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// BenchmarkMatmul times the forward's products (rows x n x k) on one core,
// the own kernels against BLAS.
func BenchmarkMatmul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, n, k int }{{512, 384, 128}, {512, 768, 128}, {512, 128, 384}, {512, 1536, 256}, {512, 256, 768}} {
		x, w, c := randF32(rng, s.m*s.k), randF32(rng, s.k*s.n), make([]float32, s.m*s.n)
		for _, own := range []bool{true, false} {
			name := "blas"
			if own {
				name = "own"
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, s.m, s.n, s.k), func(b *testing.B) {
				if own && !useAVX512 {
					b.Skip("no AVX-512")
				}
				for i := 0; i < b.N; i++ {
					if own {
						matmul(1, s.m, s.n, s.k, x, w, c, false)
					} else {
						gemm(1, false, false, s.m, s.n, s.k, 1, x, s.k, w, s.n, 0, c, s.n)
					}
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestOwnKernelsForwardMatchesBLAS bounds what the AVX-512 kernels change in
// a whole forward (tiny and small shapes, 48 sequences so that the batch is
// cut into chunks on workers): the logits against the same forward with
// every product and attention on BLAS (REMASK_MATMUL=blas).
func TestOwnKernelsForwardMatchesBLAS(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512: BLAS serves either way")
	}
	for _, c := range []Config{
		{Vocab: 40, D: 128, Layers: 4, Heads: 4, FF: 384, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5},
		{Vocab: 40, D: 256, Layers: 6, Heads: 8, FF: 768, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5},
	} {
		p, err := New(c, 3)
		if err != nil {
			t.Fatal(err)
		}
		const B, L = 48, 34
		rng := rand.New(rand.NewPCG(1, 1))
		ids := make([]int, B*L)
		for i := range ids {
			ids[i] = rng.IntN(c.Vocab)
		}
		own, err := NewInference(p).Forward(ids, B, L, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		useAVX512 = false
		ref, err := NewInference(p).Forward(ids, B, L, nil, nil)
		useAVX512 = true
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range ref {
			worst = max(worst, math.Abs(float64(own[i]-ref[i]))/(1+math.Abs(float64(ref[i]))))
		}
		if worst > 1e-5 {
			t.Errorf("d %d: logits differ by %.3g relative, want below 1e-5", c.D, worst)
		}
		t.Logf("d %d: largest difference %.3g relative", c.D, worst)
	}
}
