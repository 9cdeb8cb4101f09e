package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"
)

// verifyBoltFile walks a bbolt file's page tree the way bbolt's cursors will
// walk it, but through ReadAt instead of the mmap. It is needed because bbolt
// trusts its pages: a corrupt branch page that points back at itself makes a
// cursor loop forever while its stack grows, and a page past the end of the
// file faults. Neither can be recovered from, so such files are refused here
// before bbolt sees them. It refuses: no valid meta page (ErrNotRunStore);
// pages past the high-water mark or the end of the file, a page reached twice
// (a cycle or shared subtree), a page of the wrong type, an element outside
// its page, a free page still in use, no synced freelist (ErrCorrupt). It
// reads only page headers, element tables and bucket headers, not tensor
// bytes, so it costs a few reads per page of tree.
//
// The layout used, from bbolt's internal/common package: every page starts
// with a 16-byte header (id u64, flags u16, count u16, overflow u32); the meta
// follows the header of pages 0 and 1 (magic u32, version u32, page size u32,
// flags u32, root bucket {root u64, sequence u64}, freelist u64, high-water
// mark u64, txid u64, checksum u64 = FNV-1a of the 56 bytes before it); a
// branch element is {pos u32, ksize u32, pgid u64} and a leaf element
// {flags u32, pos u32, ksize u32, vsize u32}, pos counted from the element's
// own first byte; a bucket's value is {root u64, sequence u64}, followed by
// an inline leaf page when root is 0.
func verifyBoltFile(f io.ReaderAt, size int64) error {
	m, err := chooseMeta(f, size)
	if err != nil {
		return err
	}
	ps := uint64(m.pageSize)
	if ps < 1024 || ps > 1<<24 {
		return corrupt("page size %d", ps)
	}
	if m.hwm > uint64(size)/ps {
		return corrupt("file is %d bytes but its pages reach %d (truncated?)", size, m.hwm*ps)
	}
	if m.freelist == noFreelist {
		return corrupt("no freelist page (remask always writes one)")
	}
	w := &pageWalker{r: f, ps: ps, hwm: m.hwm, used: newBitset(m.hwm)}
	if m.root == 0 {
		return corrupt("root bucket has no page")
	}
	if err := w.tree(m.root, 0); err != nil {
		return err
	}
	return w.freelist(m.freelist)
}

const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	elemSize       = 16
	flagBranch     = 0x01
	flagLeaf       = 0x02
	flagFreelist   = 0x10
	bucketEntry    = 0x01
	noFreelist     = ^uint64(0)
	// Deeper than any real tree: bbolt's trees are a few levels per bucket and
	// remask nests buckets two deep.
	maxWalkDepth = 64
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w (%s)", ErrCorrupt, fmt.Sprintf(format, args...))
}

type boltMeta struct {
	valid                     bool
	pageSize                  uint32
	root, freelist, hwm, txid uint64
}

// readMeta decodes the meta of the page at off; valid says whether its
// magic, version and checksum hold.
func readMeta(r io.ReaderAt, off int64) boltMeta {
	var b [pageHeaderSize + 64]byte
	if n, _ := r.ReadAt(b[:], off); n < len(b) {
		return boltMeta{}
	}
	m := b[pageHeaderSize:]
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(m[:56])
	return boltMeta{
		valid:    le.Uint32(m[0:]) == boltMagic && le.Uint32(m[4:]) == boltVersion && le.Uint64(m[56:]) == h.Sum64(),
		pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:]),
	}
}

