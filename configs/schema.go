package configs

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is one run.
type Config struct {
	Run       Run          `yaml:"run" mapstructure:"run"`
	Model     Model        `yaml:"model" mapstructure:"model"`
	Data      Data         `yaml:"data" mapstructure:"data"`
	Objective string       `yaml:"objective" mapstructure:"objective"` // mdlm | sft | edit | an RL algorithm (remask algos lists them)
	Optim     Optim        `yaml:"optim" mapstructure:"optim"`
	Train     Train        `yaml:"train" mapstructure:"train"`
	Sample    Sample       `yaml:"sample" mapstructure:"sample"`
	Rollout   Rollout      `yaml:"rollout" mapstructure:"rollout"`           // RL: how completions are sampled
	Rewards   []RewardSpec `yaml:"rewards,omitempty" mapstructure:"rewards"` // RL: weighted rewards
	Algo      Algo         `yaml:"algo" mapstructure:"algo"`                 // RL: the algorithm's settings
	Edit      Edit         `yaml:"edit" mapstructure:"edit"`                 // objective edit: Seed Diffusion's stage two
}

// Rollout is how an RL run samples its groups (the sampler's fields mean what
// they mean under sample:).
type Rollout struct {
	Workers     int     `yaml:"workers" mapstructure:"workers"`         // sampling workers, 0 = one per core
	Group       int     `yaml:"group" mapstructure:"group"`             // completions per prompt (G), 0 = the algorithm's default (diffu_grpo 6, unigrpo 6, coupled_grpo 10)
	Prompts     int     `yaml:"prompts" mapstructure:"prompts"`         // prompts per RL step
	GenLength   int     `yaml:"gen_length" mapstructure:"gen_length"`   // completion tokens, 0 = the task's answer length
	Steps       int     `yaml:"steps" mapstructure:"steps"`             // denoising steps, 0 = gen_length
	Block       int     `yaml:"block" mapstructure:"block"`             // block length, 0 = one block
	Temperature float64 `yaml:"temperature" mapstructure:"temperature"` // Gumbel-max temperature (exploration)
	Remasking   string  `yaml:"remasking" mapstructure:"remasking"`     // low_confidence | random
	Confidence  string  `yaml:"confidence" mapstructure:"confidence"`   // prob | margin | neg_entropy
	Threshold   float64 `yaml:"threshold" mapstructure:"threshold"`     // > 0: parallel decoding threshold
	Cache       string  `yaml:"cache" mapstructure:"cache"`             // none | prefix | dual
	// where the completions are sampled: local (this process's pool) | nats
	// (`remask worker` processes on any machine, through a NATS JetStream
	// server; docs/nats.md). Rollouts are bit-identical either way.
	Backend string `yaml:"backend" mapstructure:"backend"`
	// nats: a worker may sample with a snapshot it already holds up to this many
	// versions older than the step's instead of fetching the step's (bounded
	// off-policy lag, saves snapshot traffic); 0 = never, bit-identical to local
	MaxStaleness int         `yaml:"max_staleness" mapstructure:"max_staleness"`
	NATS         RolloutNATS `yaml:"nats" mapstructure:"nats"` // nats: the server and how to reach it
}

func defaultRollout() Rollout {
	return Rollout{Prompts: 4, Temperature: 0.9, Remasking: "low_confidence", Confidence: "prob", Cache: "none",
		Backend: "local", NATS: defaultRolloutNATS()}
}

