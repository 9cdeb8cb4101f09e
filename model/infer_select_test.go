package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// maxAbsDiff is the largest |a_i - b_i|.
func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// ForwardSelect returns ForwardRange's rows at the selected positions, in
// order, with the logit shift too (where position i reads network row i-1).
func TestForwardSelectMatchesRange(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) {
			p, _ := New(c, 5)
			inf := NewInference(p)
			const B, L = 3, 12
			rng := rand.New(rand.NewPCG(3, 9))
			ids := make([]int, B*L)
			for i := range ids {
				ids[i] = rng.IntN(c.Vocab)
			}
			valid := make([]bool, B*L)
			for i := range valid {
				valid[i] = i%L >= 2 || i/L != 1 // sequence 1 starts with two padding positions
			}
			V := c.Vocab
			for _, r := range [][2]int{{0, 12}, {4, 12}, {4, 8}, {0, 1}} {
				lo, hi := r[0], r[1]
				cache := inf.NewCache(B, L)
				if _, err := inf.ForwardRange(ids, B, L, valid, 0, L, cache, nil); err != nil {
					t.Fatal(err)
				}
				want, err := inf.ForwardRange(ids, B, L, valid, lo, hi, cache, nil)
				if err != nil {
					t.Fatal(err)
				}
				want = append([]float32(nil), want...)
				sel := make([]bool, B*L)
				var rows []int // the row of want each selected position reads
				for b := 0; b < B; b++ {
					for l := lo; l < hi; l++ {
						if rng.IntN(2) == 0 || l == 0 || l == 1 {
							sel[b*L+l] = true
							rows = append(rows, b*(hi-lo)+l-lo)
						}
					}
				}
				got, err := inf.ForwardSelect(ids, B, L, valid, lo, hi, sel, cache, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(rows)*V {
					t.Fatalf("range %v: %d logits, want %d rows of %d", r, len(got), len(rows), V)
				}
				for k, row := range rows {
					if d := maxAbsDiff(got[k*V:(k+1)*V], want[row*V:(row+1)*V]); d > 1e-5 {
						t.Fatalf("range %v selected row %d (row %d of the range): differs by %g", r, k, row, d)
					}
				}
			}
			// nothing selected: no rows; a mark outside the range: an error
			none := make([]bool, B*L)
			if got, err := inf.ForwardSelect(ids, B, L, valid, 0, L, none, nil, nil); err != nil || len(got) != 0 {
				t.Fatalf("empty selection: %d logits, %v", len(got), err)
			}
			none[3] = true
			if _, err := inf.ForwardSelect(ids, B, L, valid, 4, L, none, nil, nil); err == nil {
				t.Fatal("selected position outside the range accepted")
			}
		})
	}
}

// A batch split into chunks on parallel workers gives every sequence the
// logits it gets alone.
func TestForwardChunksMatchSingleSequences(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) {
			p, _ := New(c, 6)
			const B, L = 41, 30 // 1230 rows: several chunks, the last one short
			rng := rand.New(rand.NewPCG(4, 4))
			ids := make([]int, B*L)
			for i := range ids {
				ids[i] = rng.IntN(c.Vocab)
			}
			for _, threads := range []int{1, 2, 3} {
				inf := NewInference(p)
				inf.Threads = threads
				all, err := inf.Forward(ids, B, L, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				one := NewInference(p)
				one.Threads = 1
				worst := 0.0
				for b := 0; b < B; b++ {
					got, err := one.Forward(ids[b*L:(b+1)*L], 1, L, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					worst = math.Max(worst, maxAbsDiff(got, all[b*L*c.Vocab:(b+1)*L*c.Vocab]))
				}
				if worst > 1e-5 {
					t.Fatalf("threads %d: a sequence's logits differ by %g from its own forward", threads, worst)
				}
				t.Logf("threads %d: largest difference %g", threads, worst)
			}
		})
	}
}

// The first layer's q|k|v rows computed once per distinct token give the
// logits of the full product over every row.
func TestTokenQKVMatchesFullProduct(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) {
			if c.BlockSize > 0 {
				t.Skip("the block-causal forward keeps its own block-major products")
			}
			p, _ := New(c, 7)
			const B, L = 4, 16
			rng := rand.New(rand.NewPCG(6, 1))
			ids := make([]int, B*L)
			for i := range ids {
				ids[i] = 3 + rng.IntN(5) // 5 distinct tokens in 64 positions
			}
			inf, full := NewInference(p), NewInference(p)
			inf.Threads, full.noTokenQKV = 1, true // one chunk, on inf's own scratch
			got, err := inf.Forward(ids, B, L, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(inf.uniq) != 5 {
				t.Fatalf("%d distinct tokens seen, want 5", len(inf.uniq))
			}
			want, err := full.Forward(ids, B, L, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d > 1e-5 {
				t.Fatalf("logits differ by %g", d)
			}
		})
	}
}