// chooseMeta picks the meta bbolt will use: the page size from meta 0, or
// else from the first valid meta 1 found at 1 KiB, 2 KiB, ... 16 MiB; then
// of the two metas at that page size the one with the higher txid if it is
// valid, else the other one.
func chooseMeta(r io.ReaderAt, size int64) (boltMeta, error) {
	var pageSize uint32
	if size >= 4096 {
		if m := readMeta(r, 0); m.valid {
			pageSize = m.pageSize
		}
	}
	for i := 0; pageSize == 0 && i <= 14; i++ {
		pos := int64(1024) << i
		if pos >= size-1024 {
			break
		}
		if m := readMeta(r, pos); m.valid {
			pageSize = m.pageSize
		}
	}
	if pageSize == 0 {
		return boltMeta{}, fmt.Errorf("%w (no valid bbolt meta page)", ErrNotRunStore)
	}
	a, b := readMeta(r, 0), readMeta(r, int64(pageSize))
	if b.txid > a.txid {
		a, b = b, a
	}
	switch {
	case a.valid:
		return a, nil
	case b.valid:
		return b, nil
	}
	return boltMeta{}, fmt.Errorf("%w (no valid bbolt meta page at page size %d)", ErrNotRunStore, pageSize)
}

type pageWalker struct {
	r    io.ReaderAt
	ps   uint64
	hwm  uint64
	used bitset
}

type pageHeader struct {
	id, overflow uint64
	flags, count uint16
}

func (w *pageWalker) read(off, n uint64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := w.r.ReadAt(b, int64(off)); err != nil {
		return nil, corrupt("read %d bytes at offset %d: %v", n, off, err)
	}
	return b, nil
}

// page reads the header of page id and marks it and its overflow pages used.
func (w *pageWalker) page(id uint64) (pageHeader, error) {
	if id < 2 || id >= w.hwm {
		return pageHeader{}, corrupt("page %d outside 2..%d", id, w.hwm-1)
	}
	b, err := w.read(id*w.ps, pageHeaderSize)
	if err != nil {
		return pageHeader{}, err
	}
	le := binary.LittleEndian
	h := pageHeader{id: le.Uint64(b), flags: le.Uint16(b[8:]), count: le.Uint16(b[10:]), overflow: uint64(le.Uint32(b[12:]))}
	if h.id != id {
		return h, corrupt("page %d says it is page %d", id, h.id)
	}
	if h.overflow >= w.hwm-id {
		return h, corrupt("page %d runs %d pages past the high-water mark %d", id, h.overflow, w.hwm)
	}
	for p := id; p <= id+h.overflow; p++ {
		if w.used.has(p) {
			return h, corrupt("page %d is reached twice", p)
		}
		w.used.set(p)
	}
	return h, nil
}

