package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/remask/remask/configs"
)

// Errors a caller can test with errors.Is.
var (
	ErrNotRunStore  = errors.New("not a remask run store")
	ErrCorrupt      = errors.New("run store is corrupt")
	ErrChecksum     = errors.New("checksum mismatch")
	ErrNoCheckpoint = errors.New("no checkpoint")
	ErrExists       = errors.New("run store already exists")
	ErrInUse        = errors.New("run store is in use by another process")
)

const (
	magic         = "remask-run-store"
	formatVersion = "1"
	lockTimeout   = time.Second
)

var (
	bMeta    = []byte("meta")
	bCkpt    = []byte("ckpt")
	bMetrics = []byte("metrics")
	bSamples = []byte("samples")
)

// Meta describes the run.
type Meta struct {
	ConfigYAML string            `json:"config_yaml"`
	Seed       int64             `json:"seed"`
	Version    string            `json:"version"`
	Created    time.Time         `json:"created"`
	Vocab      []string          `json:"vocab"`
	Extra      map[string]string `json:"extra,omitempty"`
}

// Tensor is a named float32 array.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Checkpoint is everything a run needs to continue from a step.
type Checkpoint struct {
	Step      int
	Time      time.Time
	Weights   []Tensor
	Optim     []Tensor
	OptimStep int
	RNG       []byte
	Cursor    []byte
	Metrics   map[string]float64
}

// Sample is one prompt and completion kept for inspection.
type Sample struct {
	Prompt     string             `json:"prompt"`
	Completion string             `json:"completion"`
	Reward     float64            `json:"reward"`
	Components map[string]float64 `json:"components,omitempty"`
	Failures   map[string]string  `json:"failures,omitempty"` // reward component -> why it failed
	Details    map[string]any     `json:"details,omitempty"`  // reward component -> what it reported
	Trace      []int              `json:"trace,omitempty"`
}

// MetricsRow is the scalars logged at one step.
type MetricsRow struct {
	Step   int
	Values map[string]float64
}

// Store is an open run store.
type Store struct {
	db       *bolt.DB
	path     string
	snapshot string // the temporary copy read instead of path, removed on Close
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close releases the file.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.snapshot != "" {
		os.Remove(s.snapshot)
	}
	return err
}

func stepKey(step int) []byte { return []byte(fmt.Sprintf("%010d", step)) }

// guard turns a panic inside bbolt into an ErrCorrupt error: bbolt panics on
// some corrupt pages, and reads a page past the end of a truncated file
// through its mmap, which faults (SIGBUS); the caller enables
// debug.SetPanicOnFault so that the fault becomes a panic here.
func guard(path string, err *error, oldFault bool) {
	debug.SetPanicOnFault(oldFault)
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %w (%v)", path, ErrCorrupt, r)
	}
}

func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	defer guard(s.path, &err, debug.SetPanicOnFault(true))
	return s.db.View(fn)
}

func (s *Store) update(fn func(tx *bolt.Tx) error) (err error) {
	defer guard(s.path, &err, debug.SetPanicOnFault(true))
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("write run store %s: %w", s.path, err)
	}
	return nil
}

// Create makes a new run store at path, creating its directory.
func Create(path string, m Meta) (*Store, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrExists)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create run store %s: %w", path, err)
	}
	// Build the store under a temporary name and rename it into place once its
	// meta is committed: a crash during Create leaves no half-made store that
	// a later --resume would trip over.
	tmp := path + ".creating"
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("create run store %s: %w", path, renamedErr{err, tmp, path})
	}
	s := &Store{db: db, path: path}
	metaJSON, _ := json.Marshal(m) // plain data always marshals
	err = s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bMeta)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bCkpt, bMetrics, bSamples} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := b.Put([]byte("magic"), []byte(magic)); err != nil {
			return err
		}
		if err := b.Put([]byte("format"), []byte(formatVersion)); err != nil {
			return err
		}
		return b.Put([]byte("meta"), metaJSON)
	})
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		db.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create run store %s: %w", path, renamedErr{err, tmp, path})
	}
	return s, nil
}

// renamedErr shows an error about the temporary file a store was built in
// under the store's own name: the temporary file is gone by the time anyone
// reads the message (errors.Is still sees the cause, e.g. ENOSPC).
type renamedErr struct {
	err      error
	from, to string
}

