package sandbox

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Limits bound one run.
type Limits struct {
	Wall     time.Duration // killed (whole process group) after this
	CPU      time.Duration // RLIMIT_CPU
	Memory   int64         // RLIMIT_AS, bytes
	FileSize int64         // RLIMIT_FSIZE, bytes
	Procs    int           // RLIMIT_NPROC: processes and threads of the run's user
	Output   int           // bytes of stdout and of stderr kept
}

// DefaultLimits suit a unit-test run of a short Python solution.
func DefaultLimits() Limits {
	return Limits{Wall: 5 * time.Second, CPU: 2 * time.Second, Memory: 512 << 20, FileSize: 1 << 20, Procs: 32, Output: 64 << 10}
}

// Isolation levels, as Result.Isolation reports them.
const (
	// IsolatedRoot: run as root, so new mount, network, PID and IPC namespaces,
	// a read-only file system but for the run's directory and a private /tmp,
	// and a user id of the run's own.
	IsolatedRoot = "namespaces, own user"
	// IsolatedUserNS: not root, but the kernel lets us create a user
	// namespace: the same namespaces and read-only file system, the program
	// running as our own user without capabilities.
	IsolatedUserNS = "namespaces in a user namespace"
	// NotIsolated: neither; only the rlimits and the timeout apply.
	NotIsolated = "none: no namespaces (not root and no user namespaces); the program can use the network and write wherever our user can"
)

// Result is what one run did.
type Result struct {
	ExitCode  int    // -1 when killed by a signal
	Signal    string // the signal that ended it, if any
	TimedOut  bool   // killed at the wall-clock limit (or when the context ended)
	OutOfCPU  bool   // killed at the CPU-time limit
	Stdout    []byte
	Stderr    []byte
	Isolation string        // one of IsolatedRoot, IsolatedUserNS, NotIsolated
	UID       int           // the user id the program ran as, as the host sees it
	Elapsed   time.Duration // wall-clock time of the run
}

// OK reports a clean exit with status 0.
func (r Result) OK() bool { return r.ExitCode == 0 && !r.TimedOut && !r.OutOfCPU }

// Sandbox runs programs under Limits, logging once if it cannot isolate them.
type Sandbox struct {
	Limits Limits
	Log    zerolog.Logger

	noUserNS atomic.Bool // a user namespace was refused once: do not try again
	warnOnce sync.Once
}

// New returns a sandbox with the given limits.
func New(lim Limits, log zerolog.Logger) *Sandbox { return &Sandbox{Limits: lim, Log: log} }

// Run executes argv in a fresh directory holding files (name -> content),
// feeding stdin, under lim; it is New(lim, nop logger).Run.
func Run(ctx context.Context, argv []string, files map[string][]byte, stdin []byte, lim Limits) (Result, error) {
	return New(lim, zerolog.Nop()).Run(ctx, argv, files, stdin)
}

// Run executes argv in a fresh directory holding files (name -> content),
// feeding stdin. An error means the sandbox could not run the program at all;
// what the program did (exit status, signal, timeout) is in the Result.
func (s *Sandbox) Run(ctx context.Context, argv []string, files map[string][]byte, stdin []byte) (Result, error) {
	if len(argv) == 0 {
		return Result{}, fmt.Errorf("sandbox: empty command")
	}
	return s.run(ctx, argv, files, stdin)
}
