package checkpoint

import (
	"fmt"
	"math"
	"slices"
)

// Stats summarise a tensor; moments skip NaN and Inf, which are counted.
type Stats struct {
	Name  string  `json:"name"`
	Shape []int   `json:"shape"`
	DType string  `json:"dtype"`
	Numel int     `json:"numel"`
	Norm  float64 `json:"norm"`
	Mean  float64 `json:"mean"`
	Std   float64 `json:"std"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	NaN   int     `json:"nan"`
	Inf   int     `json:"inf"`
}

// TensorStats computes Stats in float64.
func TensorStats(t Tensor) Stats {
	s := Stats{Name: t.Name, Shape: t.Shape, DType: "float32", Numel: len(t.Data), Min: math.Inf(1), Max: math.Inf(-1)}
	var sum, sumSq float64
	n := 0
	for _, v := range t.Data {
		x := float64(v)
		switch {
		case math.IsNaN(x):
			s.NaN++
			continue
		case math.IsInf(x, 0):
			s.Inf++
			continue
		}
		n++
		sum += x
		sumSq += x * x
		s.Min = math.Min(s.Min, x)
		s.Max = math.Max(s.Max, x)
	}
	if n == 0 {
		s.Min, s.Max = 0, 0
		return s
	}
	s.Norm = math.Sqrt(sumSq)
	s.Mean = sum / float64(n)
	// A second pass for the variance: E[x²]-mean² cancels badly when the
	// mean is large against the spread (a bias or a LayerNorm gain near 1).
	var dev float64
	for _, v := range t.Data {
		if x := float64(v); !math.IsNaN(x) && !math.IsInf(x, 0) {
			dev += (x - s.Mean) * (x - s.Mean)
		}
	}
	s.Std = math.Sqrt(dev / float64(n))
	return s
}

// TensorDiff is how one tensor changed between two checkpoints.
type TensorDiff struct {
	Name        string  `json:"name"`
	RelChange   float64 `json:"rel_change"` // ||b - a|| / ||a||, or ||b - a|| when a is all zeros
	MaxAbsDiff  float64 `json:"max_abs_diff"`
	OnlyIn      string  `json:"only_in,omitempty"` // "a" or "b" when the other lacks it
	ShapeChange string  `json:"shape_change,omitempty"`
}

// Diff compares the weights of two checkpoints tensor by tensor, in a's
// order, then the tensors only b has.
func Diff(a, b *Checkpoint) []TensorDiff {
	bt := map[string]Tensor{}
	for _, t := range b.Weights {
		bt[t.Name] = t
	}
	var out []TensorDiff
	seen := map[string]bool{}
	for _, ta := range a.Weights {
		seen[ta.Name] = true
		tb, ok := bt[ta.Name]
		if !ok {
			out = append(out, TensorDiff{Name: ta.Name, OnlyIn: "a"})
			continue
		}
		if len(ta.Data) != len(tb.Data) || !slices.Equal(ta.Shape, tb.Shape) {
			out = append(out, TensorDiff{Name: ta.Name, ShapeChange: shapeStr(ta.Shape) + " -> " + shapeStr(tb.Shape)})
			continue
		}
		var num, den, maxAbs float64
		for i := range ta.Data {
			d := float64(tb.Data[i]) - float64(ta.Data[i])
			num += d * d
			den += float64(ta.Data[i]) * float64(ta.Data[i])
			maxAbs = math.Max(maxAbs, math.Abs(d))
		}
		rel := math.Sqrt(num)
		if den > 0 {
			rel /= math.Sqrt(den)
		}
		out = append(out, TensorDiff{Name: ta.Name, RelChange: rel, MaxAbsDiff: maxAbs})
	}
	for _, t := range b.Weights {
		if !seen[t.Name] {
			out = append(out, TensorDiff{Name: t.Name, OnlyIn: "b"})
		}
	}
	return out
}

func shapeStr(s []int) string { return fmt.Sprint(s) }
