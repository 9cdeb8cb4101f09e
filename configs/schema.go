package configs

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Config is one run.
type Config struct {
	Run       Run    `yaml:"run" mapstructure:"run"`
	Model     Model  `yaml:"model" mapstructure:"model"`
	Data      Data   `yaml:"data" mapstructure:"data"`
	Objective string `yaml:"objective" mapstructure:"objective"` // mdlm | sft | edit | diffu_grpo | unigrpo | coupled_grpo
	Optim     Optim  `yaml:"optim" mapstructure:"optim"`
	Train     Train  `yaml:"train" mapstructure:"train"`
	Sample    Sample `yaml:"sample" mapstructure:"sample"`
}

// Run names the run and its randomness.
type Run struct {
	Name string `yaml:"name" mapstructure:"name"` // the run store is DIR/NAME.db
	Dir  string `yaml:"dir" mapstructure:"dir"`   // folder of run stores
	Seed int64  `yaml:"seed" mapstructure:"seed"` // every random draw derives from it
}

// Model is the transformer's shape.
type Model struct {
	Preset    string  `yaml:"preset" mapstructure:"preset"`         // tiny | small | base | "" (then d, layers, heads, ff are required)
	D         int     `yaml:"d" mapstructure:"d"`                   // width; 0 = the preset's
	Layers    int     `yaml:"layers" mapstructure:"layers"`         // blocks; 0 = the preset's
	Heads     int     `yaml:"heads" mapstructure:"heads"`           // attention heads; 0 = the preset's
	FF        int     `yaml:"ff" mapstructure:"ff"`                 // SwiGLU hidden width; 0 = the preset's
	Vocab     string  `yaml:"vocab" mapstructure:"vocab"`           // tokenizer: char
	MaxLen    int     `yaml:"max_len" mapstructure:"max_len"`       // longest sequence (RoPE tables)
	InitFrom  string  `yaml:"init_from" mapstructure:"init_from"`   // RUN.db[:STEP] to start from, "" = fresh weights
	RopeTheta float64 `yaml:"rope_theta" mapstructure:"rope_theta"` // RoPE base
	NormEps   float64 `yaml:"norm_eps" mapstructure:"norm_eps"`     // RMSNorm epsilon
}

// Data says what to train and evaluate on.
type Data struct {
	Task   string `yaml:"task" mapstructure:"task"`       // sudoku4x4 | countdown | text
	Train  string `yaml:"train" mapstructure:"train"`     // gen:N or a file in the task's format
	Eval   string `yaml:"eval" mapstructure:"eval"`       // gen:N or a file; "" = no periodic eval
	EvalN  int    `yaml:"eval_n" mapstructure:"eval_n"`   // examples per periodic eval, 0 = all
	SeqLen int    `yaml:"seq_len" mapstructure:"seq_len"` // 0 = the shortest that fits the training data
}

// Optim is AdamW and its schedule.
type Optim struct {
	LR          float64 `yaml:"lr" mapstructure:"lr"`                     // peak learning rate
	WeightDecay float64 `yaml:"weight_decay" mapstructure:"weight_decay"` // decoupled, on matrices only
	Beta1       float64 `yaml:"beta1" mapstructure:"beta1"`               // first-moment decay
	Beta2       float64 `yaml:"beta2" mapstructure:"beta2"`               // second-moment decay
	Eps         float64 `yaml:"eps" mapstructure:"eps"`                   // Adam epsilon
	ClipNorm    float64 `yaml:"clip_norm" mapstructure:"clip_norm"`       // global gradient-norm clip, 0 = off
	Schedule    string  `yaml:"schedule" mapstructure:"schedule"`         // constant | constant_with_warmup | cosine | cosine_with_min_lr
	Warmup      int     `yaml:"warmup" mapstructure:"warmup"`             // linear warm-up steps
	MinLRRatio  float64 `yaml:"min_lr_ratio" mapstructure:"min_lr_ratio"` // cosine_with_min_lr floor, as a fraction of lr
}

