package tracerl

import (
	"reflect"
	"testing"

	"github.com/remask/remask/algos"
)

// BlockStates by hand: blocks of 4 with the sampler's steps (global, block
// 1's after block 0's). Shrink 1: row j holds each block's j-th step; shrink
// 2 merges steps within each block (dLLM-RL's collapse_k_unique per block).
func TestBlockStatesByHand(t *testing.T) {
	s := []algos.Sample{{Prompt: []int{2}, Completion: []int{5, 6, 7, 8, 9, 10, 11, 3}, Trace: []int{0, 1, 1, 2, 3, 5, 4, 3}}}
	got, err := BlockStates(s, 1, 0, tok.EOS, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{
		{Sample: 0, Step: 0, Masked: []int{0, 1, 2, 3, 4, 5, 6, 7}, Scored: []int{0, 4, 7}},
		{Sample: 0, Step: 1, Masked: []int{1, 2, 3, 5, 6}, Scored: []int{1, 2, 6}},
		{Sample: 0, Step: 2, Masked: []int{3, 5}, Scored: []int{3, 5}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shrink 1: %+v, want %+v", got, want)
	}
	got, err = BlockStates(s, 2, 0, tok.EOS, 4)
	if err != nil {
		t.Fatal(err)
	}
	want = []State{
		{Sample: 0, Step: 0, Masked: []int{0, 1, 2, 3, 4, 5, 6, 7}, Scored: []int{0, 1, 2, 4, 6, 7}},
		{Sample: 0, Step: 1, Masked: []int{3, 5}, Scored: []int{3, 5}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shrink 2: %+v, want %+v", got, want)
	}
	// a block with fewer steps is clean in the later rows; nothing scored
	// after <eos> (position 5 here)
	s[0].Completion = []int{5, 6, 7, 8, 9, 3, 3, 3}
	s[0].Trace = []int{0, 0, 0, 0, 1, 2, 3, 4}
	got, _ = BlockStates(s, 1, 0, tok.EOS, 4)
	want = []State{
		{Sample: 0, Step: 0, Masked: []int{0, 1, 2, 3, 4, 5, 6, 7}, Scored: []int{0, 1, 2, 3, 4}},
		{Sample: 0, Step: 1, Masked: []int{5, 6, 7}, Scored: []int{5}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("eos: %+v, want %+v", got, want)
	}
	// side by side: row j's masked copy masks exactly its state's positions
	in, err := Inputs(s, got, tok, 4)
	if err != nil {
		t.Fatal(err)
	}
	const L = 18 // 2 * (prompt 1 + 8)
	for r, st := range got {
		for k := 0; k < 8; k++ {
			masked := in.IDs[r*L+L/2+1+k] == tok.Mask
			if want := contains(st.Masked, k); masked != want {
				t.Fatalf("row %d position %d masked %v", r, k, masked)
			}
			if in.IDs[r*L+1+k] == tok.Mask {
				t.Fatalf("row %d clean copy masked at %d", r, k)
			}
		}
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
