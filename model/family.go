package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Model families. remask is this package's own model, trained from scratch
// with the char vocabulary. llada and dream are published masked diffusion
// LMs whose Hugging Face checkpoints remask imports and exports; their
// computations are the ones of the modeling code published with them
// (Gen-Verse/dLLM-RL models/llada/modeling_llada.py and
// models/dream/modeling_dream.py), which this package's model covers exactly:
//
//   - LLaDA (block_type llama): RMSNorm -> q, k, v projections (biases with
//     include_qkv_bias) -> rotate-half RoPE over d/heads with theta^(-2i/dh)
//     -> bidirectional attention, scale 1/sqrt(dh), k/v heads shared by
//     groups (repeat_interleave) -> attn_out -> residual; RMSNorm ->
//     ff_out(silu(ff_proj(x)) * up_proj(x)) -> residual; ln_f; logits by
//     ff_out (or the embedding with weight_tying). ff_proj is the gate (the
//     one silu is applied to), up_proj the up projection.
//   - Dream (Qwen2 layout): the same block with q/k/v biases always on,
//     o_proj, mlp.down_proj(silu(gate_proj(x)) * up_proj(x)), norm, lm_head
//     (or the embedding with tie_word_embeddings); its logits at position
//     i-1 predict token i (LogitShift).
//   - SDAR (models/sdar/modeling_sdar.py, Qwen3 layout): Dream's names
//     without biases, a head width of its own (head_dim), q_norm and k_norm
//     (RMSNorm over each head of q and k, before RoPE: QKNorm), no logit
//     shift, and block-causal attention in blocks of block_size from the
//     first position (the mask SDAR's code builds and passes in).
//
// What those files can configure and remask cannot compute (LayerNorm or
// Gemma norms, biases on every linear layer, q/k norms, ALiBi, scaled
// logits, RoPE scaling, another activation) is refused when a config.json
// is read, naming the field: nothing is approximated.
const (
	FamilyRemask = "remask"
	FamilyLLaDA  = "llada"
	FamilyDream  = "dream"
	FamilySDAR   = "sdar"
)

// HFFamilies are the families with a Hugging Face checkpoint layout.
var HFFamilies = []string{FamilyLLaDA, FamilyDream, FamilySDAR}

// DefaultSDARBlockSize is the block size of an SDAR config.json that does
// not say (SDAR's released chat models decode in blocks of 4).
const DefaultSDARBlockSize = 4

// DefaultHFMaxLen is the max_len an import gives a model whose checkpoint
// allows longer sequences (Dream's config says 131072): the RoPE tables are
// sized by it, per forward.
const DefaultHFMaxLen = 4096

// HFModel is what a family's config.json says about the network.
type HFModel struct {
	Family string // llada | dream
	Config Config // the network as this package computes it
	MaskID int    // mask_token_id
	// VocabSize is the config's vocab_size, the tokenizer's ids. Config.Vocab
	// is the number of embedding rows and logits per position, which for
	// LLaDA is embedding_size and may be larger (padded): remask keeps every
	// row, so that logits and an export match the checkpoint's exactly.
	VocabSize int
	// MaxPositions is the checkpoint's max_sequence_length (LLaDA) or
	// max_position_embeddings (Dream); Config.MaxLen is at most
	// DefaultHFMaxLen unless asked for.
	MaxPositions int
	// Raw is config.json as read, numbers kept as written.
	Raw map[string]any
}

