// Package unigrpo is MMaDA's UniGRPO: the prompt is never masked; the
// completion is masked at structured ratios over the inner iterations,
// t1 = floor(r T), t_n = floor((n-1)/(mu-1) (T - t1) + t1) with r ~ U(0,1)
// once per rollout batch and T = 1000, so the mu iterations sweep from a
// random ratio up to fully masked; the loss reads masked tokens only.
package unigrpo
