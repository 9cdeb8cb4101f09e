package configs

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/remask/remask/algos"
)

// FieldError is one invalid field: its dotted path (optim.lr, rewards[0].timeout)
// and what is wrong with it.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return fmt.Sprintf("field %s: %s", e.Field, e.Msg) }

// FieldErrors are all the problems Validate found, in schema order. Parse
// turns each field into a place: FILE:LINE, or the --set that gave the value.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// problems collects FieldErrors in the order the checks run.
type problems struct{ errs FieldErrors }

func (p *problems) bad(field, format string, args ...any) {
	p.errs = append(p.errs, FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) oneOf(field, v string, allowed ...string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	p.bad(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return false
}

func (p *problems) atLeast(field string, v, lo int) {
	if v < lo {
		p.bad(field, "%d must be >= %d", v, lo)
	}
}

// nonNegative also rejects NaN and infinities, which no field means.
func (p *problems) nonNegative(field string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		p.bad(field, "%g must be a finite number >= 0", v)
	}
}

// inRange checks lo <= v <= hi, with open ends where asked.
func (p *problems) inRange(field string, v, lo, hi float64, openLo, openHi bool) {
	ok := v >= lo && v <= hi && !(openLo && v == lo) && !(openHi && v == hi)
	if !ok {
		l, r := "[", "]"
		if openLo {
			l = "("
		}
		if openHi {
			r = ")"
		}
		p.bad(field, "%g must be in %s%g, %g%s", v, l, lo, hi, r)
	}
}

// Validate checks ranges, enums and required fields, then that the run's
// estimated memory fits the machine (CheckMemory). The error is a
// FieldErrors naming every bad field.
func (c Config) Validate() error {
	if err := c.ValidateFields(); err != nil {
		return err
	}
	// only a config whose fields are each in range gets a memory estimate
	if err := CheckMemory(c, typicalSeqLen(c)); err != nil {
		return FieldErrors{err.(FieldError)}
	}
	return nil
}

// ValidateFields is Validate without the memory check: for a config that
// describes a model to read (a stored config, an imported checkpoint's)
// rather than a run to start on this machine.
func (c Config) ValidateFields() error {
	var p problems
	c.validateRun(&p)
	c.validateModel(&p)
	c.validateData(&p)
	p.oneOf("objective", c.Objective, append([]string{"mdlm", "sft", "edit"}, algos.Names()...)...)
	c.validateOptim(&p)
	c.validateTrain(&p)
	c.validateSample(&p)
	c.validateRollout(&p)
	c.validateRewards(&p)
	c.validateAlgo(&p)
	c.validateEdit(&p)
	c.validateBounds(&p)
	if len(p.errs) > 0 {
		return p.errs
	}
	return nil
}

// Upper bounds on counts that do not show in the memory estimate (or would
// overflow it): far above any real run, low enough that a typo fails here
// and not as an out-of-memory crash.
const (
	maxCount = 1 << 16 // workers, threads, steps per generation, layers, heads
	maxWidth = 1 << 20 // model.d, model.ff
)

func (c Config) validateBounds(p *problems) {
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"train.threads", c.Train.Threads, maxCount}, {"rollout.workers", c.Rollout.Workers, maxCount}, {"rollout.max_staleness", c.Rollout.MaxStaleness, maxCount},
		{"rollout.group", c.Rollout.Group, maxCount}, {"rollout.prompts", c.Rollout.Prompts, maxCount},
		{"rollout.gen_length", c.Rollout.GenLength, c.Model.MaxLen}, {"sample.gen_length", c.Sample.GenLength, c.Model.MaxLen},
		{"rollout.steps", c.Rollout.Steps, maxCount}, {"sample.steps", c.Sample.Steps, maxCount},
		{"rollout.block", c.Rollout.Block, c.Model.MaxLen}, {"sample.block", c.Sample.Block, c.Model.MaxLen},
		{"sample.revise", c.Sample.Revise, maxCount}, {"algo.max_refills", c.Algo.MaxRefills, 64},
		{"algo.mu", c.Algo.Mu, maxCount}, {"train.batch", c.Train.Batch, 1 << 24},
		{"model.layers", c.Model.Layers, maxCount}, {"model.heads", c.Model.Heads, maxCount},
		{"model.d", c.Model.D, maxWidth}, {"model.ff", c.Model.FF, maxWidth},
		{"model.kv_heads", c.Model.KVHeads, maxCount}, {"model.head_dim", c.Model.HeadDim, maxWidth},
	} {
		if f.v > f.max {
			p.bad(f.name, "%d is more than the largest allowed, %d", f.v, f.max)
		}
	}
	for _, f := range []struct{ name, spec string }{{"data.train", c.Data.Train}, {"data.eval", c.Data.Eval}} {
		if rest, ok := strings.CutPrefix(f.spec, "gen:"); ok {
			if n, err := strconv.Atoi(rest); err != nil || n < 1 || n > maxGenerated {
				p.bad(f.name, "%q: want gen:N with N from 1 to %d (generated data is held in memory; write a file for more)", f.spec, maxGenerated)
			}
		}
	}
}

