//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package checkpoint

import (
	"os"
	"time"
)

// lockShared does nothing here: bbolt's own lock still keeps writers apart,
// and only the pre-open check goes unlocked.
func lockShared(f *os.File, timeout time.Duration) error { return nil }
