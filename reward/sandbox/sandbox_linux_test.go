package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestMain(m *testing.M) {
	MaybeChild()
	os.Exit(m.Run())
}

func py(t *testing.T, code string, lim Limits) Result {
	t.Helper()
	r, err := Run(context.Background(), []string{"python3", "main.py"}, map[string][]byte{"main.py": []byte(code)}, nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// isolated skips a test of namespaces where the kernel gives us none.
func isolated(t *testing.T) {
	t.Helper()
	if r := py(t, "pass", DefaultLimits()); r.Isolation == NotIsolated {
		t.Skip("no namespaces here (not root, user namespaces refused)")
	}
}

func TestRunsAProgram(t *testing.T) {
	r, err := Run(context.Background(), []string{"python3", "main.py"}, map[string][]byte{"main.py": []byte("print(input()[::-1])")}, []byte("abc\n"), DefaultLimits())
	if err != nil || !r.OK() || strings.TrimSpace(string(r.Stdout)) != "cba" {
		t.Fatalf("stdin: %+v %v", r, err)
	}
	if os.Geteuid() == 0 && (r.Isolation != IsolatedRoot || r.UID < 200000) {
		t.Fatalf("as root: isolation %q, uid %d", r.Isolation, r.UID)
	}
	r = py(t, "import sys; sys.exit(3)", DefaultLimits())
	if r.OK() || r.ExitCode != 3 {
		t.Fatalf("exit 3: %+v", r)
	}
}

// The helper's own failures are errors; a program's exit status never is,
// even one that pretends to be the helper failing.
func TestHelperFailureIsAnError(t *testing.T) {
	if _, err := Run(context.Background(), []string{"no-such-program-xyz"}, nil, nil, DefaultLimits()); err == nil || !strings.Contains(err.Error(), "no-such-program-xyz") {
		t.Fatalf("missing program: %v", err)
	}
	r, err := Run(context.Background(), []string{"sh", "-c", "echo 'sandbox: fake' >&2; exit 125"}, nil, nil, DefaultLimits())
	if err != nil || r.ExitCode != 125 {
		t.Fatalf("a program exiting 125: %+v %v", r, err)
	}
	if _, err := Run(context.Background(), nil, nil, nil, DefaultLimits()); err == nil {
		t.Fatal("empty command accepted")
	}
}

func TestInfiniteLoopIsStopped(t *testing.T) {
	lim := DefaultLimits()
	lim.CPU, lim.Wall = time.Second, 30*time.Second
	r := py(t, "while True: pass", lim)
	// the CPU limit ends it (SIGKILL at the hard limit), not the wall clock
	if r.OK() || r.TimedOut || !r.OutOfCPU || r.Signal != "killed" {
		t.Fatalf("busy loop: %+v", r)
	}
	// A loop that sleeps burns no CPU: the wall clock stops it.
	lim.Wall = time.Second
	r = py(t, "import time\nwhile True: time.sleep(1)", lim)
	if !r.TimedOut || r.OutOfCPU {
		t.Fatalf("sleeper: %+v", r)
	}
}

func TestContextCancelStopsTheRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	lim := DefaultLimits()
	lim.Wall = time.Minute
	r, err := Run(ctx, []string{"sleep", "20"}, nil, nil, lim)
	if err != nil || !r.TimedOut {
		t.Fatalf("cancelled: %+v %v", r, err)
	}
}

func TestMemoryLimit(t *testing.T) {
	r := py(t, "x = bytearray(1 << 30)\nprint('allocated')", DefaultLimits())
	if r.OK() || strings.Contains(string(r.Stdout), "allocated") || !strings.Contains(string(r.Stderr), "MemoryError") {
		t.Fatalf("1 GB allocation: %+v", r)
	}
	// and the limit leaves room for ordinary work
	r = py(t, "x = bytearray(64 << 20)\nprint(len(x))", DefaultLimits())
	if !r.OK() || strings.TrimSpace(string(r.Stdout)) != strconv.Itoa(64<<20) {
		t.Fatalf("64 MB allocation: %+v", r)
	}
}

func TestFileSizeLimit(t *testing.T) {
	r := py(t, "f = open('big', 'wb')\nf.write(b'x' * (8 << 20))\nf.close()\nprint('wrote')", DefaultLimits())
	if r.OK() || strings.Contains(string(r.Stdout), "wrote") {
		t.Fatalf("8 MB file past a 1 MB limit: %+v", r)
	}
	r = py(t, "open('small', 'wb').write(b'x' * 1000)\nprint(open('small', 'rb').read().count(b'x'))", DefaultLimits())
	if !r.OK() || strings.TrimSpace(string(r.Stdout)) != "1000" {
		t.Fatalf("1 kB file in the run directory: %+v", r)
	}
}

func TestForkBomb(t *testing.T) {
	isolated(t)
	lim := DefaultLimits()
	// generous: the process limit, not the clock, must stop the bomb, and a
	// loaded machine can take seconds to start Python and fork 32 times
	lim.Wall = time.Minute
	r := py(t, "import os\nn = 0\nwhile True:\n    try:\n        if os.fork() == 0:\n            import time; time.sleep(30)\n        n += 1\n    except OSError:\n        print('stopped at', n); break", lim)
	out := strings.TrimSpace(string(r.Stdout))
	if !strings.HasPrefix(out, "stopped at ") {
		t.Fatalf("fork bomb: %+v", r)
	}
	if n, _ := strconv.Atoi(strings.TrimPrefix(out, "stopped at ")); n >= lim.Procs {
		t.Fatalf("%d forks under a limit of %d processes", n, lim.Procs)
	}
	// Nothing of the run is left: its children slept 30 s.
	if r.Isolation == IsolatedRoot {
		deadline := time.Now().Add(20 * time.Second) // a bound on cleanup, generous for a loaded machine
		for liveProcessesOf(r.UID) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d sandbox processes outlived the run", liveProcessesOf(r.UID))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// A program that starts a detached child (new session, ignoring SIGTERM) and
// hangs: at the timeout the child dies too.
func TestTimeoutKillsEverything(t *testing.T) {
	isolated(t)
	lim := DefaultLimits()
	lim.Wall = 700 * time.Millisecond
	code := "import subprocess, time\n" +
		"subprocess.Popen(['sh', '-c', 'trap \"\" TERM; exec sleep 31'], start_new_session=True)\n" +
		"time.sleep(60)\n"
	r := py(t, code, lim)
	if !r.TimedOut {
		t.Fatalf("not timed out: %+v", r)
	}
	deadline := time.Now().Add(20 * time.Second) // a bound on cleanup, generous for a loaded machine
	for {
		n := 0
		if r.Isolation == IsolatedRoot {
			n = liveProcessesOf(r.UID)
		} else {
			n = processesWithArgs("sleep 31")
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes outlived the timeout", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNoWritesOutsideTheRunDirectory(t *testing.T) {
	isolated(t)
	home, _ := os.UserHomeDir()
	var victims []string
	for _, d := range []string{os.TempDir(), "/var/tmp", "/dev/shm", "/run/lock", home, "/etc", "/var/lib/remask-sandbox"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			victims = append(victims, filepath.Join(d, fmt.Sprintf("remask-escape-%d", time.Now().UnixNano())))
		}
	}
	var code strings.Builder
	code.WriteString("import os\nfor p in [")
	for _, v := range victims {
		code.WriteString(strconv.Quote(v) + ", ")
	}
	code.WriteString("]:\n    try:\n        open(p, 'w').write('x'); print('wrote', p)\n    except OSError as e:\n        print('refused', p, e.errno)\n")
	// its own directory and its private /tmp work
	code.WriteString("open('mine', 'w').write('ok'); print('own dir ok')\nimport tempfile\nwith tempfile.NamedTemporaryFile() as f: f.write(b'x'); print('private tmp ok')\n")
	r := py(t, code.String(), DefaultLimits())
	for _, v := range victims {
		if _, err := os.Stat(v); err == nil {
			os.Remove(v)
			t.Errorf("the program wrote %s", v)
		}
	}
	out := string(r.Stdout)
	if !strings.Contains(out, "own dir ok") || !strings.Contains(out, "private tmp ok") {
		t.Fatalf("%s\n%s", out, r.Stderr)
	}
	// Writes to the scratch places land in the run's private tmpfs (checked
	// above: nothing reached ours); everywhere else they are refused.
	for _, v := range victims {
		if !inScratch(v) && !strings.Contains(out, "refused "+v) {
			t.Errorf("writing %s was not refused:\n%s", v, out)
		}
	}
}

func TestNoNetwork(t *testing.T) {
	isolated(t)
	// a server on our loopback, which the program must not reach
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan bool, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- true
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	code := fmt.Sprintf("import socket\nfor addr in [('127.0.0.1', %d), ('1.1.1.1', 53)]:\n    try:\n        socket.create_connection(addr, timeout=1); print('connected', addr)\n    except OSError as e:\n        print('refused', addr, e)\n", port)
	r := py(t, code, DefaultLimits())
	if strings.Contains(string(r.Stdout), "connected") || !r.OK() {
		t.Fatalf("network: %+v\n%s", r, r.Stdout)
	}
	select {
	case <-accepted:
		t.Fatal("the program reached a server on the host's loopback")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSeesOnlyItsOwnProcesses(t *testing.T) {
	isolated(t)
	r := py(t, "import os\nprint(sum(1 for d in os.listdir('/proc') if d.isdigit()))", DefaultLimits())
	if n, err := strconv.Atoi(strings.TrimSpace(string(r.Stdout))); err != nil || n > 2 {
		t.Fatalf("/proc shows %q processes: %+v", r.Stdout, r)
	}
}

func TestDirectoryRemoved(t *testing.T) {
	r := py(t, "import os\nprint(os.getcwd())", DefaultLimits())
	dir := strings.TrimSpace(string(r.Stdout))
	if !strings.Contains(dir, "run-") {
		t.Fatalf("cwd %q", dir)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s left behind", dir)
	}
}

// TestUnprivileged runs this test binary again as the nobody user (when we
// are root and setpriv exists), where the sandbox must use a user namespace
// or say that it cannot isolate.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("REMASK_SANDBOX_UNPRIVILEGED") == "1" {
		unprivilegedChecks(t)
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and setpriv to become another user")
	}
	self, _ := os.Executable()
	dir, err := os.MkdirTemp("", "remask-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "sandbox.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	os.Mkdir(cache, 0o755)
	os.Chown(cache, 65534, 65534)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run=^TestUnprivileged$", "-test.v")
	cmd.Env = []string{"REMASK_SANDBOX_UNPRIVILEGED=1", "XDG_CACHE_HOME=" + cache, "HOME=" + cache, "PATH=/usr/local/bin:/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err != nil {
		t.Fatalf("as nobody: %v", err)
	}
}

func unprivilegedChecks(t *testing.T) {
	var warned strings.Builder
	sb := New(DefaultLimits(), zerolog.New(&warned))
	r, err := sb.Run(context.Background(), []string{"python3", "-c", "import os; print(os.getuid())"}, nil, nil)
	if err != nil || !r.OK() {
		t.Fatalf("%+v %v", r, err)
	}
	t.Logf("isolation as uid %d: %s", os.Geteuid(), r.Isolation)
	switch r.Isolation {
	case IsolatedUserNS:
		TestNoNetwork(t)
		TestNoWritesOutsideTheRunDirectory(t)
		TestForkBomb(t)
		// the program has no capabilities, even as root of its namespace
		r, _ := sb.Run(context.Background(), []string{"python3", "-c", "print(open('/proc/self/status').read())"}, nil, nil)
		for _, line := range strings.Split(string(r.Stdout), "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "Cap") && f[0] != "CapBnd:" && strings.Trim(f[1], "0") != "" {
				t.Errorf("the program holds capabilities: %s", line)
			}
		}
	case NotIsolated:
		if !strings.Contains(warned.String(), "user namespaces") {
			t.Errorf("no warning logged: %q", warned.String())
		}
	default:
		t.Fatalf("isolation %q as an ordinary user", r.Isolation)
	}
	TestInfiniteLoopIsStopped(t)
	TestMemoryLimit(t)
	TestDirectoryRemoved(t)
	// Where user namespaces are refused: no isolation, but the limits hold,
	// the process limit counting from the processes we already have.
	plain := New(DefaultLimits(), zerolog.Nop())
	plain.noUserNS.Store(true)
	r, err = plain.Run(context.Background(), []string{"python3", "-c", "import os\nn = 0\ntry:\n    while n < 100:\n        if os.fork() == 0: os._exit(0)\n        n += 1\nexcept OSError: pass\nprint(n)\nx = bytearray(1 << 30)"}, nil, nil)
	if err != nil || r.Isolation != NotIsolated || r.OK() || !strings.Contains(string(r.Stderr), "MemoryError") {
		t.Fatalf("not isolated: %+v %v", r, err)
	}
}

func inScratch(p string) bool {
	for _, d := range scratch {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// liveProcessesOf counts a user's processes that are not zombies.
func liveProcessesOf(uid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		zombie, mine := false, false
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && f[0] == "State:" && f[1] == "Z" {
				zombie = true
			}
			if len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				mine = true
			}
		}
		if mine && !zombie {
			n++
		}
	}
	return n
}

// processesWithArgs counts processes whose command line contains s.
func processesWithArgs(s string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			n++
		}
	}
	return n
}

// BenchmarkRun is the cost of one sandboxed run of a trivial Python program.
func BenchmarkRun(b *testing.B) {
	sb := New(DefaultLimits(), zerolog.Nop())
	for i := 0; i < b.N; i++ {
		if r, err := sb.Run(context.Background(), []string{"python3", "-c", "pass"}, nil, nil); err != nil || !r.OK() {
			b.Fatalf("%+v %v", r, err)
		}
	}
}