// maxGenerated is data.MaxGenerated (configs imports nothing of ours).
const maxGenerated = 1_000_000

func (c Config) validateRun(p *problems) {
	if c.Run.Name == "" || strings.ContainsAny(c.Run.Name, `/\:`) {
		p.bad("run.name", "%q must be non-empty without / \\ or :", c.Run.Name)
	}
	if c.Run.Dir == "" {
		p.bad("run.dir", "must not be empty")
	}
	if c.Run.Seed < 0 {
		p.bad("run.seed", "%d must be >= 0", c.Run.Seed)
	}
}

func (c Config) validateModel(p *problems) {
	m := c.Model
	shapeOK := true
	if _, ok := Presets()[m.Preset]; m.Preset != "" && !ok {
		p.bad("model.preset", "%q is not one of tiny, small, base or \"\" (then d, layers, heads and ff are required)", m.Preset)
		shapeOK = false
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"model.d", m.D}, {"model.layers", m.Layers}, {"model.heads", m.Heads}, {"model.ff", m.FF}} {
		if f.v < 0 {
			p.bad(f.name, "%d must be >= 0", f.v)
			shapeOK = false
		}
	}
	if shapeOK && m.Preset == "" {
		for _, name := range m.missingShape() {
			p.bad("model."+name, "required when model.preset is empty (no preset to take it from)")
			shapeOK = false
		}
	}
	p.atLeast("model.kv_heads", m.KVHeads, 0)
	p.atLeast("model.head_dim", m.HeadDim, 0)
	if shapeOK && m.KVHeads >= 0 && m.HeadDim >= 0 {
		// Resolved cannot fail here: the preset is known and nothing is negative or missing.
		s, _ := m.Resolved()
		switch {
		case m.HeadDim > 0 && m.HeadDim%2 != 0:
			p.bad("model.head_dim", "%d must be even (RoPE rotates pairs)", m.HeadDim)
		case m.HeadDim == 0 && (s.D%s.Heads != 0 || (s.D/s.Heads)%2 != 0):
			p.bad("model.heads", "%d must divide d %d into an even head width (RoPE rotates pairs)", s.Heads, s.D)
		}
		if m.KVHeads > 0 && (m.KVHeads > s.Heads || s.Heads%m.KVHeads != 0) {
			p.bad("model.kv_heads", "%d must divide heads %d (each key/value head serves a whole group of query heads)", m.KVHeads, s.Heads)
		}
	}
	c.validateFamily(p, shapeOK && m.KVHeads >= 0 && m.HeadDim >= 0)
	switch m.Family {
	case "remask":
		p.oneOf("model.vocab", m.Vocab, "char")
	case "llada", "dream", "sdar":
		if m.Vocab != "hf" && !strings.HasSuffix(m.Vocab, ".json") {
			p.bad("model.vocab", "%q: family %s reads a Hugging Face tokenizer: vocab must be hf (the one its store keeps) or the path of a tokenizer.json", m.Vocab, m.Family)
		}
	default:
		p.bad("model.family", "%q is not one of remask, llada, dream, sdar", m.Family)
	}
	if m.MaxLen < 8 || m.MaxLen > 1<<16 {
		p.bad("model.max_len", "%d must be in [8, 65536]", m.MaxLen)
	}
	if !(m.RopeTheta > 0) || math.IsInf(m.RopeTheta, 0) {
		p.bad("model.rope_theta", "%g must be a finite number > 0", m.RopeTheta)
	}
	c.validateBlocks(p)
	p.inRange("model.norm_eps", m.NormEps, 0, 1, true, true)
}

