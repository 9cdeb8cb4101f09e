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

	// What the model families differ in (the zero values are remask's own
	// LLaDA-style model).
	KVHeads    int  // key/value heads; fewer than Heads is grouped-query attention (Qwen2/Dream); 0 = Heads
	HeadDim    int  // width of one head; 0 = D/Heads
	QKVBias    bool // biases on the q, k and v projections (Qwen2/Dream)
	TiedEmbed  bool // the output head is the token embedding, transposed: no separate head tensor
	LogitShift bool // the network's logits at position i-1 predict token i (Dream); Forward and the training graph shift them, so callers always read token i's distribution at row i
	// BlockSize > 0 is block-causal attention (BD3-LM, SDAR): positions are
	// cut into blocks of BlockSize and a query in block b sees the keys of
	// blocks 0..b only. 0 is full bidirectional attention. See Layout.
	BlockSize int
	QKNorm    bool // per-head RMSNorm of queries and keys before RoPE (Qwen3, SDAR: q_norm, k_norm)
}

// kvHeads, headDim and the widths of the q and k/v projections.
func (c Config) kvHeads() int {
	if c.KVHeads == 0 {
		return c.Heads
	}
	return c.KVHeads
}

func (c Config) headDim() int {
	if c.HeadDim == 0 && c.Heads > 0 {
		return c.D / c.Heads
	}
	return c.HeadDim
}

func (c Config) qDim() int   { return c.Heads * c.headDim() }
func (c Config) kvDim() int  { return c.kvHeads() * c.headDim() }
func (c Config) qkvDim() int { return c.qDim() + 2*c.kvDim() }

// Validate reports a shape the model cannot be built with.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("model: vocab %d, want at least 2", c.Vocab)
	case c.D < 2 || c.Layers < 1 || c.Heads < 1 || c.FF < 1:
		return fmt.Errorf("model: d %d, layers %d, heads %d, ff %d must all be positive", c.D, c.Layers, c.Heads, c.FF)
	case c.HeadDim < 0 || c.KVHeads < 0:
		return fmt.Errorf("model: head_dim %d and kv_heads %d must not be negative", c.HeadDim, c.KVHeads)
	case c.HeadDim == 0 && c.D%c.Heads != 0:
		return fmt.Errorf("model: d %d is not a multiple of heads %d", c.D, c.Heads)
	case c.Heads%c.kvHeads() != 0:
		return fmt.Errorf("model: heads %d is not a multiple of kv_heads %d (grouped-query attention shares each k/v head among a whole group)", c.Heads, c.kvHeads())
	case c.headDim()%2 != 0 || c.headDim() == 0:
		return fmt.Errorf("model: head width %d must be even for RoPE", c.headDim())
	case c.MaxLen < 1:
		return fmt.Errorf("model: max_len %d, want at least 1", c.MaxLen)
	case c.RopeTheta <= 0 || c.NormEps <= 0:
		return fmt.Errorf("model: rope_theta %g and norm_eps %g must be positive", c.RopeTheta, c.NormEps)
	case c.BlockSize < 0:
		return fmt.Errorf("model: block_size %d must not be negative", c.BlockSize)
	case c.BlockSize > 0 && c.LogitShift:
		return fmt.Errorf("model: block-causal attention with a logit shift is not supported (no family has both)")
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
	nameQKV     = "wqkv"       // (d, H*dh + 2*KVH*dh): q | k | v, heads contiguous
	nameWO      = "wo"         // (H*dh, d)
	nameMLPNrm  = "mlp_norm"   // (d)
	nameGateUp  = "w_gate_up"  // (d, 2f): gate | up
	nameDown    = "w_down"     // (f, d)
	nameNorm    = "final_norm" // (d)
	nameHead    = "head"       // (d, V); absent with TiedEmbed
	nameQKVBias = "bqkv"       // (qkv width), with QKVBias
	nameQNorm   = "q_norm"     // (head width), with QKNorm
	nameKNorm   = "k_norm"     // (head width), with QKNorm
)

func layerName(i int, name string) string { return fmt.Sprintf("layers.%d.%s", i, name) }

// shapes lists every parameter's name and shape in the canonical order.
func (c Config) shapes() []Tensor {
	d, f := c.D, c.FF
	ts := []Tensor{{Name: nameEmbed, Shape: []int{c.Vocab, d}}}
	for i := 0; i < c.Layers; i++ {
		ts = append(ts,
			Tensor{Name: layerName(i, nameAttnNrm), Shape: []int{d}},
			Tensor{Name: layerName(i, nameQKV), Shape: []int{d, c.qkvDim()}})
		if c.QKVBias {
			ts = append(ts, Tensor{Name: layerName(i, nameQKVBias), Shape: []int{c.qkvDim()}})
		}
		if c.QKNorm {
			ts = append(ts,
				Tensor{Name: layerName(i, nameQNorm), Shape: []int{c.headDim()}},
				Tensor{Name: layerName(i, nameKNorm), Shape: []int{c.headDim()}})
		}
		ts = append(ts,
			Tensor{Name: layerName(i, nameWO), Shape: []int{c.qDim(), d}},
			Tensor{Name: layerName(i, nameMLPNrm), Shape: []int{d}},
			Tensor{Name: layerName(i, nameGateUp), Shape: []int{d, 2 * f}},
			Tensor{Name: layerName(i, nameDown), Shape: []int{f, d}},
		)
	}
	ts = append(ts, Tensor{Name: nameNorm, Shape: []int{d}})
	if !c.TiedEmbed {
		ts = append(ts, Tensor{Name: nameHead, Shape: []int{d, c.Vocab}})
	}
	return ts
}

// isNorm reports whether a parameter is an RMSNorm weight (initialised at 1)
// and isBias whether it is a bias (initialised at 0).
func isNorm(name string) bool {
	return strings.HasSuffix(name, nameAttnNrm) || strings.HasSuffix(name, nameMLPNrm) || name == nameNorm ||
		strings.HasSuffix(name, nameQNorm) || strings.HasSuffix(name, nameKNorm)
}

func isBias(name string) bool { return strings.HasSuffix(name, nameQKVBias) }

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
		case isBias(s.Name):
		case isNorm(s.Name):
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

// FromTensors builds Params from copies of stored tensors, checking that
// every expected tensor is present with the right shape and nothing else is
// (Adopt, without the copies).
func FromTensors(c Config, ts []Tensor) (*Params, error) {
	cp := make([]Tensor, len(ts))
	for i, t := range ts {
		cp[i] = Tensor{Name: t.Name, Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
	}
	return Adopt(c, cp)
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
