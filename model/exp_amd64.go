package model

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The float32 SiLU and softmax exponentials take about a fifth of a rollout
// (pprof of rollout's BenchmarkStrategies); on amd64 with AVX2 they run four
// at a time in exp_amd64.s, with the same bits as the scalar code.

// expConsts are the reduction's constants, each repeated for the 4 lanes,
// then exp2Frac; the offsets are exp_amd64.s's.
type expConsts struct {
	log2e32, shift, ln2by32, one, half, sixth, lo, hi [4]float64  // 0..224
	sign, mask31, bias                                [4]uint64   // 256, 288, 320
	frac                                              [32]float64 // 352
}

var (
	useAVX2   = cpu.X86.HasAVX2
	avx2Const = func() *expConsts {
		c := &expConsts{frac: exp2Frac}
		// Each is the float64 the scalar code's constant expression rounds to.
		var log2e32, ln2by32, sixth float64 = 32 * math.Log2E, math.Ln2 / 32, 1.0 / 6
		for i := 0; i < 4; i++ {
			c.log2e32[i], c.shift[i], c.ln2by32[i] = log2e32, roundShift, ln2by32
			c.one[i], c.half[i], c.sixth[i], c.lo[i], c.hi[i] = 1, 1.0/2, sixth, -120, 700
			// (ki>>5)+1023 as a logical shift: ki >= -32*1023 for every
			// exponent the kernels take (-120 <= y), so adding 32*1023 first
			// gives the same integer.
			c.sign[i], c.mask31[i], c.bias[i] = 1<<63, 31, 32*1023
		}
		return c
	}()
)

//go:noescape
func siluMulAVX512(gp, up, op *float32, n int, c *expConsts)

//go:noescape
func expShiftAVX512(row *float32, n int, mx, sum float64, c *expConsts) float64

//go:noescape
func scaleRowAVX512(row *float32, n int, s float64)

// hasAVX512 picks the eight-lane kernels (exp512_amd64.s) over the four-lane.
var hasAVX512 = cpu.X86.HasAVX512F

//go:noescape
func siluMulAVX2(gp, up, op *float32, n int, c *expConsts)

//go:noescape
func expShiftAVX2(row *float32, n int, mx, sum float64, c *expConsts) float64

// siluMulVec does siluMul32 on the longest prefix it can vectorise and
// returns its length.
func siluMulVec(g, u, o []float32) int {
	if hasAVX512 {
		if n := min(len(g), len(u), len(o)) &^ 7; n > 0 {
			siluMulAVX512(unsafe.SliceData(g), unsafe.SliceData(u), unsafe.SliceData(o), n, avx2Const)
			return n
		}
	}
	n := min(len(g), len(u), len(o)) &^ 3
	if !useAVX2 || n == 0 {
		return 0
	}
	siluMulAVX2(unsafe.SliceData(g), unsafe.SliceData(u), unsafe.SliceData(o), n, avx2Const)
	return n
}

// expShiftVec does softmaxMasked's exponential loop (no mask) on the longest
// prefix it can vectorise: row[j] = float32(e^max(row[j]-mx, -120)) and sum
// += that in order. It returns the prefix's length and the sum.
func expShiftVec(row []float32, mx, sum float64) (int, float64) {
	if hasAVX512 {
		if n := len(row) &^ 7; n > 0 {
			return n, expShiftAVX512(unsafe.SliceData(row), n, mx, sum, avx2Const)
		}
	}
	n := len(row) &^ 3
	if !useAVX2 || n == 0 {
		return 0, sum
	}
	return n, expShiftAVX2(unsafe.SliceData(row), n, mx, sum, avx2Const)
}

// scaleRowVec sets row[j] = float32(float64(row[j]) * s) on the longest
// prefix it can vectorise and returns its length.
func scaleRowVec(row []float32, s float64) int {
	n := len(row) &^ 7
	if !hasAVX512 || n == 0 {
		return 0
	}
	scaleRowAVX512(unsafe.SliceData(row), n, s)
	return n
}

//go:noescape
func ropeHeadsAVX512(x *float32, heads, half int, cos, sin *float64, out *float32)

// ropeHeads applies ropeApply (forward) to heads consecutive head vectors of
// x (dh wide each) at one position, into out.
func ropeHeads(x []float32, heads, dh int, cos, sin []float64, out []float32) {
	if hasAVX512 && dh%16 == 0 && heads > 0 {
		_, _, _, _ = x[heads*dh-1], out[heads*dh-1], cos[dh-1], sin[dh-1]
		ropeHeadsAVX512(unsafe.SliceData(x), heads, dh/2, unsafe.SliceData(cos), unsafe.SliceData(sin), unsafe.SliceData(out))
		return
	}
	for h := 0; h < heads; h++ {
		ropeApply(x[h*dh:(h+1)*dh], cos, sin, false, out[h*dh:(h+1)*dh])
	}
}

//go:noescape
func scaleMaxAVX512(row *float32, n int, s float32) float32

// softmaxScaled is softmaxMasked(row, nil) after row[j] *= s (in float32).
func softmaxScaled(row []float32, s float32) {
	n := len(row) &^ 15
	mx := math.Inf(-1)
	if hasAVX512 && n > 0 {
		mx = float64(scaleMaxAVX512(unsafe.SliceData(row), n, s))
	} else {
		n = 0
	}
	for j := n; j < len(row); j++ {
		row[j] *= s
		if v := float64(row[j]); v > mx {
			mx = v
		}
	}
	softmaxFromMax(row, nil, mx)
}
