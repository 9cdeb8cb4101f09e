package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Every backward pass of this package is checked here against central finite
// differences of its own forward, in float64.

func randSlice(rng *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64() * scale
	}
	return s
}

// checkOpGrad builds inputs -> op -> sum(out * R), differentiates it with
// gorgonia and compares every input gradient with finite differences.
func checkOpGrad(t *testing.T, name string, shapes [][]int, apply func(in []*G.Node) (*G.Node, error)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(name))))
	g := G.NewGraph()
	var in []*G.Node
	var data [][]float64
	for i, s := range shapes {
		d := randSlice(rng, numel(s), 1)
		data = append(data, d)
		v := tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
		in = append(in, G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithValue(v), G.WithName(name+string(rune('a'+i)))))
	}
	out, err := apply(in)
	if err != nil {
		t.Fatalf("%s: build: %v", name, err)
	}
	r := randSlice(rng, out.Shape().TotalSize(), 1)
	rn := G.NewTensor(g, tensor.Float64, out.Shape().Dims(), G.WithShape(out.Shape()...), G.WithValue(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r))))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	if _, err := G.Grad(cost, in...); err != nil {
		t.Fatalf("%s: grad: %v", name, err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(in...))
	defer vm.Close()
	eval := func() float64 {
		if err := vm.RunAll(); err != nil {
			t.Fatalf("%s: run: %v", name, err)
		}
		v := cost.Value().Data().(float64)
		vm.Reset()
		return v
	}
	eval()
	var analytic [][]float64
	for _, n := range in {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("%s: grad of %s: %v", name, n.Name(), err)
		}
		analytic = append(analytic, append([]float64(nil), gv.Data().([]float64)...))
	}
	const h = 1e-6
	for i, d := range data {
		for j := range d {
			orig := d[j]
			d[j] = orig + h
			up := eval()
			d[j] = orig - h
			down := eval()
			d[j] = orig
			num := (up - down) / (2 * h)
			if diff := math.Abs(num - analytic[i][j]); diff > 1e-6+1e-5*math.Abs(num) {
				t.Fatalf("%s: d/d input %d [%d]: analytic %.9g, finite difference %.9g", name, i, j, analytic[i][j], num)
			}
		}
	}
}

func TestEmbeddingGrad(t *testing.T) {
	st := &stepState{B: 2, L: 3, ids: []int{0, 4, 4, 2, 1, 0}}
	checkOpGrad(t, "embed", [][]int{{5, 3}}, func(in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(&embedOp{opBase: newBase("embed"), st: st, d: 3}, in[0])
	})
}

func TestRMSNormGrad(t *testing.T) {
	checkOpGrad(t, "rmsnorm", [][]int{{4, 6}, {6}}, func(in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(&rmsNormOp{opBase: newBase("rmsnorm"), eps: 1e-5}, in[0], in[1])
	})
}

func TestSwiGLUGrad(t *testing.T) {
	checkOpGrad(t, "swiglu", [][]int{{3, 10}}, func(in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(&swiGLUOp{opBase: newBase("swiglu"), f: 5}, in[0])
	})
}

