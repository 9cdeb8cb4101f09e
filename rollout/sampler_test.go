package rollout

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestTransferSchedule(t *testing.T) {
	for _, c := range []struct {
		m, s int
		want []int
	}{{10, 4, []int{3, 3, 2, 2}}, {4, 4, []int{1, 1, 1, 1}}, {3, 5, []int{1, 1, 1, 0, 0}}, {16, 1, []int{16}}} {
		if got := TransferSchedule(c.m, c.s); !reflect.DeepEqual(got, c.want) {
			t.Errorf("TransferSchedule(%d, %d) = %v, want %v", c.m, c.s, got, c.want)
		}
	}
}

// scriptedModel gives, at every masked position p (relative to the first
// completion position), a logit of conf[p] for token tok[p] and 0 elsewhere,
// so the sampler's choices can be worked out by hand.
type scriptedModel struct {
	vocab, promptLen int
	tok              []int
	conf             []float32
	calls            int
}

func (m *scriptedModel) VocabSize() int { return m.vocab }
func (m *scriptedModel) Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error) {
	m.calls++
	out = make([]float32, B*L*m.vocab)
	for b := 0; b < B; b++ {
		for l := m.promptLen; l < L; l++ {
			p := l - m.promptLen
			out[(b*L+l)*m.vocab+m.tok[p]] = m.conf[p]
		}
	}
	return out, nil
}

const (
	mask = 1
	eos  = 3
)

func opts(gen, steps, block int) Options {
	return Options{GenLength: gen, Steps: steps, Block: block, Remasking: "low_confidence", MaskID: mask, EOSID: eos}
}

// Low-confidence remasking commits the most confident proposals first: with
// confidences 1, 5, 3, 4 and two tokens a step, positions 1 and 3 go at step
// 0, then 2 and 0 at step 1.
func TestLowConfidenceOrder(t *testing.T) {
	m := &scriptedModel{vocab: 8, promptLen: 2, tok: []int{4, 5, 6, 7}, conf: []float32{1, 5, 3, 4}}
	res, err := Generate(m, [][]int{{2, 4}}, opts(4, 2, 0), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Tokens[0], []int{4, 5, 6, 7}) || !reflect.DeepEqual(res.Trace[0], []int{1, 0, 1, 0}) || res.NFE != 2 {
		t.Fatalf("tokens %v trace %v nfe %d", res.Tokens[0], res.Trace[0], res.NFE)
	}
}

// Blocks are decoded left to right: the most confident position of block 2
// waits until block 1 is done.
func TestBlocksLeftToRight(t *testing.T) {
	m := &scriptedModel{vocab: 8, promptLen: 1, tok: []int{4, 5, 6, 7}, conf: []float32{1, 2, 9, 8}}
	res, err := Generate(m, [][]int{{2}}, opts(4, 4, 2), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Trace[0], []int{1, 0, 2, 3}) || res.NFE != 4 {
		t.Fatalf("trace %v nfe %d", res.Trace[0], res.NFE)
	}
}

// Everything after the first <eos> becomes <eos>.
func TestEOSRule(t *testing.T) {
	m := &scriptedModel{vocab: 8, promptLen: 1, tok: []int{4, eos, 6, 7}, conf: []float32{1, 1, 1, 1}}
	res, err := Generate(m, [][]int{{2}}, opts(4, 1, 0), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Tokens[0], []int{4, eos, eos, eos}) {
		t.Fatalf("tokens %v", res.Tokens[0])
	}
}

func TestProposalNeverMaskAndGreedy(t *testing.T) {
	row := []float32{0, 10, 2, 1}
	if got := propose(row, 0, 1, nil); got != 2 {
		t.Fatalf("greedy proposal %d, want 2 (1 is the mask)", got)
	}
	// At a high temperature the proposal follows softmax(logits/T) ~ uniform-ish;
	// at T = 1 it follows softmax(logits): check the frequency of token 2 vs 3.
	rng := rand.New(rand.NewPCG(3, 3))
	n2 := 0
	const n = 20000
	for i := 0; i < n; i++ {
		if propose([]float32{0, 0, float32(math.Log(3)), 0}, 1, 1, rng) == 2 {
			n2++
		}
	}
	// p(2) = 3/(1+3+1) = 0.6 over tokens {0, 2, 3}
	if f := float64(n2) / n; math.Abs(f-0.6) > 0.02 {
		t.Fatalf("Gumbel-max frequency %v, want 0.6", f)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{opts(0, 1, 0), opts(4, 3, 2), opts(4, 4, 3), {GenLength: 4, Steps: 4, Remasking: "oops"}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
