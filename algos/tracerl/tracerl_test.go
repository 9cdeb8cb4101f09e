package tracerl

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func TestShrinkByHand(t *testing.T) {
	for _, c := range []struct {
		trace []int
		k     int
		want  []int
	}{
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, []int{2, 2, 2, 5, 5, 5, 8, 8, 8, 9}},
		// distinct steps 0 2 5 7 9: runs {0,2} -> 2, {5,7} -> 7, {9} -> 9
		{[]int{5, 0, 5, 2, 9, 2, 7}, 2, []int{7, 2, 7, 2, 9, 2, 7}},
		{[]int{5, 0, 5, 2}, 1, []int{5, 0, 5, 2}},
		{[]int{3, 1, 2}, 8, []int{3, 3, 3}},
	} {
		got, err := Shrink(c.trace, c.k)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Shrink(%v, %d) = %v %v, want %v", c.trace, c.k, got, err, c.want)
		}
	}
	if _, err := Shrink([]int{0}, 0); err == nil {
		t.Fatal("shrink 0 accepted")
	}
}

func TestStatesByHand(t *testing.T) {
	// completion 5 6 <eos> <eos>, committed at steps 2 0 1 3: scored up to
	// and including the first <eos> (position 2).
	s := []algos.Sample{{Prompt: []int{2, 9}, Completion: []int{5, 6, 3, 3}, Trace: []int{2, 0, 1, 3}}}
	got, err := States(s, 1, 0, tok.EOS)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{
		{Sample: 0, Step: 0, Masked: []int{0, 1, 2, 3}, Scored: []int{1}},
		{Sample: 0, Step: 1, Masked: []int{0, 2, 3}, Scored: []int{2}},
		{Sample: 0, Step: 2, Masked: []int{0, 3}, Scored: []int{0}},
		// step 3 decides only the padding <eos>: no state
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("states %+v\nwant %+v", got, want)
	}
	// post_num 1 scores one padding token too
	got, _ = States(s, 1, 1, tok.EOS)
	if len(got) != 4 || !reflect.DeepEqual(got[3], State{Sample: 0, Step: 3, Masked: []int{3}, Scored: []int{3}}) {
		t.Fatalf("post_num 1: %+v", got)
	}
	// shrink 2: steps {0,1} -> 1, {2,3} -> 3; both tokens of the first run
	// are scored in the state before it (all masked)
	got, _ = States(s, 2, 0, tok.EOS)
	want = []State{
		{Sample: 0, Step: 1, Masked: []int{0, 1, 2, 3}, Scored: []int{1, 2}},
		{Sample: 0, Step: 3, Masked: []int{0, 3}, Scored: []int{0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shrink 2: %+v\nwant %+v", got, want)
	}
	if _, err := States([]algos.Sample{{Prompt: []int{2}, Completion: []int{5, 6}}}, 1, 0, tok.EOS); err == nil {
		t.Fatal("a completion without a trace accepted")
	}
	if _, err := States(s, 1, -1, tok.EOS); err == nil {
		t.Fatal("negative post_num accepted")
	}
}

func TestInputsByHand(t *testing.T) {
	s := []algos.Sample{
		{Prompt: []int{2, 9}, Completion: []int{5, 6, 3}, Trace: []int{1, 0, 2}},
		{Prompt: []int{2, 8, 7}, Completion: []int{4, 4, 4}, Trace: []int{0, 0, 1}},
	}
	st, err := States(s, 1, 0, tok.EOS)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 5 {
		t.Fatalf("%d states", len(st))
	}
	in, _ := Inputs(s, st, tok, 0)
	const L = 6 // prompts left-padded to 3
	if in.B != 5 || in.L != L {
		t.Fatalf("shape %dx%d", in.B, in.L)
	}
	m := tok.Mask
	wantIDs := []int{
		0, 2, 9, m, m, m, // sample 0, step 0: position 1 scored
		0, 2, 9, m, 6, m, // step 1: position 0
		0, 2, 9, 5, 6, m, // step 2: <eos>
		2, 8, 7, m, m, m, // sample 1, step 0: positions 0 and 1
		2, 8, 7, 4, 4, m, // step 1: position 2
	}
	if !reflect.DeepEqual(in.IDs, wantIDs) {
		t.Fatalf("ids %v\nwant %v", in.IDs, wantIDs)
	}
	if in.Valid == nil || in.Valid[0] || !in.Valid[1] || in.Valid[12] || !in.Valid[18] {
		t.Fatalf("valid %v", in.Valid)
	}
	wantRows := [][]int{{4}, {L + 3}, {2*L + 5}, {3*L + 3, 3*L + 4}, {4*L + 5}}
	for r, toks := range in.Tokens {
		var rows []int
		for _, e := range toks {
			if len(e.Rows) != 1 || e.W[0] != 1 {
				t.Fatalf("estimate %+v", e)
			}
			rows = append(rows, e.Rows[0])
		}
		if !reflect.DeepEqual(rows, wantRows[r]) {
			t.Fatalf("row %d scores %v, want %v", r, rows, wantRows[r])
		}
	}
	targets := 0
	for i, tg := range in.Targets {
		if tg >= 0 {
			targets++
			if in.IDs[i] != m {
				t.Fatalf("target at unmasked position %d", i)
			}
		}
	}
	if targets != 6 || in.Targets[4] != 6 || in.Targets[3*L+4] != 4 {
		t.Fatalf("targets %v", in.Targets)
	}
	// a chunk keeps the batch's row length
	lo, hi := Chunk(len(st), 1, 2)
	if lo != 2 || hi != 5 {
		t.Fatalf("chunk %d..%d", lo, hi)
	}
	in, _ = Inputs(s, st[lo:hi], tok, 0)
	if in.B != 3 || in.L != L || !reflect.DeepEqual(in.IDs, wantIDs[2*L:]) || in.Tokens[1][1].Rows[0] != L+4 {
		t.Fatalf("chunk layout %dx%d ids %v tokens %v", in.B, in.L, in.IDs, in.Tokens)
	}
}

func TestChunkCoversEveryRowOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 64} {
		for _, mu := range []int{1, 2, 3, 8} {
			next := 0
			for k := 0; k < mu; k++ {
				lo, hi := Chunk(n, k, mu)
				if lo != next || hi < lo || hi-lo > n/mu+1 {
					t.Fatalf("n %d mu %d chunk %d: %d..%d", n, mu, k, lo, hi)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n %d mu %d ends at %d", n, mu, next)
			}
		}
	}
}

func TestKeptByHand(t *testing.T) {
	// means 0.5, 0.75, 1, 0.025
	r := []float64{1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0.1, 0, 0, 0}
	keep, err := Kept(r, 4, 0.2, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keep, []bool{true, true, false, false}) {
		t.Fatalf("keep %v", keep)
	}
	if keep, _ := Kept(r, 4, 0, 1); !reflect.DeepEqual(keep, []bool{true, true, true, true}) {
		t.Fatalf("keep all: %v", keep)
	}
	if _, err := Kept(r, 5, 0, 1); err == nil {
		t.Fatal("ragged groups accepted")
	}
}

func one(r int) algos.Estimate { return algos.Estimate{Rows: []int{r}, W: []float64{1}} }

func TestLossByHand(t *testing.T) {
	// Row 0 (A = 1): token a at ratio 1.5 is clipped at 1.2, token b at ratio 1.
	// Row 1 (A = -0.5): ratio 0.5 < 0.8, the min takes 0.8 A, clipped.
	in := &algos.Inputs{Tokens: [][]algos.Estimate{{one(0), one(1)}, {one(2)}}}
	old := [][]float64{{-1, -2}, {-0.5}}
	lp := []float64{-1 + math.Log(1.5), -2, -0.5 + math.Log(0.5)}
	adv := []float64{1, -0.5}
	p := Params{EpsLow: 0.2, EpsHigh: 0.2, Beta: 0.01}
	loss, grad, st, err := Loss(in, lp, old, adv, p)
	if err != nil {
		t.Fatal(err)
	}
	klA := 1/1.5 + math.Log(1.5) - 1 // e^d - d - 1 at d = -ln 1.5
	kl2 := 2 - math.Log(2) - 1       // at d = ln 2
	want := 0.5*(-(1.2+1)/2+0.01*klA) + 0.5*(0.4+0.01*kl2)
	if !near(loss, want) {
		t.Fatalf("loss %v, want %v", loss, want)
	}
	wantGrad := []float64{0.5 * 0.01 * (1 - 1/1.5), 0.5 * 0.5 * -1, 0.5 * 0.01 * (1 - 2)}
	for i := range wantGrad {
		if !near(grad[i], wantGrad[i]) {
			t.Fatalf("grad %v, want %v", grad, wantGrad)
		}
	}
	if st.Tokens != 3 || !near(st.ClipFrac, 2.0/3) || !near(st.RatioMax, 1.5) || !near(st.RatioMin, 0.5) {
		t.Fatalf("stats %+v", st)
	}
	// token aggregation: both terms averaged over the 3 tokens
	p.Agg = "token"
	loss, grad, _, err = Loss(in, lp, old, adv, p)
	if err != nil {
		t.Fatal(err)
	}
	want = (-1.2 - 1 + 0.4 + 0.01*(klA+kl2)) / 3
	if !near(loss, want) {
		t.Fatalf("token loss %v, want %v", loss, want)
	}
	wantGrad = []float64{0.01 * (1 - 1/1.5) / 3, -1.0 / 3, 0.01 * (1 - 2) / 3}
	for i := range wantGrad {
		if !near(grad[i], wantGrad[i]) {
			t.Fatalf("token grad %v, want %v", grad, wantGrad)
		}
	}
	if _, _, _, err := Loss(in, lp, old[:1], adv, p); err == nil {
		t.Fatal("mismatched old accepted")
	}
	if _, _, _, err := Loss(in, lp, old, adv, Params{Agg: "group"}); err == nil {
		t.Fatal("unknown aggregation accepted")
	}
}

// With the old policy the policy itself (one update per rollout) every ratio
// is 1, the KL is 0, and the loss is -mean over state rows of A: a
// completion weighs by its number of states.
func TestOneUpdateIsPolicyGradientOverStates(t *testing.T) {
	in := &algos.Inputs{Tokens: [][]algos.Estimate{{one(0), one(1)}, {one(2)}, {one(3)}}}
	lp := []float64{-0.3, -2.1, -0.9, -1.4}
	old := algos.EstimateAll(in, lp)
	adv := []float64{1.5, 1.5, -0.5} // rows 0 and 1 are states of one completion
	loss, grad, st, err := Loss(in, lp, old, adv, Params{EpsLow: 0.2, EpsHigh: 0.2, Beta: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if !near(loss, -(1.5+1.5-0.5)/3) || st.KL != 0 || st.RatioMin != 1 || st.RatioMax != 1 {
		t.Fatalf("loss %v stats %+v", loss, st)
	}
	want := []float64{-1.5 / 6, -1.5 / 6, -1.5 / 3, 0.5 / 3}
	for i := range want {
		if !near(grad[i], want[i]) {
			t.Fatalf("grad %v, want %v", grad, want)
		}
	}
}

// d loss / d lp against finite differences, with clipped and unclipped
// tokens of both signs and the KL.
func TestLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	in := &algos.Inputs{}
	var old [][]float64
	var adv []float64
	nRows := 0
	for r := 0; r < 4; r++ {
		var toks []algos.Estimate
		var o []float64
		for k := 0; k < 1+r; k++ {
			toks = append(toks, one(nRows))
			nRows++
			o = append(o, 0)
		}
		in.Tokens = append(in.Tokens, toks)
		old = append(old, o)
		adv = append(adv, rng.NormFloat64())
	}
	lp := make([]float64, nRows)
	for i := range lp {
		lp[i] = -2 * rng.Float64()
	}
	for r, toks := range in.Tokens {
		for k, e := range toks {
			old[r][k] = lp[e.Rows[0]] + 0.5*rng.NormFloat64()
		}
	}
	for _, agg := range []string{"sequence", "token"} {
		p := Params{EpsLow: 0.2, EpsHigh: 0.28, Beta: 0.05, Agg: agg}
		_, grad, st, err := Loss(in, lp, old, adv, p)
		if err != nil {
			t.Fatal(err)
		}
		if st.ClipFrac == 0 || st.ClipFrac == 1 {
			t.Fatalf("clip fraction %v: the check should cover both branches", st.ClipFrac)
		}
		const h = 1e-6
		for r := range lp {
			o := lp[r]
			lp[r] = o + h
			up, _, _, _ := Loss(in, lp, old, adv, p)
			lp[r] = o - h
			down, _, _, _ := Loss(in, lp, old, adv, p)
			lp[r] = o
			if num := (up - down) / (2 * h); math.Abs(num-grad[r]) > 1e-6 {
				t.Fatalf("%s: row %d: grad %v, finite difference %v", agg, r, grad[r], num)
			}
		}
	}
}

// The state rows are the inputs the sampler really saw: with greedy
// low-confidence decoding and no cache, every scored token is the argmax of
// the model's prediction in its state row, at every step, in blocks.
func TestStatesReplayTheSampler(t *testing.T) {
	const vocab = 12
	p, err := model.New(model.Config{Vocab: vocab, D: 16, Layers: 2, Heads: 2, FF: 24, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 7)
	if err != nil {
		t.Fatal(err)
	}
	inf := model.NewInference(p)
	prompts := [][]int{{2, 5, 6}, {2, 7}}
	o := rollout.Options{GenLength: 8, Steps: 8, Block: 4, Remasking: "low_confidence", MaskID: tok.Mask, EOSID: tok.EOS, PadID: tok.Pad}
	res, err := rollout.Generate(inf, prompts, o, rand.New(rand.NewPCG(1, 1)), rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var samples []algos.Sample
	for b := range prompts {
		// score every position, whatever the random model wrote
		samples = append(samples, algos.Sample{Prompt: prompts[b], Completion: res.Tokens[b], Trace: res.Trace[b]})
	}
	st, err := States(samples, 1, len(res.Tokens[0]), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 16 {
		t.Fatalf("%d states, want one per step and completion", len(st))
	}
	in, err := Inputs(samples, st, tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := inf.Forward(in.IDs, in.B, in.L, in.Valid, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, toks := range in.Tokens {
		for _, e := range toks {
			r := e.Rows[0]
			row := logits[r*vocab : (r+1)*vocab]
			best := -1
			for v := range row {
				if v != tok.Mask && (best < 0 || row[v] > row[best]) {
					best = v
				}
			}
			if best != in.Targets[r] {
				t.Fatalf("position %d: the state's argmax is %d, the sampler committed %d", r, best, in.Targets[r])
			}
		}
	}
}

// On a block-causal model the side-by-side state rows are the states the
// block sampler decided each token in: with greedy low-confidence decoding
// every scored token is the argmax of its row (ForwardLayout over the
// rows), and its log-prob equals, to float rounding, the one a plain forward
// of the sampler's state sequence gives (clean blocks before, the block as
// it was at that step, later blocks masked and unseen).
func TestBlockStatesReplayTheBlockSampler(t *testing.T) {
	const vocab, bs = 12, 4
	p, err := model.New(model.Config{Vocab: vocab, D: 16, Layers: 2, Heads: 2, KVHeads: 1, FF: 24, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5, BlockSize: bs}, 7)
	if err != nil {
		t.Fatal(err)
	}
	inf := model.NewInference(p)
	prompts := [][]int{{2, 5, 6}, {2, 7, 8, 9, 10}}
	o := rollout.Options{GenLength: 8, Steps: 8, Remasking: "low_confidence", MaskID: tok.Mask, EOSID: tok.EOS, PadID: tok.Pad}
	res, err := rollout.Generate(inf, prompts, o, rand.New(rand.NewPCG(1, 1)), rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var samples []algos.Sample
	for b := range prompts {
		samples = append(samples, algos.Sample{Prompt: prompts[b], Completion: res.Tokens[b], Trace: res.Trace[b]})
	}
	st, err := BlockStates(samples, 1, len(res.Tokens[0]), -1, bs)
	if err != nil {
		t.Fatal(err)
	}
	// one token a step, 4 steps per block: 4 rows per completion, each
	// scoring one token of each of the 2 blocks
	if len(st) != 8 {
		t.Fatalf("%d states, want 4 per completion", len(st))
	}
	for _, s := range st {
		if len(s.Scored) != 2 || s.Scored[0] >= bs || s.Scored[1] < bs {
			t.Fatalf("state %+v does not score one token per block", s)
		}
	}
	in, err := Inputs(samples, st, tok, bs)
	if err != nil {
		t.Fatal(err)
	}
	lay := &model.Layout{Block: in.Blocks.Block, Noisy: in.Blocks.Noisy, Pos: in.Blocks.Pos}
	logits, err := inf.ForwardLayout(in.IDs, in.B, in.L, in.Valid, lay, nil)
	if err != nil {
		t.Fatal(err)
	}
	logits = append([]float32(nil), logits...)
	lp := model.TargetLogProbs(logits, vocab, in.Targets)
	for r, toks := range in.Tokens {
		s := samples[st[r].Sample]
		for k, e := range toks {
			row := e.Rows[0]
			lg := logits[row*vocab : (row+1)*vocab]
			best := -1
			for v := range lg {
				if v != tok.Mask && (best < 0 || lg[v] > lg[best]) {
					best = v
				}
			}
			if best != in.Targets[row] {
				t.Fatalf("row %d: the state's argmax is %d, the sampler committed %d", row, best, in.Targets[row])
			}
			// the sampler's state: the prompt, clean blocks before, this
			// block as masked in the state, the rest masked
			pos := st[r].Scored[k]
			blk := pos / bs
			state := append([]int(nil), s.Prompt...)
			for l := 0; l < 8; l++ {
				v := s.Completion[l]
				if l >= (blk+1)*bs || (l >= blk*bs && slices.Contains(st[r].Masked, l)) {
					v = tok.Mask
				}
				state = append(state, v)
			}
			pad := (bs - len(s.Prompt)%bs) % bs // the sampler aligns the answer to a block
			seq := append(make([]int, pad), state...)
			valid := make([]bool, len(seq))
			for l := range seq {
				valid[l] = l >= pad
			}
			plain, err := inf.Forward(seq, 1, len(seq), valid, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := model.TargetLogProbs(plain[(pad+len(s.Prompt)+pos)*vocab:(pad+len(s.Prompt)+pos+1)*vocab], vocab, []int{s.Completion[pos]})[0]
			if math.Abs(lp[row]-want) > 1e-5 {
				t.Fatalf("completion %d position %d: side by side log-prob %v, the sampler's state %v", st[r].Sample, pos, lp[row], want)
			}
		}
	}
}
