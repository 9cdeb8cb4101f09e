package model

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Per-head RMSNorm of the queries and keys (Config.QKNorm: Qwen3 and SDAR's
// q_norm and k_norm), applied to the projections before RoPE. Every row of
// the qkv matrix is q | k | v with heads contiguous, so a row is a sequence
// of head-wide chunks: the first H are query heads, normed with wq, the next
// KVH key heads, normed with wk, the rest values, passed through.

// qkChunk says which weight a head-wide chunk of a qkv row is normed with:
// 0 a query head, 1 a key head, 2 a value head (none).
func qkChunk(c, H, KVH int) int {
	switch {
	case c < H:
		return 0
	case c < H+KVH:
		return 1
	}
	return 2
}

// qkNormForward writes out = x with every query and key head RMS-normed;
// x and out may be the same slice.
func qkNormForward[T float](par int, x []T, W, H, KVH, dh int, wq, wk []T, eps float64, out []T) {
	parallelRows(par, len(x)/W, W, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for c := 0; c < W/dh; c++ {
				row, o := x[i*W+c*dh:i*W+(c+1)*dh], out[i*W+c*dh:i*W+(c+1)*dh]
				var w []T
				switch qkChunk(c, H, KVH) {
				case 0:
					w = wq
				case 1:
					w = wk
				default:
					copy(o, row)
					continue
				}
				r := T(rmsInv(row, eps))
				for j := range row {
					o[j] = row[j] * r * w[j]
				}
			}
		}
	})
}

// qkNormBackward gives dx (the same shape as x), dwq and dwk from dy.
func qkNormBackward[T float](x []T, W, H, KVH, dh int, wq, wk, dy []T, eps float64, dx, dwq, dwk []T) {
	for i := 0; i < len(x)/W; i++ {
		for c := 0; c < W/dh; c++ {
			s := i*W + c*dh
			switch qkChunk(c, H, KVH) {
			case 0:
				rmsNormBackward(1, x[s:s+dh], wq, dy[s:s+dh], dh, eps, dx[s:s+dh], dwq)
			case 1:
				rmsNormBackward(1, x[s:s+dh], wk, dy[s:s+dh], dh, eps, dx[s:s+dh], dwk)
			default:
				copy(dx[s:s+dh], dy[s:s+dh])
			}
		}
	}
}

// qkNormOp maps (qkv, wq, wk) to qkv with its query and key heads normed.
type qkNormOp struct {
	opBase
	heads, kvHeads, dh int
	eps                float64
}

func (o *qkNormOp) Arity() int { return 3 }
func (o *qkNormOp) Type() hm.Type {
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(1), tensorT(2))
}
func (o *qkNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (o *qkNormOp) Do(in ...G.Value) (G.Value, error) {
	shape := in[0].Shape()
	W := shape[1]
	out := zerosOf(dense(in[0]), shape.TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		qkNormForward(0, x, W, o.heads, o.kvHeads, o.dh, dense(in[1]).([]float32), dense(in[2]).([]float32), o.eps, out.([]float32))
	case []float64:
		qkNormForward(0, x, W, o.heads, o.kvHeads, o.dh, dense(in[1]).([]float64), dense(in[2]).([]float64), o.eps, out.([]float64))
	}
	return newDenseLike(out, shape.Clone()...), nil
}
func (o *qkNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (o *qkNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var ns G.Nodes
	for wrt := 0; wrt < 3; wrt++ {
		n, err := G.ApplyOp(&qkNormGradOp{opBase: newBase("qk_norm_grad"), fwd: o, wrt: wrt}, in[0], in[1], in[2], grad)
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// qkNormGradOp gives the gradient with respect to qkv (wrt 0), wq (1) or wk (2).
type qkNormGradOp struct {
	opBase
	fwd *qkNormOp
	wrt int
}

func (o *qkNormGradOp) Arity() int { return 4 }
func (o *qkNormGradOp) Type() hm.Type {
	if o.wrt == 0 {
		return hm.NewFnType(tensorT(2), tensorT(1), tensorT(1), tensorT(2), tensorT(2))
	}
	return hm.NewFnType(tensorT(2), tensorT(1), tensorT(1), tensorT(2), tensorT(1))
}
func (o *qkNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[o.wrt].(tensor.Shape).Clone(), nil
}
func (o *qkNormGradOp) Do(in ...G.Value) (G.Value, error) {
	xs := in[0].Shape()
	W, f := xs[1], o.fwd
	dx := zerosOf(dense(in[0]), xs.TotalSize())
	dwq := zerosOf(dense(in[0]), in[1].Shape().TotalSize())
	dwk := zerosOf(dense(in[0]), in[2].Shape().TotalSize())
	switch x := dense(in[0]).(type) {
	case []float32:
		qkNormBackward(x, W, f.heads, f.kvHeads, f.dh, dense(in[1]).([]float32), dense(in[2]).([]float32), dense(in[3]).([]float32), f.eps,
			dx.([]float32), dwq.([]float32), dwk.([]float32))
	case []float64:
		qkNormBackward(x, W, f.heads, f.kvHeads, f.dh, dense(in[1]).([]float64), dense(in[2]).([]float64), dense(in[3]).([]float64), f.eps,
			dx.([]float64), dwq.([]float64), dwk.([]float64))
	}
	out := []any{dx, dwq, dwk}[o.wrt]
	return newDenseLike(out, in[o.wrt].Shape().Clone()...), nil
}
