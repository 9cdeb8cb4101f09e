package configs

import (
	"os"
	"path/filepath"
	"testing"
)

// LoadOver: the model fields a file leaves out keep the given section's
// values, those it sets win, and the rest of the config is as Load reads it.
func TestLoadOverModel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("model: {init_from: runs/dream.db, max_len: 256}\ndata: {task: gsm8k, train: x.jsonl}\nobjective: sft\n"), 0o644)
	base := Model{Family: "dream", Vocab: "hf", D: 32, Layers: 2, Heads: 4, FF: 64, KVHeads: 2, QKVBias: true, LogitShift: true,
		VocabSize: 384, MaskID: 355, MaxLen: 512, RopeTheta: 1e6, NormEps: 1e-6}
	cfg, err := LoadOver(path, []string{"model.norm_eps=1e-5"}, base)
	if err != nil {
		t.Fatal(err)
	}
	want := base
	want.InitFrom, want.MaxLen, want.NormEps = "runs/dream.db", 256, 1e-5
	if cfg.Model != want {
		t.Fatalf("model %+v\nwant %+v", cfg.Model, want)
	}
	if cfg.Objective != "sft" || cfg.Data.Task != "gsm8k" || cfg.Train.Batch != Default().Train.Batch {
		t.Fatalf("config %+v", cfg)
	}
	// without it, the same file is a remask model with the char vocabulary
	if cfg, err := Load(path, nil); err != nil || cfg.Model.Family != "remask" || cfg.Model.Preset != "tiny" {
		t.Fatal(cfg.Model, err)
	}
}
