package unigrpo

import (
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

func TestStructuredRatios(t *testing.T) {
	m := Masker{T: 1000, Tok: tok}
	// r = 0.3: t1 = 300, t_n = floor(n/(mu-1) (1000 - 300) + 300) for n = 0, 1, 2.
	for n, want := range []float64{0.3, 0.65, 1} {
		if got := m.Ratio(0.3, n, 3); got != want {
			t.Errorf("iteration %d: ratio %v, want %v", n, got, want)
		}
	}
	if got := m.Ratio(0.1234, 0, 1); got != 0.123 {
		t.Errorf("mu 1: %v", got)
	}
}

func TestMasksAndCounting(t *testing.T) {
	m := Masker{T: 1000, Tok: tok}
	s := []algos.Sample{{Prompt: []int{2, 9, 9}, Completion: []int{5, 6, 7, 8, 3, 3, 3, 3, 3, 3}}}
	// batch stream gives r; with mu 2 the last iteration masks everything.
	in, err := m.Inputs(s, 1, 2, rand.New(rand.NewPCG(1, 1)), rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 10; k++ {
		if in.IDs[3+k] != tok.Mask {
			t.Fatalf("ratio 1 left position %d unmasked", k)
		}
	}
	if len(in.Tokens[0]) != 5 { // up to and including the first <eos>
		t.Fatalf("counted %d, want 5", len(in.Tokens[0]))
	}
	// The prompt is never masked; at ratio r the count is round(r*10), at least one.
	for seed := uint64(0); seed < 50; seed++ {
		batch := rand.New(rand.NewPCG(seed, 9))
		r := rand.New(rand.NewPCG(seed, 9)).Float64()
		in, _ := m.Inputs(s, 0, 4, batch, rand.New(rand.NewPCG(seed, 1)))
		n := 0
		for k := 0; k < 10; k++ {
			if in.IDs[3+k] == tok.Mask {
				n++
			}
		}
		want := max(1, int(m.Ratio(r, 0, 4)*10+0.5))
		if n != want || in.IDs[1] != 9 || in.IDs[2] != 9 {
			t.Fatalf("seed %d: %d masked, want %d", seed, n, want)
		}
		for _, e := range in.Tokens[0] {
			if in.IDs[e.Rows[0]] != tok.Mask {
				t.Fatal("an unmasked token is counted")
			}
		}
	}
}

// With TraceMasks the masked tokens are the ones the sampler committed last,
// so the input is a state the sampler passed through; ties (tokens committed
// at one step) are broken at random.
func TestTraceMasks(t *testing.T) {
	m := Masker{T: 1000, Tok: tok, TraceMasks: true}
	s := []algos.Sample{{Prompt: []int{2, 9}, Completion: []int{5, 6, 7, 8, 4, 4}, Trace: []int{4, 0, 5, 2, 1, 3}}}
	// mu 3, iteration 0: ratio t1 = floor(r T)/T; pick a batch seed whose r gives 3 of 6 masked
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 7)).Float64()
		k := max(1, int(m.Ratio(r, 0, 3)*6+0.5))
		in, err := m.Inputs(s, 0, 3, rand.New(rand.NewPCG(seed, 7)), rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		// commit steps in decreasing order: positions 2 (5), 0 (4), 5 (3), 3 (2), 4 (1), 1 (0)
		want := map[int]bool{}
		for _, pos := range []int{2, 0, 5, 3, 4, 1}[:k] {
			want[pos] = true
		}
		for pos := 0; pos < 6; pos++ {
			if masked := in.IDs[2+pos] == tok.Mask; masked != want[pos] {
				t.Fatalf("seed %d, k %d: position %d masked %v", seed, k, pos, masked)
			}
		}
	}
	// ties: two tokens committed together at the last step are each masked alone half the time
	tied := []algos.Sample{{Prompt: []int{2}, Completion: []int{5, 6, 7, 8}, Trace: []int{1, 1, 0, 0}}}
	first := 0
	for seed := uint64(0); seed < 400; seed++ {
		in, _ := Masker{T: 4, Tok: tok, TraceMasks: true}.Inputs(tied, 0, 1, constRand(0.25), rand.New(rand.NewPCG(seed, 3)))
		if in.IDs[1] == tok.Mask {
			first++
		} else if in.IDs[2] != tok.Mask || in.IDs[3] == tok.Mask || in.IDs[4] == tok.Mask {
			t.Fatalf("seed %d: masked %v", seed, in.IDs)
		}
	}
	if first < 160 || first > 240 {
		t.Errorf("tie broken toward the first token %d of 400 times", first)
	}
}

// constRand is a stream whose Float64 is always x (a PCG cannot be told that).
func constRand(x float64) *rand.Rand { return rand.New(constSource(uint64(x * (1 << 53)))) }

type constSource uint64

func (c constSource) Uint64() uint64 { return uint64(c) }
