package trainer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rs/zerolog"
)

// tracerlDump is what this test reads of a --dump-batch file: the common
// schema and TraceRL's draws, decoded here without remask's types.
type tracerlDump struct {
	Group       int       `json:"group"`
	LossAgg     string    `json:"loss_agg"`
	EpsLow      float64   `json:"eps_low"`
	EpsHigh     float64   `json:"eps_high"`
	Beta        float64   `json:"beta"`
	MaskID      int       `json:"mask_id"`
	EOSID       int       `json:"eos_id"`
	Prompts     [][]int   `json:"prompts"`
	Completions [][]int   `json:"completions"`
	Rewards     []float64 `json:"rewards"`
	Advantages  []float64 `json:"advantages"`
	B           int       `json:"b"`
	L           int       `json:"l"`
	IDs         []int     `json:"ids"`
	Targets     []int     `json:"targets"`
	Units       [][]struct {
		Rows []int     `json:"rows"`
		W    []float64 `json:"w"`
	} `json:"units"`
	Draws struct {
		States []struct {
			Completion int   `json:"completion"`
			Step       int   `json:"step"`
			Masked     []int `json:"masked"`
			Scored     []int `json:"scored"`
		} `json:"states"`
		Traces   [][]int `json:"traces"`
		Shrink   int     `json:"shrink"`
		PostNum  int     `json:"post_num"`
		KeepLow  float64 `json:"keep_low"`
		KeepHigh float64 `json:"keep_high"`
	} `json:"draws"`
	LogProbs []float64   `json:"log_probs"`
	Old      [][]float64 `json:"old"`
	Loss     float64     `json:"loss"`
}

// A TraceRL update recomputed from its dump alone, with dLLM-RL's formulas
// written out here: the states from the traces (collapse_k_unique, mask the
// tokens decided at the state's step or later, score those of the step up
// to the first <eos> plus post_num), the z-scored advantages, the group
// filter, and the loss (per state row the mean clipped term plus beta times
// the summed k3 to the rollout policy, then the mean over rows; or, for
// loss_agg token, both terms averaged over every scored token).
func TestTraceRLLossFromDump(t *testing.T) {
	dir := t.TempDir()
	for _, agg := range []string{"sequence", "token"} {
		dump := filepath.Join(dir, "dump-"+agg)
		// mu 2: the second chunk is scored after an update, so its ratios
		// and KL are not trivial; keep every group so the test sees rows
		cfg := rlRun(t, dir, "tracerl-"+agg, "tracerl", "algo.mu=2", "algo.loss_agg="+agg, "algo.eps_low=0.2", "algo.eps_high=0.2",
			"algo.tracerl.shrink=2", "algo.tracerl.keep_low=0.1", "algo.tracerl.keep_high=1", "rollout.prompts=4", "train.steps=2", "train.eval_every=0", "optim.lr=1.0e-2")
		if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop(), DumpBatch: dump}); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dump, "*.json"))
		if len(files) != 4 {
			t.Fatalf("%s: %d dumps, want 2 steps x 2 chunks", agg, len(files))
		}
		var sawRatio, sawDropped bool
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var d tracerlDump
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			if d.LossAgg != agg || d.Draws.Shrink != 2 || len(d.Draws.States) != d.B || len(d.Units) != d.B {
				t.Fatalf("%s: dump header agg %q shrink %d, %d states for %d rows", f, d.LossAgg, d.Draws.Shrink, len(d.Draws.States), d.B)
			}
			checkStatesFromTraces(t, f, &d)
			adv := zscores(d.Rewards, d.Group)
			for i := range adv {
				if math.Abs(adv[i]-d.Advantages[i]) > 1e-12 {
					t.Fatalf("%s: advantage %d is %v, dLLM-RL's z-score %v", f, i, d.Advantages[i], adv[i])
				}
			}
			loss, ratioMoved, dropped := dllmrlLoss(&d, adv)
			sawRatio, sawDropped = sawRatio || ratioMoved, sawDropped || dropped
			if math.Abs(loss-d.Loss) > 1e-9*math.Max(1, math.Abs(loss)) {
				t.Fatalf("%s: recomputed loss %v, the run stepped on %v", f, loss, d.Loss)
			}
		}
		if !sawRatio || !sawDropped {
			t.Fatalf("%s: the dumps never had a ratio away from 1 (%v) or a dropped group (%v): the check is too easy", agg, sawRatio, sawDropped)
		}
	}
}

