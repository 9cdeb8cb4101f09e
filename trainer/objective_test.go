package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/data"
)

// scripted is a rand source that yields given Float64 values in order, so a
// test can decide every masking draw.
type scripted struct {
	vals []float64
	i    int
}

func (s *scripted) Uint64() uint64 {
	v := s.vals[s.i%len(s.vals)]
	s.i++
	return uint64(v*(1<<53)) << 11 >> 11 // Float64 takes the low 53 bits / 2^53
}

const maskID = 1

// One SFT batch of 2 sequences of 5 tokens, every draw chosen by hand:
// sequence 0: t = 0.5 (p = 0.5005), prompt of 2; draws for positions 0..4
// 0.1 0.1 0.2 0.9 0.3 -> positions 2 and 4 masked (0, 1 are prompt).
// sequence 1: t = 0 (p = 0.001), prompt of 3; draws 0 0 0 0.0005 0.5 ->
// position 3 masked.
// loss = (1/B) sum_b sum_masked CE / (p_b L'_b) with L'_0 = 3, L'_1 = 2.
func TestSFTMasksAndLossByHand(t *testing.T) {
	src := &scripted{vals: []float64{0.5, 0.1, 0.1, 0.2, 0.9, 0.3, 0, 0, 0, 0, 0.0005, 0.5}}
	seqs := []data.Sequence{
		{IDs: []int{2, 10, 11, 12, 3}, PromptLen: 2},
		{IDs: []int{2, 20, 21, 22, 3}, PromptLen: 3},
	}
	b, m, err := SFT{MaskID: maskID}.Build(rand.New(src), seqs)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []int{2, 10, maskID, 12, maskID, 2, 20, 21, maskID, 3}
	wantTargets := []int{-1, -1, 11, -1, 3, -1, -1, -1, 22, -1}
	for i := range wantIDs {
		if b.IDs[i] != wantIDs[i] || b.Targets[i] != wantTargets[i] {
			t.Fatalf("position %d: id %d target %d, want %d %d", i, b.IDs[i], b.Targets[i], wantIDs[i], wantTargets[i])
		}
	}
	if seqs[0].IDs[2] != 11 {
		t.Fatal("Build modified its input")
	}
	lp := []float64{0, 0, -1, 0, -2, 0, 0, 0, -0.5, 0}
	loss, grad, err := b.Loss(lp)
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := 0.999*0.5+0.001, 0.001
	want := ((1+2)/(p0*3) + 0.5/(p1*2)) / 2
	if math.Abs(loss-want) > 1e-9*want {
		t.Fatalf("loss %v, want %v", loss, want)
	}
	if math.Abs(grad[2]+1/(p0*3*2)) > 1e-12 || grad[0] != 0 {
		t.Fatalf("grad %v", grad)
	}
	if math.Abs(m["mask_frac"]-3.0/5) > 1e-12 { // 3 of the 5 answer positions
		t.Fatalf("mask_frac %v", m["mask_frac"])
	}
}

// MDLM masks any real token, never padding, and divides by B*L.
func TestMDLMLossByHand(t *testing.T) {
	src := &scripted{vals: []float64{0.5, 0.1, 0.9, 0.1, 0.1}}
	seqs := []data.Sequence{{IDs: []int{2, 10, 3, 0}, Valid: []bool{true, true, true, false}}}
	b, _, err := MDLM{MaskID: maskID}.Build(rand.New(src), seqs)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []int{maskID, 10, maskID, 0}
	for i, id := range wantIDs {
		if b.IDs[i] != id {
			t.Fatalf("ids %v, want %v", b.IDs, wantIDs)
		}
	}
	loss, _, _ := b.Loss([]float64{-1, 0, -3, 0})
	p := 0.999*0.5 + 0.001
	if want := 4 / (p * 4); math.Abs(loss-want) > 1e-9 {
		t.Fatalf("loss %v, want %v", loss, want)
	}
	if b.Valid == nil || b.Valid[3] {
		t.Fatal("padding mask lost")
	}
}

// Over many sequences, t ~ U(0,1) makes the masked fraction average 0.5, and
// the fraction within a sequence follows its own p.
func TestMaskingRate(t *testing.T) {
	const B, L = 4000, 40
	seqs := make([]data.Sequence, B)
	for i := range seqs {
		ids := make([]int, L)
		for j := range ids {
			ids[j] = 5
		}
		seqs[i] = data.Sequence{IDs: ids}
	}
	b, m, err := MDLM{MaskID: maskID}.Build(rand.New(rand.NewPCG(1, 2)), seqs)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m["mask_frac"]-0.5) > 0.02 {
		t.Fatalf("masked fraction %v, want about 0.5", m["mask_frac"])
	}
	// The fraction of sequences with more than 90% masked is about P(p > 0.9) = 0.1.
	heavy := 0
	for s := 0; s < B; s++ {
		n := 0
		for j := 0; j < L; j++ {
			if b.IDs[s*L+j] == maskID {
				n++
			}
		}
		if n > 36 {
			heavy++
		}
	}
	if f := float64(heavy) / B; f < 0.05 || f > 0.13 {
		t.Fatalf("%v of sequences more than 90%% masked, want about 0.1", f)
	}
}
