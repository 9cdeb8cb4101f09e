package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runs", "a.db")
	s, err := Create(p, Meta{ConfigYAML: "run: {seed: 3}\n", Seed: 3, Version: "test", Vocab: []string{"<pad>", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func sampleCheckpoint(step int) *Checkpoint {
	negZero := float32(math.Copysign(0, -1))
	return &Checkpoint{
		Step: step, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), OptimStep: step,
		Weights: []Tensor{
			{Name: "w", Shape: []int{2, 3}, Data: []float32{1, -2.5, negZero, float32(math.NaN()), float32(math.Inf(1)), 1e-40}},
			// NaNs with payloads and sign bits must come back bit for bit.
			{Name: "g", Shape: []int{4}, Data: []float32{0.5, 7, math.Float32frombits(0x7fc0_1234), math.Float32frombits(0xffa0_0001)}},
		},
		Optim:   []Tensor{{Name: "adam.m/w", Shape: []int{2, 3}, Data: make([]float32, 6)}},
		RNG:     []byte("rng"),
		Cursor:  []byte(`{"epoch":1,"pos":2}`),
		Metrics: map[string]float64{"loss": 0.25, "bad": math.NaN()},
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s, p := newStore(t)
	want := sampleCheckpoint(10)
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(sampleCheckpoint(20)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := OpenReadOnly(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load(10)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want.Weights {
		if got.Weights[i].Name != w.Name || !reflect.DeepEqual(got.Weights[i].Shape, w.Shape) || !sameBits(got.Weights[i].Data, w.Data) {
			t.Fatalf("tensor %s: %+v", w.Name, got.Weights[i])
		}
	}
	if got.OptimStep != 10 || string(got.Cursor) != string(want.Cursor) || string(got.RNG) != "rng" || got.Metrics["loss"] != 0.25 || !got.Time.Equal(want.Time) {
		t.Fatalf("checkpoint fields: %+v", got)
	}
	if _, ok := got.Metrics["bad"]; ok {
		t.Fatal("NaN metric stored")
	}
	latest, err := s.Latest()
	if err != nil || latest.Step != 20 {
		t.Fatalf("latest: %v %v", latest, err)
	}
	m, err := s.Meta()
	if err != nil || m.Seed != 3 || m.Vocab[1] != "a" {
		t.Fatalf("meta %+v %v", m, err)
	}
	if err := s.Save(sampleCheckpoint(30)); err == nil {
		t.Fatal("read-only store accepted a write")
	}
}

func TestChecksumDetectsCorruption(t *testing.T) {
	s, p := newStore(t)
	if err := s.Save(sampleCheckpoint(5)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Flip one data byte of tensor w behind the store's back.
	db, err := bolt.Open(p, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCkpt).Bucket(stepKey(5))
		rec := append([]byte(nil), b.Get([]byte("w/w"))...)
		rec[len(rec)-3] ^= 0x40
		return b.Put([]byte("w/w"), rec)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = OpenReadOnly(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Load(5); !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupted tensor: %v, want ErrChecksum", err)
	}
}

func TestOpenRejectsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o644)
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("this is not a database at all, just text that goes on for a while"), 0o644)
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	for _, p := range []string{empty, junk, foreign, dir} {
		if _, err := Open(p); !errors.Is(err, ErrNotRunStore) {
			t.Errorf("%s: %v, want ErrNotRunStore", p, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("missing file opened")
	}
}

// A run store cut short at any length gives an error or a readable store,
// never a panic.
func TestTruncatedStore(t *testing.T) {
	s, p := newStore(t)
	for step := 1; step <= 3; step++ {
		s.Save(sampleCheckpoint(step))
		s.LogMetrics(step, map[string]float64{"loss": 1})
	}
	s.Close()
	full, _ := os.ReadFile(p)
	// bbolt grows the file ahead of use; the pages in use end at the
	// high-water mark of the newer meta (meta field at +40 after the page
	// header). A cut below it loses pages and must be refused; a cut in the
	// slack above it loses nothing and must read back whole.
	ps, _, _ := activeRoot(t, full)
	le := binary.LittleEndian
	hwm := le.Uint64(full[16+40:])
	if le.Uint64(full[ps+16+48:]) > le.Uint64(full[16+48:]) {
		hwm = le.Uint64(full[ps+16+40:])
	}
	used := int(hwm * ps)
	cuts := []int{1, 100, 4096, 4096 + 17, used / 2, used - int(ps), used - 1, used, (used + len(full)) / 2, len(full) - 1}
	for _, cut := range cuts {
		if cut <= 0 || cut >= len(full) {
			continue
		}
		tp := filepath.Join(t.TempDir(), "cut.db")
		os.WriteFile(tp, full[:cut], 0o644)
		err := readAll(tp)
		switch {
		case cut < used && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotRunStore):
			t.Errorf("cut at %d of %d used bytes: %v, want ErrCorrupt or ErrNotRunStore", cut, used, err)
		case cut >= used && err != nil:
			t.Errorf("cut at %d, above the %d used bytes: %v", cut, used, err)
		}
	}
}

// readAll opens a store and reads everything in it, returning the first error.
func readAll(p string) error {
	s, err := OpenReadOnly(p)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Meta(); err != nil {
		return err
	}
	steps, err := s.Steps()
	if err != nil {
		return err
	}
	for _, st := range steps {
		if _, err := s.Load(st); err != nil {
			return err
		}
	}
	_, err = s.Metrics()
	return err
}

func TestInUse(t *testing.T) {
	s, p := newStore(t)
	defer s.Close()
	if _, err := Open(p); !errors.Is(err, ErrInUse) {
		t.Fatalf("second writer: %v, want ErrInUse", err)
	}
	if err := s.Save(sampleCheckpoint(3)); err != nil {
		t.Fatal(err)
	}
	var warned []string
	OnWarning = func(m string) { warned = append(warned, m) }
	defer func() { OnWarning = func(string) {} }()
	r, err := OpenReadOnly(p)
	if err != nil {
		t.Fatalf("reader beside a writer: %v, want a snapshot", err)
	}
	ck, err := r.Latest()
	if err != nil || ck.Step != 3 || len(warned) != 1 || !strings.Contains(warned[0], "being written by a run") {
		t.Fatalf("snapshot: latest %v, %v; warnings %q", ck, err, warned)
	}
	snap := r.snapshot
	r.Close()
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Fatalf("snapshot copy %s left behind: %v", snap, err)
	}
	if _, err := Create(p, Meta{}); !errors.Is(err, ErrExists) {
		t.Fatalf("create over existing: %v", err)
	}
}

func TestMetricsSamplesRetain(t *testing.T) {
	s, _ := newStore(t)
	defer s.Close()
	for step := 1; step <= 10; step++ {
		if err := s.Save(sampleCheckpoint(step)); err != nil {
			t.Fatal(err)
		}
		s.LogMetrics(step, map[string]float64{"loss": float64(step)})
		s.AddSamples(step, []Sample{{Prompt: "p", Completion: "c", Reward: 1, Trace: []int{0, 1}}})
	}
	s.LogMetrics(3, map[string]float64{"loss": 33})
	if err := s.TruncateMetricsAfter(6); err != nil {
		t.Fatal(err)
	}
	rows, _ := s.Metrics()
	if len(rows) != 6 || rows[2].Values["loss"] != 33 || rows[5].Step != 6 {
		t.Fatalf("metrics %+v", rows)
	}
	ss, err := s.Samples(4)
	if err != nil || ss[0].Completion != "c" || !reflect.DeepEqual(ss[0].Trace, []int{0, 1}) {
		t.Fatalf("samples %+v %v", ss, err)
	}
	if steps, _ := s.SampleSteps(); len(steps) != 6 {
		t.Fatalf("sample steps %v", steps)
	}
	if err := s.Retain(2, 4); err != nil {
		t.Fatal(err)
	}
	if steps, _ := s.Steps(); !reflect.DeepEqual(steps, []int{4, 8, 9, 10}) {
		t.Fatalf("retained %v, want [4 8 9 10]", steps)
	}
	if err := s.Delete(8); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(8); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("deleted step: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	if p, st, ok, err := ParseRef("runs/a.db:120"); p != "runs/a.db" || st != 120 || !ok || err != nil {
		t.Fatal(p, st, ok, err)
	}
	if p, _, ok, err := ParseRef("runs/a.db"); p != "runs/a.db" || ok || err != nil {
		t.Fatal(p, ok, err)
	}
	for _, bad := range []string{"", "a.db:x", "a.db:-1"} {
		if _, _, _, err := ParseRef(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.db")
	s, err := Create(p, Meta{Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	s.Save(sampleCheckpoint(1))
	s.Close()
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fp := filepath.Join(t.TempDir(), "f.db")
		os.WriteFile(fp, b, 0o644)
		readAll(fp)
	})
}

func TestCompactKeepsEverything(t *testing.T) {
	s, p := newStore(t)
	for step := 1; step <= 9; step++ {
		if err := s.Save(&Checkpoint{Step: step, Weights: []Tensor{{Name: "big", Shape: []int{1 << 18}, Data: make([]float32, 1<<18)}}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Retain(2, 0)
	s.Close()
	before, after, err := Compact(p)
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Fatalf("compact %d -> %d bytes", before, after)
	}
	if err := readAll(p); err != nil {
		t.Fatal(err)
	}
	s2, _ := OpenReadOnly(p)
	defer s2.Close()
	if steps, _ := s2.Steps(); !reflect.DeepEqual(steps, []int{8, 9}) {
		t.Fatalf("steps after compact %v", steps)
	}
}

// A store in a directory that turned read-only keeps its checkpoints and
// reports the failed write with the path.
func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a read-only open instead.
		s, p := newStore(t)
		s.Save(sampleCheckpoint(1))
		s.Close()
		ro, err := OpenReadOnly(p)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		err = ro.Save(sampleCheckpoint(2))
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("write to read-only store: %v", err)
		}
		if _, err := ro.Load(1); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	if _, err := Create(filepath.Join(dir, "a.db"), Meta{}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("create in read-only dir: %v", err)
	}
}

// Saving a step again replaces the whole checkpoint, tensors it no longer has
// included.
func TestSaveReplacesStep(t *testing.T) {
	s, _ := newStore(t)
	defer s.Close()
	if err := s.Save(sampleCheckpoint(7)); err != nil {
		t.Fatal(err)
	}
	again := &Checkpoint{Step: 7, Weights: []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{42}}}}
	if err := s.Save(again); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(7)
	if err != nil || len(got.Weights) != 1 || got.Weights[0].Data[0] != 42 || len(got.Optim) != 0 || got.RNG != nil {
		t.Fatalf("after replace: %+v %v", got, err)
	}
	if steps, _ := s.Steps(); !reflect.DeepEqual(steps, []int{7}) {
		t.Fatalf("steps %v", steps)
	}
	// A tensor whose data does not fill its shape is refused before anything is written.
	bad := &Checkpoint{Step: 8, Weights: []Tensor{{Name: "short", Shape: []int{2, 2}, Data: []float32{1}}}}
	if err := s.Save(bad); err == nil || !strings.Contains(err.Error(), "short") {
		t.Fatalf("short tensor: %v", err)
	}
	if steps, _ := s.Steps(); len(steps) != 1 {
		t.Fatalf("failed save left steps %v", steps)
	}
}

// A record whose bytes do not match its shape is a checksum failure that
// names the tensor and the step.
func TestLoadShapeMismatch(t *testing.T) {
	s, p := newStore(t)
	s.Save(sampleCheckpoint(5))
	s.Close()
	db, err := bolt.Open(p, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCkpt).Bucket(stepKey(5))
		rec := b.Get([]byte("w/g"))
		return b.Put([]byte("w/g"), append([]byte(nil), rec[:len(rec)-4]...)) // drop one float
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = OpenReadOnly(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Load(5)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "tensor g") || !strings.Contains(err.Error(), "step 5") {
		t.Fatalf("short record: %v", err)
	}
}

// Reward details and failures travel with a sample; details JSON cannot hold
// are replaced by a note instead of losing the step's samples.
func TestSampleRewardDetails(t *testing.T) {
	s, _ := newStore(t)
	defer s.Close()
	in := []Sample{
		{Prompt: "p", Completion: "c", Reward: 0.5, Components: map[string]float64{"a": 1, "b": 0},
			Failures: map[string]string{"b": "timeout"}, Details: map[string]any{"a": map[string]any{"ok": true}}},
		{Prompt: "q", Completion: "d", Details: map[string]any{"a": math.NaN()}},
	}
	if err := s.AddSamples(4, in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Samples(4)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Failures["b"] != "timeout" || out[0].Details["a"].(map[string]any)["ok"] != true || out[0].Components["a"] != 1 {
		t.Errorf("sample 0 came back as %+v", out[0])
	}
	if msg, _ := out[1].Details["error"].(string); !strings.Contains(msg, "details not storable") {
		t.Errorf("sample 1 details: %+v", out[1].Details)
	}
}

// A reader takes consistent snapshots of a store that a writer keeps
// committing to: every checkpoint in every snapshot loads with its checksums.
func TestSnapshotsWhileWriting(t *testing.T) {
	s, p := newStore(t)
	defer s.Close()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for step := 1; ; step++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := s.Save(sampleCheckpoint(step)); err != nil {
				done <- err
				return
			}
			if err := s.Retain(3, 0); err != nil {
				done <- err
				return
			}
		}
	}()
	for i := 0; i < 30; i++ {
		if err := readAll(p); err != nil {
			close(stop)
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A store whose newer meta page is damaged opens at the older one, and says so.
func TestDamagedMetaPageWarns(t *testing.T) {
	s, p := newStore(t)
	for step := 1; step <= 2; step++ {
		if err := s.Save(sampleCheckpoint(step)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	m, err := chooseMeta(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	newer := int64(0)
	if readMeta(f, int64(m.pageSize)).txid == m.txid {
		newer = int64(m.pageSize)
	}
	// flip a byte of the newer meta's root pointer: its checksum fails
	if _, err := f.WriteAt([]byte{0xff}, newer+16+16); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var warned []string
	OnWarning = func(m string) { warned = append(warned, m) }
	defer func() { OnWarning = func(string) {} }()
	r, err := OpenReadOnly(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(warned) != 1 || !strings.Contains(warned[0], "damaged") || !strings.Contains(warned[0], fmt.Sprintf("transaction %d", m.txid-1)) {
		t.Fatalf("warnings %q, want one about the damaged meta page opening at transaction %d", warned, m.txid-1)
	}
}

// Compact refuses a store with a damaged checkpoint, and a store that a run
// has open, and changes neither.
func TestCompactRefusesDamageAndLiveStores(t *testing.T) {
	s, p := newStore(t)
	for step := 1; step <= 3; step++ {
		if err := s.Save(sampleCheckpoint(step)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := Compact(p); !errors.Is(err, ErrInUse) {
		t.Fatalf("compact beside a writer: %v, want ErrInUse", err)
	}
	s.Close()
	db, err := bolt.Open(p, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCkpt).Bucket(stepKey(2))
		rec := append([]byte(nil), b.Get([]byte("w/g"))...)
		rec[len(rec)-1] ^= 0x01
		return b.Put([]byte("w/g"), rec)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	if _, _, err := Compact(p); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "step 2") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("compact of a damaged store: %v", err)
	}
	if after, _ := os.ReadFile(p); !reflect.DeepEqual(before, after) {
		t.Fatal("a refused compact changed the store")
	}
	if left, _ := filepath.Glob(p + ".compact*"); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
