package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a CLI child process whose stderr is kept and watched line by line.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	watch  func(line string) // called on every stderr line
	done   chan error
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startCLI starts the CLI with extra environment; the test kills it at the end.
func startCLI(t testing.TB, env []string, watch func(string), args ...string) *proc {
	t.Helper()
	p := &proc{cmd: cli(args...), watch: watch, done: make(chan error, 1)}
	p.cmd.Env = append(p.cmd.Env, env...)
	r, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			w := p.watch
			p.mu.Unlock()
			if w != nil {
				w(sc.Text())
			}
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
	})
	return p
}

// waitFor waits until the process's stderr contains s.
func (p *proc) waitFor(t testing.TB, s string, limit time.Duration) {
	t.Helper()
	for end := time.Now().Add(limit); !strings.Contains(p.output(), s); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%q not seen within %s; stderr:\n%s", s, limit, p.output())
		}
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// natsRLConfig is a small RL run whose rewards carry signal from the first
// step (cell credit on 4x4 sudoku), so the weights depend on every rollout:
// 32 prompts in groups of 4 are 4 work items a step.
func natsRLConfig(t *testing.T, dir string, steps int) string {
	return write(t, dir, fmt.Sprintf("rl%d.yaml", steps), fmt.Sprintf(`
run: {name: rl, dir: %s, seed: 7}
model: {preset: "", d: 32, layers: 2, heads: 2, ff: 48, max_len: 64}
data: {task: sudoku4x4, train: gen:300}
objective: unigrpo
rewards: [{name: sudoku_cells, weight: 1}]
rollout: {group: 4, prompts: 32, temperature: 1.0}
algo: {mu: 1}
optim: {lr: 3.0e-3, warmup: 0, schedule: constant}
train: {steps: %d, ckpt_every: %d, log_every: 1}
`, dir, steps, steps))
}

// rlMetrics are a run's metric rows without the nats backend's own.
func rlMetrics(t *testing.T, db string) map[int]map[string]float64 {
	m := metricsByStep(t, db)
	for _, row := range m {
		for k := range row {
			if strings.HasPrefix(k, "rollout/") {
				delete(row, k)
			}
		}
	}
	return m
}

// workItemStep reads the step of a worker's "work item" log line (JSON), or -1.
func workItemStep(line string) int {
	var ev struct {
		Message string `json:"message"`
		Step    *int   `json:"step"`
	}
	if json.Unmarshal([]byte(line), &ev) != nil || ev.Message != "work item" || ev.Step == nil {
		return -1
	}
	return *ev.Step
}

