package espo

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/algos"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

func close(a, b float64) bool { return math.Abs(a-b) < 1e-9*(1+math.Abs(b)) }

// The mask counts of a batch are stratified from one offset k:
// x_i = round(k + i (n+1)/B) mod (n+1), rounding half to even as torch does.
func TestStratifiedCountsByHand(t *testing.T) {
	cases := []struct {
		B, n int
		want map[int][]int // k -> x
	}{
		{3, 4, map[int][]int{0: {0, 2, 3}, 1: {1, 3, 4}, 2: {2, 4, 0}, 3: {3, 0, 1}, 4: {4, 1, 2}}},
		{2, 4, map[int][]int{0: {0, 2}, 1: {1, 4}, 2: {2, 4}, 3: {3, 1}, 4: {4, 1}}}, // 2.5 -> 2, 4.5 -> 4, 6.5 -> 6
		{2, 3, map[int][]int{0: {0, 2}, 1: {1, 3}, 2: {2, 0}, 3: {3, 1}}},
	}
	for _, c := range cases {
		var samples []algos.Sample
		for i := 0; i < c.B; i++ {
			comp := make([]int, c.n)
			for k := range comp {
				comp[k] = 10 + i + k
			}
			samples = append(samples, algos.Sample{Prompt: []int{2, 9}, Completion: comp})
		}
		seen := map[int]bool{}
		for seed := uint64(0); seed < 200 && len(seen) < len(c.want); seed++ {
			in, err := Masker{NumMC: 1, ReduceVar: true, Tok: tok}.Masks(samples, rand.New(rand.NewPCG(seed, 1)))
			if err != nil {
				t.Fatal(err)
			}
			d := in.Draws[0]
			if !reflect.DeepEqual(d.Masked, c.want[d.K]) {
				t.Fatalf("B %d n %d k %d: x %v, want %v", c.B, c.n, d.K, d.Masked, c.want[d.K])
			}
			seen[d.K] = true
		}
		if len(seen) != c.n+1 {
			t.Fatalf("B %d n %d: offsets seen %v", c.B, c.n, seen)
		}
	}
}

