package trainer

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/rs/zerolog"

	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

// A block-causal model's KV cache is exact: on a trained two-layer model,
// decoding with the cache (prefix or dual) gives the tokens of decoding
// without it, bit for bit, for greedy, sampled, random-remasking and
// threshold decoding.
func TestBlockCacheExactOnTrainedModel(t *testing.T) {
	dir := t.TempDir()
	cfg := smallRun(t, dir, "blk", "model.attention=block_causal", "model.block_size=4", "train.steps=10", "train.eval_every=0")
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	p, cfg, err := LoadParams(dir+"/blk.db", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if p.Config.BlockSize != 4 {
		t.Fatalf("loaded block size %d, want 4", p.Config.BlockSize)
	}
	tok := data.NewDefaultTokenizer()
	exs, err := data.Load("sudoku4x4", "gen:12", 5)
	if err != nil {
		t.Fatal(err)
	}
	prompts := make([][]int, len(exs))
	for i, ex := range exs {
		if prompts[i], err = data.EncodePrompt(tok, ex); err != nil {
			t.Fatal(err)
		}
	}
	prompts[3] = prompts[3][2:] // a shorter prompt: left padding
	task, _ := data.TaskByName("sudoku4x4")
	base := SampleOptions(cfg, tok, task)
	base.GenLength, base.Steps = 16, 16
	inf := model.NewInference(p)
	for _, tc := range []struct {
		name string
		set  func(o *rollout.Options)
	}{
		{"greedy", func(o *rollout.Options) {}},
		{"temperature", func(o *rollout.Options) { o.Temperature = 0.7 }},
		{"random", func(o *rollout.Options) { o.Remasking = "random"; o.Temperature = 0.5 }},
		{"threshold", func(o *rollout.Options) { o.Threshold = 0.6 }},
		{"margin_half_steps", func(o *rollout.Options) { o.Confidence = "margin"; o.Steps = 8 }},
	} {
		o := base
		tc.set(&o)
		gen := func(cache string) rollout.Result {
			o.Cache = cache
			res, err := rollout.Generate(inf, prompts, o, rand.New(rand.NewPCG(3, 3)))
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, cache, err)
			}
			return res
		}
		ref := gen("none")
		for _, cache := range []string{"prefix", "dual"} {
			got := gen(cache)
			if !reflect.DeepEqual(got.Tokens, ref.Tokens) || !reflect.DeepEqual(got.Trace, ref.Trace) || !reflect.DeepEqual(got.Entropy, ref.Entropy) {
				t.Fatalf("%s: cache %s decodes differently from no cache\n%v\n%v", tc.name, cache, got.Tokens, ref.Tokens)
			}
			if got.NFE != ref.NFE {
				t.Fatalf("%s: cache %s took %d forwards, uncached %d", tc.name, cache, got.NFE, ref.NFE)
			}
		}
	}
}
