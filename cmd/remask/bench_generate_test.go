package main

import (
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
	"github.com/remask/remask/trainer"
)

// BenchmarkGenerateSudoku is `remask bench --what sample --task sudoku4x4
// --n 256 --strategies low_confidence` as a Go benchmark (one Generate call
// over 256 prompts, untrained model, tiny and small), for profiling:
//
//	go test ./cmd/remask -run '^$' -bench GenerateSudoku/tiny -cpuprofile cpu.out
func BenchmarkGenerateSudoku(b *testing.B) {
	tok := data.NewDefaultTokenizer()
	exs, err := data.Load("sudoku4x4", "gen:256", 99)
	if err != nil {
		b.Fatal(err)
	}
	prompts := make([][]int, len(exs))
	for i, ex := range exs {
		if prompts[i], err = data.EncodePrompt(tok, ex); err != nil {
			b.Fatal(err)
		}
	}
	for _, preset := range []string{"tiny", "small"} {
		b.Run(preset, func(b *testing.B) {
			cfg := configs.Default()
			cfg.Data.Task = "sudoku4x4"
			cfg.Model.Preset = preset
			mc, err := trainer.ModelConfig(cfg, tok.Size())
			if err != nil {
				b.Fatal(err)
			}
			p, err := model.New(mc, 1)
			if err != nil {
				b.Fatal(err)
			}
			task, err := data.TaskByName("sudoku4x4")
			if err != nil {
				b.Fatal(err)
			}
			o := trainer.SampleOptions(cfg, tok, task)
			inf := model.NewInference(p)
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := rollout.Generate(inf, prompts, o, rand.New(rand.NewPCG(1, 0))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(prompts)*o.GenLength*b.N)/b.Elapsed().Seconds(), "tokens/s")
			// CPU seconds (user + system, all threads) per rollout: the work
			// done, which a loaded machine stretches less than the wall time.
			b.ReportMetric((processCPU()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}

// processCPU is the process's user and system CPU time in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
