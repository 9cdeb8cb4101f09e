package model

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAVX512 turns on the forward's own AVX-512 matrix kernels
// (matmul_amd64.s): on CPUs that have AVX-512, unless REMASK_MATMUL=blas.
var useAVX512 = cpu.X86.HasAVX512F && os.Getenv("REMASK_MATMUL") != "blas"

//go:noescape
func matmul6x64(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul1x64(k int, a *float32, b *float32, ldb int, c *float32, add bool)

// matmulKernel computes rows [lo, hi) of c (m x n, n a multiple of 64) =
// a (m x k) b (k x n), or adds the product to c when add: six rows at a
// time in panels of 64 columns, the remaining rows one by one.
func matmulKernel(lo, hi, n, k int, a, b, c []float32, add bool) {
	const rb = 96 // rows of a kept in cache across b's panels
	for i0 := lo; i0 < hi; i0 += rb {
		i1 := min(i0+rb, hi)
		for j := 0; j < n; j += 64 {
			i := i0
			for ; i+6 <= i1; i += 6 {
				matmul6x64(k, &a[i*k], k*4, &b[j], n*4, &c[i*n+j], n*4, add)
			}
			for ; i < i1; i++ {
				matmul1x64(k, &a[i*k], &b[j], n*4, &c[i*n+j], add)
			}
		}
	}
}
