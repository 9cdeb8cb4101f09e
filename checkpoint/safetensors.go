package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON header mapping each tensor name to {"dtype", "shape", "data_offsets"}
// (byte offsets relative to the data that follows the header) plus an
// optional "__metadata__" map of strings, then the tensors' bytes.

// ErrSafetensors wraps every problem with a safetensors file.
var ErrSafetensors = errors.New("invalid safetensors file")

// maxHeader bounds the JSON header (the reference implementation uses 100 MB).
const maxHeader = 100 << 20

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes float32 tensors in the given order.
func WriteSafetensors(w io.Writer, ts []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range ts {
		if t.Name == "__metadata__" {
			return fmt.Errorf("write safetensors: tensor name %q is reserved", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("write safetensors: tensor %s appears twice", t.Name)
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("write safetensors: tensor %s: shape %v does not hold %d values", t.Name, t.Shape, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*int64(n)}}
		off += 4 * int64(n)
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	// Pad the header with spaces so that the data starts 8-byte aligned.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	for _, t := range ts {
		buf := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// ReadSafetensors reads and validates a safetensors file of F32 tensors,
// returned in data order.
func ReadSafetensors(r io.ReaderAt, size int64) ([]Tensor, map[string]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSafetensors, fmt.Sprintf(format, args...))
	}
	if size < 8 {
		return nil, nil, bad("%d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, nil, bad("read header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > size-8 {
		return nil, nil, bad("header length %d does not fit a %d-byte file", n, size)
	}
	hj := make([]byte, n)
	if _, err := r.ReadAt(hj, 8); err != nil {
		return nil, nil, bad("read header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hj, &raw); err != nil {
		return nil, nil, bad("header is not a JSON object: %v", err)
	}
	var meta map[string]string
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, nil, bad("__metadata__ is not a map of strings: %v", err)
		}
		delete(raw, "__metadata__")
	}
	dataLen := size - 8 - int64(n)
	type item struct {
		name string
		e    stEntry
	}
	var items []item
	for name, v := range raw {
		var e stEntry
		dec := json.NewDecoder(bytesReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, nil, bad("tensor %s: %v", name, err)
		}
		if e.DType != "F32" {
			return nil, nil, fmt.Errorf("%w: tensor %s has dtype %q; remask reads F32 only", ErrSafetensors, name, e.DType)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > math.MaxInt32/int64(d)) {
				return nil, nil, bad("tensor %s: shape %v", name, e.Shape)
			}
			numel *= int64(d)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > dataLen || end-b != 4*numel {
			return nil, nil, bad("tensor %s: data_offsets %v for shape %v in %d data bytes", name, e.DataOffsets, e.Shape, dataLen)
		}
		items = append(items, item{name, e})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].e.DataOffsets[0] < items[j].e.DataOffsets[0] })
	var pos int64
	out := make([]Tensor, 0, len(items))
	for _, it := range items {
		if it.e.DataOffsets[0] != pos {
			return nil, nil, bad("tensor %s starts at %d, want %d (tensors must be contiguous, without overlap)", it.name, it.e.DataOffsets[0], pos)
		}
		buf := make([]byte, it.e.DataOffsets[1]-it.e.DataOffsets[0])
		if _, err := r.ReadAt(buf, 8+int64(n)+pos); err != nil {
			return nil, nil, bad("tensor %s: %v", it.name, err)
		}
		t := Tensor{Name: it.name, Shape: it.e.Shape, Data: make([]float32, len(buf)/4)}
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		out = append(out, t)
		pos = it.e.DataOffsets[1]
	}
	if pos != dataLen {
		return nil, nil, bad("%d data bytes, tensors cover %d", dataLen, pos)
	}
	return out, meta, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
