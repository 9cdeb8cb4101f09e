//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImportHF1B measures the peak resident memory of `remask ckpt
// import --hf` (a child process: its rusage maxrss) on a synthetic LLaDA
// checkpoint of 1.03B parameters in BF16 (2 shards, 2.1 GB), against the
// model's float32 size (4.1 GB); the target is at most 1.2x. Run it alone:
//
//	go test ./cmd/remask -run '^$' -bench ImportHF1B -benchtime 1x -timeout 30m
//
// It needs ~7 GB of temporary disk (the checkpoint and the run store).
func BenchmarkImportHF1B(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "remask")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	hf := filepath.Join(dir, "llada-1b")
	cfg := map[string]any{"model_type": "llada", "architectures": []string{"LLaDAModelLM"},
		"d_model": 2048, "n_heads": 16, "n_kv_heads": 16, "n_layers": 16, "mlp_hidden_size": 5632,
		"vocab_size": 50304, "embedding_size": 50304, "max_sequence_length": 4096, "rope_theta": 500000.0,
		"rms_norm_eps": 1e-5, "mask_token_id": 50000, "weight_tying": false, "include_qkv_bias": false,
		"activation_type": "silu", "block_type": "llama", "layer_norm_type": "rms", "rope": true}
	t0 := time.Now()
	params := writeSyntheticLLaDA(b, hf, cfg, 2)
	f32 := 4 * params
	b.Logf("synthetic checkpoint: %d parameters (%.2f GB as float32), BF16, written in %s", params, float64(f32)/1e9, time.Since(t0).Round(time.Millisecond))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, fmt.Sprintf("imported%d.db", i))
		cmd := exec.Command(bin, "ckpt", "import", "--hf", hf, "-o", out)
		t0 := time.Now()
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("import: %v\n%s", err, msg)
		}
		el := time.Since(t0)
		peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024 // kB on Linux
		b.ReportMetric(float64(peak)/float64(f32), "peak/f32")
		b.ReportMetric(float64(peak)/1e9, "peak-GB")
		b.Logf("import: peak RSS %.2f GB = %.2fx the float32 size (%.2f GB) in %s", float64(peak)/1e9, float64(peak)/float64(f32), float64(f32)/1e9, el.Round(time.Millisecond))
		os.Remove(out)
	}
}

// writeSyntheticLLaDA writes a LLaDA folder of random BF16 weights in
// shards (an index naming them) and returns the parameter count.
func writeSyntheticLLaDA(b *testing.B, dir string, cfg map[string]any, shards int) int64 {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cj, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cj, 0o644); err != nil {
		b.Fatal(err)
	}
	d, f, V, L := cfg["d_model"].(int), cfg["mlp_hidden_size"].(int), cfg["embedding_size"].(int), cfg["n_layers"].(int)
	type tensor struct {
		name  string
		shape []int
	}
	P := "model.transformer."
	ts := []tensor{{P + "wte.weight", []int{V, d}}}
	for i := 0; i < L; i++ {
		bl := fmt.Sprintf("%sblocks.%d.", P, i)
		ts = append(ts, tensor{bl + "attn_norm.weight", []int{d}}, tensor{bl + "q_proj.weight", []int{d, d}},
			tensor{bl + "k_proj.weight", []int{d, d}}, tensor{bl + "v_proj.weight", []int{d, d}},
			tensor{bl + "attn_out.weight", []int{d, d}}, tensor{bl + "ff_norm.weight", []int{d}},
			tensor{bl + "ff_proj.weight", []int{f, d}}, tensor{bl + "up_proj.weight", []int{f, d}},
			tensor{bl + "ff_out.weight", []int{d, f}})
	}
	ts = append(ts, tensor{P + "ln_f.weight", []int{d}}, tensor{P + "ff_out.weight", []int{V, d}})
	var total int64
	weightMap := map[string]string{}
	per := (len(ts) + shards - 1) / shards
	state := uint64(0x9e3779b97f4a7c15)
	for s := 0; s < shards; s++ {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, shards)
		part := ts[s*per : min((s+1)*per, len(ts))]
		header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
		var off int64
		for _, t := range part {
			n := int64(1)
			for _, x := range t.shape {
				n *= int64(x)
			}
			header[t.name] = map[string]any{"dtype": "BF16", "shape": t.shape, "data_offsets": []int64{off, off + 2*n}}
			off += 2 * n
			total += n
			weightMap[t.name] = name
		}
		hj, _ := json.Marshal(header)
		for len(hj)%8 != 0 {
			hj = append(hj, ' ')
		}
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 4<<20)
		binary.Write(w, binary.LittleEndian, uint64(len(hj)))
		w.Write(hj)
		var buf [2]byte
		for _, t := range part {
			n := 1
			for _, x := range t.shape {
				n *= x
			}
			for j := 0; j < n; j++ {
				state ^= state << 13
				state ^= state >> 7
				state ^= state << 17
				// sign, an exponent for [2^-7, 2^-5), a random mantissa
				binary.LittleEndian.PutUint16(buf[:], uint16(state>>63)<<15|0x3c00|uint16(state)&0x1ff)
				w.Write(buf[:])
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fh.Close()
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 2 * total}, "weight_map": weightMap})
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644); err != nil {
		b.Fatal(err)
	}
	return total
}
