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
// Start launches the program and checks that it stays up (the run calls it
// before any rollout); otherwise the first Score does. When the program
// crashes, hangs past the timeout, or answers something that is not such a
// line (not JSON, the wrong id, no score, a non-finite score, details that
// are not an object), that completion fails (it gets the component's failure
// score), the reason is logged, the program's whole process group is killed,
// and the next completion starts it anew, after a back-off (restartDelay). An
// "error" answer fails the completion too but keeps the program running.
//
// Some failures end the run instead, as an error that wraps ErrAbort: a
// program that cannot be started, or that exits (or closes its output) before
// its first answer ever, and MaxConsecutiveFailures failed completions in a
// row. From then on every completion fails with that error. A batch is
// pipelined: all its requests are written while the answers are read.
type Exec struct {
	Argv    []string
	Name    string        // names the plugin in metrics, logs and messages; "" = the command line
	Timeout time.Duration // the longest wait for one answer
	Startup time.Duration // extra time for the first answer after a (re)start (startup_grace)
	// MaxConsecutiveFailures is how many completions in a row may fail (the
	// program crashed, hung, answered garbage or could not start) before the
	// run is aborted; 0 = never. Any answer, a score or an error, resets the
	// count.
	MaxConsecutiveFailures int
	Log                    zerolog.Logger

	probe time.Duration       // how long Start watches a new program for an early exit
	sleep func(time.Duration) // the restart back-off's sleep (tests record it)

	mu          sync.Mutex
	proc        *pluginProc // nil before the first use and after a failure
	nextID      int64
	restarts    int
	failures    int
	consecutive int   // completions failed in a row by the program's fault
	answered    bool  // the program has answered at least once, in any of its runs
	aborted     error // set once the run must end; every later completion fails with it
}

// Defaults of an exec reward (configs: timeout, startup_grace,
// max_consecutive_failures).
const (
	DefaultExecTimeout            = 2 * time.Second
	DefaultExecStartupGrace       = 10 * time.Second
	DefaultMaxConsecutiveFailures = 20
)

// The restart back-off: none before the first restart, then 100 ms doubling
// per further failure in a row, at most 2 s.
const (
	restartDelayBase = 100 * time.Millisecond
	restartDelayMax  = 2 * time.Second
)

// probeWait is how long Start watches a new program: one that exits within
// it (a missing script, a syntax error, a failed import) cannot start. One
// that fails later is caught at its first request, which it does not answer.
const probeWait = time.Second

// ErrAbort, wrapped in a reward's error, ends the run instead of costing one
// completion its score: CombineBatch returns such an error rather than a
// failure score.
var ErrAbort = errors.New("reward aborted the run")

// abortError is a one-line error that wraps ErrAbort.
type abortError struct{ msg string }

func (e *abortError) Error() string        { return e.msg }
func (e *abortError) Is(target error) bool { return target == ErrAbort }

// pluginProc is one run of the program.
type pluginProc struct {
	cmd     *exec.Cmd
	stdin   *os.File
	stdout  *os.File      // our end of its stdout
	lines   chan string   // its stdout, line by line; closed at the end
	stop    chan struct{} // closed when we kill it, so the reader stops
	readErr error         // why lines closed early (read before lines is drained)
	fresh   bool          // no answer read yet
	exited  chan struct{} // closed when the program has exited and its stderr is read
	waitErr error         // how it exited (read after exited is closed)
	stderr  *stderrTail
	killed  bool
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

// NewExec prepares a plugin with the default startup grace and failure
// limit; nothing starts until Start or the first Score. A timeout of 0 means
// 2 s.
func NewExec(argv []string, timeout time.Duration, log zerolog.Logger) (*Exec, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("exec reward: empty command")
	}
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	return &Exec{Argv: argv, Timeout: timeout, Startup: DefaultExecStartupGrace, MaxConsecutiveFailures: DefaultMaxConsecutiveFailures, Log: log}, nil
}

func (e *Exec) name() string {
	if e.Name != "" {
		return e.Name
	}
	return strings.Join(e.Argv, " ")
}

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

