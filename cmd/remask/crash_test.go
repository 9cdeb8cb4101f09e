package main

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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

// weightsChecksum is a CRC over every weight's bits at the last checkpoint.
func weightsChecksum(t *testing.T, db string) (int, uint32) {
	t.Helper()
	st, err := checkpoint.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	c.Process.Signal(syscall.SIGTERM)
	if err := c.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	st, err := checkpoint.OpenReadOnly(filepath.Join(dir, "term.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	steps, _ := st.Steps()
	rows, _ := st.Metrics()
	if len(steps) != 1 || len(rows) == 0 || steps[0] != rows[len(rows)-1].Step {
		t.Fatalf("checkpoints %v, last metrics row %v: want one checkpoint at the last logged step", steps, rows[len(rows)-1].Step)
	}
}
