package main

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/reward/sandbox"
)

// TestMain lets the test binary act as the remask CLI in child processes, so
// the crash test kills a real run without building a separate binary.
func TestMain(m *testing.M) {
	sandbox.MaybeChild()
	if os.Getenv("REMASK_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func cli(args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), "REMASK_TEST_AS_CLI=1")
	return c
}

// openStore opens a run store read-only for the rest of the test.
func openStore(t *testing.T, db string) *checkpoint.Store {
	t.Helper()
	st, err := checkpoint.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// weightsChecksum is a CRC over every weight's bits at the last checkpoint.
func weightsChecksum(t *testing.T, db string) (int, uint32) {
	t.Helper()
	st := openStore(t, db)
	ck, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	h := crc32.NewIEEE()
	for _, w := range ck.Weights {
		for _, v := range w.Data {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
	}
	return ck.Step, h.Sum32()
}

// A run killed with SIGKILL at random moments (during a step, a checkpoint
// write or a metrics write), resumed each time, ends with the same weights as
// a run that was never killed.
func TestSIGKILLResumeMatchesUnbrokenRun(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real runs")
	}
	dir := t.TempDir()
	cfgFor := func(name string) string {
		return write(t, dir, name+".yaml", fmt.Sprintf(`
run: {name: %s, dir: %s, seed: 5}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64}
data: {task: sudoku4x4, train: gen:300}
optim: {warmup: 2}
train: {steps: 250, batch: 8, ckpt_every: 7, log_every: 1}
`, name, dir))
	}
	ref := cfgFor("unbroken")
	if out, err := cli("train", "-c", ref, "--log-level", "error").CombinedOutput(); err != nil {
		t.Fatalf("unbroken run: %v\n%s", err, out)
	}
	wantStep, want := weightsChecksum(t, filepath.Join(dir, "unbroken.db"))

	cfg := cfgFor("killed")
	db := filepath.Join(dir, "killed.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for attempt := 0; attempt < 20; attempt++ {
		args := []string{"train", "-c", cfg, "--log-level", "error"}
		if _, err := os.Stat(db); err == nil {
			args = append(args, "--resume")
		}
		c := cli(args...)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		if kills < 4 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run ended with %v before it was killed", err)
				}
			case <-time.After(time.Duration(50+rng.IntN(900)) * time.Millisecond):
				c.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
				continue
			}
		} else if err := <-done; err != nil {
			t.Fatalf("final resume: %v", err)
		}
		break
	}
	step, got := weightsChecksum(t, db)
	if step != wantStep || got != want {
		t.Fatalf("after %d kills: step %d checksum %08x; unbroken run: step %d checksum %08x", kills, step, got, wantStep, want)
	}
	t.Logf("%d SIGKILLs, final weights identical (crc %08x)", kills, got)
}

// SIGTERM (and SIGINT) write a final checkpoint at the current step and exit 0.
func TestSIGTERMWritesFinalCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("signals a real run")
	}
	dir := t.TempDir()
	cfg := write(t, dir, "term.yaml", fmt.Sprintf(`
run: {name: term, dir: %s, seed: 5}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64}
data: {task: sudoku4x4, train: gen:300}
train: {steps: 100000, batch: 8, ckpt_every: 100000, log_every: 1}
`, dir))
	c := cli("train", "-c", cfg, "--log-level", "error")
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// signal once the run has logged a step (read through a snapshot of the
	// live store), however slowly this machine runs it
	db := filepath.Join(dir, "term.db")
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	for logged := false; !logged; time.Sleep(100 * time.Millisecond) {
		if st, err := checkpoint.OpenReadOnly(db); err == nil {
			rows, _ := st.Metrics()
			st.Close()
			logged = len(rows) > 0
		}
		select {
		case err := <-exited:
			t.Fatalf("the run ended before it was signalled: %v\n%s", err, stderr.String())
		default:
		}
	}
	c.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	st := openStore(t, db)
	steps, _ := st.Steps()
	rows, _ := st.Metrics()
	if len(steps) != 1 || len(rows) == 0 || steps[0] != rows[len(rows)-1].Step {
		t.Fatalf("checkpoints %v, last metrics row %v: want one checkpoint at the last logged step", steps, rows[len(rows)-1].Step)
	}
}

// metricsByStep is every logged metric row of a store, keyed by step, without
// the wall-clock columns (which differ between any two runs).
func metricsByStep(t *testing.T, db string) map[int]map[string]float64 {
	t.Helper()
	st := openStore(t, db)
	rows, err := st.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]map[string]float64{}
	for _, r := range rows {
		m := map[string]float64{}
		for k, v := range r.Values {
			if !strings.HasSuffix(k, "_s") && !strings.HasSuffix(k, "_ms") {
				m[k] = v
			}
		}
		out[r.Step] = m
	}
	return out
}

