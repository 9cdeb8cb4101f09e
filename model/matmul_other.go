//go:build !amd64

package model

// Elsewhere the forward's products all go to BLAS (matmul_amd64.go).

const useAVX512 = false

func matmulKernel(lo, hi, n, k int, a, b, c []float32, add bool) {
	panic("model: matmulKernel without AVX-512")
}
