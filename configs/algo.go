package configs

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"

	"github.com/remask/remask/algos"
	_ "github.com/remask/remask/algos/all" // the registry a config is checked against
)

// Sections are the registered algorithms' own settings, by name: each
// value is the algorithm's typed section (algos.Registration.Section). In
// YAML they sit under algo: beside the shared fields, algo.NAME.FIELD.
type Sections map[string]algos.Section

// defaultSections holds every registered algorithm's defaults.
func defaultSections() Sections {
	s := Sections{}
	for _, n := range algos.Names() {
		if r, _ := algos.Lookup(n); r.Section != nil {
			s[n] = r.Section()
		}
	}
	return s
}

// IsRL reports whether an objective is a registered RL algorithm.
func IsRL(objective string) bool {
	_, ok := algos.Lookup(objective)
	return ok
}

// Section is the named algorithm's section of the config (nil when it has
// none).
func (a Algo) Section(name string) algos.Section { return a.Sections[name] }

var algoType = reflect.TypeOf(Algo{})

// sectionField resolves a key of algo: that is not a shared field: an
// algorithm's section (algo.NAME), or a key kept from before sections
// existed (algo.p_mask_prompt) as the section field it now is. It returns
// the field as the schema walkers see it, and for a flat key its full path.
func sectionField(key string) (reflect.StructField, string, bool) {
	if r, ok := algos.Lookup(key); ok && r.Section != nil {
		return reflect.StructField{Name: key, Type: reflect.TypeOf(r.Section()).Elem(), Tag: reflect.StructTag(`yaml:"` + key + `"`)}, "algo." + key, true
	}
	for _, n := range algos.Names() {
		r, _ := algos.Lookup(n)
		if sk, ok := r.Flat[key]; ok && r.Section != nil {
			f, found := field(reflect.TypeOf(r.Section()).Elem(), sk)
			return f, "algo." + n + "." + sk, found
		}
	}
	return reflect.StructField{}, "", false
}

// sectionKeys are the keys sectionField accepts, for "did you mean".
func sectionKeys() []string {
	var ks []string
	for _, n := range algos.Names() {
		r, _ := algos.Lookup(n)
		if r.Section != nil {
			ks = append(ks, n)
		}
		for k := range r.Flat {
			ks = append(ks, k)
		}
	}
	return ks
}

// takeSections moves the algorithm sections and the flat keys out of the
// decoded algo: mapping (viper decodes the shared fields only) into raw
// section values, name -> key -> value. A field given both flat and in its
// section is an error.
func takeSections(values map[string]any, lines map[string]int) (map[string]map[string]any, error) {
	raw := map[string]map[string]any{}
	a, ok := values["algo"].(map[string]any)
	if !ok {
		return raw, nil
	}
	for k, v := range a {
		if r, ok := algos.Lookup(k); ok && r.Section != nil {
			m, _ := v.(map[string]any) // the walker checked it is a mapping (or null)
			if raw[k] == nil {
				raw[k] = map[string]any{}
			}
			for fk, fv := range m {
				raw[k][fk] = fv
			}
			delete(a, k)
		}
	}
	for k, v := range a {
		_, full, ok := sectionField(k)
		if !ok {
			continue
		}
		name, sk, _ := strings.Cut(strings.TrimPrefix(full, "algo."), ".")
		if raw[name] == nil {
			raw[name] = map[string]any{}
		}
		if old, dup := raw[name][sk]; dup && !reflect.DeepEqual(old, v) {
			return nil, fmt.Errorf("algo.%s and %s are the same field, given two values (%v, %v): keep %s", k, full, v, old, full)
		}
		raw[name][sk] = v
		if l, ok := lines["algo."+k]; ok {
			lines[full] = l
		}
		delete(a, k)
	}
	return raw, nil
}

// buildSections decodes raw section values over every algorithm's defaults.
func buildSections(raw map[string]map[string]any) (Sections, error) {
	s := defaultSections()
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sec, ok := s[n]
		if !ok {
			return nil, fmt.Errorf("algo.%s: unknown algorithm section (registered: %s)", n, strings.Join(algos.Names(), ", "))
		}
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: sec, ErrorUnused: true, TagName: "mapstructure"})
		if err != nil {
			return nil, err
		}
		if err := dec.Decode(raw[n]); err != nil {
			return nil, fmt.Errorf("algo.%s: %v", n, err)
		}
	}
	return s, nil
}

// validateSections runs every section's own checks, naming fields by
// their full path.
func (a Algo) validateSections(p *problems) {
	for _, n := range algos.Names() {
		sec := a.Sections[n]
		if sec == nil {
			continue
		}
		for _, fe := range sec.Validate() {
			p.bad("algo."+n+"."+fe.Field, "%s", fe.Msg)
		}
	}
}
