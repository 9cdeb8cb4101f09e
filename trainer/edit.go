package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
)

// Edit-based stage two (Seed Diffusion, docs/architecture.md, "Objectives").
//
// Mask-only training shows the model only two kinds of tokens: <mask>, and
// tokens that are right. Stage two also shows it answers with random edits
// (insertions, deletions, substitutions), so that it learns that a visible
// token can be wrong, and what it should have been.
//
// Corruption: k = floor(n * alpha) edits of an answer of n tokens (the answer
// region after the prompt, its <eos> padding included), alpha = alpha_max * u
// with u ~ U(0,1) per sequence ("uniform") or u = the progress through the
// edit phase ("linear"). Each edit is an insertion, deletion or substitution
// with configured proportions, at a uniformly chosen position, with a
// uniformly chosen non-special token. The corrupted answer is therefore within
// edit distance k of the original (each edit changes the distance by at most
// one; tested with a Levenshtein computation).
//
// Length and alignment: sequences keep their fixed length. The corrupted
// answer is cut or padded with <eos> back to n tokens and aligned to the
// original position by position: the loss at answer position i is the
// cross-entropy of the original token x0[i], at every answer position, masked
// or not. Position-wise alignment needs no alignment search and keeps one
// graph shape; it asks the model to undo shifts as well as substitutions,
// which is what a revision pass at sampling time needs (a token that is off
// by one position is wrong at that position). The loss is normalised like
// SFT's: (1/B) sum_b sum_i CE_i / n_b.

// EditConfig configures the corruption.
type EditConfig struct {
	AlphaMax  float64    // most edits per token
	Schedule  string     // uniform | linear
	Weights   [3]float64 // proportions of insert, delete, substitute
	MaskID    int
	Vocab     int       // tokens 4..Vocab-1 are the ones inserted and substituted
	Specials  int       // ids below this are special (4)
	PadEOS    int       // the token that pads the answer back to length (<eos>)
	MaskBatch Objective // the mask-based objective of the curriculum's first part (and the unedited share)
	Mix       float64   // share of sequences edit-corrupted in the second part
	Start     float64   // fraction of the run before edits begin
	Steps     int       // run length, to know where the second part starts
}

// Corrupt applies k random edits to x and returns the edited tokens (not yet
// cut back to length) and the number of edits of each kind.
func Corrupt(rng *rand.Rand, x []int, k int, weights [3]float64, vocab, specials int) ([]int, [3]int) {
	out := append([]int(nil), x...)
	var counts [3]int
	total := weights[0] + weights[1] + weights[2]
	randTok := func() int { return specials + rng.IntN(vocab-specials) }
	for e := 0; e < k; e++ {
		u := rng.Float64() * total
		switch {
		case u < weights[0]: // insert before position p (p may be len: append)
			p := rng.IntN(len(out) + 1)
			out = append(out[:p], append([]int{randTok()}, out[p:]...)...)
			counts[0]++
		case u < weights[0]+weights[1] && len(out) > 0: // delete
			p := rng.IntN(len(out))
			out = append(out[:p], out[p+1:]...)
			counts[1]++
		case len(out) > 0: // substitute with a different token
			p := rng.IntN(len(out))
			t := randTok()
			for t == out[p] && vocab-specials > 1 {
				t = randTok()
			}
			out[p] = t
			counts[2]++
		}
	}
	return out, counts
}

// Levenshtein is the edit distance between two token sequences.
func Levenshtein(a, b []int) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Edit is the curriculum objective: mask-based SFT for the first Start of the
// run, then each sequence edit-corrupted with probability Mix (the rest keep
// mask-based SFT). SetStep tells it where the run is.
type Edit struct {
	Cfg  EditConfig
	step int
}

func (*Edit) Name() string { return "edit" }

// SetStep records the step the next Build is for.
func (e *Edit) SetStep(step int) { e.step = step }

// Build corrupts a batch.
func (e *Edit) Build(rng *rand.Rand, seqs []data.Sequence) (model.Batch, Metrics, error) {
	c := e.Cfg
	startStep := int(math.Round(c.Start * float64(c.Steps)))
	if e.step < startStep || c.Mix == 0 {
		b, m, err := c.MaskBatch.Build(rng, seqs)
		if m != nil {
			m["edit_frac"] = 0
		}
		return b, m, err
	}
	// The mask-based part first, on every sequence, so that its random
	// stream does not depend on which sequences are then edited.
	b, m, err := c.MaskBatch.Build(rng, seqs)
	if err != nil {
		return b, m, err
	}
	L := len(seqs[0].IDs)
	B := len(seqs)
	progress := 1.0
	if span := c.Steps - startStep; span > 1 {
		progress = float64(e.step-startStep) / float64(span-1)
	}
	// The mask part's weights are rebuilt below for the edited rows; keep the
	// rest. The mask objective's TokenLoss is linear, so its weights can be
	// read back from its gradient at lp = 0.
	_, g, err := b.Loss(make([]float64, B*L))
	if err != nil {
		return b, m, err
	}
	w := make([]float64, len(g))
	for i, x := range g {
		w[i] = -x
	}
	edited, edits := 0, 0
	for s, seq := range seqs {
		if rng.Float64() >= c.Mix {
			continue
		}
		lo := seq.PromptLen
		n := L - lo
		u := rng.Float64()
		if c.Schedule == "linear" {
			u = progress
		}
		k := int(math.Floor(float64(n) * c.AlphaMax * u))
		x0 := seq.IDs[lo:]
		corrupted, _ := Corrupt(rng, x0, k, c.Weights, c.Vocab, c.Specials)
		for len(corrupted) < n {
			corrupted = append(corrupted, c.PadEOS)
		}
		corrupted = corrupted[:n]
		for i := 0; i < n; i++ {
			r := s*L + lo + i
			b.IDs[r] = corrupted[i]
			b.Targets[r] = x0[i]
			w[r] = 1 / (float64(B) * float64(n))
		}
		edited++
		edits += k
	}
	b.Loss = linearLoss(w)
	m["edit_frac"] = float64(edited) / float64(B)
	if edited > 0 {
		m["edits_per_seq"] = float64(edits) / float64(edited)
	}
	return b, m, nil
}

// String is for logs.
func (c EditConfig) String() string {
	return fmt.Sprintf("alpha_max %g (%s), insert/delete/substitute %v, mix %g from %g of the run", c.AlphaMax, c.Schedule, c.Weights, c.Mix, c.Start)
}
