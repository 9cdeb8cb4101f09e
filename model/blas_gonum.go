//go:build !(linux || darwin) || noopenblas

package model

import "errors"

// loadOpenBLAS is not built in here (the noopenblas tag, or a system where
// the binary does not dlopen OpenBLAS): the pure-Go BLAS serves.
func loadOpenBLAS() (impl blasBase, info string, err error) {
	return nil, "", errors.New("OpenBLAS loading not built in (noopenblas tag, or not Linux or macOS)")
}
