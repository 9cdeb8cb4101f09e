package configs

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Load reads a run config file, applies "key=value" overrides and validates.
func Load(path string, overrides []string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(path, b, overrides)
}

// Parse is Load from bytes; name is used in messages.
func Parse(name string, text []byte, overrides []string) (Config, error) {
	// The yaml.Node pass gives line numbers for unknown keys and wrong types,
	// which viper's decoding would report without them.
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	if len(doc.Content) > 0 {
		if err := checkNode(name, doc.Content[0], reflect.TypeOf(Config{}), ""); err != nil {
			return Config{}, err
		}
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(text)); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	for _, o := range overrides {
		key, val, err := parseOverride(o)
		if err != nil {
			return Config{}, err
		}
		v.Set(key, val)
	}
	cfg := Default()
	dec := func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true; dc.WeaklyTypedInput = false }
	if err := v.Unmarshal(&cfg, dec); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// field finds the struct field of a YAML key.
func field(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.Split(f.Tag.Get("yaml"), ",")[0] == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func keysOf(t reflect.Type) []string {
	var ks []string
	for i := 0; i < t.NumField(); i++ {
		ks = append(ks, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
	}
	return ks
}

// checkNode walks a YAML node against the schema type: every key known,
// every scalar of the field's type.
func checkNode(file string, n *yaml.Node, t reflect.Type, path string) error {
	if t.Kind() == reflect.Struct {
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("%s:%d: field %s: want a mapping of fields, got %s", file, n.Line, orRoot(path), describe(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			f, ok := field(t, k.Value)
			full := join(path, k.Value)
			if !ok {
				msg := fmt.Sprintf("%s:%d: unknown field %q", file, k.Line, full)
				if s := closest(k.Value, keysOf(t)); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", join(path, s))
				}
				return fmt.Errorf("%s", msg)
			}
			if err := checkNode(file, val, f.Type, full); err != nil {
				return err
			}
		}
		return nil
	}
	if t.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			if n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("%s:%d: field %s: want a list, got %s", file, n.Line, path, describe(n))
		}
		for i, el := range n.Content {
			if err := checkNode(file, el, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkScalar(n, t.Kind()); err != nil {
		return fmt.Errorf("%s:%d: field %s: %v", file, n.Line, path, err)
	}
	return nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// checkScalar: integers for int fields, numbers for float fields, plain
// scalars for strings.
func checkScalar(n *yaml.Node, k reflect.Kind) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single value, got %s", describe(n))
	}
	switch k {
	case reflect.Int, reflect.Int64:
		if n.Tag != "!!int" {
			return fmt.Errorf("want an integer, got %s", describe(n))
		}
	case reflect.Float64:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			return fmt.Errorf("want a number, got %s", describe(n))
		}
	case reflect.String:
		if n.Tag != "!!str" && n.Tag != "!!null" {
			return fmt.Errorf("want a string, got %s (quote it)", describe(n))
		}
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return fmt.Errorf("want true or false, got %s", describe(n))
		}
	}
	return nil
}

