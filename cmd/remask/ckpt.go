package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/trainer"
)

func init() { extraCommands = append(extraCommands, newCkptCmd) }

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0) }

// weightBytes is the size of a checkpoint's weights.
func weightBytes(ck *checkpoint.Checkpoint) int {
	n := 0
	for _, t := range ck.Weights {
		n += 4 * len(t.Data)
	}
	return n
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newCkptCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{Use: "ckpt", Short: "Inspect run stores: checkpoints, tensors, metrics, samples; export weights"}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "machine-readable JSON output")

	ls := &cobra.Command{
		Use:   "ls RUN.db",
		Short: "List checkpoints: step, time, size, key metrics",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := checkpoint.OpenReadOnly(args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			steps, err := st.Steps()
			if err != nil {
				return err
			}
			type row struct {
				Step    int                `json:"step"`
				Time    time.Time          `json:"time"`
				Bytes   int                `json:"weight_bytes"`
				Metrics map[string]float64 `json:"metrics"`
			}
			rows := []row{} // an empty store lists as [], not null
			for _, s := range steps {
				ck, err := st.Load(s)
				if err != nil {
					return err
				}
				rows = append(rows, row{s, ck.Time, weightBytes(ck), ck.Metrics})
			}
			if asJSON {
				return printJSON(rows)
			}
			w := table()
			fmt.Fprintln(w, "STEP\tTIME\tWEIGHTS\tLOSS\tEVAL_ACC")
			for _, r := range rows {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", r.Step, r.Time.Local().Format(time.DateTime), humanBytes(r.Bytes), metric(r.Metrics, "loss"), metric(r.Metrics, "eval_acc"))
			}
			return w.Flush()
		},
	}

	show := &cobra.Command{
		Use:   "show RUN.db[:STEP] [TENSOR]",
		Short: "The run's config and every tensor's shape, norm, mean, std, min, max, NaN/Inf",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, ck, err := checkpoint.OpenRef(args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			meta, err := st.Meta()
			if err != nil {
				return err
			}
			var stats []checkpoint.Stats
			for _, t := range ck.Weights {
				if len(args) == 2 && t.Name != args[1] {
					continue
				}
				stats = append(stats, checkpoint.TensorStats(t))
			}
			if len(args) == 2 && len(stats) == 0 {
				return fmt.Errorf("%s step %d has no tensor %q (see `remask ckpt show %s`)", st.Path(), ck.Step, args[1], args[0])
			}
			hist, err := st.ConfigHistory()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(map[string]any{"step": ck.Step, "config": meta.ConfigYAML, "version": meta.Version, "tensors": stats, "config_history": hist})
			}
			if len(args) == 1 {
				fmt.Printf("# %s step %d (remask %s, seed %d)\n%s\n", st.Path(), ck.Step, meta.Version, meta.Seed, strings.TrimSpace(meta.ConfigYAML))
				for _, h := range hist {
					fmt.Printf("# resumed at step %d on %s with changes", h.Step, h.Time.Local().Format(time.DateTime))
					if h.Accepted {
						fmt.Print(" (accepted with --accept-changes)")
					}
					fmt.Println(":")
					for _, c := range h.Changes {
						fmt.Printf("#   %s\n", c)
					}
				}
			}
			w := table()
			fmt.Fprintln(w, "TENSOR\tSHAPE\tDTYPE\tNORM\tMEAN\tSTD\tMIN\tMAX\tNAN\tINF")
			for _, s := range stats {
				fmt.Fprintf(w, "%s\t%v\t%s\t%.4g\t%.4g\t%.4g\t%.4g\t%.4g\t%d\t%d\n", s.Name, s.Shape, s.DType, s.Norm, s.Mean, s.Std, s.Min, s.Max, s.NaN, s.Inf)
			}
			return w.Flush()
		},
	}

	diff := &cobra.Command{
		Use:   "diff RUN.db:A RUN.db:B",
		Short: "Per-tensor relative change and config differences between two checkpoints (of one run or two)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sa, a, err := checkpoint.OpenRef(args[0])
			if err != nil {
				return err
			}
			defer sa.Close()
			sb, b, err := checkpoint.OpenRef(args[1])
			if err != nil {
				return err
			}
			defer sb.Close()
			ma, err := sa.Meta()
			if err != nil {
				return err
			}
			mb, err := sb.Meta()
			if err != nil {
				return err
			}
			cfgDiff := configDiff(ma.ConfigYAML, mb.ConfigYAML)
			d := checkpoint.Diff(a, b)
			if asJSON {
				return printJSON(map[string]any{"a": args[0], "b": args[1], "tensors": d, "config": cfgDiff})
			}
			w := table()
			fmt.Fprintln(w, "TENSOR\tREL_CHANGE\tMAX_ABS_DIFF\tNOTE")
			for _, t := range d {
				note := t.ShapeChange
				if t.OnlyIn != "" {
					note = "only in " + t.OnlyIn
				}
				fmt.Fprintf(w, "%s\t%.4g\t%.4g\t%s\n", t.Name, t.RelChange, t.MaxAbsDiff, note)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, c := range cfgDiff {
				fmt.Printf("config %s: %s -> %s\n", c.Field, c.A, c.B)
			}
			return nil
		},
	}

	var keys []string
	var asCSV bool
	metricsCmd := &cobra.Command{
		Use:   "metrics RUN.db [--keys a,b] [--csv]",
		Short: "Every logged scalar by step",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := checkpoint.OpenReadOnly(args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.Metrics()
			if err != nil {
				return err
			}
			cols := keys
			if len(cols) == 0 {
				cols = metricKeys(rows)
			} else if err := checkMetricKeys(st.Path(), rows, cols); err != nil {
				return err
			}
			if asJSON {
				if rows == nil {
					rows = []checkpoint.MetricsRow{}
				}
				return printJSON(rows)
			}
			if asCSV {
				w := csv.NewWriter(os.Stdout)
				w.Write(append([]string{"step"}, cols...))
				for _, r := range rows {
					rec := []string{strconv.Itoa(r.Step)}
					for _, k := range cols {
						rec = append(rec, metric(r.Values, k))
					}
					w.Write(rec)
				}
				w.Flush()
				return w.Error()
			}
			w := table()
			fmt.Fprintln(w, "STEP\t"+strings.ToUpper(strings.Join(cols, "\t")))
			for _, r := range rows {
				fmt.Fprintf(w, "%d", r.Step)
				for _, k := range cols {
					fmt.Fprintf(w, "\t%s", metric(r.Values, k))
				}
				fmt.Fprintln(w)
			}
			return w.Flush()
		},
	}
	metricsCmd.Flags().StringSliceVar(&keys, "keys", nil, "metrics to show (default: all)")
	metricsCmd.Flags().BoolVar(&asCSV, "csv", false, "CSV output")

	samples := &cobra.Command{
		Use:   "samples RUN.db[:STEP]",
		Short: "Prompts, completions, rewards and the unmasking order of each completion",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, step, hasStep, err := checkpoint.ParseRef(args[0])
			if err != nil {
				return err
			}
			st, err := checkpoint.OpenReadOnly(path)
			if err != nil {
				return err
			}
			defer st.Close()
			if !hasStep {
				steps, err := st.SampleSteps()
				if err != nil {
					return err
				}
				if len(steps) == 0 {
					return fmt.Errorf("%s has no samples (they are stored at each periodic eval)", path)
				}
				step = steps[len(steps)-1]
			}
			ss, err := st.Samples(step)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(map[string]any{"step": step, "samples": ss})
			}
			fmt.Printf("# %s step %d\n", path, step)
			for i, s := range ss {
				fmt.Printf("\n[%d] reward %.3g\nprompt:     %s\ncompletion: %s\n", i, s.Reward, s.Prompt, s.Completion)
				if len(s.Components) > 1 || len(s.Failures) > 0 || len(s.Details) > 0 {
					fmt.Printf("rewards:    %s\n", rewardView(s))
				}
				if len(s.Trace) > 0 {
					fmt.Printf("unmasking:  %s\n", traceView(s.Completion, s.Trace))
				}
			}
			return nil
		},
	}

	var format, out string
	export := &cobra.Command{
		Use:   "export RUN.db[:STEP] --format safetensors -o model.safetensors",
		Short: "Write a checkpoint's weights as safetensors, with config.json beside it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "safetensors" {
				return fmt.Errorf("export: --format %q: only safetensors is supported", format)
			}
			if out == "" {
				return fmt.Errorf("export: -o FILE is required")
			}
			st, ck, err := checkpoint.OpenRef(args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			meta, err := st.Meta()
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, func(w io.Writer) error {
				return checkpoint.WriteSafetensors(w, ck.Weights, map[string]string{"format": "remask", "step": strconv.Itoa(ck.Step), "remask_version": meta.Version})
			}); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(meta.ConfigYAML), &cfg); err != nil {
				return fmt.Errorf("export: stored config: %w", err)
			}
			cj, _ := json.MarshalIndent(map[string]any{"remask_config": cfg, "vocab": meta.Vocab, "step": ck.Step}, "", "  ")
			cfgPath := filepath.Join(filepath.Dir(out), "config.json")
			if err := writeFileAtomic(cfgPath, func(w io.Writer) error { _, err := w.Write(append(cj, '\n')); return err }); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(os.Stderr, "wrote %s (%d tensors, step %d) and %s\n", out, len(ck.Weights), ck.Step, cfgPath)
			return nil
		},
	}
	export.Flags().StringVar(&format, "format", "safetensors", "export format")
	export.Flags().StringVarP(&out, "out", "o", "", "output file")

	var cfgFile string
	var overrides []string
	importCmd := &cobra.Command{
		Use:   "import model.safetensors -c RUN.yaml",
		Short: "Create a run store whose step-0 checkpoint holds the file's weights (then use model.init_from: RUN.db)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgFile == "" {
				return fmt.Errorf("import: -c RUN.yaml is required (it gives the model shape and the store's name)")
			}
			cfg, err := configs.Load(cfgFile, overrides)
			if err != nil {
				return err
			}
			path, err := trainer.ImportWeights(cfg, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "created %s from %s\n", path, args[0])
			return nil
		},
	}
	importCmd.Flags().StringVarP(&cfgFile, "config", "c", "", "run config describing the model")
	importCmd.Flags().StringArrayVar(&overrides, "set", nil, "override a config field")

	compact := &cobra.Command{
		Use:   "compact RUN.db",
		Short: "Rewrite a run store without the space that deleted checkpoints left",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			before, after, err := checkpoint.Compact(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(map[string]int64{"bytes_before": before, "bytes_after": after})
			}
			fmt.Printf("%s: %s -> %s\n", args[0], humanBytes(int(before)), humanBytes(int(after)))
			return nil
		},
	}

	cmd.AddCommand(compact, ls, show, diff, metricsCmd, newCkptPlotCmd(), samples, export, importCmd)
	return cmd
}

