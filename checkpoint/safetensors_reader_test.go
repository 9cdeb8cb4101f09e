package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// f16Ref is IEEE half precision by its definition, in float64.
func f16Ref(h uint16) float64 {
	sign := 1.0
	if h>>15 != 0 {
		sign = -1
	}
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	switch e {
	case 0:
		return sign * m * math.Pow(2, -24)
	case 0x1f:
		if m == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * (1 + m/1024) * math.Pow(2, float64(e-15))
}

func TestF16ToF32AllValues(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got, want := F16ToF32(uint16(h)), f16Ref(uint16(h))
		switch {
		case math.IsNaN(want):
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: %g, want NaN", h, got)
			}
		case float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want):
			t.Fatalf("%#04x: %g, want %g", h, got, want)
		}
	}
}

// rawTensor is one tensor of a hand-built safetensors file.
type rawTensor struct {
	name, dtype string
	shape       []int
	data        []byte
}

// rawFile builds a safetensors file from tensors laid out in order.
func rawFile(ts ...rawTensor) []byte {
	header := map[string]stEntry{}
	var data []byte
	for _, t := range ts {
		header[t.name] = stEntry{DType: t.dtype, Shape: t.shape, DataOffsets: [2]int64{int64(len(data)), int64(len(data) + len(t.data))}}
		data = append(data, t.data...)
	}
	hj, _ := json.Marshal(header)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	return append(append(out, hj...), data...)
}

func f32Bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func bf16Bytes(v ...float32) []byte { // exact for values with 8 significant bits
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(math.Float32bits(x)>>16))
	}
	return b
}

func f16Bytes(h ...uint16) []byte {
	var b []byte
	for _, x := range h {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// F32, F16 and BF16 tensors read as float32, whole and in ranges.
func TestSafetensorsSetDTypes(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "m.safetensors", rawFile(
		rawTensor{"a", "F32", []int{2, 2}, f32Bytes(1, -2, 3.5, 1e-30)},
		rawTensor{"b", "BF16", []int{3}, bf16Bytes(1.5, -0.0078125, 3e38)},
		// 1, -2, 65504 (max), 2^-24 (smallest subnormal), +inf
		rawTensor{"c", "F16", []int{5}, f16Bytes(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00)},
	))
	s, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.DTypes(); !reflect.DeepEqual(got, []string{"BF16", "F16", "F32"}) {
		t.Fatalf("dtypes %v", got)
	}
	read := func(name string, off int64, n int) []float32 {
		t.Helper()
		dst := make([]float32, n)
		if err := s.ReadF32(name, off, dst); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	if got := read("a", 0, 4); !reflect.DeepEqual(got, []float32{1, -2, 3.5, 1e-30}) {
		t.Fatalf("a %v", got)
	}
	if got := read("b", 1, 2); got[0] != -0.0078125 || got[1] != math.Float32frombits(math.Float32bits(3e38)&0xffff0000) {
		t.Fatalf("b %v", got)
	}
	if got := read("c", 0, 5); !reflect.DeepEqual(got[:4], []float32{1, -2, 65504, float32(math.Pow(2, -24))}) || !math.IsInf(float64(got[4]), 1) {
		t.Fatalf("c %v", got)
	}
	// a partial read, then another tensor, then back
	if got := read("a", 2, 1); got[0] != 3.5 {
		t.Fatalf("a[2] %v", got)
	}
	if got := read("c", 1, 1); got[0] != -2 {
		t.Fatalf("c[1] %v", got)
	}
	if got := read("a", 3, 1); got[0] != 1e-30 {
		t.Fatalf("a[3] %v", got)
	}
	if err := s.ReadF32("a", 3, make([]float32, 2)); err == nil {
		t.Fatal("a read past the end was accepted")
	}
	if err := s.ReadF32("zz", 0, nil); err == nil {
		t.Fatal("an unknown tensor was read")
	}
	// ReadSafetensors agrees
	f, _ := os.Open(path)
	defer f.Close()
	fi, _ := f.Stat()
	all, _, err := ReadSafetensors(f, fi.Size())
	if err != nil || len(all) != 3 || all[2].Name != "c" || all[2].Data[2] != 65504 {
		t.Fatalf("ReadSafetensors: %v %v", all, err)
	}
}

// A sharded checkpoint: the index's weight_map names the shards; a shard
// that is missing, a tensor not where the index says, a tensor in two
// shards are each one clear error.
func TestSafetensorsSharded(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "model-00001-of-00002.safetensors", rawFile(rawTensor{"x", "F32", []int{2}, f32Bytes(1, 2)}))
	writeFile(t, dir, "model-00002-of-00002.safetensors", rawFile(rawTensor{"y", "BF16", []int{1}, bf16Bytes(4)}))
	index := func(m map[string]string) {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 10}, "weight_map": m})
		writeFile(t, dir, SafetensorsIndex, b)
	}
	index(map[string]string{"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"})
	s, err := OpenSafetensorsDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 1)
	if err := s.ReadF32("y", 0, y); err != nil || y[0] != 4 || len(s.Tensors()) != 2 {
		t.Fatalf("y %v %v, tensors %v", y, err, s.Tensors())
	}
	s.Close()
	for _, c := range []struct {
		m    map[string]string
		want string
	}{
		{map[string]string{"x": "model-00001-of-00002.safetensors", "y": "model-00003-of-00003.safetensors"}, "names shard model-00003-of-00003.safetensors, which is missing"},
		{map[string]string{"x": "model-00002-of-00002.safetensors"}, "maps tensor x to model-00002-of-00002.safetensors, which does not hold it"},
		{map[string]string{"x": "../model-00001-of-00002.safetensors"}, "not a file name"},
		{map[string]string{}, "no weight_map"},
	} {
		index(c.m)
		if _, err := OpenSafetensorsDir(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.m, err, c.want)
		}
	}
	writeFile(t, dir, "model-00002-of-00002.safetensors", rawFile(rawTensor{"x", "F32", []int{1}, f32Bytes(4)}))
	index(map[string]string{"x": "model-00001-of-00002.safetensors", "z": "model-00002-of-00002.safetensors"})
	if _, err := OpenSafetensorsDir(dir); err == nil || !strings.Contains(err.Error(), "tensor x is in both") {
		t.Errorf("a tensor in two shards: %v", err)
	}
	if _, err := OpenSafetensorsDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Errorf("an empty folder: %v", err)
	}
}

