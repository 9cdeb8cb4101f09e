package diffugrpo

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/algos"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

func TestMasks(t *testing.T) {
	prompt := []int{2}
	for i := 0; i < 40; i++ {
		prompt = append(prompt, 10+i%20)
	}
	samples := []algos.Sample{{Prompt: prompt, Completion: []int{5, 6, 3, 3}}, {Prompt: prompt[:5], Completion: []int{7, 8, 9, 4}}}
	m := Masker{PMaskPrompt: 0.15, Tok: tok}
	in, err := m.Inputs(samples, 0, 4, nil, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	P, L := 41, 45
	if in.B != 2 || in.L != L {
		t.Fatalf("shape %dx%d", in.B, in.L)
	}
	// Completion fully masked with targets; counted up to and including the first <eos>.
	for i, s := range samples {
		for k, want := range s.Completion {
			r := i*L + P + k
			if in.IDs[r] != tok.Mask || in.Targets[r] != want {
				t.Fatalf("completion %d pos %d: id %d target %d", i, k, in.IDs[r], in.Targets[r])
			}
		}
	}
	if len(in.Tokens[0]) != 3 || len(in.Tokens[1]) != 4 {
		t.Fatalf("counted %d %d, want 3 and 4", len(in.Tokens[0]), len(in.Tokens[1]))
	}
	// <bos> and padding never masked; the short prompt is left-padded.
	if in.IDs[P-41] != tok.BOS || in.IDs[L+P-5] != tok.BOS || in.IDs[L] != tok.Pad || in.Valid[L] || !in.Valid[L+P-5] {
		t.Fatal("bos or padding changed")
	}
	// Prompt tokens are masked at about 15% over many draws.
	masked, total := 0, 0
	for seed := uint64(0); seed < 200; seed++ {
		in, _ := m.Inputs(samples[:1], 0, 1, nil, rand.New(rand.NewPCG(seed, 7)))
		for l := 1; l < P; l++ {
			total++
			if in.IDs[l] == tok.Mask {
				masked++
			}
		}
	}
	if f := float64(masked) / float64(total); math.Abs(f-0.15) > 0.01 {
		t.Fatalf("prompt mask rate %v, want 0.15", f)
	}
	// Same seed, same mask: the policy, old and reference see one mask.
	a, _ := m.Inputs(samples, 1, 4, nil, rand.New(rand.NewPCG(5, 5)))
	b, _ := m.Inputs(samples, 1, 4, nil, rand.New(rand.NewPCG(5, 5)))
	c, _ := m.Inputs(samples, 2, 4, nil, rand.New(rand.NewPCG(5, 6)))
	if !reflect.DeepEqual(a.IDs, b.IDs) || reflect.DeepEqual(a.IDs, c.IDs) {
		t.Fatal("masks not determined by the seed")
	}
}
