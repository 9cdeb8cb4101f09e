//go:build !amd64

package model

// Elsewhere the forward's products all go to BLAS (matmul_amd64.go).

const useAVX512 = false

func matmulKernel(lo, hi, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, add bool) {
	panic("model: matmulKernel without AVX-512")
}