func TestAttentionGrad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		H, KV int
		valid []bool
	}{
		{"attention", 2, 2, nil},
		{"attention_padded", 2, 2, []bool{true, true, true, false, true, true, false, false}},
		// grouped-query: 4 query heads share 2 k/v heads (and 1, multi-query)
		{"attention_gqa", 4, 2, []bool{true, true, true, false, true, true, true, true}},
		{"attention_mqa", 4, 1, nil},
	} {
		const B, L, dh = 2, 4, 4
		st := &stepState{B: B, L: L, valid: tc.valid}
		cos, sin := ropeTables(L, dh, 10000)
		checkOpGrad(t, tc.name, [][]int{{B * L, (tc.H + 2*tc.KV) * dh}}, func(in []*G.Node) (*G.Node, error) {
			return G.ApplyOp(&attnOp{opBase: newBase("attention"), st: st, heads: tc.H, kvHeads: tc.KV, dh: dh, cos: cos, sin: sin}, in[0])
		})
	}
	// Block-causal layouts: plain blocks of 2, and BD3-LM's clean sequence
	// (positions 0-2) beside its noised copy of positions 1-2, with padding.
	for _, tc := range []struct {
		name  string
		lay   *Layout
		valid []bool
	}{
		{"attention_block", DefaultLayout(2, 5, 2), nil},
		{"attention_block_noisy", &Layout{
			Block: []int{-1, 0, 0, 0, 0, -1, 0, 1, 0, 1},
			Noisy: []bool{false, false, false, true, true, false, false, false, true, true},
			Pos:   []int{0, 1, 2, 1, 2, 0, 1, 2, 1, 2}}, []bool{true, true, true, true, true, false, true, true, true, true}},
	} {
		const B, L, dh, H, KV = 2, 5, 4, 4, 2
		st := &stepState{B: B, L: L, valid: tc.valid, layout: tc.lay}
		cos, sin := ropeTables(L, dh, 10000)
		checkOpGrad(t, tc.name, [][]int{{B * L, (H + 2*KV) * dh}}, func(in []*G.Node) (*G.Node, error) {
			return G.ApplyOp(&attnOp{opBase: newBase("attention"), st: st, heads: H, kvHeads: KV, dh: dh, cos: cos, sin: sin}, in[0])
		})
	}
}

// Per-head q/k RMSNorm over a qkv matrix of 2 query heads and 1 key/value
// head of width 4 (the value head passes through).
func TestQKNormGrad(t *testing.T) {
	checkOpGrad(t, "qk_norm", [][]int{{3, 16}, {4}, {4}}, func(in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(&qkNormOp{opBase: newBase("qk_norm"), heads: 2, kvHeads: 1, dh: 4, eps: 1e-5}, in[0], in[1], in[2])
	})
}

func TestBiasAddGrad(t *testing.T) {
	checkOpGrad(t, "bias", [][]int{{3, 5}, {5}}, func(in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(&biasAddOp{opBase: newBase("bias")}, in[0], in[1])
	})
}

func TestLogitShiftGrad(t *testing.T) {
	st := &stepState{B: 2, L: 3}
	checkOpGrad(t, "shift", [][]int{{6, 4}}, func(in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(&shiftOp{opBase: newBase("shift"), st: st}, in[0])
	})
}

// The shift by hand: rows of two sequences of three positions.
func TestShiftRowsByHand(t *testing.T) {
	in := []float64{1, 2, 3, 4, 5, 6} // v = 1: sequence 1 is 1 2 3, sequence 2 is 4 5 6
	out := make([]float64, 6)
	shiftRows(in, 2, 3, 1, out)
	if want := []float64{1, 1, 2, 4, 4, 5}; !slices.Equal(out, want) {
		t.Fatalf("shift %v, want %v", out, want)
	}
	d := make([]float64, 6)
	shiftRowsBackward([]float64{1, 10, 100, 2, 20, 200}, 2, 3, 1, d)
	if want := []float64{11, 100, 0, 22, 200, 0}; !slices.Equal(d, want) {
		t.Fatalf("shift gradient %v, want %v", d, want)
	}
}

func TestTokenLossGrad(t *testing.T) {
	// A nonlinear loss of the log-probs, so the chain rule through g matters:
	// loss = sum_i w_i * lp_i^2 over rows with a target.
	w := []float64{0.5, -1, 0, 2, 0.25}
	st := &stepState{B: 1, L: 5, targets: []int{2, 0, -1, 3, 1}, loss: func(lp []float64) (float64, []float64, error) {
		var l float64
		g := make([]float64, len(lp))
		for i, v := range lp {
			l += w[i] * v * v
			g[i] = 2 * w[i] * v
		}
		return l, g, nil
	}}
	checkOpGrad(t, "token_loss", [][]int{{5, 4}}, func(in []*G.Node) (*G.Node, error) {
		l, err := G.ApplyOp(&lossOp{opBase: newBase("token_loss"), st: st}, in[0])
		if err != nil {
			return nil, err
		}
		// checkOpGrad wants a tensor; (1)-shaped via reshape of the scalar.
		return G.Reshape(l, tensor.Shape{1})
	})
}

