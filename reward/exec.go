package reward

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Exec is a reward computed by a long-running program in any language,
// speaking JSON lines on stdin and stdout: one request per completion,
//
//	{"id": 7, "prompt": "...", "completion": "...", "reference": {...}}
//
// and one response per request, in order,
//
//	{"id": 7, "score": 0.5, "details": {...}}   or   {"id": 7, "error": "why"}
//
// The program is started on first use and kept running. When it crashes,
// hangs past the timeout, or answers something that is not such a line (not
// JSON, the wrong id, no score, a non-finite score, details that are not an
// object), that completion fails (it gets the component's failure score), the
// reason is logged, the program's whole process group is killed, and the next
// completion starts it anew. An "error" answer fails the completion too but
// keeps the program running. A batch is pipelined: all its requests are
// written while the answers are read.
type Exec struct {
	Argv    []string
	Timeout time.Duration // the longest wait for one answer
	Startup time.Duration // extra time for the first answer after a (re)start
	Log     zerolog.Logger

	mu       sync.Mutex
	proc     *pluginProc // nil before the first use and after a failure
	nextID   int64
	restarts int
	failures int
}

// pluginProc is one run of the program.
type pluginProc struct {
	cmd     *exec.Cmd
	stdin   *os.File
	lines   chan string   // its stdout, line by line; closed at the end
	stop    chan struct{} // closed when we kill it, so the reader stops
	readErr error         // why lines closed early (read before lines is drained)
	fresh   bool          // no answer read yet
}

type execRequest struct {
	ID         int64          `json:"id"`
	Prompt     string         `json:"prompt"`
	Completion string         `json:"completion"`
	Reference  map[string]any `json:"reference"`
}

type execResponse struct {
	ID      *int64          `json:"id"`
	Score   *float64        `json:"score"`
	Details json.RawMessage `json:"details"`
	Error   string          `json:"error"`
}

// NewExec prepares a plugin; nothing starts until the first Score. A
// timeout of 0 means 2 s.
func NewExec(argv []string, timeout time.Duration, log zerolog.Logger) (*Exec, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("exec reward: empty command")
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &Exec{Argv: argv, Timeout: timeout, Startup: 10 * time.Second, Log: log}, nil
}

func (e *Exec) name() string { return strings.Join(e.Argv, " ") }

// Restarts is how many times the program was killed after a failure.
func (e *Exec) Restarts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restarts
}

// Failures is how many completions failed, for any reason.
func (e *Exec) Failures() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failures
}

// start launches the program in its own process group.
func (e *Exec) start() (*pluginProc, error) {
	cmd := exec.Command(e.Argv[0], e.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Our end of stdin is an *os.File of our own so that a write to a program
	// that stopped reading can be cut off with a deadline.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec reward %q: %w", e.name(), err)
	}
	cmd.Stdin = inR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("exec reward %q: %w", e.name(), err)
	}
	cmd.Stderr = logWriter{e.Log, e.name()}
	cmd.WaitDelay = time.Second // a grandchild holding stderr must not keep Wait waiting
	if err := cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("exec reward %q: start: %w", e.name(), err)
	}
	inR.Close()
	p := &pluginProc{cmd: cmd, stdin: inW, lines: make(chan string, 16), stop: make(chan struct{}), fresh: true}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			case <-p.stop:
				return
			}
		}
		p.readErr = sc.Err()
	}()
	return p, nil
}

// kill ends the program and everything it started.
func (p *pluginProc) kill() {
	close(p.stop)
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.stdin.Close()
	go p.cmd.Wait() // reap; WaitDelay bounds it
}

// Close stops the program.
func (e *Exec) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc != nil {
		e.proc.kill()
		e.proc = nil
	}
	return nil
}

// Score scores one completion.
func (e *Exec) Score(c Completion) (float64, error) {
	o := e.ScoreBatch([]Completion{c})[0]
	return o.Score, o.Err
}

// errNotRunning marks a failure to start the program, which no restart cures
// within the batch.
var errNotRunning = errors.New("not running")

