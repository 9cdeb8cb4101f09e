package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

// WorkerConfig configures a worker process (`remask worker`).
type WorkerConfig struct {
	Conn    ConnConfig
	Threads int    // items sampled at once, each on one core (0 = 1)
	Version string // this remask's version; items of another trainer version are refused
	ID      string // names the worker in results and metrics ("" = HOST/PID)
	Log     zerolog.Logger
	// Cache is how many snapshots the worker keeps (0 = 2): the current
	// one, and the previous for an item of the step before.
	Cache int
	// Delay is a test hook: every item waits this long before sampling,
	// reporting progress meanwhile, so a test can kill a worker mid-item.
	Delay time.Duration
}

// Worker pulls work items, samples them with the snapshot each names and
// publishes the results. Any number of workers, on any machines, can serve
// one trainer; they can join and leave at any time.
type Worker struct {
	cfg   WorkerConfig
	nc    *natsgo.Conn
	js    jetstream.JetStream
	items atomic.Int64

	mu       sync.Mutex
	cons     jetstream.Consumer
	obs      jetstream.ObjectStore
	cache    []*cachedSnapshot // oldest first
	fetching map[string]chan struct{}
	refused  map[string]bool // runs whose version mismatch was logged
}

type cachedSnapshot struct {
	sha, run string
	version  int
	params   *model.Params
}

// snapshotError is a snapshot that no retry will fix: missing or corrupt.
type snapshotError struct{ msg string }

func (e *snapshotError) Error() string { return e.msg }

// NewWorker connects and makes sure the streams, the consumer and the
// bucket exist. A wrong URL, wrong credentials or a server without JetStream
// fail here, within the connect timeout.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Cache <= 0 {
		cfg.Cache = 2
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if cfg.Conn.Name == "" {
		cfg.Conn.Name = "remask-worker-" + cfg.ID
	}
	w := &Worker{cfg: cfg, fetching: map[string]chan struct{}{}, refused: map[string]bool{}}
	var err error
	w.nc, w.js, err = Connect(cfg.Conn, func(ev string) { cfg.Log.Warn().Msg(ev) })
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Conn.timeout())
	defer cancel()
	if _, w.cons, err = Setup(ctx, w.js, 0); err != nil {
		w.nc.Close()
		return nil, fmt.Errorf("nats %s: %w", RedactURL(cfg.Conn.URL), err)
	}
	return w, nil
}

// Items is how many items this worker has finished.
func (w *Worker) Items() int64 { return w.items.Load() }

// Close disconnects.
func (w *Worker) Close() {
	if w.nc != nil {
		w.nc.Close()
	}
}

// Run serves items on cfg.Threads threads until ctx ends. An item being
// sampled then is handed back to the queue (another worker takes it at
// once) rather than finished.
func (w *Worker) Run(ctx context.Context) error {
	w.cfg.Log.Info().Str("server", RedactURL(w.cfg.Conn.URL)).Int("threads", w.cfg.Threads).Str("id", w.cfg.ID).Str("version", w.cfg.Version).Msg("worker ready")
	var wg sync.WaitGroup
	for t := 0; t < w.cfg.Threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, fmt.Sprintf("%s/%d", w.cfg.ID, t))
		}()
	}
	wg.Wait()
	w.cfg.Log.Info().Int64("items", w.Items()).Msg("worker stopped")
	return nil
}

func (w *Worker) consumer() jetstream.Consumer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cons
}

// loop is one thread: pull an item, serve it, again. Errors of the server
// (restarting, unreachable) are waited out with a back-off.
func (w *Worker) loop(ctx context.Context, id string) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := w.consumer().Next(jetstream.FetchContext(fctx))
		cancel()
		if err == nil {
			wait = 100 * time.Millisecond
			w.handle(ctx, msg, id)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, natsgo.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		w.cfg.Log.Debug().Err(err).Msg("pull")
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrStreamNotFound) {
			w.resetup(ctx) // a server that lost its state: set it up again
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (w *Worker) resetup(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, w.cfg.Conn.timeout())
	defer cancel()
	if _, cons, err := Setup(c, w.js, 0); err == nil {
		w.mu.Lock()
		w.cons, w.obs = cons, nil
		w.mu.Unlock()
	}
}