// parseOverride turns "a.b=value" into viper's key and a typed value, checked
// against the schema.
func parseOverride(o string) (string, any, error) {
	key, raw, ok := strings.Cut(o, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", nil, fmt.Errorf("--set %q: want key=value, e.g. train.steps=100", o)
	}
	t := reflect.TypeOf(Config{})
	parts := strings.Split(key, ".")
	for i, p := range parts {
		f, ok := field(t, p)
		if !ok {
			msg := fmt.Sprintf("--set %s: unknown field %q", key, strings.Join(parts[:i+1], "."))
			if s := closest(p, keysOf(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(append(parts[:i:i], s), "."))
			}
			return "", nil, fmt.Errorf("%s", msg)
		}
		t = f.Type
	}
	if t.Kind() == reflect.Struct {
		return "", nil, fmt.Errorf("--set %s: a section, set one of its fields (%s)", key, strings.Join(keysOf(t), ", "))
	}
	if t.Kind() == reflect.Slice {
		return "", nil, fmt.Errorf("--set %s: a list; edit it in the YAML file", key)
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(raw), &n); err != nil || len(n.Content) == 0 {
		if strings.TrimSpace(raw) == "" && t.Kind() == reflect.String {
			return key, "", nil
		}
		return "", nil, fmt.Errorf("--set %s: cannot read value %q", key, raw)
	}
	if err := checkScalar(n.Content[0], t.Kind()); err != nil {
		return "", nil, fmt.Errorf("--set %s: %v", key, err)
	}
	var val any
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		var x int64
		err := n.Content[0].Decode(&x)
		val = x
		if t.Kind() == reflect.Int {
			val = int(x)
		}
		if err != nil {
			return "", nil, fmt.Errorf("--set %s: %v", key, err)
		}
	case reflect.Float64:
		var x float64
		if err := n.Content[0].Decode(&x); err != nil {
			return "", nil, fmt.Errorf("--set %s: %v", key, err)
		}
		val = x
	case reflect.Bool:
		var x bool
		if err := n.Content[0].Decode(&x); err != nil {
			return "", nil, fmt.Errorf("--set %s: %v", key, err)
		}
		val = x
	default:
		val = n.Content[0].Value
	}
	return key, val, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

