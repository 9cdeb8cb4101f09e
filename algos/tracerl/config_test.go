package tracerl_test

import (
	"strings"
	"testing"

	"github.com/remask/remask/configs"
)

// A bad value in algo.tracerl is one error naming its field; the recipe's
// section decodes.
func TestSectionValidation(t *testing.T) {
	base := "run: {name: x}\nmodel: {preset: tiny}\ndata: {task: sudoku4x4, train: gen:10}\nobjective: tracerl\nrewards: [{name: sudoku_cells, weight: 1}]\n"
	for _, c := range []struct{ set, field string }{
		{"algo.tracerl.shrink=0", "algo.tracerl.shrink"},
		{"algo.tracerl.post_num=-1", "algo.tracerl.post_num"},
		{"algo.tracerl.keep_low=0.9", "algo.tracerl.keep_low"},
	} {
		_, err := configs.Parse("x.yaml", []byte(base), []string{c.set})
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want one naming %s", c.set, err, c.field)
		}
	}
	cfg, err := configs.Load("../../configs/sudoku-tracerl.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Objective != "tracerl" || cfg.Algo.Advantage != "zscore" {
		t.Fatalf("recipe: %s, advantage %s", cfg.Objective, cfg.Algo.Advantage)
	}
}
