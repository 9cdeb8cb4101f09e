package configs

import (
	"strings"
	"testing"

	"github.com/remask/remask/algos/coupledgrpo"
	"github.com/remask/remask/algos/diffugrpo"
	"github.com/remask/remask/algos/unigrpo"
)

const rlMinimal = minimal + "rewards: [{name: sudoku_solved, weight: 1}]\n"

// An algorithm's own settings sit in its section; the keys that sat flat
// under algo: before sections existed still mean the same field.
func TestAlgoSectionsAndFlatKeys(t *testing.T) {
	pmask := func(c Config) float64 { return c.Algo.Section("diffu_grpo").(*diffugrpo.Config).PMaskPrompt }
	for _, tc := range []struct {
		text string
		sets []string
		want float64
	}{
		{"objective: diffu_grpo\n", nil, 0.15},
		{"objective: diffu_grpo\nalgo: {p_mask_prompt: 0.3}\n", nil, 0.3},
		{"objective: diffu_grpo\nalgo: {diffu_grpo: {p_mask_prompt: 0.4}}\n", nil, 0.4},
		{"objective: diffu_grpo\n", []string{"algo.p_mask_prompt=0.2"}, 0.2},
		{"objective: diffu_grpo\nalgo: {p_mask_prompt: 0.3}\n", []string{"algo.diffu_grpo.p_mask_prompt=0.25"}, 0.25},
	} {
		c, err := Parse("x.yaml", []byte(rlMinimal+tc.text), tc.sets)
		if err != nil {
			t.Fatalf("%q %v: %v", tc.text, tc.sets, err)
		}
		if pmask(c) != tc.want {
			t.Errorf("%q %v: p_mask_prompt %v, want %v", tc.text, tc.sets, pmask(c), tc.want)
		}
		// the stored form (sections, no flat keys) reads back equal
		y, _ := c.YAML()
		back, _, err := ParseStored("x.db", y)
		if err != nil || len(Diff(c, back)) != 0 {
			t.Fatalf("round trip: %v %v\n%s", err, Diff(c, back), y)
		}
		if !strings.Contains(string(y), "    diffu_grpo:\n        p_mask_prompt:") {
			t.Fatalf("stored YAML lacks the section:\n%s", y)
		}
	}
	c, _ := Parse("x.yaml", []byte(rlMinimal+"objective: coupled_grpo\nalgo: {t_min: 0.3, unigrpo: {trace_masks: true, t: 10}}\n"), nil)
	if s := c.Algo.Section("coupled_grpo").(*coupledgrpo.Config); s.TMin != 0.3 || s.TMax != 0.8 {
		t.Fatalf("coupled section %+v", s)
	}
	if s := c.Algo.Section("unigrpo").(*unigrpo.Config); !s.TraceMasks || s.T != 10 {
		t.Fatalf("unigrpo section %+v", s)
	}
	if d := Diff(c, Default()); !containsField(d, "algo.unigrpo.t") || !containsField(d, "algo.coupled_grpo.t_min") {
		t.Fatalf("diff names section fields: %v", d)
	}
}

func containsField(cs []Change, f string) bool {
	for _, c := range cs {
		if c.Field == f {
			return true
		}
	}
	return false
}

