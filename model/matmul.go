package model

// matmul sets c (m x n) = a (m x k) b (k x n), or adds the product to c when
// add; all row-major and dense. It is the plain-Go forward's product: on
// CPUs with AVX-512 its own kernels (matmul_amd64.s), whose rows do not
// depend on how many rows share a call, else BLAS. par as for gemm.
func matmul(par, m, n, k int, a, b, c []float32, add bool) {
	if m == 0 {
		return
	}
	if k == 0 { // an empty sum
		if !add {
			clear(c[:m*n])
		}
		return
	}
	if !useAVX512 || n%64 != 0 {
		beta := float32(0)
		if add {
			beta = 1
		}
		gemm(par, false, false, m, n, k, 1, a, k, b, n, beta, c, n)
		return
	}
	_ = a[m*k-1]
	_ = b[k*n-1]
	_ = c[m*n-1]
	parallelRows(par, m, n*k/64, func(lo, hi int) { matmulKernel(lo, hi, n, k, a, b, c, add) })
}