// validateBlocks checks block-causal attention: a block size with it and
// none without, and samplers that decode in the model's own blocks (a
// sampler block that cut across the model's blocks would decode positions
// whose keys it cannot cache exactly).
func (c Config) validateBlocks(p *problems) {
	m := c.Model
	if m.Attention != "" && !p.oneOf("model.attention", m.Attention, "full", "block_causal") {
		return
	}
	if m.Attention != "block_causal" { // "" is full: run stores written before the field
		if m.BlockSize != 0 {
			p.bad("model.block_size", "%d: only block_causal attention has blocks (leave it 0 or set model.attention: block_causal)", m.BlockSize)
		}
		return
	}
	if m.BlockSize < 1 || m.BlockSize > m.MaxLen {
		p.bad("model.block_size", "%d must be in [1, model.max_len %d] with block_causal attention", m.BlockSize, m.MaxLen)
		return
	}
	if m.Family == "dream" {
		p.bad("model.attention", "block_causal: family dream shifts its logits and is trained with full attention")
	}
	if c.Objective != "mdlm" && c.Objective != "sft" && !IsRL(c.Objective) {
		p.bad("objective", "%s is not available with block_causal attention: mdlm and sft train block diffusion (BD3-LM), and every RL estimator runs on it", c.Objective)
	}
	// SPG's blocks must be whole attention blocks (algos/spg)
	if spg, ok := c.Algo.Section("spg").(interface{ BlockLen() int }); ok && c.Objective == "spg" && spg.BlockLen()%m.BlockSize != 0 {
		p.bad("algo.spg.block_length", "%d must be a multiple of model.block_size %d on a block_causal model", spg.BlockLen(), m.BlockSize)
	}
	for _, s := range []struct {
		name       string
		block, gen int
	}{{"sample", c.Sample.Block, c.Sample.GenLength}, {"rollout", c.Rollout.Block, c.Rollout.GenLength}} {
		if s.block != 0 && s.block != m.BlockSize {
			p.bad(s.name+".block", "%d: a block_causal model decodes in its own blocks of model.block_size %d (leave it 0 or set it equal)", s.block, m.BlockSize)
		}
		if s.gen > 0 && s.gen%m.BlockSize != 0 {
			p.bad(s.name+".gen_length", "%d must be a multiple of model.block_size %d", s.gen, m.BlockSize)
		}
	}
}

// validateFamily checks the fields a family fixes: remask's own model takes
// its vocabulary and mask token from the char vocab; llada and dream name
// them, and their published code computes a head width of d/heads, q/k/v
// biases and a logit shift for dream only.
func (c Config) validateFamily(p *problems, shapeOK bool) {
	m := c.Model
	switch m.Family {
	case "remask":
		if m.VocabSize != 0 {
			p.bad("model.vocab_size", "%d: the char vocab sets it for family remask (leave it 0)", m.VocabSize)
		}
		if m.MaskID != 0 {
			p.bad("model.mask_id", "%d: the char vocab sets it for family remask (leave it 0)", m.MaskID)
		}
		return
	case "llada", "dream", "sdar":
	default:
		return // validateModel names the family
	}
	if m.Preset != "" {
		p.bad("model.preset", "%q: family %s takes its shape from d, layers, heads and ff (leave preset empty)", m.Preset, m.Family)
	}
	if m.VocabSize < 2 || m.VocabSize > maxVocab {
		p.bad("model.vocab_size", "%d must be in [2, %d] for family %s", m.VocabSize, maxVocab, m.Family)
	} else if m.MaskID < 0 || m.MaskID >= m.VocabSize {
		p.bad("model.mask_id", "%d must be a token id, in [0, vocab_size %d)", m.MaskID, m.VocabSize)
	}
	sdar := m.Family == "sdar"
	if m.QKNorm != sdar {
		p.bad("model.qk_norm", "%v: family %s has qk_norm %v", m.QKNorm, m.Family, sdar)
	}
	if sdar != (m.Attention == "block_causal") {
		p.bad("model.attention", "%q: family %s has %s attention", m.Attention, m.Family, map[bool]string{true: "block_causal", false: "full"}[sdar])
	}
	if s, _ := m.Resolved(); shapeOK && !sdar && m.HeadDim != 0 && m.HeadDim*s.Heads != s.D {
		p.bad("model.head_dim", "%d: family %s computes a head width of d/heads = %d (leave it 0)", m.HeadDim, m.Family, s.D/max(s.Heads, 1))
	}
	dream := m.Family == "dream"
	if m.LogitShift != dream {
		p.bad("model.logit_shift", "%v: family %s has logit_shift %v", m.LogitShift, m.Family, dream)
	}
	if dream && !m.QKVBias {
		p.bad("model.qkv_bias", "false: family dream has q/k/v biases")
	}
	if sdar && m.QKVBias {
		p.bad("model.qkv_bias", "true: family sdar has no biases")
	}
}

