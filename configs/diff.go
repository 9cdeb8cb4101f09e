package configs

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Change is one field that differs between two configs.
type Change struct {
	Field string `json:"field"` // dotted path, e.g. run.seed
	Old   string `json:"old"`
	New   string `json:"new"`
}

func (c Change) String() string { return fmt.Sprintf("%s (%s -> %s)", c.Field, c.Old, c.New) }

// Diff lists the fields whose values differ from a to b, in schema order. A
// list field (rewards) is one change as a whole.
func Diff(a, b Config) []Change {
	var out []Change
	diffValue(reflect.ValueOf(a), reflect.ValueOf(b), "", &out)
	return out
}

func diffValue(a, b reflect.Value, path string, out *[]Change) {
	if a.Kind() == reflect.Struct {
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			p := path
			if k := yamlKey(f); k != "" { // an inline field (algo's sections) keeps its parent's path
				p = join(path, k)
			}
			diffValue(a.Field(i), b.Field(i), p, out)
		}
		return
	}
	if a.Kind() == reflect.Map && a.Type().Key().Kind() == reflect.String {
		keys := map[string]bool{}
		for _, k := range append(a.MapKeys(), b.MapKeys()...) {
			keys[k.String()] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			av, bv := a.MapIndex(reflect.ValueOf(k)), b.MapIndex(reflect.ValueOf(k))
			if !av.IsValid() || !bv.IsValid() || av.IsNil() || bv.IsNil() {
				if av.IsValid() != bv.IsValid() {
					*out = append(*out, Change{Field: join(path, k), Old: describeValue(av), New: describeValue(bv)})
				}
				continue
			}
			diffValue(av.Elem().Elem(), bv.Elem().Elem(), join(path, k), out)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, Change{Field: path, Old: flowYAML(a.Interface()), New: flowYAML(b.Interface())})
	}
}

func describeValue(v reflect.Value) string {
	if !v.IsValid() {
		return "absent"
	}
	return flowYAML(v.Interface())
}

// flowYAML is a value as it would be written in a config, on one line.
func flowYAML(v any) string {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	setFlow(&n)
	b, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}

func setFlow(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	for _, c := range n.Content {
		setFlow(c)
	}
}

// resumable are the fields a resumed run may change without changing what
// it computes: how often it evaluates, logs and saves, how many cores and
// sampling workers it uses (rollouts are identical for any worker count), how
// eval decodes, and how long it runs. Every other field defines the run.
var resumable = []string{
	"train.steps", "train.eval_every", "train.ckpt_every", "train.log_every",
	"train.keep_last", "train.keep_every", "train.threads",
	"rollout.workers", "data.eval", "data.eval_n", "sample.",
	// where rollouts run and how to reach the server: the nats backend samples
	// the same jobs with the same code and streams, bit-identical to local
	"rollout.backend", "rollout.nats.",
}

// DefinesRun reports whether changing field on --resume changes what the run
// computes (seed, objective, model, data, batch, optimizer, algorithm,
// rewards...), so that it would no longer continue the same run.
func DefinesRun(field string) bool {
	for _, r := range resumable {
		if field == r || (strings.HasSuffix(r, ".") && strings.HasPrefix(field, r)) {
			return false
		}
	}
	return true
}
