//go:build !unix

package checkpoint

import (
	"fmt"
	"os"
)

// readMapping reads a tensor's bytes with ReadAt where there is no mmap,
// into one buffer reused across reads.
type readMapping struct {
	f      *os.File
	off, n int64
	buf    []byte
}

func mapRange(f *os.File, off, n int64) (mapping, error) {
	return &readMapping{f: f, off: off, n: n}, nil
}

func (m *readMapping) bytes(off, n int64) ([]byte, error) {
	if off < 0 || off+n > m.n {
		return nil, fmt.Errorf("bytes [%d, %d) outside the tensor's %d", off, off+n, m.n)
	}
	if int64(cap(m.buf)) < n {
		m.buf = make([]byte, n)
	}
	b := m.buf[:n]
	if _, err := m.f.ReadAt(b, m.off+off); err != nil {
		return nil, err
	}
	return b, nil
}

func (m *readMapping) close() error {
	m.buf = nil
	return nil
}