// restartDelay is the wait before starting the program again after n
// completions failed in a row: 0, 100 ms, 200 ms, 400 ms ... 2 s.
func restartDelay(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := restartDelayBase
	for i := 2; i < n && d < restartDelayMax; i++ {
		d *= 2
	}
	return min(d, restartDelayMax)
}

// start launches the program in its own process group.
func (e *Exec) start() (*pluginProc, error) {
	cmd := exec.Command(e.Argv[0], e.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Both pipes are *os.File of our own: a write to a program that stopped
	// reading can be cut off with a deadline, and Wait does not close its
	// stdout under the reader, which may still hold its last answers.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	tail := &stderrTail{}
	cmd.Stderr = logWriter{e.Log, e.name(), tail}
	cmd.WaitDelay = time.Second // a grandchild holding stderr must not keep Wait waiting
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	p := &pluginProc{cmd: cmd, stdin: inW, stdout: outR, lines: make(chan string, 16), stop: make(chan struct{}),
		fresh: true, exited: make(chan struct{}), stderr: tail}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(outR)
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
	if p.killed {
		return
	}
	p.killed = true
	close(p.stop)
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.stdin.Close()
	p.stdout.Close() // a grandchild in another group may hold its write end
}

// exitStatus says how the program ended; call it once exited is closed.
func (p *pluginProc) exitStatus() string {
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// stderrText kills the program and returns the tail of its stderr, for a
// message. It waits for the program to end: SIGKILL cannot be ignored, and
// WaitDelay bounds Wait after that, even when a grandchild holds stderr.
func (p *pluginProc) stderrText() string {
	p.kill()
	<-p.exited
	if s := p.stderr.String(); s != "" {
		return "stderr: " + s
	}
	return "nothing on stderr"
}

// Start launches the program now, if it is not running, and watches it for a
// moment: a program that cannot be executed, or that exits at once (a missing
// script, a failed import), is an error that names the plugin and ends with
// its stderr. A run calls it when it builds its rewards, before any rollout.
func (e *Exec) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.aborted != nil {
		return e.aborted
	}
	if e.proc != nil {
		return nil
	}
	p, err := e.start()
	if err != nil {
		return fmt.Errorf("reward plugin %q cannot start: %v", e.name(), err)
	}
	wait := e.probe
	if wait == 0 {
		wait = probeWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.exited:
		return fmt.Errorf("reward plugin %q cannot start: it exited (%s) right after starting; %s", e.name(), p.exitStatus(), p.stderrText())
	case <-t.C:
	}
	e.proc = p
	return nil
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

// ScoreBatch writes every request and reads the answers in order; after a
// failure it restarts the program, after the back-off, and goes on with the
// next completion. Once the run must end, every outcome left carries the
// error, which wraps ErrAbort.
func (e *Exec) ScoreBatch(cs []Completion) []Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Outcome, len(cs))
	for k := 0; k < len(cs); {
		if e.aborted != nil {
			for ; k < len(cs); k++ {
				out[k].Err = e.aborted
				e.failures++
			}
			break
		}
		if e.proc == nil {
			if d := restartDelay(e.consecutive); d > 0 {
				sleep := e.sleep
				if sleep == nil {
					sleep = time.Sleep
				}
				sleep(d)
			}
			p, err := e.start()
			if err != nil {
				e.fail(nil, k, out, err.Error(), true)
				k++
				continue
			}
			e.proc = p
		}
		k = e.run(e.proc, cs, k, out)
	}
	return out
}

