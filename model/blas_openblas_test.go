//go:build (linux || darwin) && !noopenblas

package model

import "testing"

// The AVX-512 kernels are asked for only on amd64 CPUs that have AVX-512,
// and never over the user's own OPENBLAS_CORETYPE.
func TestOpenBLASCoreType(t *testing.T) {
	for _, c := range []struct {
		userSet bool
		goarch  string
		avx512  bool
		want    string
	}{
		{false, "amd64", true, "SkylakeX"},
		{true, "amd64", true, ""},
		{false, "amd64", false, ""},
		{false, "arm64", true, ""},
	} {
		if got := openBLASCoreType(c.userSet, c.goarch, c.avx512); got != c.want {
			t.Errorf("userSet %v, %s, avx512 %v: %q, want %q", c.userSet, c.goarch, c.avx512, got, c.want)
		}
	}
}
