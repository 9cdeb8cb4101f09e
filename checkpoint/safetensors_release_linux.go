package checkpoint

import (
	"os"
	"syscall"
	"unsafe"
)

// releaseMapped drops the pages of the store's file that bbolt's read-only
// map has touched from this process's resident memory (MADV_DONTNEED on a
// shared file map: the data stays in the file and the page cache, a later
// read faults it back in). A streamed import calls it between
// transactions, when no transaction holds slices into the map: bbolt
// rewrites a leaf's earlier records when a later key lands in it, reading
// them through the map, and those pages would otherwise stay counted
// against the import until bbolt next remaps the file.
// file is the store's file under its current name (bbolt's Path keeps the
// name it was opened under, which Create renamed).
func releaseMapped(s *Store, file string) {
	fi, err := os.Stat(file)
	if err != nil {
		return
	}
	page := int64(os.Getpagesize())
	n := fi.Size() / page * page
	if n == 0 {
		return
	}
	// the map's address, which bbolt gives as a uintptr; the map is not Go
	// memory, so the pointer is not the GC's to track
	info := s.db.Info()
	base := *(*unsafe.Pointer)(unsafe.Pointer(&info.Data))
	data := unsafe.Slice((*byte)(base), n)
	syscall.Madvise(data, syscall.MADV_DONTNEED)
}
