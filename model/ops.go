package model

import (
	"fmt"
	"hash"
	"math"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The gorgonia Ops of this package. Each forward op captures, by pointer, the
// per-step data it needs (token ids, padding mask, targets, the loss), which
// the TrainGraph sets before every run; each has a backward op that gorgonia's
// symbolic differentiation inserts (SDOp). Every op carries a unique id in its
// hash so that gorgonia never merges two distinct instances.

var opSeq atomic.Int64

type opBase struct {
	name string
	id   int64
}

func newBase(name string) opBase { return opBase{name: name, id: opSeq.Add(1)} }

func (o opBase) ReturnsPtr() bool      { return false }
func (o opBase) CallsExtern() bool     { return false }
func (o opBase) OverwritesInput() int  { return -1 }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "remask.%s#%d", o.name, o.id) }
func (o opBase) Hashcode() uint32 {
	var h uint32 = 2166136261
	for _, c := range fmt.Sprintf("remask.%s#%d", o.name, o.id) {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
func (o opBase) String() string { return o.name }

func tensorT(dims int) hm.Type { return &G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// dense returns the backing slice of a gorgonia tensor value.
func dense(v G.Value) any { return v.(tensor.Tensor).Data() }

func scalar(v G.Value) float64 {
	switch x := v.Data().(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("model: unexpected scalar %T", v.Data())) // graph construction guarantees float types
}

func newDenseLike(data any, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// zerosOf allocates a zeroed slice of the same element type as data.
func zerosOf(data any, n int) any {
	switch data.(type) {
	case []float32:
		return make([]float32, n)
	default:
		return make([]float64, n)
	}
}

// ---- embedding -------------------------------------------------------------

type embedOp struct {
	opBase
	st *stepState
	d  int
}

func (o *embedOp) Arity() int { return 1 }
func (o *embedOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2))
}
func (o *embedOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{o.st.rows(), o.d}, nil
}
func (o *embedOp) Do(in ...G.Value) (G.Value, error) {
	n := len(o.st.ids)
	out := zerosOf(dense(in[0]), n*o.d)
	switch t := dense(in[0]).(type) {
	case []float32:
		embedForward(t, o.st.ids, o.d, out.([]float32))
	case []float64:
		embedForward(t, o.st.ids, o.d, out.([]float64))
	}
	return newDenseLike(out, n, o.d), nil
}
func (o *embedOp) DiffWRT(int) []bool { return []bool{true} }
func (o *embedOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&embedGradOp{opBase: newBase("embed_grad"), fwd: o}, in[0], grad)
	return G.Nodes{n}, err
}

type embedGradOp struct {
	opBase
	fwd *embedOp
}

func (o *embedGradOp) Arity() int { return 2 }
func (o *embedGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2), tensorT(2))
}
func (o *embedGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *embedGradOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch g := dense(in[1]).(type) {
	case []float32:
		embedBackward(g, o.fwd.st.ids, o.fwd.d, out.([]float32))
	case []float64:
		embedBackward(g, o.fwd.st.ids, o.fwd.d, out.([]float64))
	}
	return newDenseLike(out, shape...), nil
}

// ---- RMSNorm ---------------------------------------------------------------

type rmsNormOp struct {
	opBase
	eps float64
}

func (o *rmsNormOp) Arity() int { return 2 }
func (o *rmsNormOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(2))
}
func (o *rmsNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *rmsNormOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	d := shape[1]
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		rmsNormForward(0, x, dense(in[1]).([]float32), d, o.eps, out.([]float32))
	case []float64:
		rmsNormForward(0, x, dense(in[1]).([]float64), d, o.eps, out.([]float64))
	}
	return newDenseLike(out, shape...), nil
}
func (o *rmsNormOp) DiffWRT(int) []bool { return []bool{true, true} }
func (o *rmsNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&rmsNormGradOp{opBase: newBase("rmsnorm_dx"), eps: o.eps, wrtW: false}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&rmsNormGradOp{opBase: newBase("rmsnorm_dw"), eps: o.eps, wrtW: true}, in[0], in[1], grad)
	return G.Nodes{dx, dw}, err
}

// rmsNormGradOp gives the gradient with respect to x, or to w when wrtW.
type rmsNormGradOp struct {
	opBase
	eps  float64
	wrtW bool
}