// closest is the known key within edit distance 2 of k, if any.
func closest(k string, known []string) string {
	best, bestD := "", 3
	sort.Strings(known)
	for _, c := range known {
		if d := levenshtein(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Validate checks ranges and enums; messages name the field.
func (c Config) Validate() error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("field %s: %s", field, fmt.Sprintf(format, args...)))
	}
	oneOf := func(field, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	if c.Run.Name == "" || strings.ContainsAny(c.Run.Name, `/\:`) {
		bad("run.name", "%q must be non-empty without / \\ or :", c.Run.Name)
	}
	if c.Run.Dir == "" {
		bad("run.dir", "must not be empty")
	}
	if c.Run.Seed < 0 {
		bad("run.seed", "%d must be >= 0", c.Run.Seed)
	}
	if c.Model.Preset != "" {
		oneOf("model.preset", c.Model.Preset, "tiny", "small", "base")
	}
	for f, v := range map[string]int{"model.d": c.Model.D, "model.layers": c.Model.Layers, "model.heads": c.Model.Heads, "model.ff": c.Model.FF} {
		if v < 0 {
			bad(f, "%d must be >= 0", v)
		}
	}
	if s, err := c.Model.Resolved(); err != nil {
		errs = append(errs, err.Error())
	} else if s.D%s.Heads != 0 || (s.D/s.Heads)%2 != 0 {
		bad("model.heads", "%d must divide d %d into an even head width", s.Heads, s.D)
	}
	oneOf("model.vocab", c.Model.Vocab, "char")
	if c.Model.MaxLen < 8 || c.Model.MaxLen > 1<<16 {
		bad("model.max_len", "%d must be in [8, 65536]", c.Model.MaxLen)
	}
	if !(c.Model.RopeTheta > 0) {
		bad("model.rope_theta", "%g must be > 0", c.Model.RopeTheta)
	}
	if !(c.Model.NormEps > 0 && c.Model.NormEps < 1) {
		bad("model.norm_eps", "%g must be in (0, 1)", c.Model.NormEps)
	}
	if c.Data.Task == "" {
		bad("data.task", "required (sudoku4x4, countdown or text)")
	} else {
		oneOf("data.task", c.Data.Task, "sudoku4x4", "countdown", "text")
	}
	if c.Data.Train == "" {
		bad("data.train", "required (gen:N or a file)")
	}
	if c.Data.EvalN < 0 {
		bad("data.eval_n", "%d must be >= 0", c.Data.EvalN)
	}
	if c.Data.SeqLen < 0 || c.Data.SeqLen > c.Model.MaxLen {
		bad("data.seq_len", "%d must be in [0, model.max_len %d]", c.Data.SeqLen, c.Model.MaxLen)
	}
	oneOf("objective", c.Objective, "mdlm", "sft", "edit", "diffu_grpo", "unigrpo", "coupled_grpo")
	o := c.Optim
	if !(o.LR > 0 && o.LR < 1) {
		bad("optim.lr", "%g must be in (0, 1)", o.LR)
	}
	if !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0) {
		bad("optim.weight_decay", "%g must be >= 0", o.WeightDecay)
	}
	if !(o.Beta1 >= 0 && o.Beta1 < 1) {
		bad("optim.beta1", "%g must be in [0, 1)", o.Beta1)
	}
	if !(o.Beta2 >= 0 && o.Beta2 < 1) {
		bad("optim.beta2", "%g must be in [0, 1)", o.Beta2)
	}
	if !(o.Eps > 0) {
		bad("optim.eps", "%g must be > 0", o.Eps)
	}
	if !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0) {
		bad("optim.clip_norm", "%g must be >= 0", o.ClipNorm)
	}
	oneOf("optim.schedule", o.Schedule, "constant", "constant_with_warmup", "cosine", "cosine_with_min_lr")
	if o.Warmup < 0 || o.Warmup > c.Train.Steps {
		bad("optim.warmup", "%d must be in [0, train.steps %d]", o.Warmup, c.Train.Steps)
	}
	if !(o.MinLRRatio >= 0 && o.MinLRRatio <= 1) {
		bad("optim.min_lr_ratio", "%g must be in [0, 1]", o.MinLRRatio)
	}
	tr := c.Train
	if tr.Steps < 1 {
		bad("train.steps", "%d must be >= 1", tr.Steps)
	}
	if tr.Batch < 1 {
		bad("train.batch", "%d must be >= 1", tr.Batch)
	}
	for f, v := range map[string]int{"train.eval_every": tr.EvalEvery, "train.ckpt_every": tr.CkptEvery, "train.log_every": tr.LogEvery, "train.keep_last": tr.KeepLast, "train.keep_every": tr.KeepEvery, "train.threads": tr.Threads} {
		if v < 0 {
			bad(f, "%d must be >= 0", v)
		}
	}
	s := c.Sample
	if s.GenLength < 0 || s.Steps < 0 || s.Block < 0 {
		bad("sample", "gen_length %d, steps %d and block %d must be >= 0", s.GenLength, s.Steps, s.Block)
	}
	if !(s.Temperature >= 0) || math.IsInf(s.Temperature, 0) {
		bad("sample.temperature", "%g must be >= 0", s.Temperature)
	}
	ro := c.Rollout
	if ro.Workers < 0 || ro.Group < 0 || ro.Prompts < 1 || ro.GenLength < 0 || ro.Steps < 0 || ro.Block < 0 {
		bad("rollout", "workers %d, group %d, gen_length %d, steps %d, block %d must be >= 0 and prompts %d >= 1", ro.Workers, ro.Group, ro.GenLength, ro.Steps, ro.Block, ro.Prompts)
	}
	if ro.Group == 1 {
		bad("rollout.group", "1 gives every completion a zero advantage; use 2 or more")
	}
	if !(ro.Temperature >= 0) || math.IsInf(ro.Temperature, 0) {
		bad("rollout.temperature", "%g must be >= 0", ro.Temperature)
	}
	oneOf("rollout.remasking", ro.Remasking, "low_confidence", "random")
	oneOf("rollout.confidence", ro.Confidence, "prob", "margin", "neg_entropy")
	oneOf("rollout.cache", ro.Cache, "none", "prefix", "dual")
	if !(ro.Threshold >= 0 && ro.Threshold <= 1) {
		bad("rollout.threshold", "%g must be in [0, 1]", ro.Threshold)
	}
	for i, r := range c.Rewards {
		if (r.Name == "") == (len(r.Exec) == 0) {
			bad(fmt.Sprintf("rewards[%d]", i), "give exactly one of name (see remask reward list) and exec")
		}
		if r.Timeout != "" {
			if d, err := time.ParseDuration(r.Timeout); err != nil || d <= 0 {
				bad(fmt.Sprintf("rewards[%d].timeout", i), "%q is not a positive duration such as 2s", r.Timeout)
			}
		}
		if math.IsNaN(r.Weight) || math.IsInf(r.Weight, 0) {
			bad(fmt.Sprintf("rewards[%d].weight", i), "%g must be finite", r.Weight)
		}
	}
	rl := c.Objective == "diffu_grpo" || c.Objective == "unigrpo" || c.Objective == "coupled_grpo"
	if rl && len(c.Rewards) == 0 {
		bad("rewards", "objective %s needs at least one reward", c.Objective)
	}
	a := c.Algo
	if a.Mu < 0 || a.RefSyncEvery < 0 || a.T < 1 {
		bad("algo", "mu %d and ref_sync_every %d must be >= 0, t %d >= 1", a.Mu, a.RefSyncEvery, a.T)
	}
	if !(a.Beta >= 0 || a.Beta == -1) {
		bad("algo.beta", "%g must be >= 0 (or -1 for the algorithm's default)", a.Beta)
	}
	if !(a.EpsLow >= 0 && a.EpsLow < 1) || !(a.EpsHigh >= 0) {
		bad("algo.eps_low", "eps_low %g must be in [0, 1), eps_high %g >= 0", a.EpsLow, a.EpsHigh)
	}
	if !(a.PMaskPrompt >= 0 && a.PMaskPrompt <= 1) || !(a.RefSyncAlpha >= 0 && a.RefSyncAlpha <= 1) {
		bad("algo.p_mask_prompt", "p_mask_prompt %g and ref_sync_alpha %g must be in [0, 1]", a.PMaskPrompt, a.RefSyncAlpha)
	}
	if !(a.TMin > 0 && a.TMin <= a.TMax && a.TMax < 1) {
		bad("algo.t_min", "need 0 < t_min %g <= t_max %g < 1", a.TMin, a.TMax)
	}
	if a.Advantage != "" {
		oneOf("algo.advantage", a.Advantage, "mean", "group_norm", "loo")
	}
	ed := c.Edit
	if !(ed.AlphaMax >= 0 && ed.AlphaMax <= 1) || !(ed.Mix >= 0 && ed.Mix <= 1) || !(ed.Start >= 0 && ed.Start <= 1) {
		bad("edit", "alpha_max %g, mix %g and start %g must be in [0, 1]", ed.AlphaMax, ed.Mix, ed.Start)
	}
	if !(ed.Insert >= 0 && ed.Delete >= 0 && ed.Substitute >= 0) || ed.Insert+ed.Delete+ed.Substitute <= 0 {
		bad("edit", "insert %g, delete %g, substitute %g must be >= 0 and not all 0", ed.Insert, ed.Delete, ed.Substitute)
	}
	oneOf("edit.schedule", ed.Schedule, "uniform", "linear")
	if s.Revise < 0 || !(s.ReviseThreshold > 0 && s.ReviseThreshold <= 1) {
		bad("sample.revise", "revise %d must be >= 0 and revise_threshold %g in (0, 1]", s.Revise, s.ReviseThreshold)
	}
	oneOf("sample.remasking", s.Remasking, "low_confidence", "random")
	oneOf("sample.confidence", s.Confidence, "prob", "margin", "neg_entropy")
	oneOf("sample.cache", s.Cache, "none", "prefix", "dual")
	if !(s.Threshold >= 0 && s.Threshold <= 1) {
		bad("sample.threshold", "%g must be in [0, 1]", s.Threshold)
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
