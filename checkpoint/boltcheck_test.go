package checkpoint

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// activeRoot decodes, independently of verifyBoltFile, the page size, root
// page and freelist page of the newer meta of an untouched bbolt file: meta
// fields sit after the 16-byte page header, page size at +8, root at +16,
// freelist at +32, txid at +48.
func activeRoot(t *testing.T, b []byte) (pageSize, root, freelist uint64) {
	t.Helper()
	le := binary.LittleEndian
	pageSize = uint64(le.Uint32(b[16+8:]))
	m := b[16:]
	if le.Uint64(b[pageSize+16+48:]) > le.Uint64(m[48:]) {
		m = b[pageSize+16:]
	}
	return pageSize, le.Uint64(m[16:]), le.Uint64(m[32:])
}

// corruptStore writes a small store, lets edit change its bytes, and returns
// the error of opening the result.
func corruptStore(t *testing.T, edit func(b []byte, pageSize, root, freelist uint64)) error {
	t.Helper()
	s, p := newStore(t)
	if err := s.Save(sampleCheckpoint(1)); err != nil {
		t.Fatal(err)
	}
	s.Retain(0, 1)
	s.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ps, root, fl := activeRoot(t, b)
	edit(b, ps, root, fl)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ro, errRO := OpenReadOnly(p)
	if errRO == nil {
		ro.Close()
	}
	rw, errRW := Open(p)
	if errRW == nil {
		rw.Close()
	}
	if (errRO == nil) != (errRW == nil) || (errRO != nil && errRO.Error() != errRW.Error()) {
		t.Errorf("read-only open: %v; read-write open: %v", errRO, errRW)
	}
	return errRO
}

func TestOpenRefusesBrokenPageTree(t *testing.T) {
	le := binary.LittleEndian
	branch := func(b []byte, ps, page, child uint64) {
		p := b[page*ps:]
		le.PutUint16(p[8:], 0x01) // branch
		le.PutUint16(p[10:], 1)   // one element
		le.PutUint32(p[12:], 0)   // no overflow
		le.PutUint32(p[16:], 16)  // key right after the element
		le.PutUint32(p[20:], 0)   // empty key
		le.PutUint64(p[24:], child)
	}
	cases := map[string]func(b []byte, ps, root, fl uint64){
		// bbolt's cursor would loop forever on these two.
		"root points at itself": func(b []byte, ps, root, fl uint64) { branch(b, ps, root, root) },
		"root points at the freelist": func(b []byte, ps, root, fl uint64) {
			branch(b, ps, root, fl)
		},
		"child past the high-water mark": func(b []byte, ps, root, fl uint64) {
			branch(b, ps, root, uint64(len(b))/ps+5)
		},
		"page claims another id": func(b []byte, ps, root, fl uint64) { le.PutUint64(b[root*ps:], root+1) },
		"root is a meta page":    func(b []byte, ps, root, fl uint64) { le.PutUint16(b[root*ps+8:], 0x04) },
		"element outside page": func(b []byte, ps, root, fl uint64) {
			le.PutUint32(b[root*ps+16+4:], uint32(ps)) // first leaf element's pos
		},
		"live page on the freelist": func(b []byte, ps, root, fl uint64) {
			p := b[fl*ps:]
			le.PutUint16(p[10:], 1)
			le.PutUint64(p[16:], root)
		},
	}
	for name, edit := range cases {
		err := corruptStore(t, edit)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if err := corruptStore(t, func([]byte, uint64, uint64, uint64) {}); err != nil {
		t.Fatalf("untouched store refused: %v", err)
	}
}

// A store with branch pages, overflow pages, inline buckets and a long
// freelist passes the check and reads back.
func TestCheckAcceptsLargeStore(t *testing.T) {
	s, p := newStore(t)
	var ws []Tensor
	for i := 0; i < 40; i++ {
		n := 3 + i*97
		ws = append(ws, Tensor{Name: "layer" + string(rune('a'+i%26)) + string(rune('0'+i/26)), Shape: []int{n}, Data: make([]float32, n)})
	}
	for step := 1; step <= 30; step++ {
		ws[0].Data[0] = float32(step)
		if err := s.Save(&Checkpoint{Step: step, Weights: ws}); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 20; j++ {
			s.LogMetrics(step*100+j, map[string]float64{"loss": float64(j)})
		}
		if err := s.Retain(3, 10); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, readOnly := range []bool{true, false} {
		st, err := open(p, readOnly)
		if err != nil {
			t.Fatal(err)
		}
		steps, _ := st.Steps()
		rows, _ := st.Metrics()
		ck, err := st.Latest()
		st.Close()
		if err != nil || !reflect.DeepEqual(steps, []int{10, 20, 28, 29, 30}) || len(rows) != 600 || ck.Weights[0].Data[0] != 30 {
			t.Fatalf("read back: steps %v, %d metric rows, %v", steps, len(rows), err)
		}
	}
	f, _ := os.Open(p)
	defer f.Close()
	fi, _ := f.Stat()
	if err := verifyBoltFile(f, fi.Size()); err != nil {
		t.Fatal(err)
	}
}

// A file whose meta pages are not bbolt's is not a run store, whatever its size.
func TestCheckForeignBytes(t *testing.T) {
	for _, n := range []int{8, 1500, 4096, 20000} {
		p := filepath.Join(t.TempDir(), "x.db")
		os.WriteFile(p, make([]byte, n), 0o644)
		if _, err := Open(p); !errors.Is(err, ErrNotRunStore) {
			t.Errorf("%d zero bytes: %v, want ErrNotRunStore", n, err)
		}
	}
}
