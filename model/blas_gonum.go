//go:build noopenblas

package model

import "gonum.org/v1/gonum/blas/gonum"

// blasImpl is gonum's pure-Go BLAS, for machines without OpenBLAS.
var blasImpl = parallelBLAS{gonum.Implementation{}}

// BLASName says which BLAS the binary uses (reported by `remask bench`).
const BLASName = "gonum"
