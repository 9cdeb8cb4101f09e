package spg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/remask/remask/algos"
)

var tok = algos.Special{Mask: 1, EOS: 3, Pad: 0, BOS: 2}

func close(a, b float64) bool { return math.Abs(a-b) < 1e-9*(1+math.Abs(b)) }

// Block-wise masks: everything after the chosen block masked, a drawn
// count of the block's counted positions masked, nothing before it (prompt
// noise off), positions after the first <eos> always masked and never
// counted; with the noise at 1, everything before the block but <bos> and
// padding is masked too.
func TestBlockMasks(t *testing.T) {
	// n = 8, blocks of 2, counted 5 (first <eos> at 4): 3 counted blocks, the
	// last of them with one counted position
	samples := []algos.Sample{
		{Prompt: []int{2, 9, 8}, Completion: []int{5, 6, 7, 4, 3, 3, 3, 3}},
		{Prompt: []int{2, 7}, Completion: []int{4, 4, 4, 4, 4, 4, 4, 4}},
	}
	B, P, L, n := 2, 3, 11, 8
	for _, noise := range []float64{0, 1} {
		m := Masker{NumT: 3, BlockLength: 2, MinT: 0, MaxT: 1, PMaskPrompt: noise, Tok: tok}
		blocks := map[[2]int]bool{}
		for seed := uint64(0); seed < 60; seed++ {
			in, err := m.Masks(samples, rand.New(rand.NewPCG(seed, 2)))
			if err != nil {
				t.Fatal(err)
			}
			if in.B != 3*B || in.L != L || len(in.Seqs) != B {
				t.Fatalf("shape %dx%d", in.B, in.L)
			}
			for i, s := range samples {
				seq := in.Seqs[i]
				counted := []int{5, 8}[i]
				if seq.Counted != counted || len(seq.Draws) != 3 {
					t.Fatalf("completion %d: counted %d, %d draws", i, seq.Counted, len(seq.Draws))
				}
				seenBlock := map[int]bool{}
				for j, d := range seq.Draws {
					row := in.IDs[(j*B+i)*L : (j*B+i+1)*L]
					start := 2 * d.Block
					l := min(2, counted-start)
					if d.Block < 0 || start >= counted || d.NumMask < 1 || d.NumMask > l {
						t.Fatalf("completion %d draw %d: block %d, %d masked of %d", i, j, d.Block, d.NumMask, l)
					}
					if i == 1 { // all 4 blocks counted: a permutation, no repeats
						if seenBlock[d.Block] {
							t.Fatalf("block %d drawn twice", d.Block)
						}
						seenBlock[d.Block] = true
					}
					blocks[[2]int{i, d.Block}] = true
					inBlock := 0
					var pos []int
					for k := 0; k < n; k++ {
						mk := row[P+k] == tok.Mask
						switch {
						case k < start && mk != (noise == 1):
							t.Fatalf("noise %v: position %d before block %d masked %v", noise, k, d.Block, mk)
						case k >= start+l && !mk:
							t.Fatalf("position %d after block %d's counted part not masked", k, d.Block)
						case k >= start && k < start+l && mk:
							inBlock++
						}
						if mk && k < counted {
							pos = append(pos, k)
							if in.Targets[(j*B+i)*L+P+k] != s.Completion[k] {
								t.Fatal("target")
							}
						} else if in.Targets[(j*B+i)*L+P+k] != -1 {
							t.Fatalf("position %d has a target but is not a counted masked one", k)
						}
					}
					if inBlock != d.NumMask || len(pos) != len(d.Pos) || !close(d.T, float64(len(pos))/float64(counted)) {
						t.Fatalf("draw %+v: %d masked in block, positions %v", d, inBlock, pos)
					}
					for q := range pos {
						if d.Pos[q] != pos[q] || d.Rows[q] != (j*B+i)*L+P+pos[q] {
							t.Fatalf("draw %+v: positions %v", d, pos)
						}
					}
					for k := 0; k < P; k++ {
						orig := append(make([]int, P-len(s.Prompt)), s.Prompt...)[k]
						want := orig
						if noise == 1 && orig != tok.BOS && orig != tok.Pad {
							want = tok.Mask
						}
						if row[k] != want {
							t.Fatalf("noise %v: prompt position %d is %d, want %d", noise, k, row[k], want)
						}
					}
				}
			}
		}
		if len(blocks) != 3+4 {
			t.Fatalf("blocks drawn %v", blocks)
		}
	}
}

