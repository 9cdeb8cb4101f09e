package unigrpo

import (
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

// On a block model the ratio applies within each answer block: ratio 0.5 on
// blocks of 4 masks 2 positions of each, and with trace masks the 2 its
// sampler committed last in that block.
func TestBlockMasksPerBlock(t *testing.T) {
	const M = 1
	trace := []int{0, 3, 1, 2, 7, 4, 6, 5}
	samples := []algos.Sample{{Prompt: []int{2}, Completion: []int{5, 6, 7, 8, 9, 10, 11, 12}, Trace: trace}}
	m := Masker{T: 2, Tok: tok, BlockSize: 4, TraceMasks: true}
	// batch draw 0.5..: floor(0.6 * 2) / 2 = 0.5 at mu 1
	in, err := m.Inputs(samples, 0, 1, rand.New(rand.NewPCG(0, 0)), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	r := in.Draws["ratio"].(float64)
	if r != 0.5 {
		t.Fatalf("ratio %v, want 0.5 from this draw", r)
	}
	L := 9 // prompt 1 + 8
	// masked copy starts at L; answer at L+1
	want := map[int]bool{1: true, 3: true, 4: true, 6: true} // latest two per block: steps 3,2 and 7,6
	for k := 0; k < 8; k++ {
		masked := in.IDs[L+1+k] == M
		if masked != want[k] {
			t.Fatalf("position %d masked %v, want %v (ids %v)", k, masked, want[k], in.IDs)
		}
		if in.IDs[1+k] == M {
			t.Fatalf("clean copy position %d masked", k)
		}
	}
	if len(in.Tokens[0]) != 4 {
		t.Fatalf("%d scored tokens, want 4", len(in.Tokens[0]))
	}
}
