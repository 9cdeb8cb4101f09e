package trainer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// The loss of every estimator, recomputed from a --dump-batch file alone
// with the published formulas written out here (not the code's helpers), in
// both aggregations, at the second inner iteration (the policy has moved,
// so ratios differ from 1 and the clip can bite). The advantages are
// recomputed from the dumped rewards too.
func TestDumpRecomputesEveryLoss(t *testing.T) {
	for _, obj := range []string{"diffu_grpo", "unigrpo", "coupled_grpo", "wd1"} {
		for _, agg := range []string{"token", "sequence"} {
			dir := t.TempDir()
			dump := filepath.Join(dir, "dump")
			cfg := rlRun(t, dir, obj+agg, obj, "algo.mu=2", "train.steps=1", "train.eval_every=0", "algo.loss_agg="+agg,
				"algo.eps_low=0.05", "algo.eps_high=0.05", "optim.lr=3.0e-2")
			if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop(), DumpBatch: dump}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dump, "step000000_iter01.json"))
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Alg        string      `json:"algorithm"`
				Mode       string      `json:"advantage_mode"`
				Agg        string      `json:"loss_agg"`
				Group      int         `json:"group"`
				EpsLow     float64     `json:"eps_low"`
				EpsHigh    float64     `json:"eps_high"`
				Beta       float64     `json:"beta"`
				Rewards    []float64   `json:"rewards"`
				Advantages []float64   `json:"advantages"`
				LogProbs   []float64   `json:"log_probs"`
				Old        [][]float64 `json:"old"`
				Ref        [][]float64 `json:"ref"`
				Loss       float64     `json:"loss"`
				Units      [][]struct {
					Rows []int     `json:"rows"`
					W    []float64 `json:"w"`
				} `json:"units"`
			}
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			if d.Alg != obj || d.Agg != agg {
				t.Fatalf("dump of %s/%s says %s/%s", obj, agg, d.Alg, d.Agg)
			}
			// advantages from rewards
			G := d.Group
			adv := make([]float64, len(d.Rewards))
			for g := 0; g < len(d.Rewards); g += G {
				r := d.Rewards[g : g+G]
				var mean, ss float64
				for _, x := range r {
					mean += x / float64(G)
				}
				for _, x := range r {
					ss += (x - mean) * (x - mean)
				}
				std := math.Sqrt(ss / float64(G-1))
				for i, x := range r {
					switch d.Mode {
					case "mean":
						adv[g+i] = x - mean
					case "group_norm":
						adv[g+i] = (x - mean) / (std + 1e-4)
					case "loo":
						adv[g+i] = x - (mean*float64(G)-x)/float64(G-1)
					default:
						t.Fatalf("advantage mode %q", d.Mode)
					}
				}
			}
			for i := range adv {
				if math.Abs(adv[i]-d.Advantages[i]) > 1e-12 {
					t.Fatalf("%s: advantage %d: %v from rewards, %v dumped", obj, i, adv[i], d.Advantages[i])
				}
			}
			est := func(i, k int) float64 {
				var l float64
				for j, r := range d.Units[i][k].Rows {
					l += d.Units[i][k].W[j] * d.LogProbs[r]
				}
				return l
			}
			var loss float64
			tokens, completions, ratioOff := 0, 0, false
			for i := range d.Units {
				tokens += len(d.Units[i])
				if len(d.Units[i]) > 0 {
					completions++
				}
			}
			if obj == "wd1" {
				// -sum softmax(A) log pi + sum softmax(-A) log pi, log pi the
				// sum of the completion's token estimates; per group summed,
				// "sequence": mean over groups, "token": / counted tokens
				for g := 0; g < len(adv); g += G {
					var zp, zn float64
					for i := g; i < g+G; i++ {
						zp += math.Exp(adv[i])
						zn += math.Exp(-adv[i])
					}
					for i := g; i < g+G; i++ {
						var logpi float64
						for k := range d.Units[i] {
							logpi += est(i, k)
						}
						loss += (math.Exp(-adv[i])/zn - math.Exp(adv[i])/zp) * logpi
					}
				}
				if agg == "sequence" {
					loss /= float64(len(adv) / G)
				} else {
					loss /= float64(tokens)
				}
			} else {
				// -min(rho A, clip(rho, 1-eps_low, 1+eps_high) A) + beta k3 per token
				for i := range d.Units {
					var s float64
					for k := range d.Units[i] {
						l := est(i, k)
						rho := math.Exp(l - d.Old[i][k])
						ratioOff = ratioOff || math.Abs(rho-1) > 1e-3
						c := math.Max(1-d.EpsLow, math.Min(1+d.EpsHigh, rho))
						term := -math.Min(rho*adv[i], c*adv[i])
						if d.Ref != nil {
							x := d.Ref[i][k] - l
							term += d.Beta * (math.Exp(x) - x - 1)
						}
						s += term
					}
					if agg == "token" {
						loss += s / float64(tokens)
					} else if len(d.Units[i]) > 0 {
						loss += s / float64(len(d.Units[i])) / float64(completions)
					}
				}
				if !ratioOff {
					t.Fatalf("%s: every ratio is 1 at the second iteration; the test would not see the ratio", obj)
				}
			}
			if math.Abs(loss-d.Loss) > 1e-9*math.Max(1, math.Abs(loss)) {
				t.Fatalf("%s/%s: recomputed loss %.15g, run logged %.15g", obj, agg, loss, d.Loss)
			}
		}
	}
}
