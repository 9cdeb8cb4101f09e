//go:build !noopenblas

package model

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// OpenBLAS through gonum's netlib binding is 3-4x gonum's pure Go on the
// matmul-heavy training step (DESIGN.md section 2). The cgo LDFLAGS above link
// it, so no CGO_LDFLAGS is needed to build; build with -tags noopenblas on
// machines without libopenblas-dev.
//
// OpenBLAS's own threads are turned off: the many small per-head products of
// attention run on goroutines already, and OpenBLAS threads spinning beside
// them cost more than they gave (pprof: a third of the time in libc). Large
// products are split by rows across goroutines instead (parallelBLAS).
var blasImpl = parallelBLAS{netlib.Implementation{}}

func init() { C.openblas_set_num_threads(1) }

// BLASName says which BLAS the binary uses (reported by `remask bench`).
const BLASName = "openblas"
