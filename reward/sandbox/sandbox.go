package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Limits bound one run.
type Limits struct {
	Wall     time.Duration // killed (whole process group) after this
	CPU      time.Duration // RLIMIT_CPU
	Memory   int64         // RLIMIT_AS, bytes
	FileSize int64         // RLIMIT_FSIZE, bytes
	Procs    int           // RLIMIT_NPROC for the sandbox user
	Output   int           // bytes of stdout and of stderr kept
}

// DefaultLimits suit a unit-test run of a short Python solution.
func DefaultLimits() Limits {
	return Limits{Wall: 5 * time.Second, CPU: 2 * time.Second, Memory: 512 << 20, FileSize: 1 << 20, Procs: 32, Output: 64 << 10}
}

// Result is what one run did.
type Result struct {
	ExitCode  int    // -1 when killed by a signal
	Signal    string // the signal that ended it, if any
	TimedOut  bool   // killed at the wall-clock limit
	Stdout    []byte
	Stderr    []byte
	Isolation string // "namespaces" or why the run is not isolated
	UID       int    // the user the program ran as (a fresh one per run as root)
}

// OK reports a clean exit with status 0.
func (r Result) OK() bool { return r.ExitCode == 0 && !r.TimedOut }

const envChild = "REMASK_SANDBOX_CHILD"

type childSpec struct {
	Argv     []string
	Dir      string
	Limits   Limits
	Isolated bool
	UID      int
}

var runSeq atomic.Int64

// runUID is an unprivileged user id of its own for each run: RLIMIT_NPROC
// counts a user's processes system-wide, so runs (and the dead processes of
// earlier runs) sharing one user would eat each other's limit.
func runUID() int {
	return 200000 + int((int64(os.Getpid())*7919+runSeq.Add(1))%800000)
}

// Run executes argv in a fresh directory holding files (name -> content),
// feeding stdin.
func Run(ctx context.Context, argv []string, files map[string][]byte, stdin []byte, lim Limits) (Result, error) {
	if len(argv) == 0 {
		return Result{}, fmt.Errorf("sandbox: empty command")
	}
	root := os.Geteuid() == 0
	// As root the run's /tmp is replaced by an empty tmpfs, so its own
	// directory lives elsewhere, under a root-owned parent nobody can write.
	base := ""
	if root {
		base = "/var/lib/remask-sandbox"
		if err := os.MkdirAll(base, 0o711); err != nil {
			return Result{}, fmt.Errorf("sandbox: %w", err)
		}
	}
	dir, err := os.MkdirTemp(base, "remask-sandbox-")
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	defer os.RemoveAll(dir)
	for name, body := range files {
		p := filepath.Join(dir, filepath.Clean("/"+name)) // no escaping the directory
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return Result{}, fmt.Errorf("sandbox: %w", err)
		}
		if err := os.WriteFile(p, body, 0o666); err != nil {
			return Result{}, fmt.Errorf("sandbox: %w", err)
		}
	}
	uid := os.Geteuid()
	if root {
		// the program runs as its own user: let it write in its directory only
		uid = runUID()
		if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				err = os.Chown(p, uid, uid)
			}
			return err
		}); err != nil {
			return Result{}, fmt.Errorf("sandbox: %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	spec, _ := json.Marshal(childSpec{Argv: argv, Dir: dir, Limits: lim, Isolated: root, UID: uid})
	cmd := exec.Command(self)
	cmd.Env = []string{envChild + "=" + string(spec), "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8"}
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr capped
	stdout.max, stderr.max = lim.Output, lim.Output
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	res := Result{Isolation: "namespaces", UID: uid}
	if root {
		// A PID namespace too: the program is its init, so when it dies the
		// kernel kills and reaps everything it started.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWPID
	} else {
		res.Isolation = "none: not root, so no new network or mount namespace (rlimits and the timeout still apply)"
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("sandbox: start: %w", err)
	}
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
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return res, fmt.Errorf("sandbox: %w", waitErr)
	}
	return res, nil
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

// MaybeChild turns the process into the sandbox helper when Run started it;
// otherwise it returns at once. Call it first thing in main (and TestMain).
func MaybeChild() {
	raw, ok := os.LookupEnv(envChild)
	if !ok {
		return
	}
	runtime.LockOSThread() // namespaces and credentials are per thread until exec
	var s childSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fail("bad spec: %v", err)
	}
	if s.Isolated {
		// A private copy of the mount table, then fresh tmpfs over the shared
		// scratch places, so the program can write nowhere but its directory.
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
			fail("make mounts private: %v", err)
		}
		for _, d := range []string{"/tmp", "/var/tmp", "/dev/shm"} {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=16m"); err != nil {
					fail("mount tmpfs on %s: %v", d, err)
				}
			}
		}
	}
	lim := s.Limits
	setrl := func(res int, v uint64) {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			fail("setrlimit %d: %v", res, err)
		}
	}
	if os.Geteuid() == 0 {
		if err := syscall.Setgroups([]int{}); err != nil {
			fail("setgroups: %v", err)
		}
		if err := syscall.Setgid(s.UID); err != nil {
			fail("setgid: %v", err)
		}
		if err := syscall.Setuid(s.UID); err != nil {
			fail("setuid: %v", err)
		}
	}
	path, err := exec.LookPath(s.Argv[0])
	if err != nil {
		fail("%v", err)
	}
	// Everything execve needs is built now: once RLIMIT_AS is below what this
	// Go process has already mapped, it can allocate nothing more (the runtime
	// dies with "cannot allocate memory"), so the limit goes on last and the
	// exec is a raw system call.
	pathp, err := syscall.BytePtrFromString(path)
	if err != nil {
		fail("%v", err)
	}
	argvp, err := syscall.SlicePtrFromStrings(s.Argv)
	if err != nil {
		fail("%v", err)
	}
	envp, err := syscall.SlicePtrFromStrings([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"})
	if err != nil {
		fail("%v", err)
	}
	if lim.CPU > 0 {
		setrl(syscall.RLIMIT_CPU, uint64((lim.CPU+time.Second-1)/time.Second))
	}
	if lim.FileSize > 0 {
		setrl(syscall.RLIMIT_FSIZE, uint64(lim.FileSize))
	}
	if lim.Procs > 0 {
		setrl(6 /* RLIMIT_NPROC */, uint64(lim.Procs))
	}
	if lim.Memory > 0 {
		rl := syscall.Rlimit{Cur: uint64(lim.Memory), Max: uint64(lim.Memory)}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRLIMIT, syscall.RLIMIT_AS, uintptr(unsafe.Pointer(&rl)), 0); e != 0 {
			os.Exit(125)
		}
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(pathp)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	_ = e
	os.Exit(126) // execve failed; nothing more can safely be allocated to say why
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sandbox: "+format+"\n", args...)
	os.Exit(125)
}
