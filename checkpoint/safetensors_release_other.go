//go:build !linux

package checkpoint

// releaseMapped is a no-op where the kernel may keep the pages (see the
// Linux version).
func releaseMapped(*Store, string) {}
