package model

import (
	"os"
	"runtime"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// blasBase is what both BLAS implementations provide (gorgonia's BLAS
// interface).
type blasBase interface {
	blas.Float32
	blas.Float64
	blas.Complex64
	blas.Complex128
}

// blasImpl is the BLAS of the training graph and the plain-Go forward,
// picked once at start: OpenBLAS where it can be loaded (blas_openblas.go),
// gonum's pure Go otherwise or when REMASK_BLAS=gonum.
var blasImpl, blasName, blasInfo = pickBLAS(strings.ToLower(os.Getenv("REMASK_BLAS")))

func pickBLAS(env string) (impl parallelBLAS, name, info string) {
	pure := parallelBLAS{gonum.Implementation{}}
	switch env {
	case "gonum":
		return pure, "gonum", "gonum (pure Go: REMASK_BLAS=gonum)"
	case "", "openblas":
	default:
		return pure, "gonum", "gonum (pure Go: REMASK_BLAS=" + env + " is not gonum or openblas)"
	}
	ob, where, err := loadOpenBLAS()
	if err != nil {
		return pure, "gonum", "gonum (pure Go, 3-4x slower to train: " + err.Error() + ")"
	}
	return parallelBLAS{ob}, "openblas", "openblas (" + where + ")"
}

// BLASName says which BLAS this process uses: "openblas" or "gonum"
// (reported by `remask bench`).
func BLASName() string { return blasName }

// BLASInfo is BLASName with where it came from: OpenBLAS's file and build, or
// why the pure-Go BLAS serves.
func BLASInfo() string { return blasInfo }

// parallelBLAS splits large matrix products by rows of the result across
// GOMAXPROCS goroutines, each calling the single-threaded BLAS underneath.
// It serves both gorgonia's matmuls (G.Use) and the plain-Go forward.
type parallelBLAS struct{ blasBase }

// minParallelFlops is the size (m*n*k) below which splitting costs more than
// it gains.
const minParallelFlops = 1 << 18

// rowChunks calls fn on [lo, hi) row ranges covering m rows.
func rowChunks(m, n, k int, fn func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if w <= 1 || m < 2*w || m*n*k < minParallelFlops {
		fn(0, m)
		return
	}
	var wg sync.WaitGroup
	per := (m + w - 1) / w
	for lo := 0; lo < m; lo += per {
		hi := min(lo+per, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// rowOffset is where row i of op(A) starts in a's backing slice.
func rowOffset(t blas.Transpose, i, lda int) int {
	if t == blas.NoTrans {
		return i * lda
	}
	return i
}

func (p parallelBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	rowChunks(m, n, k, func(lo, hi int) {
		p.blasBase.Sgemm(tA, tB, hi-lo, n, k, alpha, a[rowOffset(tA, lo, lda):], lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}

func (p parallelBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	rowChunks(m, n, k, func(lo, hi int) {
		p.blasBase.Dgemm(tA, tB, hi-lo, n, k, alpha, a[rowOffset(tA, lo, lda):], lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}