// RolloutNATS is how an RL run with rollout.backend nats reaches its NATS
// server. Credentials left empty here are read from the environment:
// REMASK_NATS_USER, REMASK_NATS_PASSWORD, REMASK_NATS_TOKEN, REMASK_NATS_CREDS,
// REMASK_NATS_NKEY. A password or token is never logged, nor kept in the run
// store. None of these fields defines the run: a resumed run may change them.
type RolloutNATS struct {
	URL            string  `yaml:"url" mapstructure:"url"`                         // the server: nats://HOST:PORT or tls://HOST:PORT, several comma-separated for a cluster
	User           string  `yaml:"user" mapstructure:"user"`                       // user name, with password ("" = REMASK_NATS_USER)
	Password       Secret  `yaml:"password" mapstructure:"password"`               // password of user, never logged or stored ("" = REMASK_NATS_PASSWORD)
	Token          Secret  `yaml:"token" mapstructure:"token"`                     // an auth token instead of user and password, never logged or stored ("" = REMASK_NATS_TOKEN)
	Creds          string  `yaml:"creds" mapstructure:"creds"`                     // a .creds file (user JWT and nkey seed) instead ("" = REMASK_NATS_CREDS)
	NKey           string  `yaml:"nkey" mapstructure:"nkey"`                       // a file holding an nkey seed instead ("" = REMASK_NATS_NKEY)
	TLS            NATSTLS `yaml:"tls" mapstructure:"tls"`                         // TLS to the server
	ConnectTimeout string  `yaml:"connect_timeout" mapstructure:"connect_timeout"` // longest wait to connect and for JetStream to answer, e.g. 5s
	AckWait        string  `yaml:"ack_wait" mapstructure:"ack_wait"`               // a work item whose worker stopped reporting (it died) is redelivered to another after this, e.g. 30s
	StepTimeout    string  `yaml:"step_timeout" mapstructure:"step_timeout"`       // longest one step's rollout may take before the run fails, e.g. 30m
}

func defaultRolloutNATS() RolloutNATS {
	return RolloutNATS{URL: "nats://127.0.0.1:4222", ConnectTimeout: "5s", AckWait: "30s", StepTimeout: "30m"}
}

// NATSTLS are the TLS settings of a NATS connection; a tls:// URL or any of
// them turns TLS on.
type NATSTLS struct {
	CAFile             string `yaml:"ca_file" mapstructure:"ca_file"`                           // PEM bundle of the CA that signed the server's certificate ("" = the system's)
	CertFile           string `yaml:"cert_file" mapstructure:"cert_file"`                       // client certificate (PEM), with key_file, for a server that verifies clients
	KeyFile            string `yaml:"key_file" mapstructure:"key_file"`                         // the client certificate's private key (PEM)
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" mapstructure:"insecure_skip_verify"` // accept any server certificate (tests only)
}

// Secret is a credential in a config: read as a string, written (in a run
// store, in a logged config change) as "(redacted)" when set.
type Secret string

// MarshalYAML hides a set secret.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return "(redacted)", nil
}

// RewardSpec is one weighted reward: a registered name, or an exec plugin
// (reward/README.md). A reward's key in the metrics (reward/KEY) is its name,
// else the plugin's command line; keys are unique in a config.
type RewardSpec struct {
	Name                   string   `yaml:"name,omitempty" mapstructure:"name"`                                         // a registered reward (remask reward list), or with exec the plugin's name
	Exec                   []string `yaml:"exec,omitempty" mapstructure:"exec"`                                         // or a plugin program and its arguments, e.g. [python3, my_reward.py]
	Weight                 float64  `yaml:"weight" mapstructure:"weight"`                                               // its weight in the total
	Timeout                string   `yaml:"timeout,omitempty" mapstructure:"timeout"`                                   // exec: longest wait for one answer, e.g. 2s ("" = 2s)
	StartupGrace           string   `yaml:"startup_grace,omitempty" mapstructure:"startup_grace"`                       // exec: extra wait for the first answer after each (re)start, e.g. 30s ("" = 10s)
	MaxConsecutiveFailures *int     `yaml:"max_consecutive_failures,omitempty" mapstructure:"max_consecutive_failures"` // exec: failed completions in a row that abort the run (absent = 20, 0 = never)
	FailureScore           float64  `yaml:"failure_score,omitempty" mapstructure:"failure_score"`                       // the score of a completion the reward failed on
}

// Label names a reward in logs and metrics (reward/LABEL): its name, else the
// plugin command line.
func (r RewardSpec) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return strings.Join(r.Exec, " ")
}