// Bad section values name the field and its line; unknown keys suggest.
func TestAlgoSectionErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		sets []string
		want []string
	}{
		{"objective: unigrpo\nalgo:\n  unigrpo:\n    t: 0\n", nil, []string{"x.yaml:6", "algo.unigrpo.t", ">= 1"}},
		{"objective: unigrpo\nalgo:\n  t: 0\n", nil, []string{"x.yaml:5", "algo.unigrpo.t"}},
		{"objective: coupled_grpo\n", []string{"algo.coupled_grpo.t_min=0.9"}, []string{"--set algo.coupled_grpo.t_min=0.9", "t_min"}},
		{"objective: diffu_grpo\nalgo: {unigrpo: {tt: 3}}\n", nil, []string{`unknown field "algo.unigrpo.tt"`, `"algo.unigrpo.t"`}},
		{"objective: diffu_grpo\nalgo: {diffu_grpo: {p_mask_prompt: x}}\n", nil, []string{"algo.diffu_grpo.p_mask_prompt", "want a number"}},
		{"objective: diffu_grpo\nalgo: {p_mask_prompt: 0.1, diffu_grpo: {p_mask_prompt: 0.2}}\n", nil, []string{"algo.p_mask_prompt and algo.diffu_grpo.p_mask_prompt"}},
		{"objective: diffu_grpo\nalgo: {loss_agg: mean}\n", nil, []string{"algo.loss_agg", "token, sequence"}},
		{"objective: diffu_grpo\nalgo: {zero_signal_steps: 0}\n", nil, []string{"algo.zero_signal_steps"}},
		{"objective: grpo\n", nil, []string{"field objective", "diffu_grpo"}},
		{"objective: diffu_grpo\n", []string{"algo.unigrpo.nope=1"}, []string{`unknown field "algo.unigrpo.nope"`}},
	} {
		_, err := Parse("x.yaml", []byte(rlMinimal+tc.text), tc.sets)
		if err == nil {
			t.Errorf("%q %v accepted", tc.text, tc.sets)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q %v: %v lacks %q", tc.text, tc.sets, err, w)
			}
		}
	}
}

// loss_agg resolves to the algorithm's published choice; a store written
// before the option existed ran per completion and keeps doing so.
func TestLossAggDefaultsAndOldStores(t *testing.T) {
	for obj, want := range map[string]string{"diffu_grpo": "token", "coupled_grpo": "token", "unigrpo": "sequence"} {
		c, err := Parse("x.yaml", []byte(rlMinimal+"objective: "+obj+"\n"), nil)
		if err != nil || c.Algo.LossAgg != want {
			t.Errorf("%s: loss_agg %q (%v), want %s", obj, c.Algo.LossAgg, err, want)
		}
	}
	old := rlMinimal + "objective: diffu_grpo\nalgo: {mu: 2, p_mask_prompt: 0.15, t: 1000, trace_masks: false, t_min: 0.2, t_max: 0.8}\n"
	c, dropped, err := ParseStored("old.db", []byte(old))
	if err != nil || len(dropped) != 0 || c.Algo.LossAgg != "sequence" || c.Algo.Mu != 2 {
		t.Fatalf("old store: %v %v %q", err, dropped, c.Algo.LossAgg)
	}
	if c, _, _ := ParseStored("sft.db", []byte(minimal)); c.Algo.LossAgg != "" {
		t.Fatalf("an SFT store gained loss_agg %q", c.Algo.LossAgg)
	}
}

// An unset clip range is the estimator's published one, resolved at load so
// the store keeps the number; a set one wins; objectives without a ratio
// store the 0.5 they always stored.
func TestClipRangeDefaults(t *testing.T) {
	for obj, want := range map[string]float64{"tracerl": 0.2, "espo": 0.2, "diffu_grpo": 0.5, "unigrpo": 0.5, "coupled_grpo": 0.5, "wd1": 0, "spg": 0} {
		c, err := Parse("x.yaml", []byte(rlMinimal+"objective: "+obj+"\n"), nil)
		if err != nil || c.Algo.EpsLow != want || c.Algo.EpsHigh != want {
			t.Errorf("%s: eps %g/%g (%v), want %g", obj, c.Algo.EpsLow, c.Algo.EpsHigh, err, want)
		}
	}
	c, err := Parse("x.yaml", []byte(rlMinimal+"objective: tracerl\nalgo: {eps_low: 0.1}\n"), []string{"algo.eps_high=0.3"})
	if err != nil || c.Algo.EpsLow != 0.1 || c.Algo.EpsHigh != 0.3 {
		t.Fatalf("set clip range: %g/%g (%v)", c.Algo.EpsLow, c.Algo.EpsHigh, err)
	}
	if c, err := Parse("x.yaml", []byte(minimal), nil); err != nil || c.Algo.EpsLow != 0.5 {
		t.Fatalf("sft: eps_low %g (%v)", c.Algo.EpsLow, err)
	}
	if _, err := Parse("x.yaml", []byte(rlMinimal+"objective: espo\nalgo: {eps_low: -0.5}\n"), nil); err == nil || !strings.Contains(err.Error(), "algo.eps_low") {
		t.Fatalf("eps_low -0.5: %v", err)
	}
}
