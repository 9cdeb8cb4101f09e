package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/remask/remask/algos"
	_ "github.com/remask/remask/algos/all"
)

func init() { extraCommands = append(extraCommands, newAlgosCmd) }

// algoInfo is one estimator as `remask algos --json` prints it.
type algoInfo struct {
	Name     string         `json:"name"`
	Doc      string         `json:"doc"`
	Defaults algos.Defaults `json:"defaults"`
	Section  map[string]any `json:"section"` // algo.NAME.*: the estimator's own settings and their defaults
}

func algoInfos() ([]algoInfo, error) {
	var out []algoInfo
	for _, n := range algos.Names() {
		r, _ := algos.Lookup(n)
		info := algoInfo{Name: n, Doc: r.Doc, Defaults: r.Defaults, Section: map[string]any{}}
		if r.Section != nil {
			b, err := yaml.Marshal(r.Section())
			if err != nil {
				return nil, err
			}
			if err := yaml.Unmarshal(b, &info.Section); err != nil {
				return nil, err
			}
		}
		out = append(out, info)
	}
	return out, nil
}

func newAlgosCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "algos",
		Short: "List the RL estimators (objective: NAME) with their one-line docs and defaults",
		Long: `List every registered RL estimator: its name (the config's objective), what it
is, the defaults of the shared algo.* settings it brings (group = rollout.group,
mu, beta, advantage, loss_agg) and its own settings algo.NAME.* with their
defaults. docs/estimators.md describes them and how to add one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			infos, err := algoInfos()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			for _, a := range infos {
				d := a.Defaults
				fmt.Fprintf(w, "%s\t%s\n", a.Name, a.Doc)
				clip := "none (no ratio)"
				if d.Clip > 0 {
					clip = fmt.Sprintf("%g", d.Clip)
				}
				fmt.Fprintf(w, "\tdefaults: group %d, mu %d, beta %g, clip %s, advantage %s, loss_agg %s\n", d.Group, d.Mu, d.Beta, clip, d.Advantage, d.LossAgg)
				if len(a.Section) > 0 {
					fmt.Fprintf(w, "\talgo.%s: %s\n", a.Name, sectionText(a.Name))
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// sectionText is a section's fields and defaults in their declared order.
func sectionText(name string) string {
	r, _ := algos.Lookup(name)
	v := reflect.ValueOf(r.Section()).Elem()
	var parts []string
	for i := 0; i < v.NumField(); i++ {
		key := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
		parts = append(parts, fmt.Sprintf("%s %v", key, v.Field(i).Interface()))
	}
	return strings.Join(parts, ", ")
}
