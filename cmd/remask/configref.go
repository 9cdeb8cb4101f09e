package main

import (
	"github.com/spf13/cobra"

	"github.com/remask/remask/configs"
)

func init() { extraCommands = append(extraCommands, newConfigCmd) }

// newConfigCmd holds commands about the run config schema.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "The run config schema"}
	cmd.AddCommand(&cobra.Command{
		Use:   "reference",
		Short: "Print the config reference (docs/config.md): every field, its type, default and doc, as Markdown",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := configs.Reference()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(ref)
			return err
		},
	})
	return cmd
}
