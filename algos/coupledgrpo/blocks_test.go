package coupledgrpo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

// On a block model each answer block draws its own t (dLLM-RL's coupled
// masking of SDAR): a counted token's estimate is 0.5 of the fully masked
// pass plus 0.5/t_b (or 0.5/(1-t_b)) of the pass that masked it, t_b its
// block's; the two coupled passes mask complementary positions; rows are
// the masked copies of the side-by-side layout.
func TestBlockMasksPerBlockT(t *testing.T) {
	const M, bs = 1, 4
	samples := []algos.Sample{{Prompt: []int{2, 9}, Completion: []int{5, 6, 7, 8, 9, 10, 3, 3}}}
	in, err := Masker{TMin: 0.2, TMax: 0.8, Tok: tok, BlockSize: bs}.Inputs(samples, 0, 1, nil, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	ts := in.Draws["t"].([][]float64)
	if len(ts) != 1 || len(ts[0]) != 2 || ts[0][0] == ts[0][1] {
		t.Fatalf("t draws %v, want one per block", ts)
	}
	const L, P = 20, 2 // side-by-side rows of 2 * 10
	if in.B != 3 || in.L != L {
		t.Fatalf("shape %dx%d", in.B, in.L)
	}
	if len(in.Tokens[0]) != 7 {
		t.Fatalf("%d counted tokens, want 7", len(in.Tokens[0]))
	}
	for k := 0; k < 8; k++ {
		r0, r1, r2 := L/2+P+k, L+L/2+P+k, 2*L+L/2+P+k
		if in.IDs[r0] != M || (in.IDs[r1] == M) == (in.IDs[r2] == M) {
			t.Fatalf("position %d: passes %d %d %d", k, in.IDs[r0], in.IDs[r1], in.IDs[r2])
		}
		if k >= 7 {
			continue
		}
		e := in.Tokens[0][k]
		tb := ts[0][k/bs]
		w := 0.5 / tb
		if in.IDs[r2] == M {
			w = 0.5 / (1 - tb)
		}
		if e.Rows[0] != r0 || e.W[0] != 0.5 || math.Abs(e.W[1]-w) > 1e-15 {
			t.Fatalf("position %d: estimate %+v, want rows %d and the coupled pass, weight %v", k, e, r0, w)
		}
	}
}