// A store made tensor by tensor reads back as Save would have written it;
// a failure while filling leaves nothing at the path.
func TestCreateStreamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imp.db")
	specs := []WeightSpec{{"w", []int{2, 3}}, {"b", []int{3}}}
	vals := [][]float32{{1, 2, 3, 4, 5, 6}, {-1, 0.5, 7}}
	files := map[string][]byte{"config.json": []byte(`{"model_type":"llada"}`), "tokenizer.json": []byte("{}")}
	meta := Meta{ConfigYAML: "x: 1\n", Version: "test", Created: time.Now().UTC(), Extra: map[string]string{"family": "llada"}}
	fill := func(i int, dst []float32) error { copy(dst, vals[i]); return nil }
	if err := CreateStreamed(path, meta, files, 0, specs, fill); err != nil {
		t.Fatal(err)
	}
	if err := CreateStreamed(path, meta, files, 0, specs, fill); !errors.Is(err, ErrExists) {
		t.Fatalf("over an existing store: %v", err)
	}
	st, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := st.Load(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Weights) != 2 || ck.Weights[0].Name != "w" || !reflect.DeepEqual(ck.Weights[0].Data, vals[0]) || !reflect.DeepEqual(ck.Weights[1].Shape, []int{3}) || !reflect.DeepEqual(ck.Weights[1].Data, vals[1]) {
		t.Fatalf("weights %+v", ck.Weights)
	}
	got, err := st.Files()
	if err != nil || !reflect.DeepEqual(got, files) {
		t.Fatalf("files %v %v", got, err)
	}
	m, _ := st.Meta()
	if m.Extra["family"] != "llada" {
		t.Fatalf("meta %+v", m)
	}
	st.Close()

	bad := filepath.Join(dir, "bad.db")
	err = CreateStreamed(bad, meta, files, 0, specs, func(i int, dst []float32) error {
		if i == 1 {
			return errors.New("boom")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("fill error: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("a failed import left %v", ents)
	}
	if err := CreateStreamed(bad, meta, nil, 0, []WeightSpec{{"huge", []int{1 << 20, 1 << 10}}}, fill); err == nil || !strings.Contains(err.Error(), "2 GiB") {
		t.Fatalf("a tensor too large for one record: %v", err)
	}
}
