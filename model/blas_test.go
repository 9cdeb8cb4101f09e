package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// openBLASOrSkip is the dlopen'ed OpenBLAS, whatever REMASK_BLAS picked for
// the package, or a skip where it cannot be loaded.
func openBLASOrSkip(t testing.TB) blasBase {
	t.Helper()
	impl, info, err := loadOpenBLAS()
	if err != nil {
		t.Skipf("OpenBLAS not loaded, nothing to compare: %v", err)
	}
	t.Logf("openblas: %s", info)
	return impl
}

// gemmCase is one product c = alpha*op(a)*op(b) + beta*c with padded
// leading dimensions.
type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	padA, padB  int // extra columns beyond the stored row width
	padC        int
	alpha, beta float64
}

func (g gemmCase) String() string {
	tr := func(t blas.Transpose) string {
		if t == blas.NoTrans {
			return "N"
		}
		return "T"
	}
	return fmt.Sprintf("%s%s/%dx%dx%d/pad%d,%d,%d/a%g,b%g", tr(g.tA), tr(g.tB), g.m, g.n, g.k, g.padA, g.padB, g.padC, g.alpha, g.beta)
}

// operands makes a, b and c (c's padding holds a sentinel) as float64.
func (g gemmCase) operands(rng *rand.Rand) (a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	rowsA, colsA := g.m, g.k
	if g.tA != blas.NoTrans {
		rowsA, colsA = g.k, g.m
	}
	rowsB, colsB := g.k, g.n
	if g.tB != blas.NoTrans {
		rowsB, colsB = g.n, g.k
	}
	fill := func(rows, cols, pad int) ([]float64, int) {
		ld := cols + pad
		x := make([]float64, (rows-1)*ld+cols) // the shortest slice BLAS accepts
		for i := range x {
			x[i] = rng.Float64()*2 - 1
		}
		return x, ld
	}
	a, lda = fill(rowsA, colsA, g.padA)
	b, ldb = fill(rowsB, colsB, g.padB)
	c, ldc = fill(g.m, g.n, g.padC)
	for i := range c {
		if i%ldc >= g.n {
			c[i] = 12345 // must stay
		}
	}
	return
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	trans := []blas.Transpose{blas.NoTrans, blas.Trans}
	for _, tA := range trans {
		for _, tB := range trans {
			for _, s := range []struct{ m, n, k, padA, padB, padC int }{
				{1, 1, 1, 0, 0, 0},
				{3, 5, 7, 0, 0, 0},
				{7, 3, 5, 2, 3, 4},
				{1, 9, 4, 1, 0, 2},
				{9, 1, 4, 0, 1, 1},
				{33, 17, 65, 5, 0, 3},
				{64, 64, 32, 0, 0, 0},   // one attention head's scores
				{130, 96, 70, 6, 10, 2}, // big enough for parallelBLAS to split
			} {
				for _, ab := range [][2]float64{{1, 0}, {1, 1}, {0.7, -1.3}, {-2.5, 0.5}} {
					cs = append(cs, gemmCase{tA, tB, s.m, s.n, s.k, s.padA, s.padB, s.padC, ab[0], ab[1]})
				}
			}
		}
	}
	return cs
}

// TestOpenBLASGemmMatchesGonum checks the dlopen'ed cblas_sgemm and
// cblas_dgemm (argument order, row-major layout, transposes, leading
// dimensions, alpha and beta) against gonum's pure Go on the same inputs,
// bare and under parallelBLAS's row split.
func TestOpenBLASGemmMatchesGonum(t *testing.T) {
	ob := openBLASOrSkip(t)
	ref := gonum.Implementation{}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range gemmCases() {
		for _, impl := range []struct {
			name string
			b    blasBase
		}{{"openblas", ob}, {"parallel", parallelBLAS{ob}}} {
			a, lda, b, ldb, c, ldc := g.operands(rng)
			want, got := append([]float64(nil), c...), append([]float64(nil), c...)
			ref.Dgemm(g.tA, g.tB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, want, ldc)
			impl.b.Dgemm(g.tA, g.tB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, got, ldc)
			if i, d := maxRelDiff(got, want); d > 1e-12 {
				t.Errorf("Dgemm %v (%s): c[%d] = %v, gonum %v", g, impl.name, i, got[i], want[i])
			}

			a32, b32, c32 := to32(a), to32(b), to32(c)
			want32, got32 := append([]float32(nil), c32...), append([]float32(nil), c32...)
			ref.Sgemm(g.tA, g.tB, g.m, g.n, g.k, float32(g.alpha), a32, lda, b32, ldb, float32(g.beta), want32, ldc)
			impl.b.Sgemm(g.tA, g.tB, g.m, g.n, g.k, float32(g.alpha), a32, lda, b32, ldb, float32(g.beta), got32, ldc)
			if i, d := maxRelDiff(to64(got32), to64(want32)); d > 1e-4 {
				t.Errorf("Sgemm %v (%s): c[%d] = %v, gonum %v", g, impl.name, i, got32[i], want32[i])
			}
		}
	}
}

// maxRelDiff is the largest |x-y| / max(1, |y|) and where it is (exact for
// the padding sentinels, which are large).
func maxRelDiff(x, y []float64) (at int, d float64) {
	for i := range x {
		if e := math.Abs(x[i]-y[i]) / math.Max(1, math.Abs(y[i])); e > d || math.IsNaN(e) {
			at, d = i, e
		}
	}
	return at, d
}