// Pass 0 masks x_i completion positions, pass 1 exactly the others; the
// prompt is never masked; each masked position weighs (n+1)/x or
// (n+1)/(n-x), halved by the coupling and divided by num_mc.
func TestMasksAndWeights(t *testing.T) {
	samples := []algos.Sample{
		{Prompt: []int{2, 9, 8}, Completion: []int{5, 6, 7, 3, 3}},
		{Prompt: []int{2, 7}, Completion: []int{4, 4, 4, 4, 4}},
		{Prompt: []int{2, 7, 7}, Completion: []int{6, 3, 3, 3, 3}},
	}
	m := Masker{NumMC: 2, ReduceVar: true, Tok: tok}
	in, err := m.Masks(samples, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	B, n, P, L := 3, 5, 3, 8
	if in.B != 4*B || in.L != L || in.N != n || len(in.Draws) != 2 || len(in.Tokens) != B {
		t.Fatalf("shape B %d L %d n %d draws %d", in.B, in.L, in.N, len(in.Draws))
	}
	for i, s := range samples {
		want := map[int]float64{}
		for mc, d := range in.Draws {
			x := d.Masked[i]
			c0, c1 := mc*2, mc*2+1
			got := 0
			for k, tk := range s.Completion {
				r0, r1 := (c0*B+i)*L+P+k, (c1*B+i)*L+P+k
				m0, m1 := in.IDs[r0] == tok.Mask, in.IDs[r1] == tok.Mask
				if m0 == m1 {
					t.Fatalf("completion %d draw %d pos %d: masked in both or neither pass", i, mc, k)
				}
				if m0 {
					got++
					want[r0] = 0.25 * 6 / float64(x)
					if in.Targets[r0] != tk || in.Targets[r1] != -1 {
						t.Fatal("targets")
					}
				} else {
					want[r1] = 0.25 * 6 / float64(5-x)
				}
			}
			if got != x {
				t.Fatalf("completion %d draw %d: %d masked, x %d", i, mc, got, x)
			}
			for c := 0; c < 4; c++ {
				row := in.IDs[(c*B+i)*L : (c*B+i)*L+P]
				for l := 0; l < P; l++ {
					if row[l] == tok.Mask {
						t.Fatal("prompt masked")
					}
				}
			}
		}
		e := in.Tokens[i][0]
		if len(e.Rows) != 2*n {
			t.Fatalf("completion %d: %d rows, want %d", i, len(e.Rows), 2*n)
		}
		for j, r := range e.Rows {
			if !close(e.W[j], want[r]) {
				t.Fatalf("completion %d row %d: weight %v, want %v", i, r, e.W[j], want[r])
			}
		}
	}
	// unequal generation lengths are refused, not mis-estimated
	if _, err := m.Masks([]algos.Sample{{Prompt: []int{2}, Completion: []int{4}}, {Prompt: []int{2}, Completion: []int{4, 5}}}, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("unequal lengths accepted")
	}
}

// With one completion (x = k uniform on 0..n) the ELBO's total weight is
// n+1 for 0 < x < n and (n+1)/2 at x = 0 or n: its mean over x is n, the
// weight an exact sum of n log-probs would have. Worked for n = 2:
// x = 0 -> 0.75 (a+b), x = 1 -> 1.5 (a+b), x = 2 -> 0.75 (a+b).
func TestELBOByHand(t *testing.T) {
	s := []algos.Sample{{Prompt: []int{2}, Completion: []int{5, 6}}}
	want := map[int]float64{0: 0.75, 1: 1.5, 2: 0.75}
	seen := map[int]bool{}
	for seed := uint64(0); seed < 100; seed++ {
		in, err := Masker{NumMC: 1, ReduceVar: true, Tok: tok}.Masks(s, rand.New(rand.NewPCG(seed, 9)))
		if err != nil {
			t.Fatal(err)
		}
		lp := make([]float64, in.B*in.L)
		// a = -0.5 for token 5, b = -1.25 for token 6, wherever they are read
		for r, tg := range in.Targets {
			switch tg {
			case 5:
				lp[r] = -0.5
			case 6:
				lp[r] = -1.25
			}
		}
		x := in.Draws[0].K
		if got := ELBO(in.Inputs, lp)[0]; !close(got, want[x]*(-1.75)) {
			t.Fatalf("x %d: ELBO %v, want %v", x, got, want[x]*-1.75)
		}
		seen[x] = true
	}
	if len(seen) != 3 {
		t.Fatal("not every x drawn")
	}
	// without the coupling each of the x masked positions weighs 3/x: with
	// every log-prob -1 the ELBO is -3, or 0 when nothing is masked
	for seed := uint64(0); seed < 20; seed++ {
		in, _ := Masker{NumMC: 1, Tok: tok}.Masks(s, rand.New(rand.NewPCG(seed, 9)))
		lp := make([]float64, in.B*in.L)
		for r := range lp {
			lp[r] = -1
		}
		want := -3.0
		if in.Draws[0].K == 0 {
			want = 0
		}
		if got := ELBO(in.Inputs, lp)[0]; !close(got, want) {
			t.Fatalf("x %d: ELBO %v, want %v", in.Draws[0].K, got, want)
		}
	}
}

// Two sequences worked by hand: one unclipped, one clipped, and the k2 KL.
func TestLossByHand(t *testing.T) {
	// completion 0's ELBO is 2 lp[0] + 2 lp[1]; completion 1's is 4 lp[2]
	in := &algos.Inputs{Tokens: [][]algos.Estimate{{{Rows: []int{0, 1}, W: []float64{2, 2}}}, {{Rows: []int{2}, W: []float64{4}}}}}
	lp := []float64{-0.5, -0.5, -0.75} // ELBOs -2 and -3
	old := []float64{-2.4, -2}
	ref := []float64{-2, -2}
	adv := []float64{1, -0.5}
	n := 4
	loss, grad, st, err := Loss(in, n, lp, old, ref, adv, algos.Params{EpsLow: 0.2, EpsHigh: 0.2, Beta: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	// rho0 = exp(0.4/4) = 1.1051709 (inside the clip range): -rho0
	// rho1 = exp(-1/4) = 0.7788008, A = -0.5: min(-0.3894, -0.4) = -0.4, clipped: +0.4
	// KL: 0.1 * ((0)^2 + (-1)^2) / 2 / (2 * 4) = 0.00625
	rho0 := math.Exp(0.1)
	want := (-rho0+0.4)/2 + 0.00625
	if !close(loss, want) || st.ClipFrac != 0.5 || !close(st.KL, (0+1.0/8)/2) {
		t.Fatalf("loss %v, want %v; stats %+v", loss, want, st)
	}
	// d/dELBO0 = -A rho0 / (n B) = -rho0/8, times weights 2; d/dELBO1 = beta d / (B n) = -0.0125, times 4
	wantGrad := []float64{-rho0 / 8 * 2, -rho0 / 8 * 2, -0.0125 * 4}
	for r := range wantGrad {
		if !close(grad[r], wantGrad[r]) {
			t.Fatalf("grad %v, want %v", grad, wantGrad)
		}
	}
}

// The loss gradient with respect to every row's log-prob, against finite
// differences, on real masks with clipping and the KL.
func TestLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var samples []algos.Sample
	for i := 0; i < 4; i++ {
		samples = append(samples, algos.Sample{Prompt: []int{2, 8 + i}, Completion: []int{4 + i, 5, 6, 3, 3, 3}})
	}
	in, err := Masker{NumMC: 2, ReduceVar: true, Tok: tok}.Masks(samples, rng)
	if err != nil {
		t.Fatal(err)
	}
	lp := make([]float64, in.B*in.L)
	for r := range lp {
		if in.Targets[r] >= 0 {
			lp[r] = -rng.Float64() * 2
		}
	}
	e := ELBO(in.Inputs, lp)
	old, ref := make([]float64, len(e)), make([]float64, len(e))
	// ratios exp(2/6) and exp(-2/6) are clipped for A = 1 and -0.7; the others not
	for i, off := range []float64{-2, 2, 0.5, -3} {
		old[i] = e[i] + off
		ref[i] = e[i] + rng.NormFloat64()*2
	}
	adv := []float64{1, -0.7, 0.3, -0.6}
	p := algos.Params{EpsLow: 0.1, EpsHigh: 0.15, Beta: 0.05}
	_, grad, st, err := Loss(in.Inputs, in.N, lp, old, ref, adv, p)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClipFrac != 0.5 {
		t.Fatalf("clip fraction %v, want 0.5", st.ClipFrac)
	}
	const h = 1e-6
	for r := range lp {
		o := lp[r]
		lp[r] = o + h
		up, _, _, _ := Loss(in.Inputs, in.N, lp, old, ref, adv, p)
		lp[r] = o - h
		down, _, _, _ := Loss(in.Inputs, in.N, lp, old, ref, adv, p)
		lp[r] = o
		if num := (up - down) / (2 * h); math.Abs(num-grad[r]) > 1e-7 {
			t.Fatalf("row %d: grad %v, finite difference %v", r, grad[r], num)
		}
	}
}
