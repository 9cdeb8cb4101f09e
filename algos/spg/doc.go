// Package spg is SPG (Sandwiched Policy Gradient, facebookresearch/SPG): a
// ratio-free policy gradient on a sequence log-likelihood estimate that is a
// lower bound (ELBO) for completions with positive advantage and an upper
// bound (EUBO), or a mixture of the two, for the others, so that each
// sequence's objective is a bound in the right direction.
//
// Masks (SPG's block_random forward process). Per inner iteration, NumT
// draws per completion. The completion's n positions form n/BlockLength
// blocks; the counted tokens (up to and including the first <eos>) cover
// the first c of them. Draw j picks block m_j = perm_j mod c from one random
// permutation of the blocks; every position after block m_j is masked, and in
// block m_j a uniform number in [max(floor(l MinT), 1), min(floor(l MaxT), l)]
// of its l counted positions is masked (its uncounted positions are masked
// too). Every position before block m_j, prompt included, is masked with
// probability PMaskPrompt (remask never masks <bos> or padding). Positions
// after the first <eos> are always masked and never counted.
//
// Estimates, with D_j the counted positions masked in draw j and
// t_j = |D_j| / c_tokens:
//
//	ELBO = mean_j mean_{k in D_j} log p_j(o_k)
//	EUBO = 1/beta mean_{k in M} log( mean_j [k in D_j] p_j(o_k)^beta / t_j )
//
// with M the counted positions masked in at least one draw. A completion
// with advantage A > 0 uses the ELBO; the others use the EUBO ("eubo"), the
// mixture w EUBO + (1-w) ELBO ("mix", SPG's default) or the ELBO ("elbo").
//
// Loss: sum_i -A_i est_i |o_i| / sum_i |o_i|, |o_i| the counted length (a
// token-weighted mean); no ratio, no clipping, no KL (SPG refuses beta != 0).
package spg
