package model

// matmul sets c (m x n) = a (m x k) b (k x n), or adds the product to c when
// add; all row-major and dense. It is the plain-Go forward's product: on
// CPUs with AVX-512 its own kernels (matmul_amd64.s), whose rows do not
// depend on how many rows share a call, else BLAS. par as for gemm.
func matmul(par, m, n, k int, a, b, c []float32, add bool) {
	matmulStrided(par, m, n, k, a, k, b, n, c, n, add)
}

// matmulStrided is matmul with rows lda, ldb and ldc apart.
func matmulStrided(par, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, add bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 { // an empty sum
		if !add {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if !useAVX512 || n%16 != 0 {
		beta := float32(0)
		if add {
			beta = 1
		}
		gemm(par, false, false, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	_ = a[(m-1)*lda+k-1]
	_ = b[(k-1)*ldb+n-1]
	_ = c[(m-1)*ldc+n-1]
	if threads(par) == 1 { // no closure: it would be allocated on every call
		matmulKernel(0, m, n, k, a, lda, b, ldb, c, ldc, add)
		return
	}
	parallelRows(par, m, n*k/64, func(lo, hi int) { matmulKernel(lo, hi, n, k, a, lda, b, ldb, c, ldc, add) })
}
