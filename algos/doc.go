// Package algos is remask's library of RL estimators for masked diffusion
// models (docs/architecture.md, "RL algorithms"; docs/estimators.md): the
// registry, and the pieces the estimators share (group advantages, the
// clipped GRPO surrogate with a k3 KL penalty, the token/sequence
// aggregations, the batch layout).
//
// # Adding an estimator
//
// An estimator is one package under algos/ plus one import line in
// algos/all. The package registers itself from init:
//
//	func init() {
//		algos.Register(algos.Registration{
//			Name:     "myalgo",   // objective: myalgo, section algo.myalgo
//			Doc:      "one line: what it is, whose method",
//			Defaults: algos.Defaults{Group: 6, Mu: 1, Beta: 0, Advantage: "mean", LossAgg: "token"},
//			Section:  func() algos.Section { return &Config{Shrink: 1} },
//			New: func(sec algos.Section, c algos.Common) (algos.Algorithm, error) { ... },
//		})
//	}
//
// Contract:
//   - Defaults are the published recipe's values of the shared settings
//     (group size, inner updates mu, KL weight beta, advantage mode, loss
//     aggregation); a config leaving the shared field at 0 (-1 for beta, ""
//     for strings) gets them. `remask algos` prints them.
//   - Section is the estimator's own settings: a pointer to a struct whose
//     fields carry `yaml`, `mapstructure` and `doc` tags (the doc tag is the
//     field's line in docs/config.md), holding the defaults. Users set them
//     as algo.NAME.FIELD in YAML or with --set; Validate names each bad
//     field by its key. Flat lists keys accepted directly under algo: for
//     compatibility (only the three original estimators need it).
//   - New builds the Algorithm for one run from the section and the
//     resolved shared settings (Common, with the tokenizer's special ids).
//   - Algorithm.Inputs masks a batch of completions for inner iteration
//     iter of mu and returns, per completion, the Estimates of its counted
//     units: a unit is a token (per-token estimators) or a whole sequence
//     (sequence-level ones); its log-likelihood estimate is a weighted sum
//     of rows of the graph's per-position log-probabilities, so every
//     estimate is linear in them. Extra forward passes are extra copies of
//     the batch in the same Inputs (coupled-GRPO uses three). Randomness
//     comes only from the two streams given (batch: fixed for the rollout
//     batch; iterRNG: this iteration's), so a resumed run redraws the same
//     masks. Draws that the masks do not show (t, ratios) go in
//     Inputs.Draws for --dump-batch.
//   - On a block-causal model (Common.BlockSize > 0) Inputs returns
//     SideBySide rows: each masked row beside the clean sequence, so every
//     answer block is predicted from the clean blocks before it, as the
//     block sampler decides it; the estimator's masks act within each
//     answer block (docs/estimators.md, "Block-causal models").
//   - Algorithm.Needs says which no-gradient estimates the trainer computes
//     first with the same Inputs: the rollout policy's (old, for a ratio)
//     and the reference model's (ref, for a KL).
//   - Algorithm.Loss gets the policy's per-row log-probabilities, the old
//     and reference estimates, the advantages and rewards, and returns the
//     loss and its gradient with respect to each row; the trainer's
//     backward pass does the rest. It applies the aggregation in
//     Common.LossAgg (Aggregations) and reports Stats.
//
// A new estimator's package has tests of its masks, estimates and loss by
// hand on a small batch, a gradient check against finite differences, and
// a learns-a-simple-reward run (trainer/rl_learn_test.go); a recipe
// configs/sudoku-NAME.yaml and configs/countdown-NAME.yaml.
package algos
