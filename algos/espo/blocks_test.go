package espo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

// On a block model ESPO masks each answer block as it masks a sequence: x_u
// of its m positions in the first pass, the other m - x_u in the
// complement, weights scale (m+1)/x_u and scale (m+1)/(m - x_u); x
// stratified over the batch's blocks (u = completion*blocks + block).
func TestBlockMasksPerBlock(t *testing.T) {
	const bs, n = 4, 8
	var samples []algos.Sample
	for i := 0; i < 3; i++ {
		samples = append(samples, algos.Sample{Prompt: []int{2, 9}, Completion: []int{5, 6, 7, 8, 9, 10, 11, 12}})
	}
	m := Masker{NumMC: 1, ReduceVar: true, Tok: tok, BlockSize: bs}
	in, err := m.Masks(samples, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	d := in.Draws[0]
	units := 3 * 2
	for u, x := range d.Masked {
		if want := int(math.RoundToEven(float64(d.K)+float64(u)*5/float64(units))) % 5; x != want {
			t.Fatalf("unit %d: x %d, want %d", u, x, want)
		}
	}
	B, L := 3, 2*(2+n)
	for i := range samples {
		w := map[int]float64{}
		for j, r := range in.Tokens[i][0].Rows {
			w[r] = in.Tokens[i][0].W[j]
		}
		for b := 0; b < 2; b++ {
			x := d.Masked[i*2+b]
			got0, got1 := 0, 0
			for k := b * bs; k < (b+1)*bs; k++ {
				r0, r1 := i*L+L/2+2+k, (B+i)*L+L/2+2+k
				if in.IDs[r0] == tok.Mask {
					got0++
					if math.Abs(w[r0]-0.5*5/float64(x)) > 1e-12 {
						t.Fatalf("pass 0 weight %v, want %v", w[r0], 0.5*5/float64(x))
					}
				}
				if in.IDs[r1] == tok.Mask {
					got1++
					if math.Abs(w[r1]-0.5*5/float64(bs-x)) > 1e-12 {
						t.Fatalf("complement weight %v, want %v", w[r1], 0.5*5/float64(bs-x))
					}
				}
			}
			if got0 != x || got1 != bs-x {
				t.Fatalf("completion %d block %d: %d and %d masked, want %d and %d", i, b, got0, got1, x, bs-x)
			}
		}
	}
}