// An RL run whose rollouts go through the embedded NATS server to 3 worker
// processes ends with the weights (and every metric) of the same run on the
// in-process pool: when one worker is SIGKILLed holding an item of step 1,
// and when the server is killed mid-step and restarted on its file store.
func TestNATSRolloutsMatchInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS server, workers and three RL runs")
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	os.MkdirAll(local, 0o755)
	for _, steps := range []int{3, 4} {
		cfg := natsRLConfig(t, local, steps)
		if out, err := cli("train", "-c", cfg, "--log-level", "error", "--set", fmt.Sprintf("run.name=local%d", steps)).CombinedOutput(); err != nil {
			t.Fatalf("in-process run: %v\n%s", err, out)
		}
	}
	want := map[int]uint32{}
	wantMetrics := map[int]map[int]map[string]float64{}
	for _, steps := range []int{3, 4} {
		db := filepath.Join(local, fmt.Sprintf("local%d.db", steps))
		_, want[steps] = weightsChecksum(t, db)
		wantMetrics[steps] = rlMetrics(t, db)
		moved := false
		for _, row := range wantMetrics[steps] {
			moved = moved || row["adv_abs_mean"] > 0
		}
		if !moved {
			t.Fatal("no group had signal: the weights would not depend on the rollouts")
		}
	}

	// runNATS trains steps steps on the workers of a fresh server; onItem
	// hears (worker, step) of every item a worker starts.
	runNATS := func(t *testing.T, steps int, onItem func(w, step int, srv *proc, workers []*proc)) (*proc, []*proc, []byte, error) {
		d := t.TempDir()
		addr := freePort(t)
		url := "nats://" + addr
		srvArgs := []string{"nats-server", "--listen", addr, "--dir", filepath.Join(d, "js")}
		srv := startCLI(t, nil, nil, srvArgs...)
		srv.waitFor(t, "nats-server ready", 30*time.Second)
		workers := make([]*proc, 3)
		var mu sync.Mutex
		for i := range workers {
			i := i
			workers[i] = startCLI(t, []string{"REMASK_WORKER_DELAY=250ms"}, func(line string) {
				if s := workItemStep(line); s >= 0 && onItem != nil {
					mu.Lock()
					defer mu.Unlock()
					onItem(i, s, srv, workers)
				}
			}, "worker", "--nats", url, "--threads", "1", "--log-format", "json", "--log-level", "debug")
		}
		for _, w := range workers {
			w.waitFor(t, "worker ready", 30*time.Second)
		}
		cfg := natsRLConfig(t, d, steps)
		c := cli("train", "-c", cfg, "--log-level", "error", "--set", "rollout.backend=nats", "--set", "rollout.nats.url="+url,
			"--set", "rollout.nats.ack_wait=1s", "--set", "rollout.nats.step_timeout=2m")
		out, err := runWithin(c, 4*time.Minute)
		return srv, workers, out, err
	}
	check := func(t *testing.T, steps int, db string) {
		if _, got := weightsChecksum(t, db); got != want[steps] {
			t.Fatalf("weights crc %08x, in-process run %08x", got, want[steps])
		}
		if got := rlMetrics(t, db); !reflect.DeepEqual(got, wantMetrics[steps]) {
			t.Fatalf("metrics differ from the in-process run:\n%v\n%v", got, wantMetrics[steps])
		}
	}

	t.Run("worker SIGKILLed mid-item", func(t *testing.T) {
		killed := -1
		_, _, out, err := runNATS(t, 3, func(w, step int, _ *proc, workers []*proc) {
			if step >= 1 && killed < 0 {
				killed = w
				_ = workers[w].cmd.Process.Signal(syscall.SIGKILL)
			}
		})
		if err != nil {
			t.Fatalf("nats run: %v\n%s", err, out)
		}
		if killed < 0 {
			t.Fatal("no worker was killed")
		}
		db := storePath(t, out)
		check(t, 3, db)
		redelivered := 0.0
		for _, row := range metricsByStep(t, db) {
			redelivered += row["rollout/redelivered"]
		}
		if redelivered < 1 {
			t.Fatalf("the killed worker's item was not counted as redelivered")
		}
		t.Logf("worker %d SIGKILLed at step 1; %v items redelivered; weights identical", killed, redelivered)
	})

	t.Run("server killed and restarted mid-step", func(t *testing.T) {
		restarted := make(chan *proc, 1)
		var once sync.Once
		_, _, out, err := runNATS(t, 4, func(_, step int, srv *proc, _ []*proc) {
			if step < 1 {
				return
			}
			once.Do(func() {
				go func() {
					_ = srv.cmd.Process.Signal(syscall.SIGKILL)
					<-srv.done
					time.Sleep(500 * time.Millisecond)
					restarted <- startCLI(t, nil, nil, srv.cmd.Args[1:]...)
				}()
			})
		})
		var again *proc
		select {
		case again = <-restarted:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server was never restarted (run: %v)\n%s", err, out)
		}
		if !strings.Contains(again.output(), "nats-server ready") {
			t.Fatalf("the restarted server is not ready:\n%s", again.output())
		}
		if err != nil {
			// allowed: one clear line, not a hang
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "remask: ") {
				t.Fatalf("the run failed, and not in one line: %v\n%s", err, out)
			}
			t.Logf("the run failed in one line after the restart: %s", lines[0])
			return
		}
		check(t, 4, storePath(t, out))
		t.Logf("server SIGKILLed and restarted during step 1; the run completed with identical weights")
	})
}

// storePath reads the store path the train command printed.
func storePath(t *testing.T, out []byte) string {
	t.Helper()
	s := string(out)
	i := strings.Index(s, "run store: ")
	if i < 0 {
		t.Fatalf("no run store in the output:\n%s", s)
	}
	p := s[i+len("run store: "):]
	return p[:strings.Index(p, " ")]
}

// runWithin runs c to its end, killing it after limit: a hang is an error.
func runWithin(c *exec.Cmd, limit time.Duration) ([]byte, error) {
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-time.After(limit):
		_ = c.Process.Kill()
		<-done
		return []byte(out.String()), fmt.Errorf("no end within %s (hang)", limit)
	}
}