// SIGTERM or SIGINT at any phase of a step (an RL rollout, an inner update,
// an eval, a checkpoint write; SFT's update, eval and checkpoint write)
// leaves a store that resumes to the very weights and metric rows of a run
// that was never interrupted.
func TestSignalAtEveryPhaseResumesBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("signals real runs")
	}
	dir := t.TempDir()
	rl := `
objective: unigrpo
rollout: {prompts: 2, group: 4, workers: 2}
rewards: [{name: sudoku_cells}]
algo: {mu: 2, beta: 0.01}`
	sft := `
objective: sft`
	cfgFor := func(name, objective string) string {
		return write(t, dir, name+".yaml", fmt.Sprintf(`
run: {name: %s, dir: %s, seed: 3}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64}
data: {task: sudoku4x4, train: gen:200, eval: gen:8}
optim: {lr: 1.0e-3, warmup: 0}
train: {steps: 6, batch: 4, eval_every: 2, ckpt_every: 3, log_every: 1}
sample: {gen_length: 16, steps: 4}
%s
`, name, dir, objective))
	}
	for _, c := range []struct {
		objective, body string
		at              []string
	}{
		{"rl", rl, []string{"rollout:2", "update:3:int", "eval:4", "ckpt:3:int"}},
		{"sft", sft, []string{"update:1", "eval:2:int", "ckpt:3"}},
	} {
		ref := cfgFor(c.objective+"-unbroken", c.body)
		if out, err := cli("train", "-c", ref, "--log-level", "error").CombinedOutput(); err != nil {
			t.Fatalf("%s unbroken run: %v\n%s", c.objective, err, out)
		}
		unbroken := filepath.Join(dir, c.objective+"-unbroken.db")
		wantStep, want := weightsChecksum(t, unbroken)
		wantRows := metricsByStep(t, unbroken)
		for i, at := range c.at {
			name := fmt.Sprintf("%s-%d", c.objective, i)
			cfg := cfgFor(name, c.body)
			first := cli("train", "-c", cfg, "--log-level", "error")
			first.Env = append(first.Env, "REMASK_SIGNAL_AT="+at)
			out, err := first.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "interrupted") {
				t.Fatalf("%s: signalled run: err %v, want exit 0 and an interrupted note:\n%s", at, err, out)
			}
			if out, err := cli("train", "-c", cfg, "--log-level", "error", "--resume").CombinedOutput(); err != nil {
				t.Fatalf("%s: resume: %v\n%s", at, err, out)
			}
			db := filepath.Join(dir, name+".db")
			step, got := weightsChecksum(t, db)
			if step != wantStep || got != want {
				t.Errorf("%s %s: step %d crc %08x, unbroken run step %d crc %08x", c.objective, at, step, got, wantStep, want)
			}
			rows := metricsByStep(t, db)
			for s, w := range wantRows {
				if !reflect.DeepEqual(rows[s], w) {
					t.Errorf("%s %s: metrics at step %d = %v, unbroken run %v", c.objective, at, s, rows[s], w)
				}
			}
			if len(rows) != len(wantRows) {
				t.Errorf("%s %s: %d metric rows, unbroken run %d", c.objective, at, len(rows), len(wantRows))
			}
		}
	}
}

// While a run writes its store, ckpt ls/show/metrics/samples and sample read
// its last committed state.
func TestReadWhileTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real training run")
	}
	dir := t.TempDir()
	cfg := write(t, dir, "live.yaml", fmt.Sprintf(`
run: {name: live, dir: %s, seed: 5}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64}
data: {task: sudoku4x4, train: gen:300, eval: gen:4}
train: {steps: 100000, batch: 8, ckpt_every: 10, eval_every: 20, log_every: 5, keep_last: 3}
`, dir))
	c := cli("train", "-c", cfg, "--log-level", "error")
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
	}()
	db := filepath.Join(dir, "live.db")
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := checkpoint.OpenReadOnly(db)
		if err == nil {
			steps, _ := st.Steps()
			st.Close()
			if len(steps) >= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two checkpoints within 60 s; the run said: %s", stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"ckpt", "ls", db}, {"ckpt", "show", db}, {"ckpt", "metrics", db}, {"ckpt", "samples", db},
		{"sample", "--ckpt", db, "--prompt", "0401023000034310"},
	} {
		out, err := cli(args...).CombinedOutput()
		if err != nil {
			t.Errorf("%v while the run writes: %v\n%s", args, err, out)
		}
	}
	if err := c.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the run stopped while being read: %v", err)
	}
}
