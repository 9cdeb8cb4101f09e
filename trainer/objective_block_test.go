package trainer

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
)

// One block-SFT sequence worked by hand: 7 tokens, a prompt of 2, blocks of
// 2, so answer blocks [2,3] [4,5] [6]. Draws: block 0 t = 0.5 (p = 0.5005),
// u = 0.1, 0.9 -> position 2 masked; block 1 t = 0 (p = 0.001), u = 0.0005,
// 0.5 -> position 4 masked; block 2 t = 0.9 (p = 0.9001), u = 0.95 -> none.
// The batch is the clean sequence then its noised copy: 14 rows.
func TestBlockSFTMasksAndLossByHand(t *testing.T) {
	src := &scripted{vals: []float64{0.5, 0.1, 0.9, 0, 0.0005, 0.5, 0.9, 0.95}}
	seqs := []data.Sequence{{IDs: []int{2, 10, 11, 12, 13, 14, 3}, PromptLen: 2}}
	b, m, err := Block{MaskID: maskID, Size: 2, SFT: true}.Build(rand.New(src), seqs)
	if err != nil {
		t.Fatal(err)
	}
	want := model.Layout{
		Block: []int{-1, -1, 0, 0, 1, 1, 2, -1, -1, 0, 0, 1, 1, 2},
		Noisy: []bool{false, false, false, false, false, false, false, true, true, true, true, true, true, true},
		Pos:   []int{0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6},
	}
	if !reflect.DeepEqual(*b.Layout, want) {
		t.Fatalf("layout %+v, want %+v", *b.Layout, want)
	}
	wantIDs := []int{2, 10, 11, 12, 13, 14, 3, 2, 10, maskID, 12, maskID, 14, 3}
	wantTargets := []int{-1, -1, -1, -1, -1, -1, -1, -1, -1, 11, -1, 13, -1, -1}
	wantValid := []bool{true, true, true, true, true, true, true, false, false, true, true, true, true, true}
	if !reflect.DeepEqual(b.IDs, wantIDs) || !reflect.DeepEqual(b.Targets, wantTargets) || !reflect.DeepEqual(b.Valid, wantValid) {
		t.Fatalf("ids %v targets %v valid %v", b.IDs, b.Targets, b.Valid)
	}
	lp := make([]float64, 14)
	lp[9], lp[11] = -1, -0.5
	loss, grad, err := b.Loss(lp)
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := 0.999*0.5+0.001, 0.001
	wantLoss := 1/(p0*5) + 0.5/(p1*5) // answer length 5, B = 1
	if math.Abs(loss-wantLoss) > 1e-9*wantLoss || math.Abs(grad[9]+1/(p0*5)) > 1e-12 || grad[2] != 0 {
		t.Fatalf("loss %v grad %v, want %v", loss, grad, wantLoss)
	}
	if math.Abs(m["mask_frac"]-2.0/5) > 1e-12 {
		t.Fatalf("mask_frac %v", m["mask_frac"])
	}
}

// Pretraining: every position is answer, blocks from position 0, padding
// never masked, loss over B*L.
func TestBlockMDLMByHand(t *testing.T) {
	src := &scripted{vals: []float64{0.5, 0.1, 0.1, 0.9, 0.1, 0.5}}
	seqs := []data.Sequence{{IDs: []int{2, 10, 3, 0}, Valid: []bool{true, true, true, false}}}
	b, _, err := Block{MaskID: maskID, Size: 2}.Build(rand.New(src), seqs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0, 1, 1, 0, 0, 1, 1}; !reflect.DeepEqual(b.Layout.Block, want) {
		t.Fatalf("blocks %v, want %v", b.Layout.Block, want)
	}
	// block 0: p = 0.5005, u 0.1 0.1 -> both masked; block 1: p = 0.9001,
	// u 0.1 at the real <eos>, the padding position is skipped.
	if want := []int{2, 10, 3, 0, maskID, maskID, maskID, 0}; !reflect.DeepEqual(b.IDs, want) {
		t.Fatalf("ids %v, want %v", b.IDs, want)
	}
	lp := []float64{0, 0, 0, 0, -1, -1, -1, 0}
	loss, _, _ := b.Loss(lp)
	p0, p1 := 0.999*0.5+0.001, 0.999*0.9+0.001
	if want := (2/p0 + 1/p1) / 4; math.Abs(loss-want) > 1e-9 {
		t.Fatalf("loss %v, want %v", loss, want)
	}
}

func TestFloorDiv(t *testing.T) {
	for _, c := range [][3]int{{-1, 4, -1}, {-4, 4, -1}, {-5, 4, -2}, {0, 4, 0}, {3, 4, 0}, {4, 4, 1}} {
		if got := floorDiv(c[0], c[1]); got != c[2] {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

// Weights of a full-attention model start a block-causal run (as SDAR
// starts from Qwen3) and back; any other difference is a different model.
func TestSameWeightsIgnoresTheAttentionPattern(t *testing.T) {
	full := model.Config{Vocab: 12, D: 8, Layers: 1, Heads: 2, FF: 8, MaxLen: 16, RopeTheta: 10000, NormEps: 1e-5}
	block := full
	block.BlockSize = 4
	if !sameWeights(full, block) || !sameWeights(block, full) {
		t.Fatal("block size made the weights incompatible")
	}
	other := block
	other.FF = 16
	if sameWeights(full, other) {
		t.Fatal("a different FF width was accepted")
	}
	gqa := full
	gqa.KVHeads = 1
	if sameWeights(full, gqa) {
		t.Fatal("a different number of KV heads was accepted")
	}
}