// TestModelGrad checks the whole graph: every parameter tensor gets a few
// entries perturbed and compared, for remask's own shape and for one with
// everything a family can switch on (grouped-query attention, a head width
// other than d/heads, q/k/v biases, tied embeddings, the logit shift).
func TestModelGrad(t *testing.T) {
	for _, cfg := range []Config{
		{Vocab: 7, D: 8, Layers: 2, Heads: 2, FF: 12, MaxLen: 16, RopeTheta: 10000, NormEps: 1e-5},
		{Vocab: 7, D: 8, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 6, FF: 12, MaxLen: 16, RopeTheta: 10000, NormEps: 1e-5,
			QKVBias: true, TiedEmbed: true, LogitShift: true},
	} {
		checkModelGrad(t, cfg, nil)
	}
	// Block-causal: the default layout (blocks of 2), and BD3-LM's clean
	// positions 0-2 beside the noised copy of 1-2.
	bc := Config{Vocab: 7, D: 8, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4, FF: 12, MaxLen: 16, RopeTheta: 10000, NormEps: 1e-5, BlockSize: 2, QKNorm: true}
	checkModelGrad(t, bc, nil)
	checkModelGrad(t, bc, &Layout{
		Block: []int{0, 1, 1, 1, 1, -1, 0, 1, 0, 1},
		Noisy: []bool{false, false, false, true, true, false, false, false, true, true},
		Pos:   []int{0, 1, 2, 1, 2, 0, 1, 2, 1, 2}})
}

func checkModelGrad(t *testing.T, cfg Config, lay *Layout) {
	t.Helper()
	p, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 0))
	// float64 copies of the weights, larger than init so every path matters.
	ws := make([]any, len(p.Tensors))
	data := make([][]float64, len(p.Tensors))
	for i, tn := range p.Tensors {
		data[i] = randSlice(rng, len(tn.Data), 0.4)
		if isNorm(tn.Name) {
			for j := range data[i] {
				data[i][j] += 1
			}
		}
		ws[i] = data[i]
	}
	const B, L = 2, 5
	tg, err := buildTrainGraph(p, B, L, tensor.Float64, ws)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	weights := randSlice(rng, B*L, 1)
	batch := Batch{
		IDs:     []int{2, 1, 1, 5, 3, 2, 6, 1, 3, 0},
		Valid:   []bool{true, true, true, true, true, true, true, true, false, false},
		Targets: []int{-1, 4, 0, -1, 3, -1, 6, 2, -1, -1},
		Loss: func(lp []float64) (float64, []float64, error) {
			var l float64
			g := make([]float64, len(lp))
			for i, v := range lp {
				l -= weights[i] * v
				g[i] = -weights[i]
			}
			return l, g, nil
		},
		Layout: lay,
	}
	eval := func() float64 {
		l, _, err := tg.Run(batch)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	eval()
	analytic := make([][]float64, len(tg.weights))
	for i, n := range tg.weights {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		analytic[i] = append([]float64(nil), gv.Data().([]float64)...)
	}
	const h = 1e-6
	for i, d := range data {
		for k := 0; k < 6; k++ {
			j := rng.IntN(len(d))
			orig := d[j]
			d[j] = orig + h
			up := eval()
			d[j] = orig - h
			down := eval()
			d[j] = orig
			num := (up - down) / (2 * h)
			if diff := math.Abs(num - analytic[i][j]); diff > 1e-6+1e-5*math.Abs(num) {
				t.Errorf("%s[%d]: analytic %.9g, finite difference %.9g", p.Tensors[i].Name, j, analytic[i][j], num)
			}
		}
	}
	// The embedding of a token that never appears gets no gradient (unless
	// the embedding is also the output head).
	if cfg.TiedEmbed {
		return
	}
	emb := analytic[0]
	for j := 4 * cfg.D; j < 5*cfg.D; j++ {
		if emb[j] != 0 {
			t.Fatalf("embedding row of unused token 4 has gradient %g", emb[j])
		}
	}
}
