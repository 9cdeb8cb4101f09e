//go:build !amd64

package model

// Elsewhere the forward's products all go to BLAS (matmul_amd64.go).

var useAVX512 = false // a variable as on amd64, so tests may switch it

func matmulKernel(lo, hi, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, add bool) {
	panic("model: matmulKernel without AVX-512")
}
