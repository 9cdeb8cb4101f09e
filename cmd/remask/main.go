// Command remask trains masked diffusion language models and post-trains them
// with reinforcement learning. See README.md for the quickstart.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/model"
	"github.com/remask/remask/reward/sandbox"
)

// globalFlags are shared by every subcommand.
type globalFlags struct {
	logFormat string // console | json
	logLevel  string
}

var flags globalFlags

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "remask",
		Short:         "RL post-training for masked diffusion language models",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if flags.logFormat != "console" && flags.logFormat != "json" {
				return fmt.Errorf("--log-format %q: want console or json", flags.logFormat)
			}
			if _, err := zerolog.ParseLevel(flags.logLevel); err != nil {
				return fmt.Errorf("--log-level %q: %w", flags.logLevel, err)
			}
			log := logger()
			checkpoint.OnWarning = func(m string) { log.Warn().Msg(m) }
			log.Debug().Str("blas", model.BLASInfo()).Msg("BLAS picked at start")
			return nil
		},
	}
	root.PersistentFlags().StringVar(&flags.logFormat, "log-format", "console", "log format: console or json")
	root.PersistentFlags().StringVar(&flags.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newTrainCmd(), newSampleCmd(), newEvalCmd(), newBenchCmd(), newDataCmd(), newProbeCmd())
	for _, extra := range extraCommands {
		root.AddCommand(extra())
	}
	return root
}

// extraCommands are registered by the files of other parts (ckpt, reward).
var extraCommands []func() *cobra.Command

// logger writes structured logs to stderr: human-readable by default, JSON
// lines with --log-format json.
func logger() zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(flags.logLevel) // validated in PersistentPreRunE
	var l zerolog.Logger
	if flags.logFormat == "json" {
		l = zerolog.New(os.Stderr)
	} else {
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: !isatty.IsTerminal(os.Stderr.Fd())})
	}
	return l.Level(lvl).With().Timestamp().Logger()
}

func main() {
	sandbox.MaybeChild() // the reward sandbox re-executes this binary as its helper
	os.Exit(run(os.Args[1:]))
}

// run executes the CLI and turns any error, or a panic that escaped, into one
// line on stderr and a non-zero exit code.
func run(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "remask: internal error: %v (please report this)\n", r)
			code = 2
		}
	}()
	root := newRootCmd()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "remask: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	return 0
}
