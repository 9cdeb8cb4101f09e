package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stFile is a safetensors file opened up: its header entries (in file
// order) and data, to be changed and written back.
type stFile struct {
	names   []string
	entries map[string]map[string]any
	data    []byte
}

func readST(t *testing.T, path string) stFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	f := stFile{entries: map[string]map[string]any{}, data: b[8+n:]}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e map[string]any
		json.Unmarshal(raw, &e)
		f.names = append(f.names, name)
		f.entries[name] = e
	}
	return f
}

func (f stFile) write(t *testing.T, path string) {
	t.Helper()
	hdr := map[string]any{}
	for _, name := range f.names {
		if e, ok := f.entries[name]; ok {
			hdr[name] = e
		}
	}
	h, _ := json.Marshal(hdr)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), f.data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyHF copies a testdata model folder to dir/name.
func copyHF(t *testing.T, from, dir, name string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	ents, _ := os.ReadDir(hfDir(from))
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(hfDir(from), e.Name()))
		os.WriteFile(filepath.Join(d, e.Name()), b, 0o644)
	}
	return d
}

// Bad Hugging Face folders: import says what is wrong in one line naming
// the file and field, exits 1 and writes nothing. (Missing config.json,
// unknown model_type, a missing shard and a truncated file:
// TestCkptHFBadInput.)
func TestImportHFBadFolders(t *testing.T) {
	dir := t.TempDir()
	st := func(name string) (string, stFile) {
		d := copyHF(t, "dream_chat", dir, name)
		return d, readST(t, filepath.Join(d, "model.safetensors"))
	}
	const q = "model.layers.0.self_attn.q_proj.weight"

	// the tensor stored last is dropped with its bytes (so that the rest
	// still covers the data exactly)
	missing, f := st("missing")
	last, lastEnd := "", 0.0
	for n, e := range f.entries {
		if end := e["data_offsets"].([]any)[1].(float64); end > lastEnd {
			last, lastEnd = n, end
		}
	}
	f.data = f.data[:int(f.entries[last]["data_offsets"].([]any)[0].(float64))]
	delete(f.entries, last)
	f.write(t, filepath.Join(missing, "model.safetensors"))

	shape, f := st("shape")
	kw := "model.layers.0.self_attn.k_proj.weight" // [16 32]: GQA's fewer key heads
	sh := f.entries[kw]["shape"].([]any)
	f.entries[kw]["shape"] = []any{sh[1], sh[0]}
	f.write(t, filepath.Join(shape, "model.safetensors"))

	dtype, f := st("dtype")
	f.entries[q]["dtype"] = "I32"
	f.write(t, filepath.Join(dtype, "model.safetensors"))

	overlap, f := st("overlap")
	off := f.entries[q]["data_offsets"].([]any) // moved 8 bytes into the tensor before it
	f.entries[q]["data_offsets"] = []any{off[0].(float64) - 8, off[1].(float64) - 8}
	f.write(t, filepath.Join(overlap, "model.safetensors"))

	wordpiece := copyHF(t, "dream_chat", dir, "wordpiece")
	write(t, wordpiece, "tokenizer.json", `{"version": "1.0", "model": {"type": "WordPiece", "vocab": {"a": 0}}}`)

	badTemplate := copyHF(t, "dream_chat", dir, "template")
	var tc map[string]any
	b, _ := os.ReadFile(filepath.Join(badTemplate, "tokenizer_config.json"))
	json.Unmarshal(b, &tc)
	tc["chat_template"] = "{% for m in messages %}{% if m.role == 'user' %}{{ raise_exception('this model takes a system message first') }}{% endif %}{% endfor %}"
	b, _ = json.Marshal(tc)
	os.WriteFile(filepath.Join(badTemplate, "tokenizer_config.json"), b, 0o644)

	unparsable := copyHF(t, "dream_chat", dir, "unparsable")
	tc["chat_template"] = "{% if messages %}never closed"
	b, _ = json.Marshal(tc)
	os.WriteFile(filepath.Join(unparsable, "tokenizer_config.json"), b, 0o644)

	out := filepath.Join(dir, "out.db")
	for _, c := range []struct {
		dir, want string
	}{
		{missing, "tensor " + last + " is missing (a dream checkpoint of this config.json has it)"},
		{shape, "tensor " + kw + " has shape [32 16], config.json makes it [16 32]"},
		{dtype, `tensor ` + q + ` has dtype "I32"; remask reads F32, F16 and BF16`},
		{overlap, "overlaps tensor"},
		{wordpiece, `tokenizer.json: hftok: model: unsupported model type "WordPiece"`},
		{badTemplate, "tokenizer_config.json: chat template"},
		{unparsable, "tokenizer_config.json: chat template"},
	} {
		code, _, stderr := runCaptured(t, "ckpt", "import", "--hf", c.dir, "-o", out)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, filepath.Base(c.dir)) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line naming the folder with %q", filepath.Base(c.dir), code, stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: import left %s", c.dir, out)
		}
	}
	if code, _, stderr := runCaptured(t, "ckpt", "import", "--hf", badTemplate, "-o", out); !strings.Contains(stderr, "this model takes a system message first") {
		t.Fatalf("the template's own message is lost: %d %s", code, stderr)
	}
}
