// Package wd1 is wd1 (Tang et al., "wd1: Weighted Policy Optimization for
// Reasoning in Diffusion Language Models"; xiaohangt/wd1), a ratio-free
// weighted-likelihood objective. Completions are masked as d1 masks them
// (each prompt token with probability p_mask_prompt, the whole completion;
// a fresh mask per inner iteration) and each completion's log-likelihood is
// d1's one-step estimate, the sum of its counted tokens' log-probabilities.
// With A the group's mean-centred advantages, the loss of a group is
//
//	-sum_i softmax(A)_i log pi(o_i) + sum_i softmax(-A)_i log pi(o_i)
//
// (the second term only with negative, wd1's default "wll_d1_neg"
// trainer), averaged over groups. No ratio, no old policy, no KL: every
// inner iteration is a plain weighted likelihood step.
package wd1
