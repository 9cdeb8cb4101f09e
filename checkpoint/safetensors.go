package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON header mapping each tensor name to {"dtype", "shape", "data_offsets"}
// (byte offsets relative to the data that follows the header) plus an
// optional "__metadata__" map of strings, then the tensors' bytes. The data
// must be covered exactly: no tensor overlaps another, no byte belongs to no
// tensor.
//
// remask reads F32, F16 and BF16 tensors (converted to float32) and writes
// F32.

// ErrSafetensors wraps every problem with a safetensors file.
var ErrSafetensors = errors.New("invalid safetensors file")

// maxHeader bounds the JSON header (the reference implementation uses 100 MB).
const maxHeader = 100 << 20

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// dtypeSize is the bytes per element of the dtypes remask reads.
var dtypeSize = map[string]int64{"F32": 4, "F16": 2, "BF16": 2}

// STTensor describes one tensor of a safetensors file: its dtype, shape and
// where its bytes lie in the file (absolute offsets).
type STTensor struct {
	Name       string
	DType      string // F32, F16 or BF16
	Shape      []int
	Begin, End int64 // byte range in the file
}

// Numel is the number of elements.
func (t STTensor) Numel() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// stHeader is a parsed and validated header: the tensors in data order.
type stHeader struct {
	tensors []STTensor
	meta    map[string]string
}

// parseHeader reads and validates the header of a safetensors file of size
// bytes: every tensor of a dtype remask reads, with data_offsets that match
// its shape, inside the file, without overlap or gap. name prefixes messages.
func parseHeader(r io.ReaderAt, size int64, name string) (*stHeader, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s%w: %s", name, ErrSafetensors, fmt.Sprintf(format, args...))
	}
	if size < 8 {
		return nil, bad("%d bytes, shorter than the 8-byte header length (truncated?)", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, bad("read header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader {
		return nil, bad("header length %d is more than %d bytes (not a safetensors file?)", n, maxHeader)
	}
	if int64(n) > size-8 {
		return nil, bad("header length %d does not fit a %d-byte file (truncated?)", n, size)
	}
	hj := make([]byte, n)
	if _, err := r.ReadAt(hj, 8); err != nil {
		return nil, bad("read header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hj, &raw); err != nil {
		return nil, bad("header is not a JSON object: %v", err)
	}
	h := &stHeader{}
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &h.meta); err != nil {
			return nil, bad("__metadata__ is not a map of strings: %v", err)
		}
		delete(raw, "__metadata__")
	}
	base := 8 + int64(n)
	dataLen := size - base
	for tname, v := range raw {
		var e stEntry
		dec := json.NewDecoder(strings.NewReader(string(v)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, bad("tensor %s: %v", tname, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("%s%w: tensor %s has dtype %q; remask reads F32, F16 and BF16", name, ErrSafetensors, tname, e.DType)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > math.MaxInt32/int64(d)) {
				return nil, bad("tensor %s: shape %v", tname, e.Shape)
			}
			numel *= int64(d)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b {
			return nil, bad("tensor %s: data_offsets %v out of range", tname, e.DataOffsets)
		}
		if end-b != es*numel {
			return nil, bad("tensor %s: data_offsets %v hold %d bytes, its shape %v of %s needs %d", tname, e.DataOffsets, end-b, e.Shape, e.DType, es*numel)
		}
		h.tensors = append(h.tensors, STTensor{Name: tname, DType: e.DType, Shape: e.Shape, Begin: base + b, End: base + end})
	}
	sort.Slice(h.tensors, func(i, j int) bool {
		a, b := h.tensors[i], h.tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	pos := base
	var prev string
	for _, t := range h.tensors {
		switch {
		case t.Begin < pos:
			return nil, bad("tensor %s (data_offsets [%d, %d]) overlaps tensor %s", t.Name, t.Begin-base, t.End-base, prev)
		case t.Begin > pos:
			return nil, bad("data bytes [%d, %d) belong to no tensor (before %s)", pos-base, t.Begin-base, t.Name)
		}
		pos, prev = t.End, t.Name
	}
	if pos > size {
		return nil, bad("truncated: the tensors need %d data bytes, the file holds %d (or data_offsets are out of range)", pos-base, dataLen)
	}
	if pos < size {
		return nil, bad("%d data bytes, tensors cover %d (trailing bytes)", dataLen, pos-base)
	}
	return h, nil
}

// decodeF32 converts n elements of dtype from little-endian bytes b into dst.
func decodeF32(dtype string, b []byte, dst []float32) {
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "F16":
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
}

// F16ToF32 widens an IEEE 754 half-precision value, subnormals, infinities
// and NaNs included.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant * 2^-24, exact in float32
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// WriteSafetensors writes float32 tensors in the given order.
func WriteSafetensors(w io.Writer, ts []Tensor, metadata map[string]string) error {
	infos := make([]STTensor, len(ts))
	for i, t := range ts {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("write safetensors: tensor %s: shape %v does not hold %d values", t.Name, t.Shape, len(t.Data))
		}
		infos[i] = STTensor{Name: t.Name, Shape: t.Shape}
	}
	return WriteSafetensorsFunc(w, infos, metadata, func(i int) ([]float32, error) { return ts[i].Data, nil })
}

// WriteSafetensorsFunc writes F32 tensors of the given names and shapes in
// that order, asking data for each one's values only as it writes it, so
// that a large export never holds more than one tensor besides its source.
func WriteSafetensorsFunc(w io.Writer, ts []STTensor, metadata map[string]string, data func(i int) ([]float32, error)) error {
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
		n := t.Numel()
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*n}}
		off += 4 * n
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
	var buf []byte
	for i, t := range ts {
		vals, err := data(i)
		if err != nil {
			return err
		}
		if int64(len(vals)) != t.Numel() {
			return fmt.Errorf("write safetensors: tensor %s: shape %v does not hold %d values", t.Name, t.Shape, len(vals))
		}
		// in chunks of 1M values, so the byte buffer stays small
		for lo := 0; lo < len(vals); lo += 1 << 20 {
			chunk := vals[lo:min(lo+1<<20, len(vals))]
			buf = buf[:0]
			for _, v := range chunk {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadSafetensors reads and validates a whole safetensors file of F32, F16
// or BF16 tensors, returned as float32 in data order.
func ReadSafetensors(r io.ReaderAt, size int64) ([]Tensor, map[string]string, error) {
	h, err := parseHeader(r, size, "")
	if err != nil {
		return nil, nil, err
	}
	out := make([]Tensor, 0, len(h.tensors))
	for _, t := range h.tensors {
		buf := make([]byte, t.End-t.Begin)
		if _, err := r.ReadAt(buf, t.Begin); err != nil {
			return nil, nil, fmt.Errorf("%w: tensor %s: %v", ErrSafetensors, t.Name, err)
		}
		ct := Tensor{Name: t.Name, Shape: t.Shape, Data: make([]float32, t.Numel())}
		decodeF32(t.DType, buf, ct.Data)
		out = append(out, ct)
	}
	return out, h.meta, nil
}