// handle serves one item: checks, snapshot, sampling, result, ack. The item
// is acknowledged only once its result is stored, so a worker that dies
// anywhere before leaves it to be redelivered after the ack wait.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg, id string) {
	delivered := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	it := new(WorkItem)
	if err := json.Unmarshal(msg.Data(), it); err != nil || it.Run == "" {
		w.cfg.Log.Error().Str("subject", msg.Subject()).Msg("dropped a work item that is not remask's")
		_ = msg.TermWithReason("unreadable work item")
		return
	}
	res := &Result{Run: it.Run, Call: it.Call, Step: it.Step, Lo: it.Lo, Worker: id, Delivered: delivered}
	log := w.cfg.Log.With().Str("run", it.Run).Int("step", it.Step).Int("lo", it.Lo).Int("prompts", len(it.Prompts)).Uint64("delivery", delivered).Logger()
	if it.Protocol != Protocol || it.Version != w.cfg.Version {
		res.ErrKind = ErrVersion
		res.Err = fmt.Sprintf("it runs remask %s (protocol %d), the trainer remask %s (protocol %d): run workers of the trainer's version",
			w.cfg.Version, Protocol, it.Version, it.Protocol)
		w.mu.Lock()
		first := !w.refused[it.Run]
		w.refused[it.Run] = true
		w.mu.Unlock()
		if first {
			log.Error().Msgf("refusing the items of trainer run %s: this worker runs remask %s (protocol %d), the trainer remask %s (protocol %d)",
				it.Run, w.cfg.Version, Protocol, it.Version, it.Protocol)
		}
		_ = w.reply(ctx, it, res)
		_ = msg.NakWithDelay(time.Second) // a worker of the right version may take it
		return
	}
	every := time.Duration(it.AckWaitMS) * time.Millisecond / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	stop := heartbeat(msg, max(every, 20*time.Millisecond))
	defer stop()
	log.Debug().Msg("work item")
	if w.cfg.Delay > 0 {
		select {
		case <-ctx.Done():
			stop()
			_ = msg.Nak()
			return
		case <-time.After(w.cfg.Delay):
		}
	}
	fail := func(kind string, err error) {
		res.ErrKind, res.Err = kind, err.Error()
		log.Error().Str("kind", kind).Msg(err.Error())
		_ = w.reply(ctx, it, res)
		stop()
		_ = msg.TermWithReason(kind)
	}
	params, version, fetched, err := w.snapshot(ctx, it)
	res.FetchMS = ms(fetched)
	if err != nil {
		var se *snapshotError
		if errors.As(err, &se) {
			fail(ErrSnapshot, err)
			return
		}
		log.Warn().Err(err).Msg("snapshot fetch failed; handing the item back")
		stop()
		_ = msg.NakWithDelay(500 * time.Millisecond)
		return
	}
	if err := checkItem(it, params.Config); err != nil {
		fail(ErrItem, err)
		return
	}
	t0 := time.Now()
	type sampled struct {
		gs  []rollout.Group
		err error
	}
	done := make(chan sampled, 1)
	go func() {
		gs, err := sampleJob(params, version, it)
		done <- sampled{gs, err}
	}()
	var s sampled
	select {
	case s = <-done:
	case <-ctx.Done(): // shutting down: hand the item back now
		stop()
		_ = msg.Nak()
		return
	}
	res.SampleMS = ms(time.Since(t0))
	if s.err != nil {
		fail(ErrSample, s.err)
		return
	}
	res.Version, res.Groups = version, toWire(s.gs)
	if err := w.reply(ctx, it, res); err != nil {
		log.Warn().Err(err).Msg("could not store the result; handing the item back")
		stop()
		_ = msg.Nak()
		return
	}
	stop()
	if err := msg.Ack(); err != nil { // the item will come again; the trainer drops the duplicate
		log.Debug().Err(err).Msg("ack")
	}
	w.items.Add(1)
	log.Debug().Float64("sample_ms", res.SampleMS).Float64("fetch_ms", res.FetchMS).Msg("item done")
}

// sampleJob runs rollout.SampleJob on one core; a panic is an error.
func sampleJob(p *model.Params, version int, it *WorkItem) (gs []rollout.Group, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sampling panicked: %v", r)
		}
	}()
	inf := model.NewInference(p)
	inf.Threads = 1
	return rollout.SampleJob(inf, version, it.Seed, it.Group, it.Options, it.Step, it.First, it.Lo, it.Prompts)
}

// checkItem refuses what would crash or mislead the sampler.
func checkItem(it *WorkItem, c model.Config) error {
	if it.Group < 1 || len(it.Prompts) == 0 {
		return fmt.Errorf("work item with group %d and %d prompts", it.Group, len(it.Prompts))
	}
	if err := it.Options.Validate(); err != nil {
		return err
	}
	for i, p := range it.Prompts {
		if len(p)+it.Options.GenLength > c.MaxLen {
			return fmt.Errorf("prompt %d: %d tokens and %d to generate exceed the model's max_len %d", it.Lo+i, len(p), it.Options.GenLength, c.MaxLen)
		}
		for _, t := range p {
			if t < 0 || t >= c.Vocab {
				return fmt.Errorf("prompt %d: token %d outside the vocabulary of %d", it.Lo+i, t, c.Vocab)
			}
		}
	}
	return nil
}

