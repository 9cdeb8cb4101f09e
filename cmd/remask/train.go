package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/remask/remask/trainer"
)

func newTrainCmd() *cobra.Command {
	var (
		file          string
		overrides     []string
		resume        bool
		acceptChanges bool
		noBar         bool
		dump          string
	)
	cmd := &cobra.Command{
		Use:   "train -c FILE [--set key=value]...",
		Short: "Train from a YAML run config: mdlm pretraining, sft, or RL (remask algos lists the estimators)",
		Long: `Train from a YAML run config (docs/config.md): objective mdlm (pretraining),
sft, edit, or an RL estimator. ` + "`remask algos`" + ` lists the RL estimators with their
defaults; their settings are algo.* and algo.NAME.* (docs/estimators.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("train: -c FILE is required")
			}
			cfg, err := loadRunConfig(file, overrides)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opt := trainer.Options{Resume: resume, AcceptChanges: acceptChanges, Log: logger(), DumpBatch: dump}
			if at := os.Getenv("REMASK_SIGNAL_AT"); at != "" {
				if opt.AtPhase, err = signalAt(ctx, at); err != nil {
					return err
				}
			}
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
				fmt.Printf("interrupted: continue with: %s\n", resumeCommand(file, overrides))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "run config YAML")
	cmd.Flags().StringArrayVar(&overrides, "set", nil, "override a config field, e.g. --set train.steps=100 (repeatable)")
	cmd.Flags().BoolVar(&resume, "resume", false, "continue the run from its latest checkpoint")
	cmd.Flags().BoolVar(&acceptChanges, "accept-changes", false, "with --resume: continue even when fields that define the run (seed, objective, model, data, batch, optimizer, algorithm, rewards) differ from the stored config; the change is recorded in the store")
	cmd.Flags().BoolVar(&noBar, "no-progress", false, "no progress bar even on a terminal")
	cmd.Flags().StringVar(&dump, "dump-batch", "", "RL: write every inner update as JSON into this folder: rewards, advantages, masks, draws, log-probs, loss (schema: docs/estimators.md)")
	return cmd
}

// signalAt parses REMASK_SIGNAL_AT=PHASE:STEP[:SIGNAL] (SIGNAL term or int,
// default term), a hook for the signal tests: the run sends itself the
// signal as step STEP enters PHASE (rollout, update, eval, ckpt), then waits
// until the signal has cancelled ctx, so the interruption lands inside that
// phase on any machine, however loaded.
func signalAt(ctx context.Context, spec string) (func(string, int), error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("REMASK_SIGNAL_AT=%q: want PHASE:STEP[:term|int]", spec)
	}
	step, err := strconv.Atoi(parts[1])
	if err != nil {
		return nil, fmt.Errorf("REMASK_SIGNAL_AT=%q: step: %w", spec, err)
	}
	sig := syscall.SIGTERM
	if len(parts) == 3 {
		switch parts[2] {
		case "term":
		case "int":
			sig = syscall.SIGINT
		default:
			return nil, fmt.Errorf("REMASK_SIGNAL_AT=%q: signal must be term or int", spec)
		}
	}
	var once sync.Once
	return func(phase string, s int) {
		if phase != parts[0] || s != step {
			return
		}
		once.Do(func() {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(sig)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		})
	}, nil
}

// resumeCommand is the command line that continues an interrupted run: the
// same file and --set overrides, shell-quoted, plus --resume.
func resumeCommand(file string, overrides []string) string {
	parts := []string{"remask", "train", "-c", shellQuote(file)}
	for _, o := range overrides {
		parts = append(parts, "--set", shellQuote(o))
	}
	return strings.Join(append(parts, "--resume"), " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