// tree checks the B+tree rooted at page id and every bucket below it.
func (w *pageWalker) tree(id uint64, depth int) error {
	if depth > maxWalkDepth {
		return corrupt("page tree deeper than %d at page %d", maxWalkDepth, id)
	}
	h, err := w.page(id)
	if err != nil {
		return err
	}
	span := (h.overflow + 1) * w.ps
	table := uint64(h.count) * elemSize
	if pageHeaderSize+table > span {
		return corrupt("page %d: %d elements do not fit", id, h.count)
	}
	elems, err := w.read(id*w.ps+pageHeaderSize, table)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	switch h.flags {
	case flagBranch:
		if h.count == 0 {
			return corrupt("branch page %d is empty", id)
		}
		for i := uint64(0); i < uint64(h.count); i++ {
			e := elems[i*elemSize:]
			at := pageHeaderSize + i*elemSize
			if at+uint64(le.Uint32(e))+uint64(le.Uint32(e[4:])) > span {
				return corrupt("branch page %d element %d: key outside the page", id, i)
			}
			if err := w.tree(le.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		}
	case flagLeaf:
		for i := uint64(0); i < uint64(h.count); i++ {
			e := elems[i*elemSize:]
			at := pageHeaderSize + i*elemSize
			kv := at + uint64(le.Uint32(e[4:]))
			vStart := kv + uint64(le.Uint32(e[8:]))
			vEnd := vStart + uint64(le.Uint32(e[12:]))
			if vEnd > span {
				return corrupt("leaf page %d element %d: key/value outside the page", id, i)
			}
			if le.Uint32(e)&bucketEntry == 0 {
				continue
			}
			v, err := w.read(id*w.ps+vStart, vEnd-vStart)
			if err != nil {
				return err
			}
			if err := w.bucket(v, depth+1); err != nil {
				return err
			}
		}
	default:
		return corrupt("page %d has type flags %#x, want a branch or leaf page", id, h.flags)
	}
	return nil
}

// bucket checks a bucket value: a root page, or an inline leaf page.
func (w *pageWalker) bucket(v []byte, depth int) error {
	if depth > maxWalkDepth {
		return corrupt("buckets nested deeper than %d", maxWalkDepth)
	}
	if len(v) < 16 {
		return corrupt("bucket value of %d bytes", len(v))
	}
	if root := binary.LittleEndian.Uint64(v); root != 0 {
		return w.tree(root, depth)
	}
	p := v[16:]
	le := binary.LittleEndian
	if len(p) < pageHeaderSize || le.Uint16(p[8:]) != flagLeaf {
		return corrupt("inline bucket without a leaf page")
	}
	n := uint64(le.Uint16(p[10:]))
	if pageHeaderSize+n*elemSize > uint64(len(p)) {
		return corrupt("inline bucket: %d elements do not fit", n)
	}
	for i := uint64(0); i < n; i++ {
		at := pageHeaderSize + i*elemSize
		e := p[at:]
		vStart := at + uint64(le.Uint32(e[4:])) + uint64(le.Uint32(e[8:]))
		vEnd := vStart + uint64(le.Uint32(e[12:]))
		if vEnd > uint64(len(p)) {
			return corrupt("inline bucket element %d outside its page", i)
		}
		if le.Uint32(e)&bucketEntry != 0 {
			if err := w.bucket(p[vStart:vEnd], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// freelist checks the freelist page and that no free page is in use; bbolt
// would otherwise hand a live page out for a new write.
func (w *pageWalker) freelist(id uint64) error {
	h, err := w.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if h.flags != flagFreelist {
		return corrupt("freelist page %d has type flags %#x", id, h.flags)
	}
	span := (h.overflow + 1) * w.ps
	off := id*w.ps + pageHeaderSize
	count := uint64(h.count)
	if count == 0xFFFF { // the real count is in the first slot
		b, err := w.read(off, 8)
		if err != nil {
			return err
		}
		count = binary.LittleEndian.Uint64(b)
		off += 8
	}
	if count > (span-(off-id*w.ps))/8 {
		return corrupt("freelist page %d: %d ids do not fit", id, count)
	}
	free := newBitset(w.hwm)
	const chunk = 1 << 16
	for done := uint64(0); done < count; {
		n := min(count-done, chunk)
		b, err := w.read(off+8*done, 8*n)
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			p := binary.LittleEndian.Uint64(b[8*i:])
			switch {
			case p < 2 || p >= w.hwm:
				return corrupt("free page %d outside 2..%d", p, w.hwm-1)
			case w.used.has(p):
				return corrupt("page %d is both free and in use", p)
			case free.has(p):
				return corrupt("page %d is freed twice", p)
			}
			free.set(p)
		}
		done += n
	}
	return nil
}

type bitset []uint64

func newBitset(n uint64) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }

// checkFile verifies the file at path under a shared lock, so that a writer
// in the middle of a commit is reported as in use rather than as corruption.
func checkFile(path string, wait time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open run store: %w", err)
	}
	defer f.Close() // also releases the lock
	if err := lockShared(f, wait); err != nil {
		if errors.Is(err, ErrInUse) {
			return fmt.Errorf("%s: %w", path, err)
		}
		return fmt.Errorf("open run store %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open run store: %w", err)
	}
	if err := verifyBoltFile(f, fi.Size()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if w := metaWarning(f, fi.Size()); w != "" {
		OnWarning(path + ": " + w)
	}
	return nil
}
