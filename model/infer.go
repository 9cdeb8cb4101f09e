package model

import "fmt"

// Inference is the plain-Go forward over a Params' float32 weights: no graph,
// no gradients. It keeps scratch buffers between calls, so one Inference must
// not be used by two goroutines at once; make one per worker (they can share
// the Params, which Forward only reads).
type Inference struct {
	p        *Params
	cos, sin []float64

	// scratch, grown on demand
	x, h, qkv, qr, kr, att, tmp, gu, s []float32
	probs                              []float32
}

// NewInference prepares the forward for p.
func NewInference(p *Params) *Inference {
	c := p.Config
	cos, sin := ropeTables(c.MaxLen, c.D/c.Heads, c.RopeTheta)
	return &Inference{p: p, cos: cos, sin: sin}
}

// VocabSize is the number of logits per position.
func (f *Inference) VocabSize() int { return f.p.Config.Vocab }

// Params returns the weights this forward reads.
func (f *Inference) Params() *Params { return f.p }

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// Forward computes the logits (B*L rows of V) of B sequences of L tokens given
// row-major in ids, with an optional key-padding mask (nil: all valid). The
// result is written to out when it is large enough, else freshly allocated.
func (f *Inference) Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error) {
	c := f.p.Config
	n, d := B*L, c.D
	if len(ids) != n || (valid != nil && len(valid) != n) {
		return nil, fmt.Errorf("model: forward got %d ids, %d valid for %dx%d", len(ids), len(valid), B, L)
	}
	if L > c.MaxLen {
		return nil, fmt.Errorf("model: sequence length %d exceeds max_len %d", L, c.MaxLen)
	}
	for i, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("model: token id %d at %d outside vocab %d", id, i, c.Vocab)
		}
	}
	f.x, f.h = grow(f.x, n*d), grow(f.h, n*d)
	f.qkv, f.qr, f.kr, f.att = grow(f.qkv, n*3*d), grow(f.qr, n*d), grow(f.kr, n*d), grow(f.att, n*d)
	f.tmp, f.gu, f.s = grow(f.tmp, n*d), grow(f.gu, n*2*c.FF), grow(f.s, n*c.FF)
	f.probs = grow(f.probs, B*c.Heads*L*L)
	w := func(name string) []float32 { return f.p.Get(name).Data }
	as := attnShape{B: B, L: L, H: c.Heads, Dh: d / c.Heads, Valid: valid, Cos: f.cos, Sin: f.sin}

	embedForward(w(nameEmbed), ids, d, f.x)
	for i := 0; i < c.Layers; i++ {
		rmsNormForward(f.x, w(layerName(i, nameAttnNrm)), d, c.NormEps, f.h)
		gemm(false, false, n, 3*d, d, 1, f.h, d, w(layerName(i, nameQKV)), 3*d, 0, f.qkv, 3*d)
		ropeQK(as, f.qkv, f.qr, f.kr)
		attnForward(as, f.qr, f.kr, f.qkv, f.probs, f.att)
		gemm(false, false, n, d, d, 1, f.att, d, w(layerName(i, nameWO)), d, 1, f.x, d) // x += att @ Wo
		rmsNormForward(f.x, w(layerName(i, nameMLPNrm)), d, c.NormEps, f.h)
		gemm(false, false, n, 2*c.FF, d, 1, f.h, d, w(layerName(i, nameGateUp)), 2*c.FF, 0, f.gu, 2*c.FF)
		swiGLUForward(f.gu, c.FF, f.s)
		gemm(false, false, n, d, c.FF, 1, f.s, c.FF, w(layerName(i, nameDown)), d, 1, f.x, d) // x += s @ Wdown
	}
	rmsNormForward(f.x, w(nameNorm), d, c.NormEps, f.h)
	if cap(out) < n*c.Vocab {
		out = make([]float32, n*c.Vocab)
	}
	out = out[:n*c.Vocab]
	gemm(false, false, n, c.Vocab, d, 1, f.h, d, w(nameHead), c.Vocab, 0, out, c.Vocab)
	return out, nil
}