// checkStatesFromTraces rebuilds every row of the dump from the traces.
func checkStatesFromTraces(t *testing.T, f string, d *tracerlDump) {
	t.Helper()
	P := d.L - len(d.Completions[0])
	for r, st := range d.Draws.States {
		c := d.Completions[st.Completion]
		order := collapse(d.Draws.Traces[st.Completion], d.Draws.Shrink)
		end := len(c)
		for k, tk := range c {
			if tk == d.EOSID {
				end = k + 1
				break
			}
		}
		end = min(end+d.Draws.PostNum, len(c))
		row := d.IDs[r*d.L : (r+1)*d.L]
		prompt := d.Prompts[st.Completion]
		for k, tk := range prompt {
			if row[P-len(prompt)+k] != tk {
				t.Fatalf("%s row %d: prompt token %d is %d", f, r, k, row[P-len(prompt)+k])
			}
		}
		var scored []int
		for k := range c {
			want := c[k]
			if order[k] >= st.Step {
				want = d.MaskID
			}
			if row[P+k] != want {
				t.Fatalf("%s row %d: completion position %d is %d, want %d (step %d, its step %d)", f, r, k, row[P+k], want, st.Step, order[k])
			}
			target := -1
			if order[k] == st.Step && k < end {
				target = c[k]
				scored = append(scored, P+k+r*d.L)
			}
			if d.Targets[r*d.L+P+k] != target {
				t.Fatalf("%s row %d: target at %d is %d, want %d", f, r, k, d.Targets[r*d.L+P+k], target)
			}
		}
		var units []int
		for _, u := range d.Units[r] {
			if len(u.Rows) != 1 || u.W[0] != 1 {
				t.Fatalf("%s row %d: unit %+v", f, r, u)
			}
			units = append(units, u.Rows[0])
		}
		if len(scored) == 0 || len(units) != len(scored) {
			t.Fatalf("%s row %d: scores %v, want %v", f, r, units, scored)
		}
		for i := range units {
			if units[i] != scored[i] {
				t.Fatalf("%s row %d: scores %v, want %v", f, r, units, scored)
			}
		}
	}
}

// collapse is dLLM-RL's collapse_k_unique.
func collapse(steps []int, k int) []int {
	uniq := append([]int(nil), steps...)
	sort.Ints(uniq)
	var u []int
	for i, s := range uniq {
		if i == 0 || s != uniq[i-1] {
			u = append(u, s)
		}
	}
	rep := map[int]int{}
	for i, s := range u {
		end := min((i/k+1)*k-1, len(u)-1)
		rep[s] = u[end]
	}
	out := make([]int, len(steps))
	for i, s := range steps {
		out[i] = rep[s]
	}
	return out
}

// zscores is dLLM-RL's z_score_normalize per group.
func zscores(r []float64, G int) []float64 {
	out := make([]float64, len(r))
	for g := 0; g < len(r)/G; g++ {
		x := r[g*G : (g+1)*G]
		mean := 0.0
		for _, v := range x {
			mean += v
		}
		mean /= float64(len(x))
		sq := 0.0
		for _, v := range x {
			sq += (v - mean) * (v - mean)
		}
		std := math.Sqrt(sq / float64(len(x)))
		for i, v := range x {
			if std != 0 {
				out[g*G+i] = (v - mean) / std
			}
		}
	}
	return out
}

func dllmrlLoss(d *tracerlDump, adv []float64) (loss float64, ratioMoved, dropped bool) {
	kept := func(i int) bool {
		g := i / d.Group
		mean := 0.0
		for _, v := range d.Rewards[g*d.Group : (g+1)*d.Group] {
			mean += v
		}
		mean /= float64(d.Group)
		return mean >= d.Draws.KeepLow && mean <= d.Draws.KeepHigh
	}
	var rows, toks int
	var rowSum, tokSum float64
	for r, st := range d.Draws.States {
		if !kept(st.Completion) {
			dropped = true
			continue
		}
		a := adv[st.Completion]
		var surr, kl float64
		for k, u := range d.Units[r] {
			lNew, lOld := d.LogProbs[u.Rows[0]], d.Old[r][k]
			ratio := math.Exp(lNew - lOld)
			ratioMoved = ratioMoved || math.Abs(ratio-1) > 1e-6
			clipped := math.Max(math.Min(ratio, 1+d.EpsHigh), 1-d.EpsLow)
			surr += math.Min(ratio*a, clipped*a)
			x := lNew - lOld
			kl += math.Exp(-x) - 1 + x
		}
		n := float64(len(d.Units[r]))
		rowSum += -surr/n + d.Beta*kl
		tokSum += -surr + d.Beta*kl
		rows++
		toks += len(d.Units[r])
	}
	if rows == 0 {
		return 0, ratioMoved, dropped
	}
	if d.LossAgg == "token" {
		return tokSum / float64(toks), ratioMoved, dropped
	}
	return rowSum / float64(rows), ratioMoved, dropped
}

// A TraceRL run interrupted and resumed ends with the unbroken run's weights.
func TestTraceRLResumesExactly(t *testing.T) {
	dir := t.TempDir()
	extra := []string{"algo.mu=2", "algo.tracerl.shrink=2", "algo.tracerl.keep_low=0", "algo.tracerl.keep_high=1"}
	full := rlRun(t, dir, "tracerl-full", "tracerl", extra...)
	if _, err := Train(context.Background(), full, Options{Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	broken := rlRun(t, dir, "tracerl-broken", "tracerl", extra...)
	interruptAndResume(t, broken, 3)
	sameFinalWeights(t, "tracerl", StorePath(full), StorePath(broken))
}
