// Package trainer is the shared autodiff trainer (docs/architecture.md, "Objectives"): an
// Objective turns a batch into the training graph's input and a TokenLoss;
// the Trainer runs the graph forward and backward, clips the global gradient
// norm, steps AdamW and follows the LR schedule, for every objective alike.
// Train runs a whole run from a config: masked pretraining (mdlm), SFT, the
// edit-based stage two (edit), or RL (diffu_grpo, unigrpo, coupled_grpo: the
// rollout pool, rewards and algos' maskers around the same update), with
// periodic held-out evaluation and checkpoints that resume bit for bit.
//
// Stage two's length and alignment handling: sequences keep their fixed
// length; an edit-corrupted answer is cut or padded with <eos> back to its
// length and aligned to the original position by position, and the loss is
// the cross-entropy of the original token at every answer position. No
// alignment search is needed, one graph shape serves both stages, and the
// model learns to undo shifts (insertions, deletions) as well as
// substitutions, which is what a revision pass at sampling time relies on.
// edit.go has the details.
package trainer
