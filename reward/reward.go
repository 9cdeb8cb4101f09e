package reward

import (
	"fmt"
	"math"
	"sort"
	"sync"
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
	defer mu.RUnlock()
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown reward %q (registered: %v)", name, Names())
	}
	return f(), nil
}

// Names lists the registered rewards.
func Names() []string {
	var ns []string
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
	Failures   map[string]string // component -> why it failed (it then scored 0)
}

// Combine scores c with every component; a component that errs or returns a
// non-finite score counts 0 and is reported in Failures.
func Combine(cs []Component, c Completion) Scored {
	s := Scored{Components: make(map[string]float64, len(cs))}
	for _, comp := range cs {
		v, err := comp.Reward.Score(c)
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
		s.Components[comp.Name] = v
		s.Total += comp.Weight * v
	}
	return s
}

// NormalizeRef turns reference fields decoded from JSON into the types the
// built-ins read: integral numbers become int, lists of integral numbers
// []int (so {"numbers": [30, 100, 93], "target": 23} reads as countdown's).
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
			if !ok || f != math.Trunc(f) {
				return x
			}
			ints = append(ints, int(f))
		}
		return ints
	}
	return v
}
