package algos

import (
	"math"
	"math/rand/v2"
	"testing"
)

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func TestAdvantagesByHand(t *testing.T) {
	r := []float64{1, 0, 0, 0.5, 0.5, 0.5} // two groups of 3
	adv, zero, err := Advantages(r, 3, "mean")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2.0 / 3, -1.0 / 3, -1.0 / 3, 0, 0, 0}
	for i := range want {
		if !close(adv[i], want[i]) {
			t.Fatalf("mean: %v", adv)
		}
	}
	if zero[0] || !zero[1] {
		t.Fatalf("zero-signal %v", zero)
	}
	// group_norm: std (unbiased) of {1,0,0} = sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3)
	adv, _, _ = Advantages(r, 3, "group_norm")
	if s := math.Sqrt(1.0 / 3); !close(adv[0], (2.0/3)/(s+1e-4)) || adv[4] != 0 {
		t.Fatalf("group_norm: %v", adv)
	}
	// leave-one-out: r_i - mean of the other two
	adv, _, _ = Advantages(r, 3, "loo")
	if !close(adv[0], 1) || !close(adv[1], -0.5) || adv[3] != 0 {
		t.Fatalf("loo: %v", adv)
	}
	// zscore: population std of {1,0,0} = sqrt(2/9); a flat group gets 0
	adv, _, _ = Advantages(r, 3, "zscore")
	if s := math.Sqrt(2.0 / 9); !close(adv[0], (2.0/3)/s) || !close(adv[1], (-1.0/3)/s) || adv[3] != 0 || adv[5] != 0 {
		t.Fatalf("zscore: %v", adv)
	}
	if _, _, err := Advantages(r, 4, "mean"); err == nil {
		t.Fatal("ragged groups accepted")
	}
	if _, _, err := Advantages(r, 3, "median"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestSurrogateByHand(t *testing.T) {
	// rho = 1, no KL: the plain policy gradient, loss -A, d/dl -A.
	if l, g, c := Surrogate(-0.7, -0.7, -0.7, 2, 0.5, 0.5, 0.04); !close(l, -2) || !close(g, -2) || c {
		t.Fatalf("rho=1: %v %v %v", l, g, c)
	}
	// A > 0, rho = e^0.7 = 2.01 > 1.5: clipped at 1.5 A, no gradient.
	if l, g, c := Surrogate(0.7, 0, 0.7, 1, 0.5, 0.5, 0); !close(l, -1.5) || g != 0 || !c {
		t.Fatalf("clip high: %v %v %v", l, g, c)
	}
	// A < 0, rho = e^-1.2 = 0.30 < 0.5: the min picks 0.5 A, clipped.
	if l, g, c := Surrogate(-1.2, 0, -1.2, -1, 0.5, 0.5, 0); !close(l, 0.5) || g != 0 || !c {
		t.Fatalf("clip low: %v %v %v", l, g, c)
	}
	// A < 0, rho = e^0.7 > 1.5: unclipped rho A is the smaller, gradient -A rho.
	rho := math.Exp(0.7)
	if l, g, c := Surrogate(0.7, 0, 0.7, -1, 0.5, 0.5, 0); !close(l, rho) || !close(g, rho) || c {
		t.Fatalf("A<0 rho>1+eps: %v %v %v", l, g, c)
	}
	// k3 KL by hand: d = lRef - l = 0.5 -> e^0.5 - 0.5 - 1.
	l, _, _ := Surrogate(0, 0, 0.5, 0, 0.2, 0.2, 0.1)
	if !close(l, 0.1*(math.Exp(0.5)-1.5)) {
		t.Fatalf("kl: %v", l)
	}
	// Derivative against finite differences across the regimes.
	for _, c := range [][4]float64{{0.1, 0, 0.3, 1}, {-0.2, 0, -0.5, -2}, {0.3, 0.1, 0, 0.7}, {-0.05, 0, 0.2, -0.4}} {
		const h = 1e-6
		lp, _, _ := Surrogate(c[0]+h, c[1], c[2], c[3], 0.2, 0.28, 0.04)
		lm, _, _ := Surrogate(c[0]-h, c[1], c[2], c[3], 0.2, 0.28, 0.04)
		_, g, _ := Surrogate(c[0], c[1], c[2], c[3], 0.2, 0.28, 0.04)
		if math.Abs((lp-lm)/(2*h)-g) > 1e-6 {
			t.Fatalf("%v: grad %v, finite difference %v", c, g, (lp-lm)/(2*h))
		}
	}
}

// For mu = 1 the old log-probs are the policy's own: every ratio is exactly
// 1 and the loss is the plain policy gradient, -mean over completions of A
// (beta 0), whatever the log-probs.
func TestMuOneIsPolicyGradient(t *testing.T) {
	in := &Inputs{Tokens: [][]Estimate{
		{{Rows: []int{0}, W: []float64{1}}, {Rows: []int{1}, W: []float64{1}}},
		{{Rows: []int{2}, W: []float64{1}}},
	}}
	lp := []float64{-0.3, -2.1, -0.9}
	old := EstimateAll(in, lp)
	adv := []float64{1.5, -0.5}
	loss, grad, st, err := Loss(in, lp, old, old, adv, Params{EpsLow: 0.2, EpsHigh: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if st.RatioMin != 1 || st.RatioMax != 1 || st.ClipFrac != 0 {
		t.Fatalf("ratios %+v", st)
	}
	if !close(loss, -(1.5-0.5)/2) {
		t.Fatalf("loss %v, want %v", loss, -0.5)
	}
	// d loss / d lp: -A_i / (T_i * N)
	want := []float64{-1.5 / 4, -1.5 / 4, 0.5 / 2}
	for i := range want {
		if !close(grad[i], want[i]) {
			t.Fatalf("grad %v, want %v", grad, want)
		}
	}
}

// The loss gradient with respect to every row's log-prob, against finite
// differences, with coupled estimates (two rows per token), clipping and KL.
func TestLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	in := &Inputs{}
	nRows := 12
	for i := 0; i < 3; i++ {
		var toks []Estimate
		for k := 0; k < 2+i; k++ {
			toks = append(toks, Estimate{Rows: []int{rng.IntN(nRows), rng.IntN(nRows)}, W: []float64{0.5, 0.5 / (0.2 + 0.6*rng.Float64())}})
		}
		in.Tokens = append(in.Tokens, toks)
	}
	lp := make([]float64, nRows)
	for i := range lp {
		lp[i] = -rng.Float64() * 2
	}
	old, ref := EstimateAll(in, lp), EstimateAll(in, lp)
	for i := range old {
		for k := range old[i] {
			old[i][k] += rng.NormFloat64() * 0.4
			ref[i][k] += rng.NormFloat64() * 0.4
		}
	}
	adv := []float64{1, -0.7, 0.3}
	p := Params{EpsLow: 0.2, EpsHigh: 0.3, Beta: 0.05}
	_, grad, _, err := Loss(in, lp, old, ref, adv, p)
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-6
	for r := range lp {
		o := lp[r]
		lp[r] = o + h
		up, _, _, _ := Loss(in, lp, old, ref, adv, p)
		lp[r] = o - h
		down, _, _, _ := Loss(in, lp, old, ref, adv, p)
		lp[r] = o
		if num := (up - down) / (2 * h); math.Abs(num-grad[r]) > 1e-6 {
			t.Fatalf("row %d: grad %v, finite difference %v", r, grad[r], num)
		}
	}
}

func TestLayoutAndCountedLength(t *testing.T) {
	ids, valid, P, L := Layout([]Sample{{Prompt: []int{2, 7}, Completion: []int{5, 3, 3}}, {Prompt: []int{2, 8, 9}, Completion: []int{6, 6, 3}}}, 2, 0)
	if P != 3 || L != 6 || len(ids) != 24 || ids[0] != 0 || ids[1] != 2 || valid[0] || !valid[1] || ids[12] != 0 || valid[12] {
		t.Fatalf("P %d L %d ids %v valid %v", P, L, ids, valid)
	}
	if CountedLength([]int{5, 3, 3}, 3) != 2 || CountedLength([]int{5, 6}, 3) != 2 || CountedLength([]int{3}, 3) != 1 {
		t.Fatal("counted length")
	}
}

// The two aggregations by hand at ratio 1 without KL, where each token's
// term is -A: completions of 1 and 3 tokens with advantages 2 and -1.
// sequence: mean(-2, -(-1)) = -0.5; token: (-2 + 3*1) / 4 = 0.25.
func TestAggregationsByHand(t *testing.T) {
	unit := func(r int) Estimate { return Estimate{Rows: []int{r}, W: []float64{1}} }
	in := &Inputs{Tokens: [][]Estimate{{unit(0)}, {unit(1), unit(2), unit(3)}}}
	lp := []float64{-0.5, -1, -1.5, -2}
	old := EstimateAll(in, lp)
	for agg, want := range map[string]float64{"": -0.5, "sequence": -0.5, "token": 0.25} {
		loss, grad, _, err := Loss(in, lp, old, old, []float64{2, -1}, Params{EpsLow: 0.2, EpsHigh: 0.2, Agg: agg})
		if err != nil || !close(loss, want) {
			t.Fatalf("%q: loss %v (%v), want %v", agg, loss, err, want)
		}
		// d/dl of -rho A at rho 1 is -A, times each token's share
		g0, g1 := -2*0.5, 1.0/3*0.5
		if agg == "token" {
			g0, g1 = -2.0/4, 1.0/4
		}
		if !close(grad[0], g0) || !close(grad[2], g1) {
			t.Fatalf("%q: grad %v, want %v and %v", agg, grad, g0, g1)
		}
	}
	if _, _, _, err := Loss(in, lp, old, old, []float64{2, -1}, Params{Agg: "batch"}); err == nil {
		t.Fatal("unknown aggregation accepted")
	}
}
