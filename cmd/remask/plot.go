package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/remask/remask/checkpoint"
)

// plotRun is one run's metrics and the name it is drawn under.
type plotRun struct {
	path, name string
	objective  string // from the stored config; "" if it has none
	rows       []checkpoint.MetricsRow
}

// newCkptPlotCmd draws one panel per metric, stacked, into a PNG; with several
// runs, each panel has one line per run.
func newCkptPlotCmd() *cobra.Command {
	var keys []string
	var out, xAxis string
	cmd := &cobra.Command{
		Use:   "plot RUN.db [RUN.db]... --keys loss,eval_acc -o out.png",
		Short: "Plot metrics to a PNG, one panel per key, one line per run",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("plot: -o FILE.png is required")
			}
			if xAxis != "step" && xAxis != "minutes" {
				return fmt.Errorf("plot: --x %q: want step or minutes", xAxis)
			}
			runs := make([]plotRun, len(args))
			for i, a := range args {
				r, err := loadPlotRun(a)
				if err != nil {
					return err
				}
				runs[i] = r
			}
			uniqueNames(runs)
			if len(keys) == 0 {
				keys = []string{"loss"}
			}
			var plots [][]*plot.Plot
			for _, k := range keys {
				p, err := metricPanel(k, runs, xAxis)
				if err != nil {
					return err
				}
				plots = append(plots, []*plot.Plot{p})
			}
			names := make([]string, len(runs))
			for i, r := range runs {
				names[i] = r.name
			}
			return writePlots(out, strings.Join(names, ", "), names, plots)
		},
	}
	cmd.Flags().StringSliceVar(&keys, "keys", nil, "metrics to plot, one panel each (default loss)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "PNG file to write")
	cmd.Flags().StringVar(&xAxis, "x", "step", "x axis: step, or minutes (training time so far: rollout_s + update_s), to compare runs at equal compute")
	return cmd
}

// loadPlotRun reads a run store's metrics, its run.name (the file's name
// when the stored config does not give one) and its objective.
func loadPlotRun(path string) (plotRun, error) {
	st, err := checkpoint.OpenReadOnly(path)
	if err != nil {
		return plotRun{}, err
	}
	defer st.Close()
	rows, err := st.Metrics()
	if err != nil {
		return plotRun{}, err
	}
	r := plotRun{path: path, name: strings.TrimSuffix(filepath.Base(path), ".db"), rows: rows}
	if meta, err := st.Meta(); err == nil {
		var c struct {
			Run struct {
				Name string `yaml:"name"`
			} `yaml:"run"`
			Objective string `yaml:"objective"`
		}
		if yaml.Unmarshal([]byte(meta.ConfigYAML), &c) == nil {
			if c.Run.Name != "" {
				r.name = c.Run.Name
			}
			r.objective = c.Objective
		}
	}
	return r, nil
}

// uniqueNames falls back to the paths when two runs share a name.
func uniqueNames(runs []plotRun) {
	seen := map[string]bool{}
	for _, r := range runs {
		if seen[r.name] {
			for i := range runs {
				runs[i].name = runs[i].path
			}
			return
		}
		seen[r.name] = true
	}
}

// metricPanel is one key's panel: a line per run that logged it.
//
// xAxis "minutes" puts each row at the run's training time so far (rollout_s
// plus update_s summed up to its step) instead of its step, so runs whose
// steps cost differently compare at equal compute.
func metricPanel(key string, runs []plotRun, xAxis string) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "step"
	if xAxis == "minutes" {
		p.X.Label.Text = "training minutes (rollout + update)"
	}
	p.Y.Label.Text = key
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, r := range runs {
		pts := panelPoints(r.rows, key, xAxis)
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("plot %s of %s: %w", key, r.path, err)
		}
		line.Color = plotutil.Color(i)
		line.Dashes = runDashes(i)
		p.Add(line)
		if len(pts) < 40 {
			if sc, err := plotter.NewScatter(pts); err == nil {
				sc.Color = plotutil.Color(i)
				p.Add(sc)
			}
		}
		drawn++
	}
	if drawn == 0 {
		if len(runs) == 1 {
			return nil, fmt.Errorf("plot: %s has no metric %q (have: %v)", runs[0].path, key, metricKeys(runs[0].rows))
		}
		return nil, fmt.Errorf("plot: none of the runs has a metric %q (the first has: %v)", key, metricKeys(runs[0].rows))
	}
	return p, nil
}

// writePlots stacks the panels under one title and, for several runs, one
// legend of the runs' colours (the same in every panel), and writes a PNG.
func writePlots(out, title string, names []string, plots [][]*plot.Plot) error {
	const w, h = 8 * vg.Inch, 2.6 * vg.Inch
	ts := plot.New().Title.TextStyle // the panels' title style, larger
	ts.Font = font.From(plot.DefaultFont, 14)
	ts.YAlign = draw.YCenter
	headH := 0.4 * vg.Inch
	legend := plot.NewLegend()
	if len(names) > 1 {
		for i, n := range names {
			line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
			if err != nil {
				return fmt.Errorf("plot: legend: %w", err)
			}
			line.Color = plotutil.Color(i)
			line.Dashes = runDashes(i)
			legend.Add(n, line)
		}
		legend.Top = true
		legend.XOffs = -vg.Millimeter * 2
		legend.YOffs = -headH
		rowH := legend.TextStyle.Rectangle("M").Size().Y + legend.Padding
		headH += rowH*vg.Length(len(names)) + vg.Millimeter*2
	}
	img := vgimg.New(w, h*vg.Length(len(plots))+headH)
	dc := draw.New(img)
	dc.FillText(ts, vg.Point{X: w / 2, Y: dc.Max.Y - 0.2*vg.Inch}, title)
	if len(names) > 1 {
		legend.Draw(dc)
	}
	panels := draw.Crop(dc, 0, 0, 0, -headH)
	t := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Millimeter * 2, PadX: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, panels)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: write %s: %w", out, err)
	}
	return f.Close()
}

// panelPoints is one run's line in a key's panel: (step or training minutes
// so far, value) at every row that logged the key.
func panelPoints(rows []checkpoint.MetricsRow, key, xAxis string) plotter.XYs {
	var pts plotter.XYs
	minutes := 0.0
	for _, row := range rows {
		minutes += (row.Values["rollout_s"] + row.Values["update_s"]) / 60
		x := float64(row.Step)
		if xAxis == "minutes" {
			x = minutes
		}
		if v, ok := row.Values[key]; ok {
			pts = append(pts, plotter.XY{X: x, Y: v})
		}
	}
	return pts
}

// runDashes tells runs apart beyond colour: the palette's colours include
// two reds (runs 1 and 6), and runs past the 7th reuse a colour; so every
// second run is dashed, and each further 7 runs take the next pattern.
func runDashes(i int) []vg.Length {
	return plotutil.Dashes(i%2 + i/7)
}
