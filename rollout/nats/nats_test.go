package nats

import (
	"context"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

const testVersion = "test-1"

func testParams(t *testing.T, seed uint64) *model.Params {
	t.Helper()
	p, err := model.New(model.Config{Vocab: 12, D: 16, Layers: 2, Heads: 2, FF: 24, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 4)) // far from ties
	for _, tn := range p.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	return p
}

func testPool() rollout.PoolConfig {
	o := rollout.Options{GenLength: 8, Steps: 8, Remasking: "low_confidence", Temperature: 1, MaskID: 1, EOSID: 3}
	return rollout.PoolConfig{Workers: 2, Group: 4, Seed: 11, PerJob: 2, Options: o}
}

func testPrompts(n int) [][]int {
	var ps [][]int
	for i := 0; i < n; i++ {
		ps = append(ps, []int{2, 4 + i%8, 5 + i%7, 6}[:2+i%3])
	}
	return ps
}

func startServer(t *testing.T, cfg ServerConfig) (*server.Server, string) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Dir == "" && !cfg.NoJetStream {
		cfg.Dir = t.TempDir()
	}
	s, err := StartServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s, s.ClientURL()
}

// startWorker runs a worker until the test ends.
func startWorker(t *testing.T, cfg WorkerConfig) *Worker {
	t.Helper()
	if cfg.Version == "" {
		cfg.Version = testVersion
	}
	cfg.Conn.ConnectTimeout = 2 * time.Second
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); w.Close() })
	return w
}

func newBackend(t *testing.T, url string, cfg Config, pc rollout.PoolConfig) *Backend {
	t.Helper()
	cfg.Conn.URL = url
	if cfg.Conn.ConnectTimeout == 0 {
		cfg.Conn.ConnectTimeout = 2 * time.Second
	}
	if cfg.Version == "" {
		cfg.Version = testVersion
	}
	b, err := New(cfg, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func poolGroups(t *testing.T, snap *rollout.Snapshot, step, first int, prompts [][]int) []rollout.Group {
	t.Helper()
	pool, err := rollout.NewPool(testPool())
	if err != nil {
		t.Fatal(err)
	}
	gs, err := pool.RolloutFrom(context.Background(), snap, step, first, prompts)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

func TestSnapshotRoundTrip(t *testing.T) {
	p := testParams(t, 1)
	b, sum, err := EncodeSnapshot(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	q, v, err := DecodeSnapshot(b, sum)
	if err != nil || v != 7 || !reflect.DeepEqual(q.Tensors, p.Tensors) || q.Config != p.Config {
		t.Fatalf("round trip: version %d, %v", v, err)
	}
	b[len(b)-1] ^= 1
	if _, _, err := DecodeSnapshot(b, sum); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("flipped bit: %v", err)
	}
}

// The workers' groups are the pool's, bit for bit, for any worker count,
// call numbering and step; each snapshot is stored once.
func TestRolloutMatchesPool(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	_, url := startServer(t, ServerConfig{})
	b := newBackend(t, url, Config{AckWait: 5 * time.Second, StepTimeout: time.Minute}, testPool())
	startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}, Threads: 2})
	startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}, Threads: 1})
	prompts := testPrompts(9) // 5 jobs of 2 prompts, the last of 1
	for step := 0; step < 3; step++ {
		snap := rollout.NewSnapshot(testParams(t, uint64(step+1)), step)
		for _, first := range []int{0, 9} { // a dynamic-sampling refill numbers on
			got, err := b.RolloutFrom(context.Background(), snap, step, first, prompts)
			if err != nil {
				t.Fatal(err)
			}
			if want := poolGroups(t, snap, step, first, prompts); !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d first %d: nats groups differ from the pool's", step, first)
			}
		}
		m := b.Metrics()
		if m["rollout/items"] != 10 || m["rollout/workers_seen"] < 1 || m["rollout/snapshot_bytes"] <= 0 || m["rollout/redelivered"] != 0 {
			t.Fatalf("step %d metrics %v", step, m)
		}
		if enc, _, _ := EncodeSnapshot(snap.Params, step); m["rollout/snapshot_bytes"] != float64(len(enc)) {
			t.Fatalf("snapshot bytes %v, want %d (stored once a step)", m["rollout/snapshot_bytes"], len(enc))
		}
	}
	if got, err := b.Rollout(context.Background(), rollout.NewSnapshot(testParams(t, 1), 3), 3, nil); err != nil || len(got) != 0 {
		t.Fatalf("no prompts: %v %v", got, err)
	}
}

