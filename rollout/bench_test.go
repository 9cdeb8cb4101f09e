package rollout

import (
	"context"
	"fmt"
	"testing"

	"github.com/remask/remask/model"
)

func benchModel(b *testing.B) *model.Params {
	p, err := model.New(model.Config{Vocab: 100, D: 128, Layers: 4, Heads: 4, FF: 384, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 1)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchPrompts() [][]int {
	var ps [][]int
	for i := 0; i < 32; i++ {
		p := []int{2}
		for j := 0; j < 17; j++ {
			p = append(p, 4+(i*7+j*3)%20)
		}
		ps = append(ps, p)
	}
	return ps
}

// BenchmarkPool is the rollout pool's throughput on 1 and 2 workers
// (sudoku-shaped prompts: 18 prompt tokens, 16 generated, groups of 4).
func BenchmarkPool(b *testing.B) {
	p := benchModel(b)
	o := Options{GenLength: 16, Steps: 16, Remasking: "low_confidence", MaskID: 1, EOSID: 3}
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			pool, err := NewPool(PoolConfig{Workers: w, Group: 4, Seed: 1, Options: o})
			if err != nil {
				b.Fatal(err)
			}
			ps := benchPrompts()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := pool.Rollout(context.Background(), &Snapshot{Params: p}, i, ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ps)*4*16*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkStrategies: tokens/s and forwards per completion of each sampler
// on the same prompts (an untrained model: confidence-dependent strategies
// such as threshold decoding are measured on a trained one by
// `remask bench --what sample`).
func BenchmarkStrategies(b *testing.B) {
	p := benchModel(b)
	inf := model.NewInference(p)
	ps := benchPrompts()
	for _, s := range []struct {
		name string
		o    Options
	}{
		{"low_confidence", Options{GenLength: 16, Steps: 16, Remasking: "low_confidence"}},
		{"random", Options{GenLength: 16, Steps: 16, Remasking: "random"}},
		{"margin", Options{GenLength: 16, Steps: 16, Remasking: "low_confidence", Confidence: "margin"}},
		{"neg_entropy", Options{GenLength: 16, Steps: 16, Remasking: "low_confidence", Confidence: "neg_entropy"}},
		{"block4+prefix", Options{GenLength: 16, Steps: 16, Block: 4, Remasking: "low_confidence", Cache: "prefix"}},
		{"block4+dual", Options{GenLength: 16, Steps: 16, Block: 4, Remasking: "low_confidence", Cache: "dual"}},
	} {
		b.Run(s.name, func(b *testing.B) {
			o := s.o
			o.MaskID, o.EOSID = 1, 3
			nfe := 0
			for i := 0; i < b.N; i++ {
				res, err := Generate(inf, ps, o, SampleRNG(1, i, 0, 0))
				if err != nil {
					b.Fatal(err)
				}
				nfe += res.NFE
			}
			b.ReportMetric(float64(len(ps)*16*b.N)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(float64(nfe)/float64(b.N), "NFE")
		})
	}
}
