package main

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remask/remask/checkpoint"
)

// Accuracy, standard errors and the gain are read from the logged metrics and
// worked by hand: p = 0.4, n = 500 gives sqrt(0.24/500) = 0.0219.
func TestCompareRuns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	st, err := checkpoint.Create(path, checkpoint.Meta{ConfigYAML: "run: {name: wd1-run}\nobjective: wd1\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		step int
		m    map[string]float64
	}{
		{0, map[string]float64{"eval_acc": 0.4, "eval_n": 500}},
		{1, map[string]float64{"rollout_s": 10, "update_s": 2}},
		{2, map[string]float64{"rollout_s": 20, "update_s": 4, "eval_acc": 0.5, "eval_n": 500}},
	} {
		if err := st.LogMetrics(r.step, r.m); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	r, err := compareRun(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "wd1-run" || r.Objective != "wd1" || r.Steps != 2 || len(r.Evals) != 2 {
		t.Fatalf("%+v", r)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("se@0", r.Evals[0].SE, math.Sqrt(0.4*0.6/500))
	near("se@2", r.Evals[1].SE, math.Sqrt(0.25/500))
	near("gain", *r.Gain, 10)
	near("gain se", *r.GainSE, 100*math.Sqrt(0.4*0.6/500+0.25/500))
	near("train min", r.TrainMin, 36.0/60)
	near("rollout s", r.RolloutS, 15)
	near("update s", r.UpdateS, 3)
	if r.Best == nil || r.Best.Step != 2 {
		t.Fatalf("best %+v", r.Best)
	}
	var out bytes.Buffer
	writeComparison(&out, []runComparison{r}, true)
	for _, want := range []string{"| wd1-run | wd1 | 2 | 40.0 ± 2.2 | 50.0 ± 2.2 | +10.0 ± 3.1 | 50.0 @2 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, out.String())
		}
	}
	// a store without eval_n asks for --n, and --n serves it
	old := filepath.Join(dir, "old.db")
	st, err = checkpoint.Create(old, checkpoint.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	st.LogMetrics(0, map[string]float64{"eval_acc": 0.5})
	st.Close()
	if _, err := compareRun(old, 0); err == nil || !strings.Contains(err.Error(), "--n") {
		t.Fatalf("store without eval_n: %v", err)
	}
	if r, err := compareRun(old, 100); err != nil || r.Evals[0].SE != 0.05 {
		t.Fatalf("--n 100: %+v %v", r, err)
	}
}

// --x minutes places a row at the rollout and update time summed up to it.
func TestPlotPointsByMinutes(t *testing.T) {
	rows := []checkpoint.MetricsRow{
		{Step: 0, Values: map[string]float64{"eval_acc": 0.4}},
		{Step: 1, Values: map[string]float64{"rollout_s": 30, "update_s": 30}},
		{Step: 2, Values: map[string]float64{"rollout_s": 90, "update_s": 0, "eval_acc": 0.5}},
	}
	got := panelPoints(rows, "eval_acc", "minutes")
	if len(got) != 2 || got[0].X != 0 || got[1].X != 2.5 || got[1].Y != 0.5 {
		t.Fatalf("minutes: %v", got)
	}
	if got := panelPoints(rows, "eval_acc", "step"); len(got) != 2 || got[1].X != 2 {
		t.Fatalf("steps: %v", got)
	}
}
