package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

// BenchmarkSnapshotStore is the cost of one snapshot through the embedded
// server on loopback: encode and put (the trainer), get and decode with
// the hash check (a worker), for the tiny and small presets' sizes.
//
//	go test ./rollout/nats -run '^$' -bench SnapshotStore -benchtime 10x
func BenchmarkSnapshotStore(b *testing.B) {
	for _, c := range []struct {
		name                string
		d, layers, heads, f int
	}{{"tiny", 128, 4, 4, 384}, {"small", 256, 6, 8, 768}} {
		p, err := model.New(model.Config{Vocab: 40, D: c.d, Layers: c.layers, Heads: c.heads, FF: c.f, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 1)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			s, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown()
			nc, js, err := Connect(ConnConfig{URL: s.ClientURL()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			ctx := context.Background()
			if _, _, err := Setup(ctx, js, time.Second); err != nil {
				b.Fatal(err)
			}
			obs, err := js.ObjectStore(ctx, Bucket)
			if err != nil {
				b.Fatal(err)
			}
			var put, get time.Duration
			var mb float64
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				data, sum, err := EncodeSnapshot(p, i)
				if err != nil {
					b.Fatal(err)
				}
				name := fmt.Sprintf("bench-v%d", i)
				if _, err := obs.PutBytes(ctx, name, data); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				back, err := getObject(ctx, obs, SnapshotRef{Name: name, Bytes: int64(len(data))})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := DecodeSnapshot(back, sum); err != nil {
					b.Fatal(err)
				}
				get += time.Since(t1)
				put += t1.Sub(t0)
				mb = float64(len(data)) / 1e6
				_ = obs.Delete(ctx, name)
			}
			b.ReportMetric(mb, "MB")
			b.ReportMetric(put.Seconds()*1e3/float64(b.N)/mb, "put-ms/MB")
			b.ReportMetric(get.Seconds()*1e3/float64(b.N)/mb, "get-ms/MB")
		})
	}
}

// BenchmarkItemRoundTrip is the transport's own cost per rollout call, with
// sampling made negligible (one token, one step, a 1-layer d 16 model):
// publishing items, a worker taking, answering and acknowledging each, the
// results assembled. 8 items of 4 prompts x 8 completions, one worker.
//
//	go test ./rollout/nats -run '^$' -bench ItemRoundTrip -benchtime 50x
func BenchmarkItemRoundTrip(b *testing.B) {
	s, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown()
	url := s.ClientURL()
	w, err := NewWorker(WorkerConfig{Conn: ConnConfig{URL: url}, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	defer w.Close()
	o := rollout.Options{GenLength: 1, Steps: 1, Remasking: "low_confidence", MaskID: 1, EOSID: 3}
	be, err := New(Config{Conn: ConnConfig{URL: url}, AckWait: 30 * time.Second, StepTimeout: time.Minute, Version: "bench"}, rollout.PoolConfig{Group: 8, Seed: 1, PerJob: 4, Options: o})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	p, err := model.New(model.Config{Vocab: 40, D: 16, Layers: 1, Heads: 2, FF: 24, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 1)
	if err != nil {
		b.Fatal(err)
	}
	snap := rollout.NewSnapshot(p, 0)
	var prompts [][]int
	for i := 0; i < 32; i++ {
		prompts = append(prompts, []int{2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	}
	if _, err := be.Rollout(ctx, snap, 0, prompts); err != nil { // snapshot stored and fetched once
		b.Fatal(err)
	}
	b.ResetTimer()
	var sample float64
	for i := 0; i < b.N; i++ {
		if _, err := be.Rollout(ctx, snap, 0, prompts); err != nil {
			b.Fatal(err)
		}
		sample += be.Metrics()["rollout/worker_sample_s"]
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/call")
	b.ReportMetric((b.Elapsed().Seconds()-sample)*1e3/float64(b.N)/8, "transport-ms/item")
}

// BenchmarkMessageSizes reports the wire size of one work item and its
// result for the quickstart RL shape: 4 prompts of 18 tokens a job, groups
// of 8 completions of 16 tokens (the figures docs/nats.md sizes a fleet by).
//
//	go test ./rollout/nats -run '^$' -bench MessageSizes -benchtime 1x
func BenchmarkMessageSizes(b *testing.B) {
	p, err := model.New(model.Config{Vocab: 40, D: 16, Layers: 1, Heads: 2, FF: 24, MaxLen: 64, RopeTheta: 10000, NormEps: 1e-5}, 1)
	if err != nil {
		b.Fatal(err)
	}
	o := rollout.Options{GenLength: 16, Steps: 16, Remasking: "low_confidence", Temperature: 1, Confidence: "prob", MaskID: 1, EOSID: 3}
	var prompts [][]int
	for i := 0; i < 4; i++ {
		pr := []int{2}
		for j := 0; j < 17; j++ {
			pr = append(pr, 4+(i*7+j*3)%20)
		}
		prompts = append(prompts, pr)
	}
	it := &WorkItem{Protocol: Protocol, Version: "0.1.0", Run: "0123456789abcdef", Call: 123, Step: 1234, First: 0, Lo: 28, Prompts: prompts,
		Group: 8, Seed: 1, Options: o, Snapshot: SnapshotRef{Name: "0123456789abcdef-v1234", Version: 1234, SHA256: fmt.Sprintf("%064x", 1), Bytes: 20_000_000},
		AckWaitMS: 30000}
	var itemB, resB int
	for i := 0; i < b.N; i++ {
		gs, err := rollout.SampleJob(model.NewInference(p), 1234, 1, 8, o, 1234, 0, 28, prompts)
		if err != nil {
			b.Fatal(err)
		}
		res := &Result{Run: it.Run, Call: it.Call, Step: it.Step, Lo: it.Lo, Worker: "host-name/12345/0", Delivered: 1, Version: 1234, Groups: toWire(gs), SampleMS: 1234.5, FetchMS: 12.3}
		ib, _ := json.Marshal(it)
		rb, _ := json.Marshal(res)
		itemB, resB = len(ib), len(rb)
	}
	b.ReportMetric(float64(itemB), "item-B")
	b.ReportMetric(float64(resB), "result-B")
}
