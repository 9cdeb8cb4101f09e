package espo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

// The registered algorithm, built from its published defaults, masks a
// batch and its Loss (units, n from the draws, old and reference ELBOs)
// has the gradient finite differences give.
func TestRegisteredLossGradient(t *testing.T) {
	r, ok := algos.Lookup("espo")
	if !ok {
		t.Fatal("espo is not registered")
	}
	c := r.Resolve(algos.Common{Tok: tok, Beta: -1, EpsLow: 0.2, EpsHigh: 0.2})
	if c.Mu != 8 || c.Beta != 0.01 || c.Advantage != "loo" || c.Group != 6 {
		t.Fatalf("defaults %+v", c)
	}
	a, err := r.New(r.Section(), c)
	if err != nil {
		t.Fatal(err)
	}
	if old, ref := a.Needs(); !old || !ref {
		t.Fatalf("needs old %v ref %v", old, ref)
	}
	var samples []algos.Sample
	for i := 0; i < 3; i++ {
		samples = append(samples, algos.Sample{Prompt: []int{2, 9}, Completion: []int{4 + i, 5, 6, 3}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	in, err := a.Inputs(samples, 0, c.Mu, rng, rng)
	if err != nil {
		t.Fatal(err)
	}
	if in.B != 4*3 || in.Draws["gen_length"] != 4 {
		t.Fatalf("rows %d, draws %v", in.B, in.Draws)
	}
	lp := make([]float64, in.B*in.L)
	for i := range lp {
		lp[i] = -rng.Float64() * 2
	}
	old, ref := algos.EstimateAll(in, lp), algos.EstimateAll(in, lp)
	for i, off := range []float64{-1, 1, 0.3} {
		old[i][0] += off
		ref[i][0] += rng.NormFloat64()
	}
	b := algos.LossBatch{In: in, LP: lp, Old: old, Ref: ref, Adv: []float64{1, -1, 0.5}}
	_, grad, _, err := a.Loss(b)
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-6
	for i := range lp {
		o := lp[i]
		lp[i] = o + h
		up, _, _, _ := a.Loss(b)
		lp[i] = o - h
		down, _, _, _ := a.Loss(b)
		lp[i] = o
		if num := (up - down) / (2 * h); math.Abs(num-grad[i]) > 1e-7 {
			t.Fatalf("row %d: grad %v, finite difference %v", i, grad[i], num)
		}
	}
}
