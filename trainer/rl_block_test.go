package trainer

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/algos"
	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/reward"
)

// blockRLRun is rlRun on a block-causal model (blocks of 4) started from a
// block SFT checkpoint trained in dir.
func blockRLRun(t *testing.T, dir, name, objective string, extra ...string) configs.Config {
	t.Helper()
	block := []string{"model.attention=block_causal", "model.block_size=4"}
	return rlRunFrom(t, dir, "sft-block", block, name, objective, append(append(block,
		"rollout.steps=16", "sample.steps=16", "train.steps=2", "train.eval_every=0", "train.ckpt_every=0"), extra...)...)
}

// Every registered estimator runs on a block-causal model: rollouts decoded
// block by block, the update on side-by-side rows, finite losses.
func TestBlockRLRunsEveryEstimator(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	dir := t.TempDir()
	extra := map[string][]string{"spg": {"algo.spg.block_length=4"}, "tracerl": {"algo.tracerl.keep_low=0", "algo.tracerl.keep_high=1", "algo.tracerl.shrink=1"}}
	for _, obj := range algos.Names() {
		cfg := blockRLRun(t, dir, "run-"+obj, obj, extra[obj]...)
		sum, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()})
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		if sum.Steps != 2 || math.IsNaN(sum.Loss) || math.IsInf(sum.Loss, 0) {
			t.Fatalf("%s: summary %+v", obj, sum)
		}
	}
}

// An RL run on a block-causal model learns a reward its SFT start does not
// satisfy (completions beginning with "4"), for two estimators whose masks
// differ most on blocks: diffu-GRPO (each block fully masked given the clean
// blocks before it) and TraceRL (each block in its decoding states).
func TestBlockRLLearnsASimpleReward(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	registerOnce.Do(registerStartsWith4)
	dir := t.TempDir()
	extra := map[string][]string{"tracerl": {"algo.tracerl.keep_low=0", "algo.tracerl.keep_high=1"}}
	for _, obj := range []string{"diffu_grpo", "tracerl"} {
		cfg := blockRLRun(t, dir, "learn-"+obj, obj, append([]string{"train.steps=30",
			"optim.lr=3.0e-3", "rollout.group=6", "rollout.prompts=4", "rollout.temperature=1"}, extra[obj]...)...)
		cfg.Rewards[0].Name = "test_starts_with_4"
		if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()}); err != nil {
			t.Fatal(err)
		}
		first, last := rewardEnds(t, filepath.Join(dir, "learn-"+obj+".db"), 8)
		t.Logf("block %s: reward %.3f over the first 8 steps, %.3f over the last 8", obj, first, last)
		if !(last > first+0.25) {
			t.Errorf("block %s did not learn: reward %.3f -> %.3f", obj, first, last)
		}
	}
}

// rewardEnds is the mean reward of a run's first and last n steps.
func rewardEnds(t *testing.T, path string, n int) (first, last float64) {
	t.Helper()
	st, err := checkpoint.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := st.Metrics()
	st.Close()
	mean := func(rs []checkpoint.MetricsRow) float64 {
		var s float64
		for _, r := range rs {
			s += r.Values["reward"]
		}
		return s / float64(len(rs))
	}
	return mean(rows[:n]), mean(rows[len(rows)-n:])
}

// registerStartsWith4 registers the learn tests' reward: 1 when the
// completion begins with "4".
func registerStartsWith4() {
	reward.Register("test_starts_with_4", func() reward.Reward {
		return reward.Func(func(c reward.Completion) (float64, error) {
			if strings.HasPrefix(c.Text, "4") {
				return 1, nil
			}
			return 0, nil
		})
	})
}
