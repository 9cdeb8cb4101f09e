package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The tiny checkpoints of model/testdata/hf and the script that made them.
var (
	hfTestdata = []string{"llada", "llada_bf16_sharded", "dream", "dream_tied", "sdar"}
	hfScript   = filepath.Join("..", "..", "model", "testdata", "hf", "make_reference.py")
)

func hfDir(name string) string { return filepath.Join("..", "..", "model", "testdata", "hf", name) }

type hfRef struct {
	IDs    []int       `json:"ids"`
	Logits [][]float64 `json:"logits"`
}

func hfReference(t *testing.T, name string) hfRef {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hfDir(name), "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r hfRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func idList(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

// pythonWithTorch finds a python3 that imports torch ($REMASK_PYTHON first).
func pythonWithTorch() string {
	cands := []string{"python3", "/usr/bin/python3"}
	if p := os.Getenv("REMASK_PYTHON"); p != "" {
		cands = append([]string{p}, cands...)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import torch, numpy").Run() == nil {
			return p
		}
	}
	return ""
}

// import --hf, then `ckpt logits --json` prints the published forward's
// logits (1e-4 relative to the largest); export --format hf writes a folder
// that the reference script (the published forward, in torch) loads and
// computes the same logits from.
func TestCkptImportLogitsExportHF(t *testing.T) {
	dir := t.TempDir()
	type check struct {
		Dir    string `json:"dir"`
		IDs    []int  `json:"ids"`
		Logits string `json:"logits"`
	}
	var checks []check
	for _, name := range hfTestdata {
		db := filepath.Join(dir, name+".db")
		code, _, stderr := runCaptured(t, "ckpt", "import", "--hf", hfDir(name), "-o", db)
		if code != 0 || !strings.Contains(stderr, "created "+db) {
			t.Fatalf("%s: import: %d %s", name, code, stderr)
		}
		ref := hfReference(t, name)
		code, out, stderr := runCaptured(t, "ckpt", "logits", db+":0", "--ids", idList(ref.IDs), "--json")
		if code != 0 {
			t.Fatalf("%s: logits: %s", name, stderr)
		}
		var got struct{ Logits [][]float64 }
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Logits) != len(ref.IDs) || len(got.Logits[0]) != len(ref.Logits[0]) {
			t.Fatalf("%s: logits output %.200q: %v", name, out, err)
		}
		var worst, scale float64
		for i := range ref.Logits {
			for j, w := range ref.Logits[i] {
				worst = max(worst, math.Abs(got.Logits[i][j]-w))
				scale = max(scale, math.Abs(w))
			}
		}
		if worst > 1e-4*scale {
			t.Fatalf("%s: logits differ from the reference by %.3g (scale %.3g)", name, worst, scale)
		}
		logitsFile := filepath.Join(dir, name+".logits.json")
		os.WriteFile(logitsFile, []byte(out), 0o644)

		exp := filepath.Join(dir, "hf-"+name)
		if code, _, stderr := runCaptured(t, "ckpt", "export", db, "--format", "hf", "-o", exp); code != 0 {
			t.Fatalf("%s: export: %s", name, stderr)
		}
		checks = append(checks, check{exp, ref.IDs, logitsFile})
	}
	py := pythonWithTorch()
	if py == "" {
		t.Skip("python3 with torch missing (apt-get install python3-torch): the exported folders were checked by re-import only (trainer tests), not by the published forward")
	}
	list := filepath.Join(dir, "checks.json")
	b, _ := json.Marshal(checks)
	os.WriteFile(list, b, 0o644)
	out, err := exec.Command(py, hfScript, "checks", list).CombinedOutput()
	if err != nil {
		t.Fatalf("the published forward on the exported folders: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// The text form of logits, show's kept files, sample's refusal.
func TestCkptHFInspect(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "d.db")
	if code, _, stderr := runCaptured(t, "ckpt", "import", "--hf", hfDir("dream"), "-o", db, "--max-len", "16"); code != 0 {
		t.Fatal(stderr)
	}
	code, out, _ := runCaptured(t, "ckpt", "logits", db, "--ids", "1,2,3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || len(strings.Split(lines[2], "\t")) != 2+160 || !strings.HasPrefix(lines[2], "2\t3\t") {
		t.Fatalf("logits text: %d %.300q", code, out)
	}
	code, out, _ = runCaptured(t, "ckpt", "show", db)
	if code != 0 || !strings.Contains(out, "family: dream") || !strings.Contains(out, "mask_id: 151") || !strings.Contains(out, "max_len: 16") || !strings.Contains(out, "# kept files: config.json") {
		t.Fatalf("show: %.2000s", out)
	}
	code, out, _ = runCaptured(t, "ckpt", "ls", db, "--json")
	if code != 0 || !strings.Contains(out, `"step": 0`) {
		t.Fatalf("ls: %s", out)
	}
	code, _, stderr := runCaptured(t, "sample", "--ckpt", db, "--prompt", "hi")
	if code != 1 || !strings.Contains(stderr, db+": model.vocab hf: the run store keeps no tokenizer.json (the folder it was imported from had none)") {
		t.Fatalf("sample: %d %s", code, stderr)
	}
}

// Bad input: one line, exit 1, nothing written.
func TestCkptHFBadInput(t *testing.T) {
	dir := t.TempDir()
	noConfig := filepath.Join(dir, "noconfig")
	os.MkdirAll(noConfig, 0o755)
	unknown := filepath.Join(dir, "unknown")
	os.MkdirAll(unknown, 0o755)
	write(t, unknown, "config.json", `{"model_type": "mistral"}`)
	sharded := filepath.Join(dir, "sharded")
	os.MkdirAll(sharded, 0o755)
	for _, f := range []string{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"} {
		b, _ := os.ReadFile(filepath.Join(hfDir("llada_bf16_sharded"), f))
		os.WriteFile(filepath.Join(sharded, f), b, 0o644)
	}
	truncated := filepath.Join(dir, "truncated")
	os.MkdirAll(truncated, 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, _ := os.ReadFile(filepath.Join(hfDir("dream"), f))
		if f == "model.safetensors" {
			b = b[:len(b)/2]
		}
		os.WriteFile(filepath.Join(truncated, f), b, 0o644)
	}
	remask := trainTiny(t, dir, "own")
	hfdb := filepath.Join(dir, "ok.db")
	if code, _, stderr := runCaptured(t, "ckpt", "import", "--hf", hfDir("llada"), "-o", hfdb); code != 0 {
		t.Fatal(stderr)
	}
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ckpt", "import", "--hf", noConfig, "-o", out + ".db"}, "config.json: no such file"},
		{[]string{"ckpt", "import", "--hf", unknown, "-o", out + ".db"}, `unknown model_type "mistral"; remask imports llada, dream, sdar`},
		{[]string{"ckpt", "import", "--hf", sharded, "-o", out + ".db"}, "names shard model-00002-of-00002.safetensors, which is missing"},
		{[]string{"ckpt", "import", "--hf", truncated, "-o", out + ".db"}, "truncated"},
		{[]string{"ckpt", "import", "--hf", hfDir("llada")}, "needs -o RUN.db"},
		{[]string{"ckpt", "import", "--hf", hfDir("llada"), "-o", hfdb}, "already exists"},
		{[]string{"ckpt", "import", "--hf", hfDir("llada"), "-o", out + ".db", "--max-len", "3"}, "--max-len 3"},
		{[]string{"ckpt", "import", "--hf", hfDir("llada"), "-o", out + ".db", "-c", "x.yaml"}, "-c and --set do not apply"},
		{[]string{"ckpt", "export", remask, "--format", "hf", "-o", out}, "remask's own model (model.family remask), which has no Hugging Face layout"},
		{[]string{"ckpt", "export", hfdb, "--format", "onnx", "-o", out}, `--format "onnx"`},
		{[]string{"ckpt", "export", hfdb, "--format", "hf", "-o", dir}, "exists and is not empty"},
		{[]string{"ckpt", "logits", hfdb, "--ids", "1,x"}, `"x" is not a token id`},
		{[]string{"ckpt", "logits", hfdb}, "--ids: required"},
		{[]string{"ckpt", "logits", hfdb, "--ids", "1,256"}, "id 256 (position 1) is outside the model's 256 token ids"},
		{[]string{"ckpt", "logits", hfdb, "--ids", strings.Repeat("1,", 64) + "1"}, "more than the model's max_len 64"},
	} {
		code, _, stderr := runCaptured(t, c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line with %q", c.args, code, stderr, c.want)
		}
		for _, p := range []string{out, out + ".db"} {
			if _, err := os.Stat(p); err == nil {
				t.Fatalf("%v left %s", c.args, p)
			}
		}
	}
	// remask's own store: logits work (no shift, no hf)
	if code, out, stderr := runCaptured(t, "ckpt", "logits", remask, "--ids", "1,2", "--json"); code != 0 || !strings.HasPrefix(out, `{"logits":[[`) {
		t.Fatalf("logits of a remask store: %d %s %s", code, out, stderr)
	}
	// nothing besides the stores and the folders made above
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("a temporary %s was left", e.Name())
		}
	}
}
