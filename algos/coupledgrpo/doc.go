// Package coupledgrpo is DiffuCoder's coupled-GRPO: three forwards per
// completion, (0) every completion token masked, (1) the tokens with R < t
// masked, (2) the complement, R >= t, masked, with R ~ U(0,1) per token and
// t ~ U(0.2, 0.8) per completion; each token is masked in exactly one of the
// coupled passes, and its estimate is
// l_k = (l0_k + (k masked in pass 1 ? l1_k / t : l2_k / (1 - t))) / 2.
package coupledgrpo
