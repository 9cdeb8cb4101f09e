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
		names, execCmd, execName, cfgFile, in, out, timeout, grace string
		failScore                                                  float64
		maxFails                                                   int
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
Then a table on stderr: each reward's weight, mean and failures.

Exits 1 with one line on stderr when a plugin cannot start or aborts
(max_consecutive_failures), and when a reward failed on every completion.`,
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
				specs = append(specs, configs.RewardSpec{Name: execName, Exec: strings.Fields(execCmd), Weight: 1, Timeout: timeout,
					StartupGrace: grace, MaxConsecutiveFailures: &maxFails, FailureScore: failScore})
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
			if d, err := time.ParseDuration(grace); err != nil || d < 0 {
				return fmt.Errorf("--startup-grace %q: want a duration >= 0 such as 10s", grace)
			}
			if maxFails < 0 {
				return fmt.Errorf("--max-consecutive-failures %d: want >= 0 (0 = never abort)", maxFails)
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
	score.Flags().StringVar(&execName, "name", "", "--exec: the plugin's name, its key in the output (default the command line)")
	score.Flags().StringVar(&grace, "startup-grace", reward.DefaultExecStartupGrace.String(), "--exec: extra wait for the first answer after each (re)start")
	score.Flags().IntVar(&maxFails, "max-consecutive-failures", reward.DefaultMaxConsecutiveFailures, "--exec: failed completions in a row that stop the scoring (0 = never)")
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
	lastFail := map[string]string{}
	var total float64
	n := 0
	var ids []json.RawMessage
	var batch []reward.Completion
	flush := func() error {
		scored, err := reward.CombineBatch(comps, batch)
		if err != nil {
			return fmt.Errorf("reward score: %w", err)
		}
		for i, s := range scored {
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
			for k, why := range s.Failures {
				fails[k]++
				lastFail[k] = why
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
	// a reward that failed on everything is the one thing to say
	for _, c := range comps {
		if fails[c.Name] == n {
			return fmt.Errorf("reward score: %s failed on every completion (%d); the last: %s", c.Name, n, lastFail[c.Name])
		}
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
