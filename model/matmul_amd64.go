package model

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAVX512 turns on the forward's own AVX-512 matrix kernels
// (matmul_amd64.s): on CPUs that have AVX-512, unless REMASK_MATMUL=blas.
var useAVX512 = cpu.X86.HasAVX512F && os.Getenv("REMASK_MATMUL") != "blas"

// The kernels: rows x columns of c, strides in bytes (matmul_amd64.s).

//go:noescape
func matmul6x64(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul6x48(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul6x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul6x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul1x64(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul1x48(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul1x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func matmul1x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

type matmulFunc func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

// by vectors of 16 columns (1..4): the six-row and the one-row kernel
var matmulKernels = [5][2]matmulFunc{{}, {matmul6x16, matmul1x16}, {matmul6x32, matmul1x32}, {matmul6x48, matmul1x48}, {matmul6x64, matmul1x64}}

// matmulKernel computes rows [lo, hi) of c (m x n, n a multiple of 16, rows
// ldc apart) = a (m x k, rows lda apart) b (k x n, rows ldb apart), or adds
// the product to c when add: six rows at a time in panels of 64 columns, the
// remaining rows one by one. The caller has checked the bounds.
func matmulKernel(lo, hi, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, add bool) {
	const rb = 96 // rows of a kept in cache across b's panels
	for i0 := lo; i0 < hi; i0 += rb {
		i1 := min(i0+rb, hi)
		for j := 0; j < n; j += 64 {
			kern := matmulKernels[min(n-j, 64)/16]
			i := i0
			for ; i+6 <= i1; i += 6 {
				kern[0](k, &a[i*lda], lda*4, &b[j], ldb*4, &c[i*ldc+j], ldc*4, add)
			}
			for ; i < i1; i++ {
				kern[1](k, &a[i*lda], lda*4, &b[j], ldb*4, &c[i*ldc+j], ldc*4, add)
			}
		}
	}
}
