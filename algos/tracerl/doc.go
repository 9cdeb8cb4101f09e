// Package tracerl is TraceRL (Wang et al. 2025, "Revolutionizing
// Reinforcement Learning Framework for Diffusion Large Language Models",
// Gen-Verse/dLLM-RL): each completion token's log-probability is read in the
// decoding state where the sampler decided it, so the update trains the
// states the sampler really passes through.
//
// From the rollout's trace (the step at which each completion token was
// committed) it builds, per completion:
//
//   - shrink: the distinct steps, in order, are merged in runs of `shrink`
//     consecutive ones, each run taking its last step's number (dLLM-RL's
//     collapse_k_unique; LLaDA recipe 8, SDAR/TraDo 1);
//   - one state per merged step s: every completion token whose merged step
//     is >= s is masked, the prompt and earlier tokens are visible, and the
//     tokens of step s are scored (all of a merged run's tokens are masked
//     together: the state before the run's first step);
//   - scored tokens stop after the first <eos> plus post_num more (dLLM-RL
//     drops trailing padding beyond post_num, 0 in its recipes; in remask
//     <eos> is also the padding, so this is remask's "up to and including
//     the first <eos>" count); states that score nothing are skipped.
//
// Advantages are the group z-score with the population std (0 when the group
// is flat: algo.advantage zscore); groups whose mean reward lies outside
// [keep_low, keep_high] (0.2, 0.8 published, meant for 0/1 correctness) are
// left out of the loss. The loss, per state row r with n_r scored tokens and R rows in the
// update:
//
//	loss = (1/R) sum_r [ -(1/n_r) sum_k min(rho A, clip(rho, 1-eps, 1+eps) A)
//	                     + beta sum_k (exp(l_old - l) - (l_old - l) - 1) ]
//
// with rho = exp(l - l_old) and l_old the rollout policy's log-prob in the
// same state: the KL (k3) is to the rollout policy, not to a reference
// model, and it is summed (not averaged) over a row's tokens, as published
// (eps 0.2, beta 0.01). The rows of a rollout batch are used once, in
// rollout order, split into consecutive chunks, one optimizer update each
// (dLLM-RL: one epoch over the rows, an update every 256 rows).
//
// Not implemented: dLLM-RL's optional diffusion value model (a second
// network with a value head trained alongside the policy, whose per-step
// values give GAE advantages over the trace, in its *_with_value recipes);
// here every token of a completion gets the completion's advantage, which is
// the published setting without a value model (its LLaDA, Dream and MMaDA
// recipes).
package tracerl
