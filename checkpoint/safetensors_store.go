package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bFiles holds files a run keeps beside its checkpoints: for a model
// imported from Hugging Face, its config.json and tokenizer files, which an
// export writes back and the hf tokenizer reads.
var bFiles = []byte("files")

// maxFile bounds one kept file (tokenizer.json of a large vocabulary is ~10 MB).
const maxFile = 64 << 20

// MaxTensorValues is the most float32 values one stored tensor can hold: a
// tensor is one bbolt value, and bbolt caps a value just under 2 GiB.
const MaxTensorValues = (bolt.MaxValueSize - 64) / 4

// WeightSpec is one tensor of a checkpoint written by CreateStreamed.
type WeightSpec struct {
	Name  string
	Shape []int
}

func (w WeightSpec) numel() int {
	n := 1
	for _, d := range w.Shape {
		n *= d
	}
	return n
}

// CreateStreamed makes a new run store at path holding meta m, the given
// files, and one weights-only checkpoint at step, whose tensors fill writes
// one at a time into a float32 buffer of each spec's shape. Each tensor is
// committed on its own, so the memory this takes is a few times the largest
// tensor, not the model. The store is built under a temporary name and
// renamed into place when complete: on any error nothing is left at path.
func CreateStreamed(path string, m Meta, files map[string][]byte, step int, specs []WeightSpec, fill func(i int, dst []float32) error) (err error) {
	maxN := 0
	seen := map[string]bool{}
	for _, s := range specs {
		n := s.numel()
		if n > MaxTensorValues {
			return fmt.Errorf("tensor %s %v is %.2f GB as float32, more than one run store record holds (2 GiB); not yet supported", s.Name, s.Shape, float64(4*n)/1e9)
		}
		if len(s.Shape) > maxDims {
			return fmt.Errorf("tensor %s: %d dimensions, a run store holds at most %d", s.Name, len(s.Shape), maxDims)
		}
		if seen[s.Name] {
			return fmt.Errorf("tensor %s appears twice", s.Name)
		}
		seen[s.Name] = true
		maxN = max(maxN, n)
	}
	for name, b := range files {
		if len(b) > maxFile {
			return fmt.Errorf("file %s is %d bytes, more than the %d a run store keeps", name, len(b), maxFile)
		}
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	tmp := path + ".importing"
	os.Remove(tmp)
	st, err := Create(tmp, m)
	if err != nil {
		return err
	}
	st.path = path // messages name the store being made
	defer func() {
		if err != nil {
			st.Close()
			os.Remove(tmp)
		}
	}()
	// One fsync at the end instead of one per tensor (and per growth of the
	// file): the store is not visible under its name until it is complete.
	st.db.NoSync, st.db.NoGrowSync = true, true
	st.db.AllocSize = 256 << 20
	if err := st.PutFiles(files); err != nil {
		return err
	}
	dst := make([]float32, maxN)
	rec := make([]byte, 0, headerSize+4*maxDims+4+4*maxN)
	info := ckptInfo{Step: step, Time: time.Now().UTC()}
	for _, s := range specs {
		info.Weights = append(info.Weights, s.Name) // Load's order: the specs'
	}
	// Commit the tensors in key order. A bbolt leaf keeps at least two
	// keys, and a transaction rewrites every value of each leaf it changes:
	// in key order a new key lands in the last leaf, which holds only the
	// last few tensors written, so each is rewritten a few times at most
	// (in another order, a key landing before a large tensor's would
	// rewrite it again and again).
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return specs[order[a]].Name < specs[order[b]].Name })
	for _, i := range order {
		s := specs[i]
		d := dst[:s.numel()]
		clear(d)
		if err := fill(i, d); err != nil {
			return err
		}
		rec = appendRecord(rec[:0], s.Shape, d)
		err := st.update(func(tx *bolt.Tx) error {
			b, err := tx.Bucket(bCkpt).CreateBucketIfNotExists(stepKey(step))
			if err != nil {
				return err
			}
			return b.Put([]byte("w/"+s.Name), rec)
		})
		if err != nil {
			return err
		}
		// Hand back what this commit took before the next one: bbolt's
		// page buffers (garbage now) and the pages of the store's map it
		// read to rewrite earlier tensors, so that the peak stays a few
		// times the largest tensor instead of growing with the GC's
		// headroom and the map.
		releaseMapped(st, tmp)
		debug.FreeOSMemory()
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return err
	}
	err = st.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bCkpt).CreateBucketIfNotExists(stepKey(step))
		if err != nil {
			return err
		}
		return b.Put([]byte("info"), infoJSON)
	})
	if err != nil {
		return err
	}
	st.db.NoSync, st.db.NoGrowSync = false, false
	if err := st.db.Sync(); err != nil {
		return fmt.Errorf("write run store %s: %w", path, err)
	}
	if err := st.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create run store %s: %w", path, err)
	}
	return nil
}

// appendRecord encodes a float32 tensor as encodeTensor does (magic, dtype,
// dims, crc32c, little-endian values) into buf, without a second copy of
// the values.
func appendRecord(buf []byte, shape []int, data []float32) []byte {
	buf = append(buf, recMagic...)
	buf = append(buf, dtypeF32, byte(len(shape)))
	for _, d := range shape {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(d))
	}
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	binary.LittleEndian.PutUint32(buf[at:], crc32.Checksum(buf[at+4:], castagnoli))
	return buf
}

// PutFiles keeps files in the store (replacing ones of the same name).
func (s *Store) PutFiles(files map[string][]byte) error {
	if len(files) == 0 {
		return nil
	}
	for name, b := range files {
		if name == "" {
			return errors.New("a kept file needs a name")
		}
		if len(b) > maxFile {
			return fmt.Errorf("file %s is %d bytes, more than the %d a run store keeps", name, len(b), maxFile)
		}
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bFiles)
		if err != nil {
			return err
		}
		for name, data := range files {
			if err := b.Put([]byte(name), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Files returns the files the store keeps (none for a store of remask's own
// model).
func (s *Store) Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bFiles)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

// FileNames lists the kept files, sorted.
func (s *Store) FileNames() ([]string, error) {
	files, err := s.Files()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, err
}
