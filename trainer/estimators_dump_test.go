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

// seqDump is what these tests read of a --dump-batch file, decoded by its
// documented keys into the test's own struct.
type seqDump struct {
	Algorithm   string          `json:"algorithm"`
	Group       int             `json:"group"`
	LossAgg     string          `json:"loss_agg"`
	EpsLow      float64         `json:"eps_low"`
	EpsHigh     float64         `json:"eps_high"`
	Beta        float64         `json:"beta"`
	MaskID      int             `json:"mask_id"`
	EOSID       int             `json:"eos_id"`
	GenLength   int             `json:"gen_length"`
	Completions [][]int         `json:"completions"`
	Rewards     []float64       `json:"rewards"`
	Advantages  []float64       `json:"advantages"`
	B           int             `json:"b"`
	L           int             `json:"l"`
	IDs         []int           `json:"ids"`
	Targets     []int           `json:"targets"`
	Draws       json.RawMessage `json:"draws"`
	LogProbs    []float64       `json:"log_probs"`
	Old         [][]float64     `json:"old"`
	Ref         [][]float64     `json:"ref"`
	Loss        float64         `json:"loss"`
}

func readSeqDump(t *testing.T, path string) seqDump {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d seqDump
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func relClose(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

// ESPO's loss recomputed from a dump with ESPO's formulas, written here
// from its paper and code and not from remask's helpers: the stratified mask
// counts from the drawn offset, the coupled ELBO from the masks in ids, the
// per-token normalised sequence ratio, the clipped objective averaged over
// completions and the k2 KL over B n.
func TestESPOLossFromDump(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump")
	cfg := rlRun(t, dir, "espo", "espo", "algo.mu=2", "train.steps=1", "train.eval_every=0", "algo.beta=0.05",
		"algo.eps_low=0.01", "algo.eps_high=0.01", "algo.espo.num_mc=2")
	if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop(), DumpBatch: dump}); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"step000000_iter00.json", "step000000_iter01.json"} {
		d := readSeqDump(t, filepath.Join(dump, file))
		var draws struct {
			ESPO []struct {
				K int   `json:"k"`
				X []int `json:"x"`
			} `json:"espo"`
		}
		if err := json.Unmarshal(d.Draws, &draws); err != nil {
			t.Fatal(err)
		}
		B, n := len(d.Completions), d.GenLength
		mc := len(draws.ESPO)
		if d.Algorithm != "espo" || mc != 2 || d.B != 2*mc*B {
			t.Fatalf("%s: algorithm %s, %d draws, %d rows", file, d.Algorithm, mc, d.B)
		}
		// leave-one-out advantages, no std scaling
		for i, r := range d.Rewards {
			g := i / d.Group
			var others float64
			for j := g * d.Group; j < (g+1)*d.Group; j++ {
				if j != i {
					others += d.Rewards[j]
				}
			}
			if a := r - others/float64(d.Group-1); !relClose(a, d.Advantages[i]) {
				t.Fatalf("advantage %d: %v, dump %v", i, a, d.Advantages[i])
			}
		}
		P := d.L - n
		elbo := make([]float64, B)
		for m, dr := range draws.ESPO {
			for i := 0; i < B; i++ {
				// x_i = round(k + i (n+1)/B) mod (n+1), half to even
				want := int(math.RoundToEven(float64(dr.K)+float64(i)*float64(n+1)/float64(B))) % (n + 1)
				if dr.X[i] != want {
					t.Fatalf("draw %d completion %d: x %d, want %d", m, i, dr.X[i], want)
				}
				var half [2]float64
				for pass := 0; pass < 2; pass++ {
					row := (2*m+pass)*B + i
					cnt := 0
					for k := 0; k < n; k++ {
						pos := row*d.L + P + k
						if d.IDs[pos] != d.MaskID {
							continue
						}
						cnt++
						pm := float64(dr.X[i]) / float64(n+1)
						if pass == 1 {
							pm = float64(n-dr.X[i]) / float64(n+1)
						}
						half[pass] += d.LogProbs[pos] / pm
					}
					if want := []int{dr.X[i], n - dr.X[i]}[pass]; cnt != want {
						t.Fatalf("draw %d completion %d pass %d: %d masked, want %d", m, i, pass, cnt, want)
					}
				}
				elbo[i] += (half[0] + half[1]) / 2 / float64(mc)
			}
		}
		var loss float64
		clipped := 0
		for i := range elbo {
			rho := math.Exp((elbo[i] - d.Old[i][0]) / float64(n))
			a := d.Advantages[i]
			clip := math.Max(1-d.EpsLow, math.Min(rho, 1+d.EpsHigh))
			loss += -math.Min(rho*a, clip*a) / float64(B)
			if clip*a < rho*a {
				clipped++
			}
			diff := elbo[i] - d.Ref[i][0]
			loss += d.Beta * diff * diff / 2 / float64(B*n)
		}
		if !relClose(loss, d.Loss) {
			t.Fatalf("%s: recomputed loss %v, run logged %v", file, loss, d.Loss)
		}
		t.Logf("%s: loss %.6g, %d of %d completions clipped", file, loss, clipped, B)
	}
}