// fail records that completion i failed by the program's fault: it is
// logged and counted, p (the run that failed, or nil) is killed, and when
// the program never started (early) or failed too often in a row, the run is
// aborted. It returns the index of the next completion.
func (e *Exec) fail(p *pluginProc, i int, out []Outcome, why string, early bool) int {
	out[i].Err = fmt.Errorf("exec reward %q: %s", e.name(), why)
	e.failures++
	e.consecutive++
	if p != nil {
		p.kill()
		e.proc = nil
		e.restarts++
	}
	stderr := func() string {
		if p == nil {
			return why // it never ran: why is the error of exec
		}
		return why + "; " + p.stderrText()
	}
	switch {
	case early && !e.answered:
		if p != nil {
			why += " its first request"
		}
		e.aborted = &abortError{fmt.Sprintf("reward plugin %q cannot start: %s", e.name(), stderr())}
	case e.MaxConsecutiveFailures > 0 && e.consecutive >= e.MaxConsecutiveFailures:
		e.aborted = &abortError{fmt.Sprintf("reward plugin %q failed on %d completions in a row (max_consecutive_failures %d); the last: %s",
			e.name(), e.consecutive, e.MaxConsecutiveFailures, stderr())}
	}
	if e.aborted != nil {
		out[i].Err = e.aborted // not logged: the caller ends the run with it
	} else {
		e.Log.Warn().Str("plugin", e.name()).Err(out[i].Err).Int("in_a_row", e.consecutive).Dur("restart_in", restartDelay(e.consecutive)).Msg("reward plugin failed; restarting it")
	}
	return i + 1
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
	for i := k; i < len(cs); i++ {
		id := first + int64(i-k)
		if len(reqs[i-k]) == 1 {
			return e.fail(p, i, out, "cannot encode the request (reference fields not JSON)", false)
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
		case <-timer.C:
			return e.fail(p, i, out, fmt.Sprintf("no answer within %s", wait), false)
		}
		if !ok {
			// The output ended: say how, giving the program until the
			// answer's deadline to exit.
			why := "closed its output without answering"
			if p.readErr != nil {
				why = "its output broke off without answering: " + p.readErr.Error()
			} else {
				select {
				case <-p.exited:
					why = "exited (" + p.exitStatus() + ") without answering"
				case <-timer.C:
				}
			}
			timer.Stop()
			return e.fail(p, i, out, why, true)
		}
		timer.Stop()
		p.fresh = false
		var resp execResponse
		if err := json.Unmarshal([]byte(line), &resp); err != nil {
			return e.fail(p, i, out, fmt.Sprintf("answer is not a JSON object with a finite score (%v): %.80q", err, line), false)
		}
		var details map[string]any
		if len(resp.Details) > 0 && string(resp.Details) != "null" {
			if err := json.Unmarshal(resp.Details, &details); err != nil {
				return e.fail(p, i, out, fmt.Sprintf("details are not a JSON object: %.80s", resp.Details), false)
			}
		}
		switch {
		case resp.ID == nil || *resp.ID != id:
			return e.fail(p, i, out, fmt.Sprintf("answer for id %v, want %d", idOf(resp.ID), id), false)
		case resp.Error != "":
			// an honest error keeps the program running
			err := fmt.Errorf("exec reward %q: %s", e.name(), resp.Error)
			e.Log.Warn().Str("plugin", e.name()).Err(err).Msg("reward plugin could not score a completion")
			out[i] = Outcome{Err: err, Details: details}
			e.failures++
		case resp.Score == nil:
			return e.fail(p, i, out, "answer has no score", false)
		case math.IsNaN(*resp.Score) || math.IsInf(*resp.Score, 0):
			return e.fail(p, i, out, fmt.Sprintf("score %v is not finite", *resp.Score), false)
		default:
			out[i] = Outcome{Score: *resp.Score, Details: details}
		}
		e.answered = true
		e.consecutive = 0
	}
	return len(cs)
}

func idOf(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// logWriter turns a plugin's stderr into log lines and keeps its tail.
type logWriter struct {
	log  zerolog.Logger
	name string
	tail *stderrTail
}

func (w logWriter) Write(p []byte) (int, error) {
	w.tail.add(p)
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			w.log.Info().Str("plugin", w.name).Msg(l)
		}
	}
	return len(p), nil
}

// stderrTail keeps the end of a program's stderr for error messages.
type stderrTail struct {
	mu sync.Mutex
	b  []byte
}

const (
	tailKeep  = 4 << 10 // bytes kept
	tailLines = 5       // lines shown
	tailChars = 600     // characters shown at most
)

func (t *stderrTail) add(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailKeep {
		t.b = append([]byte(nil), t.b[len(t.b)-tailKeep:]...)
	}
}

// String is the last lines, joined by " | " on one line.
func (t *stderrTail) String() string {
	t.mu.Lock()
	s := strings.ToValidUTF8(string(t.b), "?")
	t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	s = strings.Join(lines, " | ")
	if r := []rune(s); len(r) > tailChars {
		s = "..." + string(r[len(r)-tailChars:])
	}
	return s
}
