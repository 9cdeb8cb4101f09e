package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
	natsrollout "github.com/remask/remask/rollout/nats"
	"github.com/remask/remask/trainer"
)

// BenchmarkNATSRollout is one RL step's rollout, with a new policy snapshot
// every iteration (stored, fetched by every worker, hash-checked), on W
// `remask worker` processes of one thread each, against the in-process pool
// with W workers: sudoku-shaped prompts (18 tokens), 32 prompts x 8
// completions of 16 tokens, 16 denoising steps, the tiny and small presets.
//
//	go test ./cmd/remask -run '^$' -bench NATSRollout -benchtime 8x
func BenchmarkNATSRollout(b *testing.B) {
	tok := data.NewDefaultTokenizer()
	o := rollout.Options{GenLength: 16, Steps: 16, Remasking: "low_confidence", Temperature: 1, MaskID: tok.MaskID(), EOSID: tok.EOSID(), PadID: tok.PadID()}
	var prompts [][]int
	for i := 0; i < 32; i++ {
		p := []int{tok.BOSID()}
		for j := 0; j < 17; j++ {
			p = append(p, 4+(i*7+j*3)%20)
		}
		prompts = append(prompts, p)
	}
	tokens := float64(len(prompts) * 8 * o.GenLength)
	for _, preset := range []string{"tiny", "small"} {
		s := configs.Presets()[preset]
		params, err := model.New(model.Config{Vocab: tok.Size(), D: s.D, Layers: s.Layers, Heads: s.Heads, FF: s.FF, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range []int{1, 2} {
			pc := rollout.PoolConfig{Workers: w, Group: 8, Seed: 1, Options: o}
			b.Run(fmt.Sprintf("%s/pool/workers=%d", preset, w), func(b *testing.B) {
				pool, err := rollout.NewPool(pc)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < b.N; i++ {
					if _, err := pool.Rollout(context.Background(), rollout.NewSnapshot(params, i), i, prompts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(tokens*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
			b.Run(fmt.Sprintf("%s/nats/workers=%d", preset, w), func(b *testing.B) {
				addr := freePort(b)
				srv := startCLI(b, nil, nil, "nats-server", "--listen", addr, "--dir", filepath.Join(b.TempDir(), "js"))
				srv.waitFor(b, "nats-server ready", 30*time.Second)
				for k := 0; k < w; k++ {
					startCLI(b, nil, nil, "worker", "--nats", "nats://"+addr, "--threads", "1").waitFor(b, "worker ready", 30*time.Second)
				}
				be, err := natsrollout.New(natsrollout.Config{Conn: natsrollout.ConnConfig{URL: "nats://" + addr}, AckWait: 30 * time.Second, StepTimeout: 5 * time.Minute, Version: trainer.Version}, pc)
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				b.ResetTimer()
				var publish, fetch, bytes float64
				for i := 0; i < b.N; i++ {
					if _, err := be.Rollout(context.Background(), rollout.NewSnapshot(params, i), i, prompts); err != nil {
						b.Fatal(err)
					}
					m := be.Metrics()
					publish += m["rollout/snapshot_publish_s"]
					fetch += m["rollout/worker_fetch_s"] / float64(w) // each worker fetches once
					bytes += m["rollout/snapshot_bytes"]
				}
				b.ReportMetric(tokens*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
				b.ReportMetric(publish/float64(b.N)*1e3, "publish-ms")
				b.ReportMetric(fetch/float64(b.N)*1e3, "fetch-ms")
				b.ReportMetric(bytes/float64(b.N)/1e6, "snapshot-MB")
			})
		}
	}
}
