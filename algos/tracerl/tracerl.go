package tracerl

import (
	"fmt"
	"math"
	"slices"

	"github.com/remask/remask/algos"
)

// Shrink merges the distinct steps of a trace in runs of k consecutive ones
// (in increasing order); every step of a run becomes the run's last step.
// k = 1 leaves the trace as it is.
func Shrink(trace []int, k int) ([]int, error) {
	if k < 1 {
		return nil, fmt.Errorf("tracerl: shrink %d must be at least 1", k)
	}
	uniq := slices.Clone(trace)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	rep := make(map[int]int, len(uniq))
	for i, s := range uniq {
		rep[s] = uniq[min((i/k+1)*k-1, len(uniq)-1)]
	}
	out := make([]int, len(trace))
	for i, s := range trace {
		out[i] = rep[s]
	}
	return out, nil
}

// State is one decoding state of a completion: the completion positions
// still masked in it and the positions whose tokens the sampler decided from
// it (the ones the loss scores there).
type State struct {
	Sample int   `json:"completion"` // index of the completion in the batch
	Step   int   `json:"step"`       // the merged step
	Masked []int `json:"masked"`
	Scored []int `json:"scored"`
}

// States builds the decoding states of every completion of a batch, in
// batch order and by increasing step within a completion: shrink merges
// steps (see Shrink), and scored positions stop postNum tokens after the
// first <eos>. States that score nothing are left out.
func States(samples []algos.Sample, shrink, postNum, eos int) ([]State, error) {
	if postNum < 0 {
		return nil, fmt.Errorf("tracerl: post_num %d must not be negative", postNum)
	}
	var out []State
	for i, s := range samples {
		if len(s.Trace) != len(s.Completion) {
			return nil, fmt.Errorf("tracerl: completion %d has %d tokens but a trace of %d steps (TraceRL needs the sampler's trace)", i, len(s.Completion), len(s.Trace))
		}
		order, err := Shrink(s.Trace, shrink)
		if err != nil {
			return nil, err
		}
		scoredEnd := min(algos.CountedLength(s.Completion, eos)+postNum, len(s.Completion))
		steps := slices.Clone(order)
		slices.Sort(steps)
		for _, step := range slices.Compact(steps) {
			st := State{Sample: i, Step: step}
			for pos, o := range order {
				if o >= step {
					st.Masked = append(st.Masked, pos)
				}
				if o == step && pos < scoredEnd {
					st.Scored = append(st.Scored, pos)
				}
			}
			if len(st.Scored) > 0 {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// BlockStates are the decoding states of a block-causal model's completions
// (blocks of bs), as dLLM-RL builds them for SDAR and TraDo: the trace is
// shrunk within each block (a block is decoded on its own, its steps after
// the previous block's), and row j of a completion holds every block at its
// j-th merged step at once: in each block the positions whose merged step is
// >= that step are masked and those equal to it scored; a block with fewer
// steps is clean in that row. Blocks condition only on the clean blocks
// before them (algos.SideBySide), so one row carries one real decoding state
// per block. State.Step is the row's index j. Scored positions stop post_num
// tokens after the first <eos>; rows that score nothing are left out.
func BlockStates(samples []algos.Sample, shrink, postNum, eos, bs int) ([]State, error) {
	if postNum < 0 {
		return nil, fmt.Errorf("tracerl: post_num %d must not be negative", postNum)
	}
	if bs < 1 {
		return nil, fmt.Errorf("tracerl: block size %d", bs)
	}
	var out []State
	for i, s := range samples {
		if len(s.Trace) != len(s.Completion) {
			return nil, fmt.Errorf("tracerl: completion %d has %d tokens but a trace of %d steps (TraceRL needs the sampler's trace)", i, len(s.Completion), len(s.Trace))
		}
		scoredEnd := min(algos.CountedLength(s.Completion, eos)+postNum, len(s.Completion))
		order := make([]int, len(s.Trace))
		var steps [][]int // per block, its distinct merged steps in order
		for _, sp := range algos.AnswerBlocks(len(s.Trace), bs) {
			o, err := Shrink(s.Trace[sp[0]:sp[1]], shrink)
			if err != nil {
				return nil, err
			}
			copy(order[sp[0]:], o)
			u := slices.Clone(o)
			slices.Sort(u)
			steps = append(steps, slices.Compact(u))
		}
		rounds := 0
		for _, u := range steps {
			rounds = max(rounds, len(u))
		}
		for j := 0; j < rounds; j++ {
			st := State{Sample: i, Step: j}
			for b, sp := range algos.AnswerBlocks(len(s.Trace), bs) {
				if j >= len(steps[b]) {
					continue
				}
				step := steps[b][j]
				for pos := sp[0]; pos < sp[1]; pos++ {
					if order[pos] >= step {
						st.Masked = append(st.Masked, pos)
					}
					if order[pos] == step && pos < scoredEnd {
						st.Scored = append(st.Scored, pos)
					}
				}
			}
			if len(st.Scored) > 0 {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// Inputs lays out states as model rows, one row per state: the completion's
// prompt and tokens (prompts left-padded to the batch's longest, so every
// chunk of a batch has one row length), its masked positions set to <mask>,
// targets and one loss unit per state with its scored tokens; on a
// block-causal model (bs > 0, states from BlockStates) the rows are
// algos.SideBySide.
func Inputs(samples []algos.Sample, states []State, tok algos.Special, bs int) (*algos.Inputs, error) {
	ids, valid, P, L := algos.Layout(samples, 1, tok.Pad)
	in := &algos.Inputs{B: len(states), L: L, IDs: make([]int, 0, len(states)*L), Targets: make([]int, len(states)*L)}
	if valid != nil {
		in.Valid = make([]bool, 0, len(states)*L)
	}
	for i := range in.Targets {
		in.Targets[i] = -1
	}
	for r, st := range states {
		u := st.Sample
		in.IDs = append(in.IDs, ids[u*L:(u+1)*L]...)
		if valid != nil {
			in.Valid = append(in.Valid, valid[u*L:(u+1)*L]...)
		}
		row := in.IDs[r*L : (r+1)*L]
		for _, pos := range st.Masked {
			row[P+pos] = tok.Mask
		}
		toks := make([]algos.Estimate, len(st.Scored))
		for k, pos := range st.Scored {
			in.Targets[r*L+P+pos] = samples[st.Sample].Completion[pos]
			toks[k] = algos.Estimate{Rows: []int{r*L + P + pos}, W: []float64{1}}
		}
		in.Tokens = append(in.Tokens, toks)
	}
	if bs > 0 {
		return algos.SideBySide(in, samples, func(r int) int { return states[r].Sample }, P, bs)
	}
	return in, nil
}

// Chunk splits n rows, in order, into mu consecutive chunks of sizes that
// differ by one at most, and returns the bounds of chunk iter.
func Chunk(n, iter, mu int) (lo, hi int) {
	return iter * n / mu, (iter + 1) * n / mu
}

// Kept says which groups of G consecutive rewards the update learns from:
// those whose mean reward lies in [low, high] (dLLM-RL keeps the prompts
// that 20% to 80% of their samples solve; the advantages are the group
// z-scores, algos.Advantages "zscore").
func Kept(rewards []float64, G int, low, high float64) ([]bool, error) {
	if G < 1 || len(rewards)%G != 0 {
		return nil, fmt.Errorf("tracerl: %d rewards do not split into groups of %d", len(rewards), G)
	}
	keep := make([]bool, len(rewards)/G)
	for g := range keep {
		var mean float64
		for _, x := range rewards[g*G : (g+1)*G] {
			mean += x
		}
		mean /= float64(G)
		keep[g] = mean >= low && mean <= high
	}
	return keep, nil
}

// Params are the loss settings.
type Params struct {
	EpsLow, EpsHigh float64 // the ratio clip (0.2 both published)
	Beta            float64 // weight of the k3 KL to the rollout policy (0.01 published)
	// Agg is how the per-token terms are averaged: "sequence" (or "", the
	// published one) averages the clipped terms over each state row's tokens,
	// sums the KL over them, and averages the rows; "token" averages both
	// terms over every scored token of the update.
	Agg string
}

// Loss is the TraceRL loss of one update (see the package doc): in.Tokens
// holds one loss unit per state row, old the rollout policy's log-probs of
// the same tokens and adv one advantage per row (its completion's). It
// returns the loss, d loss / d lp for every row, and stats.
func Loss(in *algos.Inputs, lp []float64, old [][]float64, adv []float64, p Params) (float64, []float64, algos.Stats, error) {
	if len(old) != len(in.Tokens) || len(adv) != len(in.Tokens) {
		return 0, nil, algos.Stats{}, fmt.Errorf("tracerl loss: %d rows, %d old, %d advantages", len(in.Tokens), len(old), len(adv))
	}
	grad := make([]float64, len(lp))
	st := algos.Stats{RatioMin: math.Inf(1), RatioMax: math.Inf(-1)}
	rows, total := 0, 0
	for _, toks := range in.Tokens {
		if len(toks) > 0 {
			rows++
		}
		total += len(toks)
	}
	switch p.Agg {
	case "", "sequence", "token":
	default:
		return 0, nil, algos.Stats{}, fmt.Errorf("tracerl loss: unknown aggregation %q (sequence, token)", p.Agg)
	}
	if rows == 0 {
		return 0, grad, algos.Stats{}, nil
	}
	var loss, clipped, ratioSum, klSum float64
	for r, toks := range in.Tokens {
		if len(old[r]) != len(toks) {
			return 0, nil, algos.Stats{}, fmt.Errorf("tracerl loss: row %d has %d tokens, %d old", r, len(toks), len(old[r]))
		}
		if len(toks) == 0 {
			continue
		}
		// weights of a token's clipped term and of its KL
		perTok, perKL := 1/float64(rows*len(toks)), 1/float64(rows)
		if p.Agg == "token" {
			perTok, perKL = 1/float64(total), 1/float64(total)
		}
		for k, e := range toks {
			l := e.Value(lp)
			pl, pg, c := algos.Surrogate(l, old[r][k], 0, adv[r], p.EpsLow, p.EpsHigh, 0)
			d := old[r][k] - l
			kl := math.Exp(d) - d - 1
			loss += perTok*pl + perKL*p.Beta*kl
			g := perTok*pg + perKL*p.Beta*(1-math.Exp(d))
			for j, row := range e.Rows {
				grad[row] += g * e.W[j]
			}
			rho := math.Exp(l - old[r][k])
			ratioSum += rho
			st.RatioMin, st.RatioMax = math.Min(st.RatioMin, rho), math.Max(st.RatioMax, rho)
			klSum += kl
			if c {
				clipped++
			}
			st.Tokens++
		}
	}
	st.Loss = loss
	st.ClipFrac = clipped / float64(st.Tokens)
	st.RatioMean = ratioSum / float64(st.Tokens)
	st.KL = klSum / float64(st.Tokens)
	return loss, grad, st, nil
}