// Algo are the RL algorithm's settings (DESIGN.md section 6): the fields
// every algorithm shares, then one section per registered algorithm
// (algo.NAME, see `remask algos`). Zero means the algorithm's published
// default where the table gives one.
type Algo struct {
	Mu              int      `yaml:"mu" mapstructure:"mu"`                               // inner updates per rollout batch, 0 = the algorithm's default (remask algos)
	Beta            float64  `yaml:"beta" mapstructure:"beta"`                           // KL weight, -1 = the algorithm's default (remask algos)
	EpsLow          float64  `yaml:"eps_low" mapstructure:"eps_low"`                     // clip below 1 - eps_low; -1 = the estimator's published range (remask algos)
	EpsHigh         float64  `yaml:"eps_high" mapstructure:"eps_high"`                   // clip above 1 + eps_high; -1 = the estimator's published range
	Advantage       string   `yaml:"advantage" mapstructure:"advantage"`                 // mean | group_norm | loo | zscore, "" = the algorithm's default (remask algos)
	LossAgg         string   `yaml:"loss_agg" mapstructure:"loss_agg"`                   // token (sum over the batch's counted tokens / their number; d1, DiffuCoder) | sequence (mean per completion, then over completions) | "" = the algorithm's published choice
	DropZeroSignal  bool     `yaml:"drop_zero_signal" mapstructure:"drop_zero_signal"`   // drop groups whose rewards are all equal (DAPO dynamic sampling)
	MinSignalGroups int      `yaml:"min_signal_groups" mapstructure:"min_signal_groups"` // > 0: roll more prompts in a step until this many groups have unequal rewards (DAPO dynamic sampling; needs drop_zero_signal)
	MaxRefills      int      `yaml:"max_refills" mapstructure:"max_refills"`             // dynamic sampling: extra batches of rollout.prompts per step at most (4)
	ZeroSignalSteps int      `yaml:"zero_signal_steps" mapstructure:"zero_signal_steps"` // warn loudly after this many steps in a row where no group had reward signal
	RefSyncEvery    int      `yaml:"ref_sync_every" mapstructure:"ref_sync_every"`       // steps between reference re-syncs, 0 = frozen (d1: 64)
	RefSyncAlpha    float64  `yaml:"ref_sync_alpha" mapstructure:"ref_sync_alpha"`       // ref = alpha policy + (1 - alpha) ref (d1: 0.6)
	Sections        Sections `yaml:",inline" mapstructure:"-"`                           // algo.NAME: each registered algorithm's own settings
}

func defaultAlgo() Algo {
	return Algo{MaxRefills: 4, ZeroSignalSteps: 5, Beta: -1, EpsLow: -1, EpsHigh: -1, RefSyncAlpha: 0.6, Sections: defaultSections()}
}

// Run names the run and its randomness.
type Run struct {
	Name string `yaml:"name" mapstructure:"name"` // the run store is DIR/NAME.db
	Dir  string `yaml:"dir" mapstructure:"dir"`   // folder of run stores
	Seed int64  `yaml:"seed" mapstructure:"seed"` // every random draw derives from it
}

func defaultRun() Run { return Run{Name: "run", Dir: "runs", Seed: 1} }

