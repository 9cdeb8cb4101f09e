package model

import "math"

// A rollout spent about a third of its time in math.Exp (profile of rollout's
// BenchmarkPool: 28% in math.archExp, from SiLU and the attention softmax),
// computing exponentials to float64 precision that are then rounded to
// float32. The float32 kernels use the reduction below instead, accurate to
// float32 precision and inlined into their loops (3.2x faster on a SiLU block,
// BenchmarkSiLU). The float64 instantiations keep math.Exp: the
// finite-difference tests need a function smooth to float64 precision.
//
// The reduction: x = (32m + j) ln2/32 + r with |r| <= ln2/64, so
// e^x = 2^m 2^(j/32) e^r, with 2^(j/32) from a table and e^r by its Taylor
// series to r^3, whose remainder is at most (ln2/64)^4 / 4! = 5.7e-10 relative
// (a float32 ulp is 6e-8 at worst). Adding 1.5*2^52 rounds x*32/ln2 to an
// integer held in the low bits of the mantissa, cheaper than Floor and a
// conversion; it needs |x*32/ln2| < 2^51, and 2^m must stay a float64.

const roundShift = 0x1.8p52

// exp32 returns e^x to float32 precision, 0 below float32's range and +Inf
// above it.
func exp32(x float64) float64 {
	switch {
	case x > 88.8: // e^88.73 overflows float32
		return math.Inf(1)
	case x < -120: // e^x rounds to 0 in float32 from x = -104 on; -120 leaves a margin
		return 0
	}
	return expReduced(x)
}

// expReduced is e^x by the reduction above for x in [-708, 709], where 2^m is a
// float64 normal; NaN stays NaN. Small enough to be inlined into loops.
func expReduced(x float64) float64 {
	t := x*(32*math.Log2E) + roundShift
	k := t - roundShift
	ki := int64(math.Float64bits(t) - math.Float64bits(roundShift))
	r := x - k*(math.Ln2/32)
	return (1 + r*(1+r*(1.0/2+r*(1.0/6)))) * exp2Frac[ki&31] * math.Float64frombits(uint64((ki>>5)+1023)<<52)
}

// exp2Frac[j] = 2^(j/32).
var exp2Frac = func() (t [32]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

// isFloat32 reports whether the kernel instantiation works in float32; kernels
// ask once per call.
func isFloat32[T float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// expFor is exp32 for float32 kernels and math.Exp for float64 ones.
func expFor(f32 bool, x float64) float64 {
	if f32 {
		return exp32(x)
	}
	return math.Exp(x)
}
