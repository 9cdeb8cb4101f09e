package configs

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/remask/remask/algos"
)

// Load reads a run config file, applies "key=value" overrides and validates.
func Load(path string, overrides []string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b, overrides)
}

// Parse is Load from bytes; name is used in messages.
func Parse(name string, text []byte, overrides []string) (Config, error) {
	return parseOver(name, text, overrides, nil)
}

// LoadOver is Load with model in place of the default model section: the
// model fields the file and the overrides leave out keep model's values.
// A run that starts from an imported model (model.init_from) inherits its
// family and shape this way.
func LoadOver(path string, overrides []string, model Model) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return parseOver(path, b, overrides, &model)
}

func parseOver(name string, text []byte, overrides []string, model *Model) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	return parseNode(name, &doc, overrides, true, model)
}

// parseNode decodes a parsed YAML document. The yaml.Node pass checks keys and
// scalar types against the struct tags and records each field's line, which
// viper's decoding would not report; viper then reads the same tree.
//
// checkMemory adds the memory check to the validation (Validate rather than
// ValidateFields).
func parseNode(name string, doc *yaml.Node, overrides []string, checkMemory bool, model *Model) (Config, error) {
	w := walker{file: name, lines: map[string]int{}}
	values := map[string]any{}
	if len(doc.Content) > 0 {
		if err := w.check(doc.Content[0], reflect.TypeOf(Config{}), ""); err != nil {
			return Config{}, err
		}
		if err := doc.Decode(&values); err != nil {
			return Config{}, fmt.Errorf("%s: %v", name, err)
		}
	}
	// the algorithms' sections are decoded into their own types, not by viper
	rawSections, err := takeSections(values, w.lines)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	v := viper.New()
	if err := v.MergeConfigMap(values); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	setBy := map[string]string{} // field path -> the --set that gave it
	for _, o := range overrides {
		key, val, err := parseOverride(o)
		if err != nil {
			return Config{}, err
		}
		if sec, sk, ok := sectionKey(key); ok {
			if rawSections[sec] == nil {
				rawSections[sec] = map[string]any{}
			}
			rawSections[sec][sk] = val
			setBy["algo."+sec+"."+sk] = o
			continue
		}
		v.Set(key, val)
		setBy[key] = o
	}
	cfg := Default()
	if model != nil {
		cfg.Model = *model
	}
	dec := func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true; dc.WeaklyTypedInput = false }
	if err := v.Unmarshal(&cfg, dec); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	if len(cfg.Rewards) == 0 {
		cfg.Rewards = nil // "rewards: []" and no rewards are the same run, and YAML() stores them alike
	}
	if cfg.Algo.Sections, err = buildSections(rawSections); err != nil {
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	// the aggregation is resolved here, so that a run store keeps what the
	// run used even if the algorithm's default changes later
	// and so is the clip range (-1: the estimator's published one; objectives
	// without a ratio store the 0.5 every run stored before it was per
	// estimator)
	r, isRL := algos.Lookup(cfg.Objective)
	if isRL && cfg.Algo.LossAgg == "" {
		cfg.Algo.LossAgg = r.Defaults.LossAgg
	}
	clip := 0.5
	if isRL {
		clip = r.Defaults.Clip
	}
	if cfg.Algo.EpsLow == -1 {
		cfg.Algo.EpsLow = clip
	}
	if cfg.Algo.EpsHigh == -1 {
		cfg.Algo.EpsHigh = clip
	}
	validate := cfg.ValidateFields
	if checkMemory {
		validate = cfg.Validate
	}
	if err := validate(); err != nil {
		var fes FieldErrors
		if errors.As(err, &fes) {
			return Config{}, placed{fes, name, w.lines, setBy}
		}
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// placed is Validate's FieldErrors with each field's origin: the --set that
// gave its value, else its line in the file, else just the file (a default).
type placed struct {
	fields FieldErrors
	file   string
	lines  map[string]int
	setBy  map[string]string
}

func (p placed) Error() string {
	parts := make([]string, len(p.fields))
	for i, f := range p.fields {
		switch o, ok := p.setBy[f.Field]; {
		case ok:
			parts[i] = fmt.Sprintf("--set %s: field %s: %s", o, f.Field, f.Msg)
		case p.lines[f.Field] > 0:
			parts[i] = fmt.Sprintf("%s:%d: %v", p.file, p.lines[f.Field], f)
		default:
			parts[i] = fmt.Sprintf("%s: %v", p.file, f)
		}
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets callers reach the FieldErrors with errors.As.
func (p placed) Unwrap() error { return p.fields }

// field finds the struct field of a YAML key.
func field(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if k := yamlKey(f); k != "" && k == key {
			return f, true
		}
	}
	if t == algoType {
		if f, _, ok := sectionField(key); ok {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKey(f reflect.StructField) string { return strings.Split(f.Tag.Get("yaml"), ",")[0] }

func keysOf(t reflect.Type) []string {
	var ks []string
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			ks = append(ks, k)
		}
	}
	if t == algoType {
		ks = append(ks, sectionKeys()...)
	}
	return ks
}

// walker checks a YAML tree against the schema's struct tags, so a section
// added to Config brings its keys along, and notes where each field is.
type walker struct {
	file  string
	lines map[string]int // dotted field path -> line of its value
}

func (w walker) check(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		w.lines[path] = n.Line
	}
	if t.Kind() == reflect.Pointer { // an optional field (rewards[].max_consecutive_failures): nil when absent or null
		if n.Tag == "!!null" {
			return nil
		}
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return w.checkMapping(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("%s:%d: field %s: want a list, got %s", w.file, n.Line, path, describe(n))
		}
		for i, el := range n.Content {
			if err := w.check(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkScalar(n, t.Kind()); err != nil {
		return fmt.Errorf("%s:%d: field %s: %v", w.file, n.Line, path, err)
	}
	return nil
}

func (w walker) checkMapping(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return fmt.Errorf("%s:%d: field %s: want a mapping of fields, got %s", w.file, n.Line, orRoot(path), describe(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // "<<: *base" folds another mapping's fields in
			if err := w.checkMerge(val, t, path); err != nil {
				return err
			}
			continue
		}
		f, ok := field(t, k.Value)
		full := join(path, k.Value)
		if !ok {
			msg := fmt.Sprintf("%s:%d: unknown field %q", w.file, k.Line, full)
			if s := closest(k.Value, keysOf(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", join(path, s))
			}
			return errors.New(msg)
		}
		if err := w.check(val, f.Type, full); err != nil {
			return err
		}
	}
	return nil
}

func (w walker) checkMerge(val *yaml.Node, t reflect.Type, path string) error {
	if val.Kind == yaml.AliasNode && val.Alias != nil {
		val = val.Alias
	}
	if val.Kind == yaml.SequenceNode {
		for _, el := range val.Content {
			if err := w.checkMerge(el, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	return w.checkMapping(val, t, path)
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
		if t.Kind() != reflect.Struct {
			return "", nil, fmt.Errorf("--set %s: %s is a single value, it has no field %q", key, strings.Join(parts[:i], "."), p)
		}
		f, ok := field(t, p)
		if !ok {
			msg := fmt.Sprintf("--set %s: unknown field %q", key, strings.Join(parts[:i+1], "."))
			if s := closest(p, keysOf(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(append(parts[:i:i], s), "."))
			}
			return "", nil, errors.New(msg)
		}
		t = f.Type
	}
	switch t.Kind() {
	case reflect.Struct:
		return "", nil, fmt.Errorf("--set %s: a section, set one of its fields (%s)", key, strings.Join(keysOf(t), ", "))
	case reflect.Slice:
		return "", nil, fmt.Errorf("--set %s: a list; edit it in the YAML file", key)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil || len(doc.Content) == 0 {
		if strings.TrimSpace(raw) == "" && t.Kind() == reflect.String {
			return key, "", nil
		}
		return "", nil, fmt.Errorf("--set %s: cannot read value %q as a YAML scalar", key, raw)
	}
	n := doc.Content[0]
	if t.Kind() == reflect.String && n.Kind == yaml.ScalarNode {
		// On a command line run.name=2024 means the text 2024; YAML's quotes
		// would need shell quoting around them.
		if n.Tag == "!!null" {
			return key, "", nil
		}
		return key, n.Value, nil
	}
	if err := checkScalar(n, t.Kind()); err != nil {
		return "", nil, fmt.Errorf("--set %s: %v", key, err)
	}
	var val any
	var err error
	switch t.Kind() {
	case reflect.Int:
		var x int
		err = n.Decode(&x)
		val = x
	case reflect.Int64:
		var x int64
		err = n.Decode(&x)
		val = x
	case reflect.Float64:
		var x float64
		err = n.Decode(&x)
		val = x
	case reflect.Bool:
		var x bool
		err = n.Decode(&x)
		val = x
	default:
		return "", nil, fmt.Errorf("--set %s: fields of kind %s cannot be set from the command line", key, t.Kind())
	}
	if err != nil {
		return "", nil, fmt.Errorf("--set %s: %v", key, err)
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

// closest is the known key within edit distance 2 of k, if any; case is
// ignored so that "LR" finds "lr".
func closest(k string, known []string) string {
	best, bestD := "", 3
	known = append([]string(nil), known...)
	sort.Strings(known)
	for _, c := range known {
		if d := levenshtein(strings.ToLower(k), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// levenshtein is the edit distance (insertions, deletions, substitutions) of
// two strings, by bytes: keys are ASCII.
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

// ParseStored parses the config a run store kept. Stores outlive versions of
// remask, so a field this version no longer has is dropped rather than
// refused: the weights do not depend on it, and an old checkpoint must stay
// usable for eval, sample and init_from. The dropped fields are returned so
// the caller can say so. Everything else is checked as in Parse, except
// the memory check (see below).
func ParseStored(name string, text []byte) (Config, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return Config{}, nil, fmt.Errorf("%s: %v", name, err)
	}
	var dropped []string
	if len(doc.Content) > 0 {
		dropped = pruneUnknown(doc.Content[0], reflect.TypeOf(Config{}), "")
		storedBeforeLossAgg(doc.Content[0])
	}
	// The pruned tree keeps its nodes' lines, so errors still point into the
	// stored text that `remask ckpt show` prints.
	// A stored config is read to rebuild or inspect its model, not to run
	// here: it is not held to this machine's memory (a resumed run checks
	// its own config, as every run does).
	cfg, err := parseNode(name, &doc, nil, false, nil)
	return cfg, dropped, err
}

// pruneUnknown deletes the mapping keys t has no field for, recursively, and
// returns their dotted paths.
func pruneUnknown(n *yaml.Node, t reflect.Type, path string) []string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var dropped []string
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				kept = append(kept, k, val)
				continue
			}
			f, ok := field(t, k.Value)
			if !ok {
				dropped = append(dropped, join(path, k.Value))
				continue
			}
			dropped = append(dropped, pruneUnknown(val, f.Type, join(path, k.Value))...)
			kept = append(kept, k, val)
		}
		n.Content = kept
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, el := range n.Content {
			dropped = append(dropped, pruneUnknown(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return dropped
}

// sectionKey splits an override's path algo.NAME.FIELD, or a flat key kept
// from before sections (algo.p_mask_prompt), into section and field.
func sectionKey(key string) (string, string, bool) {
	parts := strings.SplitN(key, ".", 3)
	if len(parts) < 2 || parts[0] != "algo" {
		return "", "", false
	}
	_, full, ok := sectionField(parts[1])
	if !ok {
		return "", "", false
	}
	if len(parts) == 3 {
		return parts[1], parts[2], true
	}
	sec, sk, _ := strings.Cut(strings.TrimPrefix(full, "algo."), ".")
	return sec, sk, true
}

// storedBeforeLossAgg gives a stored RL config written before
// algo.loss_agg existed the aggregation it ran with: per completion.
func storedBeforeLossAgg(root *yaml.Node) {
	if root.Kind != yaml.MappingNode {
		return
	}
	var objective string
	var algo *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "objective":
			objective = root.Content[i+1].Value
		case "algo":
			algo = root.Content[i+1]
		}
	}
	if _, rl := algos.Lookup(objective); !rl || algo == nil || algo.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(algo.Content); i += 2 {
		if algo.Content[i].Value == "loss_agg" {
			return
		}
	}
	algo.Content = append(algo.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "loss_agg"},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "sequence"})
}