// maxVocab bounds model.vocab_size (Qwen2's is 152064).
const maxVocab = 1 << 24

func (c Config) validateData(p *problems) {
	d := c.Data
	if d.Task == "" {
		p.bad("data.task", "required (sudoku4x4, countdown, gsm8k, math or text)")
	} else {
		p.oneOf("data.task", d.Task, "sudoku4x4", "countdown", "gsm8k", "math", "text")
	}
	if d.Train == "" {
		p.bad("data.train", "required (gen:N or a file)")
	}
	p.atLeast("data.eval_n", d.EvalN, 0)
	if d.SeqLen < 0 || d.SeqLen > c.Model.MaxLen {
		p.bad("data.seq_len", "%d must be in [0, model.max_len %d]", d.SeqLen, c.Model.MaxLen)
	}
}

func (c Config) validateOptim(p *problems) {
	o := c.Optim
	p.inRange("optim.lr", o.LR, 0, 1, true, true)
	p.nonNegative("optim.weight_decay", o.WeightDecay)
	p.inRange("optim.beta1", o.Beta1, 0, 1, false, true)
	p.inRange("optim.beta2", o.Beta2, 0, 1, false, true)
	p.inRange("optim.eps", o.Eps, 0, 1, true, true)
	p.nonNegative("optim.clip_norm", o.ClipNorm)
	p.oneOf("optim.schedule", o.Schedule, "constant", "constant_with_warmup", "cosine", "cosine_with_min_lr", "warmup_stable_decay")
	if o.Warmup < 0 || o.Warmup > c.Train.Steps {
		p.bad("optim.warmup", "%d must be in [0, train.steps %d]", o.Warmup, c.Train.Steps)
	}
	p.inRange("optim.min_lr_ratio", o.MinLRRatio, 0, 1, false, false)
	// decay_steps past the run's length is allowed so that --set train.steps=N
	// can shorten a recipe: the schedule then decays over every step after
	// warm-up.
	p.atLeast("optim.decay_steps", o.DecaySteps, 0)
	if o.Schedule == "warmup_stable_decay" && o.DecaySteps == 0 {
		p.bad("optim.decay_steps", "warmup_stable_decay needs decay_steps > 0 (without it, use constant_with_warmup)")
	}
}

func (c Config) validateTrain(p *problems) {
	t := c.Train
	p.atLeast("train.steps", t.Steps, 1)
	p.atLeast("train.batch", t.Batch, 1)
	p.atLeast("train.eval_every", t.EvalEvery, 0)
	p.atLeast("train.ckpt_every", t.CkptEvery, 0)
	p.atLeast("train.log_every", t.LogEvery, 0)
	p.atLeast("train.keep_last", t.KeepLast, 0)
	p.atLeast("train.keep_every", t.KeepEvery, 0)
	p.atLeast("train.threads", t.Threads, 0)
}

func (c Config) validateSample(p *problems) {
	s := c.Sample
	p.atLeast("sample.gen_length", s.GenLength, 0)
	p.atLeast("sample.steps", s.Steps, 0)
	p.atLeast("sample.block", s.Block, 0)
	p.nonNegative("sample.temperature", s.Temperature)
	p.oneOf("sample.remasking", s.Remasking, "low_confidence", "random")
	p.oneOf("sample.confidence", s.Confidence, "prob", "margin", "neg_entropy")
	p.inRange("sample.threshold", s.Threshold, 0, 1, false, false)
	p.oneOf("sample.cache", s.Cache, "none", "prefix", "dual")
	p.atLeast("sample.revise", s.Revise, 0)
	p.inRange("sample.revise_threshold", s.ReviseThreshold, 0, 1, true, false)
}