func (o *rmsNormGradOp) Arity() int { return 3 }
func (o *rmsNormGradOp) Type() hm.Type {
	if o.wrtW {
		return hm.NewFnType(tensorT(2), tensorT(1), tensorT(2), tensorT(1))
	}
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(2), tensorT(2))
}
func (o *rmsNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.wrtW {
		return in[1].(tensor.Shape).Clone(), nil
	}
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *rmsNormGradOp) Do(in ...G.Value) (G.Value, error) {
	xs := in[0].Shape()
	d := xs[1]
	shape := xs
	if o.wrtW {
		shape = in[1].Shape()
	}
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		dx, dw := out.([]float32), []float32(nil)
		if o.wrtW {
			dx, dw = nil, dx
		}
		rmsNormBackward(0, x, dense(in[1]).([]float32), dense(in[2]).([]float32), d, o.eps, dx, dw)
	case []float64:
		dx, dw := out.([]float64), []float64(nil)
		if o.wrtW {
			dx, dw = nil, dx
		}
		rmsNormBackward(0, x, dense(in[1]).([]float64), dense(in[2]).([]float64), d, o.eps, dx, dw)
	}
	return newDenseLike(out, shape.Clone()...), nil
}

// ---- attention -------------------------------------------------------------

// attnOp maps qkv (N, H*dh + 2*KVH*dh) to the attention output (N, H*dh),
// with RoPE, grouped-query sharing, the key-padding mask and the block-causal
// layout inside. It keeps
// the rotated q, k and the attention weights of its last forward for the
// backward pass (the tape runs forward first).
type attnOp struct {
	opBase
	st                 *stepState
	heads, kvHeads, dh int
	cos, sin           []float64
	qr, kr             any
	probs              any
}

func (o *attnOp) shape() attnShape {
	kv := o.kvHeads
	if kv == 0 {
		kv = o.heads
	}
	return attnShape{B: o.st.B, L: o.st.L, H: o.heads, KVH: kv, Dh: o.dh, Valid: o.st.valid, Layout: o.st.layout, Cos: o.cos, Sin: o.sin}
}

func (o *attnOp) Arity() int { return 1 }
func (o *attnOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2))
}
func (o *attnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{o.st.rows(), o.heads * o.dh}, nil
}
func (o *attnOp) Do(in ...G.Value) (G.Value, error) {
	s := o.shape()
	n := s.B * s.L
	qkv := dense(in[0])
	o.qr, o.kr = zerosOf(qkv, n*s.dq()), zerosOf(qkv, n*s.dkv())
	o.probs = zerosOf(qkv, s.B*s.H*s.L*s.L)
	out := zerosOf(qkv, n*s.dq())
	switch x := qkv.(type) {
	case []float32:
		ropeQK(s, x, o.qr.([]float32), o.kr.([]float32))
		attnForward(s, o.qr.([]float32), o.kr.([]float32), x, o.probs.([]float32), out.([]float32))
	case []float64:
		ropeQK(s, x, o.qr.([]float64), o.kr.([]float64))
		attnForward(s, o.qr.([]float64), o.kr.([]float64), x, o.probs.([]float64), out.([]float64))
	}
	return newDenseLike(out, n, s.dq()), nil
}
func (o *attnOp) DiffWRT(int) []bool { return []bool{true} }
func (o *attnOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&attnGradOp{opBase: newBase("attention_grad"), fwd: o}, in[0], grad)
	return G.Nodes{n}, err
}

type attnGradOp struct {
	opBase
	fwd *attnOp
}

func (o *attnGradOp) Arity() int { return 2 }
func (o *attnGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2), tensorT(2))
}
func (o *attnGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *attnGradOp) Do(in ...G.Value) (G.Value, error) {
	s := o.fwd.shape()
	shape := in[0].Shape()
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		attnBackward(s, o.fwd.qr.([]float32), o.fwd.kr.([]float32), x, o.fwd.probs.([]float32), dense(in[1]).([]float32), out.([]float32))
	case []float64:
		attnBackward(s, o.fwd.qr.([]float64), o.fwd.kr.([]float64), x, o.fwd.probs.([]float64), dense(in[1]).([]float64), out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}

// ---- SwiGLU ----------------------------------------------------------------

type swiGLUOp struct {
	opBase
	f int
}

func (o *swiGLUOp) Arity() int { return 1 }
func (o *swiGLUOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2))
}
func (o *swiGLUOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[0], o.f}, nil
}
func (o *swiGLUOp) Do(in ...G.Value) (G.Value, error) {
	rows := in[0].Shape()[0]
	out := zerosOf(dense(in[0]), rows*o.f)
	switch x := dense(in[0]).(type) {
	case []float32:
		swiGLUForward(0, x, o.f, out.([]float32))
	case []float64:
		swiGLUForward(0, x, o.f, out.([]float64))
	}
	return newDenseLike(out, rows, o.f), nil
}
func (o *swiGLUOp) DiffWRT(int) []bool { return []bool{true} }
func (o *swiGLUOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&swiGLUGradOp{opBase: newBase("swiglu_grad"), f: o.f}, in[0], grad)
	return G.Nodes{n}, err
}

type swiGLUGradOp struct {
	opBase
	f int
}

