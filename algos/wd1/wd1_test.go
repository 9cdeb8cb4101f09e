package wd1

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func newAlgo(t *testing.T, agg string, negative bool) Algorithm {
	t.Helper()
	r, ok := algos.Lookup("wd1")
	if !ok {
		t.Fatal("wd1 is not registered")
	}
	sec := r.Section().(*Config)
	sec.Negative = negative
	c := r.Resolve(algos.Common{Tok: tok, Beta: -1, LossAgg: agg})
	a, err := r.New(sec, c)
	if err != nil {
		t.Fatal(err)
	}
	return a.(Algorithm)
}

// The published recipe's defaults.
func TestRegistered(t *testing.T) {
	r, _ := algos.Lookup("wd1")
	d := r.Defaults
	if d.Group != 6 || d.Mu != 8 || d.Beta != 0 || d.Advantage != "mean" || d.LossAgg != "sequence" {
		t.Fatalf("defaults %+v", d)
	}
	if s := r.Section().(*Config); s.PMaskPrompt != 0.15 || !s.Negative {
		t.Fatalf("section %+v", s)
	}
	if old, ref := newAlgo(t, "sequence", true).Needs(); old || ref {
		t.Fatal("wd1 needs neither old nor reference estimates")
	}
}

// softmax(+-A) within each group, by hand: A = (0.5, -0.5) gives
// sigma(1) = 0.7310585786300049 and sigma(-1) = 0.2689414213699951.
func TestWeightsByHand(t *testing.T) {
	c, err := Weights([]float64{0.5, -0.5, 0, 0}, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	d := 0.7310585786300049 - 0.2689414213699951
	want := []float64{-d, d, 0, 0} // an all-equal group weighs nothing
	for i := range want {
		if !near(c[i], want[i]) {
			t.Fatalf("weights %v, want %v", c, want)
		}
	}
	c, _ = Weights([]float64{0.5, -0.5, 0, 0}, 2, false)
	if !near(c[0], -0.7310585786300049) || !near(c[1], -0.2689414213699951) || !near(c[2], -0.5) {
		t.Fatalf("positive only: %v", c)
	}
	if _, err := Weights([]float64{1, 2, 3}, 2, true); err == nil {
		t.Fatal("ragged groups accepted")
	}
}

// a hand-made batch: 4 completions in 2 groups of 2, each counted token
// read off one row of lp.
func handBatch() (algos.LossBatch, []float64) {
	lp := []float64{-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8}
	unit := func(r int) algos.Estimate { return algos.Estimate{Rows: []int{r}, W: []float64{1}} }
	in := &algos.Inputs{Tokens: [][]algos.Estimate{{unit(0), unit(1)}, {unit(2)}, {unit(3), unit(4), unit(5)}, {unit(6), unit(7)}}}
	adv := []float64{0.5, -0.5, 1, -1}
	return algos.LossBatch{In: in, LP: lp, Adv: adv, Group: 2}, lp
}

func TestLossByHand(t *testing.T) {
	b, _ := handBatch()
	// sequence log-likelihoods: -0.3, -0.3, -1.5, -1.5
	s1, s2 := 0.7310585786300049, 0.8807970779778823 // sigma(1), sigma(2)
	c := []float64{-(2*s1 - 1), 2*s1 - 1, -(2*s2 - 1), 2*s2 - 1}
	seqs := []float64{-0.3, -0.3, -1.5, -1.5}
	var sum float64
	for i := range c {
		sum += c[i] * seqs[i]
	}
	for agg, want := range map[string]float64{"sequence": sum / 2, "token": sum / 8} {
		loss, grad, st, err := newAlgo(t, agg, true).Loss(b)
		if err != nil {
			t.Fatal(err)
		}
		if !near(loss, want) || st.Tokens != 8 || st.RatioMean != 1 {
			t.Fatalf("%s: loss %v, want %v (%+v)", agg, loss, want, st)
		}
		// d loss / d lp[r] = scale * c_i for every counted row r of completion i
		scale := map[string]float64{"sequence": 0.5, "token": 0.125}[agg]
		rowsOf := [][]int{{0, 1}, {2}, {3, 4, 5}, {6, 7}}
		for i, rows := range rowsOf {
			for _, r := range rows {
				if !near(grad[r], scale*c[i]) {
					t.Fatalf("%s: grad[%d] %v, want %v", agg, r, grad[r], scale*c[i])
				}
			}
		}
	}
	// positive only: -sum softmax(A) log pi
	loss, _, _, _ := newAlgo(t, "sequence", false).Loss(b)
	want := -(s1*-0.3 + (1-s1)*-0.3 + s2*-1.5 + (1-s2)*-1.5) / 2
	if !near(loss, want) {
		t.Fatalf("positive only: %v, want %v", loss, want)
	}
}

// The gradient against central finite differences, with estimates that mix
// rows (as a multi-pass estimator's would).
func TestGradientFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lp := make([]float64, 20)
	for i := range lp {
		lp[i] = -3 * rng.Float64()
	}
	var toks [][]algos.Estimate
	for i := 0; i < 6; i++ {
		var units []algos.Estimate
		for k := 0; k < 1+i%3; k++ {
			units = append(units, algos.Estimate{Rows: []int{rng.IntN(20), rng.IntN(20)}, W: []float64{0.5, 0.5 + rng.Float64()}})
		}
		toks = append(toks, units)
	}
	adv := []float64{1, 0, -1, 0.3, 0.3, -0.6}
	for _, agg := range algos.Aggregations {
		a := newAlgo(t, agg, true)
		b := algos.LossBatch{In: &algos.Inputs{Tokens: toks}, LP: lp, Adv: adv, Group: 3}
		_, grad, _, err := a.Loss(b)
		if err != nil {
			t.Fatal(err)
		}
		const h = 1e-6
		for r := range lp {
			p := append([]float64(nil), lp...)
			p[r] += h
			b.LP = p
			lplus, _, _, _ := a.Loss(b)
			p[r] -= 2 * h
			lminus, _, _, _ := a.Loss(b)
			if fd := (lplus - lminus) / (2 * h); math.Abs(fd-grad[r]) > 1e-7 {
				t.Fatalf("%s: row %d: grad %v, finite difference %v", agg, r, grad[r], fd)
			}
		}
	}
}