func (e renamedErr) Error() string { return strings.ReplaceAll(e.err.Error(), e.from, e.to) }
func (e renamedErr) Unwrap() error { return e.err }

// Open opens an existing run store for writing (a resumed run).
func Open(path string) (*Store, error) { return open(path, false) }

// OpenReadOnly opens an existing run store for reading; several readers may
// share it. While a run writes the store, it reads a copy of the store's last
// committed state instead (consistent, and no risk to the run: the file is
// only read).
func OpenReadOnly(path string) (*Store, error) { return open(path, true) }

func open(path string, readOnly bool) (*Store, error) {
	st, err := openFile(path, readOnly)
	if readOnly && errors.Is(err, ErrInUse) {
		return openSnapshot(path)
	}
	return st, err
}

func openFile(path string, readOnly bool) (s *Store, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open run store: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory: %w", path, ErrNotRunStore)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%s is empty: %w", path, ErrNotRunStore)
	}
	// bbolt trusts its pages; check them before it maps the file.
	// A reader does not wait for a writer: it reads a snapshot instead.
	wait := lockTimeout
	if readOnly {
		wait = 0
	}
	if err := checkFile(path, wait); err != nil {
		return nil, err
	}
	defer guard(path, &err, debug.SetPanicOnFault(true))
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrNotRunStore, err)
	}
	s = &Store{db: db, path: path}
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bMeta)
		if b == nil || string(b.Get([]byte("magic"))) != magic {
			return fmt.Errorf("%s: %w (a bbolt file without remask's meta bucket)", path, ErrNotRunStore)
		}
		if f := string(b.Get([]byte("format"))); f != formatVersion {
			return fmt.Errorf("%s: run store format %q, this remask reads %q", path, f, formatVersion)
		}
		for _, name := range [][]byte{bCkpt, bMetrics, bSamples} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%s: %w (bucket %s missing)", path, ErrCorrupt, name)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Meta returns the run's description.
func (s *Store) Meta() (Meta, error) {
	var m Meta
	err := s.view(func(tx *bolt.Tx) error {
		if err := json.Unmarshal(tx.Bucket(bMeta).Get([]byte("meta")), &m); err != nil {
			return fmt.Errorf("%s: meta: %w (%v)", s.path, ErrCorrupt, err)
		}
		return nil
	})
	return m, err
}

// ConfigChange records a resume that ran with a config other than the one
// stored: the fields that changed and the checkpoint it resumed from.
type ConfigChange struct {
	Time    time.Time        `json:"time"`
	Step    int              `json:"step"`
	Changes []configs.Change `json:"changes"`
	// Accepted is set when fields that define the run changed, allowed by
	// the user (remask train --accept-changes): from Step on, the run is not
	// the one it started as.
	Accepted bool `json:"accepted,omitempty"`
}

var keyConfigHistory = []byte("config_history")

// RecordConfigChange makes configYAML the run's config and appends c to its
// config history, in one transaction.
func (s *Store) RecordConfigChange(configYAML string, c ConfigChange) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bMeta)
		var m Meta
		if err := json.Unmarshal(b.Get([]byte("meta")), &m); err != nil {
			return fmt.Errorf("%s: meta: %w (%v)", s.path, ErrCorrupt, err)
		}
		m.ConfigYAML = configYAML
		var hist []ConfigChange
		if raw := b.Get(keyConfigHistory); raw != nil {
			if err := json.Unmarshal(raw, &hist); err != nil {
				return fmt.Errorf("%s: config history: %w (%v)", s.path, ErrCorrupt, err)
			}
		}
		hist = append(hist, c)
		metaJSON, _ := json.Marshal(m) // plain data always marshals
		histJSON, _ := json.Marshal(hist)
		if err := b.Put([]byte("meta"), metaJSON); err != nil {
			return err
		}
		return b.Put(keyConfigHistory, histJSON)
	})
}

// ConfigHistory lists the config changes of resumed runs, oldest first.
func (s *Store) ConfigHistory() ([]ConfigChange, error) {
	var hist []ConfigChange
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bMeta).Get(keyConfigHistory)
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, &hist); err != nil {
			return fmt.Errorf("%s: config history: %w (%v)", s.path, ErrCorrupt, err)
		}
		return nil
	})
	return hist, err
}

