// Package sandbox runs untrusted, model-written programs for rewards: each
// run gets its own temporary directory, CPU-time, memory, file-size and
// process-count limits, no network, a private /tmp, and is killed with its
// whole process group at the wall-clock timeout; the directory is removed
// afterwards.
//
// How: the calling binary re-executes itself as a small helper (Run sets an
// environment variable; the binary's main, or a test's TestMain, must call
// MaybeChild first thing). The helper starts in new mount and network
// namespaces (as root; elsewhere it says so in Result.Isolation), mounts a
// fresh tmpfs over /tmp, /var/tmp and /dev/shm, sets the rlimits, drops to
// an unprivileged user id of the run's own when it is root (RLIMIT_NPROC does
// not bind root, and counts per user), and execs the program in the work
// directory; in its own PID namespace, everything the program started dies
// with it.
package sandbox
