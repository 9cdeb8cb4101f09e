package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
)

// SafetensorsSet is a checkpoint of one or more safetensors files (a single
// model.safetensors, or the shards a model.safetensors.index.json names),
// opened for reading tensor by tensor: headers are validated when it opens,
// and a tensor's bytes are mapped (or read, where there is no mmap) only
// while it is being read, so reading a model holds no more than one tensor's
// bytes besides what the caller keeps.
type SafetensorsSet struct {
	files   []*stFile
	tensors map[string]*stRef
	names   []string // sorted
	cur     *stRef   // the tensor whose bytes are mapped
	curMap  mapping
}

type stFile struct {
	path string
	f    *os.File
	size int64
}

type stRef struct {
	STTensor
	file *stFile
}

// Index is the name of a sharded checkpoint's index.
const (
	SafetensorsFile  = "model.safetensors"
	SafetensorsIndex = "model.safetensors.index.json"
)

// OpenSafetensors opens one safetensors file.
func OpenSafetensors(path string) (*SafetensorsSet, error) {
	s := &SafetensorsSet{tensors: map[string]*stRef{}}
	if err := s.add(path); err != nil {
		s.Close()
		return nil, err
	}
	s.sortNames()
	return s, nil
}

// OpenSafetensorsDir opens the checkpoint of a Hugging Face model folder:
// model.safetensors.index.json and the shards its weight_map names when
// there is an index, else model.safetensors. Every tensor the index maps must
// be in the shard it names, and no tensor may be in two shards.
func OpenSafetensorsDir(dir string) (*SafetensorsSet, error) {
	idxPath := filepath.Join(dir, SafetensorsIndex)
	raw, err := os.ReadFile(idxPath)
	if errors.Is(err, os.ErrNotExist) {
		single := filepath.Join(dir, SafetensorsFile)
		if _, err := os.Stat(single); err != nil {
			return nil, fmt.Errorf("%s: no %s and no %s", dir, SafetensorsFile, SafetensorsIndex)
		}
		return OpenSafetensors(single)
	}
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", idxPath, ErrSafetensors, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: %w (no weight_map)", idxPath, ErrSafetensors)
	}
	var shards []string
	seen := map[string]bool{}
	for _, f := range idx.WeightMap {
		if f != filepath.Base(f) || f == "" || f == "." || f == ".." {
			return nil, fmt.Errorf("%s: %w (shard %q is not a file name in the folder)", idxPath, ErrSafetensors, f)
		}
		if !seen[f] {
			seen[f] = true
			shards = append(shards, f)
		}
	}
	sort.Strings(shards)
	for _, f := range shards {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("%s names shard %s, which is missing", idxPath, f)
		}
	}
	s := &SafetensorsSet{tensors: map[string]*stRef{}}
	for _, f := range shards {
		if err := s.add(filepath.Join(dir, f)); err != nil {
			s.Close()
			return nil, err
		}
	}
	for name, f := range idx.WeightMap {
		t, ok := s.tensors[name]
		if !ok || filepath.Base(t.file.path) != f {
			s.Close()
			return nil, fmt.Errorf("%s maps tensor %s to %s, which does not hold it", idxPath, name, f)
		}
	}
	s.sortNames()
	return s, nil
}

func (s *SafetensorsSet) add(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	sf := &stFile{path: path, f: f, size: fi.Size()}
	s.files = append(s.files, sf)
	h, err := parseHeader(f, sf.size, path+": ")
	if err != nil {
		return err
	}
	for _, t := range h.tensors {
		if old, dup := s.tensors[t.Name]; dup {
			return fmt.Errorf("%w: tensor %s is in both %s and %s", ErrSafetensors, t.Name, old.file.path, path)
		}
		s.tensors[t.Name] = &stRef{STTensor: t, file: sf}
	}
	return nil
}

func (s *SafetensorsSet) sortNames() {
	s.names = s.names[:0]
	for n := range s.tensors {
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
}

// Tensors lists every tensor, sorted by name.
func (s *SafetensorsSet) Tensors() []STTensor {
	out := make([]STTensor, len(s.names))
	for i, n := range s.names {
		out[i] = s.tensors[n].STTensor
	}
	return out
}

// Tensor describes the named tensor.
func (s *SafetensorsSet) Tensor(name string) (STTensor, bool) {
	t, ok := s.tensors[name]
	if !ok {
		return STTensor{}, false
	}
	return t.STTensor, true
}

// DTypes lists the dtypes the tensors are stored in, sorted.
func (s *SafetensorsSet) DTypes() []string {
	set := map[string]bool{}
	for _, t := range s.tensors {
		set[t.DType] = true
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// ReadF32 fills dst with elements [off, off+len(dst)) of the named tensor
// (row-major), converted to float32. Reading a tensor's last element
// releases its bytes; reading another tensor releases the previous one's.
func (s *SafetensorsSet) ReadF32(name string, off int64, dst []float32) (err error) {
	t, ok := s.tensors[name]
	if !ok {
		return fmt.Errorf("%w: no tensor %s", ErrSafetensors, name)
	}
	n := t.Numel()
	if off < 0 || off+int64(len(dst)) > n {
		return fmt.Errorf("read %s: elements [%d, %d) outside its %d", name, off, off+int64(len(dst)), n)
	}
	if s.cur != t {
		if err := s.release(); err != nil {
			return err
		}
		m, err := mapRange(t.file.f, t.Begin, t.End-t.Begin)
		if err != nil {
			return fmt.Errorf("%s: tensor %s: %w", t.file.path, name, err)
		}
		s.cur, s.curMap = t, m
	}
	es := dtypeSize[t.DType]
	// A file truncated by someone else after it was opened faults on the
	// mapped pages: turn that into an error instead of a crash.
	defer func(old bool) {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: tensor %s: %w (%v; was the file changed while reading?)", t.file.path, name, ErrSafetensors, r)
		}
	}(debug.SetPanicOnFault(true))
	b, err := s.curMap.bytes(off*es, int64(len(dst))*es)
	if err != nil {
		return fmt.Errorf("%s: tensor %s: %w", t.file.path, name, err)
	}
	decodeF32(t.DType, b, dst)
	if off+int64(len(dst)) == n {
		return s.release()
	}
	return nil
}

func (s *SafetensorsSet) release() error {
	if s.cur == nil {
		return nil
	}
	err := s.curMap.close()
	s.cur, s.curMap = nil, nil
	return err
}

// Close releases every file.
func (s *SafetensorsSet) Close() error {
	err := s.release()
	for _, f := range s.files {
		if cerr := f.f.Close(); err == nil {
			err = cerr
		}
	}
	s.files = nil
	return err
}

// mapping is one tensor's bytes: memory-mapped where the platform has mmap,
// else read on demand.
type mapping interface {
	// bytes returns n bytes from offset off of the tensor's range.
	bytes(off, n int64) ([]byte, error)
	close() error
}