// ReadHFConfig reads DIR/config.json (see ParseHFConfig).
func ReadHFConfig(dir string, maxLen int) (HFModel, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return HFModel{}, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := ParseHFConfig(b, maxLen)
	if err != nil {
		return HFModel{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// hfConfig reads fields of a config.json, collecting the required ones that
// are missing and the first value of the wrong type.
type hfConfig struct {
	raw     map[string]any
	missing []string
	err     error
}

func (h *hfConfig) has(key string) bool {
	v, ok := h.raw[key]
	return ok && v != nil
}

// ropeScalingProblems is what the Qwen-style families (dream, sdar) say of
// rope_scaling: their published code computes plain RoPE only, so it must be
// null or of type "default".
func (h *hfConfig) ropeScalingProblems() []string {
	if !h.has("rope_scaling") {
		return nil
	}
	rs, ok := h.raw["rope_scaling"].(map[string]any)
	if !ok {
		return []string{"rope_scaling is not an object or null"}
	}
	kind, _ := rs["rope_type"].(string)
	if kind == "" {
		kind, _ = rs["type"].(string)
	}
	if kind != "default" {
		return []string{fmt.Sprintf("rope_scaling of type %q (want null)", kind)}
	}
	return nil
}

// num reads a number; def is used when the key is absent or null, unless
// required.
func (h *hfConfig) num(key string, def float64, required bool) float64 {
	v, ok := h.raw[key]
	if !ok || v == nil {
		if required {
			h.missing = append(h.missing, key)
		}
		return def
	}
	n, isNum := v.(json.Number)
	f, err := n.Float64()
	if !isNum || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		if h.err == nil {
			h.err = fmt.Errorf("%s is %v, want a number", key, v)
		}
		return def
	}
	return f
}

func (h *hfConfig) int(key string, def int, required bool) int {
	f := h.num(key, float64(def), required)
	if f != math.Trunc(f) || f < 0 || f > 1<<40 {
		if h.err == nil {
			h.err = fmt.Errorf("%s is %v, want a whole number >= 0", key, f)
		}
		return def
	}
	return int(f)
}

func (h *hfConfig) bool(key string, def bool) bool {
	v, ok := h.raw[key]
	if !ok || v == nil {
		return def
	}
	b, isBool := v.(bool)
	if !isBool && h.err == nil {
		h.err = fmt.Errorf("%s is %v, want true or false", key, v)
	}
	return b
}

func (h *hfConfig) str(key, def string) string {
	v, ok := h.raw[key]
	if !ok || v == nil {
		return def
	}
	s, isStr := v.(string)
	if !isStr && h.err == nil {
		h.err = fmt.Errorf("%s is %v, want a string", key, v)
	}
	return s
}

// ParseHFConfig maps a llada or dream config.json onto this package's
// Config. Fields the published configuration classes default keep those
// defaults when absent; the shape fields and the mask token are required.
// maxLen > 0 sets Config.MaxLen; 0 takes the checkpoint's own limit, at most
// DefaultHFMaxLen.
func ParseHFConfig(data []byte, maxLen int) (HFModel, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return HFModel{}, fmt.Errorf("not a JSON object: %v", err)
	}
	mt, _ := raw["model_type"].(string)
	var m HFModel
	var err error
	switch strings.ToLower(mt) {
	case FamilyLLaDA:
		m, err = parseLLaDA(&hfConfig{raw: raw})
	case FamilyDream:
		m, err = parseDream(&hfConfig{raw: raw})
	case FamilySDAR:
		m, err = parseSDAR(&hfConfig{raw: raw})
	case "":
		return HFModel{}, fmt.Errorf("no model_type; remask imports %s", strings.Join(HFFamilies, ", "))
	default:
		return HFModel{}, fmt.Errorf("unknown model_type %q; remask imports %s", mt, strings.Join(HFFamilies, ", "))
	}
	if err != nil {
		return HFModel{}, err
	}
	m.Raw = raw
	if maxLen > 0 {
		m.Config.MaxLen = maxLen
	} else {
		m.Config.MaxLen = min(m.MaxPositions, DefaultHFMaxLen)
	}
	if m.MaskID < 0 || m.MaskID >= m.Config.Vocab {
		return HFModel{}, fmt.Errorf("mask_token_id %d is outside the %d embedding rows", m.MaskID, m.Config.Vocab)
	}
	if err := m.Config.Validate(); err != nil {
		return HFModel{}, fmt.Errorf("%s config: %w", m.Family, err)
	}
	return m, nil
}

// check finishes a family's parse: the missing required fields, then the
// first malformed one, then what remask cannot compute.
func (h *hfConfig) check(family string, unsupported []string) error {
	if len(h.missing) > 0 {
		return fmt.Errorf("%s config.json is missing %s", family, strings.Join(h.missing, ", "))
	}
	if h.err != nil {
		return fmt.Errorf("%s config.json: %w", family, h.err)
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("%s config.json: %s: remask's model cannot compute this (the published checkpoints do not use it)", family, strings.Join(unsupported, "; "))
	}
	return nil
}

// parseLLaDA reads configuration_llada.py's ModelConfig fields, with its
// dataclass defaults where a field is absent.
func parseLLaDA(h *hfConfig) (HFModel, error) {
	d := h.int("d_model", 0, true)
	heads := h.int("n_heads", 0, true)
	layers := h.int("n_layers", 0, true)
	vocab := h.int("vocab_size", 0, true)
	mask := h.int("mask_token_id", 0, true)
	emb := h.int("embedding_size", 50304, false)
	if v, ok := h.raw["embedding_size"]; (ok && v == nil) || emb == 0 {
		emb = vocab // None (or 0): `config.embedding_size or config.vocab_size` rows
	}
	ff := h.int("mlp_hidden_size", 0, false)
	if !h.has("mlp_hidden_size") {
		ff = h.int("mlp_ratio", 4, false) * d
	}
	kv := heads
	if h.has("n_kv_heads") {
		kv = h.int("n_kv_heads", heads, false)
		if h.has("multi_query_attention") {
			want := heads
			if h.bool("multi_query_attention", false) {
				want = 1
			}
			if kv != want && h.err == nil {
				h.err = fmt.Errorf("n_kv_heads %d and multi_query_attention disagree (the published config refuses both)", kv)
			}
		}
	} else if h.bool("multi_query_attention", false) {
		kv = 1
	}
	maxPos := h.int("max_sequence_length", 1024, false)
	theta := h.num("rope_theta", 10000, false)
	eps := h.num("rms_norm_eps", 1e-5, false)
	tied := h.bool("weight_tying", true)
	qkvBias := h.bool("include_qkv_bias", false)
	includeBias := h.bool("include_bias", false)
	normBias := includeBias
	if h.has("bias_for_layer_norm") {
		normBias = h.bool("bias_for_layer_norm", false)
	}

	var bad []string
	want := func(key, got, ok string) {
		if got != ok {
			bad = append(bad, fmt.Sprintf("%s %s (want %s)", key, got, ok))
		}
	}
	want("block_type", h.str("block_type", "sequential"), "llama")
	want("activation_type", h.str("activation_type", "swiglu"), "silu")
	want("layer_norm_type", h.str("layer_norm_type", "default"), "rms")
	for _, f := range []struct {
		key     string
		def, ok bool // the published default, what remask computes
	}{
		{"rope", false, true}, {"alibi", false, false}, {"layer_norm_with_affine", true, true},
		{"attention_layer_norm", false, false}, {"scale_logits", false, false}, {"input_emb_norm", false, false},
		{"include_bias", false, false},
	} {
		if v := h.bool(f.key, f.def); v != f.ok {
			bad = append(bad, fmt.Sprintf("%s %v (want %v)", f.key, v, f.ok))
		}
	}
	if normBias && !includeBias {
		bad = append(bad, "bias_for_layer_norm true (want false)")
	}
	if g := h.int("block_group_size", 1, false); g != 1 {
		bad = append(bad, fmt.Sprintf("block_group_size %d (want 1)", g))
	}
	if err := h.check(FamilyLLaDA, bad); err != nil {
		return HFModel{}, err
	}
	if heads == 0 || d%heads != 0 {
		return HFModel{}, fmt.Errorf("llada config.json: d_model %d is not a multiple of n_heads %d", d, heads)
	}
	if emb < vocab {
		return HFModel{}, fmt.Errorf("llada config.json: embedding_size %d is smaller than vocab_size %d", emb, vocab)
	}
	c := Config{Vocab: emb, D: d, Layers: layers, Heads: heads, KVHeads: kv, FF: ff, RopeTheta: theta, NormEps: eps,
		QKVBias: qkvBias, TiedEmbed: tied}
	return HFModel{Family: FamilyLLaDA, Config: c, MaskID: mask, VocabSize: vocab, MaxPositions: maxPos}, nil
}

// parseDream reads configuration_dream.py's DreamConfig fields, with its
// defaults where a field is absent.
func parseDream(h *hfConfig) (HFModel, error) {
	d := h.int("hidden_size", 0, true)
	heads := h.int("num_attention_heads", 0, true)
	layers := h.int("num_hidden_layers", 0, true)
	ff := h.int("intermediate_size", 0, true)
	vocab := h.int("vocab_size", 0, true)
	mask := h.int("mask_token_id", 0, true)
	kv := h.int("num_key_value_heads", heads, false)
	maxPos := h.int("max_position_embeddings", 32768, false)
	theta := h.num("rope_theta", 10000, false)
	eps := h.num("rms_norm_eps", 1e-6, false)
	tied := h.bool("tie_word_embeddings", false)
	var bad []string
	if act := h.str("hidden_act", "silu"); act != "silu" {
		bad = append(bad, fmt.Sprintf("hidden_act %s (want silu)", act))
	}
	bad = append(bad, h.ropeScalingProblems()...)
	if f := h.num("partial_rotary_factor", 1, false); f != 1 {
		bad = append(bad, fmt.Sprintf("partial_rotary_factor %g (want 1)", f))
	}
	// modeling_dream.py computes the head width as hidden_size /
	// num_attention_heads and ignores head_dim, which transformers' RoPE
	// would read: a different head_dim cannot be computed as published.
	if h.has("head_dim") && heads > 0 {
		if hd := h.int("head_dim", 0, false); hd != d/heads {
			bad = append(bad, fmt.Sprintf("head_dim %d (want hidden_size/num_attention_heads = %d)", hd, d/heads))
		}
	}
	// use_sliding_window is ignored, as modeling_dream.py's attention does.
	if err := h.check(FamilyDream, bad); err != nil {
		return HFModel{}, err
	}
	if heads == 0 || d%heads != 0 {
		return HFModel{}, fmt.Errorf("dream config.json: hidden_size %d is not a multiple of num_attention_heads %d", d, heads)
	}
	c := Config{Vocab: vocab, D: d, Layers: layers, Heads: heads, KVHeads: kv, FF: ff, RopeTheta: theta, NormEps: eps,
		QKVBias: true, TiedEmbed: tied, LogitShift: true}
	return HFModel{Family: FamilyDream, Config: c, MaskID: mask, VocabSize: vocab, MaxPositions: maxPos}, nil
}

// parseSDAR reads configuration_sdar.py's SDARConfig fields (Qwen3's), with
// its defaults where a field is absent. The block size is config.json's
// block_size (DefaultSDARBlockSize when absent); mask_token_id is required,
// as for the other families.
func parseSDAR(h *hfConfig) (HFModel, error) {
	d := h.int("hidden_size", 0, true)
	heads := h.int("num_attention_heads", 0, true)
	layers := h.int("num_hidden_layers", 0, true)
	ff := h.int("intermediate_size", 0, true)
	vocab := h.int("vocab_size", 0, true)
	mask := h.int("mask_token_id", 0, true)
	kv := h.int("num_key_value_heads", heads, false)
	hd := h.int("head_dim", 128, false)
	maxPos := h.int("max_position_embeddings", 32768, false)
	theta := h.num("rope_theta", 10000, false)
	eps := h.num("rms_norm_eps", 1e-6, false)
	tied := h.bool("tie_word_embeddings", false)
	bs := h.int("block_size", DefaultSDARBlockSize, false)
	var bad []string
	if act := h.str("hidden_act", "silu"); act != "silu" {
		bad = append(bad, fmt.Sprintf("hidden_act %s (want silu)", act))
	}
	if h.bool("attention_bias", false) {
		bad = append(bad, "attention_bias true (want false: biases on q, k, v and o)")
	}
	bad = append(bad, h.ropeScalingProblems()...)
	if h.bool("use_sliding_window", false) {
		bad = append(bad, "use_sliding_window true (want false)")
	}
	if err := h.check(FamilySDAR, bad); err != nil {
		return HFModel{}, err
	}
	if bs < 1 {
		return HFModel{}, fmt.Errorf("sdar config.json: block_size %d, want at least 1", bs)
	}
	hdField := hd
	if heads > 0 && hd*heads == d {
		hdField = 0 // d/heads: the default width
	}
	c := Config{Vocab: vocab, D: d, Layers: layers, Heads: heads, KVHeads: kv, HeadDim: hdField, FF: ff, RopeTheta: theta, NormEps: eps,
		TiedEmbed: tied, QKNorm: true, BlockSize: bs}
	return HFModel{Family: FamilySDAR, Config: c, MaskID: mask, VocabSize: vocab, MaxPositions: maxPos}, nil
}

// CheckFamily reports whether c is a network the family's published code
// computes (its head width d/heads, its biases and logit shift).
func CheckFamily(family string, c Config) error {
	switch family {
	case FamilyLLaDA:
		if c.LogitShift {
			return fmt.Errorf("llada has no logit shift")
		}
	case FamilyDream:
		if !c.LogitShift || !c.QKVBias {
			return fmt.Errorf("dream has q/k/v biases and a logit shift (logit_shift %v, qkv_bias %v)", c.LogitShift, c.QKVBias)
		}
	case FamilySDAR:
		if c.LogitShift || c.QKVBias || !c.QKNorm || c.BlockSize < 1 {
			return fmt.Errorf("sdar has q/k norms and block-causal attention, no biases and no logit shift (qk_norm %v, block_size %d, qkv_bias %v, logit_shift %v)",
				c.QKNorm, c.BlockSize, c.QKVBias, c.LogitShift)
		}
		return nil // its head width is head_dim, not d/heads
	default:
		return fmt.Errorf("family %q has no Hugging Face layout (want %s)", family, strings.Join(HFFamilies, " or "))
	}
	if c.QKNorm || c.BlockSize > 0 {
		return fmt.Errorf("%s has no q/k norms and full attention (qk_norm %v, block_size %d)", family, c.QKNorm, c.BlockSize)
	}
	if c.Heads == 0 || c.headDim() != c.D/c.Heads || c.D%c.Heads != 0 {
		return fmt.Errorf("%s computes a head width of d/heads = %d/%d; this model's is %d", family, c.D, c.Heads, c.headDim())
	}
	return nil
}

// Shapes lists the parameters of a model of this shape (names and shapes,
// no values) in their canonical order.
func (c Config) Shapes() []Tensor { return c.shapes() }

// Adopt builds Params over stored tensors without copying their values (the
// caller hands them over), checking names and shapes as FromTensors does.
func Adopt(c Config, ts []Tensor) (*Params, error) {
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
		p.Tensors = append(p.Tensors, &Tensor{Name: s.Name, Shape: s.Shape, Data: t.Data})
		delete(have, s.Name)
	}
	for name := range have {
		return nil, fmt.Errorf("model: unexpected tensor %q for this shape", name)
	}
	p.index()
	return p, nil
}

