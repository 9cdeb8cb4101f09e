package rollout

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/remask/remask/model"
)

// Snapshot is an immutable copy of the policy weights tagged with the
// version (optimizer step) it was taken at. Workers read it while the trainer
// goes on updating its own weights.
type Snapshot struct {
	Version int
	Params  *model.Params
}

// NewSnapshot copies p.
func NewSnapshot(p *model.Params, version int) *Snapshot {
	return &Snapshot{Version: version, Params: p.Clone()}
}

// PoolConfig configures a rollout pool.
type PoolConfig struct {
	Workers int // concurrent samplers; 0 = one per core
	Group   int // completions per prompt (G)
	Queue   int // bounded job queue; 0 = 2 per worker
	// PerJob is how many prompts' groups one forward batch holds (0 = enough
	// for about 32 sequences). Prompts are cut into jobs by index, so a
	// batch's make-up never depends on the number of workers.
	PerJob  int
	Seed    uint64  // with the step, prompt and sample index, fixes every random draw
	Options Options // the sampler
}

// Group is the G completions of one prompt.
type Group struct {
	Prompt  int       // index of the prompt in the Rollout call
	Version int       // snapshot version the completions were sampled with
	Tokens  [][]int   // G completions
	Trace   [][]int   // commit step of each token
	Entropy []float64 // per completion, the mean entropy of its tokens' distributions at commit
	NFE     int       // forwards of the batch the group was sampled in
}

// Pool samples groups of completions on W workers. Each worker owns its
// scratch buffers and computes on one goroutine, so that W workers use W
// cores; a group is always one batch of its G completions with the random
// streams of (seed, step, prompt, sample), so the output is bit-identical for
// any number of workers.
type Pool struct {
	cfg PoolConfig
}

// NewPool validates the configuration.
func NewPool(cfg PoolConfig) (*Pool, error) {
	cfg, err := cfg.Resolved(runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	return &Pool{cfg: cfg}, nil
}

// Workers is the resolved worker count.
func (p *Pool) Workers() int { return p.cfg.Workers }

// Metrics: the pool has none beyond the trainer's rollout time.
func (p *Pool) Metrics() map[string]float64 { return nil }

// Close: the pool holds nothing between calls.
func (p *Pool) Close() error { return nil }

// mix64 is SplitMix64's finaliser: it spreads nearby integers (step 3 and
// step 4) into unrelated PCG seeds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleRNG is the random stream of one completion.
func SampleRNG(seed uint64, step, prompt, sample int) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(seed^mix64(uint64(step))), mix64(uint64(prompt)<<24^uint64(sample))))
}

// Rollout samples Group completions for every prompt with the snapshot's
// weights and returns the groups in prompt order. Cancelling ctx stops it
// between groups.
func (p *Pool) Rollout(ctx context.Context, snap *Snapshot, step int, prompts [][]int) ([]Group, error) {
	return p.RolloutFrom(ctx, snap, step, 0, prompts)
}

// RolloutFrom is Rollout for prompts numbered from first in the step's random
// streams: a step that rolls several batches (dynamic sampling) numbers them
// on, so no two of its groups share streams.
func (p *Pool) RolloutFrom(ctx context.Context, snap *Snapshot, step, first int, prompts [][]int) ([]Group, error) {
	out := make([]Group, len(prompts))
	jobs := make(chan int, p.cfg.Queue)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	per := p.cfg.PerJob
	for w := 0; w < p.cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf := model.NewInference(snap.Params)
			inf.Threads = 1
			for lo := range jobs {
				if ctx.Err() != nil {
					continue // drain
				}
				hi := min(lo+per, len(prompts))
				gs, err := SampleJob(inf, snap.Version, p.cfg.Seed, p.cfg.Group, p.cfg.Options, step, first, lo, prompts[lo:hi])
				if err != nil {
					fail(fmt.Errorf("rollout prompts %d-%d: %w", lo, hi-1, err))
					continue
				}
				copy(out[lo:hi], gs)
			}
		}()
	}
feed:
	for _, lo := range Jobs(len(prompts), per) {
		select {
		case jobs <- lo:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
