package coupledgrpo

import (
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

// Every completion token is masked in pass 0 and in exactly one of the two
// coupled passes, and its estimate weighs that pass by 1/t or 1/(1-t).
func TestCoupledPasses(t *testing.T) {
	m := Masker{TMin: 0.2, TMax: 0.8, Tok: tok}
	s := []algos.Sample{{Prompt: []int{2, 9}, Completion: []int{5, 6, 7, 3, 3}}, {Prompt: []int{2, 8}, Completion: []int{4, 4, 4, 4, 4}}}
	in, err := m.Inputs(s, 0, 2, nil, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	B, L, P := 2, 7, 2
	if in.B != 6 || in.L != L {
		t.Fatalf("shape %dx%d", in.B, in.L)
	}
	for i := range s {
		if len(in.Tokens[i]) != []int{4, 5}[i] {
			t.Fatalf("completion %d counts %d tokens", i, len(in.Tokens[i]))
		}
		var tFromWeights float64
		for k, e := range in.Tokens[i] {
			r0, r1, r2 := i*L+P+k, (B+i)*L+P+k, (2*B+i)*L+P+k
			if in.IDs[r0] != tok.Mask || (in.IDs[r1] == tok.Mask) == (in.IDs[r2] == tok.Mask) {
				t.Fatalf("completion %d token %d: pass masks %d %d %d", i, k, in.IDs[r0], in.IDs[r1], in.IDs[r2])
			}
			if e.Rows[0] != r0 || e.W[0] != 0.5 {
				t.Fatalf("estimate %+v", e)
			}
			var tt float64
			if in.IDs[r1] == tok.Mask {
				tt = 0.5 / e.W[1]
				if e.Rows[1] != r1 {
					t.Fatal("pass-1 token reads another row")
				}
			} else {
				tt = 1 - 0.5/e.W[1]
				if e.Rows[1] != r2 {
					t.Fatal("pass-2 token reads another row")
				}
			}
			if tt < 0.2 || tt > 0.8 || (k > 0 && abs(tt-tFromWeights) > 1e-12) {
				t.Fatalf("t = %v (earlier %v)", tt, tFromWeights)
			}
			tFromWeights = tt
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
