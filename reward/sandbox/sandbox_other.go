//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"runtime"
)

// The sandbox is built on Linux namespaces, rlimits set by raw system calls
// and a re-executed helper; elsewhere it runs nothing, and says so.

// MaybeChild does nothing here: Run never starts the helper.
func MaybeChild() {}

func (s *Sandbox) run(ctx context.Context, argv []string, files map[string][]byte, stdin []byte) (Result, error) {
	return Result{}, fmt.Errorf("code sandbox not available on %s", runtime.GOOS)
}
