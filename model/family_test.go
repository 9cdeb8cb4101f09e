package model

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

const lladaJSON = `{"model_type": "llada", "d_model": 48, "n_heads": 4, "n_kv_heads": 2, "n_layers": 2,
	"mlp_hidden_size": 80, "vocab_size": 200, "embedding_size": 256, "max_sequence_length": 8192,
	"rope_theta": 500000.0, "rms_norm_eps": 1e-05, "mask_token_id": 126, "weight_tying": false,
	"include_qkv_bias": true, "activation_type": "silu", "block_type": "llama", "layer_norm_type": "rms",
	"rope": true, "eos_token_id": 3}`

const dreamJSON = `{"model_type": "Dream", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
	"num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 160, "max_position_embeddings": 131072,
	"rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "mask_token_id": 151, "tie_word_embeddings": true,
	"rope_scaling": null, "use_sliding_window": false}`

func TestParseHFConfig(t *testing.T) {
	l, err := ParseHFConfig([]byte(lladaJSON), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Vocab: 256, D: 48, Layers: 2, Heads: 4, KVHeads: 2, FF: 80, MaxLen: DefaultHFMaxLen, RopeTheta: 500000, NormEps: 1e-5, QKVBias: true}
	if l.Family != FamilyLLaDA || l.Config != want || l.MaskID != 126 || l.VocabSize != 200 || l.MaxPositions != 8192 {
		t.Fatalf("llada: %+v", l)
	}
	d, err := ParseHFConfig([]byte(dreamJSON), 512)
	if err != nil {
		t.Fatal(err)
	}
	want = Config{Vocab: 160, D: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, MaxLen: 512, RopeTheta: 1e6, NormEps: 1e-6, QKVBias: true, TiedEmbed: true, LogitShift: true}
	if d.Family != FamilyDream || d.Config != want || d.MaskID != 151 || d.MaxPositions != 131072 {
		t.Fatalf("dream: %+v", d)
	}
	s, err := ParseHFConfig([]byte(sdarJSON), 0)
	if err != nil {
		t.Fatal(err)
	}
	want = Config{Vocab: 144, D: 48, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16, FF: 80, MaxLen: 128, RopeTheta: 1e6, NormEps: 1e-6, QKNorm: true, BlockSize: 4}
	if s.Family != FamilySDAR || s.Config != want || s.MaskID != 140 {
		t.Fatalf("sdar: %+v", s)
	}
	for _, c := range []struct{ json, want string }{
		{`{"model_type": "sdar", "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 8, "mask_token_id": 7, "head_dim": 4, "attention_bias": true}`, "attention_bias true"},
		{`{"model_type": "sdar", "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 8, "mask_token_id": 7, "head_dim": 4, "block_size": 0}`, "block_size 0"},
		{`{"model_type": "sdar", "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 8, "head_dim": 4}`, "missing mask_token_id"},
	} {
		if _, err := ParseHFConfig([]byte(c.json), 0); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.want)
		}
	}
	// block_size absent: SDAR's 4
	b, err := ParseHFConfig([]byte(`{"model_type": "sdar", "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 8, "mask_token_id": 7, "head_dim": 4}`), 0)
	if err != nil || b.Config.BlockSize != DefaultSDARBlockSize || b.Config.HeadDim != 0 {
		t.Fatalf("sdar defaults: %+v %v", b.Config, err)
	}
}

