//go:build !amd64

package model

// Elsewhere the float32 kernels stay scalar (exp_amd64.go).

func siluMulVec(g, u, o []float32) int { return 0 }

func expShiftVec(row []float32, mx, sum float64) (int, float64) { return 0, sum }

func scaleRowVec(row []float32, s float64) int { return 0 }

var hasAVX512 = false

func ropeHeads(x []float32, heads, dh int, cos, sin []float64, out []float32) {
	for h := 0; h < heads; h++ {
		ropeApply(x[h*dh:(h+1)*dh], cos, sin, false, out[h*dh:(h+1)*dh])
	}
}

// softmaxScaled is softmaxMasked(row, nil) after row[j] *= s (in float32).
func softmaxScaled(row []float32, s float32) {
	for j := range row {
		row[j] *= s
	}
	softmaxMasked(row, nil)
}
