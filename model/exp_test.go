package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// exp32 against math.Exp over float32's whole range, densely, and at the edges.
func TestExp32(t *testing.T) {
	worst := 0.0
	for x := -119.9; x <= 88.7; x += 1e-3 {
		got, want := exp32(x), math.Exp(x)
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 1e-8 {
		t.Errorf("worst relative error %.3g, want below 1e-8", worst)
	}
	// Exact where the series is exact or the scaling is all there is.
	for x, want := range map[float64]float64{0: 1, math.Ln2: 2, -math.Ln2 * 10: 1.0 / 1024} {
		if got := exp32(x); math.Abs(got-want) > 1e-15*want {
			t.Errorf("exp32(%v) = %v, want %v", x, got, want)
		}
	}
	if !math.IsInf(exp32(89), 1) || !math.IsInf(exp32(math.Inf(1)), 1) || exp32(-121) != 0 || exp32(math.Inf(-1)) != 0 || !math.IsNaN(exp32(math.NaN())) {
		t.Errorf("edges: %v %v %v %v %v", exp32(89), exp32(math.Inf(1)), exp32(-121), exp32(math.Inf(-1)), exp32(math.NaN()))
	}
	// Rounded to float32 it almost always equals the correctly rounded value.
	diff, n := 0, 0
	for x := -20.0; x <= 20; x += 1e-3 {
		n++
		if float32(exp32(x)) != float32(math.Exp(x)) {
			diff++
		}
	}
	if diff > n/20 {
		t.Errorf("float32(exp32) differs from float32(math.Exp) at %d of %d points", diff, n)
	}
}

func BenchmarkExp(b *testing.B) {
	xs := make([]float64, 1024)
	for i := range xs {
		xs[i] = float64(i)/64 - 10
	}
	var sink float64
	b.Run("math.Exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				sink += math.Exp(x)
			}
		}
	})
	b.Run("exp32", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				sink += exp32(x)
			}
		}
	})
	_ = sink
}

// The float32 SwiGLU and softmax paths against float64 math.Exp references, to
// float32 rounding, from the saturated tails to the middle.
func TestFloat32KernelsMatchMathExp(t *testing.T) {
	var g, u []float32
	for x := -800.0; x <= 800; x += 0.01 {
		g = append(g, float32(x))
		u = append(u, float32(1+math.Sin(x)))
	}
	o := make([]float32, len(g))
	siluMul32(g, u, o)
	for j := range g {
		a := float64(g[j])
		want := a / (1 + math.Exp(-a)) * float64(u[j])
		if d := math.Abs(float64(o[j]) - want); d > 2e-7*math.Abs(want)+1e-45 {
			t.Fatalf("silu(%v)*%v = %v, want %v", g[j], u[j], o[j], want)
		}
	}
	row := []float32{3, -1, 0.5, -200, 7, 2}
	valid := []bool{true, true, true, true, false, true}
	got := append([]float32(nil), row...)
	softmaxMasked(got, valid)
	var sum float64
	for j, v := range row {
		if valid[j] {
			sum += math.Exp(float64(v) - 3)
		}
	}
	for j, v := range row {
		want := 0.0
		if valid[j] {
			want = math.Exp(float64(v)-3) / sum
		}
		if d := math.Abs(float64(got[j]) - want); d > 2e-7*want+1e-45 {
			t.Errorf("softmax[%d] = %v, want %v", j, got[j], want)
		}
	}
	nan := []float32{float32(math.NaN())}
	if siluMul32(nan, []float32{1}, nan); !math.IsNaN(float64(nan[0])) {
		t.Errorf("silu(NaN) = %v", nan[0])
	}
}

// SiLU times up over a 512x384 block: the float32 path against math.Exp.
func BenchmarkSiLU(b *testing.B) {
	n := 512 * 384
	g, u, o := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		g[i], u[i] = float32(i%97)/10-5, 1
	}
	b.Run("math.Exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j := range o {
				a := float64(g[j])
				o[j] = float32(a / (1 + math.Exp(-a)) * float64(u[j]))
			}
		}
	})
	b.Run("siluMul32", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			siluMul32(g, u, o)
		}
	})
}

// The vectorised SiLU and softmax (exp_amd64.s where AVX2 is there) give the
// scalar code's bits: every float32 input class (tails, zeros, subnormals,
// infinities, NaN) and a dense sweep, at lengths that leave scalar tails.
func TestVectorKernelsMatchScalarBits(t *testing.T) {
	// Both vector widths where the CPU has AVX-512: its eight-lane kernels
	// (exp512_amd64.s) and the four-lane ones.
	defer func(was bool) { hasAVX512 = was }(hasAVX512)
	for _, wide := range []bool{hasAVX512, false} {
		hasAVX512 = wide
		vectorKernelsMatchScalarBits(t)
	}
}

func vectorKernelsMatchScalarBits(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 88.7, -88.7, 103.9, -103.9, 120, -120, 700, -700, 701, -701, math.MaxFloat32, -math.MaxFloat32}
	var g, u []float32
	g = append(g, specials...)
	for x := -900.0; x <= 900; x += 0.0137 {
		g = append(g, float32(x))
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for range g {
		u = append(u, float32(rng.NormFloat64()))
	}
	u[0] = float32(math.Inf(1))
	for _, n := range []int{len(g), len(g) - 1, 15, 9, 8, 7, 5, 3} {
		o := make([]float32, n)
		siluMul32(g[:n], u[:n], o)
		for j := 0; j < n; j++ {
			var want [1]float32
			siluMul32(g[j:j+1], u[j:j+1], want[:]) // one element: the scalar loop
			if math.Float32bits(o[j]) != math.Float32bits(want[0]) && !(isNaN32(o[j]) && isNaN32(want[0])) {
				t.Fatalf("n %d: silu(%v)*%v = %v (%#x), scalar %v (%#x)", n, g[j], u[j], o[j], math.Float32bits(o[j]), want[0], math.Float32bits(want[0]))
			}
		}
	}
	for _, L := range []int{34, 35, 64, 17, 8, 7, 3, 1} {
		for trial := 0; trial < 200; trial++ {
			row := make([]float32, L)
			for j := range row {
				row[j] = float32(rng.NormFloat64() * math.Pow(10, float64(trial%5-1)))
			}
			if trial%7 == 0 {
				row[rng.IntN(L)] = specials[rng.IntN(len(specials))]
			}
			all := make([]bool, L)
			for j := range all {
				all[j] = true
			}
			got, want := append([]float32(nil), row...), append([]float32(nil), row...)
			softmaxMasked(got, nil)  // vectorised
			softmaxMasked(want, all) // the mask keeps it scalar
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(isNaN32(got[j]) && isNaN32(want[j])) {
					t.Fatalf("L %d row %v: softmax[%d] = %v, scalar %v", L, row, j, got[j], want[j])
				}
			}
		}
	}
}

func isNaN32(x float32) bool { return x != x }
