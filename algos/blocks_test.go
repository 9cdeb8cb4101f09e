package algos

import (
	"reflect"
	"testing"
)

// SideBySide worked by hand: completions of 4 in blocks of 2, prompts of 2
// and 1 left-padded to P = 2 (so the sampler's RoPE positions are unshifted),
// an estimator that masked the prompt's second token of row 0 and answer
// positions 1 and 2 of row 0, 0 and 3 of row 1, scoring them.
func TestSideBySideByHand(t *testing.T) {
	const M, PAD = 1, 0
	samples := []Sample{{Prompt: []int{2, 7}, Completion: []int{4, 5, 6, 3}}, {Prompt: []int{2}, Completion: []int{8, 9, 10, 11}}}
	in := &Inputs{B: 2, L: 6,
		IDs:     []int{2, M, 4, M, M, 3 /**/, PAD, 2, M, 9, 10, M},
		Valid:   []bool{true, true, true, true, true, true, false, true, true, true, true, true},
		Targets: []int{-1, -1, -1, 5, 6, -1, -1, -1, 8, -1, -1, 11},
		Tokens:  [][]Estimate{{{Rows: []int{3}, W: []float64{1}}, {Rows: []int{4}, W: []float64{1}}}, {{Rows: []int{8, 11}, W: []float64{0.5, 2}}}},
	}
	out, err := SideBySide(in, samples, func(r int) int { return r }, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	// row 0: clean copy (prompt as masked, clean answer), then masked copy
	wantIDs := []int{2, M, 4, 5, 6, 3, 2, M, 4, M, M, 3,
		PAD, 2, 8, 9, 10, 11, PAD, 2, M, 9, 10, M}
	wantValid := []bool{true, true, true, true, true, true, false, false, true, true, true, true,
		false, true, true, true, true, true, false, false, true, true, true, true}
	wantTargets := []int{-1, -1, -1, -1, -1, -1, -1, -1, -1, 5, 6, -1,
		-1, -1, -1, -1, -1, -1, -1, -1, 8, -1, -1, 11}
	blk := []int{-1, -1, 0, 0, 1, 1}
	pos := []int{0, 1, 2, 3, 4, 5}
	var wantBlock, wantPos []int
	var wantNoisy []bool
	for c := 0; c < 4; c++ {
		wantBlock, wantPos = append(wantBlock, blk...), append(wantPos, pos...)
		for range blk {
			wantNoisy = append(wantNoisy, c%2 == 1)
		}
	}
	if out.B != 2 || out.L != 12 || !reflect.DeepEqual(out.IDs, wantIDs) || !reflect.DeepEqual(out.Valid, wantValid) || !reflect.DeepEqual(out.Targets, wantTargets) {
		t.Fatalf("got %dx%d\nids %v\nvalid %v\ntargets %v", out.B, out.L, out.IDs, out.Valid, out.Targets)
	}
	if !reflect.DeepEqual(out.Blocks.Block, wantBlock) || !reflect.DeepEqual(out.Blocks.Noisy, wantNoisy) || !reflect.DeepEqual(out.Blocks.Pos, wantPos) {
		t.Fatalf("blocks %v noisy %v pos %v", out.Blocks.Block, out.Blocks.Noisy, out.Blocks.Pos)
	}
	wantTokens := [][]Estimate{{{Rows: []int{9}, W: []float64{1}}, {Rows: []int{10}, W: []float64{1}}}, {{Rows: []int{20, 23}, W: []float64{0.5, 2}}}}
	if !reflect.DeepEqual(out.Tokens, wantTokens) {
		t.Fatalf("tokens %v", out.Tokens)
	}
	// a prompt of 3 with blocks of 2: one pad position, so positions shift
	// by one as the sampler's (it pads the prompt to 4)
	in3 := &Inputs{B: 1, L: 5, IDs: []int{2, 7, 7, M, M}, Targets: []int{-1, -1, -1, 4, 5}, Tokens: [][]Estimate{{}}}
	out3, err := SideBySide(in3, []Sample{{Prompt: []int{2, 7, 7}, Completion: []int{4, 5}}}, func(int) int { return 0 }, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 4, 5, 1, 2, 3, 4, 5}; !reflect.DeepEqual(out3.Blocks.Pos, want) {
		t.Fatalf("positions %v, want %v", out3.Blocks.Pos, want)
	}
	if want := []int{-2, -1, -1, 0, 0, -2, -1, -1, 0, 0}; !reflect.DeepEqual(out3.Blocks.Block, want) {
		t.Fatalf("blocks %v, want %v", out3.Blocks.Block, want)
	}
	// a row that scores a prompt position is refused
	in3.Targets[1] = 7
	if _, err := SideBySide(in3, []Sample{{Prompt: []int{2, 7, 7}, Completion: []int{4, 5}}}, func(int) int { return 0 }, 3, 2); err == nil {
		t.Fatal("a scored prompt position passed")
	}
}