// A worker that dies holding an item (its connection gone, no ack) leaves
// it to another worker after the ack wait; the rollout is unchanged.
func TestDeadWorkersItemIsRedelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	_, url := startServer(t, ServerConfig{})
	b := newBackend(t, url, Config{AckWait: 500 * time.Millisecond, StepTimeout: time.Minute}, testPool())
	doomed, err := NewWorker(WorkerConfig{Conn: ConnConfig{URL: url, ConnectTimeout: 2 * time.Second}, Version: testVersion, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go doomed.Run(ctx)
	snap := rollout.NewSnapshot(testParams(t, 3), 0)
	prompts := testPrompts(4)
	type out struct {
		gs  []rollout.Group
		err error
	}
	done := make(chan out, 1)
	go func() {
		gs, err := b.Rollout(context.Background(), snap, 0, prompts)
		done <- out{gs, err}
	}()
	// once the doomed worker holds an item, it dies; a healthy one joins
	deadline := time.Now().Add(10 * time.Second)
	for {
		ci, err := b.cons.Info(context.Background())
		if err == nil && ci.NumAckPending > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the doomed worker never took an item")
		}
		time.Sleep(10 * time.Millisecond)
	}
	doomed.Close()
	startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}})
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !reflect.DeepEqual(r.gs, poolGroups(t, snap, 0, 0, prompts)) {
		t.Fatal("groups differ from the pool's after a redelivery")
	}
	if m := b.Metrics(); m["rollout/redelivered"] < 1 {
		t.Fatalf("no redelivery counted: %v", m)
	}
}

// With max_staleness 1 a worker holding the previous version samples with
// it (the groups say so); with 0 it fetches the step's.
func TestMaxStaleness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	_, url := startServer(t, ServerConfig{})
	startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}})
	prompts := testPrompts(2)
	for _, k := range []int{0, 1} {
		b := newBackend(t, url, Config{AckWait: 5 * time.Second, StepTimeout: time.Minute, MaxStaleness: k}, testPool())
		for step := 0; step < 2; step++ {
			snap := rollout.NewSnapshot(testParams(t, uint64(10+10*k+step)), step)
			gs, err := b.Rollout(context.Background(), snap, step, prompts)
			if err != nil {
				t.Fatal(err)
			}
			wantVersion := step
			if k == 1 {
				wantVersion = 0
			}
			if gs[0].Version != wantVersion {
				t.Fatalf("max_staleness %d step %d: sampled with version %d, want %d", k, step, gs[0].Version, wantVersion)
			}
			if k == 0 && !reflect.DeepEqual(gs, poolGroups(t, snap, step, 0, prompts)) {
				t.Fatalf("max_staleness 0 step %d: groups differ from the pool's", step)
			}
			if m := b.Metrics(); k == 1 && step == 1 && m["rollout/stale_groups"] != 2 {
				t.Fatalf("stale groups not counted: %v", m)
			}
		}
	}
}

// oneLine checks that err is a single line naming want, within limit.
func oneLine(t *testing.T, what string, took, limit time.Duration, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if took > limit {
		t.Errorf("%s: took %s, more than %s", what, took, limit)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: error of several lines: %q", what, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q lacks %q", what, err, w)
		}
	}
	t.Logf("%s (%s): %v", what, took.Round(time.Millisecond), err)
}