func (o *swiGLUGradOp) Arity() int { return 2 }
func (o *swiGLUGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2), tensorT(2))
}
func (o *swiGLUGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *swiGLUGradOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		swiGLUBackward(0, x, dense(in[1]).([]float32), o.f, out.([]float32))
	case []float64:
		swiGLUBackward(0, x, dense(in[1]).([]float64), o.f, out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}

// ---- token loss ------------------------------------------------------------

// lossOp maps logits (N, V) to the scalar the step's TokenLoss gives for the
// log-probabilities of the target tokens.
type lossOp struct {
	opBase
	st *stepState
}

func (o *lossOp) Arity() int { return 1 }
func (o *lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(&G.TensorType{Dims: 2, Of: a}, a)
}
func (o *lossOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (o *lossOp) Do(in ...G.Value) (G.Value, error) {
	v := in[0].Shape()[1]
	st := o.st
	if cap(st.lp) < len(st.targets) {
		st.lp = make([]float64, len(st.targets))
	}
	st.lp = st.lp[:len(st.targets)]
	switch x := dense(in[0]).(type) {
	case []float32:
		targetLogProbs(x, v, st.targets, st.lp)
	case []float64:
		targetLogProbs(x, v, st.targets, st.lp)
	}
	loss, grad, err := st.loss(st.lp)
	if err != nil {
		return nil, err
	}
	if len(grad) != len(st.lp) {
		return nil, fmt.Errorf("model: loss returned %d gradients for %d log-probs", len(grad), len(st.lp))
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return nil, fmt.Errorf("model: loss is %v", loss)
	}
	st.lossValue, st.lossGrad = loss, grad
	if _, ok := dense(in[0]).([]float32); ok {
		return G.NewF32(float32(loss)), nil
	}
	return G.NewF64(loss), nil
}
func (o *lossOp) DiffWRT(int) []bool { return []bool{true} }
func (o *lossOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&lossGradOp{opBase: newBase("token_loss_grad"), st: o.st}, in[0], grad)
	return G.Nodes{n}, err
}

type lossGradOp struct {
	opBase
	st *stepState
}

func (o *lossGradOp) Arity() int { return 2 }
func (o *lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(&G.TensorType{Dims: 2, Of: a}, a, &G.TensorType{Dims: 2, Of: a})
}
func (o *lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *lossGradOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	v := shape[1]
	scale := scalar(in[1])
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		targetLogProbsBackward(x, v, o.st.targets, o.st.lossGrad, scale, out.([]float32))
	case []float64:
		targetLogProbsBackward(x, v, o.st.targets, o.st.lossGrad, scale, out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}

// ---- bias ------------------------------------------------------------------

// biasAddOp adds a bias vector (n) to every row of x (rows, n).
type biasAddOp struct{ opBase }

func (o *biasAddOp) Arity() int { return 2 }
func (o *biasAddOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(2))
}
func (o *biasAddOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *biasAddOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		addBias(x, dense(in[1]).([]float32), out.([]float32))
	case []float64:
		addBias(x, dense(in[1]).([]float64), out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}
func (o *biasAddOp) DiffWRT(int) []bool { return []bool{true, true} }
func (o *biasAddOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	db, err := G.ApplyOp(&colSumOp{opBase: newBase("bias_grad")}, grad)
	return G.Nodes{grad, db}, err
}

// colSumOp sums the rows of a matrix: the gradient of a bias.
type colSumOp struct{ opBase }

func (o *colSumOp) Arity() int { return 1 }
func (o *colSumOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(1))
}
func (o *colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[1]}, nil
}
func (o *colSumOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	cols := shape[1]
	out := zerosOf(dense(in[0]), cols)
	switch x := dense(in[0]).(type) {
	case []float32:
		colSum(x, cols, out.([]float32))
	case []float64:
		colSum(x, cols, out.([]float64))
	}
	return newDenseLike(out, cols), nil
}

// ---- logit shift -------------------------------------------------------------

// shiftOp moves each sequence's logits one position to the right (Dream):
// row i takes the network's row i-1, and row 0 keeps its own, so that row i
// holds the distribution of token i.
type shiftOp struct {
	opBase
	st *stepState
}

func (o *shiftOp) Arity() int { return 1 }
func (o *shiftOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2))
}
func (o *shiftOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *shiftOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		shiftRows(x, o.st.B, o.st.L, shape[1], out.([]float32))
	case []float64:
		shiftRows(x, o.st.B, o.st.L, shape[1], out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}
func (o *shiftOp) DiffWRT(int) []bool { return []bool{true} }
func (o *shiftOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&shiftGradOp{opBase: newBase("shift_grad"), st: o.st}, grad)
	return G.Nodes{n}, err
}

type shiftGradOp struct {
	opBase
	st *stepState
}

func (o *shiftGradOp) Arity() int { return 1 }
func (o *shiftGradOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(2))
}
func (o *shiftGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *shiftGradOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		shiftRowsBackward(x, o.st.B, o.st.L, shape[1], out.([]float32))
	case []float64:
		shiftRowsBackward(x, o.st.B, o.st.L, shape[1], out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}