// SPG's loss recomputed from a dump with SPG's formulas, written here from
// its paper and code: the counted masked positions of each copy read off
// ids, the ELBO for positive advantages and the EUBO/ELBO mixture for the
// others, weighted by counted length (loss_agg token) or equally.
func TestSPGLossFromDump(t *testing.T) {
	for _, agg := range []string{"token", "sequence"} {
		dir := t.TempDir()
		dump := filepath.Join(dir, "dump")
		const w, beta = 0.5, 1.5
		cfg := rlRun(t, dir, "spg", "spg", "algo.mu=1", "train.steps=1", "train.eval_every=0", "algo.beta=0", "algo.loss_agg="+agg,
			"algo.spg.block_length=4", "algo.spg.estimate=mix", "algo.spg.mix_weight=0.5", "algo.spg.eubo_beta=1.5")
		if _, err := Train(context.Background(), cfg, Options{Log: zerolog.Nop(), DumpBatch: dump}); err != nil {
			t.Fatal(err)
		}
		d := readSeqDump(t, filepath.Join(dump, "step000000_iter00.json"))
		var set struct {
			Estimate  string  `json:"estimate"`
			MixWeight float64 `json:"mix_weight"`
			EUBOBeta  float64 `json:"eubo_beta"`
		}
		if err := json.Unmarshal(d.Draws, &set); err != nil {
			t.Fatal(err)
		}
		B, n := len(d.Completions), d.GenLength
		T := d.B / B
		if d.Algorithm != "spg" || T != 2 || d.LossAgg != agg || set.Estimate != "mix" || set.MixWeight != w || set.EUBOBeta != beta {
			t.Fatalf("algorithm %s, %d copies, aggregation %s", d.Algorithm, T, d.LossAgg)
		}
		P := d.L - n
		var num, den float64
		for i, c := range d.Completions {
			// r - mean(r) over the group
			g := i / d.Group
			var mean float64
			for j := g * d.Group; j < (g+1)*d.Group; j++ {
				mean += d.Rewards[j] / float64(d.Group)
			}
			if a := d.Rewards[i] - mean; !relClose(a, d.Advantages[i]) {
				t.Fatalf("advantage %d: %v, dump %v", i, a, d.Advantages[i])
			}
			counted := n
			for k, tk := range c {
				if tk == d.EOSID {
					counted = k + 1
					break
				}
			}
			var elbo float64
			sum := map[int]float64{}
			for j := 0; j < T; j++ {
				row := (j*B + i) * d.L
				var s float64
				var masked []int
				for k := 0; k < n; k++ {
					if d.IDs[row+P+k] != d.MaskID {
						continue
					}
					if k >= counted {
						continue
					}
					masked = append(masked, k)
					s += d.LogProbs[row+P+k]
				}
				for k := counted; k < n; k++ {
					if d.IDs[row+P+k] != d.MaskID {
						t.Fatalf("completion %d copy %d: position %d after <eos> not masked", i, j, k)
					}
				}
				elbo += s / float64(len(masked)) / float64(T)
				tj := float64(len(masked)) / float64(counted)
				for _, k := range masked {
					sum[k] += math.Pow(math.Exp(d.LogProbs[row+P+k]), beta) / tj / float64(T)
				}
			}
			est := elbo
			if d.Advantages[i] <= 0 {
				var eubo float64
				for _, v := range sum {
					eubo += math.Log(v)
				}
				eubo /= beta * float64(len(sum))
				est = w*eubo + (1-w)*elbo
			}
			wt := float64(counted)
			if agg == "sequence" {
				wt = 1
			}
			num += -d.Advantages[i] * est * wt
			den += wt
		}
		if loss := num / den; !relClose(loss, d.Loss) {
			t.Fatalf("%s: recomputed loss %v, run logged %v", agg, loss, d.Loss)
		}
	}
}
