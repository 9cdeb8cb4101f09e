package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// The exported bytes are decoded here by hand, independently of
// ReadSafetensors: 8-byte little-endian length, JSON header, raw F32 data.
func TestSafetensorsByteLayout(t *testing.T) {
	ts := []Tensor{
		{Name: "a", Shape: []int{2, 2}, Data: []float32{1, 2, 3, -4}},
		{Name: "b.c", Shape: []int{3}, Data: []float32{0.5, float32(math.Inf(-1)), 7}},
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, ts, map[string]string{"format": "pt", "step": "10"}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := int(binary.LittleEndian.Uint64(b[:8]))
	if (8+n)%8 != 0 {
		t.Fatalf("data not 8-byte aligned: header %d", n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	json.Unmarshal(header["__metadata__"], &meta)
	if meta["step"] != "10" || meta["format"] != "pt" {
		t.Fatalf("metadata %v", meta)
	}
	var a struct {
		DType       string `json:"dtype"`
		Shape       []int  `json:"shape"`
		DataOffsets []int  `json:"data_offsets"`
	}
	json.Unmarshal(header["a"], &a)
	if a.DType != "F32" || !reflect.DeepEqual(a.Shape, []int{2, 2}) || !reflect.DeepEqual(a.DataOffsets, []int{0, 16}) {
		t.Fatalf("a: %+v", a)
	}
	json.Unmarshal(header["b.c"], &a)
	if !reflect.DeepEqual(a.DataOffsets, []int{16, 28}) || len(b) != 8+n+28 {
		t.Fatalf("b.c: %+v, file %d bytes", a, len(b))
	}
	data := b[8+n:]
	if math.Float32frombits(binary.LittleEndian.Uint32(data[12:])) != -4 || math.Float32frombits(binary.LittleEndian.Uint32(data[20:])) != float32(math.Inf(-1)) {
		t.Fatal("tensor bytes")
	}
	got, gotMeta, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)))
	if err != nil || !reflect.DeepEqual(gotMeta, meta) || len(got) != 2 || got[1].Name != "b.c" || got[0].Data[3] != -4 {
		t.Fatalf("read back: %+v %v", got, err)
	}
}

func TestSafetensorsRejects(t *testing.T) {
	hdr := func(h string) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(h)))
		b.WriteString(h)
		return b.Bytes()
	}
	cases := map[string][]byte{
		"short":       {1, 2, 3},
		"huge header": append(binary.LittleEndian.AppendUint64(nil, 1<<40), []byte("{}")...),
		"not json":    hdr("nope"),
		"dtype":       append(hdr(`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`), make([]byte, 8)...),
		"overlap":     append(hdr(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`), make([]byte, 8)...),
		"truncated":   append(hdr(`{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`), make([]byte, 9)...),
		"negative":    append(hdr(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`), make([]byte, 4)...),
		"offsets":     append(hdr(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`), 0, 0, 0, 0),
		"beyond":      hdr(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`),
		"gap":         append(hdr(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`), make([]byte, 8)...),
		"trailing":    append(hdr(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`), make([]byte, 8)...),
		"neg shape":   hdr(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`),
		"bad meta":    hdr(`{"__metadata__":{"a":1}}`),
		"extra field": append(hdr(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"z":1}}`), 0, 0, 0, 0),
	}
	for name, b := range cases {
		_, _, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, ErrSafetensors) {
			t.Errorf("%s: %v, want ErrSafetensors", name, err)
		}
		for _, c := range []struct{ name, want string }{{"dtype", `"F64"`}, {"overlap", "overlaps"}, {"truncated", "truncated"}, {"gap", "belong to no tensor"}, {"short", "truncated"}} {
			if name == c.name && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("%s: error %v does not say %q", name, err, c.want)
			}
		}
	}
}

func FuzzReadSafetensors(f *testing.F) {
	var buf bytes.Buffer
	WriteSafetensors(&buf, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, _, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)))
		if err == nil {
			// Whatever was accepted must write back to an equal file of tensors.
			var out bytes.Buffer
			if err := WriteSafetensors(&out, ts, nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestStatsAndDiff(t *testing.T) {
	s := TensorStats(Tensor{Name: "x", Shape: []int{5}, Data: []float32{1, -1, 3, float32(math.NaN()), float32(math.Inf(1))}})
	if s.NaN != 1 || s.Inf != 1 || s.Mean != 1 || s.Min != -1 || s.Max != 3 || math.Abs(s.Norm-math.Sqrt(11)) > 1e-12 || math.Abs(s.Std-math.Sqrt(11.0/3-1)) > 1e-12 {
		t.Fatalf("%+v", s)
	}
	// Three float32 neighbours at 1e4, one ulp (2^-10) apart: the std is
	// 2^-10·sqrt(2/3) by hand; E[x²]-mean² in float64 is off by 0.4% here.
	near := TensorStats(Tensor{Name: "g", Shape: []int{3}, Data: []float32{10000, 10000.0009765625, 10000.001953125}})
	if want := math.Ldexp(math.Sqrt(2.0/3), -10); math.Abs(near.Std-want) > 1e-15 {
		t.Fatalf("std of neighbouring values %.17g, want %.17g", near.Std, want)
	}
	a := &Checkpoint{Weights: []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{3, 4}}, {Name: "gone", Shape: []int{1}, Data: []float32{1}}}}
	b := &Checkpoint{Weights: []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{3, 5}}, {Name: "new", Shape: []int{1}, Data: []float32{1}}}}
	d := Diff(a, b)
	if len(d) != 3 || math.Abs(d[0].RelChange-0.2) > 1e-12 || d[0].MaxAbsDiff != 1 || d[1].OnlyIn != "a" || d[2].OnlyIn != "b" {
		t.Fatalf("%+v", d)
	}
}