// Every way of pointing a trainer or a worker at the wrong place ends in
// one line within the connect timeout.
func TestConnectErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS servers")
	}
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := free.Addr().String()
	free.Close()
	// a port that accepts connections and never answers
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, authURL := startServer(t, ServerConfig{User: "remask", Password: "s3cret-pw"})
	_, plainURL := startServer(t, ServerConfig{NoJetStream: true})
	pc := testPool()
	for _, c := range []struct {
		name string
		conn ConnConfig
		want []string
	}{
		{"wrong URL", ConnConfig{URL: "nats://" + closedPort}, []string{"cannot connect", closedPort}},
		{"silent server", ConnConfig{URL: "nats://" + mute.Addr().String()}, []string{"no answer within"}},
		{"wrong password", ConnConfig{URL: authURL, User: "remask", Password: "wrong-pw"}, []string{"refused the credentials"}},
		{"no credentials", ConnConfig{URL: authURL}, []string{"refused the credentials"}},
		{"no JetStream", ConnConfig{URL: plainURL}, []string{"has no JetStream", "nats-server -js"}},
		{"missing creds file", ConnConfig{URL: authURL, Creds: "/nonexistent.creds"}, []string{"creds file"}},
		{"missing CA file", ConnConfig{URL: authURL, CAFile: "/nonexistent.pem"}, []string{"TLS CA file"}},
		{"password in the URL", ConnConfig{URL: "nats://remask:wrong-pw@" + strings.TrimPrefix(authURL, "nats://")}, []string{"refused the credentials", "(redacted)@"}},
	} {
		c.conn.ConnectTimeout = time.Second
		t0 := time.Now()
		_, err := New(Config{Conn: c.conn, Version: testVersion}, pc)
		oneLine(t, "trainer, "+c.name, time.Since(t0), 3*time.Second, err, c.want...)
		if err != nil && strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
		t0 = time.Now()
		_, err = NewWorker(WorkerConfig{Conn: c.conn, Version: testVersion})
		oneLine(t, "worker, "+c.name, time.Since(t0), 3*time.Second, err, c.want...)
	}
	// the right password works
	b := newBackend(t, authURL, Config{Conn: ConnConfig{User: "remask", Password: "s3cret-pw"}}, pc)
	b.Close()
	// from the environment
	t.Setenv(EnvUser, "remask")
	t.Setenv(EnvPassword, "s3cret-pw")
	b = newBackend(t, authURL, Config{Conn: ConnConfig{}.WithEnv()}, pc)
	b.Close()
}

// A worker of another remask version, a corrupt snapshot and a fleet with
// no worker each end the step in one line, in bounded time.
func TestRolloutErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS servers")
	}
	snap := rollout.NewSnapshot(testParams(t, 5), 0)
	prompts := testPrompts(3)
	t.Run("no workers", func(t *testing.T) {
		_, url := startServer(t, ServerConfig{})
		b := newBackend(t, url, Config{AckWait: 200 * time.Millisecond, StepTimeout: time.Second}, testPool())
		t0 := time.Now()
		_, err := b.Rollout(context.Background(), snap, 0, prompts)
		oneLine(t, "no workers", time.Since(t0), 5*time.Second, err, "2 of 2 work items were not answered", "rollout.nats.step_timeout 1s")
	})
	t.Run("version mismatch", func(t *testing.T) {
		_, url := startServer(t, ServerConfig{})
		startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}, Version: "0.0.0-old"})
		b := newBackend(t, url, Config{AckWait: time.Second, StepTimeout: time.Minute}, testPool())
		t0 := time.Now()
		_, err := b.Rollout(context.Background(), snap, 0, prompts)
		oneLine(t, "version mismatch", time.Since(t0), 10*time.Second, err, "runs remask 0.0.0-old", "the trainer remask "+testVersion, "run workers of the trainer's version")
	})
	t.Run("corrupt snapshot", func(t *testing.T) {
		_, url := startServer(t, ServerConfig{})
		startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}})
		b := newBackend(t, url, Config{AckWait: time.Second, StepTimeout: time.Minute}, testPool())
		b.mangle = func(d []byte) { d[len(d)/2] ^= 0x40 }
		t0 := time.Now()
		_, err := b.Rollout(context.Background(), snap, 0, prompts)
		oneLine(t, "corrupt snapshot", time.Since(t0), 10*time.Second, err, "snapshot", "corrupt")
	})
	t.Run("cancelled", func(t *testing.T) {
		_, url := startServer(t, ServerConfig{})
		b := newBackend(t, url, Config{AckWait: time.Second, StepTimeout: time.Minute}, testPool())
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := b.Rollout(ctx, snap, 0, prompts); err != context.DeadlineExceeded {
			t.Fatalf("cancelled rollout: %v, want the context's error", err)
		}
	})
}

