//go:build !linux

package sandbox

import (
	"context"
	"runtime"
	"testing"
)

func TestNotAvailable(t *testing.T) {
	_, err := Run(context.Background(), []string{"true"}, nil, nil, DefaultLimits())
	if want := "code sandbox not available on " + runtime.GOOS; err == nil || err.Error() != want {
		t.Errorf("Run: %v, want %q", err, want)
	}
}
