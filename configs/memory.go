package configs

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MemoryNeed is an estimate, in bytes, of what a run holds in memory at its
// peak. It is deliberately rough (within a small factor): its job is to
// refuse a config that cannot fit, naming the field, before a run store is
// made, instead of dying later with "out of memory" and a goroutine dump.
type MemoryNeed struct {
	Weights     float64 // the policy (and, for RL, the frozen reference and the rollout snapshot)
	Optimizer   float64 // gradients and AdamW's two moments
	Activations float64 // the training graph's values and gradients for one update
	Rollout     float64 // RL: completions and the sampler's per-row buffers
	Driver      string  // the field that drives Activations/Rollout, for the message
}

// Total is the sum of the parts.
func (m MemoryNeed) Total() float64 { return m.Weights + m.Optimizer + m.Activations + m.Rollout }

// vocabGuess bounds the char tokenizer's vocabulary (a few dozen symbols).
const vocabGuess = 64

// typicalSeqLen is a sequence length for tasks whose length is known before
// the data is read (data.seq_len 0 means "the shortest that fits").
func typicalSeqLen(c Config) int {
	if c.Data.SeqLen > 0 {
		return c.Data.SeqLen
	}
	switch c.Data.Task {
	case "sudoku4x4":
		return 36
	case "countdown":
		return 48
	}
	return c.Model.MaxLen
}

// EstimateMemory estimates the memory of a run of c on sequences of seqLen
// tokens. Everything is float64 so that absurd sizes cannot overflow.
func EstimateMemory(c Config, seqLen int) MemoryNeed {
	s, err := c.Model.Resolved()
	if err != nil || s.Heads == 0 {
		return MemoryNeed{}
	}
	d, f, layers, heads := float64(s.D), float64(s.FF), float64(s.Layers), float64(s.Heads)
	v, L := float64(vocabGuess), float64(seqLen)
	if c.Model.VocabSize > 0 { // an imported model's vocabulary (llada, dream)
		v = float64(c.Model.VocabSize)
	}
	if c.Model.Attention == "block_causal" && (c.Objective == "mdlm" || c.Objective == "sft") {
		L *= 2 // block diffusion trains the clean and the noised sequence side by side
	}
	attn := 4 * d * d // q, k, v, o
	if c.Model.KVHeads > 0 || c.Model.HeadDim > 0 {
		dh, kv := d/heads, heads
		if c.Model.HeadDim > 0 {
			dh = float64(c.Model.HeadDim)
		}
		if c.Model.KVHeads > 0 {
			kv = float64(c.Model.KVHeads)
		}
		attn = 2*d*heads*dh + 2*d*kv*dh
	}
	params := 2*v*d + layers*(attn+3*d*f+2*d) + d
	var m MemoryNeed
	m.Weights = 4 * params
	m.Optimizer = 3 * 4 * params
	// Per token and layer the graph keeps the normed input, q, k, v, the
	// attention output and the residuals (about 10 d), the SwiGLU's three
	// f-wide values, and a row of attention scores per head before and after
	// the softmax; the logits and their softmax at the end. Values and
	// gradients both: x2.
	perRow := 2 * 4 * L * (layers*(10*d+3*f+2*heads*L) + 3*v)
	rows := float64(c.Train.Batch)
	m.Driver = "train.batch"
	if isRL(c.Objective) {
		group := float64(c.Rollout.Group)
		if group == 0 {
			group = 10 // the largest default group (coupled_grpo)
		}
		batches := 1.0
		if c.Algo.MinSignalGroups > 0 {
			batches += float64(c.Algo.MaxRefills)
		}
		passes := 1.0
		if c.Objective == "coupled_grpo" {
			passes = 3
		}
		rows = float64(c.Rollout.Prompts) * group * batches * passes
		m.Driver = "rollout.prompts x rollout.group"
		m.Weights *= 3 // policy, reference, rollout snapshot
		workers := float64(max(c.Rollout.Workers, 1))
		// the sampler's forward keeps one layer's activations and the
		// logits per row it decodes; every worker has its own buffers
		m.Rollout = rows/passes*4*L*(10*d+3*f+heads*L+2*v) + workers*4*L*(10*d+3*f+heads*L+2*v)
	}
	m.Activations = rows * perRow
	return m
}

func isRL(objective string) bool {
	return objective == "diffu_grpo" || objective == "unigrpo" || objective == "coupled_grpo"
}

// MachineMemory is the machine's physical memory in bytes (0 when unknown).
// REMASK_MEMORY (bytes, or with a K/M/G suffix) overrides it, for a user
// who wants a tighter bound or a test.
func MachineMemory() float64 {
	if s := os.Getenv("REMASK_MEMORY"); s != "" {
		if b, ok := parseBytes(s); ok {
			return b
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			if b, ok := parseBytes(strings.TrimSuffix(strings.TrimSpace(rest), " kB") + "K"); ok {
				return b
			}
		}
	}
	return 0
}

func parseBytes(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K', 'k':
			mult, s = 1<<10, s[:n-1]
		case 'M', 'm':
			mult, s = 1<<20, s[:n-1]
		case 'G', 'g':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v > 0) {
		return 0, false
	}
	return v * mult, true
}

// HumanBytes prints a byte count with a binary unit.
func HumanBytes(b float64) string {
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"} {
		if b < 1024 || u == "PiB" {
			if u == "B" {
				return fmt.Sprintf("%.0f B", b)
			}
			return fmt.Sprintf("%.1f %s", b, u)
		}
		b /= 1024
	}
	return ""
}

// CheckMemory refuses a run whose estimated memory exceeds the machine's,
// naming the field that drives it and the estimate.
func CheckMemory(c Config, seqLen int) error {
	have := MachineMemory()
	if have == 0 {
		return nil
	}
	m := EstimateMemory(c, seqLen)
	if m.Total() <= have {
		return nil
	}
	field := m.Driver
	if m.Weights+m.Optimizer > m.Activations+m.Rollout {
		field = "model (d, layers, ff)"
	}
	return FieldError{Field: field, Msg: fmt.Sprintf("the run needs an estimated %s (weights %s, optimizer %s, activations %s, rollout %s at sequence length %d), more than this machine's %s",
		HumanBytes(m.Total()), HumanBytes(m.Weights), HumanBytes(m.Optimizer), HumanBytes(m.Activations), HumanBytes(m.Rollout), seqLen, HumanBytes(have))}
}
