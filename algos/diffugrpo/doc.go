// Package diffugrpo is d1's diffu-GRPO: every completion token fully masked,
// each prompt token masked with probability PMaskPrompt, and one forward
// giving l_k = log p(o_k) for every completion token. A fresh mask per inner
// iteration, shared by the policy, the old policy and the reference.
package diffugrpo