// ScoreBatch writes every request and reads the answers in order; after a
// failure it restarts the program and goes on with the next completion.
func (e *Exec) ScoreBatch(cs []Completion) []Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Outcome, len(cs))
	for k := 0; k < len(cs); {
		if e.proc == nil {
			p, err := e.start()
			if err != nil {
				e.Log.Warn().Str("plugin", e.name()).Err(err).Msg("reward plugin cannot start")
				for ; k < len(cs); k++ {
					out[k].Err = err
					e.failures++
				}
				return out
			}
			e.proc = p
		}
		k = e.run(e.proc, cs, k, out)
	}
	return out
}

// run pipelines cs[k:] through p until the end or the first failure that
// kills p; it returns the index of the next completion to score.
func (e *Exec) run(p *pluginProc, cs []Completion, k int, out []Outcome) int {
	first := e.nextID + 1
	reqs := make([][]byte, 0, len(cs)-k)
	for _, c := range cs[k:] {
		e.nextID++
		b, err := json.Marshal(execRequest{ID: e.nextID, Prompt: c.Prompt, Completion: c.Text, Reference: c.Ref})
		if err != nil {
			b = nil // encoded as an empty line, which the program may answer as it likes; we fail it below
		}
		reqs = append(reqs, append(b, '\n'))
	}
	// The writer ends when all is written or, at a failure, when kill closes
	// the pipe under it.
	go func() {
		for _, r := range reqs {
			if _, err := p.stdin.Write(r); err != nil {
				return
			}
		}
	}()
	fail := func(i int, err error) int {
		e.Log.Warn().Str("plugin", e.name()).Err(err).Msg("reward plugin failed; restarting it")
		out[i].Err = err
		e.failures++
		e.restarts++
		p.kill()
		e.proc = nil
		return i + 1
	}
	for i := k; i < len(cs); i++ {
		id := first + int64(i-k)
		if len(reqs[i-k]) == 1 {
			return fail(i, fmt.Errorf("exec reward %q: cannot encode the request (reference fields not JSON)", e.name()))
		}
		wait := e.Timeout
		if p.fresh {
			wait += e.Startup
		}
		timer := time.NewTimer(wait)
		var line string
		var ok bool
		select {
		case line, ok = <-p.lines:
			timer.Stop()
		case <-timer.C:
			return fail(i, fmt.Errorf("exec reward %q: no answer within %s", e.name(), wait))
		}
		if !ok {
			why := "exited without answering"
			if p.readErr != nil {
				why = "its output broke off: " + p.readErr.Error()
			}
			return fail(i, fmt.Errorf("exec reward %q: %s", e.name(), why))
		}
		p.fresh = false
		var resp execResponse
		if err := json.Unmarshal([]byte(line), &resp); err != nil {
			return fail(i, fmt.Errorf("exec reward %q: answer is not a JSON object with a finite score (%v): %.80q", e.name(), err, line))
		}
		var details map[string]any
		if len(resp.Details) > 0 && string(resp.Details) != "null" {
			if err := json.Unmarshal(resp.Details, &details); err != nil {
				return fail(i, fmt.Errorf("exec reward %q: details are not a JSON object: %.80s", e.name(), resp.Details))
			}
		}
		switch {
		case resp.ID == nil || *resp.ID != id:
			return fail(i, fmt.Errorf("exec reward %q: answer for id %v, want %d", e.name(), idOf(resp.ID), id))
		case resp.Error != "":
			// an honest error keeps the program running
			err := fmt.Errorf("exec reward %q: %s", e.name(), resp.Error)
			e.Log.Warn().Str("plugin", e.name()).Err(err).Msg("reward plugin could not score a completion")
			out[i] = Outcome{Err: err, Details: details}
			e.failures++
		case resp.Score == nil:
			return fail(i, fmt.Errorf("exec reward %q: answer has no score", e.name()))
		case math.IsNaN(*resp.Score) || math.IsInf(*resp.Score, 0):
			return fail(i, fmt.Errorf("exec reward %q: score %v is not finite", e.name(), *resp.Score))
		default:
			out[i] = Outcome{Score: *resp.Score, Details: details}
		}
	}
	return len(cs)
}

func idOf(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// logWriter turns a plugin's stderr into log lines.
type logWriter struct {
	log  zerolog.Logger
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			w.log.Info().Str("plugin", w.name).Msg(l)
		}
	}
	return len(p), nil
}
