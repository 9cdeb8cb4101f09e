package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
	"github.com/remask/remask/trainer"
)

// sampleStrategy is one row of the sampling benchmark.
type sampleStrategy struct {
	name string
	set  func(o *rollout.Options)
}

func sampleStrategies(thr float64) []sampleStrategy {
	return []sampleStrategy{
		{"low_confidence", func(o *rollout.Options) {}},
		{"random", func(o *rollout.Options) { o.Remasking = "random" }},
		{"margin", func(o *rollout.Options) { o.Confidence = "margin" }},
		{"neg_entropy", func(o *rollout.Options) { o.Confidence = "neg_entropy" }},
		{"low_confidence+prefix", func(o *rollout.Options) { o.Cache = "prefix" }},
		{"low_confidence+dual", func(o *rollout.Options) { o.Cache = "dual" }},
		{fmt.Sprintf("threshold%.2g", thr), func(o *rollout.Options) { o.Threshold = thr }},
		{fmt.Sprintf("threshold%.2g+prefix", thr), func(o *rollout.Options) { o.Threshold = thr; o.Cache = "prefix" }},
		{fmt.Sprintf("threshold%.2g+dual", thr), func(o *rollout.Options) { o.Threshold = thr; o.Cache = "dual" }},
	}
}

// sampleBench is what `remask bench --what sample` times.
type sampleBench struct {
	ref, preset, data, task string
	n                       int
	thr                     float64
	strategies              string // comma-separated names; "" = all, and the pool
	batch                   int    // prompts per Generate call
}

// benchSample times every sampling strategy on the same prompts (tokens/s,
// forwards per completion, accuracy when the examples have answers), how
// often the cached outputs differ from the same decoding uncached, and the
// rollout pool's throughput from 1 to 2 workers.
func benchSample(sb sampleBench, o0 *samplingFlags) error {
	ref, dataSpec, taskName, n, thr := sb.ref, sb.data, sb.task, sb.n, sb.thr
	var p *model.Params
	var cfg configs.Config
	var err error
	strats := sampleStrategies(thr)
	if sb.strategies != "" {
		var picked []sampleStrategy
		for _, name := range strings.Split(sb.strategies, ",") {
			i := slices.IndexFunc(strats, func(s sampleStrategy) bool { return s.name == strings.TrimSpace(name) })
			if i < 0 {
				var names []string
				for _, s := range strats {
					names = append(names, s.name)
				}
				return fmt.Errorf("--strategies: %q is not one of %s", name, strings.Join(names, ", "))
			}
			picked = append(picked, strats[i])
		}
		strats = picked
	}
	if ref != "" {
		if p, cfg, err = trainer.LoadParams(ref, logger()); err != nil {
			return err
		}
	} else {
		cfg = configs.Default()
		cfg.Data.Task = taskName
		cfg.Model.Preset = sb.preset
		mc, err := trainer.ModelConfig(cfg, data.NewDefaultTokenizer().Size())
		if err != nil {
			return err
		}
		if p, err = model.New(mc, 1); err != nil {
			return err
		}
	}
	if taskName == "" {
		taskName = cfg.Data.Task
	}
	cfg.Data.Task = taskName
	task, err := data.TaskByName(taskName)
	if err != nil {
		return err
	}
	exs, err := data.Load(taskName, dataSpec, 99)
	if err != nil {
		return err
	}
	if len(exs) > n {
		exs = exs[:n]
	}
	tok := data.NewDefaultTokenizer()
	base, err := o0.options(cfg, tok)
	if err != nil {
		return err
	}
	prompts := make([][]int, len(exs))
	for i, ex := range exs {
		if prompts[i], err = data.EncodePrompt(tok, ex); err != nil {
			return err
		}
	}
	inf := model.NewInference(p)
	uncached := map[string][][]int{}
	for _, s := range strats {
		o := base
		// Each strategy says its cache and threshold itself: a run whose
		// sample section caches or thresholds must not change the baseline.
		o.Cache, o.Threshold = "none", 0
		s.set(&o)
		t0 := time.Now()
		var toks [][]int
		nfe := 0
		for lo := 0; lo < len(prompts); lo += sb.batch {
			hi := min(lo+sb.batch, len(prompts))
			res, err := rollout.Generate(inf, prompts[lo:hi], o, rand.New(rand.NewPCG(1, uint64(lo))))
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			toks = append(toks, res.Tokens...)
			nfe += res.NFE * (hi - lo)
		}
		el := time.Since(t0).Seconds()
		correct := 0
		for i, ex := range exs {
			if task.Correct(ex, tok.DecodeAnswer(toks[i])) {
				correct++
			}
		}
		block := o.Block
		if bs := p.Config.BlockSize; bs > 0 {
			block = bs // a block-causal model decodes in its own blocks
		}
		row := map[string]any{"what": "sample", "strategy": s.name, "preset": cfg.Model.Preset, "n": len(exs), "gen_length": o.GenLength, "steps": o.Steps, "block": block,
			"tokens_per_s": round1(float64(len(exs)*o.GenLength) / el), "nfe_per_completion": round2(float64(nfe) / float64(len(exs))),
			"accuracy": round3(float64(correct) / float64(len(exs))), "seconds": round3(el)}
		// A cached strategy is compared with the same decoding without the
		// cache ("threshold0.9+dual" with "threshold0.9"): Fast-dLLM's caches
		// on a full-attention model approximate it; a block-causal model's
		// cache is exact, so there it must not differ at all.
		base, _, _ := strings.Cut(s.name, "+")
		if o.Cache == "" || o.Cache == "none" {
			uncached[base] = toks
		} else if ref, ok := uncached[base]; ok {
			differ := 0
			for i := range toks {
				if !reflect.DeepEqual(toks[i], ref[i]) {
					differ++
				}
			}
			row["differs_from_uncached"] = round3(float64(differ) / float64(len(toks)))
		}
		b, _ := json.Marshal(row)
		fmt.Println(string(b))
	}
	if sb.strategies != "" {
		return nil
	}
	// Pool scaling: the same groups on 1 and 2 workers.
	const G = 4
	var tps [2]float64
	for w := 1; w <= 2; w++ {
		pool, err := rollout.NewPool(rollout.PoolConfig{Workers: w, Group: G, Seed: 1, Options: base})
		if err != nil {
			return err
		}
		snap := &rollout.Snapshot{Params: p}
		t0 := time.Now()
		if _, err := pool.Rollout(context.Background(), snap, 0, prompts); err != nil {
			return err
		}
		tps[w-1] = float64(len(prompts)*G*base.GenLength) / time.Since(t0).Seconds()
		b, _ := json.Marshal(map[string]any{"what": "pool", "workers": w, "group": G, "prompts": len(prompts), "tokens_per_s": round1(tps[w-1])})
		fmt.Println(string(b))
	}
	b, _ := json.Marshal(map[string]any{"what": "pool_scaling", "speedup_2_over_1": round2(tps[1] / tps[0])})
	fmt.Println(string(b))
	return nil
}