// heartbeat tells the server every period that the item is in progress, so
// that only a dead worker's item waits out the ack wait.
func heartbeat(msg jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// reply stores a result on the results stream, retrying through a server
// restart for up to two minutes.
func (w *Worker) reply(ctx context.Context, it *WorkItem, res *Result) error {
	data, err := json.Marshal(res)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return retry(ctx, func(c context.Context) error {
		_, err := w.js.Publish(c, resultSubject(it.Run), data, jetstream.WithExpectStream(ResultStream))
		return err
	})
}

// snapshot returns the weights an item names: from the cache (by content
// hash; with max_staleness, a recent enough version of the same run), else
// fetched once however many threads want it, hash-checked and cached.
func (w *Worker) snapshot(ctx context.Context, it *WorkItem) (*model.Params, int, time.Duration, error) {
	ref := it.Snapshot
	for {
		w.mu.Lock()
		if c := w.lookup(it); c != nil {
			w.mu.Unlock()
			return c.params, c.version, 0, nil
		}
		if ch, ok := w.fetching[ref.SHA256]; ok {
			w.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, 0, 0, ctx.Err()
			}
		}
		ch := make(chan struct{})
		w.fetching[ref.SHA256] = ch
		w.mu.Unlock()
		t0 := time.Now()
		p, err := w.fetch(ctx, ref)
		w.mu.Lock()
		delete(w.fetching, ref.SHA256)
		if err == nil {
			w.cache = append(w.cache, &cachedSnapshot{sha: ref.SHA256, run: it.Run, version: ref.Version, params: p})
			if len(w.cache) > w.cfg.Cache {
				w.cache = w.cache[len(w.cache)-w.cfg.Cache:]
			}
		}
		w.mu.Unlock()
		close(ch)
		if err != nil {
			return nil, 0, 0, err
		}
		return p, ref.Version, time.Since(t0), nil
	}
}

// lookup finds a cached snapshot an item may use (w.mu held): the one it
// names, else, with max_staleness k > 0, the newest of its run at most k
// versions older.
func (w *Worker) lookup(it *WorkItem) *cachedSnapshot {
	var best *cachedSnapshot
	for _, c := range w.cache {
		if c.sha == it.Snapshot.SHA256 {
			return c
		}
		if it.MaxStaleness > 0 && c.run == it.Run && c.version <= it.Snapshot.Version && it.Snapshot.Version-c.version <= it.MaxStaleness {
			if best == nil || c.version > best.version {
				best = c
			}
		}
	}
	return best
}

// fetch reads a snapshot from the bucket and checks its content hash.
func (w *Worker) fetch(ctx context.Context, ref SnapshotRef) (*model.Params, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w.mu.Lock()
	obs := w.obs
	w.mu.Unlock()
	if obs == nil {
		var err error
		if obs, err = w.js.ObjectStore(ctx, Bucket); err != nil {
			return nil, fmt.Errorf("object store %s: %w", Bucket, err)
		}
		w.mu.Lock()
		w.obs = obs
		w.mu.Unlock()
	}
	data, err := getObject(ctx, obs, ref)
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return nil, &snapshotError{fmt.Sprintf("snapshot %s is not in bucket %s: the trainer has moved past it, or the server lost it", ref.Name, Bucket)}
	case errors.Is(err, jetstream.ErrDigestMismatch):
		return nil, &snapshotError{fmt.Sprintf("snapshot %s: the server's copy fails its digest check: the object store is corrupt", ref.Name)}
	case err != nil:
		return nil, fmt.Errorf("snapshot %s: %w", ref.Name, err)
	}
	p, version, err := DecodeSnapshot(data, ref.SHA256)
	if err != nil {
		return nil, &snapshotError{fmt.Sprintf("snapshot %s (%d bytes): %v", ref.Name, len(data), err)}
	}
	if version != ref.Version {
		return nil, &snapshotError{fmt.Sprintf("snapshot %s holds version %d, the item names %d", ref.Name, version, ref.Version)}
	}
	return p, nil
}

// getObject reads an object whose size the item gives into one buffer of
// that size (GetBytes grows a buffer by doubling: twice the copying), then
// reads on to the end so that the client checks the object's digest.
func getObject(ctx context.Context, obs jetstream.ObjectStore, ref SnapshotRef) ([]byte, error) {
	r, err := obs.Get(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if ref.Bytes < 0 || ref.Bytes > 1<<36 {
		return nil, fmt.Errorf("snapshot %s: size %d", ref.Name, ref.Bytes)
	}
	data := make([]byte, ref.Bytes)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &snapshotError{fmt.Sprintf("snapshot %s: the stored object is shorter than the %d bytes the trainer published: corrupt", ref.Name, ref.Bytes)}
		}
		return nil, err
	}
	var one [1]byte
	switch n, err := r.Read(one[:]); {
	case n > 0:
		return nil, &snapshotError{fmt.Sprintf("snapshot %s: the stored object is longer than the %d bytes the trainer published: corrupt", ref.Name, ref.Bytes)}
	case err != nil && !errors.Is(err, io.EOF):
		return nil, err
	}
	return data, nil
}