// sdarJSON is model/testdata/hf/sdar's config.json.
var sdarJSON = func() string {
	b, err := os.ReadFile("testdata/hf/sdar/config.json")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// Each bad config.json is one error naming what is wrong.
func TestParseHFConfigRejects(t *testing.T) {
	edit := func(base string, kv ...any) string {
		var m map[string]any
		json.Unmarshal([]byte(base), &m)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "DELETE" {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, c := range []struct{ json, want string }{
		{`{"model_type": "qwen2"}`, `unknown model_type "qwen2"; remask imports llada, dream, sdar`},
		{`{"d_model": 8}`, "no model_type; remask imports llada, dream, sdar"},
		{`[1]`, "not a JSON object"},
		{edit(lladaJSON, "d_model", "DELETE", "n_heads", "DELETE"), "llada config.json is missing d_model, n_heads"},
		{edit(dreamJSON, "mask_token_id", "DELETE"), "dream config.json is missing mask_token_id"},
		{edit(lladaJSON, "d_model", "wide"), "d_model is wide, want a number"},
		{edit(lladaJSON, "n_layers", 2.5), "n_layers is 2.5, want a whole number"},
		{edit(lladaJSON, "block_type", "DELETE"), "block_type sequential (want llama)"},
		{edit(lladaJSON, "layer_norm_type", "default"), "layer_norm_type default (want rms)"},
		{edit(lladaJSON, "activation_type", "swiglu"), "activation_type swiglu (want silu)"},
		{edit(lladaJSON, "include_bias", true), "include_bias true (want false)"},
		{edit(lladaJSON, "bias_for_layer_norm", true), "bias_for_layer_norm true"},
		{edit(lladaJSON, "rope", false, "alibi", true), "rope false (want true); alibi true (want false)"},
		{edit(lladaJSON, "scale_logits", true), "scale_logits true"},
		{edit(lladaJSON, "attention_layer_norm", true), "attention_layer_norm true"},
		{edit(lladaJSON, "block_group_size", 2), "block_group_size 2"},
		{edit(lladaJSON, "embedding_size", 100), "embedding_size 100 is smaller than vocab_size 200"},
		{edit(lladaJSON, "n_heads", 5), "d_model 48 is not a multiple of n_heads 5"},
		{edit(lladaJSON, "n_kv_heads", 3), "heads 4 is not a multiple of kv_heads 3"},
		{edit(lladaJSON, "mask_token_id", 300), "mask_token_id 300 is outside the 256 embedding rows"},
		{edit(lladaJSON, "n_kv_heads", 4, "multi_query_attention", true), "n_kv_heads 4 and multi_query_attention disagree"},
		{edit(dreamJSON, "hidden_act", "gelu"), "hidden_act gelu (want silu)"},
		{edit(dreamJSON, "rope_scaling", map[string]any{"type": "linear", "factor": 2}), `rope_scaling of type "linear" (want null)`},
		{edit(dreamJSON, "head_dim", 32), "head_dim 32 (want hidden_size/num_attention_heads = 16)"},
		{edit(dreamJSON, "partial_rotary_factor", 0.5), "partial_rotary_factor 0.5"},
	} {
		_, err := ParseHFConfig([]byte(c.json), 0)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n  error %v\n  want %q", c.json, err, c.want)
		}
	}
	// absent fields take the published defaults
	m, err := ParseHFConfig([]byte(edit(lladaJSON, "n_kv_heads", "DELETE", "weight_tying", "DELETE", "mlp_hidden_size", "DELETE", "mlp_ratio", 2, "embedding_size", nil)), 0)
	if err != nil || m.Config.KVHeads != 4 || !m.Config.TiedEmbed || m.Config.FF != 96 || m.Config.Vocab != 200 {
		t.Fatalf("llada defaults: %+v %v", m.Config, err)
	}
	if m, err := ParseHFConfig([]byte(edit(lladaJSON, "embedding_size", 0)), 0); err != nil || m.Config.Vocab != 200 {
		t.Fatalf("embedding_size 0: %+v %v", m.Config, err)
	}
	m, err = ParseHFConfig([]byte(edit(dreamJSON, "num_key_value_heads", "DELETE", "tie_word_embeddings", "DELETE", "rms_norm_eps", "DELETE")), 0)
	if err != nil || m.Config.KVHeads != 4 || m.Config.TiedEmbed || m.Config.NormEps != 1e-6 {
		t.Fatalf("dream defaults: %+v %v", m.Config, err)
	}
}

// mapReader serves checkpoint tensors from memory.
type mapReader map[string][]float32

func (m mapReader) ReadF32(name string, off int64, dst []float32) error {
	src, ok := m[name]
	if !ok || off+int64(len(dst)) > int64(len(src)) {
		return fmt.Errorf("no %s [%d, %d)", name, off, off+int64(len(dst)))
	}
	copy(dst, src[off:])
	return nil
}

// Exporting a model's tensors in a family's layout and filling remask's
// parameters back from them gives the same values, every element of every
// parameter written by exactly one checkpoint tensor; and the layout's
// fused and transposed pieces are where the family's forward reads them.
func TestHFLayoutRoundTrip(t *testing.T) {
	for _, src := range []string{lladaJSON, dreamJSON} {
		hf, err := ParseHFConfig([]byte(src), 64)
		if err != nil {
			t.Fatal(err)
		}
		c := hf.Config
		p, _ := New(c, 7)
		rng := rand.New(rand.NewPCG(1, 2))
		for _, tt := range p.Tensors {
			for i := range tt.Data {
				tt.Data[i] = float32(rng.NormFloat64())
			}
		}
		layout, err := HFLayout(hf.Family, c)
		if err != nil {
			t.Fatal(err)
		}
		r := mapReader{}
		for _, ht := range layout {
			v, err := p.HFData(ht, nil)
			if err != nil {
				t.Fatal(err)
			}
			r[ht.Name] = v
		}
		for _, s := range c.Shapes() {
			dst := make([]float32, numel(s.Shape))
			for i := range dst {
				dst[i] = float32(math.NaN())
			}
			if err := FillFromHF(layout, s.Name, s.Shape, dst, r); err != nil {
				t.Fatal(err)
			}
			want := p.Get(s.Name).Data
			for i := range dst {
				if dst[i] != want[i] { // NaN (never written) differs too
					t.Fatalf("%s %s[%d]: %g, want %g", hf.Family, s.Name, i, dst[i], want[i])
				}
			}
		}
		// spot checks against the published layout: q_proj row j (output
		// j) is wqkv column j; k_proj row j is column H*dh + j; up_proj
		// row j is w_gate_up column f + j; the head's row v is head column v
		q, k, up := "model.transformer.blocks.1.q_proj.weight", "model.transformer.blocks.1.k_proj.weight", "model.transformer.blocks.1.up_proj.weight"
		head := "model.transformer.ff_out.weight"
		if hf.Family == FamilyDream {
			q, k, up = "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.1.mlp.up_proj.weight"
			head = "model.embed_tokens.weight" // tied: the embedding itself
		}
		d, W := c.D, c.qkvDim()
		wqkv, gu := p.Get("layers.1.wqkv").Data, p.Get("layers.1.w_gate_up").Data
		if r[q][5*d+3] != wqkv[3*W+5] || r[k][2*d+7] != wqkv[7*W+c.qDim()+2] || r[up][4*d+1] != gu[1*2*c.FF+c.FF+4] {
			t.Fatalf("%s: q/k/up not at their published places", hf.Family)
		}
		if hf.Family == FamilyLLaDA && r[head][9*d+2] != p.Get("head").Data[2*c.Vocab+9] {
			t.Fatalf("llada head")
		}
		if hf.Family == FamilyDream {
			if _, ok := r["lm_head.weight"]; ok {
				t.Fatal("a tied dream exports lm_head")
			}
			if !HFIgnored(FamilyDream, c, "lm_head.weight") || HFIgnored(FamilyLLaDA, c, "lm_head.weight") {
				t.Fatal("HFIgnored")
			}
		}
	}
}

// A config.json written for a network reads back as that network, with or
// without the imported config.json as its base.
func TestHFConfigJSONRoundTrip(t *testing.T) {
	for _, src := range []string{lladaJSON, dreamJSON} {
		hf, err := ParseHFConfig([]byte(src), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range []map[string]any{nil, hf.Raw} {
			b, err := HFConfigJSON(hf.Family, hf.Config, hf.MaskID, base)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseHFConfig(b, 0)
			if err != nil {
				t.Fatalf("%s", b)
			}
			if back.Config != hf.Config || back.MaskID != hf.MaskID || back.Family != hf.Family {
				t.Fatalf("%s (base %v): %+v, want %+v", hf.Family, base != nil, back.Config, hf.Config)
			}
			if base != nil && (back.VocabSize != hf.VocabSize || back.MaxPositions != hf.MaxPositions) {
				t.Fatalf("%s: vocab_size %d max positions %d, want %d %d", hf.Family, back.VocabSize, back.MaxPositions, hf.VocabSize, hf.MaxPositions)
			}
			for _, key := range []string{`"rope_theta": 500000.0`, `"rms_norm_eps": 1e-05`, `"auto_map"`, `"architectures"`} {
				if hf.Family == FamilyLLaDA && !strings.Contains(string(b), key) {
					t.Fatalf("llada config.json lacks %s:\n%s", key, b)
				}
			}
			if hf.Family == FamilyDream && (!strings.Contains(string(b), `"model_type": "Dream"`) || !strings.Contains(string(b), `"rope_theta": 1000000.0`)) {
				t.Fatalf("dream config.json:\n%s", b)
			}
		}
	}
	if _, err := HFConfigJSON(FamilyDream, Config{Vocab: 8, D: 8, Layers: 1, Heads: 2, FF: 8, MaxLen: 8, RopeTheta: 1, NormEps: 1e-6}, 1, nil); err == nil {
		t.Fatal("a network without dream's biases and shift was written as dream")
	}
}

func TestFloatJSON(t *testing.T) {
	for v, want := range map[float64]string{500000: "500000.0", 1e-5: "1e-05", 1e-6: "1e-06", 1e6: "1000000.0", 0.02: "0.02", 0: "0.0", 1e16: "1e+16", 10000: "10000.0"} {
		if got := string(floatJSON(v)); got != want {
			t.Errorf("%g: %s, want %s", v, got, want)
		}
	}
}

// Adopt hands the values over: no copy.
func TestAdopt(t *testing.T) {
	c := Config{Vocab: 5, D: 4, Layers: 1, Heads: 2, FF: 6, MaxLen: 8, RopeTheta: 10000, NormEps: 1e-5}
	p, _ := New(c, 1)
	ts := make([]Tensor, len(p.Tensors))
	for i, t := range p.Tensors {
		ts[i] = *t
	}
	q, err := Adopt(c, ts)
	if err != nil {
		t.Fatal(err)
	}
	q.Tensors[0].Data[0] = 42
	if p.Tensors[0].Data[0] != 42 {
		t.Fatal("Adopt copied")
	}
	if _, err := Adopt(c, ts[1:]); err == nil {
		t.Fatal("a missing tensor was adopted")
	}
}
