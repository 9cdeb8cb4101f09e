package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/remask/remask/data"
)

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "data", Short: "Generate and check task data files"}
	var (
		task, out string
		n         int
		seed      uint64
		noAnswer  bool
	)
	gen := &cobra.Command{
		Use:   "gen --task sudoku4x4|countdown --n N [--seed S] [-o FILE]",
		Short: "Write generated puzzles in d1's formats (sudoku CSV, countdown JSONL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > data.MaxGenerated {
				return fmt.Errorf("data gen: --n %d: want 1 to %d", n, data.MaxGenerated)
			}
			if task != "sudoku4x4" && task != "countdown" {
				return fmt.Errorf("data gen: --task %q: want sudoku4x4 or countdown", task)
			}
			if noAnswer && task != "countdown" {
				return fmt.Errorf("data gen: --no-answer is for countdown (d1's sudoku CSV needs its Solution column)")
			}
			rng := rand.New(rand.NewPCG(seed, 0x64617461)) // "data"
			var exs []data.Example
			if task == "sudoku4x4" {
				exs = data.GenerateSudoku4x4(rng, n, 0, 0)
			} else {
				exs = data.GenerateCountdown(rng, n)
				if noAnswer { // a test file exactly in d1's form: input and output only
					for i := range exs {
						exs[i].Answer = ""
					}
				}
			}
			if len(exs) < n {
				return fmt.Errorf("data gen: only %d distinct %s examples exist at the default settings, --n asks for %d", len(exs), task, n)
			}
			// -o is written under a temporary name and renamed into place, so
			// a failure leaves no partial file (and an existing one intact).
			var w io.Writer = os.Stdout
			var f *os.File
			if out != "" {
				var err error
				if f, err = os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp"); err != nil {
					return fmt.Errorf("data gen: %w", err)
				}
				defer os.Remove(f.Name())
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			var err error
			if task == "sudoku4x4" {
				err = data.WriteSudokuCSV(bw, exs)
			} else {
				err = data.WriteCountdownJSONL(bw, exs)
			}
			if err == nil {
				err = bw.Flush()
			}
			if err == nil && f != nil {
				if err = f.Chmod(0o644); err == nil {
					if err = f.Close(); err == nil {
						err = os.Rename(f.Name(), out)
					}
				}
			}
			if err != nil {
				return fmt.Errorf("data gen: write %s: %w", out, err)
			}
			return nil
		},
	}
	gen.Flags().StringVar(&task, "task", "", "sudoku4x4 or countdown")
	gen.Flags().IntVar(&n, "n", 100, "number of examples")
	gen.Flags().Uint64Var(&seed, "seed", 1, "generator seed")
	gen.Flags().StringVarP(&out, "out", "o", "", "output file (default stdout)")
	gen.Flags().BoolVar(&noAnswer, "no-answer", false, "countdown: write only d1's input and output fields, without our solution (a test file in d1's exact form)")
	cmd.AddCommand(gen)
	return cmd
}