// Model is the transformer's shape.
type Model struct {
	Preset    string  `yaml:"preset" mapstructure:"preset"`         // tiny | small | base | "" (then d, layers, heads, ff are required)
	D         int     `yaml:"d" mapstructure:"d"`                   // width; 0 = the preset's
	Layers    int     `yaml:"layers" mapstructure:"layers"`         // blocks; 0 = the preset's
	Heads     int     `yaml:"heads" mapstructure:"heads"`           // attention heads; 0 = the preset's
	FF        int     `yaml:"ff" mapstructure:"ff"`                 // SwiGLU hidden width; 0 = the preset's
	Vocab     string  `yaml:"vocab" mapstructure:"vocab"`           // tokenizer: char (family remask) | hf (llada, dream, sdar: the tokenizer.json and chat template the imported store keeps, read from model.init_from) | the path of a tokenizer.json (tokenizer_config.json beside it)
	MaxLen    int     `yaml:"max_len" mapstructure:"max_len"`       // longest sequence (RoPE tables)
	InitFrom  string  `yaml:"init_from" mapstructure:"init_from"`   // RUN.db[:STEP] to start from, "" = fresh weights (a Hugging Face model's store: train and probe take the model fields the config leaves out from it)
	RopeTheta float64 `yaml:"rope_theta" mapstructure:"rope_theta"` // RoPE base
	NormEps   float64 `yaml:"norm_eps" mapstructure:"norm_eps"`     // RMSNorm epsilon
	Attention string  `yaml:"attention" mapstructure:"attention"`   // full (bidirectional) | block_causal (BD3-LM, SDAR: a position sees its own and earlier blocks; exact KV cache)
	BlockSize int     `yaml:"block_size" mapstructure:"block_size"` // block_causal: positions per block, and the sampler's block

	// What the model families differ in. `remask ckpt import --hf` writes
	// them for a llada or dream checkpoint; remask's own model leaves them 0.
	Family     string `yaml:"family" mapstructure:"family"`           // remask | llada | dream | sdar: whose architecture and checkpoint layout (llada, dream and sdar come from remask ckpt import --hf, with vocab hf)
	KVHeads    int    `yaml:"kv_heads" mapstructure:"kv_heads"`       // key/value heads, 0 = heads; fewer is grouped-query attention (dream)
	HeadDim    int    `yaml:"head_dim" mapstructure:"head_dim"`       // width of one attention head, 0 = d/heads
	QKVBias    bool   `yaml:"qkv_bias" mapstructure:"qkv_bias"`       // biases on the q, k and v projections (dream)
	TiedEmbed  bool   `yaml:"tied_embed" mapstructure:"tied_embed"`   // the output head is the token embedding transposed (no head tensor)
	LogitShift bool   `yaml:"logit_shift" mapstructure:"logit_shift"` // the network's row i-1 predicts token i (dream); samplers and objectives still read token i at row i
	QKNorm     bool   `yaml:"qk_norm" mapstructure:"qk_norm"`         // RMSNorm over each head of q and k before RoPE (sdar)
	VocabSize  int    `yaml:"vocab_size" mapstructure:"vocab_size"`   // llada, dream, sdar: token ids the model scores, its embedding rows (LLaDA's embedding_size); 0 with the char vocab, which sets it
	MaskID     int    `yaml:"mask_id" mapstructure:"mask_id"`         // llada, dream, sdar: id of the mask token (mask_token_id); 0 with the char vocab, which sets it
}

func defaultModel() Model {
	return Model{Preset: "tiny", Vocab: "char", MaxLen: 512, RopeTheta: 10000, NormEps: 1e-5, Family: "remask", Attention: "full"}
}

// Data says what to train and evaluate on.
type Data struct {
	Task   string `yaml:"task" mapstructure:"task"`       // sudoku4x4 | countdown | gsm8k | math | text
	Train  string `yaml:"train" mapstructure:"train"`     // gen:N or a file in the task's format
	Eval   string `yaml:"eval" mapstructure:"eval"`       // gen:N or a file; "" = no periodic eval
	EvalN  int    `yaml:"eval_n" mapstructure:"eval_n"`   // examples per periodic eval, 0 = all
	SeqLen int    `yaml:"seq_len" mapstructure:"seq_len"` // 0 = the shortest that fits the training data
}

// Task and Train have no defaults: a run must say what it trains on.
func defaultData() Data { return Data{EvalN: 200} }

// Optim is AdamW and its schedule.
type Optim struct {
	LR          float64 `yaml:"lr" mapstructure:"lr"`                     // peak learning rate
	WeightDecay float64 `yaml:"weight_decay" mapstructure:"weight_decay"` // decoupled, on matrices only
	Beta1       float64 `yaml:"beta1" mapstructure:"beta1"`               // first-moment decay
	Beta2       float64 `yaml:"beta2" mapstructure:"beta2"`               // second-moment decay
	Eps         float64 `yaml:"eps" mapstructure:"eps"`                   // Adam epsilon
	ClipNorm    float64 `yaml:"clip_norm" mapstructure:"clip_norm"`       // global gradient-norm clip, 0 = off
	Schedule    string  `yaml:"schedule" mapstructure:"schedule"`         // constant | constant_with_warmup | cosine | cosine_with_min_lr | warmup_stable_decay
	Warmup      int     `yaml:"warmup" mapstructure:"warmup"`             // linear warm-up steps
	MinLRRatio  float64 `yaml:"min_lr_ratio" mapstructure:"min_lr_ratio"` // cosine_with_min_lr and warmup_stable_decay floor, as a fraction of lr
	DecaySteps  int     `yaml:"decay_steps" mapstructure:"decay_steps"`   // warmup_stable_decay: steps of linear decay at the end of the run
}

