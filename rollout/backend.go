package rollout

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/remask/remask/model"
)

// Backend is where an RL step's completions are sampled: the in-process
// Pool (rollout.backend: local, the default) or remote workers behind a NATS
// JetStream server (package rollout/nats). The trainer and `remask probe` use
// this interface only. Every backend returns, bit for bit, the groups the
// Pool returns for the same configuration: each splits the prompts into the
// same jobs (Jobs) and samples each job with SampleJob.
type Backend interface {
	// Rollout samples the groups of every prompt with the snapshot's
	// weights, in prompt order.
	Rollout(ctx context.Context, snap *Snapshot, step int, prompts [][]int) ([]Group, error)
	// RolloutFrom is Rollout for prompts numbered from first in the step's
	// random streams (dynamic sampling rolls several batches a step).
	RolloutFrom(ctx context.Context, snap *Snapshot, step, first int, prompts [][]int) ([]Group, error)
	// Workers is the number of samplers the backend knows of at start: the
	// pool's goroutines; 0 where workers come and go (nats).
	Workers() int
	// Metrics are the backend's own figures since the previous call (the
	// trainer adds them to the step's metrics); nil when it has none.
	Metrics() map[string]float64
	// Close releases connections and remote state; the backend is unusable
	// after it.
	Close() error
}

var _ Backend = (*Pool)(nil)

// Resolved is the configuration with NewPool's defaults filled in (workers,
// queue, PerJob), or an error for one no pool can run with. Remote backends
// resolve PerJob the same way, so their jobs are the pool's.
func (c PoolConfig) Resolved(cores int) (PoolConfig, error) {
	if c.Workers == 0 {
		c.Workers = cores
	}
	if c.Workers < 1 || c.Group < 1 || c.Queue < 0 {
		return c, fmt.Errorf("rollout pool: workers %d, group %d, queue %d", c.Workers, c.Group, c.Queue)
	}
	if c.Queue == 0 {
		c.Queue = 2 * c.Workers
	}
	if c.PerJob <= 0 {
		c.PerJob = max(1, 32/c.Group)
	}
	if err := c.Options.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Jobs cuts n prompts into jobs of per prompts by index: job i holds prompts
// [i*per, min((i+1)*per, n)). A job is one forward batch, so the cut never
// depends on how many workers share the jobs. It returns each job's first
// index.
func Jobs(n, per int) []int {
	var los []int
	for lo := 0; lo < n; lo += per {
		los = append(los, lo)
	}
	return los
}

// SampleJob samples one job: group completions of each of prompts, which
// are the RolloutFrom call's prompts [lo, lo+len(prompts)), in one batch,
// completion s of prompt i with the random stream SampleRNG(seed, step,
// first+lo+i, s). The groups are numbered lo+i and carry version. inf must
// not be shared with another goroutine.
func SampleJob(inf *model.Inference, version int, seed uint64, group int, o Options, step, first, lo int, prompts [][]int) ([]Group, error) {
	var batch [][]int
	var rngs []*rand.Rand
	for i, p := range prompts {
		for s := 0; s < group; s++ {
			batch = append(batch, p)
			rngs = append(rngs, SampleRNG(seed, step, first+lo+i, s))
		}
	}
	res, err := Generate(inf, batch, o, rngs...)
	if err != nil {
		return nil, err
	}
	out := make([]Group, len(prompts))
	for i := range prompts {
		r := i * group
		out[i] = Group{Prompt: lo + i, Version: version, Tokens: res.Tokens[r : r+group], Trace: res.Trace[r : r+group], Entropy: res.Entropy[r : r+group], NFE: res.NFE}
	}
	return out, nil
}
