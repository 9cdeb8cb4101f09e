package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/trainer"
)

func newTrainCmd() *cobra.Command {
	var (
		file      string
		overrides []string
		resume    bool
		noBar     bool
		dump      string
	)
	cmd := &cobra.Command{
		Use:   "train -c FILE [--set key=value]...",
		Short: "Train from a YAML run config: mdlm pretraining, sft, or RL (diffu_grpo, unigrpo, coupled_grpo)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("train: -c FILE is required")
			}
			cfg, err := configs.Load(file, overrides)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opt := trainer.Options{Resume: resume, Log: logger(), DumpBatch: dump}
			if !noBar && isatty.IsTerminal(os.Stdout.Fd()) {
				bar := progressbar.NewOptions(cfg.Train.Steps, progressbar.OptionSetDescription("train"),
					progressbar.OptionShowCount(), progressbar.OptionSetItsString("step"), progressbar.OptionShowIts(),
					progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
				opt.Progress = func(step, total int, s trainer.StepStats) {
					bar.Describe(fmt.Sprintf("train loss %.4f", s.Loss))
					_ = bar.Set(step)
				}
			}
			sum, err := trainer.Train(ctx, cfg, opt)
			if err != nil {
				return err
			}
			fmt.Printf("run store: %s (step %d, loss %.4f", sum.Path, sum.Steps, sum.Loss)
			if sum.EvalAcc >= 0 {
				fmt.Printf(", eval accuracy %.3f", sum.EvalAcc)
			}
			fmt.Printf(", %s)\n", sum.Elapsed.Round(1e7))
			if sum.Interrupted {
				fmt.Printf("interrupted: continue with: remask train -c %s --resume\n", file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "run config YAML")
	cmd.Flags().StringArrayVar(&overrides, "set", nil, "override a config field, e.g. --set train.steps=100 (repeatable)")
	cmd.Flags().BoolVar(&resume, "resume", false, "continue the run from its latest checkpoint")
	cmd.Flags().BoolVar(&noBar, "no-progress", false, "no progress bar even on a terminal")
	cmd.Flags().StringVar(&dump, "dump-batch", "", "RL: write every inner iteration's batch (inputs, masks, log-probs, advantages, loss) as JSON into this folder")
	return cmd
}
