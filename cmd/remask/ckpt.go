package main

import (
	"bufio"
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
	"github.com/remask/remask/model"
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
			files, err := st.FileNames()
			if err != nil {
				return err
			}
			if asJSON {
				out := map[string]any{"step": ck.Step, "config": meta.ConfigYAML, "version": meta.Version, "tensors": stats, "config_history": hist}
				if len(files) > 0 { // an imported model's config.json and tokenizer files
					out["files"] = files
				}
				return printJSON(out)
			}
			if len(args) == 1 {
				fmt.Printf("# %s step %d (remask %s, seed %d)\n%s\n", st.Path(), ck.Step, meta.Version, meta.Seed, strings.TrimSpace(meta.ConfigYAML))
				if len(files) > 0 {
					fmt.Printf("# kept files: %s\n", strings.Join(files, ", "))
				}
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
		Use:   "export RUN.db[:STEP] --format safetensors -o model.safetensors | --format hf -o DIR",
		Short: "Write a checkpoint's weights as safetensors with config.json beside it, or (llada, dream) as a Hugging Face folder",
		Long: `Write a checkpoint's weights.

--format safetensors (default) writes remask's tensors (F32, remask's names) to
the file -o and a config.json of the run beside it.

--format hf writes the checkpoint of an imported llada or dream model as a
Hugging Face folder -o DIR (which must not exist or be empty) that the
family's published modeling code loads unchanged: model.safetensors (F32,
the family's tensor names and shapes), config.json in the family's schema,
and the tokenizer, generation and modeling files the import kept.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "safetensors" && format != "hf" {
				return fmt.Errorf("export: --format %q: want safetensors or hf", format)
			}
			if out == "" {
				return fmt.Errorf("export: -o is required (a file for safetensors, a folder for hf)")
			}
			if format == "hf" {
				files, err := trainer.ExportHF(args[0], out)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "wrote %s: %s\n", out, strings.Join(files, ", "))
				return nil
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
	export.Flags().StringVar(&format, "format", "safetensors", "export format: safetensors | hf")
	export.Flags().StringVarP(&out, "out", "o", "", "output file (safetensors) or folder (hf)")

	var cfgFile, hfDir, importOut string
	var overrides []string
	var maxLen int
	importCmd := &cobra.Command{
		Use:   "import model.safetensors -c RUN.yaml | --hf DIR -o RUN.db",
		Short: "Create a run store whose step-0 checkpoint holds a file's or a Hugging Face model's weights (then use model.init_from: RUN.db)",
		Long: `Create a run store whose step-0 checkpoint holds imported weights.

import model.safetensors -c RUN.yaml reads remask's own tensors (as export
--format safetensors writes them) for the model RUN.yaml describes.

import --hf DIR -o RUN.db reads a Hugging Face folder of the llada or dream
family: config.json, model.safetensors or model.safetensors.index.json and
its shards (F32, F16 or BF16, stored as float32), and keeps config.json,
the tokenizer and generation files and the modeling code (*.py) in the
store. The store's config says the family and shape (model.family,
model.vocab_size, model.mask_id, ...). model.max_len is the checkpoint's
limit, at most 4096, unless --max-len says otherwise. Nothing is written
when the folder is not a model remask can compute.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if hfDir != "" {
				switch {
				case len(args) > 0:
					return fmt.Errorf("import: --hf DIR takes no file argument")
				case importOut == "":
					return fmt.Errorf("import: --hf needs -o RUN.db, the run store to create")
				case cfgFile != "" || len(overrides) > 0:
					return fmt.Errorf("import: --hf takes the model from DIR/config.json; -c and --set do not apply")
				case maxLen != 0 && (maxLen < 8 || maxLen > 1<<16):
					return fmt.Errorf("import: --max-len %d: want 8 to 65536", maxLen)
				}
				imp, err := trainer.ImportHF(hfDir, importOut, maxLen)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "created %s from %s: %s model, %d parameters (%s, stored as float32), kept %s\n",
					imp.Path, hfDir, imp.Family, imp.Params, strings.Join(imp.DTypes, ", "), strings.Join(imp.Files, ", "))
				return nil
			}
			if len(args) != 1 {
				return fmt.Errorf("import: give a safetensors file (with -c RUN.yaml), or --hf DIR -o RUN.db")
			}
			if importOut != "" || maxLen != 0 {
				return fmt.Errorf("import: -o and --max-len go with --hf; a safetensors file takes its store from -c RUN.yaml")
			}
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
	importCmd.Flags().StringVar(&hfDir, "hf", "", "a Hugging Face model folder (llada or dream) to import")
	importCmd.Flags().StringVarP(&importOut, "out", "o", "", "with --hf: the run store to create")
	importCmd.Flags().IntVar(&maxLen, "max-len", 0, "with --hf: model.max_len (0 = the checkpoint's limit, at most 4096)")

	var idsFlag string
	logits := &cobra.Command{
		Use:   "logits RUN.db[:STEP] --ids 3,17,5 [--json]",
		Short: "The network's raw logits (no logit shift) for one sequence of token ids",
		Long: `Print the network's own logits for one sequence of token ids, as its
family's modeling code returns them: row i is the output at position i (for
dream, the distribution of token i+1; remask's samplers shift it). With
--json: {"logits": [[...], ...]}; else one line per position.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(idsFlag)
			if err != nil {
				return fmt.Errorf("logits: --ids: %w", err)
			}
			p, _, err := trainer.LoadParams(args[0], logger())
			if err != nil {
				return err
			}
			c := p.Config
			if len(ids) > c.MaxLen {
				return fmt.Errorf("logits: %d ids, more than the model's max_len %d", len(ids), c.MaxLen)
			}
			for i, id := range ids {
				if id >= c.Vocab {
					return fmt.Errorf("logits: --ids: id %d (position %d) is outside the model's %d token ids", id, i, c.Vocab)
				}
			}
			flat, err := model.NewInference(p).ForwardRaw(ids, 1, len(ids), nil, nil)
			if err != nil {
				return err
			}
			rows := make([][]float32, len(ids))
			for i := range rows {
				rows[i] = flat[i*c.Vocab : (i+1)*c.Vocab]
			}
			if asJSON {
				b, err := json.Marshal(map[string]any{"logits": rows})
				if err != nil {
					return err
				}
				_, err = fmt.Printf("%s\n", b)
				return err
			}
			w := bufio.NewWriter(os.Stdout)
			for i, row := range rows {
				fmt.Fprintf(w, "%d\t%d", i, ids[i])
				for _, v := range row {
					fmt.Fprintf(w, "\t%s", strconv.FormatFloat(float64(v), 'g', -1, 32))
				}
				fmt.Fprintln(w)
			}
			return w.Flush()
		},
	}
	logits.Flags().StringVar(&idsFlag, "ids", "", "comma-separated token ids, e.g. 3,17,5")

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

	cmd.AddCommand(compact, ls, show, diff, metricsCmd, newCkptPlotCmd(), newCkptCompareCmd(&asJSON), samples, export, importCmd, logits)
	return cmd
}

// parseIDs reads "3,17,5": at least one id, none negative, at most 65536.
func parseIDs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("required, e.g. --ids 3,17,5")
	}
	parts := strings.Split(s, ",")
	if len(parts) > 1<<16 {
		return nil, fmt.Errorf("%d ids, at most 65536", len(parts))
	}
	ids := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a token id (a whole number >= 0)", p)
		}
		ids[i] = n
	}
	return ids, nil
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