func (c Config) validateRollout(p *problems) {
	r := c.Rollout
	p.atLeast("rollout.workers", r.Workers, 0)
	p.atLeast("rollout.group", r.Group, 0)
	if r.Group == 1 {
		p.bad("rollout.group", "1 gives every completion a zero advantage; use 2 or more (or 0 for the default)")
	}
	p.atLeast("rollout.prompts", r.Prompts, 1)
	p.atLeast("rollout.gen_length", r.GenLength, 0)
	p.atLeast("rollout.steps", r.Steps, 0)
	p.atLeast("rollout.block", r.Block, 0)
	p.nonNegative("rollout.temperature", r.Temperature)
	p.oneOf("rollout.remasking", r.Remasking, "low_confidence", "random")
	p.oneOf("rollout.confidence", r.Confidence, "prob", "margin", "neg_entropy")
	p.inRange("rollout.threshold", r.Threshold, 0, 1, false, false)
	p.oneOf("rollout.cache", r.Cache, "none", "prefix", "dual")
	p.oneOf("rollout.backend", r.Backend, "local", "nats")
	p.atLeast("rollout.max_staleness", r.MaxStaleness, 0)
	c.validateRolloutNATS(p)
}

// validateRolloutNATS checks the nats section whatever the backend, as every
// other section is checked; only the URL is required, and only for nats.
func (c Config) validateRolloutNATS(p *problems) {
	n := c.Rollout.NATS
	if strings.TrimSpace(n.URL) == "" {
		if c.Rollout.Backend == "nats" {
			p.bad("rollout.nats.url", "required with rollout.backend nats, e.g. nats://127.0.0.1:4222")
		}
	} else {
		for _, one := range strings.Split(n.URL, ",") {
			if msg := natsURLProblem(strings.TrimSpace(one)); msg != "" {
				p.bad("rollout.nats.url", "%s", msg)
				break
			}
		}
	}
	if n.Password != "" && n.User == "" {
		p.bad("rollout.nats.password", "is set without rollout.nats.user")
	}
	ways := 0
	for _, set := range []bool{n.User != "", n.Token != "", n.Creds != "", n.NKey != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		p.bad("rollout.nats", "give one way to authenticate: user and password, token, creds or nkey")
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		p.bad("rollout.nats.tls.cert_file", "and key_file go together: give both or neither")
	}
	durs := map[string]time.Duration{}
	for _, f := range []struct{ name, v string }{
		{"rollout.nats.connect_timeout", n.ConnectTimeout}, {"rollout.nats.ack_wait", n.AckWait}, {"rollout.nats.step_timeout", n.StepTimeout},
	} {
		d, err := time.ParseDuration(f.v)
		if err != nil || d <= 0 {
			p.bad(f.name, "%q is not a positive duration such as 30s", f.v)
			continue
		}
		durs[f.name] = d
	}
	if a, ok := durs["rollout.nats.ack_wait"]; ok && a < 100*time.Millisecond {
		p.bad("rollout.nats.ack_wait", "%s is shorter than 100ms: workers report progress every third of it", a)
	}
	if a, ok := durs["rollout.nats.ack_wait"]; ok {
		if s, ok := durs["rollout.nats.step_timeout"]; ok && s <= a {
			p.bad("rollout.nats.step_timeout", "%s must be longer than ack_wait %s (an item a dead worker held waits ack_wait before another worker gets it)", s, a)
		}
	}
}

// natsURLProblem says what is wrong with one NATS server URL, "" if nothing.
func natsURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return fmt.Sprintf("%q is not a server URL such as nats://127.0.0.1:4222", redactURL(s))
	case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Sprintf("%q: scheme %q is not nats, tls, ws or wss", redactURL(s), u.Scheme)
	case u.Port() != "":
		if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
			return fmt.Sprintf("%q: port %q is not in 1-65535", redactURL(s), u.Port())
		}
	}
	return ""
}

// redactURL hides a URL's user part (a user and password, or a token).
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		if u.User != nil {
			u.User = nil
			return strings.Replace(u.String(), "//", "//(redacted)@", 1)
		}
		return u.String()
	}
	if at := strings.LastIndex(s, "@"); at >= 0 {
		return "(redacted)" + s[at:]
	}
	return s
}