// The masked count inside the chosen block is uniform on
// [max(floor(l min_t), 1), min(floor(l max_t), l)]: with blocks of 8,
// min_t 0.3 and max_t 0.6 that is 2..4.
func TestMaskCountRange(t *testing.T) {
	s := []algos.Sample{{Prompt: []int{2}, Completion: []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}}}
	m := Masker{NumT: 2, BlockLength: 8, MinT: 0.3, MaxT: 0.6, Tok: tok}
	count := map[int]int{}
	for seed := uint64(0); seed < 300; seed++ {
		in, err := m.Masks(s, rand.New(rand.NewPCG(seed, 5)))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range in.Seqs[0].Draws {
			count[d.NumMask]++
		}
	}
	if len(count) != 3 || count[2] < 150 || count[3] < 150 || count[4] < 150 {
		t.Fatalf("counts %v, want about 200 each of 2, 3, 4", count)
	}
	// a block that does not divide the generation, or more draws than blocks, is refused
	if _, err := (Masker{NumT: 1, BlockLength: 5, MaxT: 1, Tok: tok}).Masks(s, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("block 5 of 16 accepted")
	}
	if _, err := (Masker{NumT: 3, BlockLength: 8, MaxT: 1, Tok: tok}).Masks(s, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("3 draws of 2 blocks accepted")
	}
}

// One completion of 4 counted tokens, two draws worked by hand:
// D_0 = {0, 1}, t = 0.5, log-probs -1, -2; D_1 = {1, 2, 3}, t = 0.75,
// log-probs -0.5, -1, -3.
func handSeq(row0 int) Seq {
	return Seq{Counted: 4, Draws: []Draw{
		{Pos: []int{0, 1}, Rows: []int{row0, row0 + 1}, T: 0.5},
		{Pos: []int{1, 2, 3}, Rows: []int{row0 + 2, row0 + 3, row0 + 4}, T: 0.75},
	}}
}

var handLP = []float64{-1, -2, -0.5, -1, -3}

func TestBoundsByHand(t *testing.T) {
	s := handSeq(0)
	// ELBO = ((-1-2)/2 + (-0.5-1-3)/3) / 2 = -1.5
	if v, _ := ELBO(s, handLP); !close(v, -1.5) {
		t.Fatalf("ELBO %v, want -1.5", v)
	}
	// EUBO, beta 1: the mean of the logs of
	// pos 0: e^-1/0.5/2, pos 1: (e^-2/0.5 + e^-0.5/0.75)/2, pos 2: e^-1/0.75/2, pos 3: e^-3/0.75/2
	if v, _ := EUBO(s, handLP, 1); !close(v, -1.606923085752642) {
		t.Fatalf("EUBO %v", v)
	}
	// beta 1.5: the same with p^1.5, the mean of the logs divided by 1.5
	if v, _ := EUBO(s, handLP, 1.5); !close(v, -1.553269266247269) {
		t.Fatalf("EUBO(1.5) %v", v)
	}
}

