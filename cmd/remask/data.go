package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"github.com/spf13/cobra"

	"github.com/remask/remask/data"
)

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "data", Short: "Generate and check task data files"}
	var (
		task, out string
		n         int
		seed      uint64
	)
	gen := &cobra.Command{
		Use:   "gen --task sudoku4x4|countdown --n N [--seed S] [-o FILE]",
		Short: "Write generated puzzles in d1's formats (sudoku CSV, countdown JSONL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 {
				return fmt.Errorf("data gen: --n must be >= 1")
			}
			rng := rand.New(rand.NewPCG(seed, 0x64617461)) // "data"
			var w io.Writer = os.Stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("data gen: %w", err)
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			var err error
			switch task {
			case "sudoku4x4":
				err = data.WriteSudokuCSV(bw, data.GenerateSudoku4x4(rng, n, 0, 0))
			case "countdown":
				err = data.WriteCountdownJSONL(bw, data.GenerateCountdown(rng, n))
			default:
				return fmt.Errorf("data gen: --task %q: want sudoku4x4 or countdown", task)
			}
			if err == nil {
				err = bw.Flush()
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
	cmd.AddCommand(gen)
	return cmd
}