func (c Config) validateRewards(p *problems) {
	keys := map[string]int{} // Label -> the first entry with it
	for i, r := range c.Rewards {
		at := fmt.Sprintf("rewards[%d]", i)
		switch {
		case r.Name == "" && len(r.Exec) == 0:
			p.bad(at, "give name (see remask reward list) or exec (a plugin, which name then names)")
		case len(r.Exec) > 0 && strings.TrimSpace(r.Exec[0]) == "":
			p.bad(at+".exec", "the program (its first element) is empty")
		default:
			if j, dup := keys[r.Label()]; dup {
				p.bad(at, "key %q (metric reward/%s) is also rewards[%d]'s; use each reward once, and give exec plugins names of their own", r.Label(), r.Label(), j)
			} else {
				keys[r.Label()] = i
			}
		}
		if r.Timeout != "" {
			if d, err := time.ParseDuration(r.Timeout); err != nil || d <= 0 {
				p.bad(at+".timeout", "%q is not a positive duration such as 2s", r.Timeout)
			}
		}
		if r.StartupGrace != "" {
			if d, err := time.ParseDuration(r.StartupGrace); err != nil || d < 0 {
				p.bad(at+".startup_grace", "%q is not a duration >= 0 such as 10s", r.StartupGrace)
			}
		}
		if m := r.MaxConsecutiveFailures; m != nil && *m < 0 {
			p.bad(at+".max_consecutive_failures", "%d must be >= 0 (0 = never abort)", *m)
		}
		if len(r.Exec) == 0 {
			if r.StartupGrace != "" {
				p.bad(at+".startup_grace", "applies to exec plugins only")
			}
			if r.MaxConsecutiveFailures != nil {
				p.bad(at+".max_consecutive_failures", "applies to exec plugins only")
			}
		}
		if math.IsNaN(r.Weight) || math.IsInf(r.Weight, 0) {
			p.bad(at+".weight", "%g must be finite", r.Weight)
		}
		if math.IsNaN(r.FailureScore) || math.IsInf(r.FailureScore, 0) {
			p.bad(at+".failure_score", "%g must be finite", r.FailureScore)
		}
	}
	if IsRL(c.Objective) && len(c.Rewards) == 0 {
		p.bad("rewards", "objective %s needs at least one reward", c.Objective)
	}
}

func (c Config) validateAlgo(p *problems) {
	a := c.Algo
	p.atLeast("algo.mu", a.Mu, 0)
	if !(a.Beta >= 0 || a.Beta == -1) || math.IsInf(a.Beta, 0) {
		p.bad("algo.beta", "%g must be >= 0 (or -1 for the algorithm's default)", a.Beta)
	}
	if a.EpsLow != -1 { // -1: the estimator's published clip range
		p.inRange("algo.eps_low", a.EpsLow, 0, 1, false, true)
	}
	if a.EpsHigh != -1 {
		p.nonNegative("algo.eps_high", a.EpsHigh)
	}
	if a.Advantage != "" {
		p.oneOf("algo.advantage", a.Advantage, algos.AdvantageModes...)
	}
	if a.LossAgg != "" {
		p.oneOf("algo.loss_agg", a.LossAgg, algos.Aggregations...)
	}
	p.atLeast("algo.zero_signal_steps", a.ZeroSignalSteps, 1)
	p.atLeast("algo.min_signal_groups", a.MinSignalGroups, 0)
	p.atLeast("algo.max_refills", a.MaxRefills, 0)
	if a.MinSignalGroups > 0 && !a.DropZeroSignal {
		p.bad("algo.min_signal_groups", "%d needs algo.drop_zero_signal: true (dynamic sampling trains on the groups with signal only)", a.MinSignalGroups)
	}
	p.atLeast("algo.ref_sync_every", a.RefSyncEvery, 0)
	p.inRange("algo.ref_sync_alpha", a.RefSyncAlpha, 0, 1, false, false)
	a.validateSections(p)
}

func (c Config) validateEdit(p *problems) {
	e := c.Edit
	p.inRange("edit.alpha_max", e.AlphaMax, 0, 1, false, false)
	p.oneOf("edit.schedule", e.Schedule, "uniform", "linear")
	p.nonNegative("edit.insert", e.Insert)
	p.nonNegative("edit.delete", e.Delete)
	p.nonNegative("edit.substitute", e.Substitute)
	if e.Insert == 0 && e.Delete == 0 && e.Substitute == 0 {
		p.bad("edit", "insert, delete and substitute are all 0; give at least one a share")
	}
	p.inRange("edit.mix", e.Mix, 0, 1, false, false)
	p.inRange("edit.start", e.Start, 0, 1, false, false)
}
