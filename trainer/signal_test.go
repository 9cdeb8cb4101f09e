package trainer

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/reward"
)

var registerConstant sync.Once

// A reward that scores every completion the same gives no group any
// signal: every metrics row says so (zero_signal_frac 1), the run warns once
// that most groups have none, and loudly every algo.zero_signal_steps steps
// in a row without any, naming the fraction and the reward.
func TestZeroSignalWarnings(t *testing.T) {
	registerConstant.Do(func() {
		reward.Register("test_constant", func() reward.Reward {
			return reward.Func(func(c reward.Completion) (float64, error) { return 0.5, nil })
		})
	})
	dir := t.TempDir()
	cfg := rlRun(t, dir, "flat", "diffu_grpo", "train.steps=5", "train.eval_every=0", "algo.zero_signal_steps=2", "algo.mu=1", "algo.beta=0")
	cfg.Rewards[0].Name = "test_constant"
	var logs bytes.Buffer
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.New(&logs)}); err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.OpenReadOnly(StorePath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := st.Metrics()
	st.Close()
	n := 0
	for _, r := range rows {
		if r.Step == 0 {
			continue
		}
		n++
		if v, ok := r.Values["zero_signal_frac"]; !ok || v != 1 || r.Values["loss"] != 0 {
			t.Fatalf("step %d: zero_signal_frac %v (present %v), loss %v", r.Step, v, ok, r.Values["loss"])
		}
	}
	if n != 5 {
		t.Fatalf("%d metrics rows", n)
	}
	out := logs.String()
	if c := strings.Count(out, "most groups have no reward signal"); c != 1 {
		t.Fatalf("the most-groups warning came %d times, want once:\n%s", c, out)
	}
	// loud at 2 and 4 steps in a row without signal
	if c := strings.Count(out, "NO REWARD SIGNAL"); c != 2 || !strings.Contains(out, `"level":"error"`) ||
		!strings.Contains(out, `"zero_signal_frac":1`) || !strings.Contains(out, `"reward":0.5`) || !strings.Contains(out, "for 4 steps in a row") {
		t.Fatalf("loud warnings %d:\n%s", c, out)
	}
}

// A reward that separates completions raises no warning.
func TestNoZeroSignalWarningWithSignal(t *testing.T) {
	dir := t.TempDir()
	cfg := rlRun(t, dir, "signal", "diffu_grpo", "train.steps=2", "train.eval_every=0", "algo.mu=1")
	var logs bytes.Buffer
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.New(&logs)}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "NO REWARD SIGNAL") {
		t.Fatalf("warned with a separating reward:\n%s", logs.String())
	}
}
