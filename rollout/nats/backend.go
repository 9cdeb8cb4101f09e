package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/remask/remask/rollout"
)

// Config is the trainer side of the nats backend.
type Config struct {
	Conn         ConnConfig
	AckWait      time.Duration // a work item unacknowledged this long goes to another worker (0 = 30s)
	StepTimeout  time.Duration // longest a step's rollout may take (0 = 30m)
	MaxStaleness int           // versions a worker's cached snapshot may lag the step's
	Version      string        // this remask's version; workers of another refuse the items
	Log          zerolog.Logger
}

// Backend is a rollout.Backend whose jobs are sampled by `remask worker`
// processes: it publishes each policy snapshot once to the object store,
// puts one work item per job (rollout.Jobs) on the work queue and assembles
// the results in prompt order. See the package documentation.
type Backend struct {
	cfg   Config
	pool  rollout.PoolConfig
	nc    *natsgo.Conn
	js    jetstream.JetStream
	work  jetstream.Stream
	cons  jetstream.Consumer
	obs   jetstream.ObjectStore
	run   string
	recv  jetstream.ConsumeContext
	inbox chan *Result
	// mangle, set by tests, changes a snapshot after its hash is taken: a
	// corrupt object store
	mangle func([]byte)

	mu        sync.Mutex // guards what follows: Metrics may be called from another goroutine
	call      uint64
	snap      *rollout.Snapshot
	ref       SnapshotRef
	published []SnapshotRef // in the bucket, oldest first
	step      int
	deadline  time.Time
	m         stepMetrics
}

// stepMetrics accumulate between two Metrics calls (one RL step).
type stepMetrics struct {
	items, redelivered, late, stale int
	workers                         map[string]bool
	snapBytes                       int64
	publish, sample, fetch          time.Duration
}

var _ rollout.Backend = (*Backend)(nil)

// New connects to the server, sets up the streams, consumer and bucket and
// subscribes to this run's results. pc is the pool configuration the local
// backend would use; its jobs are the work items.
func New(cfg Config, pc rollout.PoolConfig) (*Backend, error) {
	pc, err := pc.Resolved(1)
	if err != nil {
		return nil, err
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 30 * time.Minute
	}
	b := &Backend{cfg: cfg, pool: pc, inbox: make(chan *Result, 4096), step: -1}
	if b.run, err = newRunID(); err != nil {
		return nil, err
	}
	if cfg.Conn.Name == "" {
		cfg.Conn.Name = "remask-trainer-" + b.run
	}
	b.nc, b.js, err = Connect(cfg.Conn, func(ev string) { cfg.Log.Warn().Msg("rollout: " + ev) })
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Conn.timeout())
	defer cancel()
	if err := b.setup(ctx); err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("nats %s: %w", RedactURL(cfg.Conn.URL), err)
	}
	return b, nil
}

func newRunID() (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(r[:]), nil
}

func (b *Backend) setup(ctx context.Context) error {
	var err error
	if b.work, b.cons, err = Setup(ctx, b.js, b.cfg.AckWait); err != nil {
		return err
	}
	if b.obs, err = b.js.ObjectStore(ctx, Bucket); err != nil {
		return fmt.Errorf("object store %s: %w", Bucket, err)
	}
	oc, err := b.js.OrderedConsumer(ctx, ResultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{resultSubject(b.run)}})
	if err != nil {
		return fmt.Errorf("results of run %s: %w", b.run, err)
	}
	b.recv, err = oc.Consume(func(m jetstream.Msg) {
		r := new(Result)
		if err := json.Unmarshal(m.Data(), r); err != nil {
			b.cfg.Log.Warn().Err(err).Msg("rollout: dropped a malformed result")
			return
		}
		b.inbox <- r
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.cfg.Log.Debug().Err(err).Msg("rollout: results subscription")
	}))
	if err != nil {
		return fmt.Errorf("results of run %s: %w", b.run, err)
	}
	return nil
}

// Run is this trainer's run id: its subjects are remask.work.RUN and
// remask.results.RUN, its snapshots RUN-vVERSION.
func (b *Backend) Run() string { return b.run }

// Workers is 0: workers join and leave during the run (rollout/workers_seen
// counts them per step).
func (b *Backend) Workers() int { return 0 }

// Rollout is RolloutFrom with first 0.
func (b *Backend) Rollout(ctx context.Context, snap *rollout.Snapshot, step int, prompts [][]int) ([]rollout.Group, error) {
	return b.RolloutFrom(ctx, snap, step, 0, prompts)
}

