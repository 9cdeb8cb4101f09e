// Package rollout turns prompts into completions by denoising from all
// <mask> with a model's plain-Go forward (docs/architecture.md, "Rollout"): generation
// length, steps, semi-autoregressive blocks, Gumbel-max proposals at a
// temperature, and low-confidence or random remasking, with a trace of the
// step at which each token was committed.
//
// This is the plain sampler that `remask sample` and `remask eval` use; the
// worker pool, threshold decoding and the KV cache grow here (issue 3).
package rollout
