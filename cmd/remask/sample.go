package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
	"github.com/remask/remask/trainer"
)

// samplingFlags override the stored run's sample section.
type samplingFlags struct {
	genLength, steps, block int
	temperature, threshold  float64
	remasking, conf, cache  string
	seed                    uint64
	revise                  int
	reviseThr               float64
	set                     func(name string) bool // whether the user gave the flag
}

func (f *samplingFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.genLength, "gen-length", 0, "completion length in tokens (default: the run's sample.gen_length)")
	cmd.Flags().IntVar(&f.steps, "steps", 0, "denoising steps (default: the run's sample.steps)")
	cmd.Flags().IntVar(&f.block, "block", -1, "block length for semi-autoregressive decoding (0 = one block)")
	cmd.Flags().Float64Var(&f.temperature, "temperature", -1, "Gumbel-max temperature, 0 = greedy (default: the run's)")
	cmd.Flags().StringVar(&f.remasking, "remasking", "", "low_confidence or random (default: the run's)")
	cmd.Flags().StringVar(&f.conf, "confidence", "", "prob, margin or neg_entropy (default: the run's)")
	cmd.Flags().Float64Var(&f.threshold, "threshold", -1, "Fast-dLLM parallel decoding threshold, 0 = off (default: the run's)")
	cmd.Flags().StringVar(&f.cache, "cache", "", "KV cache: none, prefix or dual (default: the run's)")
	cmd.Flags().IntVar(&f.revise, "revise", -1, "revision passes after the last step, 0 = off (default: the run's)")
	cmd.Flags().Float64Var(&f.reviseThr, "revise-threshold", -1, "replace a committed token when another has this probability (default: the run's)")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "sampling seed")
	f.set = func(name string) bool { return cmd.Flags().Changed(name) }
}

// check refuses flag values that are out of range, naming the flag, instead
// of falling back to the run's value.
func (f *samplingFlags) check() error {
	given := func(name string) bool { return f.set != nil && f.set(name) }
	switch {
	case given("gen-length") && (f.genLength < 1 || f.genLength > maxGenLength):
		return fmt.Errorf("--gen-length %d: want 1 to %d", f.genLength, maxGenLength)
	case given("steps") && (f.steps < 1 || f.steps > maxGenLength):
		return fmt.Errorf("--steps %d: want 1 to %d", f.steps, maxGenLength)
	case given("block") && (f.block < 0 || f.block > maxGenLength):
		return fmt.Errorf("--block %d: want 0 (one block) to %d", f.block, maxGenLength)
	case given("temperature") && !(f.temperature >= 0 && f.temperature <= 100):
		return fmt.Errorf("--temperature %g: want 0 (greedy) to 100", f.temperature)
	case given("threshold") && !(f.threshold >= 0 && f.threshold <= 1):
		return fmt.Errorf("--threshold %g: want 0 (off) to 1", f.threshold)
	case given("revise") && (f.revise < 0 || f.revise > 100):
		return fmt.Errorf("--revise %d: want 0 (off) to 100", f.revise)
	case given("revise-threshold") && !(f.reviseThr > 0 && f.reviseThr <= 1):
		return fmt.Errorf("--revise-threshold %g: want a value in (0, 1]", f.reviseThr)
	}
	return nil
}

// maxSamples bounds -n: the completions of one prompt are one batch.
const maxSamples = 4096

// maxGenLength bounds lengths and step counts given on the command line: far
// above any model's max_len, low enough that a typo cannot exhaust memory.
const maxGenLength = 1 << 16

// options merges the flags over the run's config.
func (f *samplingFlags) options(cfg configs.Config, tok data.Tokenizer) (rollout.Options, error) {
	task, err := data.TaskByName(cfg.Data.Task)
	if err != nil {
		return rollout.Options{}, err
	}
	if err := f.check(); err != nil {
		return rollout.Options{}, err
	}
	o := trainer.SampleOptions(cfg, tok, task)
	if f.genLength > 0 {
		o.GenLength = f.genLength
		if f.steps == 0 && cfg.Sample.Steps == 0 {
			o.Steps = o.GenLength
		}
	}
	if f.steps > 0 {
		o.Steps = f.steps
	}
	if f.block >= 0 {
		o.Block = f.block
	}
	if f.temperature >= 0 {
		o.Temperature = f.temperature
	}
	if f.remasking != "" {
		o.Remasking = f.remasking
	}
	if f.conf != "" {
		o.Confidence = f.conf
	}
	if f.threshold >= 0 {
		o.Threshold = f.threshold
	}
	if f.cache != "" {
		o.Cache = f.cache
	}
	if f.revise >= 0 {
		o.Revise = f.revise
	}
	if f.reviseThr > 0 {
		o.ReviseThreshold = f.reviseThr
	}
	return o, o.Validate()
}