func defaultOptim() Optim {
	return Optim{LR: 1e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, Schedule: "cosine", MinLRRatio: 0.1}
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

func defaultTrain() Train { return Train{Steps: 1000, Batch: 16, CkptEvery: 100, LogEvery: 10} }

// Sample is how eval and `remask sample` decode.
type Sample struct {
	GenLength       int     `yaml:"gen_length" mapstructure:"gen_length"`             // completion tokens, 0 = the task's answer length
	Steps           int     `yaml:"steps" mapstructure:"steps"`                       // denoising steps, 0 = gen_length (one token a step)
	Block           int     `yaml:"block" mapstructure:"block"`                       // semi-autoregressive block length, 0 = one block
	Temperature     float64 `yaml:"temperature" mapstructure:"temperature"`           // Gumbel-max temperature, 0 = greedy
	Remasking       string  `yaml:"remasking" mapstructure:"remasking"`               // low_confidence | random
	Confidence      string  `yaml:"confidence" mapstructure:"confidence"`             // prob | margin | neg_entropy: what low_confidence ranks by
	Threshold       float64 `yaml:"threshold" mapstructure:"threshold"`               // > 0: Fast-dLLM parallel decoding, commit every token this confident (at least one a step)
	Cache           string  `yaml:"cache" mapstructure:"cache"`                       // none | prefix | dual: block KV cache (Fast-dLLM)
	Revise          int     `yaml:"revise" mapstructure:"revise"`                     // revision passes after the last step (edit-trained models), 0 = off
	ReviseThreshold float64 `yaml:"revise_threshold" mapstructure:"revise_threshold"` // a committed token is replaced when another has at least this probability
}

func defaultSample() Sample {
	return Sample{Remasking: "low_confidence", Confidence: "prob", Cache: "none", ReviseThreshold: 0.9}
}

// Edit is the edit-based curriculum (objective: edit).
type Edit struct {
	AlphaMax   float64 `yaml:"alpha_max" mapstructure:"alpha_max"`   // most edits per answer token
	Schedule   string  `yaml:"schedule" mapstructure:"schedule"`     // uniform (alpha ~ U(0, alpha_max) per sequence) | linear (rises over the edit phase)
	Insert     float64 `yaml:"insert" mapstructure:"insert"`         // share of insertions
	Delete     float64 `yaml:"delete" mapstructure:"delete"`         // share of deletions
	Substitute float64 `yaml:"substitute" mapstructure:"substitute"` // share of substitutions
	Mix        float64 `yaml:"mix" mapstructure:"mix"`               // share of sequences edit-corrupted once edits begin
	Start      float64 `yaml:"start" mapstructure:"start"`           // fraction of the run trained mask-only first
}

func defaultEdit() Edit {
	return Edit{AlphaMax: 0.1, Schedule: "uniform", Insert: 1, Delete: 1, Substitute: 1, Mix: 0.5, Start: 0.8}
}

// Default is every field's default; each section's defaults sit beside its type.
func Default() Config {
	return Config{
		Run:       defaultRun(),
		Model:     defaultModel(),
		Data:      defaultData(),
		Objective: "sft",
		Optim:     defaultOptim(),
		Train:     defaultTrain(),
		Sample:    defaultSample(),
		Rollout:   defaultRollout(),
		Algo:      defaultAlgo(),
		Edit:      defaultEdit(),
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
	} else if missing := m.missingShape(); len(missing) > 0 {
		return s, fmt.Errorf("model: without a preset, d, layers, heads and ff are all required (missing %s)", strings.Join(missing, ", "))
	}
	for _, f := range []struct {
		name string
		v    int
		dst  *int
	}{{"d", m.D, &s.D}, {"layers", m.Layers, &s.Layers}, {"heads", m.Heads, &s.Heads}, {"ff", m.FF, &s.FF}} {
		if f.v < 0 {
			return ModelShape{}, fmt.Errorf("model.%s %d: must be >= 0", f.name, f.v)
		}
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	return s, nil
}

// missingShape names the shape fields left 0, which only a preset can fill.
func (m Model) missingShape() []string {
	var missing []string
	for _, f := range []struct {
		name string
		v    int
	}{{"d", m.D}, {"layers", m.Layers}, {"heads", m.Heads}, {"ff", m.FF}} {
		if f.v == 0 {
			missing = append(missing, f.name)
		}
	}
	return missing
}

// YAML is the resolved config as stored in the run store; Parse reads it back
// to an equal Config.
func (c Config) YAML() ([]byte, error) { return yaml.Marshal(c) }
