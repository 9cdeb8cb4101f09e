package algos

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
)

// Algorithm is one RL estimator, built from its resolved settings for one
// run: how a rollout batch is masked and its log-likelihoods estimated
// (Inputs), which no-gradient passes the trainer must run for it (Needs),
// and its loss (Loss). The trainer owns everything else: rollout, rewards,
// advantages, the mu inner updates, the optimizer, checkpoints.
type Algorithm interface {
	// Inputs masks the completions of a rollout batch for inner iteration
	// iter (of mu) and says how each counted unit's log-likelihood is read
	// off the graph's per-row log-probabilities. batch is a random stream
	// fixed for the whole rollout batch (the same at every iteration);
	// iterRNG is the iteration's own. The same Inputs serve the policy, the
	// old policy and the reference.
	Inputs(samples []Sample, iter, mu int, batch, iterRNG *rand.Rand) (*Inputs, error)
	// Needs says which estimates the trainer computes before the update,
	// without gradients: those of the rollout's (old) policy and of the
	// reference model. When old is not needed LossBatch.Old is the policy's
	// own estimates, detached (mu = 1: every ratio is exactly 1); when ref
	// is not needed LossBatch.Ref is nil.
	Needs() (old, ref bool)
	// Loss is the update's loss and its derivative with respect to every
	// row of b.LP.
	Loss(b LossBatch) (loss float64, grad []float64, st Stats, err error)
}

// LossBatch is what a loss sees at one inner iteration.
type LossBatch struct {
	In       *Inputs
	LP       []float64   // the policy's per-row log-probabilities (the graph's)
	Old, Ref [][]float64 // per-unit estimates of the old and reference policies (shape of In.Tokens)
	Adv      []float64   // one advantage per completion
	Rewards  []float64   // one reward per completion (ratio-free estimators weigh by them)
	Group    int         // completions per prompt: completion i belongs to group i / Group
}

// Common are the settings every algorithm shares (the flat algo.* fields of
// a config), resolved against the algorithm's Defaults.
type Common struct {
	Tok       Special
	Group, Mu int
	Beta      float64
	EpsLow    float64
	EpsHigh   float64
	Advantage string // mean | group_norm | loo
	LossAgg   string // token | sequence (see Aggregations)
	// BlockSize is the model's attention block (model.block_size) with
	// block-causal attention, 0 with full attention: the estimator's masks
	// then act within each answer block and its Inputs are SideBySide.
	BlockSize int
}

// Aggregations are the ways a loss averages its per-token terms:
//   - "token": the sum over every counted token of the batch divided by
//     their number (TRL's GRPO loss, which d1 and DiffuCoder train with)
//   - "sequence": the mean over each completion's counted tokens, then over
//     completions (the GRPO paper's formula, MMaDA's UniGRPO)
var Aggregations = []string{"token", "sequence"}

// Defaults are an algorithm's published values of the common settings: a
// config leaving a field at its "default" value (0, -1 for beta, "") gets
// these.
type Defaults struct {
	Group     int     `json:"group"`
	Mu        int     `json:"mu"`
	Beta      float64 `json:"beta"`
	Advantage string  `json:"advantage"`
	LossAgg   string  `json:"loss_agg"`
	// Clip is the published clip range of the ratio, used for algo.eps_low
	// and algo.eps_high when they are unset; 0 for an estimator without a
	// ratio (wd1, SPG).
	Clip float64 `json:"clip"`
}

// FieldError is one invalid field of an algorithm's section: the key under
// algo.NAME and what is wrong with it.
type FieldError struct{ Field, Msg string }

// Section is an algorithm's own config section, a pointer to a struct
// whose fields carry yaml, mapstructure and doc tags (the doc tag is the
// field's one line in docs/config.md). Validate names each bad field.
type Section interface {
	Validate() []FieldError
}

// Registration is what a package registers for its algorithm.
type Registration struct {
	Name     string   // the objective's name in a config (objective: NAME) and the section's key (algo.NAME)
	Doc      string   // one line: what it is and whose method
	Defaults Defaults // its published common settings
	// Section returns a new section holding the algorithm's defaults; nil
	// when it has no settings of its own.
	Section func() Section
	// Flat maps keys accepted directly under algo: (from before sections
	// existed) to keys of the section: algo.p_mask_prompt is
	// algo.diffu_grpo.p_mask_prompt. Old configs and run stores keep
	// loading.
	Flat map[string]string
	// New builds the algorithm from its section (nil when Section is nil)
	// and the resolved common settings.
	New func(sec Section, c Common) (Algorithm, error)
}

var (
	regMu sync.RWMutex
	reg   = map[string]Registration{}
)

// Register adds an algorithm; a package calls it from init. A second
// registration of a name, or one missing its parts, panics: it is a
// programming error found at start-up.
func Register(r Registration) {
	regMu.Lock()
	defer regMu.Unlock()
	if r.Name == "" || r.Doc == "" || r.New == nil {
		panic(fmt.Sprintf("algos.Register(%q): name, doc and New are required", r.Name))
	}
	if _, dup := reg[r.Name]; dup {
		panic(fmt.Sprintf("algos.Register: %q registered twice", r.Name))
	}
	if r.Defaults.Group < 1 || r.Defaults.Mu < 1 || r.Defaults.Beta < 0 || r.Defaults.Advantage == "" || r.Defaults.LossAgg == "" {
		panic(fmt.Sprintf("algos.Register(%q): every default must be set", r.Name))
	}
	reg[r.Name] = r
}

// Lookup finds a registered algorithm.
func Lookup(name string) (Registration, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	r, ok := reg[name]
	return r, ok
}

// Names lists the registered algorithms, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var ns []string
	for n := range reg {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Resolve applies the algorithm's defaults to the common settings: 0 (-1
// for beta and the clip range, "" for strings) means the published default.
func (r Registration) Resolve(c Common) Common {
	d := r.Defaults
	if c.Group == 0 {
		c.Group = d.Group
	}
	if c.Mu == 0 {
		c.Mu = d.Mu
	}
	if c.Beta < 0 {
		c.Beta = d.Beta
	}
	if c.Advantage == "" {
		c.Advantage = d.Advantage
	}
	if c.LossAgg == "" {
		c.LossAgg = d.LossAgg
	}
	if c.EpsLow < 0 {
		c.EpsLow = d.Clip
	}
	if c.EpsHigh < 0 {
		c.EpsHigh = d.Clip
	}
	return c
}