// loadForSampling opens a run's weights, config and tokenizer.
func loadForSampling(ref string) (*model.Params, configs.Config, data.Tokenizer, error) {
	p, cfg, err := trainer.LoadParams(ref, logger())
	if err != nil {
		return nil, configs.Config{}, nil, err
	}
	var files map[string][]byte
	if cfg.Model.Vocab == "hf" {
		if files, err = trainer.StoreFiles(ref); err != nil {
			return nil, configs.Config{}, nil, err
		}
	}
	tok, err := trainer.NewTokenizer(cfg, files)
	if err != nil {
		return nil, configs.Config{}, nil, fmt.Errorf("%s: %w", ref, err)
	}
	return p, cfg, tok, nil
}

func newSampleCmd() *cobra.Command {
	var (
		ref, prompt string
		n           int
		asJSON      bool
		sf          samplingFlags
	)
	cmd := &cobra.Command{
		Use:   "sample --ckpt RUN.db[:STEP] --prompt TEXT",
		Short: "Generate completions for a prompt by denoising from all <mask>",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ref == "" || prompt == "" {
				return fmt.Errorf("sample: --ckpt and --prompt are required")
			}
			if n < 1 || n > maxSamples {
				return fmt.Errorf("sample: -n %d: want 1 to %d completions", n, maxSamples)
			}
			if err := sf.check(); err != nil {
				return fmt.Errorf("sample: %w", err)
			}
			p, cfg, tok, err := loadForSampling(ref)
			if err != nil {
				return err
			}
			o, err := sf.options(cfg, tok)
			if err != nil {
				return err
			}
			if err := data.CheckPrompt(cfg.Data.Task, prompt); err != nil {
				return fmt.Errorf("--prompt: %w (the run %s trains task %s)", err, ref, cfg.Data.Task)
			}
			// Puzzle prompts end with the "=" that separates them from the answer.
			if (cfg.Data.Task == "sudoku4x4" || cfg.Data.Task == "countdown") && !strings.HasSuffix(prompt, "=") {
				prompt += "="
			}
			if cfg.Data.Task == "countdown" { // the layout it trained on: numbers padded to a fixed width
				nums, target, _ := data.ParseCountdownPrompt(prompt) // CheckPrompt passed
				prompt = data.CountdownExample(nums, target, "").Prompt
			}
			ids, err := data.EncodePrompt(tok, data.Example{Prompt: prompt})
			if err != nil {
				return fmt.Errorf("--prompt: %w", err)
			}
			prompts := make([][]int, n)
			for i := range prompts {
				prompts[i] = ids
			}
			t0 := time.Now()
			res, err := rollout.Generate(model.NewInference(p), prompts, o, rand.New(rand.NewPCG(sf.seed, 0)))
			if err != nil {
				return err
			}
			el := time.Since(t0)
			for i := range res.Tokens {
				text := tok.DecodeAnswer(res.Tokens[i])
				if asJSON {
					b, _ := json.Marshal(map[string]any{"prompt": prompt, "completion": text, "trace": res.Trace[i], "nfe": res.NFE})
					fmt.Println(string(b))
				} else {
					fmt.Printf("%s%s\n", prompt, text)
				}
			}
			fmt.Fprintf(os.Stderr, "%d sample(s), %d forwards, %s\n", n, res.NFE, el.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&ref, "ckpt", "", "run store and optional step, RUN.db[:STEP]")
	cmd.Flags().StringVar(&prompt, "prompt", "", "prompt text (for sudoku: the 16-digit puzzle, 0 = empty)")
	cmd.Flags().IntVarP(&n, "num", "n", 1, "number of samples")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per sample, with the unmasking trace")
	sf.register(cmd)
	return cmd
}

func newEvalCmd() *cobra.Command {
	var (
		ref, file, taskName string
		limit               int
		keepSeen, byStep    bool
		crossTask           bool
		repairK             int
		sf                  samplingFlags
	)
	cmd := &cobra.Command{
		Use:   "eval --ckpt RUN.db[:STEP] --data FILE --task sudoku4x4|countdown|gsm8k|math|text",
		Short: "Accuracy of a checkpoint on a task file, as one JSON line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ref == "" || file == "" || taskName == "" {
				return fmt.Errorf("eval: --ckpt, --data and --task are required")
			}
			task, err := data.TaskByName(taskName)
			if err != nil {
				return fmt.Errorf("--task: %w", err)
			}
			p, cfg, tok, err := loadForSampling(ref)
			if err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("eval: -n %d: want 0 (all) or more", limit)
			}
			if cfg.Data.Task != taskName && !crossTask && cfg.Data.Train != trainer.HFImportedData {
				return fmt.Errorf("eval: --task %s, but %s was trained on task %s (its accuracy would say nothing); pass --cross-task to evaluate anyway", taskName, ref, cfg.Data.Task)
			}
			exs, err := data.Load(taskName, file, 0)
			if err != nil {
				return err
			}
			// Puzzles the checkpoint trained on say nothing about generalisation.
			dropped := 0
			if !keepSeen {
				if exs, dropped, err = trainer.DropSeenInTraining(cfg, exs, logger()); err != nil {
					return err
				}
			}
			if limit > 0 && len(exs) > limit {
				exs = exs[:limit]
			}
			cfg.Data.Task = taskName
			o, err := sf.options(cfg, tok)
			if err != nil {
				return err
			}
			t0 := time.Now()
			if repairK > 0 {
				passes := max(o.Revise, 1)
				exact, fixed, err := evalRepair(model.NewInference(p), tok, exs, repairK, passes, o.ReviseThreshold, o, sf.seed)
				if err != nil {
					return err
				}
				b, _ := json.Marshal(map[string]any{"task": taskName, "n": len(exs), "repair_substitutions": repairK, "revise_passes": passes,
					"revise_threshold": o.ReviseThreshold, "repaired": exact, "corrupted_tokens_fixed": fixed, "ckpt": ref, "seconds": time.Since(t0).Seconds()})
				fmt.Println(string(b))
				return nil
			}
			out := map[string]any{"task": taskName, "n": len(exs), "dropped_seen_in_train": dropped, "ckpt": ref, "gen_length": o.GenLength, "steps": o.Steps}
			rng := rand.New(rand.NewPCG(sf.seed, 0))
			if byStep {
				acc, cc, err := trainer.EvaluateByStep(trainer.NewEvalModel(p), tok, task, exs, o, rng)
				if err != nil {
					return err
				}
				out["accuracy"], out["committed_by_step"], out["commit_accuracy_by_step"] = acc, cc.Committed, cc.Accuracy()
			} else {
				acc, _, err := trainer.Evaluate(trainer.NewEvalModel(p), tok, task, exs, o, rng)
				if err != nil {
					return err
				}
				out["accuracy"] = acc
			}
			out["seconds"] = time.Since(t0).Seconds()
			b, _ := json.Marshal(out)
			fmt.Println(string(b))
			return nil
		},
	}
	cmd.Flags().StringVar(&ref, "ckpt", "", "run store and optional step, RUN.db[:STEP]")
	cmd.Flags().StringVar(&file, "data", "", "task file: d1 sudoku CSV, countdown JSONL, GSM8K JSONL, MATH JSONL or prompt/answer JSONL (or gen:N)")
	cmd.Flags().StringVar(&taskName, "task", "", "sudoku4x4, countdown, gsm8k, math or text")
	cmd.Flags().IntVar(&limit, "n", 0, "evaluate only the first N examples (0 = all)")
	cmd.Flags().BoolVar(&crossTask, "cross-task", false, "evaluate on a task other than the one the checkpoint was trained on")
	cmd.Flags().IntVar(&repairK, "repair", 0, "instead of sampling: corrupt each reference answer with N substitutions and report how many revision passes (--revise) restore")
	cmd.Flags().BoolVar(&byStep, "by-step", false, "also report, per denoising step, how many tokens were committed and the share equal to the reference answer (where errors arise)")
	cmd.Flags().BoolVar(&keepSeen, "keep-seen", false, "keep examples whose prompt was in the run's training data (dropped by default)")
	sf.register(cmd)
	return cmd
}