// d1's masks: the completion fully masked with its targets, counted up to
// and including the first <eos>, prompt tokens masked at p_mask_prompt,
// <bos> never.
func TestMasks(t *testing.T) {
	a := newAlgo(t, "sequence", true)
	prompt := []int{2}
	for i := 0; i < 60; i++ {
		prompt = append(prompt, 10+i%20)
	}
	samples := []algos.Sample{{Prompt: prompt, Completion: []int{5, 3, 3, 3}}, {Prompt: prompt, Completion: []int{6, 7, 8, 9}}}
	masked, total := 0, 0
	for seed := uint64(0); seed < 100; seed++ {
		in, err := a.Inputs(samples, 0, 8, nil, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		P := len(prompt)
		if len(in.Tokens[0]) != 2 || len(in.Tokens[1]) != 4 {
			t.Fatalf("counted %d and %d tokens, want 2 and 4", len(in.Tokens[0]), len(in.Tokens[1]))
		}
		for i, s := range samples {
			row := in.IDs[i*in.L : (i+1)*in.L]
			if row[0] != tok.BOS {
				t.Fatal("<bos> masked")
			}
			for k, want := range s.Completion {
				if row[P+k] != tok.Mask || in.Targets[i*in.L+P+k] != want {
					t.Fatalf("completion %d token %d not masked with its target", i, k)
				}
			}
			for l := 1; l < P; l++ {
				total++
				if row[l] == tok.Mask {
					masked++
				}
			}
		}
	}
	if f := float64(masked) / float64(total); math.Abs(f-0.15) > 0.01 {
		t.Fatalf("prompt mask rate %v, want 0.15", f)
	}
}
