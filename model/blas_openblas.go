//go:build !noopenblas

package model

// #cgo LDFLAGS: -lopenblas
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// blasImpl is OpenBLAS through gonum's netlib binding: 3-4x gonum's pure Go on
// the matmul-heavy training step (DESIGN.md section 2). The cgo LDFLAGS above
// link it, so no CGO_LDFLAGS is needed to build. Build with -tags noopenblas
// on machines without libopenblas-dev.
var blasImpl = netlib.Implementation{}

// BLASName says which BLAS the binary uses (reported by `remask bench`).
const BLASName = "openblas"
