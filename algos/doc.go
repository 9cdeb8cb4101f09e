// Package algos holds the pieces shared by the GRPO family of RL algorithms
// for masked diffusion models (docs/architecture.md, "RL algorithms"): group advantages, the
// clipped surrogate with a k3 KL penalty, averaging over completion tokens,
// and the TokenLoss that plugs all of it into the shared training graph. The
// algorithms themselves live one per sub-package (diffugrpo, unigrpo,
// coupledgrpo); each only says how a batch of completions is masked and how
// a token's log-probability is estimated from the model's outputs.
//
// Every estimate is linear in the per-position log-probabilities that the
// graph computes (a weighted sum of rows), which lets one loss serve the three
// algorithms: the loss and its gradient are computed in Go from those
// log-probabilities, and the graph's backward pass does the rest.
package algos
