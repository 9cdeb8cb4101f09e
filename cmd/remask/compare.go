package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// runComparison is one run's row of `ckpt compare`: its held-out accuracy at
// each evaluated step, with the binomial standard error, and what the run
// cost.
type runComparison struct {
	Name      string       `json:"name"`
	Path      string       `json:"path"`
	Objective string       `json:"objective"`
	Steps     int          `json:"steps"`
	Evals     []evalAtStep `json:"evals"`
	TrainMin  float64      `json:"train_minutes"`            // rollout + update time summed over steps
	RolloutS  float64      `json:"rollout_s_per_step"`       // mean
	UpdateS   float64      `json:"update_s_per_step"`        // mean
	Best      *evalAtStep  `json:"best,omitempty"`           // the highest eval after step 0
	Gain      *float64     `json:"gain_points,omitempty"`    // last eval minus the first, in points
	GainSE    *float64     `json:"gain_se_points,omitempty"` // its standard error (independent evals)
}

type evalAtStep struct {
	Step int     `json:"step"`
	Acc  float64 `json:"accuracy"`
	N    int     `json:"n"`
	SE   float64 `json:"se"`
}

func newCkptCompareCmd(asJSON *bool) *cobra.Command {
	var markdown bool
	var n int
	cmd := &cobra.Command{
		Use:   "compare RUN.db [RUN.db]... [--markdown] [--n N]",
		Short: "Held-out accuracy of several runs by step, with standard errors, gains and time per step",
		Long: `Held-out accuracy (eval_acc) of several runs side by side, one row per run and
one column per evaluated step, each as accuracy ± its binomial standard error
sqrt(p(1-p)/n); then the gain of the last evaluation over the first (with the
standard error of a difference of two independent evaluations), the time the
run spent in rollouts and updates, and the mean rollout and update seconds per
step. n is the eval_n the run logged; stores written before eval_n was logged
need --n.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []runComparison
			for _, a := range args {
				r, err := compareRun(a, n)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
			if *asJSON {
				return printJSON(rows)
			}
			writeComparison(os.Stdout, rows, markdown)
			return nil
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print a Markdown table")
	cmd.Flags().IntVar(&n, "n", 0, "examples per evaluation, for stores that did not log eval_n")
	return cmd
}

func compareRun(path string, n int) (runComparison, error) {
	run, err := loadPlotRun(path)
	if err != nil {
		return runComparison{}, err
	}
	r := runComparison{Path: path, Name: run.name, Objective: run.objective}
	var trainS float64
	var nRoll, nUpd int
	for _, row := range run.rows {
		r.Steps = max(r.Steps, row.Step)
		if v, ok := row.Values["rollout_s"]; ok {
			r.RolloutS += v
			trainS += v
			nRoll++
		}
		if v, ok := row.Values["update_s"]; ok {
			r.UpdateS += v
			trainS += v
			nUpd++
		}
		acc, ok := row.Values["eval_acc"]
		if !ok {
			continue
		}
		en := n
		if v, ok := row.Values["eval_n"]; ok && n == 0 {
			en = int(v)
		}
		if en <= 0 {
			return runComparison{}, fmt.Errorf("compare: %s: step %d has eval_acc but no eval_n (a store from before eval_n was logged): give the examples per evaluation with --n", path, row.Step)
		}
		r.Evals = append(r.Evals, evalAtStep{Step: row.Step, Acc: acc, N: en, SE: math.Sqrt(acc * (1 - acc) / float64(en))})
	}
	if nRoll > 0 {
		r.RolloutS /= float64(nRoll)
	}
	if nUpd > 0 {
		r.UpdateS /= float64(nUpd)
	}
	r.TrainMin = trainS / 60
	for i := range r.Evals {
		e := r.Evals[i]
		if e.Step > 0 && (r.Best == nil || e.Acc > r.Best.Acc) {
			r.Best = &e
		}
	}
	if len(r.Evals) >= 2 {
		a, b := r.Evals[0], r.Evals[len(r.Evals)-1]
		g := 100 * (b.Acc - a.Acc)
		se := 100 * math.Sqrt(a.SE*a.SE+b.SE*b.SE)
		r.Gain, r.GainSE = &g, &se
	}
	return r, nil
}

// writeComparison prints the runs as one table; the step columns are every
// step any run evaluated.
func writeComparison(out io.Writer, rows []runComparison, markdown bool) {
	stepSet := map[int]bool{}
	for _, r := range rows {
		for _, e := range r.Evals {
			stepSet[e.Step] = true
		}
	}
	var steps []int
	for s := range stepSet {
		steps = append(steps, s)
	}
	sort.Ints(steps)
	head := []string{"run", "objective", "steps"}
	for _, s := range steps {
		head = append(head, fmt.Sprintf("@%d", s))
	}
	head = append(head, "gain (points)", "best", "train min", "rollout s/step", "update s/step")
	var lines [][]string
	for _, r := range rows {
		at := map[int]evalAtStep{}
		for _, e := range r.Evals {
			at[e.Step] = e
		}
		l := []string{r.Name, r.Objective, fmt.Sprint(r.Steps)}
		for _, s := range steps {
			if e, ok := at[s]; ok {
				l = append(l, fmt.Sprintf("%.1f ± %.1f", 100*e.Acc, 100*e.SE))
			} else {
				l = append(l, "")
			}
		}
		gain, best := "", ""
		if r.Gain != nil {
			gain = fmt.Sprintf("%+.1f ± %.1f", *r.Gain, *r.GainSE)
		}
		if r.Best != nil {
			best = fmt.Sprintf("%.1f @%d", 100*r.Best.Acc, r.Best.Step)
		}
		l = append(l, gain, best, fmt.Sprintf("%.1f", r.TrainMin), fmt.Sprintf("%.1f", r.RolloutS), fmt.Sprintf("%.1f", r.UpdateS))
		lines = append(lines, l)
	}
	if markdown {
		fmt.Fprintln(out, "| "+strings.Join(head, " | ")+" |")
		fmt.Fprintln(out, strings.Repeat("| --- ", len(head))+"|")
		for _, l := range lines {
			fmt.Fprintln(out, "| "+strings.Join(l, " | ")+" |")
		}
		return
	}
	w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, strings.ToUpper(strings.Join(head, "\t")))
	for _, l := range lines {
		fmt.Fprintln(w, strings.Join(l, "\t"))
	}
	w.Flush()
}
