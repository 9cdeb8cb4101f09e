package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func tinyConfig() Config {
	return Config{Vocab: 20, D: 32, Layers: 2, Heads: 4, FF: 48, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}
}

// familyConfig switches on everything a model family can: grouped-query
// attention, a head width other than d/heads, q/k/v biases, tied embeddings
// and Dream's logit shift.
func familyConfig() Config {
	c := tinyConfig()
	c.KVHeads, c.HeadDim, c.QKVBias, c.TiedEmbed, c.LogitShift = 2, 6, true, true, true
	return c
}

// blockConfig is SDAR's shape: block-causal attention (blocks of 3),
// grouped-query attention, q/k norms and a head width other than d/heads.
func blockConfig() Config {
	c := tinyConfig()
	c.KVHeads, c.BlockSize, c.QKNorm, c.HeadDim = 2, 3, true, 6
	return c
}

var testConfigs = map[string]Config{"remask": tinyConfig(), "family": familyConfig(), "block": blockConfig()}

// TestForwardMatchesGraph holds the plain-Go forward to the gorgonia graph:
// within 1e-4 relative on every logit, with and without padding.
func TestForwardMatchesGraph(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) { checkForwardMatchesGraph(t, c) })
	}
}

func checkForwardMatchesGraph(t *testing.T, c Config) {
	p, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Larger-than-init weights so that the logits are far from zero.
	rng := rand.New(rand.NewPCG(5, 5))
	for _, tn := range p.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	const B, L = 3, 9
	ids := make([]int, B*L)
	targets := make([]int, B*L)
	valid := make([]bool, B*L)
	for i := range ids {
		ids[i] = rng.IntN(20)
		targets[i] = -1
		valid[i] = i%L < L-i/L // sequence b has b padding positions at the end
	}
	tg, err := NewTrainGraph(p, B, L)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	inf := NewInference(p)
	for _, v := range [][]bool{nil, valid} {
		zero := func(lp []float64) (float64, []float64, error) { return 0, make([]float64, len(lp)), nil }
		if _, _, err := tg.Run(Batch{IDs: ids, Valid: v, Targets: targets, Loss: zero}); err != nil {
			t.Fatal(err)
		}
		want := tg.logits.Value().Data().([]float32)
		got, err := inf.Forward(ids, B, L, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		var maxAbs float64
		for _, x := range want {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		if maxAbs < 0.1 {
			t.Fatalf("logits too small to compare (max %g)", maxAbs)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*math.Max(math.Abs(float64(want[i])), 1) {
				t.Fatalf("logit %d: forward %g, graph %g", i, got[i], want[i])
			}
		}
	}
}

// TestPaddingIsInvisible: padding keys must not change the logits of the real
// tokens, so a padded sequence equals the same sequence alone.
func TestPaddingIsInvisible(t *testing.T) {
	p, _ := New(tinyConfig(), 2)
	inf := NewInference(p)
	short := []int{2, 7, 9, 4}
	padded := []int{2, 7, 9, 4, 0, 0, 0}
	a, err := inf.Forward(short, 1, 4, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a = append([]float32(nil), a...)
	b, err := inf.Forward(padded, 1, 7, []bool{true, true, true, true, false, false, false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("logit %d: alone %g, padded %g", i, a[i], b[i])
		}
	}
}

func TestKernelsByHand(t *testing.T) {
	out := make([]float64, 2)
	rmsNormForward(0, []float64{3, 4}, []float64{1, 2}, 2, 0, out)
	r := 1 / math.Sqrt(12.5)
	if math.Abs(out[0]-3*r) > 1e-12 || math.Abs(out[1]-8*r) > 1e-12 {
		t.Fatalf("rmsnorm: %v", out)
	}
	cos, sin := ropeTables(2, 2, 10000)
	rot := make([]float64, 2)
	ropeApply([]float64{1, 0}, cos[2:4], sin[2:4], false, rot) // position 1, angle 1 rad
	if math.Abs(rot[0]-math.Cos(1)) > 1e-12 || math.Abs(rot[1]-math.Sin(1)) > 1e-12 {
		t.Fatalf("rope: %v", rot)
	}
	row := []float64{0, math.Log(2), 5}
	softmaxMasked(row, []bool{true, true, false})
	if math.Abs(row[0]-1.0/3) > 1e-12 || math.Abs(row[1]-2.0/3) > 1e-12 || row[2] != 0 {
		t.Fatalf("masked softmax: %v", row)
	}
	sw := make([]float64, 1)
	swiGLUForward(0, []float64{1, 3}, 1, sw) // silu(1) * 3
	if math.Abs(sw[0]-3/(1+math.Exp(-1))) > 1e-12 {
		t.Fatalf("swiglu: %v", sw)
	}
	lp := make([]float64, 2)
	targetLogProbs([]float64{0, 0, math.Log(2), 1, 1, 1}, 3, []int{2, -1}, lp)
	if math.Abs(lp[0]-math.Log(0.5)) > 1e-12 || lp[1] != 0 {
		t.Fatalf("target log-probs: %v", lp)
	}
}

func TestFromTensorsValidates(t *testing.T) {
	p, _ := New(tinyConfig(), 1)
	var ts []Tensor
	for _, tn := range p.Tensors {
		ts = append(ts, *tn)
	}
	if _, err := FromTensors(tinyConfig(), ts); err != nil {
		t.Fatal(err)
	}
	bad := tinyConfig()
	bad.D = 16
	if _, err := FromTensors(bad, ts); err == nil {
		t.Fatal("shape mismatch not reported")
	}
	if _, err := FromTensors(tinyConfig(), ts[1:]); err == nil {
		t.Fatal("missing tensor not reported")
	}
}

// Each Run's gradients are that batch's alone: gorgonia accumulates into the
// weights' dual values across runs unless they are cleared.
func TestGradsDoNotAccumulate(t *testing.T) {
	p, _ := New(tinyConfig(), 1)
	tg, err := NewTrainGraph(p, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	b := benchBatch(2, 8, 20)
	var first [][]float32
	for run := 0; run < 3; run++ {
		if _, _, err := tg.Run(b); err != nil {
			t.Fatal(err)
		}
		g, _ := tg.Grads()
		if run == 0 {
			for _, x := range g {
				first = append(first, append([]float32(nil), x...))
			}
			continue
		}
		for i := range g {
			for j := range g[i] {
				if g[i][j] != first[i][j] {
					t.Fatalf("run %d: gradient %s[%d] %g, first run %g", run, p.Tensors[i].Name, j, g[i][j], first[i][j])
				}
			}
		}
	}
}

// With the cache filled by a forward over the same tokens, a forward over a
// range of positions gives the same logits as the full forward there.
func TestForwardRangeMatchesFull(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) { checkForwardRangeMatchesFull(t, c) })
	}
}

func checkForwardRangeMatchesFull(t *testing.T, c Config) {
	p, _ := New(c, 4)
	inf := NewInference(p)
	const B, L = 2, 12
	rng := rand.New(rand.NewPCG(8, 8))
	ids := make([]int, B*L)
	for i := range ids {
		ids[i] = rng.IntN(20)
	}
	valid := make([]bool, B*L)
	for i := range valid {
		valid[i] = i != 0 // sequence 0 starts with a padding position
	}
	full, err := inf.Forward(ids, B, L, valid, nil)
	if err != nil {
		t.Fatal(err)
	}
	full = append([]float32(nil), full...)
	V := c.Vocab
	for _, r := range [][2]int{{4, 12}, {4, 8}, {0, 12}, {11, 12}} {
		cache := inf.NewCache(B, L)
		if _, err := inf.ForwardRange(ids, B, L, valid, 0, L, cache, nil); err != nil {
			t.Fatal(err)
		}
		part, err := inf.ForwardRange(ids, B, L, valid, r[0], r[1], cache, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := r[1] - r[0]
		for b := 0; b < B; b++ {
			for j := 0; j < n; j++ {
				for v := 0; v < V; v++ {
					got, want := part[(b*n+j)*V+v], full[(b*L+r[0]+j)*V+v]
					if math.Abs(float64(got-want)) > 1e-5 {
						t.Fatalf("range %v seq %d pos %d: %g vs full %g", r, b, r[0]+j, got, want)
					}
				}
			}
		}
	}
	if _, err := inf.ForwardRange(ids, B, L, valid, 5, 3, inf.NewCache(B, L), nil); err == nil {
		t.Fatal("empty range accepted")
	}
}

// With the logit shift, row i of Forward is row i-1 of the network's raw
// output, and row 0 its own; without it the two are the same.
func TestLogitShiftRows(t *testing.T) {
	for name, c := range testConfigs {
		p, _ := New(c, 6)
		inf := NewInference(p)
		const B, L = 2, 5
		ids := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
		raw, err := inf.ForwardRaw(ids, B, L, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw = append([]float32(nil), raw...)
		got, err := inf.Forward(ids, B, L, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		V := c.Vocab
		for b := 0; b < B; b++ {
			for i := 0; i < L; i++ {
				src := i
				if c.LogitShift && i > 0 {
					src = i - 1
				}
				for v := 0; v < V; v++ {
					if got[(b*L+i)*V+v] != raw[(b*L+src)*V+v] {
						t.Fatalf("%s: seq %d row %d differs from raw row %d", name, b, i, src)
					}
				}
			}
		}
	}
}

// Grouped-query attention is multi-head attention with each k/v head copied
// to the query heads of its group: build that MHA model from a GQA one by
// duplicating the k and v columns (and biases) and compare the logits.
func TestGQAEqualsMHAWithCopiedHeads(t *testing.T) {
	gc := familyConfig() // 4 query heads, 2 k/v heads of width 6
	gqa, _ := New(gc, 9)
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tn := range gqa.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	mc := gc
	mc.KVHeads = 0
	mha, _ := New(mc, 1)
	dh, H, KV := gc.headDim(), gc.Heads, gc.kvHeads()
	dq := H * dh
	rep := H / KV
	// column j of the MHA qkv comes from column src(j) of the GQA one
	src := func(j int) int {
		switch {
		case j < dq:
			return j
		case j < 2*dq: // k of query head h reads k/v head h/rep
			h, o := (j-dq)/dh, (j-dq)%dh
			return dq + (h/rep)*dh + o
		default:
			h, o := (j-2*dq)/dh, (j-2*dq)%dh
			return dq + KV*dh + (h/rep)*dh + o
		}
	}
	for _, tn := range mha.Tensors {
		g := gqa.Get(tn.Name)
		switch {
		case strings.HasSuffix(tn.Name, nameQKV):
			rows, cols, gcols := tn.Shape[0], tn.Shape[1], g.Shape[1]
			for r := 0; r < rows; r++ {
				for j := 0; j < cols; j++ {
					tn.Data[r*cols+j] = g.Data[r*gcols+src(j)]
				}
			}
		case strings.HasSuffix(tn.Name, nameQKVBias):
			for j := range tn.Data {
				tn.Data[j] = g.Data[src(j)]
			}
		default:
			copy(tn.Data, g.Data)
		}
	}
	ids := []int{1, 5, 2, 7, 3, 0, 4, 4, 9, 11}
	a, err := NewInference(gqa).Forward(ids, 2, 5, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewInference(mha).Forward(ids, 2, 5, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5*math.Max(1, math.Abs(float64(a[i]))) {
			t.Fatalf("logit %d: GQA %g, MHA with copied heads %g", i, a[i], b[i])
		}
	}
}
