// Package sandbox runs untrusted, model-written programs for rewards: each
// run gets its own directory (removed afterwards), CPU-time, memory,
// file-size and process-count limits, no network, and is killed with
// everything it started at the wall-clock timeout.
//
// How: Run re-executes the calling binary as a small helper (it sets an
// environment variable; the binary's main, or a test's TestMain, must call
// MaybeChild first thing). Go's os/exec cannot set rlimits or mounts on a
// child, and /usr/bin/prlimit would neither mount nor change user, so the
// helper does it, then execs the program. As root the helper starts in new
// mount, network, PID and IPC namespaces: every mount is made read-only but
// the run's directory, /tmp, /var/tmp and /dev/shm get an empty tmpfs each,
// /proc shows only the run, and the program runs as a user id of the run's
// own (RLIMIT_NPROC does not bind root and counts per user, so a fork bomb
// needs a fresh user to be stopped). Not root, it asks for the same
// namespaces inside a user namespace, the program keeping no capabilities;
// where the kernel refuses that it logs a warning once and runs the program
// with the rlimits and the timeout only (Result.Isolation says which).
//
// Linux only: elsewhere the package builds, MaybeChild does nothing, and Run
// returns the error "code sandbox not available on GOOS".
package sandbox