// evalRepair corrupts each example's reference answer with k random
// substitutions, runs revision passes over it, and returns the share of
// answers restored exactly and of corrupted positions fixed.
func evalRepair(m rollout.Model, tok data.Tokenizer, exs []data.Example, k, passes int, thr float64, o rollout.Options, seed uint64) (repaired, fixedCells float64, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x726570)) // "rep"
	var prompts, corrupted, originals [][]int
	wrong := 0
	for _, ex := range exs {
		p, err := data.EncodePrompt(tok, ex)
		if err != nil {
			return 0, 0, err
		}
		a, err := tok.Encode(ex.Answer)
		if err != nil {
			return 0, 0, err
		}
		a = append(a, tok.EOSID())
		c := append([]int(nil), a...)
		for _, pos := range rng.Perm(len(a) - 1)[:min(k, len(a)-1)] { // never the final <eos>
			t := c[pos]
			for t == c[pos] {
				t = a[rng.IntN(len(a)-1)] // a token of the answer's own alphabet
				if len(a) < 3 {
					break
				}
			}
			c[pos] = t
		}
		for i := range a {
			if c[i] != a[i] {
				wrong++
			}
		}
		prompts, corrupted, originals = append(prompts, p), append(corrupted, c), append(originals, a)
	}
	var out [][]int
	for lo := 0; lo < len(prompts); lo += 64 {
		hi := min(lo+64, len(prompts))
		r, _, err := rollout.Revise(m, prompts[lo:hi], corrupted[lo:hi], passes, thr, o)
		if err != nil {
			return 0, 0, err
		}
		out = append(out, r...)
	}
	exact, fixed := 0, 0
	for i := range out {
		same := true
		for j := range out[i] {
			if out[i][j] != originals[i][j] {
				same = false
			} else if corrupted[i][j] != originals[i][j] {
				fixed++
			}
		}
		if same {
			exact++
		}
	}
	return float64(exact) / float64(len(out)), float64(fixed) / float64(max(wrong, 1)), nil
}
