package trainer

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/model"
)

// hfTestdata are the tiny checkpoints model/testdata/hf/make_reference.py
// made, with the logits of its float64 forward written as the published
// modeling code computes them.
var hfTestdata = []string{"llada", "llada_bf16_sharded", "dream", "dream_tied", "sdar"}

func hfDir(name string) string { return filepath.Join("..", "model", "testdata", "hf", name) }

type hfReference struct {
	IDs    []int       `json:"ids"`
	Logits [][]float64 `json:"logits"`
}

func readReference(t *testing.T, name string) hfReference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hfDir(name), "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r hfReference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// relErr is max |got - want| over max |want|.
func relErr(got []float32, want [][]float64) float64 {
	var worst, scale float64
	v := len(want[0])
	for i, row := range want {
		for j, w := range row {
			worst = max(worst, math.Abs(float64(got[i*v+j])-w))
			scale = max(scale, math.Abs(w))
		}
	}
	return worst / scale
}

// Imported checkpoints compute the published forward's logits to 1e-4
// (relative to the largest logit); Forward shifts dream's rows as its
// samplers read them.
func TestImportHFMatchesReference(t *testing.T) {
	dir := t.TempDir()
	for _, name := range hfTestdata {
		out := filepath.Join(dir, name+".db")
		imp, err := ImportHF(hfDir(name), out, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p, cfg, err := LoadParams(out, zerolog.Nop())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Config != imp.Config || cfg.Model.Family != imp.Family || p.NumParams() != imp.Params {
			t.Fatalf("%s: loaded %+v (%s), imported %+v", name, p.Config, cfg.Model.Family, imp.Config)
		}
		ref := readReference(t, name)
		inf := model.NewInference(p)
		raw, err := inf.ForwardRaw(ref.IDs, 1, len(ref.IDs), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(ref.IDs)*len(ref.Logits[0]) {
			t.Fatalf("%s: %d logits, reference %dx%d", name, len(raw), len(ref.IDs), len(ref.Logits[0]))
		}
		if e := relErr(raw, ref.Logits); e > 1e-4 {
			t.Fatalf("%s: logits differ from the reference by %.3g relative", name, e)
		}
		shifted, err := inf.Forward(ref.IDs, 1, len(ref.IDs), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := p.Config.Vocab
		if p.Config.LogitShift {
			if !reflect.DeepEqual(shifted[v:], raw[:len(raw)-v]) || !reflect.DeepEqual(shifted[:v], raw[:v]) {
				t.Fatalf("%s: Forward is not ForwardRaw shifted by one row", name)
			}
		} else if !reflect.DeepEqual(shifted, raw) {
			t.Fatalf("%s: Forward differs from ForwardRaw without a shift", name)
		}
	}
}

// What an import keeps and says: the tokenizer files, the family, the
// model section, the vocabulary sizes; and a model that needs the hf
// tokenizer is refused where the char tokenizer would be used.
func TestImportHFStore(t *testing.T) {
	out := filepath.Join(t.TempDir(), "l.db")
	imp, err := ImportHF(hfDir("llada"), out, 32)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}
	if !reflect.DeepEqual(imp.Files, want) || !reflect.DeepEqual(imp.DTypes, []string{"F32"}) {
		t.Fatalf("files %v dtypes %v", imp.Files, imp.DTypes)
	}
	st, err := checkpoint.OpenReadOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := st.Files()
	meta, _ := st.Meta()
	st.Close()
	orig, _ := os.ReadFile(filepath.Join(hfDir("llada"), "tokenizer.json"))
	if string(files["tokenizer.json"]) != string(orig) || meta.Extra["family"] != "llada" || meta.Extra["hf_vocab_size"] != "200" || len(meta.Vocab) != 0 {
		t.Fatalf("meta %+v", meta)
	}
	_, cfg, err := LoadParams(out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Model
	if m.Family != "llada" || m.Vocab != "hf" || m.VocabSize != 256 || m.MaskID != 126 || m.MaxLen != 32 || m.D != 48 || m.TiedEmbed || m.LogitShift {
		t.Fatalf("model section %+v", m)
	}
	// a tokenizer with more ids than the model scores is refused; fewer is
	// an embedding padded past the tokenizer, which scores vocab_size ids
	if _, err := ModelConfig(cfg, 257); err == nil || !strings.Contains(err.Error(), "scores 256 token ids (model.vocab_size), fewer than the 257 of its tokenizer") {
		t.Fatalf("a larger tokenizer on a llada model: %v", err)
	}
	if mc, err := ModelConfig(cfg, 200); err != nil || mc.Vocab != 256 {
		t.Fatal(mc.Vocab, err)
	}
}

// export --format hf writes what imports back to the same tensors, bit for
// bit, with the same config and files.
func TestExportHFRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range hfTestdata {
		a := filepath.Join(dir, name+".db")
		if _, err := ImportHF(hfDir(name), a, 0); err != nil {
			t.Fatal(err)
		}
		exp := filepath.Join(dir, "export", name)
		files, err := ExportHF(a, exp)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(strings.Join(files, ","), "model.safetensors") || !strings.Contains(strings.Join(files, ","), "config.json") {
			t.Fatalf("%s: exported %v", name, files)
		}
		b := filepath.Join(dir, name+"-again.db")
		if _, err := ImportHF(exp, b, 0); err != nil {
			t.Fatalf("%s: re-import: %v", name, err)
		}
		pa, ca, err := LoadParams(a, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		pb, cb, err := LoadParams(b, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if pa.Config != pb.Config || !reflect.DeepEqual(ca.Model, cb.Model) {
			t.Fatalf("%s: %+v vs %+v", name, ca.Model, cb.Model)
		}
		for i, ta := range pa.Tensors {
			if tb := pb.Tensors[i]; ta.Name != tb.Name || !reflect.DeepEqual(ta.Data, tb.Data) {
				t.Fatalf("%s: tensor %s differs after export and import", name, ta.Name)
			}
		}
		// the exported config keeps the imported one's other fields
		orig, _ := os.ReadFile(filepath.Join(hfDir(name), "config.json"))
		got, _ := os.ReadFile(filepath.Join(exp, "config.json"))
		var om, gm map[string]any
		json.Unmarshal(orig, &om)
		json.Unmarshal(got, &gm)
		for k, v := range om {
			if k != "torch_dtype" && !reflect.DeepEqual(gm[k], v) {
				t.Errorf("%s: config.json %s = %v, imported %v", name, k, gm[k], v)
			}
		}
	}
	if _, err := ExportHF(filepath.Join(dir, "llada.db"), filepath.Join(dir, "export", "llada")); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("export over a folder with files: %v", err)
	}
}

// Every bad input is one error and writes nothing.
func TestImportHFRejects(t *testing.T) {
	src := hfDir("llada")
	copyDir := func(t *testing.T) string {
		d := t.TempDir()
		ents, _ := os.ReadDir(src)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(src, e.Name()))
			os.WriteFile(filepath.Join(d, e.Name()), b, 0o644)
		}
		return d
	}
	header := func(path string) (map[string]map[string]any, []byte) {
		b, _ := os.ReadFile(path)
		n := binary.LittleEndian.Uint64(b[:8])
		var h map[string]map[string]any
		json.Unmarshal(b[8:8+n], &h)
		return h, b[8+n:]
	}
	rewrite := func(path string, h map[string]map[string]any, data []byte) {
		hj, _ := json.Marshal(h)
		out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
		os.WriteFile(path, append(append(out, hj...), data...), 0o644)
	}
	editConfig := func(d string, kv map[string]any) {
		b, _ := os.ReadFile(filepath.Join(d, "config.json"))
		var m map[string]any
		json.Unmarshal(b, &m)
		for k, v := range kv {
			m[k] = v
		}
		b, _ = json.Marshal(m)
		os.WriteFile(filepath.Join(d, "config.json"), b, 0o644)
	}
	st := func(d string) string { return filepath.Join(d, "model.safetensors") }
	cases := []struct {
		name string
		make func(t *testing.T) string
		want string
	}{
		{"missing config.json", func(t *testing.T) string { d := copyDir(t); os.Remove(filepath.Join(d, "config.json")); return d }, "config.json: no such file"},
		{"unknown model_type", func(t *testing.T) string {
			d := copyDir(t)
			editConfig(d, map[string]any{"model_type": "gpt2"})
			return d
		}, `unknown model_type "gpt2"; remask imports llada, dream, sdar`},
		{"shape disagrees with config", func(t *testing.T) string {
			d := copyDir(t)
			editConfig(d, map[string]any{"mlp_hidden_size": 96})
			return d
		}, "tensor model.transformer.blocks.0.ff_proj.weight has shape [80 48], config.json makes it [96 48]"},
		{"tensor missing", func(t *testing.T) string {
			d := copyDir(t)
			h, data := header(st(d))
			e := h["model.transformer.ln_f.weight"]
			delete(h, "model.transformer.ln_f.weight")
			h["model.transformer.ln_f.other"] = e
			rewrite(st(d), h, data)
			return d
		}, "tensor model.transformer.ln_f.weight is missing"},
		{"unexpected tensor", func(t *testing.T) string {
			d := copyDir(t)
			h, data := header(st(d))
			h["model.transformer.extra"] = map[string]any{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{len(data), len(data) + 4}}
			rewrite(st(d), h, append(data, 0, 0, 0, 0))
			return d
		}, "tensor model.transformer.extra is not part of a llada model"},
		{"unsupported dtype", func(t *testing.T) string {
			d := copyDir(t)
			h, data := header(st(d))
			h["model.transformer.ln_f.weight"]["dtype"] = "I32"
			rewrite(st(d), h, data)
			return d
		}, `dtype "I32"; remask reads F32, F16 and BF16`},
		{"truncated", func(t *testing.T) string {
			d := copyDir(t)
			b, _ := os.ReadFile(st(d))
			os.WriteFile(st(d), b[:len(b)-100], 0o644)
			return d
		}, "truncated"},
		{"overlapping offsets", func(t *testing.T) string {
			d := copyDir(t)
			h, data := header(st(d))
			off := h["model.transformer.ln_f.weight"]["data_offsets"].([]any)
			a, b := off[0].(float64), off[1].(float64)
			h["model.transformer.ln_f.weight"]["data_offsets"] = []float64{a - 8, b - 8}
			rewrite(st(d), h, data)
			return d
		}, "overlaps"},
		{"sharded index names a missing file", func(t *testing.T) string {
			d := t.TempDir()
			ents, _ := os.ReadDir(hfDir("llada_bf16_sharded"))
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), "model-00002") {
					b, _ := os.ReadFile(filepath.Join(hfDir("llada_bf16_sharded"), e.Name()))
					os.WriteFile(filepath.Join(d, e.Name()), b, 0o644)
				}
			}
			return d
		}, "names shard model-00002-of-00002.safetensors, which is missing"},
		{"no weights", func(t *testing.T) string { d := copyDir(t); os.Remove(st(d)); return d }, "no model.safetensors and no model.safetensors.index.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.make(t)
			outDir := t.TempDir()
			_, err := ImportHF(d, filepath.Join(outDir, "x.db"), 0)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line with %q", err, c.want)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Fatalf("left %v", ents)
			}
		})
	}
}

// An imported store's config reads back without the memory check, which
// is for runs, not for models being read (an 8B model's config would not
// "fit" a small machine's training estimate).
func TestImportedConfigNotHeldToMemory(t *testing.T) {
	t.Setenv("REMASK_MEMORY", "1K")
	out := filepath.Join(t.TempDir(), "d.db")
	if _, err := ImportHF(hfDir("dream"), out, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadParams(out, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	cfg := configs.Default()
	cfg.Data.Task, cfg.Data.Train = "sudoku4x4", "gen:10"
	if err := cfg.Validate(); err == nil {
		t.Fatal("a run config passed a 1K memory check")
	}
}
