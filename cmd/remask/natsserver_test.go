package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad flags and unreachable or refusing servers: `remask worker`,
// `remask nats-server` and a train with rollout.backend nats each exit 1
// with one line, in bounded time, creating no run store.
func TestNATSCommandsBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	dir := t.TempDir()
	addr := freePort(t)
	srv := startCLI(t, []string{"REMASK_NATS_USER=remask", "REMASK_NATS_PASSWORD=right-pw"}, nil, "nats-server", "--listen", addr, "--dir", filepath.Join(dir, "js"))
	srv.waitFor(t, "nats-server ready", 30*time.Second)
	closed := freePort(t)
	rl := write(t, dir, "rl.yaml", `
run: {name: rl, dir: `+dir+`, seed: 7}
model: {preset: "", d: 16, layers: 1, heads: 2, ff: 24, max_len: 64}
data: {task: sudoku4x4, train: gen:50}
objective: unigrpo
rewards: [{name: sudoku_cells, weight: 1}]
rollout: {group: 2, prompts: 4, backend: nats, nats: {connect_timeout: 2s}}
train: {steps: 2}
`)
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"worker without a server", nil, []string{"worker"}, "--nats URL is required"},
		{"worker, negative threads", nil, []string{"worker", "--nats", "nats://" + addr, "--threads", "-1"}, "--threads -1"},
		{"worker, no cache", nil, []string{"worker", "--nats", "nats://" + addr, "--cache", "0"}, "--cache 0"},
		{"worker, zero connect timeout", nil, []string{"worker", "--nats", "nats://" + addr, "--connect-timeout", "0s"}, "--connect-timeout 0s"},
		{"worker, bad delay hook", []string{"REMASK_WORKER_DELAY=soon"}, []string{"worker", "--nats", "nats://" + addr}, "REMASK_WORKER_DELAY"},
		{"worker, wrong URL", nil, []string{"worker", "--nats", "nats://" + closed}, "cannot connect"},
		{"worker, wrong password", []string{"REMASK_NATS_USER=remask", "REMASK_NATS_PASSWORD=wrong-pw"}, []string{"worker", "--nats", "nats://" + addr}, "refused the credentials"},
		{"worker, no credentials", nil, []string{"worker", "--nats", "nats://" + addr}, "refused the credentials"},
		{"worker, missing creds file", nil, []string{"worker", "--nats", "nats://" + addr, "--creds", filepath.Join(dir, "none.creds")}, "creds file"},
		{"server open to the network without auth", nil, []string{"nats-server", "--listen", "0.0.0.0:4222", "--dir", dir}, "reachable from other machines"},
		{"server without a folder", nil, []string{"nats-server", "--listen", "127.0.0.1:0"}, "--dir is required"},
		{"server on a taken port", nil, []string{"nats-server", "--listen", addr, "--dir", filepath.Join(dir, "js2")}, "address already in use"},
		{"server with a bad address", nil, []string{"nats-server", "--listen", "localhost", "--dir", dir}, "want HOST:PORT"},
		{"train, wrong URL", nil, []string{"train", "-c", rl, "--set", "rollout.nats.url=nats://" + closed}, "cannot connect"},
		{"train, wrong password", []string{"REMASK_NATS_USER=remask", "REMASK_NATS_PASSWORD=wrong-pw"}, []string{"train", "-c", rl, "--set", "rollout.nats.url=nats://" + addr}, "refused the credentials"},
		{"train, password in the config", nil, []string{"train", "-c", rl, "--set", "rollout.nats.url=nats://" + addr, "--set", "rollout.nats.user=remask", "--set", "rollout.nats.password=wrong-pw"}, "refused the credentials"},
		{"train, bad URL", nil, []string{"train", "-c", rl, "--set", "rollout.nats.url=http://" + addr}, "field rollout.nats.url"},
	} {
		c2 := cli(c.args...)
		c2.Env = append(c2.Env, c.env...)
		t0 := time.Now()
		out, err := runWithin(c2, 30*time.Second)
		took := time.Since(t0)
		msg := strings.TrimSpace(string(out))
		if err == nil || strings.Contains(err.Error(), "hang") {
			t.Errorf("%s: %v\n%s", c.name, err, msg)
			continue
		}
		if strings.Count(msg, "\n") > 0 || !strings.HasPrefix(msg, "remask: ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: want one line with %q, got:\n%s", c.name, c.want, msg)
		}
		if strings.Contains(msg, "wrong-pw") || strings.Contains(msg, "right-pw") {
			t.Errorf("%s: the output shows a password: %s", c.name, msg)
		}
		if took > 10*time.Second {
			t.Errorf("%s: took %s", c.name, took)
		}
		t.Logf("%s (%s): %s", c.name, took.Round(time.Millisecond), msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "rl.db")); err == nil {
		t.Fatal("a failed nats run left a run store")
	}
	if strings.Contains(srv.output(), "right-pw") {
		t.Fatal("the server logged its password")
	}
}