// RolloutFrom samples prompts on the workers: the same jobs, streams and
// sampling code as rollout.Pool, so the same groups bit for bit. It fails
// (one line) when a worker reports an error, and when the step has run
// longer than the step timeout; cancelling ctx returns ctx's error.
func (b *Backend) RolloutFrom(ctx context.Context, snap *rollout.Snapshot, step, first int, prompts [][]int) ([]rollout.Group, error) {
	b.mu.Lock()
	if step != b.step || b.deadline.IsZero() {
		b.step, b.deadline = step, time.Now().Add(b.cfg.StepTimeout)
	}
	deadline := b.deadline
	b.call++
	call := b.call
	b.mu.Unlock()
	out := make([]rollout.Group, len(prompts))
	if len(prompts) == 0 {
		return out, nil
	}
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	timedOut := func(what string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("rollout step %d: %s within rollout.nats.step_timeout %s", step, what, b.cfg.StepTimeout)
	}
	ref, err := b.publishSnapshot(sctx, snap)
	if err != nil {
		if sctx.Err() != nil {
			return nil, timedOut("the policy snapshot was not stored (" + err.Error() + ")")
		}
		return nil, fmt.Errorf("rollout step %d: %w", step, err)
	}
	per := b.pool.PerJob
	los := rollout.Jobs(len(prompts), per)
	items := make([]*WorkItem, len(los))
	for i, lo := range los {
		hi := min(lo+per, len(prompts))
		items[i] = &WorkItem{Protocol: Protocol, Version: b.cfg.Version, Run: b.run, Call: call, Step: step, First: first, Lo: lo,
			Prompts: prompts[lo:hi], Group: b.pool.Group, Seed: b.pool.Seed, Options: b.pool.Options, Snapshot: ref,
			MaxStaleness: b.cfg.MaxStaleness, AckWaitMS: b.cfg.AckWait.Milliseconds()}
	}
	ok := false
	defer func() {
		if !ok { // leave no work behind for the workers
			b.purgeWork()
		}
	}()
	for _, it := range items {
		data, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("rollout step %d: work item: %w", step, err)
		}
		err = retry(sctx, func(c context.Context) error {
			_, err := b.js.Publish(c, workSubject(b.run), data, jetstream.WithMsgID(it.msgID()), jetstream.WithExpectStream(WorkStream))
			return err
		})
		if err != nil {
			if sctx.Err() != nil {
				return nil, timedOut("the work items were not queued (" + err.Error() + ")")
			}
			return nil, fmt.Errorf("rollout step %d: queue work item: %w", step, err)
		}
	}
	got := make([]bool, len(items))
	redelivered := make([]bool, len(items))
	workers := map[string]bool{}
	var sample, fetch time.Duration
	late, stale := 0, 0
	pending := len(items)
	quiet := time.NewTimer(b.cfg.AckWait + time.Second)
	defer quiet.Stop()
	for pending > 0 {
		select {
		case r := <-b.inbox:
			if r.Run != b.run || r.Call != call {
				late++ // a late duplicate of an earlier call
				continue
			}
			i := r.Lo / per
			if r.Lo%per != 0 || i < 0 || i >= len(items) {
				late++
				continue
			}
			if r.Delivered > 1 {
				redelivered[i] = true
			}
			if got[i] { // answered already: a duplicate, even if it is an error
				late++
				continue
			}
			if r.ErrKind != "" {
				hi := r.Lo + len(items[i].Prompts) - 1
				return nil, fmt.Errorf("rollout step %d prompts %d-%d: worker %s: %s", step, r.Lo, hi, r.Worker, r.Err)
			}
			gs, err := r.groups(items[i])
			if err != nil {
				return nil, fmt.Errorf("rollout step %d: worker %s sent a malformed result: %v", step, r.Worker, err)
			}
			copy(out[r.Lo:], gs)
			for _, g := range gs {
				if g.Version != snap.Version {
					stale++
				}
			}
			got[i] = true
			pending--
			workers[r.Worker] = true
			sample += time.Duration(r.SampleMS * float64(time.Millisecond))
			fetch += time.Duration(r.FetchMS * float64(time.Millisecond))
		case <-quiet.C:
			if len(workers) == 0 {
				b.cfg.Log.Warn().Int("step", step).Int("items", pending).Str("idle_workers", b.idleWorkers()).
					Msg("rollout: no results yet; are workers running? (remask worker --nats URL)")
			}
		case <-sctx.Done():
			return nil, timedOut(fmt.Sprintf("%d of %d work items were not answered (%d workers answered this call; idle workers waiting for work: %s)",
				pending, len(items), len(workers), b.idleWorkers()))
		}
	}
	ok = true
	b.mu.Lock()
	b.m.items += len(items)
	for _, r := range redelivered {
		if r {
			b.m.redelivered++
		}
	}
	b.m.late += late
	b.m.stale += stale
	if b.m.workers == nil {
		b.m.workers = map[string]bool{}
	}
	for w := range workers {
		b.m.workers[w] = true
	}
	b.m.sample += sample
	b.m.fetch += fetch
	b.mu.Unlock()
	return out, nil
}

// idleWorkers is the consumer's count of waiting pull requests (a worker
// thread with nothing to do holds one), or "unknown".
func (b *Backend) idleWorkers() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ci, err := b.cons.Info(ctx)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprint(ci.NumWaiting)
}

