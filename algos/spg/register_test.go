package spg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

// The registered algorithm, built from its published defaults (blocks
// shortened to fit), masks a batch and its Loss has the gradient finite
// differences give; a KL weight is refused.
func TestRegisteredLossGradient(t *testing.T) {
	r, ok := algos.Lookup("spg")
	if !ok {
		t.Fatal("spg is not registered")
	}
	c := r.Resolve(algos.Common{Tok: tok, Beta: -1})
	if c.Mu != 4 || c.Beta != 0 || c.Advantage != "mean" || c.Group != 6 || c.LossAgg != "token" {
		t.Fatalf("defaults %+v", c)
	}
	sec := r.Section().(*Config)
	sec.BlockLength = 2
	a, err := r.New(sec, c)
	if err != nil {
		t.Fatal(err)
	}
	if old, ref := a.Needs(); old || ref {
		t.Fatalf("needs old %v ref %v", old, ref)
	}
	if _, err := r.New(sec, algos.Common{Tok: tok, Beta: 0.04}); err == nil {
		t.Fatal("beta 0.04 accepted")
	}
	var samples []algos.Sample
	for i := 0; i < 3; i++ {
		c := []int{4, 5, 6, 7, 8, 9}
		c[2+i] = tok.EOS
		samples = append(samples, algos.Sample{Prompt: []int{2, 9}, Completion: c})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	in, err := a.Inputs(samples, 0, c.Mu, rng, rng)
	if err != nil {
		t.Fatal(err)
	}
	lp := make([]float64, in.B*in.L)
	for i := range lp {
		lp[i] = -rng.Float64() * 2
	}
	b := algos.LossBatch{In: in, LP: lp, Old: algos.EstimateAll(in, lp), Adv: []float64{1, -1, -0.5}}
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
