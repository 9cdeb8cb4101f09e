package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/remask/remask/trainer"
)

// newProbeCmd measures an RL config's first gradient without training.
func newProbeCmd() *cobra.Command {
	var (
		file      string
		overrides []string
		prompts   int
		splits    int
	)
	cmd := &cobra.Command{
		Use:   "probe -c RL.yaml [--set key=value]...",
		Short: "Measure an RL config's gradient at its starting weights: agreement between halves, between mask draws, and with SFT on the answers; one JSON line",
		Long: `probe rolls out --prompts training prompts with the config's starting weights
(model.init_from), scores them, and computes the algorithm's policy gradient on
the groups with signal, split in random halves. It prints cosines between
gradients: half_agreement (two halves: how much of one update is signal),
mask_agreement (one half, two mask draws: how much noise the masking adds),
supervised_alignment (a half against SFT on the same puzzles' reference
answers: does the update teach the answers). Nothing is written. Compare
algorithms and options with --set, e.g. --set algo.trace_masks=true.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("probe: -c FILE is required")
			}
			cfg, err := loadRunConfig(file, overrides)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			rep, err := trainer.Probe(ctx, cfg, trainer.ProbeOptions{Prompts: prompts, Splits: splits, Log: logger()})
			if err != nil {
				return err
			}
			b, err := json.Marshal(probeJSON(rep))
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "RL run config YAML")
	cmd.Flags().StringArrayVar(&overrides, "set", nil, "override a config field (repeatable)")
	cmd.Flags().IntVar(&prompts, "prompts", 256, "prompts to roll out (G completions each)")
	cmd.Flags().IntVar(&splits, "splits", 4, "random halvings to average over")
	return cmd
}

// probeJSON writes NaN (no reference answers) as null, which JSON can hold.
func probeJSON(r trainer.ProbeReport) map[string]any {
	m := map[string]any{"algorithm": r.Algorithm, "prompts": r.Prompts, "group": r.Group, "signal_groups": r.SignalGroups,
		"reward": r.Reward, "half_agreement": r.HalfAgreement, "mask_agreement": r.MaskAgreement, "splits": r.Splits,
		"supervised_alignment": nil}
	if r.SupervisedAlignment == r.SupervisedAlignment {
		m["supervised_alignment"] = r.SupervisedAlignment
	}
	return m
}
