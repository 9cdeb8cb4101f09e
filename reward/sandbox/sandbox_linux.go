package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The sandbox proper, built on Linux namespaces and rlimits; the helper's
// side is child_linux.go. Other systems get sandbox_other.go.

const envChild = "REMASK_SANDBOX_CHILD"

type childSpec struct {
	Argv   []string
	Dir    string
	Limits Limits
	Mode   string // Isolation
	UID    int    // root mode: the user to become
	Procs  int    // RLIMIT_NPROC to set
}

var runSeq atomic.Int64

// runUID is an unprivileged user id of its own for each run as root:
// RLIMIT_NPROC counts a user's processes system-wide, so runs (and the dying
// processes of earlier runs) sharing one user would eat each other's limit.
func runUID() int {
	return 200000 + int((int64(os.Getpid())*7919+runSeq.Add(1))%800000)
}

// scratch are the shared writable places that get a private, empty tmpfs.
var scratch = []string{"/tmp", "/var/tmp", "/dev/shm"}

// baseDir is where run directories go: not under a scratch place, which the
// run sees replaced by an empty tmpfs.
func baseDir(root bool) string {
	if root {
		return "/var/lib/remask-sandbox"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "remask-sandbox")
	}
	return ""
}

// run is Run on Linux, argv not empty.
func (s *Sandbox) run(ctx context.Context, argv []string, files map[string][]byte, stdin []byte) (Result, error) {
	lim := s.Limits
	root := os.Geteuid() == 0
	base := baseDir(root)
	if base != "" {
		if err := os.MkdirAll(base, 0o711); err != nil {
			base = "" // fall back to the system temp dir
		}
	}
	dir, err := os.MkdirTemp(base, "run-")
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: create the run directory: %w", err)
	}
	defer os.RemoveAll(dir)
	for name, body := range files {
		p := filepath.Join(dir, filepath.Clean("/"+name)) // no escaping the directory
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return Result{}, fmt.Errorf("sandbox: write %s: %w", name, err)
		}
		if err := os.WriteFile(p, body, 0o666); err != nil {
			return Result{}, fmt.Errorf("sandbox: write %s: %w", name, err)
		}
	}
	spec := childSpec{Argv: argv, Dir: dir, Limits: lim, UID: os.Geteuid(), Procs: lim.Procs}
	if root {
		// the program runs as its own user: let it write in its directory only
		spec.Mode, spec.UID = IsolatedRoot, runUID()
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Lchown(p, spec.UID, spec.UID)
			}
			return err
		}); err != nil {
			return Result{}, fmt.Errorf("sandbox: hand the run directory to uid %d: %w", spec.UID, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: find our own binary to re-execute: %w", err)
	}
	start := func(mode string) (*exec.Cmd, *capped, *capped, *os.File, error) {
		spec.Mode = mode
		if mode == NotIsolated && lim.Procs > 0 {
			// without a user of its own, the limit counts all our processes
			spec.Procs = processesOf(os.Geteuid()) + lim.Procs
		}
		raw, _ := json.Marshal(spec)
		cmd := exec.Command(self)
		cmd.Env = []string{envChild + "=" + string(raw), "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8"}
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(stdin)
		stdout, stderr := &capped{max: lim.Output}, &capped{max: lim.Output}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		// The helper reports a failure to set the sandbox up on fd 3, which the
		// program never inherits, so a program cannot pass for the helper.
		report, reportW, err := os.Pipe()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		cmd.ExtraFiles = []*os.File{reportW}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		const ns = syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC
		switch mode {
		case IsolatedRoot:
			cmd.SysProcAttr.Cloneflags = ns
		case IsolatedUserNS:
			cmd.SysProcAttr.Cloneflags = ns | syscall.CLONE_NEWUSER
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		}
		err = cmd.Start()
		reportW.Close()
		if err != nil {
			report.Close()
		}
		return cmd, stdout, stderr, report, err
	}
	mode := IsolatedRoot
	if !root {
		mode = IsolatedUserNS
		if s.noUserNS.Load() {
			mode = NotIsolated
		}
	}
	t0 := time.Now()
	cmd, stdout, stderr, report, err := start(mode)
	if err != nil && mode == IsolatedUserNS {
		s.noUserNS.Store(true)
		s.warnOnce.Do(func() {
			s.Log.Warn().Err(err).Msg("sandbox: the kernel refuses user namespaces, so model-written code runs without network or file-system isolation (rlimits and timeouts only); run as root for full isolation")
		})
		mode = NotIsolated
		cmd, stdout, stderr, report, err = start(mode)
	}
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: start %q (%s): %w", argv[0], mode, err)
	}
	defer report.Close()
	res := Result{Isolation: mode, UID: spec.UID}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(lim.Wall)
	defer timer.Stop()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-timer.C:
		res.TimedOut = true
	case <-ctx.Done():
		res.TimedOut = true
	}
	// Whatever happened, nothing of the run may outlive it.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if res.TimedOut {
		waitErr = <-done
	}
	res.Elapsed = time.Since(t0)
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
		// RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard
		// one (equal here), in whole seconds. Nothing else of ours kills before
		// the timeout, so a kill after most of that CPU time is the limit (the
		// usage reported is sampled, a little under the kernel's own count).
		used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		sig := ws.Signal()
		res.OutOfCPU = lim.CPU > 0 && (sig == syscall.SIGKILL || sig == syscall.SIGXCPU) && !res.TimedOut &&
			used >= lim.CPU.Truncate(time.Second)*3/4
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return res, fmt.Errorf("sandbox: wait for %q: %w", argv[0], waitErr)
	}
	report.SetReadDeadline(time.Now().Add(time.Second))
	if msg, _ := io.ReadAll(io.LimitReader(report, 4096)); len(msg) > 0 {
		return res, fmt.Errorf("sandbox: set up the run of %q (%s): %s", argv[0], mode, strings.TrimSpace(string(msg)))
	}
	return res, nil
}

// processesOf counts the live processes (threads included, as RLIMIT_NPROC
// does) of a user.
func processesOf(uid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		var mine bool
		threads := 1
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && f[0] == "Uid:" {
				mine = f[1] == strconv.Itoa(uid)
			}
			if len(f) > 1 && f[0] == "Threads:" {
				threads, _ = strconv.Atoi(f[1])
			}
		}
		if mine {
			n += threads
		}
	}
	return n
}

// capped keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
