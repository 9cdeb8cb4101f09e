package reward

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
// hangs past the timeout, answers something that is not such a line (wrong
// id, not JSON, a non-finite score) or reports an error, Score returns an
// error (the completion then gets the component's failure score), the
// program's whole process group is killed, and the next call starts it anew.
type Exec struct {
	Argv    []string
	Timeout time.Duration
	Log     zerolog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan string
	nextID   int64
	Restarts int // times the program was (re)started after a failure
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
	Details json.RawMessage `json:"details,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// NewExec prepares a plugin; nothing starts until the first Score.
func NewExec(argv []string, timeout time.Duration, log zerolog.Logger) (*Exec, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("exec reward: empty command")
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &Exec{Argv: argv, Timeout: timeout, Log: log}, nil
}

func (e *Exec) name() string { return strings.Join(e.Argv, " ") }

// start launches the program in its own process group.
func (e *Exec) start() error {
	cmd := exec.Command(e.Argv[0], e.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = logWriter{e.Log, e.name()}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec reward %q: start: %w", e.name(), err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	e.cmd, e.stdin, e.lines = cmd, stdin, lines
	return nil
}

// kill ends the program and its children; the next Score restarts it.
func (e *Exec) kill() {
	if e.cmd == nil {
		return
	}
	syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	e.stdin.Close()
	go e.cmd.Wait() // reap
	e.cmd = nil
	e.Restarts++
}

// Close stops the program.
func (e *Exec) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil {
		e.kill()
		e.Restarts--
	}
	return nil
}

// Score sends one request and waits for its response.
func (e *Exec) Score(c Completion) (float64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil {
		if err := e.start(); err != nil {
			return 0, err
		}
	}
	e.nextID++
	id := e.nextID
	req, err := json.Marshal(execRequest{ID: id, Prompt: c.Prompt, Completion: c.Text, Reference: c.Ref})
	if err != nil {
		return 0, fmt.Errorf("exec reward %q: encode request: %w", e.name(), err)
	}
	fail := func(err error) (float64, error) {
		e.Log.Warn().Str("plugin", e.name()).Err(err).Msg("reward plugin failed; restarting it")
		e.kill()
		return 0, err
	}
	if _, err := e.stdin.Write(append(req, '\n')); err != nil {
		return fail(fmt.Errorf("exec reward %q: write request: %w", e.name(), err))
	}
	timer := time.NewTimer(e.Timeout)
	defer timer.Stop()
	var line string
	select {
	case l, ok := <-e.lines:
		if !ok {
			return fail(fmt.Errorf("exec reward %q: exited without answering", e.name()))
		}
		line = l
	case <-timer.C:
		return fail(fmt.Errorf("exec reward %q: no answer within %s", e.name(), e.Timeout))
	}
	var resp execResponse
	if err := json.Unmarshal([]byte(line), &resp); err != nil {
		return fail(fmt.Errorf("exec reward %q: answer is not a JSON object: %.80q", e.name(), line))
	}
	switch {
	case resp.ID == nil || *resp.ID != id:
		return fail(fmt.Errorf("exec reward %q: answer for id %v, want %d", e.name(), idOf(resp.ID), id))
	case resp.Error != "":
		return 0, fmt.Errorf("exec reward %q: %s", e.name(), resp.Error) // an honest error keeps the program running
	case resp.Score == nil:
		return fail(fmt.Errorf("exec reward %q: answer has no score", e.name()))
	case math.IsNaN(*resp.Score) || math.IsInf(*resp.Score, 0):
		return fail(fmt.Errorf("exec reward %q: score %v is not finite", e.name(), *resp.Score))
	}
	return *resp.Score, nil
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
