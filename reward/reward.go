package reward

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/rs/zerolog"
)

// Completion is what a reward scores.
type Completion struct {
	Prompt string         // the prompt as the model saw it
	Text   string         // the decoded completion (up to the first <eos>)
	Ref    map[string]any // the example's reference fields (sudoku: puzzle, solution; countdown: numbers, target; gsm8k: answer)
}

// Reward scores one completion.
type Reward interface {
	Score(c Completion) (float64, error)
}

// Outcome is one completion's score as a batch reward returns it: the score,
// optionally what the reward saw (logged with the sample), or why it failed.
type Outcome struct {
	Score   float64
	Details map[string]any
	Err     error
}

// Batcher is a reward that scores many completions at once, faster than one
// by one: an exec plugin pipelines its requests, the code rewards run their
// sandboxes in parallel. CombineBatch uses it when a reward has it.
type Batcher interface {
	ScoreBatch(cs []Completion) []Outcome
}

// LogUser is a reward that logs (the code rewards report a sandbox that cannot
// isolate); NewLogged hands it the run's logger.
type LogUser interface {
	UseLogger(log zerolog.Logger)
}

// Func adapts a function to Reward.
type Func func(c Completion) (float64, error)

// Score calls f.
func (f Func) Score(c Completion) (float64, error) { return f(c) }

var (
	mu       sync.RWMutex
	registry = map[string]func() Reward{}
)

// Register makes a reward available by name; it panics on a duplicate name,
// which is a programming error caught at start-up.
func Register(name string, factory func() Reward) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("reward: " + name + " registered twice")
	}
	registry[name] = factory
}

// New returns the registered reward of a name.
func New(name string) (Reward, error) {
	mu.RLock()
	f, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown reward %q (registered: %v)", name, Names())
	}
	return f(), nil
}

// NewLogged is New, handing log to a reward that logs.
func NewLogged(name string, log zerolog.Logger) (Reward, error) {
	r, err := New(name)
	if err != nil {
		return nil, err
	}
	if l, ok := r.(LogUser); ok {
		l.UseLogger(log)
	}
	return r, nil
}

// Names lists the registered rewards, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	ns := make([]string, 0, len(registry))
	for n := range registry {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Component is one weighted reward of a combination.
type Component struct {
	Name         string
	Weight       float64
	Reward       Reward
	FailureScore float64 // what a completion scores when the reward fails
}

// Scored is the total and every component of one completion.
type Scored struct {
	Total      float64
	Components map[string]float64
	Failures   map[string]string // component -> why it failed (it then scored its FailureScore)
	Details    map[string]any    // component -> what it reported, for rewards that report any
}

// Combine scores c with every component; a component that errs or returns a
// non-finite score gets its FailureScore and is reported in Failures. An
// error that wraps ErrAbort (an exec plugin that cannot start or failed too
// often in a row) is returned instead: the run must end.
func Combine(cs []Component, c Completion) (Scored, error) {
	s, err := CombineBatch(cs, []Completion{c})
	if err != nil {
		return Scored{}, err
	}
	return s[0], nil
}

// CombineBatch is Combine over a batch, through ScoreBatch for the rewards
// that have it; the result is in the order of batch. The error, which wraps
// ErrAbort, is the first outcome that ends the run.
func CombineBatch(cs []Component, batch []Completion) ([]Scored, error) {
	out := make([]Scored, len(batch))
	for i := range out {
		out[i].Components = make(map[string]float64, len(cs))
	}
	for _, comp := range cs {
		var outs []Outcome
		if b, ok := comp.Reward.(Batcher); ok {
			outs = b.ScoreBatch(batch)
		}
		if len(outs) != len(batch) { // not a batcher, or one that broke its contract
			outs = make([]Outcome, len(batch))
			for i, c := range batch {
				v, err := comp.Reward.Score(c)
				outs[i] = Outcome{Score: v, Err: err}
				if errors.Is(err, ErrAbort) {
					return nil, err
				}
			}
		}
		for i := range batch {
			if errors.Is(outs[i].Err, ErrAbort) {
				return nil, outs[i].Err
			}
			out[i].add(comp, outs[i])
		}
	}
	return out, nil
}

func (s *Scored) add(comp Component, o Outcome) {
	v, err := o.Score, o.Err
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		err = fmt.Errorf("non-finite score %v", v)
	}
	if err != nil {
		if s.Failures == nil {
			s.Failures = map[string]string{}
		}
		s.Failures[comp.Name] = err.Error()
		v = comp.FailureScore
	}
	if o.Details != nil {
		if s.Details == nil {
			s.Details = map[string]any{}
		}
		s.Details[comp.Name] = o.Details
	}
	s.Components[comp.Name] = v
	s.Total += comp.Weight * v
}

// NormalizeRef turns reference fields decoded from JSON into the types the
// data package produces: integral numbers become int, lists of integral
// numbers []int (so {"numbers": [30, 100, 93], "target": 23} reads as the
// countdown task's). The built-ins accept either form.
func NormalizeRef(ref map[string]any) map[string]any {
	out := make(map[string]any, len(ref))
	for k, v := range ref {
		out[k] = normalize(v)
	}
	return out
}

func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
	case []any:
		ints := make([]int, 0, len(x))
		for _, e := range x {
			f, ok := e.(float64)
			if !ok || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
				return x
			}
			ints = append(ints, int(f))
		}
		return ints
	}
	return v
}

// errMissingRef says which reference fields a reward needed and did not get.
type errMissingRef string

func (e errMissingRef) Error() string { return "reference fields missing or malformed: " + string(e) }