// tensor records: "RMT1", dtype code, ndim, dims, crc32c, raw little-endian bytes.
const (
	recMagic   = "RMT1"
	dtypeF32   = 1
	maxDims    = 8
	headerSize = 4 + 1 + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeTensor(t Tensor) ([]byte, error) {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor %s: negative dimension in %v", t.Name, t.Shape)
		}
		n *= d
	}
	if n != len(t.Data) || len(t.Shape) > maxDims {
		return nil, fmt.Errorf("tensor %s: shape %v does not hold %d values", t.Name, t.Shape, len(t.Data))
	}
	buf := make([]byte, 0, headerSize+4*len(t.Shape)+4+4*n)
	buf = append(buf, recMagic...)
	buf = append(buf, dtypeF32, byte(len(t.Shape)))
	for _, d := range t.Shape {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(d))
	}
	raw := make([]byte, 4*n)
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(raw, castagnoli))
	return append(buf, raw...), nil
}

func decodeTensor(name string, b []byte) (Tensor, error) {
	t := Tensor{Name: name}
	if len(b) < headerSize || string(b[:4]) != recMagic {
		return t, fmt.Errorf("tensor %s: %w (bad record header)", name, ErrCorrupt)
	}
	if b[4] != dtypeF32 {
		return t, fmt.Errorf("tensor %s: dtype code %d, this remask reads float32 only", name, b[4])
	}
	nd := int(b[5])
	if nd > maxDims || len(b) < headerSize+4*nd+4 {
		return t, fmt.Errorf("tensor %s: %w (record too short)", name, ErrCorrupt)
	}
	n := 1
	for i := 0; i < nd; i++ {
		d := int(binary.LittleEndian.Uint32(b[headerSize+4*i:]))
		t.Shape = append(t.Shape, d)
		n *= d
		if n > len(b) {
			return t, fmt.Errorf("tensor %s: %w (%w: shape %v larger than its record)", name, ErrChecksum, ErrCorrupt, t.Shape)
		}
	}
	off := headerSize + 4*nd
	sum := binary.LittleEndian.Uint32(b[off:])
	raw := b[off+4:]
	if len(raw) != 4*n {
		return t, fmt.Errorf("tensor %s: %w (%w: shape %v wants %d bytes, record has %d)", name, ErrChecksum, ErrCorrupt, t.Shape, 4*n, len(raw))
	}
	if crc32.Checksum(raw, castagnoli) != sum {
		return t, fmt.Errorf("tensor %s: %w", name, ErrChecksum)
	}
	t.Data = make([]float32, n)
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return t, nil
}

