package model

import (
	"math/rand/v2"
	"testing"
)

// The shapes of the PyTorch reference benchmark: tiny and small presets, batch 16,
// sequence 64, vocab 64.
var benchShapes = []struct {
	name string
	cfg  Config
}{
	{"tiny", Config{Vocab: 64, D: 128, Layers: 4, Heads: 4, FF: 384, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}},
	{"small", Config{Vocab: 64, D: 256, Layers: 6, Heads: 8, FF: 768, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}},
}

func benchBatch(B, L, V int) Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int, B*L)
	targets := make([]int, B*L)
	w := make([]float64, B*L)
	for i := range ids {
		ids[i] = 4 + rng.IntN(V-4)
		targets[i] = -1
		if rng.IntN(2) == 0 {
			targets[i], ids[i], w[i] = ids[i], 1, 1/float64(B*L)
		}
	}
	return Batch{IDs: ids, Targets: targets, Loss: func(lp []float64) (float64, []float64, error) {
		var l float64
		g := make([]float64, len(lp))
		for i := range lp {
			l -= w[i] * lp[i]
			g[i] = -w[i]
		}
		return l, g, nil
	}}
}

func BenchmarkTrainGraph(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			const B, L = 16, 64
			p, _ := New(s.cfg, 1)
			tg, err := NewTrainGraph(p, B, L)
			if err != nil {
				b.Fatal(err)
			}
			defer tg.Close()
			batch := benchBatch(B, L, s.cfg.Vocab)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := tg.Run(batch); err != nil {
					b.Fatal(err)
				}
				if _, err := tg.Grads(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(B*L)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

func BenchmarkForward(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			const B, L = 16, 64
			p, _ := New(s.cfg, 1)
			inf := NewInference(p)
			batch := benchBatch(B, L, s.cfg.Vocab)
			var out []float32
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				if out, err = inf.Forward(batch.IDs, B, L, nil, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(B*L)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
