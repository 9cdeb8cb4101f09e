package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/remask/remask/checkpoint"
)

// newCkptPlotCmd draws one panel per metric, stacked, into a PNG.
func newCkptPlotCmd() *cobra.Command {
	var keys []string
	var out string
	cmd := &cobra.Command{
		Use:   "plot RUN.db --keys loss,eval_acc -o out.png",
		Short: "Plot metrics to a PNG, one panel per key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("plot: -o FILE.png is required")
			}
			st, err := checkpoint.OpenReadOnly(args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.Metrics()
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				keys = []string{"loss"}
			}
			var plots [][]*plot.Plot
			for _, k := range keys {
				var pts plotter.XYs
				for _, r := range rows {
					if v, ok := r.Values[k]; ok {
						pts = append(pts, plotter.XY{X: float64(r.Step), Y: v})
					}
				}
				if len(pts) == 0 {
					return fmt.Errorf("plot: %s has no metric %q (have: %v)", args[0], k, metricKeys(rows))
				}
				p := plot.New()
				p.Title.Text = k
				p.X.Label.Text = "step"
				line, err := plotter.NewLine(pts)
				if err != nil {
					return fmt.Errorf("plot %s: %w", k, err)
				}
				p.Add(line, plotter.NewGrid())
				if len(pts) < 40 {
					sc, err := plotter.NewScatter(pts)
					if err == nil {
						p.Add(sc)
					}
				}
				plots = append(plots, []*plot.Plot{p})
			}
			const w, h = 8 * vg.Inch, 2.6 * vg.Inch
			img := vgimg.New(w, h*vg.Length(len(plots)))
			dc := draw.New(img)
			t := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Millimeter * 2, PadX: vg.Millimeter * 2,
				PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
			canvases := plot.Align(plots, t, dc)
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
		},
	}
	cmd.Flags().StringSliceVar(&keys, "keys", nil, "metrics to plot, one panel each (default loss)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "PNG file to write")
	return cmd
}
