package trainer

import (
	"fmt"
	"math/rand/v2"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
)

// Objective says how a batch of encoded sequences becomes the training graph's
// input and loss. It is the one thing that differs between masked pretraining,
// SFT, edit-based training and the RL algorithms: the trainer runs the graph,
// clips, steps the optimizer and schedules the learning rate for all of them.
//
// Build must draw every random choice from rng, which the trainer seeds from
// the run seed and the step, so that a resumed run draws the same masks.
type Objective interface {
	Name() string
	Build(rng *rand.Rand, seqs []data.Sequence) (model.Batch, Metrics, error)
}

// Metrics are named scalars logged for a step.
type Metrics map[string]float64

// MaskEps is the floor of the masking probability: p = (1 - eps) t + eps, so
// that no sequence is left with a zero weight (LLaDA, docs/architecture.md, "Objectives").
const MaskEps = 1e-3

// linearLoss is the TokenLoss of the supervised objectives: -sum_i w_i lp_i,
// that is, cross-entropy weighted per token.
func linearLoss(w []float64) model.TokenLoss {
	return func(lp []float64) (float64, []float64, error) {
		if len(lp) != len(w) {
			return 0, nil, fmt.Errorf("loss: %d log-probs for %d weights", len(lp), len(w))
		}
		var loss float64
		g := make([]float64, len(w))
		for i, x := range w {
			loss -= x * lp[i]
			g[i] = -x
		}
		return loss, g, nil
	}
}

// flatten lays B sequences of one length out row-major.
func flatten(seqs []data.Sequence) (ids []int, valid []bool, L int, err error) {
	if len(seqs) == 0 {
		return nil, nil, 0, fmt.Errorf("empty batch")
	}
	L = len(seqs[0].IDs)
	allValid := true
	for i, s := range seqs {
		if len(s.IDs) != L || (s.Valid != nil && len(s.Valid) != L) {
			return nil, nil, 0, fmt.Errorf("sequence %d has length %d, want %d", i, len(s.IDs), L)
		}
		ids = append(ids, s.IDs...)
		for _, v := range s.Valid {
			allValid = allValid && v
		}
	}
	if !allValid {
		valid = make([]bool, 0, len(ids))
		for _, s := range seqs {
			if s.Valid == nil {
				for range s.IDs {
					valid = append(valid, true)
				}
			} else {
				valid = append(valid, s.Valid...)
			}
		}
	}
	return ids, valid, L, nil
}

// MDLM is masked pretraining (LLaDA): per sequence t ~ U(0,1),
// p = (1 - eps) t + eps, each real token masked with probability p, and
// loss = sum over masked i of CE_i / p, divided by B*L.
type MDLM struct{ MaskID int }

func (MDLM) Name() string { return "mdlm" }

func (o MDLM) Build(rng *rand.Rand, seqs []data.Sequence) (model.Batch, Metrics, error) {
	return maskedBatch(rng, seqs, o.MaskID, false)
}

// SFT is supervised fine-tuning: as MDLM, but prompt tokens are never masked
// and each sequence's loss is normalised by its answer length L'_b (the answer
// with its <eos> padding, which is part of the loss so the model learns where
// to stop): loss = (1/B) sum_b sum_masked CE / (p_b L'_b).
type SFT struct{ MaskID int }

func (SFT) Name() string { return "sft" }

func (o SFT) Build(rng *rand.Rand, seqs []data.Sequence) (model.Batch, Metrics, error) {
	return maskedBatch(rng, seqs, o.MaskID, true)
}

func maskedBatch(rng *rand.Rand, seqs []data.Sequence, maskID int, sft bool) (model.Batch, Metrics, error) {
	ids, valid, L, err := flatten(seqs)
	if err != nil {
		return model.Batch{}, nil, err
	}
	B := len(seqs)
	targets := make([]int, len(ids))
	w := make([]float64, len(ids))
	var masked, maskable int
	for b, s := range seqs {
		t := rng.Float64()
		p := (1-MaskEps)*t + MaskEps
		start, norm := 0, float64(B*L)
		if sft {
			start = s.PromptLen
			if start >= L {
				return model.Batch{}, nil, fmt.Errorf("sequence %d: prompt fills all %d positions, no answer to learn", b, L)
			}
			norm = float64(B * (L - start))
		}
		for l := 0; l < L; l++ {
			i := b*L + l
			targets[i] = -1
			u := rng.Float64() // drawn for every position so the stream does not depend on padding
			if l < start || (valid != nil && !valid[i]) {
				continue
			}
			maskable++
			if u < p {
				targets[i] = ids[i]
				ids[i] = maskID
				w[i] = 1 / (p * norm)
				masked++
			}
		}
	}
	m := Metrics{"mask_frac": float64(masked) / float64(max(maskable, 1))}
	return model.Batch{IDs: ids, Valid: valid, Targets: targets, Loss: linearLoss(w)}, m, nil
}

// NewObjective returns the supervised objective of a config: with
// block-causal attention, mdlm and sft are Block's block diffusion forms.
func NewObjective(cfg configs.Config, tok data.Tokenizer) (Objective, error) {
	if cfg.Model.Attention == "block_causal" {
		switch cfg.Objective {
		case "mdlm", "sft":
			return Block{MaskID: tok.MaskID(), Size: cfg.Model.BlockSize, SFT: cfg.Objective == "sft"}, nil
		}
		return nil, fmt.Errorf("objective %s: not available with model.attention block_causal (use mdlm or sft, which train block diffusion)", cfg.Objective)
	}
	switch cfg.Objective {
	case "mdlm":
		return MDLM{MaskID: tok.MaskID()}, nil
	case "sft":
		return SFT{MaskID: tok.MaskID()}, nil
	case "edit":
		e := cfg.Edit
		return &Edit{Cfg: EditConfig{AlphaMax: e.AlphaMax, Schedule: e.Schedule, Weights: [3]float64{e.Insert, e.Delete, e.Substitute},
			MaskID: tok.MaskID(), Vocab: tok.Size(), Specials: 4, PadEOS: tok.EOSID(), MaskBatch: SFT{MaskID: tok.MaskID()},
			Mix: e.Mix, Start: e.Start, Steps: cfg.Train.Steps}}, nil
	}
	return nil, fmt.Errorf("objective %q is not a supervised objective", cfg.Objective)
}