func metric(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func metricKeys(rows []checkpoint.MetricsRow) []string {
	set := map[string]bool{}
	for _, r := range rows {
		for k := range r.Values {
			set[k] = true
		}
	}
	var ks []string
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// traceView shows the order in which a completion's characters were
// unmasked: the completion again, one line per step, each character at its
// column the step it was committed.
func traceView(completion string, trace []int) string {
	chars := []rune(completion)
	last := 0
	for _, s := range trace {
		last = max(last, s)
	}
	var b strings.Builder
	for s := 0; s <= last; s++ {
		line := make([]rune, len(trace))
		hit := false
		for i, st := range trace {
			line[i] = '.'
			if st <= s {
				line[i] = '_'
			}
			if st == s {
				line[i] = '#'
				if i < len(chars) {
					line[i] = chars[i]
				}
				hit = true
			}
		}
		if hit {
			fmt.Fprintf(&b, "\n  step %3d  %s", s, string(line))
		}
	}
	return b.String()
}

type fieldDiff struct {
	Field string `json:"field"`
	A     string `json:"a"`
	B     string `json:"b"`
}

// configDiff lists the leaf fields whose values differ between two YAML configs.
func configDiff(a, b string) []fieldDiff {
	flat := func(y string) map[string]string {
		var m map[string]any
		yaml.Unmarshal([]byte(y), &m)
		out := map[string]string{}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			if mm, ok := v.(map[string]any); ok {
				for k, x := range mm {
					walk(strings.TrimPrefix(prefix+"."+k, "."), x)
				}
				return
			}
			out[prefix] = fmt.Sprint(v)
		}
		walk("", m)
		return out
	}
	fa, fb := flat(a), flat(b)
	var out []fieldDiff
	for k, va := range fa {
		if vb, ok := fb[k]; !ok || vb != va {
			out = append(out, fieldDiff{k, va, fb[k]})
		}
	}
	for k, vb := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, fieldDiff{k, "", vb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// writeFileAtomic writes through a temp file and a rename, so a failed or
// interrupted export never leaves a half-written file under the final name.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// rewardView is one line with every reward component of a sample, why any
// failed, and what each reported.
func rewardView(s checkpoint.Sample) string {
	names := make([]string, 0, len(s.Components))
	for k := range s.Components {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		p := fmt.Sprintf("%s=%.3g", k, s.Components[k])
		if why, ok := s.Failures[k]; ok {
			p += fmt.Sprintf(" (failed: %s)", why)
		}
		if d, ok := s.Details[k]; ok {
			if b, err := json.Marshal(d); err == nil {
				p += " " + string(b)
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "  ")
}

// checkMetricKeys refuses --keys that no row of the store logged, listing the
// keys it has.
func checkMetricKeys(path string, rows []checkpoint.MetricsRow, keys []string) error {
	have := metricKeys(rows)
	var unknown []string
	for _, k := range keys {
		if !slices.Contains(have, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	if len(have) == 0 {
		return fmt.Errorf("--keys %s: %s has no metrics logged yet", strings.Join(unknown, ","), path)
	}
	return fmt.Errorf("--keys: %s not logged in %s (it has: %s)", strings.Join(unknown, ", "), path, strings.Join(have, ", "))
}
