package rollout

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/model"
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

func TestConfidenceByHand(t *testing.T) {
	row := []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.2))}
	if c := confidence(row, 1, "prob"); math.Abs(c-0.3) > 1e-6 {
		t.Errorf("prob %v", c)
	}
	if c := confidence(row, 2, "margin"); math.Abs(c-0.2) > 1e-6 {
		t.Errorf("margin %v, want p1-p2 = 0.2 whatever the proposal", c)
	}
	want := 0.5*math.Log(0.5) + 0.3*math.Log(0.3) + 0.2*math.Log(0.2)
	if c := confidence(row, 0, "neg_entropy"); math.Abs(c-want) > 1e-6 || c > 0 {
		t.Errorf("neg_entropy %v, want %v", c, want)
	}
	// A peaked distribution is more confident than a flat one on every scale.
	flat := []float32{0, 0, 0}
	peaked := []float32{5, 0, 0}
	for _, k := range []string{"prob", "margin", "neg_entropy"} {
		if confidence(peaked, 0, k) <= confidence(flat, 0, k) {
			t.Errorf("%s: peaked not above flat", k)
		}
	}
}

// Threshold decoding commits every proposal at or above the threshold, and at
// least the best one when none is.
func TestThresholdCommits(t *testing.T) {
	// softmax over 8 tokens with one logit c and the rest 0: p = e^c/(e^c+7).
	conf := []float32{10, 1, 9, 0.5} // p ~ 0.9997, 0.28, 0.999, 0.19
	m := &scriptedModel{vocab: 8, promptLen: 1, tok: []int{4, 5, 6, 7}, conf: conf}
	o := opts(4, 4, 0)
	o.Threshold = 0.9
	res, err := Generate(m, [][]int{{2}}, o, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// step 0: positions 0 and 2; step 1: position 1 (the best left); step 2: position 3.
	if !reflect.DeepEqual(res.Trace[0], []int{0, 1, 0, 2}) || res.NFE != 3 {
		t.Fatalf("trace %v nfe %d", res.Trace[0], res.NFE)
	}
}

func randomModel(t *testing.T, layers int) *model.Inference {
	t.Helper()
	p, err := model.New(model.Config{Vocab: 12, D: 16, Layers: layers, Heads: 2, FF: 24, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 9)
	if err != nil {
		t.Fatal(err)
	}
	// Larger weights than init, so that the logits are far from ties.
	rng := rand.New(rand.NewPCG(4, 4))
	for _, tn := range p.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	return model.NewInference(p)
}

// With one layer the keys and values of a position depend on its own token
// only, so Fast-dLLM's caches are exact: every cache mode must give the
// uncached output.
func TestCacheExactForOneLayer(t *testing.T) {
	m := randomModel(t, 1)
	prompts := [][]int{{2, 5, 6, 7}, {2, 8, 9, 10}}
	base := opts(8, 8, 4)
	want, err := Generate(m, prompts, base, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"prefix", "dual"} {
		o := base
		o.Cache = c
		got, err := Generate(m, prompts, o, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Tokens, want.Tokens) || !reflect.DeepEqual(got.Trace, want.Trace) {
			t.Fatalf("cache %s: %v %v, uncached %v %v", c, got.Tokens, got.Trace, want.Tokens, want.Trace)
		}
	}
}

// Left padding does not change a completion: a prompt alone and the same
// prompt beside a longer one decode alike (greedy).
func TestRaggedBatchMatchesAlone(t *testing.T) {
	m := randomModel(t, 2)
	short, long := []int{2, 5}, []int{2, 8, 9, 10, 11}
	o := opts(6, 6, 0)
	alone, err := Generate(m, [][]int{short}, o, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	both, err := Generate(m, [][]int{long, short}, o, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(both.Tokens[1], alone.Tokens[0]) || !reflect.DeepEqual(both.Trace[1], alone.Trace[0]) {
		t.Fatalf("in a batch %v %v, alone %v %v", both.Tokens[1], both.Trace[1], alone.Tokens[0], alone.Trace[0])
	}
}

// Random remasking ignores the model's confidence: over seeds, the first
// committed position is spread over the block, while low_confidence always
// starts at the most confident one.
func TestRandomRemasking(t *testing.T) {
	m := &scriptedModel{vocab: 8, promptLen: 1, tok: []int{4, 5, 6, 7}, conf: []float32{1, 9, 2, 3}}
	first := map[int]int{}
	for seed := uint64(0); seed < 200; seed++ {
		o := opts(4, 4, 0)
		o.Remasking = "random"
		res, err := Generate(m, [][]int{{2}}, o, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Tokens[0], []int{4, 5, 6, 7}) {
			t.Fatalf("tokens %v", res.Tokens[0])
		}
		for pos, s := range res.Trace[0] {
			if s == 0 {
				first[pos]++
			}
		}
	}
	for pos := 0; pos < 4; pos++ {
		if first[pos] < 30 {
			t.Fatalf("position %d committed first %d times of 200: not uniform (%v)", pos, first[pos], first)
		}
	}
}

// A revision pass replaces a committed token when the model now gives another
// token enough probability at its position.
func TestRevisionPass(t *testing.T) {
	// The scripted model proposes 4 5 6 7; a second model that is sure
	// position 2 should be 9 revises it.
	m := &scriptedModel{vocab: 10, promptLen: 1, tok: []int{4, 5, 6, 7}, conf: []float32{9, 9, 9, 9}}
	o := opts(4, 4, 0)
	res, err := Generate(m, [][]int{{2}}, o, rand.New(rand.NewPCG(1, 1)))
	if err != nil || res.Revised != 0 {
		t.Fatal(err)
	}
	rev := &revisingModel{scriptedModel: m, pos: 2, tok: 9}
	o.Revise, o.ReviseThreshold = 2, 0.9
	res, err = Generate(rev, [][]int{{2}}, o, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Tokens[0], []int{4, 5, 9, 7}) || res.Revised != 1 || res.NFE != 4+2 {
		t.Fatalf("tokens %v revised %d nfe %d", res.Tokens[0], res.Revised, res.NFE)
	}
}

// revisingModel answers like scriptedModel while masks remain, then, once
// the completion is full, insists on tok at pos.
type revisingModel struct {
	*scriptedModel
	pos, tok int
}

func (r *revisingModel) Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error) {
	out, _ = r.scriptedModel.Forward(ids, B, L, valid, out)
	full := true
	for _, id := range ids {
		full = full && id != mask
	}
	if full {
		row := out[(r.promptLen+r.pos)*r.vocab : (r.promptLen+r.pos+1)*r.vocab]
		clear(row)
		row[r.tok] = 20
	}
	return out, nil
}

// The entropy of a committed token's distribution: with vocab 8 and the mask
// excluded, a logit c on one token and 0 on six others gives
// p = e^c / (e^c + 6), q = 1 / (e^c + 6), H = -p ln p - 6 q ln q.
func TestCommitEntropy(t *testing.T) {
	conf := []float32{0, 2, 5, 1}
	m := &scriptedModel{vocab: 8, promptLen: 2, tok: []int{4, 5, 6, 7}, conf: conf}
	res, err := Generate(m, [][]int{{2, 4}}, opts(4, 4, 0), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for _, c := range conf {
		z := math.Exp(float64(c)) + 6
		p, q := math.Exp(float64(c))/z, 1/z
		want += (-p*math.Log(p) - 6*q*math.Log(q)) / 4
	}
	if math.Abs(res.Entropy[0]-want) > 1e-6 {
		t.Errorf("entropy %v, want %v", res.Entropy[0], want)
	}
	if h := entropy([]float32{3, 3, 3, 3, 3}, 1); math.Abs(h-math.Log(4)) > 1e-12 {
		t.Errorf("uniform over 4 (mask excluded): %v, want ln 4", h)
	}
}

// cachedOnly hides an Inference's ForwardSelect, so the sampler takes the
// full rows.
type cachedOnly struct{ *model.Inference }

func (c cachedOnly) ForwardSelect() {}

// Asking the model for the masked rows only changes no completion or trace:
// every strategy and cache mode, on a random tiny model and a batch of
// prompts of different lengths (padding).
func TestSelectedRowsMatchFullRows(t *testing.T) {
	p, err := model.New(model.Config{Vocab: 24, D: 32, Layers: 2, Heads: 4, FF: 48, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 3)
	if err != nil {
		t.Fatal(err)
	}
	inf := model.NewInference(p)
	var full Model = cachedOnly{model.NewInference(p)}
	if _, ok := full.(SelectModel); ok {
		t.Fatal("cachedOnly still selects")
	}
	var prompts [][]int
	for i := 0; i < 5; i++ {
		pr := []int{2}
		for j := 0; j < 3+i%3; j++ {
			pr = append(pr, 4+(i*5+j*7)%20)
		}
		prompts = append(prompts, pr)
	}
	for _, o := range []Options{
		opts(8, 8, 0), opts(8, 4, 4),
		{GenLength: 8, Steps: 8, Block: 4, Remasking: "low_confidence", Cache: "prefix"},
		{GenLength: 8, Steps: 8, Block: 4, Remasking: "low_confidence", Cache: "dual"},
		{GenLength: 8, Steps: 8, Remasking: "low_confidence", Threshold: 0.05, Temperature: 1},
		{GenLength: 8, Steps: 8, Block: 2, Remasking: "random", Confidence: "margin"},
	} {
		o.MaskID, o.EOSID = mask, eos
		a, err := Generate(inf, prompts, o, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Generate(full, prompts, o, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Tokens, b.Tokens) || !reflect.DeepEqual(a.Trace, b.Trace) || a.NFE != b.NFE {
			t.Errorf("%+v: selected rows give %v (trace %v), full rows %v (trace %v)", o, a.Tokens, a.Trace, b.Tokens, b.Trace)
		}
		for i := range a.Entropy {
			if math.Abs(a.Entropy[i]-b.Entropy[i]) > 1e-5 {
				t.Errorf("%+v: entropy %g vs %g", o, a.Entropy[i], b.Entropy[i])
			}
		}
	}
}