func TestServerRefusesOpenListenWithoutAuth(t *testing.T) {
	for _, c := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{Listen: "0.0.0.0:0", Dir: t.TempDir()}, "reachable from other machines"},
		{ServerConfig{Listen: "127.0.0.1", Dir: t.TempDir()}, "want HOST:PORT"},
		{ServerConfig{Listen: "127.0.0.1:0"}, "--dir is required"},
		{ServerConfig{Listen: "127.0.0.1:0", Dir: t.TempDir(), User: "u"}, "needs a password"},
		{ServerConfig{Listen: "127.0.0.1:0", Dir: t.TempDir(), Password: "p"}, "needs a user"},
	} {
		c.cfg.Log = zerolog.Nop()
		if _, err := StartServer(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if !IsLoopback("localhost:4222") || !IsLoopback("[::1]:4222") || IsLoopback("10.0.0.1:4222") {
		t.Fatal("IsLoopback")
	}
}

// A server restarted mid-rollout with its file store (same port, same
// folder) costs time, not the rollout: clients reconnect, queued items and
// snapshots are on disk, items in flight are redelivered.
func TestServerRestartMidRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a NATS server")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	s, url := startServer(t, ServerConfig{Listen: listen, Dir: dir})
	b := newBackend(t, url, Config{AckWait: time.Second, StepTimeout: time.Minute}, testPool())
	startWorker(t, WorkerConfig{Conn: ConnConfig{URL: url}, Delay: 300 * time.Millisecond})
	prompts := testPrompts(8)
	for step := 0; step < 3; step++ {
		snap := rollout.NewSnapshot(testParams(t, uint64(20+step)), step)
		type out struct {
			gs  []rollout.Group
			err error
		}
		done := make(chan out, 1)
		go func() {
			gs, err := b.Rollout(context.Background(), snap, step, prompts)
			done <- out{gs, err}
		}()
		if step == 1 {
			time.Sleep(400 * time.Millisecond) // an item in flight, others queued
			s.Shutdown()
			s.WaitForShutdown()
			time.Sleep(300 * time.Millisecond)
			s, _ = startServer(t, ServerConfig{Listen: listen, Dir: dir})
		}
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("step %d: %v", step, r.err)
			}
			if !reflect.DeepEqual(r.gs, poolGroups(t, snap, step, 0, prompts)) {
				t.Fatalf("step %d: groups differ from the pool's", step)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("step %d: no end 30 s after the restart", step)
		}
		t.Logf("step %d: %v", step, b.Metrics())
	}
}

// Setup creates what is missing and keeps what exists (an operator's
// replicas or limits); a trainer's ack wait is set on the consumer, a
// worker's Setup leaves it.
func TestSetupKeepsWhatExists(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	_, url := startServer(t, ServerConfig{})
	nc, js, err := Connect(ConnConfig{URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: ResultStream, Subjects: []string{ResultSubject}, MaxAge: 5 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ack, want time.Duration
	}{{0, 30 * time.Second}, {2 * time.Second, 2 * time.Second}, {0, 2 * time.Second}, {7 * time.Second, 7 * time.Second}} {
		_, cons, err := Setup(ctx, js, c.ack)
		if err != nil {
			t.Fatal(err)
		}
		ci, err := cons.Info(ctx)
		if err != nil || ci.Config.AckWait != c.want {
			t.Fatalf("Setup(ack wait %s): consumer ack wait %v (%v), want %s", c.ack, ci.Config.AckWait, err, c.want)
		}
	}
	rs, err := js.Stream(ctx, ResultStream)
	if err != nil || rs.CachedInfo().Config.MaxAge != 5*time.Hour {
		t.Fatalf("the existing results stream was changed: %v", err)
	}
	if _, err := js.ObjectStore(ctx, Bucket); err != nil {
		t.Fatal(err)
	}
}