// Train is the loop.
type Train struct {
	Steps     int `yaml:"steps" mapstructure:"steps"`           // optimizer steps in all
	Batch     int `yaml:"batch" mapstructure:"batch"`           // sequences per step
	EvalEvery int `yaml:"eval_every" mapstructure:"eval_every"` // steps between evals, 0 = never
	CkptEvery int `yaml:"ckpt_every" mapstructure:"ckpt_every"` // steps between checkpoints (the last step always saves)
	LogEvery  int `yaml:"log_every" mapstructure:"log_every"`   // steps between metric rows
	KeepLast  int `yaml:"keep_last" mapstructure:"keep_last"`   // keep the last N checkpoints (0 = all) ...
	KeepEvery int `yaml:"keep_every" mapstructure:"keep_every"` // ... and, besides them, every step divisible by M (0 = none)
	Threads   int `yaml:"threads" mapstructure:"threads"`       // cores to use, 0 = all
}

// Sample is how eval and `remask sample` decode.
type Sample struct {
	GenLength   int     `yaml:"gen_length" mapstructure:"gen_length"`   // completion tokens, 0 = the task's answer length
	Steps       int     `yaml:"steps" mapstructure:"steps"`             // denoising steps, 0 = gen_length (one token a step)
	Block       int     `yaml:"block" mapstructure:"block"`             // semi-autoregressive block length, 0 = one block
	Temperature float64 `yaml:"temperature" mapstructure:"temperature"` // Gumbel-max temperature, 0 = greedy
	Remasking   string  `yaml:"remasking" mapstructure:"remasking"`     // low_confidence | random
	Confidence  string  `yaml:"confidence" mapstructure:"confidence"`   // prob | margin | neg_entropy: what low_confidence ranks by
	Threshold   float64 `yaml:"threshold" mapstructure:"threshold"`     // > 0: Fast-dLLM parallel decoding, commit every token this confident (at least one a step)
	Cache       string  `yaml:"cache" mapstructure:"cache"`             // none | prefix | dual: block KV cache (Fast-dLLM)
}

// Default is every field's default.
func Default() Config {
	return Config{
		Run:       Run{Name: "run", Dir: "runs", Seed: 1},
		Model:     Model{Preset: "tiny", Vocab: "char", MaxLen: 512, RopeTheta: 10000, NormEps: 1e-5},
		Data:      Data{EvalN: 200},
		Objective: "sft",
		Optim:     Optim{LR: 1e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, Schedule: "cosine", MinLRRatio: 0.1},
		Train:     Train{Steps: 1000, Batch: 16, CkptEvery: 100, LogEvery: 10},
		Sample:    Sample{Remasking: "low_confidence", Confidence: "prob", Cache: "none"},
	}
}

// ModelShape is a resolved transformer shape.
type ModelShape struct{ D, Layers, Heads, FF int }

// Presets are the shapes of DESIGN.md section 2.
func Presets() map[string]ModelShape {
	return map[string]ModelShape{
		"tiny":  {D: 128, Layers: 4, Heads: 4, FF: 384},
		"small": {D: 256, Layers: 6, Heads: 8, FF: 768},
		"base":  {D: 512, Layers: 8, Heads: 8, FF: 1536},
	}
}

// Resolved applies the explicit fields over the preset.
func (m Model) Resolved() (ModelShape, error) {
	var s ModelShape
	if m.Preset != "" {
		p, ok := Presets()[m.Preset]
		if !ok {
			return s, fmt.Errorf("model.preset %q: want tiny, small, base or empty", m.Preset)
		}
		s = p
	} else if m.D == 0 || m.Layers == 0 || m.Heads == 0 || m.FF == 0 {
		return s, fmt.Errorf("model: without a preset, d, layers, heads and ff are all required")
	}
	for _, f := range []struct {
		v   int
		dst *int
	}{{m.D, &s.D}, {m.Layers, &s.Layers}, {m.Heads, &s.Heads}, {m.FF, &s.FF}} {
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	return s, nil
}

// YAML is the resolved config as stored in the run store; Parse reads it back
// to an equal Config.
func (c Config) YAML() ([]byte, error) { return yaml.Marshal(c) }
