package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/trainer"
)

// newBenchCmd times the same things as the team's PyTorch reference script
// (LLaDA's training step, forward and generate loop in PyTorch) on the same
// shapes and prints the same JSON fields, so the two can be compared as a
// ratio in one run.
func newBenchCmd() *cobra.Command {
	var (
		preset                            string
		batch, seq, vocab, threads, iters int
		warmup, n                         int
		what, ref, dataSpec, taskName     string
		strategies                        string
		sampleBatch                       int
		thr                               float64
		sf                                samplingFlags
	)
	cmd := &cobra.Command{
		Use:   "bench --preset P --batch B --seq L",
		Short: "Time a training step and a forward (fields of torch_ref.py), or every sampler (--what sample); JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch what {
			case "sample":
				if ref != "" && cmd.Flags().Changed("preset") {
					return fmt.Errorf("--preset shapes the untrained model; --ckpt %s has its own shape", ref)
				}
				if sampleBatch < 1 {
					return fmt.Errorf("--sample-batch %d: want >= 1", sampleBatch)
				}
				return benchSample(sampleBench{ref: ref, preset: preset, data: dataSpec, task: taskName, n: n, thr: thr,
					strategies: strategies, batch: sampleBatch}, &sf)
			case "model":
			default:
				return fmt.Errorf("--what %q: want model or sample", what)
			}
			shape, ok := configs.Presets()[preset]
			if !ok {
				return fmt.Errorf("--preset %q: want one of tiny, small, base", preset)
			}
			if batch < 1 || seq < 1 || vocab < 8 || iters < 1 || warmup < 0 || threads < 0 {
				return fmt.Errorf("bench: need --batch, --seq, --iters >= 1, --vocab >= 8, --warmup and --threads >= 0")
			}
			// bounds that keep a typo from exhausting memory or running for days
			if batch*seq > 1<<20 || seq > 1<<16 || vocab > 1<<20 || iters > 100000 || warmup > 100000 || threads > 4096 {
				return fmt.Errorf("bench: at most 1048576 tokens (--batch x --seq), --seq 65536, --vocab 1048576, --iters and --warmup 100000, --threads 4096")
			}
			if threads > 0 {
				runtime.GOMAXPROCS(threads)
			}
			mc := model.Config{Vocab: vocab, D: shape.D, Layers: shape.Layers, Heads: shape.Heads, FF: shape.FF, MaxLen: seq, RopeTheta: 10000, NormEps: 1e-5}
			p, err := model.New(mc, 0)
			if err != nil {
				return err
			}
			tr := trainer.NewTrainer(p, trainer.NewAdamW(p, 0.9, 0.999, 1e-8, 0.1), trainer.Schedule{Kind: "constant", Peak: 1e-4}, 1.0)
			defer tr.Close()
			rng := rand.New(rand.NewPCG(0, 0))
			seqs := make([]data.Sequence, batch)
			for i := range seqs {
				ids := make([]int, seq)
				for j := range ids {
					ids[j] = 4 + rng.IntN(vocab-4)
				}
				seqs[i] = data.Sequence{IDs: ids}
			}
			obj := trainer.MDLM{MaskID: 1}
			step := 0
			trainStep := func() error {
				b, _, err := obj.Build(rng, seqs)
				if err != nil {
					return err
				}
				_, err = tr.Update(step, batch, seq, b)
				step++
				return err
			}
			inf := model.NewInference(p)
			ids := make([]int, 0, batch*seq)
			for _, s := range seqs {
				ids = append(ids, s.IDs...)
			}
			var out []float32
			fwdStep := func() error {
				var err error
				out, err = inf.Forward(ids, batch, seq, nil, out)
				return err
			}
			n := float64(p.NumParams())
			tokens := float64(batch * seq)
			attn := float64(4 * shape.Layers * seq * shape.D)
			for _, m := range []struct {
				what  string
				fn    func() error
				flops float64
			}{
				{"train", trainStep, tokens * (6*n + 3*attn)},
				{"fwd", fwdStep, tokens * (2*n + attn)},
			} {
				for i := 0; i < warmup; i++ {
					if err := m.fn(); err != nil {
						return err
					}
				}
				ts := make([]float64, iters)
				for i := range ts {
					t0 := time.Now()
					if err := m.fn(); err != nil {
						return err
					}
					ts[i] = time.Since(t0).Seconds()
				}
				sort.Float64s(ts)
				med := ts[len(ts)/2]
				b, _ := json.Marshal(map[string]any{
					"impl": "remask-gorgonia-" + model.BLASName(), "what": m.what, "preset": preset, "params": int(n),
					"batch": batch, "seq": seq, "vocab": vocab, "threads": runtime.GOMAXPROCS(0),
					"ms_median": round3(med * 1e3), "ms_min": round3(ts[0] * 1e3),
					"tokens_per_s": round1(tokens / med), "gflops": round2(m.flops / med / 1e9),
				})
				fmt.Println(string(b))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&preset, "preset", "tiny", "model preset: tiny, small, base (sample: of the untrained model)")
	cmd.Flags().IntVar(&batch, "batch", 16, "sequences per batch")
	cmd.Flags().IntVar(&seq, "seq", 64, "sequence length")
	cmd.Flags().IntVar(&vocab, "vocab", 64, "vocabulary size (torch_ref.py uses 64)")
	cmd.Flags().IntVar(&threads, "threads", 0, "cores to use (0 = all)")
	cmd.Flags().IntVar(&iters, "iters", 20, "timed iterations (the median is reported)")
	cmd.Flags().IntVar(&warmup, "warmup", 3, "untimed iterations first")
	cmd.Flags().StringVar(&what, "what", "model", "model (a training step and a forward) or sample (every sampling strategy and the rollout pool)")
	cmd.Flags().StringVar(&ref, "ckpt", "", "sample: the model, RUN.db[:STEP] (default: untrained tiny)")
	cmd.Flags().StringVar(&dataSpec, "data", "gen:256", "sample: prompts, a task file or gen:N")
	cmd.Flags().StringVar(&taskName, "task", "", "sample: task of the prompts (default: the run's)")
	cmd.Flags().IntVar(&n, "n", 256, "sample: number of prompts")
	cmd.Flags().Float64Var(&thr, "bench-threshold", 0.9, "sample: the threshold of the threshold strategies")
	cmd.Flags().StringVar(&strategies, "strategies", "", "sample: comma-separated strategies to time, e.g. low_confidence (default all, then the pool)")
	cmd.Flags().IntVar(&sampleBatch, "sample-batch", 256, "sample: prompts per Generate call (256: the PyTorch reference's batch)")
	sf.register(cmd)
	return cmd
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
