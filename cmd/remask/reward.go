package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/reward"
	"github.com/remask/remask/trainer"
)

func init() { extraCommands = append(extraCommands, newRewardCmd) }

func newRewardCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "reward", Short: "List rewards and score completions without a training run"}
	list := &cobra.Command{
		Use:   "list",
		Short: "The registered reward names",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range reward.Names() {
				fmt.Println(n)
			}
			return nil
		},
	}
	var (
		names, execCmd, cfgFile, in, out, timeout string
		failScore                                 float64
	)
	score := &cobra.Command{
		Use:   "score (--reward NAME[,NAME...] | --exec \"CMD ARGS\" | -c RUN.yaml) --in COMPLETIONS.jsonl [--out SCORES.jsonl]",
		Short: "Score a JSONL file of completions; one line per input, a summary on stderr",
		Long: `Scores completions with registered rewards, an exec plugin or the rewards of a
run config, so a reward can be checked without a training run.

Input lines:  {"id": ..., "prompt": "...", "completion": "...", "reference": {...}}
  reference: sudoku {"puzzle", "solution"}; countdown {"numbers": [...], "target": N};
  gsm8k {"answer"}; math {"answer"}; code {"test_cases": [...]}. Other fields are ignored.
Output lines: {"id": ..., "total": T, "components": {NAME: score}}, with "failures"
  (NAME: why) when a reward failed and "details" (NAME: {...}) when one reported any.
Then a table on stderr: each reward's weight, mean and failures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var specs []configs.RewardSpec
			switch {
			case cfgFile != "":
				cfg, err := configs.Load(cfgFile, nil)
				if err != nil {
					return err
				}
				specs = cfg.Rewards
			case names != "":
				for _, n := range strings.Split(names, ",") {
					specs = append(specs, configs.RewardSpec{Name: strings.TrimSpace(n), Weight: 1})
				}
			}
			if execCmd != "" {
				specs = append(specs, configs.RewardSpec{Exec: strings.Fields(execCmd), Weight: 1, Timeout: timeout, FailureScore: failScore})
			}
			if len(specs) == 0 {
				return fmt.Errorf("reward score: give --reward, --exec or -c")
			}
			if in == "" {
				return fmt.Errorf("reward score: --in FILE is required")
			}
			if timeout != "" {
				if d, err := time.ParseDuration(timeout); err != nil || d <= 0 {
					return fmt.Errorf("--timeout %q: want a duration such as 2s", timeout)
				}
			}
			log := logger()
			comps, closeAll, err := trainer.RewardComponents(specs, log)
			if err != nil {
				return err
			}
			defer closeAll()
			for _, c := range comps {
				if l, ok := c.Reward.(reward.LogUser); ok {
					l.UseLogger(log) // e.g. the code rewards' sandbox warning
				}
			}
			return scoreFile(comps, in, out)
		},
	}
	score.Flags().StringVar(&names, "reward", "", "registered rewards, comma-separated (weight 1 each)")
	score.Flags().StringVar(&execCmd, "exec", "", "an exec plugin command line, e.g. \"python3 my_reward.py\"")
	score.Flags().StringVarP(&cfgFile, "config", "c", "", "take the rewards (names, weights, plugins) of a run config")
	score.Flags().StringVar(&in, "in", "", "completions, JSONL")
	score.Flags().StringVar(&out, "out", "", "scores, JSONL (default stdout)")
	score.Flags().StringVar(&timeout, "timeout", "2s", "--exec: longest wait for one answer")
	score.Flags().Float64Var(&failScore, "failure-score", 0, "--exec: the score of a completion the plugin failed on")
	cmd.AddCommand(list, score)
	return cmd
}

type scoreInput struct {
	ID         json.RawMessage `json:"id"`
	Prompt     string          `json:"prompt"`
	Completion *string         `json:"completion"`
	Reference  map[string]any  `json:"reference"`
}

// scoreBatch is how many lines are scored together (exec plugins pipeline
// them, the code rewards run their sandboxes in parallel).
const scoreBatch = 256

// scoreFile scores every line of in and writes one result line per input.
func scoreFile(comps []reward.Component, in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("reward score: %w", err)
	}
	defer f.Close()
	var w io.Writer = os.Stdout
	if out != "" {
		of, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("reward score: %w", err)
		}
		defer of.Close()
		w = of
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	enc := json.NewEncoder(bw)
	sums := map[string]float64{}
	fails := map[string]int{}
	var total float64
	n := 0
	var ids []json.RawMessage
	var batch []reward.Completion
	flush := func() error {
		for i, s := range reward.CombineBatch(comps, batch) {
			res := map[string]any{"id": ids[i], "total": s.Total, "components": s.Components}
			if len(s.Failures) > 0 {
				res["failures"] = s.Failures
			}
			if len(s.Details) > 0 {
				res["details"] = s.Details
			}
			if err := enc.Encode(res); err != nil {
				return fmt.Errorf("reward score: write: %w", err)
			}
			for k, v := range s.Components {
				sums[k] += v
			}
			for k := range s.Failures {
				fails[k]++
			}
			total += s.Total
			n++
		}
		ids, batch = ids[:0], batch[:0]
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	t0 := time.Now()
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec scoreInput
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return errors.Join(flush(), fmt.Errorf("reward score %s line %d: not a JSON object: %v", in, line, err))
		}
		if rec.Completion == nil {
			return errors.Join(flush(), fmt.Errorf("reward score %s line %d: missing field \"completion\"", in, line))
		}
		if rec.ID == nil {
			rec.ID = json.RawMessage("null")
		}
		ids = append(ids, rec.ID)
		batch = append(batch, reward.Completion{Prompt: rec.Prompt, Text: *rec.Completion, Ref: reward.NormalizeRef(rec.Reference)})
		if len(batch) == scoreBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reward score %s after line %d: %w", in, line, err)
	}
	if n == 0 {
		return fmt.Errorf("reward score %s: no completions", in)
	}
	el := time.Since(t0)
	tw := tabwriter.NewWriter(os.Stderr, 0, 2, 2, ' ', 0)
	fmt.Fprintf(tw, "REWARD\tWEIGHT\tMEAN\tFAILURES\n")
	for _, c := range comps {
		fmt.Fprintf(tw, "%s\t%g\t%.4f\t%d\n", c.Name, c.Weight, sums[c.Name]/float64(n), fails[c.Name])
	}
	fmt.Fprintf(tw, "total\t\t%.4f\t\n", total/float64(n))
	tw.Flush()
	fmt.Fprintf(os.Stderr, "%d completions in %s (%.3f ms per 1000)\n", n, el.Round(time.Millisecond), float64(el.Microseconds())/float64(n))
	return nil
}
