package trainer

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/data"
)

// Every corruption stays within edit distance k of the original (checked
// with Levenshtein), the three operations come in their configured
// proportions, and the same seed corrupts alike.
func TestCorruptEditDistanceAndRates(t *testing.T) {
	if Levenshtein([]int{1, 2, 3}, []int{1, 3}) != 1 || Levenshtein([]int{1, 2, 3}, []int{3, 2, 1}) != 2 || Levenshtein(nil, []int{5, 5}) != 2 {
		t.Fatal("levenshtein by hand")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var counts [3]int
	x := []int{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	for i := 0; i < 3000; i++ {
		k := rng.IntN(5)
		y, c := Corrupt(rng, x, k, [3]float64{1, 2, 1}, 30, 4)
		if d := Levenshtein(x, y); d > k {
			t.Fatalf("%d edits gave edit distance %d: %v -> %v", k, d, x, y)
		}
		if c[0]+c[1]+c[2] != k || len(y) != len(x)+c[0]-c[1] {
			t.Fatalf("counts %v for k %d, lengths %d -> %d", c, k, len(x), len(y))
		}
		for _, tok := range y {
			if tok < 4 || tok >= 30 {
				t.Fatalf("special or out-of-vocab token %d inserted", tok)
			}
		}
		for j := range counts {
			counts[j] += c[j]
		}
	}
	total := float64(counts[0] + counts[1] + counts[2])
	for j, want := range []float64{0.25, 0.5, 0.25} {
		if got := float64(counts[j]) / total; math.Abs(got-want) > 0.03 {
			t.Fatalf("operation %d share %v, want %v", j, got, want)
		}
	}
	a, _ := Corrupt(rand.New(rand.NewPCG(9, 9)), x, 4, [3]float64{1, 1, 1}, 30, 4)
	b, _ := Corrupt(rand.New(rand.NewPCG(9, 9)), x, 4, [3]float64{1, 1, 1}, 30, 4)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different corruption")
	}
}

func editObjective(mix, start float64, steps int) *Edit {
	return &Edit{Cfg: EditConfig{AlphaMax: 0.5, Schedule: "linear", Weights: [3]float64{0, 0, 1}, MaskID: 1, Vocab: 30, Specials: 4,
		PadEOS: 3, MaskBatch: SFT{MaskID: 1}, Mix: mix, Start: start, Steps: steps}}
}

// Mask-only before the edit phase; inside it, an edited sequence has no
// masks, its answer positions are all targets of the original tokens with
// weight 1/(B n), and the loss is worked by hand.
func TestEditObjective(t *testing.T) {
	seqs := []data.Sequence{{IDs: []int{2, 9, 4, 5, 6, 7, 3, 3}, PromptLen: 2}, {IDs: []int{2, 8, 10, 11, 12, 13, 3, 3}, PromptLen: 2}}
	e := editObjective(1, 0.5, 10)
	e.SetStep(2) // before the edit phase: plain SFT
	b, m, err := e.Build(rand.New(rand.NewPCG(1, 1)), seqs)
	if err != nil || m["edit_frac"] != 0 {
		t.Fatalf("%v %v", m, err)
	}
	e.SetStep(9) // last step: linear schedule at alpha_max, so k = floor(6 * 0.5) = 3 substitutions
	b, m, err = e.Build(rand.New(rand.NewPCG(1, 1)), seqs)
	if err != nil || m["edit_frac"] != 1 || m["edits_per_seq"] != 3 {
		t.Fatalf("%v %v", m, err)
	}
	const L, B, n = 8, 2, 6
	for s := range seqs {
		diff := 0
		for i := 2; i < L; i++ {
			r := s*L + i
			if b.IDs[r] == 1 {
				t.Fatal("an edited sequence kept a mask")
			}
			if b.Targets[r] != seqs[s].IDs[i] {
				t.Fatalf("target at %d is %d, want the original %d", i, b.Targets[r], seqs[s].IDs[i])
			}
			if b.IDs[r] != seqs[s].IDs[i] {
				diff++
			}
		}
		if diff == 0 || diff > 3 {
			t.Fatalf("sequence %d: %d positions changed by 3 substitutions", s, diff)
		}
		if b.Targets[s*L] != -1 || b.IDs[s*L+1] != seqs[s].IDs[1] {
			t.Fatal("the prompt was touched")
		}
	}
	lp := make([]float64, B*L)
	for i := range lp {
		lp[i] = -0.5
	}
	loss, _, _ := b.Loss(lp)
	if want := 0.5 * float64(B*n) / float64(B*n); math.Abs(loss-want) > 1e-12 {
		t.Fatalf("loss %v, want %v", loss, want)
	}
}