// ckptInfo is the non-tensor part of a checkpoint.
type ckptInfo struct {
	Step      int                `json:"step"`
	Time      time.Time          `json:"time"`
	OptimStep int                `json:"optim_step"`
	RNG       []byte             `json:"rng"`
	Cursor    []byte             `json:"cursor"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Weights   []string           `json:"weights"`
	Optim     []string           `json:"optim"`
}

// Save writes a checkpoint in one transaction, replacing one of the same step.
func (s *Store) Save(c *Checkpoint) error {
	info := ckptInfo{Step: c.Step, Time: c.Time, OptimStep: c.OptimStep, RNG: c.RNG, Cursor: c.Cursor, Metrics: finite(c.Metrics)}
	recs := map[string][]byte{}
	for _, group := range []struct {
		prefix string
		ts     []Tensor
		names  *[]string
	}{{"w/", c.Weights, &info.Weights}, {"o/", c.Optim, &info.Optim}} {
		for _, t := range group.ts {
			rec, err := encodeTensor(t)
			if err != nil {
				return fmt.Errorf("save checkpoint %d: %w", c.Step, err)
			}
			if _, dup := recs[group.prefix+t.Name]; dup {
				return fmt.Errorf("save checkpoint %d: tensor %s appears twice", c.Step, t.Name)
			}
			recs[group.prefix+t.Name] = rec
			*group.names = append(*group.names, t.Name)
		}
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("save checkpoint %d: %w", c.Step, err)
	}
	return s.update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bCkpt)
		key := stepKey(c.Step)
		if root.Bucket(key) != nil {
			if err := root.DeleteBucket(key); err != nil {
				return err
			}
		}
		b, err := root.CreateBucket(key)
		if err != nil {
			return err
		}
		for k, v := range recs {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return b.Put([]byte("info"), infoJSON)
	})
}

// finite drops NaN and Inf, which JSON cannot hold.
func finite(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// Load reads the checkpoint of a step and verifies every tensor.
func (s *Store) Load(step int) (*Checkpoint, error) {
	var c *Checkpoint
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCkpt).Bucket(stepKey(step))
		if b == nil {
			return fmt.Errorf("%s step %d: %w", s.path, step, ErrNoCheckpoint)
		}
		var info ckptInfo
		if err := json.Unmarshal(b.Get([]byte("info")), &info); err != nil {
			return fmt.Errorf("%s step %d: %w (info: %v)", s.path, step, ErrCorrupt, err)
		}
		c = &Checkpoint{Step: info.Step, Time: info.Time, OptimStep: info.OptimStep, RNG: info.RNG, Cursor: info.Cursor, Metrics: info.Metrics}
		for _, group := range []struct {
			prefix string
			names  []string
			into   *[]Tensor
		}{{"w/", info.Weights, &c.Weights}, {"o/", info.Optim, &c.Optim}} {
			for _, name := range group.names {
				rec := b.Get([]byte(group.prefix + name))
				if rec == nil {
					return fmt.Errorf("%s step %d: %w (tensor %s missing)", s.path, step, ErrCorrupt, name)
				}
				t, err := decodeTensor(name, rec)
				if err != nil {
					return fmt.Errorf("%s step %d: %w", s.path, step, err)
				}
				*group.into = append(*group.into, t)
			}
		}
		return nil
	})
	return c, err
}

// Steps lists the checkpointed steps in ascending order.
func (s *Store) Steps() ([]int, error) {
	var steps []int
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bCkpt).ForEachBucket(func(k []byte) error {
			n, err := strconv.Atoi(string(k))
			if err != nil {
				return fmt.Errorf("%s: %w (checkpoint key %q)", s.path, ErrCorrupt, k)
			}
			steps = append(steps, n)
			return nil
		})
	})
	sort.Ints(steps)
	return steps, err
}

// Latest loads the last checkpoint.
func (s *Store) Latest() (*Checkpoint, error) {
	steps, err := s.Steps()
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("%s: %w", s.path, ErrNoCheckpoint)
	}
	return s.Load(steps[len(steps)-1])
}

// Delete removes a checkpoint.
func (s *Store) Delete(step int) error {
	return s.update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bCkpt).DeleteBucket(stepKey(step))
		if errors.Is(err, bolt.ErrBucketNotFound) {
			return fmt.Errorf("step %d: %w", step, ErrNoCheckpoint)
		}
		return err
	})
}

// Retain keeps the last keepLast checkpoints and every keepEvery-th step
// (0 = no such rule) and deletes the rest. With both 0 it keeps everything.
func (s *Store) Retain(keepLast, keepEvery int) error {
	if keepLast <= 0 && keepEvery <= 0 {
		return nil
	}
	steps, err := s.Steps()
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		for i, st := range steps {
			last := keepLast > 0 && i >= len(steps)-keepLast
			every := keepEvery > 0 && st%keepEvery == 0
			if !last && !every {
				if err := tx.Bucket(bCkpt).DeleteBucket(stepKey(st)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// LogMetrics records the scalars of a step, replacing earlier ones.
func (s *Store) LogMetrics(step int, m map[string]float64) error {
	b, err := json.Marshal(finite(m))
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMetrics).Put(stepKey(step), b) })
}

// Metrics returns every logged row in step order.
func (s *Store) Metrics() ([]MetricsRow, error) {
	var rows []MetricsRow
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bMetrics).ForEach(func(k, v []byte) error {
			step, err := strconv.Atoi(string(k))
			row := MetricsRow{Step: step}
			if err == nil {
				err = json.Unmarshal(v, &row.Values)
			}
			if err != nil {
				return fmt.Errorf("%s: %w (metrics row %q: %v)", s.path, ErrCorrupt, k, err)
			}
			rows = append(rows, row)
			return nil
		})
	})
	return rows, err
}

// TruncateMetricsAfter drops rows and samples logged after step (a resumed
// run logs them again).
func (s *Store) TruncateMetricsAfter(step int) error {
	return s.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bMetrics, bSamples} {
			c := tx.Bucket(name).Cursor()
			for k, _ := c.Seek(stepKey(step + 1)); k != nil; k, _ = c.Next() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// AddSamples stores the samples of a step, replacing earlier ones.
func (s *Store) AddSamples(step int, ss []Sample) error {
	for i := range ss {
		ss[i].Components = finite(ss[i].Components)
		if math.IsNaN(ss[i].Reward) || math.IsInf(ss[i].Reward, 0) {
			ss[i].Reward = 0
		}
		// a plugin's details are whatever it reported; one that JSON cannot
		// hold (a NaN from a Go reward) must not lose the step's samples
		if ss[i].Details != nil {
			if _, err := json.Marshal(ss[i].Details); err != nil {
				ss[i].Details = map[string]any{"error": "details not storable: " + err.Error()}
			}
		}
	}
	b, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bSamples).Put(stepKey(step), b) })
}

// Samples returns the samples of a step.
func (s *Store) Samples(step int) ([]Sample, error) {
	var ss []Sample
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bSamples).Get(stepKey(step))
		if v == nil {
			return fmt.Errorf("%s: no samples at step %d", s.path, step)
		}
		if err := json.Unmarshal(v, &ss); err != nil {
			return fmt.Errorf("%s: %w (samples at step %d: %v)", s.path, ErrCorrupt, step, err)
		}
		return nil
	})
	return ss, err
}

// SampleSteps lists the steps that have samples.
func (s *Store) SampleSteps() ([]int, error) {
	var steps []int
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSamples).ForEach(func(k, _ []byte) error {
			n, err := strconv.Atoi(string(k))
			if err != nil {
				return fmt.Errorf("%s: %w (samples key %q)", s.path, ErrCorrupt, k)
			}
			steps = append(steps, n)
			return nil
		})
	})
	return steps, err
}

// ParseRef splits "RUN.db" or "RUN.db:STEP".
func ParseRef(ref string) (path string, step int, hasStep bool, err error) {
	if ref == "" {
		return "", 0, false, fmt.Errorf("empty run reference, want RUN.db[:STEP]")
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 {
		return ref, 0, false, nil
	}
	n, err := strconv.Atoi(ref[i+1:])
	if err != nil || n < 0 {
		return "", 0, false, fmt.Errorf("run reference %q: %q is not a step number", ref, ref[i+1:])
	}
	return ref[:i], n, true, nil
}

// Compact rewrites the store at path into a fresh file without the free pages
// that deleted checkpoints left, then replaces the original. It holds the
// store's write lock throughout, so it refuses a store that a run (or another
// compact) has open, and it first verifies every checkpoint's checksums, so
// that it never carries a damaged checkpoint into a file that looks new. It
// returns the sizes before and after.
func Compact(path string) (before, after int64, err error) {
	src, err := Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	steps, err := src.Steps()
	if err != nil {
		return 0, 0, err
	}
	for _, step := range steps {
		if _, err := src.Load(step); err != nil {
			return 0, 0, fmt.Errorf("compact %s: step %d: %w; nothing was changed (delete that checkpoint, or export the good ones, first)", path, step, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".compact-*")
	if err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	dst, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	err = func() (err error) {
		defer guard(path, &err, debug.SetPanicOnFault(true))
		return bolt.Compact(dst, src.db, 64<<20)
	}()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	nfi, err := os.Stat(tmp)
	if err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	return fi.Size(), nfi.Size(), nil
}

// OpenRef opens the store of "RUN.db[:STEP]" read-only and loads that
// checkpoint, the latest when the reference names no step. The caller closes
// the store.
func OpenRef(ref string) (*Store, *Checkpoint, error) {
	path, step, hasStep, err := ParseRef(ref)
	if err != nil {
		return nil, nil, err
	}
	st, err := OpenReadOnly(path)
	if err != nil {
		return nil, nil, err
	}
	var ck *Checkpoint
	if hasStep {
		ck, err = st.Load(step)
	} else {
		ck, err = st.Latest()
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, ck, nil
}
