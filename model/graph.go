package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func init() {
	// gorgonia's matrix products go through the same BLAS as the plain-Go forward.
	G.Use(blasImpl)
}

// TokenLoss maps the log-probability that the model gives each row's target
// token (0 for rows without a target) to a scalar loss and its gradient with
// respect to every lp. Objectives supply it; it is the only part of the
// training graph that differs between them.
type TokenLoss func(lp []float64) (loss float64, grad []float64, err error)

// Batch is one input to the training graph: B sequences of L tokens, flattened
// row-major (index b*L + l).
type Batch struct {
	IDs     []int     // input tokens, with <mask> already applied
	Valid   []bool    // key-padding mask (false = padding); nil = all valid
	Targets []int     // the token whose log-prob the loss reads; -1 = none
	Loss    TokenLoss // what to do with those log-probs
	// Layout places the rows for a block-causal model (Config.BlockSize >
	// 0); nil is DefaultLayout. A full-attention model takes none.
	Layout *Layout
}

// stepState is what the graph's ops read at run time; TrainGraph.Run fills it.
type stepState struct {
	B, L    int
	ids     []int
	valid   []bool
	targets []int
	loss    TokenLoss
	layout  *Layout
	deflt   *Layout // DefaultLayout of a block-causal graph's shape

	lp        []float64
	lossValue float64
	lossGrad  []float64
}

func (s *stepState) rows() int { return s.B * s.L }

// TrainGraph is the gorgonia graph of the model for a fixed batch shape
// (B sequences of L tokens): forward, TokenLoss, backward. Build one per shape
// and reuse it; weights are read from Params on every run.
type TrainGraph struct {
	B, L    int
	params  *Params
	g       *G.ExprGraph
	weights []*G.Node
	logits  *G.Node
	cost    *G.Node
	vm      G.VM
	st      *stepState
}

// NewTrainGraph builds the float32 training graph over p's weights, which it
// reads in place: an optimizer that updates p.Tensors is seen by the next Run.
func NewTrainGraph(p *Params, B, L int) (*TrainGraph, error) {
	ws := make([]any, len(p.Tensors))
	for i, t := range p.Tensors {
		ws[i] = t.Data
	}
	return buildTrainGraph(p, B, L, tensor.Float32, ws)
}

func buildTrainGraph(p *Params, B, L int, dt tensor.Dtype, ws []any) (*TrainGraph, error) {
	c := p.Config
	if B < 1 || L < 1 {
		return nil, fmt.Errorf("model: batch shape %dx%d", B, L)
	}
	// A block-causal batch may hold the noised copy beside the clean
	// sequence (Layout.Pos repeats positions), so its rows may number twice
	// max_len; Run checks the positions themselves.
	if maxRows := c.MaxLen * (1 + min(c.BlockSize, 1)); L > maxRows {
		return nil, fmt.Errorf("model: sequence length %d exceeds max_len %d", L, c.MaxLen)
	}
	tg := &TrainGraph{B: B, L: L, params: p, g: G.NewGraph(), st: &stepState{B: B, L: L}}
	if c.BlockSize > 0 {
		tg.st.deflt = DefaultLayout(B, L, c.BlockSize)
	}
	for i, t := range p.Tensors {
		v := tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(ws[i]))
		var n *G.Node
		if len(t.Shape) == 1 {
			n = G.NewVector(tg.g, dt, G.WithShape(t.Shape...), G.WithName(t.Name), G.WithValue(v))
		} else {
			n = G.NewMatrix(tg.g, dt, G.WithShape(t.Shape...), G.WithName(t.Name), G.WithValue(v))
		}
		tg.weights = append(tg.weights, n)
	}
	w := func(name string) *G.Node {
		for i, t := range p.Tensors {
			if t.Name == name {
				return tg.weights[i]
			}
		}
		panic("model: no parameter " + name) // names come from Config.shapes
	}
	cos, sin := ropeTables(L, c.headDim(), c.RopeTheta)

	x, err := G.ApplyOp(&embedOp{opBase: newBase("embed"), st: tg.st, d: c.D}, w(nameEmbed)) // (N, d)
	if err != nil {
		return nil, err
	}
	for i := 0; i < c.Layers; i++ {
		// attention: x += Attn(RMSNorm(x) @ Wqkv) @ Wo
		h, err := G.ApplyOp(&rmsNormOp{opBase: newBase("rmsnorm"), eps: c.NormEps}, x, w(layerName(i, nameAttnNrm)))
		if err != nil {
			return nil, err
		}
		qkv := G.Must(G.Mul(h, w(layerName(i, nameQKV)))) // (N, H*dh + 2*KVH*dh)
		if c.QKVBias {
			if qkv, err = G.ApplyOp(&biasAddOp{opBase: newBase("bias")}, qkv, w(layerName(i, nameQKVBias))); err != nil {
				return nil, err
			}
		}
		if c.QKNorm {
			qn := &qkNormOp{opBase: newBase("qk_norm"), heads: c.Heads, kvHeads: c.kvHeads(), dh: c.headDim(), eps: c.NormEps}
			if qkv, err = G.ApplyOp(qn, qkv, w(layerName(i, nameQNorm)), w(layerName(i, nameKNorm))); err != nil {
				return nil, err
			}
		}
		a, err := G.ApplyOp(&attnOp{opBase: newBase("attention"), st: tg.st, heads: c.Heads, kvHeads: c.kvHeads(), dh: c.headDim(), cos: cos, sin: sin}, qkv)
		if err != nil {
			return nil, err
		}
		x = G.Must(G.Add(x, G.Must(G.Mul(a, w(layerName(i, nameWO))))))
		// MLP: x += SwiGLU(RMSNorm(x) @ Wgu) @ Wdown
		h, err = G.ApplyOp(&rmsNormOp{opBase: newBase("rmsnorm"), eps: c.NormEps}, x, w(layerName(i, nameMLPNrm)))
		if err != nil {
			return nil, err
		}
		gu := G.Must(G.Mul(h, w(layerName(i, nameGateUp)))) // (N, 2f)
		s, err := G.ApplyOp(&swiGLUOp{opBase: newBase("swiglu"), f: c.FF}, gu)
		if err != nil {
			return nil, err
		}
		x = G.Must(G.Add(x, G.Must(G.Mul(s, w(layerName(i, nameDown))))))
	}
	h, err := G.ApplyOp(&rmsNormOp{opBase: newBase("rmsnorm"), eps: c.NormEps}, x, w(nameNorm))
	if err != nil {
		return nil, err
	}
	if c.TiedEmbed {
		tg.logits = G.Must(G.Mul(h, G.Must(G.Transpose(w(nameEmbed))))) // (N, V)
	} else {
		tg.logits = G.Must(G.Mul(h, w(nameHead))) // (N, V)
	}
	if c.LogitShift {
		if tg.logits, err = G.ApplyOp(&shiftOp{opBase: newBase("logit_shift"), st: tg.st}, tg.logits); err != nil {
			return nil, err
		}
	}
	if tg.cost, err = G.ApplyOp(&lossOp{opBase: newBase("token_loss"), st: tg.st}, tg.logits); err != nil {
		return nil, err
	}
	if _, err := G.Grad(tg.cost, tg.weights...); err != nil {
		return nil, fmt.Errorf("model: differentiate graph: %w", err)
	}
	tg.vm = G.NewTapeMachine(tg.g, G.BindDualValues(tg.weights...))
	return tg, nil
}