func TestLossByHand(t *testing.T) {
	// completion 0 (A = 1) uses the ELBO, completion 1 (A = -0.5) the mix
	// 0.5 EUBO + 0.5 ELBO = -1.553461542876321; both count 4 tokens:
	// loss = (-1 (-1.5) 4 + 0.5 (-1.553461542876321) 4) / 8
	in := &Inputs{Seqs: []Seq{handSeq(0), handSeq(5)}}
	lp := append(append([]float64{}, handLP...), handLP...)
	loss, grad, st, err := Loss(in, lp, []float64{1, -0.5}, Params{Estimate: "mix", MixWeight: 0.5, EUBOBeta: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := (6 - 2*1.553461542876321) / 8; !close(loss, want) || st.Pos != 1 {
		t.Fatalf("loss %v, want %v", loss, want)
	}
	// the ELBO's gradient: -A |o| / sum|o| = -0.5 times 1/(2*2) and 1/(2*3)
	for r, w := range []float64{1.0 / 4, 1.0 / 4, 1.0 / 6, 1.0 / 6, 1.0 / 6} {
		if !close(grad[r], -0.5*w) {
			t.Fatalf("grad %v", grad[:5])
		}
	}
	// per completion: completion 1 now counts 2 tokens, which weighs it 2/6
	// per token and 1/2 per sequence
	in.Seqs[1].Counted = 2
	if loss, _, _, _ := Loss(in, lp, []float64{1, -0.5}, Params{Estimate: "mix", MixWeight: 0.5, EUBOBeta: 1}); !close(loss, (6-1.553461542876321)/6) {
		t.Fatalf("token-weighted loss %v", loss)
	}
	if loss, _, _, _ := Loss(in, lp, []float64{1, -0.5}, Params{Estimate: "mix", MixWeight: 0.5, EUBOBeta: 1, Agg: "sequence"}); !close(loss, (1.5-0.5*1.553461542876321)/2) {
		t.Fatalf("per-sequence loss %v", loss)
	}
	if _, _, _, err := Loss(in, lp, []float64{1, -0.5}, Params{Estimate: "upper"}); err == nil {
		t.Fatal("unknown estimate accepted")
	}
}

// The gradient against finite differences on real block masks, for each
// estimate of the negative completions.
func TestLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 8))
	var samples []algos.Sample
	for i := 0; i < 4; i++ {
		c := []int{4, 5, 6, 7, 8, 9, 4, 5}
		c[3+i] = tok.EOS
		samples = append(samples, algos.Sample{Prompt: []int{2, 8 + i}, Completion: c})
	}
	in, err := Masker{NumT: 2, BlockLength: 2, MaxT: 1, PMaskPrompt: 0.3, Tok: tok}.Masks(samples, rng)
	if err != nil {
		t.Fatal(err)
	}
	lp := make([]float64, in.B*in.L)
	for r := range lp {
		if in.Targets[r] >= 0 {
			lp[r] = -rng.Float64() * 3
		}
	}
	adv := []float64{1, -0.7, 0.3, -0.6}
	for _, p := range []Params{{Estimate: "mix", MixWeight: 0.3, EUBOBeta: 1.5}, {Estimate: "eubo", EUBOBeta: 1}, {Estimate: "elbo"}} {
		_, grad, _, err := Loss(in, lp, adv, p)
		if err != nil {
			t.Fatal(err)
		}
		const h = 1e-6
		for r := range lp {
			o := lp[r]
			lp[r] = o + h
			up, _, _, _ := Loss(in, lp, adv, p)
			lp[r] = o - h
			down, _, _, _ := Loss(in, lp, adv, p)
			lp[r] = o
			if num := (up - down) / (2 * h); math.Abs(num-grad[r]) > 1e-7 {
				t.Fatalf("%s row %d: grad %v, finite difference %v", p.Estimate, r, grad[r], num)
			}
		}
	}
}

// Each completion's unit is its ELBO: the same value as ELBO on its draws.
func TestUnitIsTheELBO(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	s := []algos.Sample{{Prompt: []int{2, 9}, Completion: []int{4, 5, 6, 3, 3, 3}}, {Prompt: []int{2}, Completion: []int{6, 6, 6, 6, 6, 6}}}
	in, err := Masker{NumT: 3, BlockLength: 2, MaxT: 1, PMaskPrompt: 0.5, Tok: tok}.Masks(s, rng)
	if err != nil {
		t.Fatal(err)
	}
	lp := make([]float64, in.B*in.L)
	for r := range lp {
		lp[r] = -rng.Float64()
	}
	for i, seq := range in.Seqs {
		want, _ := ELBO(seq, lp)
		if len(in.Tokens[i]) != 1 || !close(in.Tokens[i][0].Value(lp), want) {
			t.Fatalf("completion %d: unit %v, ELBO %v", i, in.Tokens[i], want)
		}
	}
}
