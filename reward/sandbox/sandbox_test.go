package sandbox

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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

func TestRunsAProgram(t *testing.T) {
	r2, err := Run(context.Background(), []string{"python3", "main.py"}, map[string][]byte{"main.py": []byte("print(input()[::-1])")}, []byte("abc\n"), DefaultLimits())
	if err != nil || !r2.OK() || strings.TrimSpace(string(r2.Stdout)) != "cba" {
		t.Fatalf("stdin: %+v %v", r2, err)
	}
}

func TestInfiniteLoopIsStopped(t *testing.T) {
	lim := DefaultLimits()
	lim.CPU, lim.Wall = time.Second, 3*time.Second
	start := time.Now()
	r := py(t, "while True: pass", lim)
	if r.OK() || time.Since(start) > 4*time.Second {
		t.Fatalf("loop: %+v after %v", r, time.Since(start))
	}
	// A loop that sleeps burns no CPU: the wall clock stops it.
	lim.Wall = time.Second
	start = time.Now()
	r = py(t, "import time\nwhile True: time.sleep(1)", lim)
	if !r.TimedOut || time.Since(start) > 3*time.Second {
		t.Fatalf("sleeper: %+v", r)
	}
}

func TestMemoryLimit(t *testing.T) {
	r := py(t, "x = bytearray(1 << 30)\nprint('allocated')", DefaultLimits())
	if r.OK() || strings.Contains(string(r.Stdout), "allocated") || !strings.Contains(string(r.Stderr), "MemoryError") {
		t.Fatalf("1 GB allocation: %+v", r)
	}
}

func TestFileSizeLimit(t *testing.T) {
	r := py(t, "f = open('big', 'wb')\nf.write(b'x' * (8 << 20))\nf.close()\nprint('wrote')", DefaultLimits())
	if r.OK() || strings.Contains(string(r.Stdout), "wrote") {
		t.Fatalf("8 MB file past a 1 MB limit: %+v", r)
	}
}

func TestForkBomb(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RLIMIT_NPROC counts the user's processes; without root the sandbox cannot switch to a dedicated user")
	}
	lim := DefaultLimits()
	lim.Wall = 3 * time.Second
	start := time.Now()
	r := py(t, "import os\nn = 0\nwhile True:\n    try:\n        if os.fork() == 0:\n            import time; time.sleep(30)\n        n += 1\n    except OSError:\n        print('stopped at', n); break", lim)
	if !strings.Contains(string(r.Stdout), "stopped at") || time.Since(start) > 5*time.Second {
		t.Fatalf("fork bomb: %+v", r)
	}
	// The whole process group is gone: no live process of the sandbox user is left.
	time.Sleep(300 * time.Millisecond)
	if n := processesOf(r.UID); n > 0 {
		t.Fatalf("%d sandbox processes outlived the run", n)
	}
}

func processesOf(uid int) int {
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
				zombie = true // killed, waiting for init to reap it
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

func TestNoWritesOutsideNoNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for the namespaces")
	}
	victim := "/tmp/remask-sandbox-escape-test"
	os.Remove(victim)
	r := py(t, "open('"+victim+"', 'w').write('x')\nprint('wrote /tmp')", DefaultLimits())
	if _, err := os.Stat(victim); err == nil {
		os.Remove(victim)
		t.Fatalf("the program wrote %s outside its directory: %+v", victim, r)
	}
	r = py(t, "open('/etc/remask-test', 'w')", DefaultLimits())
	if r.OK() {
		t.Fatalf("wrote into /etc: %+v", r)
	}
	r = py(t, "import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=2)\nprint('connected')", DefaultLimits())
	if r.OK() || strings.Contains(string(r.Stdout), "connected") {
		t.Fatalf("network: %+v", r)
	}
	if r.Isolation != "namespaces" {
		t.Fatalf("isolation %q", r.Isolation)
	}
}

func TestDirectoryRemoved(t *testing.T) {
	r := py(t, "import os\nprint(os.getcwd())", DefaultLimits())
	dir := strings.TrimSpace(string(r.Stdout))
	if !strings.Contains(dir, "remask-sandbox-") {
		t.Fatalf("cwd %q", dir)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s left behind", dir)
	}
}
