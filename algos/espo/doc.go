// Package espo is ESPO (ELBO-based Sequence-level Policy Optimization,
// ML-GSAI/ESPO): the whole completion is one action whose log-likelihood is
// estimated by its ELBO, and the importance ratio is taken per sequence and
// normalised per token.
//
// Masks. Per inner iteration, NumMC Monte Carlo masks. For each, one offset
// k ~ U{0..n} is drawn for the batch (n = generation length) and completion
// i of the B in the batch gets x_i = round(k + i (n+1)/B) mod (n+1) masked
// positions, chosen uniformly (stratified mask counts across the batch). The
// prompt is never masked. With ReduceVar, a coupled second pass masks
// exactly the complement.
//
// Estimate. ELBO = mean over the MC masks of sum over masked positions of
// log p / (x / (n+1)); with ReduceVar the complement pass adds
// log p / ((n - x) / (n+1)) and the two halves are averaged. Every one of
// the n generated positions counts, <eos> padding included, as in ESPO.
// The estimate is a weighted sum of per-row log-probs, so the same masks
// serve the policy, the old policy and the reference.
//
// Loss. rho_i = exp((ELBO_i - ELBO_old_i) / n); per sequence
// -min(rho A, clip(rho, 1-eps_low, 1+eps_high) A) averaged over the batch,
// plus beta times the k2 KL (ELBO_i - ELBO_ref_i)^2 / 2 summed over the
// batch and divided by B n.
package espo