// Run does one forward and backward pass. It returns the loss and the
// log-probs of the targets; the gradients are then in Grads.
func (tg *TrainGraph) Run(b Batch) (loss float64, lp []float64, err error) {
	n := tg.B * tg.L
	if len(b.IDs) != n || len(b.Targets) != n || (b.Valid != nil && len(b.Valid) != n) {
		return 0, nil, fmt.Errorf("model: batch has %d ids, %d targets, %d valid; graph wants %d", len(b.IDs), len(b.Targets), len(b.Valid), n)
	}
	v := tg.params.Config.Vocab
	for i, id := range b.IDs {
		if id < 0 || id >= v {
			return 0, nil, fmt.Errorf("model: token id %d at %d outside vocab %d", id, i, v)
		}
		if t := b.Targets[i]; t >= v {
			return 0, nil, fmt.Errorf("model: target id %d at %d outside vocab %d", t, i, v)
		}
	}
	if b.Loss == nil {
		return 0, nil, fmt.Errorf("model: batch has no loss")
	}
	st := tg.st
	lay := b.Layout
	switch c := tg.params.Config; {
	case c.BlockSize == 0 && lay != nil:
		return 0, nil, fmt.Errorf("model: a block layout for a full-attention model")
	case lay == nil && tg.L > c.MaxLen:
		return 0, nil, fmt.Errorf("model: sequence length %d exceeds max_len %d", tg.L, c.MaxLen)
	case lay == nil:
		lay = st.deflt
	default:
		if err := lay.check(n, min(tg.L, c.MaxLen)); err != nil {
			return 0, nil, err
		}
		if lay.Pos == nil && tg.L > c.MaxLen {
			return 0, nil, fmt.Errorf("model: sequence length %d exceeds max_len %d", tg.L, c.MaxLen)
		}
	}
	st.ids, st.valid, st.targets, st.loss, st.layout = b.IDs, b.Valid, b.Targets, b.Loss, lay
	// gorgonia adds each run's gradients into the weights' dual values; start
	// every run from zero so that Grads is this batch's gradient alone.
	for _, n := range tg.weights {
		if gv, err := n.Grad(); err == nil {
			if t, ok := gv.(tensor.Tensor); ok {
				t.Zero()
			}
		}
	}
	defer tg.vm.Reset()
	if err := tg.vm.RunAll(); err != nil {
		return 0, nil, fmt.Errorf("model: run training graph: %w", err)
	}
	return st.lossValue, append([]float64(nil), st.lp...), nil
}

// Grads returns the gradient of the last Run's loss for every parameter, in the
// order of Params.Tensors. The slices belong to the graph and change on the next Run.
func (tg *TrainGraph) Grads() ([][]float32, error) {
	out := make([][]float32, len(tg.weights))
	for i, n := range tg.weights {
		gv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("model: gradient of %s: %w", n.Name(), err)
		}
		g, ok := gv.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("model: gradient of %s is %T, want []float32", n.Name(), gv.Data())
		}
		out[i] = g
	}
	return out, nil
}

// Close releases the graph's machine.
func (tg *TrainGraph) Close() error { return tg.vm.Close() }
