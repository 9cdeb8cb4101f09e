//go:build !amd64

package model

// Elsewhere the float32 kernels stay scalar (exp_amd64.go).

func siluMulVec(g, u, o []float32) int { return 0 }

func expShiftVec(row []float32, mx, sum float64) (int, float64) { return 0, sum }
