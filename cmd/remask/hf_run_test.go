package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hfModelSection is the model section of the tiny dream_chat checkpoint
// as `remask ckpt import --hf` writes it (ckpt show prints it). A run from
// the store may write it out, or give model.init_from alone and inherit it.
const hfModelSection = `model: {preset: "", family: dream, vocab: hf, init_from: %s, d: 32, layers: 2, heads: 4, ff: 64, kv_heads: 2,
  qkv_bias: true, logit_shift: true, vocab_size: 384, mask_id: 355, max_len: 512, rope_theta: 1000000, norm_eps: 1.0e-6}`

// An imported Dream checkpoint with its BPE tokenizer and chat template,
// end to end through the CLI on GSM8K-format data: import, sample, eval
// --task gsm8k, one SFT step from it (model.init_from), one diffu-GRPO step
// with d1's GSM8K rewards, then sample, eval and export of the trained
// stores (which keep the tokenizer).
func TestHFImportSampleEvalTrain(t *testing.T) {
	dir := t.TempDir()
	gsm := filepath.Join("..", "..", "data", "testdata", "gsm8k_sample.jsonl")
	db := filepath.Join(dir, "dream.db")
	if code, _, stderr := runCaptured(t, "ckpt", "import", "--hf", hfDir("dream_chat"), "-o", db); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	code, out, stderr := runCaptured(t, "ckpt", "show", db)
	for _, want := range []string{"family: dream", "vocab: hf", "vocab_size: 384", "mask_id: 355", "max_len: 512", "kept files: config.json, generation_config.json, tokenizer.json, tokenizer_config.json"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("show lacks %q: %s %s", want, out, stderr)
		}
	}

	// sample: the prompt goes through the chat template; the completion is
	// decoded text (any: the weights are random)
	code, out, stderr = runCaptured(t, "sample", "--ckpt", db, "--prompt", "What is 2+3?", "--gen-length", "12", "--steps", "4", "-n", "2", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("sample: %d %q %s", code, out, stderr)
	}
	var s struct {
		Prompt     string `json:"prompt"`
		Completion string `json:"completion"`
		Trace      []int  `json:"trace"`
		NFE        int    `json:"nfe"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil || s.Prompt != "What is 2+3?" || len(s.Trace) != 12 || s.NFE != 4 {
		t.Fatalf("sample output %q: %v", lines[0], err)
	}

	evalGSM := func(ref string, extra ...string) map[string]any {
		t.Helper()
		args := append([]string{"eval", "--ckpt", ref, "--data", gsm, "--task", "gsm8k", "--gen-length", "16", "--steps", "4", "--n", "3"}, extra...)
		code, out, stderr := runCaptured(t, args...)
		var r map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("eval %s: %d %q %s", ref, code, out, stderr)
		}
		if r["task"] != "gsm8k" || r["n"] != 3.0 || r["gen_length"] != 16.0 {
			t.Fatalf("eval %s: %v", ref, r)
		}
		if acc, ok := r["accuracy"].(float64); !ok || acc < 0 || acc > 1 {
			t.Fatalf("eval %s: accuracy %v", ref, r["accuracy"])
		}
		return r
	}
	evalGSM(db)

	// one SFT step on GSM8K through the tokenizer and chat template; the
	// model section is inherited from the imported store
	sft := write(t, dir, "sft.yaml", "run: {name: sft, dir: "+dir+", seed: 1}\n"+
		"model: {init_from: "+db+"}\n"+
		"data: {task: gsm8k, train: "+gsm+"}\nobjective: sft\n"+
		"train: {steps: 1, batch: 2, ckpt_every: 1, log_every: 1}\noptim: {lr: 1.0e-3, warmup: 0}\n")
	if code, _, stderr := runCaptured(t, "train", "-c", sft, "--no-progress", "--log-level", "error"); code != 0 {
		t.Fatalf("sft: %s", stderr)
	}
	sftDB := filepath.Join(dir, "sft.db")
	code, out, _ = runCaptured(t, "ckpt", "show", sftDB)
	for _, want := range []string{"family: dream", "vocab: hf", "vocab_size: 384", "mask_id: 355", "kv_heads: 2", "logit_shift: true", "init_from: " + db} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("the SFT run's config lacks %q: %.3000s", want, out)
		}
	}
	// the step changed every tensor
	code, out, _ = runCaptured(t, "ckpt", "diff", db, sftDB, "--json")
	var diff struct {
		Tensors []struct {
			Name      string  `json:"name"`
			RelChange float64 `json:"rel_change"`
		} `json:"tensors"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &diff) != nil || len(diff.Tensors) == 0 {
		t.Fatalf("diff after one SFT step: %d %.300s", code, out)
	}
	for _, d := range diff.Tensors {
		if !(d.RelChange > 0) {
			t.Fatalf("SFT step left %s unchanged", d.Name)
		}
	}

	// one diffu-GRPO step from the SFT store with d1's GSM8K rewards
	rl := write(t, dir, "rl.yaml", "run: {name: rl, dir: "+dir+", seed: 1}\n"+
		strings.Replace(hfModelSection, "%s", sftDB, 1)+"\n"+
		"data: {task: gsm8k, train: "+gsm+"}\nobjective: diffu_grpo\n"+
		"rewards:\n  - {name: d1_gsm8k_correct, weight: 1.0}\n  - {name: d1_gsm8k_xmlcount, weight: 1.0}\n"+
		"rollout: {group: 2, prompts: 2, gen_length: 8, steps: 4, temperature: 1.0}\n"+
		"algo: {mu: 1}\ntrain: {steps: 1, ckpt_every: 1, log_every: 1}\noptim: {lr: 1.0e-4, warmup: 0}\nsample: {gen_length: 8, steps: 4}\n")
	if code, _, stderr := runCaptured(t, "train", "-c", rl, "--no-progress", "--log-level", "error"); code != 0 {
		t.Fatalf("rl: %s", stderr)
	}
	rlDB := filepath.Join(dir, "rl.db")
	code, out, _ = runCaptured(t, "ckpt", "metrics", rlDB, "--json")
	if code != 0 || !strings.Contains(out, "reward") {
		t.Fatalf("rl metrics: %d %.500s", code, out)
	}
	// the trained stores keep the tokenizer: eval and export work on them
	// (it trained on the file: --keep-seen, else every example is dropped)
	evalGSM(rlDB, "--keep-seen")
	exp := filepath.Join(dir, "rl-hf")
	if code, _, stderr := runCaptured(t, "ckpt", "export", rlDB, "--format", "hf", "-o", exp); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if _, err := os.Stat(filepath.Join(exp, f)); err != nil {
			t.Fatalf("export: %v", err)
		}
	}
}
