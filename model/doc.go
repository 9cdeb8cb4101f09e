// Package model is the LLaDA-style masked diffusion transformer of DESIGN.md
// section 2: token embedding, n blocks of RMSNorm -> bidirectional multi-head
// attention with RoPE -> residual, RMSNorm -> SwiGLU MLP -> residual, a final
// RMSNorm and an untied output head. No biases, no causal mask; attention takes
// an optional key-padding mask. The families' variations (Config): grouped-query
// attention, q/k/v biases, tied embeddings, Dream's logit shift, per-head q/k
// norms, and block-causal attention (BlockSize, Layout), whose KV cache the
// plain-Go forward keeps exact to the bit (infer_block.go).
//
// Two forward paths read the same float32 weights (Params):
//
//   - TrainGraph, a gorgonia expression graph used by every training objective.
//     Matrix products are gorgonia's own, on this package's BLAS; the layers that
//     gorgonia would assemble from dozens of small generic ops (embedding lookup,
//     RMSNorm, attention with RoPE and padding mask, SwiGLU, the token loss) are
//     gorgonia Ops of this package with hand-written backward passes, each checked
//     against finite differences in the tests.
//   - Forward, plain Go over the same slices with no graph, used for sampling,
//     evaluation and the old/reference log-probs of RL. It agrees with the graph
//     to 1e-4 relative on logits.
//
// Both paths' matrix products use one BLAS, picked at start: OpenBLAS, loaded
// with dlopen (purego, no cgo) where it is installed, with its own threads off
// and large products split by rows across goroutines; gonum's pure Go where it
// is not, with REMASK_BLAS=gonum, or when built with -tags noopenblas.
// BLASName and BLASInfo say which.
//
// The loss is not fixed here: the graph ends in a TokenLoss that an objective
// supplies, which maps the log-probabilities of the target tokens to a scalar and
// its gradient. Supervised objectives give a weighted sum; RL algorithms give a
// clipped surrogate; the graph and its backward pass stay the same.
package model