func to32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// TestOpenBLASGemmByHand is a product small enough to check on paper, with
// padded rows: a = [1 2; 3 4], b = [5 6; 7 8], c = all ones, alpha 2, beta 3.
func TestOpenBLASGemmByHand(t *testing.T) {
	ob := openBLASOrSkip(t)
	const x = 99                     // padding, never read or written
	a := []float32{1, 2, x, 3, 4}    // lda 3
	b := []float32{5, 6, x, x, 7, 8} // ldb 4
	for _, tc := range []struct {
		tA, tB blas.Transpose
		want   []float32 // ldc 3
	}{
		// a*b = [19 22; 43 50]
		{blas.NoTrans, blas.NoTrans, []float32{41, 47, x, 89, 103}},
		// aT*b = [26 30; 38 44]
		{blas.Trans, blas.NoTrans, []float32{55, 63, x, 79, 91}},
		// a*bT = [17 23; 39 53]
		{blas.NoTrans, blas.Trans, []float32{37, 49, x, 81, 109}},
		// aT*bT = [23 31; 34 46]
		{blas.Trans, blas.Trans, []float32{49, 65, x, 71, 95}},
	} {
		c := []float32{1, 1, x, 1, 1}
		ob.Sgemm(tc.tA, tc.tB, 2, 2, 2, 2, a, 3, b, 4, 3, c, 3)
		if fmt.Sprint(c) != fmt.Sprint(tc.want) {
			t.Errorf("Sgemm %c%c: got %v, want %v", tc.tA, tc.tB, c, tc.want)
		}
		c64 := []float64{1, 1, x, 1, 1}
		ob.Dgemm(tc.tA, tc.tB, 2, 2, 2, 2, to64(a), 3, to64(b), 4, 3, c64, 3)
		if fmt.Sprint(c64) != fmt.Sprint(tc.want) {
			t.Errorf("Dgemm %c%c: got %v, want %v", tc.tA, tc.tB, c64, tc.want)
		}
	}
}

// TestOpenBLASGemmEdges: what CBLAS would not do as gonum does stays with
// gonum: nothing to multiply (k or alpha zero still scales c by beta), and
// invalid arguments panic instead of CBLAS printing and returning.
func TestOpenBLASGemmEdges(t *testing.T) {
	ob := openBLASOrSkip(t)
	c := []float32{1, 2, 3, 4}
	ob.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 0, 1, make([]float32, 1), 1, nil, 2, 0.5, c, 2)
	if fmt.Sprint(c) != "[0.5 1 1.5 2]" {
		t.Errorf("k = 0: c = %v, want beta*c", c)
	}
	ob.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 0, []float32{9, 9, 9, 9}, 2, []float32{9, 9, 9, 9}, 2, 2, c, 2)
	if fmt.Sprint(c) != "[1 2 3 4]" {
		t.Errorf("alpha = 0: c = %v, want beta*c", c)
	}
	for name, call := range map[string]func(){
		"lda too small": func() {
			ob.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, make([]float32, 6), 2, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		},
		"a too short": func() {
			ob.Dgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, make([]float64, 5), 3, make([]float64, 6), 2, 0, make([]float64, 4), 2)
		},
		"c too short": func() {
			ob.Dgemm(blas.Trans, blas.NoTrans, 2, 2, 3, 1, make([]float64, 6), 2, make([]float64, 6), 2, 0, make([]float64, 3), 2)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			call()
		}()
	}
}

func TestPickBLAS(t *testing.T) {
	if _, name, info := pickBLAS("gonum"); name != "gonum" || !strings.Contains(info, "REMASK_BLAS=gonum") {
		t.Errorf("REMASK_BLAS=gonum: %s, %s", name, info)
	}
	if _, name, info := pickBLAS("mkl"); name != "gonum" || !strings.Contains(info, "REMASK_BLAS=mkl") {
		t.Errorf("REMASK_BLAS=mkl: %s, %s", name, info)
	}
	_, name, info := pickBLAS("")
	_, _, err := loadOpenBLAS()
	if want := map[bool]string{true: "openblas", false: "gonum"}[err == nil]; name != want {
		t.Errorf("REMASK_BLAS unset: %s (%s), want %s", name, info, want)
	}
	// (reading REMASK_BLAS here also puts it in go test's cache key; the
	// read at package init is not recorded)
	if _, name, _ := pickBLAS(strings.ToLower(os.Getenv("REMASK_BLAS"))); name != BLASName() {
		t.Errorf("REMASK_BLAS=%q picks %s, the package has %s", os.Getenv("REMASK_BLAS"), name, BLASName())
	}
	t.Logf("this process: %s", BLASInfo())
}

// BenchmarkSgemm times single products, one goroutine, at the sizes of the
// tiny preset (batch 16, sequence 64): a tiny call (per-call overhead), one
// attention head's scores, and the QKV projection of the whole batch.
func BenchmarkSgemm(b *testing.B) {
	impls := []struct {
		name string
		b    blasBase
	}{{"gonum", gonum.Implementation{}}}
	if ob, _, err := loadOpenBLAS(); err == nil {
		impls = append(impls, struct {
			name string
			b    blasBase
		}{"openblas", ob})
	}
	for _, s := range [][3]int{{4, 4, 4}, {64, 64, 32}, {1024, 384, 128}} {
		m, n, k := s[0], s[1], s[2]
		x, y, z := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		for i := range y {
			y[i] = float32(i%5) - 2
		}
		for _, im := range impls {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", im.name, m, n, k), func(b *testing.B) {
				for b.Loop() {
					im.b.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x, k, y, n, 0, z, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
