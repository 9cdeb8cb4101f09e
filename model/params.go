package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Config is the shape of a model. configs.Model resolves a preset into it.
type Config struct {
	Vocab     int     // vocabulary size, specials included
	D         int     // model width
	Layers    int     // transformer blocks
	Heads     int     // attention heads; D % Heads == 0 and D/Heads even (RoPE)
	FF        int     // SwiGLU hidden width
	MaxLen    int     // longest sequence the RoPE tables cover
	RopeTheta float64 // RoPE base, 10000 in LLaDA
	NormEps   float64 // RMSNorm epsilon, 1e-5
}

// Validate reports a shape the model cannot be built with.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("model: vocab %d, want at least 2", c.Vocab)
	case c.D < 2 || c.Layers < 1 || c.Heads < 1 || c.FF < 1:
		return fmt.Errorf("model: d %d, layers %d, heads %d, ff %d must all be positive", c.D, c.Layers, c.Heads, c.FF)
	case c.D%c.Heads != 0:
		return fmt.Errorf("model: d %d is not a multiple of heads %d", c.D, c.Heads)
	case (c.D/c.Heads)%2 != 0:
		return fmt.Errorf("model: head width %d must be even for RoPE", c.D/c.Heads)
	case c.MaxLen < 1:
		return fmt.Errorf("model: max_len %d, want at least 1", c.MaxLen)
	case c.RopeTheta <= 0 || c.NormEps <= 0:
		return fmt.Errorf("model: rope_theta %g and norm_eps %g must be positive", c.RopeTheta, c.NormEps)
	}
	return nil
}

// Tensor is one named parameter: float32, row-major.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Params holds every weight of a model, in a fixed order. Linear layers are
// stored (in, out) so that a layer is x @ W.
type Params struct {
	Config  Config
	Tensors []*Tensor
	byName  map[string]*Tensor
}

// Parameter names. Per layer: layers.<i>.<name>.
const (
	nameEmbed   = "tok_emb"    // (V, d)
	nameAttnNrm = "attn_norm"  // (d)
	nameQKV     = "wqkv"       // (d, 3d): q | k | v, heads contiguous
	nameWO      = "wo"         // (d, d)
	nameMLPNrm  = "mlp_norm"   // (d)
	nameGateUp  = "w_gate_up"  // (d, 2f): gate | up
	nameDown    = "w_down"     // (f, d)
	nameNorm    = "final_norm" // (d)
	nameHead    = "head"       // (d, V)
)

func layerName(i int, name string) string { return fmt.Sprintf("layers.%d.%s", i, name) }

// shapes lists every parameter's name and shape in the canonical order.
func (c Config) shapes() []Tensor {
	d, f := c.D, c.FF
	ts := []Tensor{{Name: nameEmbed, Shape: []int{c.Vocab, d}}}
	for i := 0; i < c.Layers; i++ {
		ts = append(ts,
			Tensor{Name: layerName(i, nameAttnNrm), Shape: []int{d}},
			Tensor{Name: layerName(i, nameQKV), Shape: []int{d, 3 * d}},
			Tensor{Name: layerName(i, nameWO), Shape: []int{d, d}},
			Tensor{Name: layerName(i, nameMLPNrm), Shape: []int{d}},
			Tensor{Name: layerName(i, nameGateUp), Shape: []int{d, 2 * f}},
			Tensor{Name: layerName(i, nameDown), Shape: []int{f, d}},
		)
	}
	return append(ts, Tensor{Name: nameNorm, Shape: []int{d}}, Tensor{Name: nameHead, Shape: []int{d, c.Vocab}})
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// New initialises a model: norms at 1, every matrix N(0, 0.02), and the two
// projections that write into the residual stream (wo, w_down) scaled by
// 1/sqrt(2 layers) so the residual variance does not grow with depth.
func New(c Config, seed uint64) (*Params, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6f64656c)) // "model"
	p := &Params{Config: c}
	for _, s := range c.shapes() {
		t := &Tensor{Name: s.Name, Shape: s.Shape, Data: make([]float32, numel(s.Shape))}
		switch {
		case len(s.Shape) == 1:
			for i := range t.Data {
				t.Data[i] = 1
			}
		default:
			std := 0.02
			if strings.HasSuffix(s.Name, nameWO) || strings.HasSuffix(s.Name, nameDown) {
				std /= math.Sqrt(2 * float64(c.Layers))
			}
			for i := range t.Data {
				t.Data[i] = float32(rng.NormFloat64() * std)
			}
		}
		p.Tensors = append(p.Tensors, t)
	}
	p.index()
	return p, nil
}

// FromTensors builds Params from stored tensors, checking that every expected
// tensor is present with the right shape and nothing else is.
func FromTensors(c Config, ts []Tensor) (*Params, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	have := make(map[string]Tensor, len(ts))
	for _, t := range ts {
		have[t.Name] = t
	}
	p := &Params{Config: c}
	for _, s := range c.shapes() {
		t, ok := have[s.Name]
		if !ok {
			return nil, fmt.Errorf("model: tensor %q missing", s.Name)
		}
		if !slices.Equal(t.Shape, s.Shape) || len(t.Data) != numel(s.Shape) {
			return nil, fmt.Errorf("model: tensor %q has shape %v (%d values), want %v", s.Name, t.Shape, len(t.Data), s.Shape)
		}
		p.Tensors = append(p.Tensors, &Tensor{Name: s.Name, Shape: append([]int(nil), s.Shape...), Data: append([]float32(nil), t.Data...)})
		delete(have, s.Name)
	}
	for name := range have {
		return nil, fmt.Errorf("model: unexpected tensor %q for this shape", name)
	}
	p.index()
	return p, nil
}

func (p *Params) index() {
	p.byName = make(map[string]*Tensor, len(p.Tensors))
	for _, t := range p.Tensors {
		p.byName[t.Name] = t
	}
}

// Get returns the named tensor, or nil.
func (p *Params) Get(name string) *Tensor { return p.byName[name] }

// Clone returns a deep copy (a frozen reference model, a rollout snapshot).
func (p *Params) Clone() *Params {
	q := &Params{Config: p.Config}
	for _, t := range p.Tensors {
		q.Tensors = append(q.Tensors, &Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)})
	}
	q.index()
	return q
}

// CopyFrom overwrites p's values with q's; the shapes must match.
func (p *Params) CopyFrom(q *Params) {
	for i, t := range p.Tensors {
		copy(t.Data, q.Tensors[i].Data)
	}
}

// NumParams counts every weight.
func (p *Params) NumParams() int {
	n := 0
	for _, t := range p.Tensors {
		n += len(t.Data)
	}
	return n
}
