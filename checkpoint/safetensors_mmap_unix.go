//go:build unix

package checkpoint

import (
	"fmt"
	"os"
	"syscall"
)

// mmapMapping is a read-only memory map of one tensor's bytes (from the page
// boundary at or before them). Its pages count in the process's resident
// memory only once read, and leave it at close.
type mmapMapping struct {
	data []byte // the mapped pages
	skip int64  // bytes before the tensor's first byte
}

func mapRange(f *os.File, off, n int64) (mapping, error) {
	if n == 0 {
		return &mmapMapping{}, nil
	}
	page := int64(os.Getpagesize())
	start := off - off%page
	length := n + off - start
	if int64(int(length)) != length {
		return nil, fmt.Errorf("tensor of %d bytes does not fit this platform's address space", n)
	}
	data, err := syscall.Mmap(int(f.Fd()), start, int(length), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &mmapMapping{data: data, skip: off - start}, nil
}

func (m *mmapMapping) bytes(off, n int64) ([]byte, error) {
	lo := m.skip + off
	return m.data[lo : lo+n], nil
}

func (m *mmapMapping) close() error {
	if m.data == nil {
		return nil
	}
	err := syscall.Munmap(m.data)
	m.data = nil
	return err
}
