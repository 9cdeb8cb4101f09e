package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// helperFailed is the helper's exit status when it could not set the run up.
const helperFailed = 125

// MaybeChild turns the process into the sandbox helper when Run started it;
// otherwise it returns at once. Call it first thing in main (and TestMain).
func MaybeChild() {
	raw, ok := os.LookupEnv(envChild)
	if !ok {
		return
	}
	runtime.LockOSThread() // credentials and prctl state are per thread until exec
	report := os.NewFile(3, "sandbox-report")
	syscall.CloseOnExec(3) // the program must not inherit it
	fail := func(format string, args ...any) {
		fmt.Fprintf(report, format+"\n", args...)
		os.Exit(helperFailed)
	}
	var s childSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fail("bad spec: %v", err)
	}
	if s.Mode != NotIsolated {
		if err := isolateFiles(s.Dir, s.Mode == IsolatedRoot); err != nil {
			fail("%v", err)
		}
	}
	// No set-user-id program may give the run privileges back.
	if err := prctl(prSetNoNewPrivs, 1); err != nil {
		fail("no_new_privs: %v", err)
	}
	switch s.Mode {
	case IsolatedRoot:
		// RLIMIT_NPROC binds a user of our own, and root's rights go.
		if err := syscall.Setgroups([]int{}); err != nil {
			fail("setgroups: %v", err)
		}
		if err := syscall.Setgid(s.UID); err != nil {
			fail("setgid %d: %v", s.UID, err)
		}
		if err := syscall.Setuid(s.UID); err != nil {
			fail("setuid %d: %v", s.UID, err)
		}
	case IsolatedUserNS:
		// We are root inside our user namespace: the program must not keep
		// that root's capabilities (it could undo the mounts above).
		if err := dropCapabilities(); err != nil {
			fail("drop capabilities: %v", err)
		}
	}
	path, err := exec.LookPath(s.Argv[0])
	if err != nil {
		fail("%v", err)
	}
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
		// thread pools count against the process limit
		"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1"}
	pathp, err1 := syscall.BytePtrFromString(path)
	argvp, err2 := syscall.SlicePtrFromStrings(s.Argv)
	envp, err3 := syscall.SlicePtrFromStrings(env)
	if err := errors.Join(err1, err2, err3); err != nil {
		fail("exec %s: %v", path, err)
	}
	// From the first limit on, nothing may allocate: the Go runtime would die
	// of the memory limit meant for the program. So the limits and the exec
	// are raw system calls on what was prepared above.
	lim := s.Limits
	limits := []struct {
		res int
		v   uint64
	}{
		{syscall.RLIMIT_CPU, uint64((lim.CPU + time.Second - 1) / time.Second)},
		{syscall.RLIMIT_FSIZE, uint64(lim.FileSize)},
		{rlimitNPROC, uint64(s.Procs)},
		{syscall.RLIMIT_AS, uint64(lim.Memory)},
	}
	var rl [4]syscall.Rlimit
	failMsg := []byte("setrlimit failed: errno    \n")
	for i, l := range limits {
		if l.v == 0 {
			continue
		}
		rl[i] = syscall.Rlimit{Cur: l.v, Max: l.v}
		if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, 0, uintptr(l.res), uintptr(unsafe.Pointer(&rl[i])), 0, 0, 0); e != 0 {
			rawFail(failMsg, e)
		}
	}
	execMsg := []byte("execve failed: errno    \n")
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(pathp)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	rawFail(execMsg, e)
}

// rawFail reports on fd 3 and exits without touching the Go runtime: msg
// ends in four spaces and a newline, where the errno's digits go.
func rawFail(msg []byte, errno syscall.Errno) {
	n := uint(errno)
	for i := len(msg) - 2; i >= len(msg)-5 && n > 0; i-- {
		msg[i] = byte('0' + n%10)
		n /= 10
	}
	syscall.RawSyscall(syscall.SYS_WRITE, 3, uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)))
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, helperFailed, 0, 0)
}

// isolateFiles, in the run's new mount namespace, makes every mount
// read-only, gives /tmp, /var/tmp and /dev/shm a fresh tmpfs each, makes the
// run directory the one writable place, and mounts a /proc that shows only
// the run's processes.
func isolateFiles(dir string, strict bool) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	mounts, err := mountPoints()
	if err != nil {
		return err
	}
	for _, mp := range mounts {
		var st syscall.Statfs_t
		if syscall.Statfs(mp, &st) != nil {
			continue // gone or hidden
		}
		// A remount must repeat the flags it keeps (and in a user namespace may
		// not drop the locked ones).
		flags := uintptr(syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY) | keptFlags(st.Flags)
		if err := syscall.Mount("", mp, "", flags, ""); err != nil && mp == "/" {
			return fmt.Errorf("make / read-only: %w", err)
		}
	}
	for _, d := range scratch {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || strings.HasPrefix(dir+"/", d+"/") {
			continue
		}
		if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=16m,mode=1777"); err != nil && strict {
			return fmt.Errorf("mount a tmpfs on %s: %w", d, err)
		}
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the run directory: %w", err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make the run directory writable: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil && strict {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// our working directory was the directory under the mount we covered
	if err := syscall.Chdir(dir); err != nil {
		return fmt.Errorf("enter the run directory: %w", err)
	}
	return nil
}

// mountPoints lists the mount points of /proc/self/mountinfo.
func mountPoints() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read the mount table: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// keptFlags turns statfs flags into the mount flags a remount must repeat.
func keptFlags(st int64) uintptr {
	var f uintptr
	for _, m := range []struct{ st, ms uintptr }{
		{0x2, syscall.MS_NOSUID}, {0x4, syscall.MS_NODEV}, {0x8, syscall.MS_NOEXEC},
		{0x400, syscall.MS_NOATIME}, {0x800, syscall.MS_NODIRATIME}, {0x1000, syscall.MS_RELATIME},
	} {
		if uintptr(st)&m.st != 0 {
			f |= m.ms
		}
	}
	return f
}

const (
	rlimitNPROC        = 6
	prSetNoNewPrivs    = 38
	prCapBSetDrop      = 24
	prCapAmbient       = 47
	prCapAmbientClear  = 4
	prSetSecurebits    = 28
	secbitNoroot       = 1 << 0
	secbitNorootLocked = 1 << 1
)

func prctl(option, arg uintptr) error {
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, option, arg, 0, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// dropCapabilities leaves the program no capabilities: an empty bounding and
// ambient set, no inheritable ones, and uid 0 no longer grants any on exec.
func dropCapabilities() error {
	for c := uintptr(0); c < 64; c++ {
		if err := prctl(prCapBSetDrop, c); err != nil && err != syscall.EINVAL {
			return fmt.Errorf("bounding set, capability %d: %w", c, err)
		}
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientClear, 0, 0, 0, 0); e != 0 && e != syscall.EINVAL {
		return fmt.Errorf("ambient set: %w", e)
	}
	if err := prctl(prSetSecurebits, secbitNoroot|secbitNorootLocked); err != nil {
		return fmt.Errorf("securebits: %w", err)
	}
	// inheritable set to nothing (capget/capset, version 3: two 32-bit words)
	hdr := struct {
		version uint32
		pid     int32
	}{0x20080522, 0}
	var data [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capget: %w", e)
	}
	data[0].inheritable, data[1].inheritable = 0, 0
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}