// publishSnapshot stores snap in the bucket unless it is the one stored
// last, and deletes the versions no worker may use any more.
func (b *Backend) publishSnapshot(ctx context.Context, snap *rollout.Snapshot) (SnapshotRef, error) {
	b.mu.Lock()
	if snap == b.snap {
		defer b.mu.Unlock()
		return b.ref, nil
	}
	b.mu.Unlock()
	t0 := time.Now()
	data, sum, err := EncodeSnapshot(snap.Params, snap.Version)
	if err != nil {
		return SnapshotRef{}, fmt.Errorf("encode snapshot: %w", err)
	}
	ref := SnapshotRef{Name: snapshotName(b.run, snap.Version), Version: snap.Version, SHA256: sum, Bytes: int64(len(data))}
	if b.mangle != nil {
		b.mangle(data)
	}
	if err := retry(ctx, func(c context.Context) error {
		_, err := b.obs.PutBytes(c, ref.Name, data)
		return err
	}); err != nil {
		return SnapshotRef{}, fmt.Errorf("store snapshot %s: %w", ref.Name, err)
	}
	took := time.Since(t0)
	b.mu.Lock()
	b.snap, b.ref = snap, ref
	b.m.snapBytes += ref.Bytes
	b.m.publish += took
	var keep, drop []SnapshotRef
	for _, p := range b.published {
		switch {
		case p.Name == ref.Name: // replaced by this put
		case p.Version < snap.Version-b.cfg.MaxStaleness || p.Version > snap.Version:
			drop = append(drop, p)
		default:
			keep = append(keep, p)
		}
	}
	b.published = append(keep, ref)
	b.mu.Unlock()
	for _, p := range drop {
		if err := b.obs.Delete(ctx, p.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			b.cfg.Log.Debug().Err(err).Str("snapshot", p.Name).Msg("rollout: delete old snapshot")
		}
	}
	b.cfg.Log.Debug().Str("snapshot", ref.Name).Int64("bytes", ref.Bytes).Dur("took", took).Msg("rollout: snapshot stored")
	return ref, nil
}

// Metrics are this backend's figures since the previous call:
// rollout/items (work items), rollout/redelivered (items a worker took and
// did not finish, given to another), rollout/late_results (duplicates and
// results of earlier calls, dropped), rollout/workers_seen,
// rollout/snapshot_bytes and rollout/snapshot_publish_s (storing the
// snapshot), rollout/worker_sample_s and rollout/worker_fetch_s (summed over
// the items), rollout/stale_groups (groups sampled with an older snapshot,
// max_staleness > 0).
func (b *Backend) Metrics() map[string]float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.m
	b.m = stepMetrics{}
	out := map[string]float64{
		"rollout/items": float64(m.items), "rollout/redelivered": float64(m.redelivered), "rollout/late_results": float64(m.late),
		"rollout/workers_seen": float64(len(m.workers)), "rollout/snapshot_bytes": float64(m.snapBytes),
		"rollout/snapshot_publish_s": m.publish.Seconds(), "rollout/worker_sample_s": m.sample.Seconds(), "rollout/worker_fetch_s": m.fetch.Seconds(),
	}
	if b.cfg.MaxStaleness > 0 {
		out["rollout/stale_groups"] = float64(m.stale)
	}
	return out
}

// WorkersSeen lists the workers that answered since the last Metrics call.
func (b *Backend) WorkersSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ws []string
	for w := range b.m.workers {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	return ws
}

// purgeWork removes this run's items that no worker has taken yet.
func (b *Backend) purgeWork() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.work.Purge(ctx, jetstream.WithPurgeSubject(workSubject(b.run))); err != nil {
		b.cfg.Log.Debug().Err(err).Msg("rollout: purge work items")
	}
}

// Close removes this run's queued items, results and snapshots from the
// server (a few seconds at most, even if the server is gone) and
// disconnects.
func (b *Backend) Close() error {
	if b.nc == nil {
		return nil
	}
	if b.recv != nil {
		b.recv.Stop()
	}
	b.purgeWork()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if rs, err := b.js.Stream(ctx, ResultStream); err == nil {
		_ = rs.Purge(ctx, jetstream.WithPurgeSubject(resultSubject(b.run)))
	}
	b.mu.Lock()
	published := b.published
	b.published = nil
	b.mu.Unlock()
	for _, p := range published {
		_ = b.obs.Delete(ctx, p.Name)
	}
	b.nc.Close()
	b.nc = nil
	return nil
}

// retry calls fn until it succeeds or ctx ends, backing off from 50 ms to
// 1 s between tries: the server may be restarting. Each try gets at most 5 s.
func retry(ctx context.Context, fn func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(c)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, natsgo.ErrMaxPayload) || errors.Is(err, natsgo.ErrConnectionClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}