// HFTensor is one tensor of a family's checkpoint and where its values sit
// in remask's parameters.
type HFTensor struct {
	Name  string // the family's name, e.g. model.layers.0.self_attn.q_proj.weight
	Shape []int  // its shape there
	Param string // the remask parameter holding it, e.g. layers.0.wqkv
	// Linear marks an nn.Linear weight, (out, in) in the checkpoint: remask
	// holds it transposed, as columns [Off, Off+out) of an (in, width)
	// matrix (q, k and v side by side in wqkv, gate and up in w_gate_up).
	// Otherwise the values are copied as they are into elements [Off,
	// Off+n) of the parameter (embedding, norms, biases).
	Linear bool
	Off    int
}

// HFLayout lists a family's checkpoint tensors for a network of shape c, in
// the order the family's modules define them.
func HFLayout(family string, c Config) ([]HFTensor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := CheckFamily(family, c); err != nil {
		return nil, err
	}
	d, f, dq, dkv := c.D, c.FF, c.qDim(), c.kvDim()
	var ts []HFTensor
	lin := func(name string, out, in int, param string, off int) {
		ts = append(ts, HFTensor{Name: name, Shape: []int{out, in}, Param: param, Linear: true, Off: off})
	}
	cp := func(name string, shape []int, param string, off int) {
		ts = append(ts, HFTensor{Name: name, Shape: shape, Param: param, Off: off})
	}
	type names struct{ emb, attnNorm, q, k, v, o, mlpNorm, gate, up, down, norm, head string }
	// SDAR has Dream's (Qwen's) names, and q_norm, k_norm.
	var n names
	var block func(i int) string
	switch family {
	case FamilyLLaDA:
		n = names{"model.transformer.wte.weight", "attn_norm", "q_proj", "k_proj", "v_proj", "attn_out", "ff_norm", "ff_proj", "up_proj", "ff_out",
			"model.transformer.ln_f.weight", "model.transformer.ff_out.weight"}
		block = func(i int) string { return fmt.Sprintf("model.transformer.blocks.%d.", i) }
	case FamilyDream, FamilySDAR:
		n = names{"model.embed_tokens.weight", "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
			"post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "model.norm.weight", "lm_head.weight"}
		block = func(i int) string { return fmt.Sprintf("model.layers.%d.", i) }
	}
	cp(n.emb, []int{c.Vocab, d}, nameEmbed, 0)
	for i := 0; i < c.Layers; i++ {
		b := block(i)
		cp(b+n.attnNorm+".weight", []int{d}, layerName(i, nameAttnNrm), 0)
		lin(b+n.q+".weight", dq, d, layerName(i, nameQKV), 0)
		lin(b+n.k+".weight", dkv, d, layerName(i, nameQKV), dq)
		lin(b+n.v+".weight", dkv, d, layerName(i, nameQKV), dq+dkv)
		if c.QKVBias {
			cp(b+n.q+".bias", []int{dq}, layerName(i, nameQKVBias), 0)
			cp(b+n.k+".bias", []int{dkv}, layerName(i, nameQKVBias), dq)
			cp(b+n.v+".bias", []int{dkv}, layerName(i, nameQKVBias), dq+dkv)
		}
		if c.QKNorm {
			cp(b+"self_attn.q_norm.weight", []int{c.headDim()}, layerName(i, nameQNorm), 0)
			cp(b+"self_attn.k_norm.weight", []int{c.headDim()}, layerName(i, nameKNorm), 0)
		}
		lin(b+n.o+".weight", d, dq, layerName(i, nameWO), 0)
		cp(b+n.mlpNorm+".weight", []int{d}, layerName(i, nameMLPNrm), 0)
		lin(b+n.gate+".weight", f, d, layerName(i, nameGateUp), 0)
		lin(b+n.up+".weight", f, d, layerName(i, nameGateUp), f)
		lin(b+n.down+".weight", d, f, layerName(i, nameDown), 0)
	}
	cp(n.norm, []int{d}, nameNorm, 0)
	if !c.TiedEmbed {
		lin(n.head, c.Vocab, d, nameHead, 0)
	}
	return ts, nil
}

// HFIgnored reports whether a checkpoint tensor outside the layout is one
// the family's loader drops too: the output head of a tied model (tied to
// the embedding after loading) and RoPE's non-persistent inv_freq buffers.
func HFIgnored(family string, c Config, name string) bool {
	switch {
	case strings.HasSuffix(name, ".rotary_emb.inv_freq"):
		return true
	case (family == FamilyDream || family == FamilySDAR) && c.TiedEmbed && name == "lm_head.weight":
		return true
	case family == FamilyLLaDA && c.TiedEmbed && name == "model.transformer.ff_out.weight":
		return true
	}
	return false
}

// HFReader gives a checkpoint's tensors as float32, a range of elements at
// a time (row-major).
type HFReader interface {
	ReadF32(name string, off int64, dst []float32) error
}

// linearBlock is how many checkpoint rows a transposed copy reads at once:
// enough for long contiguous writes, small enough to stay in cache.
const linearBlock = 64

// FillFromHF writes the remask parameter named param, of the given shape,
// into dst from the checkpoint tensors the layout maps to it.
func FillFromHF(layout []HFTensor, param string, shape []int, dst []float32, r HFReader) error {
	if len(dst) != numel(shape) {
		return fmt.Errorf("fill %s: %d values for shape %v", param, len(dst), shape)
	}
	width := shape[len(shape)-1]
	var buf []float32
	found := false
	for _, t := range layout {
		if t.Param != param {
			continue
		}
		found = true
		if !t.Linear {
			if err := r.ReadF32(t.Name, 0, dst[t.Off:t.Off+numel(t.Shape)]); err != nil {
				return err
			}
			continue
		}
		out, in := t.Shape[0], t.Shape[1]
		if len(shape) != 2 || shape[0] != in || t.Off+out > width {
			return fmt.Errorf("fill %s %v from %s %v: shapes do not fit", param, shape, t.Name, t.Shape)
		}
		if buf == nil {
			buf = make([]float32, linearBlock*in)
		}
		for j0 := 0; j0 < out; j0 += linearBlock {
			nb := min(linearBlock, out-j0)
			blk := buf[:nb*in]
			if err := r.ReadF32(t.Name, int64(j0)*int64(in), blk); err != nil {
				return err
			}
			for i := 0; i < in; i++ {
				row := dst[i*width+t.Off+j0 : i*width+t.Off+j0+nb]
				for jj := range row {
					row[jj] = blk[jj*in+i]
				}
			}
		}
	}
	if !found {
		return fmt.Errorf("fill %s: no checkpoint tensor maps to it", param)
	}
	return nil
}

// HFData returns the values of checkpoint tensor t (in its own layout) from
// p, written into dst when it is large enough.
func (p *Params) HFData(t HFTensor, dst []float32) ([]float32, error) {
	src := p.Get(t.Param)
	if src == nil {
		return nil, fmt.Errorf("export %s: no parameter %s", t.Name, t.Param)
	}
	n := numel(t.Shape)
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	if !t.Linear {
		if t.Off+n > len(src.Data) {
			return nil, fmt.Errorf("export %s: %s holds %d values", t.Name, t.Param, len(src.Data))
		}
		copy(dst, src.Data[t.Off:t.Off+n])
		return dst, nil
	}
	out, in := t.Shape[0], t.Shape[1]
	width := src.Shape[len(src.Shape)-1]
	if len(src.Shape) != 2 || src.Shape[0] != in || t.Off+out > width {
		return nil, fmt.Errorf("export %s %v from %s %v: shapes do not fit", t.Name, t.Shape, t.Param, src.Shape)
	}
	for j := 0; j < out; j++ {
		row := dst[j*in : (j+1)*in]
		for i := range row {
			row[i] = src.Data[i*width+t.Off+j]
		}
	}
	return dst, nil
}

// HFConfigJSON writes a family's config.json for a network of shape c with
// mask token maskID. base, when not nil, is the config.json the model was
// imported with: its fields are kept (token ids, dropout, version notes) and
// the ones that describe the network are set from c; without it the
// published config's fields are written with their values for c.
func HFConfigJSON(family string, c Config, maskID int, base map[string]any) ([]byte, error) {
	if err := CheckFamily(family, c); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	set := func(kv map[string]any) {
		for k, v := range kv {
			out[k] = v
		}
	}
	setIfAbsent := func(kv map[string]any) {
		for k, v := range kv {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	baseInt := func(key string) int {
		n, ok := base[key].(json.Number)
		if !ok {
			return 0
		}
		v, err := n.Int64()
		if err != nil {
			return 0
		}
		return int(v)
	}
	maxPos := max(c.MaxLen, baseInt(map[string]string{FamilyLLaDA: "max_sequence_length", FamilyDream: "max_position_embeddings", FamilySDAR: "max_position_embeddings"}[family]))
	switch family {
	case FamilyLLaDA:
		vocab := baseInt("vocab_size")
		if vocab <= 0 || vocab > c.Vocab {
			vocab = c.Vocab
		}
		setIfAbsent(map[string]any{
			"alibi_bias_max": floatJSON(8), "attention_dropout": floatJSON(0), "attention_layer_norm_with_affine": true,
			"block_group_size": 1, "embedding_dropout": floatJSON(0), "flash_attention": false, "init_cutoff_factor": nil,
			"init_device": "meta", "init_fn": "mitchell", "init_std": floatJSON(0.02), "mlp_ratio": 4, "multi_query_attention": nil,
			"residual_dropout": floatJSON(0), "rope_full_precision": true, "use_cache": false,
		})
		set(map[string]any{
			"model_type": "llada", "architectures": []any{"LLaDAModelLM"},
			"auto_map": map[string]any{"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM", "AutoModel": "modeling_llada.LLaDAModelLM"},
			"d_model":  c.D, "n_heads": c.Heads, "n_kv_heads": c.kvHeads(), "n_layers": c.Layers, "mlp_hidden_size": c.FF,
			"embedding_size": c.Vocab, "vocab_size": vocab, "max_sequence_length": maxPos,
			"rope_theta": floatJSON(c.RopeTheta), "rms_norm_eps": floatJSON(c.NormEps), "mask_token_id": maskID,
			"weight_tying": c.TiedEmbed, "include_qkv_bias": c.QKVBias, "include_bias": false, "bias_for_layer_norm": false,
			"block_type": "llama", "activation_type": "silu", "layer_norm_type": "rms", "layer_norm_with_affine": true,
			"rope": true, "alibi": false, "attention_layer_norm": false, "scale_logits": false, "input_emb_norm": false,
			"torch_dtype": "float32",
		})
		if _, ok := out["multi_query_attention"]; ok {
			out["multi_query_attention"] = nil // n_kv_heads says it
		}
	case FamilyDream:
		setIfAbsent(map[string]any{
			"attention_dropout": floatJSON(0), "initializer_range": floatJSON(0.02), "max_window_layers": c.Layers,
			"sliding_window": nil, "use_cache": false, "use_sliding_window": false,
		})
		set(map[string]any{
			"model_type": "Dream", "architectures": []any{"DreamModel"},
			"auto_map":    map[string]any{"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
			"hidden_size": c.D, "num_attention_heads": c.Heads, "num_key_value_heads": c.kvHeads(), "num_hidden_layers": c.Layers,
			"intermediate_size": c.FF, "vocab_size": c.Vocab, "max_position_embeddings": maxPos,
			"rope_theta": floatJSON(c.RopeTheta), "rms_norm_eps": floatJSON(c.NormEps), "mask_token_id": maskID,
			"tie_word_embeddings": c.TiedEmbed, "hidden_act": "silu", "rope_scaling": nil, "torch_dtype": "float32",
		})
		delete(out, "head_dim")
	case FamilySDAR:
		setIfAbsent(map[string]any{
			"attention_dropout": floatJSON(0), "initializer_range": floatJSON(0.02), "max_window_layers": c.Layers,
			"sliding_window": nil, "use_cache": false,
		})
		set(map[string]any{
			"model_type": "sdar", "architectures": []any{"SDARForCausalLM"},
			"auto_map":    map[string]any{"AutoConfig": "configuration_sdar.SDARConfig", "AutoModelForCausalLM": "modeling_sdar.SDARForCausalLM"},
			"hidden_size": c.D, "num_attention_heads": c.Heads, "num_key_value_heads": c.kvHeads(), "num_hidden_layers": c.Layers,
			"head_dim": c.headDim(), "intermediate_size": c.FF, "vocab_size": c.Vocab, "max_position_embeddings": maxPos,
			"rope_theta": floatJSON(c.RopeTheta), "rms_norm_eps": floatJSON(c.NormEps), "mask_token_id": maskID,
			"tie_word_embeddings": c.TiedEmbed, "hidden_act": "silu", "rope_scaling": nil, "attention_bias": false,
			"use_sliding_window": false, "block_size": c.BlockSize, "torch_dtype": "float32",
		})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// floatJSON writes a float as Python's json does (repr: 1e-05, 500000.0,
// 1e+16), so that a config reads back as a float in Python.
func floatJSON(v float64) json.Number {
	if a := math.Abs(v); a != 0 && (a < 1e-4 || a >= 1e16) {
		return json.Number(strconv.FormatFloat(v, 'e', -1, 64))
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return json.Number(s)
}

// SortedHFNames lists a layout's names, sorted (as safetensors headers and
// index files list them).
func SortedHFNames(layout []HFTensor) []string {
	names := make([]string, len(layout))
	for i, t := range layout {
		names[i] = t.Name
	}
	sort.Strings(names)
	return names
}
