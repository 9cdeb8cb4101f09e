package diffugrpo

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/algos"
)

// On a block model (blocks of 2) by hand: every prompt token but <bos>
// masked (p_mask_prompt 1) in the context both copies share, the masked
// copy's answer all <mask> (each block's first decoding step), scored up to
// the first <eos>.
func TestBlockMasksByHand(t *testing.T) {
	const M = 1
	samples := []algos.Sample{{Prompt: []int{2, 7}, Completion: []int{5, 3, 3, 3}}}
	in, err := Masker{PMaskPrompt: 1, Tok: tok, BlockSize: 2}.Inputs(samples, 0, 1, nil, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, M, 5, 3, 3, 3, 2, M, M, M, M, M}; !reflect.DeepEqual(in.IDs, want) {
		t.Fatalf("ids %v, want %v", in.IDs, want)
	}
	if want := []int{-1, -1, -1, -1, -1, -1, -1, -1, 5, 3, 3, 3}; !reflect.DeepEqual(in.Targets, want) {
		t.Fatalf("targets %v, want %v", in.Targets, want)
	}
	want := [][]algos.Estimate{{{Rows: []int{8}, W: []float64{1}}, {Rows: []int{9}, W: []float64{1}}}}
	if !reflect.DeepEqual(in.Tokens, want) || in.Blocks == nil || !reflect.DeepEqual(in.Blocks.Block, []int{-1, -1, 0, 0, 1, 1, -1, -1, 0, 0, 1, 1}) {
		t.Fatalf("tokens %v blocks %+v", in.Tokens, in.Blocks)
	}
}
