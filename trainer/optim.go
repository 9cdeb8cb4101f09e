package trainer

import (
	"fmt"
	"math"

	"github.com/remask/remask/model"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter): the decay
// is applied to the weights directly, w -= lr * wd * w, not folded into the
// gradient. Norm gains (1-D tensors) are not decayed, as in LLaMA-style
// training: decaying them pulls every layer's scale towards zero.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	Step                           int         // updates done so far
	M, V                           [][]float32 // first and second moments, one per tensor
}

// NewAdamW makes zeroed moments for p.
func NewAdamW(p *model.Params, beta1, beta2, eps, wd float64) *AdamW {
	a := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: wd}
	for _, t := range p.Tensors {
		a.M = append(a.M, make([]float32, len(t.Data)))
		a.V = append(a.V, make([]float32, len(t.Data)))
	}
	return a
}

// Update applies one step with learning rate lr to every tensor of p.
func (a *AdamW) Update(p *model.Params, grads [][]float32, lr float64) error {
	if len(grads) != len(p.Tensors) {
		return fmt.Errorf("adamw: %d gradients for %d tensors", len(grads), len(p.Tensors))
	}
	a.Step++
	bc1 := 1 - math.Pow(a.Beta1, float64(a.Step))
	bc2 := 1 - math.Pow(a.Beta2, float64(a.Step))
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	for i, t := range p.Tensors {
		g, m, v, w := grads[i], a.M[i], a.V[i], t.Data
		decay := float32(1)
		if len(t.Shape) > 1 {
			decay = float32(1 - lr*a.WeightDecay)
		}
		stepSize := float32(lr / bc1)
		sqrtBC2 := float32(math.Sqrt(bc2))
		eps := float32(a.Eps)
		for j := range w {
			m[j] = b1*m[j] + (1-b1)*g[j]
			v[j] = b2*v[j] + (1-b2)*g[j]*g[j]
			w[j] = w[j]*decay - stepSize*m[j]/(float32(math.Sqrt(float64(v[j])))/sqrtBC2+eps)
		}
	}
	return nil
}

// ClipGlobalNorm scales every gradient by maxNorm/norm when the global L2
// norm exceeds maxNorm (maxNorm <= 0: no clipping). It returns the norm
// before clipping.
func ClipGlobalNorm(grads [][]float32, maxNorm float64) float64 {
	var ss float64
	for _, g := range grads {
		for _, x := range g {
			ss += float64(x) * float64(x)
		}
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 && norm > maxNorm {
		s := float32(maxNorm / norm)
		for _, g := range grads {
			for j := range g {
				g[j] *= s
			}
		}
	}
	return norm
}
