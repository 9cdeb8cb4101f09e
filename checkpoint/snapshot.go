package checkpoint

import (
	"fmt"
	"io"
	"os"
	"time"
)

// OnWarning receives what the store wants a person to know but that does not
// stop it: a damaged meta page it opened past, a live run it read a snapshot
// of. The CLI routes it to its log; by default it is dropped.
var OnWarning = func(msg string) {}

// snapshotAttempts bounds the copies tried while a run keeps committing.
// Between attempts the reader waits a little longer each time (1 ms, 2 ms,
// ...; about 1.3 s in all): a run that commits every few milliseconds, as
// a tiny model's steps with log_every 1 do, otherwise lands a commit in every
// copy made back to back.
const snapshotAttempts = 50

// copyCommitted copies the part of the bbolt file at path that its newest
// valid meta page references into dst, without taking a lock, so that a run
// store can be read while its run writes it. It is consistent because of how
// bbolt commits: a transaction writes only pages that the committed meta does
// not reference, then the meta page; pages the committed meta references are
// overwritten only by a later transaction, which first commits a meta page
// with another txid. So when the chosen meta's txid is the same before and
// after the copy, every page it references was copied whole. Otherwise the
// copy is tried again.
func copyCommitted(path string, dst *os.File) (txid uint64, err error) {
	src, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open run store: %w", err)
	}
	defer src.Close()
	for attempt := 0; attempt < snapshotAttempts; attempt++ {
		fi, err := src.Stat()
		if err != nil {
			return 0, err
		}
		before, err := chooseMeta(src, fi.Size())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		// the file is at least as long as the committed pages: they were
		// written before the meta page that names them
		fi, err = src.Stat()
		if err != nil {
			return 0, err
		}
		size := fi.Size()
		if err := dst.Truncate(0); err != nil {
			return 0, err
		}
		if _, err := io.Copy(io.NewOffsetWriter(dst, 0), io.NewSectionReader(src, 0, size)); err != nil {
			return 0, fmt.Errorf("copy %s: %w", path, err)
		}
		after, err := chooseMeta(src, size)
		if err == nil && after.txid == before.txid {
			return before.txid, nil
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	return 0, fmt.Errorf("%s: %w (its run committed during each of %d snapshot copies)", path, ErrInUse, snapshotAttempts)
}

// openSnapshot opens a read-only copy of the last committed state of a store
// that a run holds open for writing. The copy lives in the temp folder until
// Close.
func openSnapshot(path string) (*Store, error) {
	tmp, err := os.CreateTemp("", "remask-snapshot-*.db")
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", path, err)
	}
	name := tmp.Name()
	txid, err := copyCommitted(path, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	var st *Store
	if err == nil {
		st, err = openFile(name, true)
	}
	if err != nil {
		os.Remove(name)
		return nil, err
	}
	st.path, st.snapshot = path, name
	OnWarning(fmt.Sprintf("%s is being written by a run: reading its last committed state (transaction %d)", path, txid))
	return st, nil
}

// metaWarning says when bbolt will open a file at its older meta page
// because the other one is damaged: the newest commit may be lost.
func metaWarning(f io.ReaderAt, size int64) string {
	chosen, err := chooseMeta(f, size)
	if err != nil {
		return ""
	}
	ps := int64(chosen.pageSize)
	a, b := readMeta(f, 0), readMeta(f, ps)
	if a.valid && b.valid {
		return ""
	}
	bad := 0
	if a.valid {
		bad = 1
	}
	return fmt.Sprintf("meta page %d is damaged: opening at transaction %d, which may be older than the last one written (the newest checkpoint or metrics may be missing)", bad, chosen.txid)
}
