package spg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

// On a block model SPG's blocks must be whole attention blocks; its draws'
// rows move to the masked copies of the side-by-side layout, where the
// targets are, and the clean copies hold the completion unmasked.
func TestBlockCausalMasks(t *testing.T) {
	samples := []algos.Sample{{Prompt: []int{2, 9}, Completion: []int{5, 6, 7, 8, 9, 10, 3, 3}}, {Prompt: []int{2}, Completion: []int{4, 5, 6, 7, 8, 9, 10, 11}}}
	if _, err := (Masker{NumT: 2, BlockLength: 2, MaxT: 1, Tok: tok, BlockSize: 4}).Masks(samples, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("SPG blocks of 2 across attention blocks of 4 passed")
	}
	m := Masker{NumT: 2, BlockLength: 4, MinT: 0, MaxT: 1, PMaskPrompt: 0.5, Tok: tok, BlockSize: 4}
	in, err := m.Masks(samples, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	const L, P = 20, 2
	B := len(samples)
	for i, s := range in.Seqs {
		var rows []int
		for j, d := range s.Draws {
			for q, r := range d.Rows {
				if r/L != j*B+i || r%L != L/2+P+d.Pos[q] || in.Targets[r] != samples[i].Completion[d.Pos[q]] || in.IDs[r] != tok.Mask {
					t.Fatalf("completion %d draw %d: row %d for position %d", i, j, r, d.Pos[q])
				}
				rows = append(rows, r)
			}
			for k := 0; k < 8; k++ {
				if in.IDs[(j*B+i)*L+P+k] != samples[i].Completion[k] {
					t.Fatalf("completion %d draw %d: clean copy position %d is %d", i, j, k, in.IDs[(j*B+i)*L+P+k])
				}
			}
		}
		if len(rows) != len(in.Tokens[i][0].Rows) {
			t.Fatalf("completion %d: %d draw rows, %d estimate rows", i, len(rows), len(in.Tokens[i][0].Rows))
		}
		for q, r := range in.Tokens[i][0].Rows {
			if rows[q] != r {
				t.Fatalf("completion %d: estimate row %d, draw row %d", i, r, rows[q])
			}
		}
	}
	// the loss's gradient on the side-by-side rows against finite differences
	rng := rand.New(rand.NewPCG(3, 3))
	lp := make([]float64, len(in.IDs))
	for r := range lp {
		lp[r] = -3 * rng.Float64()
	}
	adv := []float64{0.7, -0.4}
	p := Params{Estimate: "mix", MixWeight: 0.5, EUBOBeta: 1.5, Agg: "token"}
	_, grad, _, err := Loss(in, lp, adv, p)
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-6
	for r := range lp {
		o := lp[r]
		lp[r] = o + h
		up, _, _, _ := Loss(in, lp, adv, p)
		lp[r] = o - h
		down, _, _, _ := Loss(in, lp, adv, p)
		lp[r] = o
		if num := (up - down) / (2 * h); math.Abs(num-grad[r]) > 1e-6 {
			t.Fatalf("row %d: grad %v, finite difference %v", r, grad[r], num)
		}
	}
}
