package trainer

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at a step (0-based) of a run of Total steps.
type Schedule struct {
	Kind       string  // constant | constant_with_warmup | cosine | cosine_with_min_lr | warmup_stable_decay
	Peak       float64 // the configured lr
	Warmup     int     // linear warm-up steps (all but constant)
	Total      int     // run length in steps
	MinLRRatio float64 // cosine_with_min_lr and warmup_stable_decay: floor as a fraction of Peak
	Decay      int     // warmup_stable_decay: the last Decay steps fall linearly to the floor
}

// LR returns the learning rate for step.
func (s Schedule) LR(step int) (float64, error) {
	warm := func() (float64, bool) {
		if s.Warmup > 0 && step < s.Warmup {
			return s.Peak * float64(step+1) / float64(s.Warmup), true
		}
		return 0, false
	}
	// cosine decays over the steps after warm-up, from Peak to floor.
	cosine := func(floor float64) float64 {
		span := s.Total - s.Warmup
		if span <= 1 {
			return s.Peak
		}
		progress := math.Min(1, float64(step-s.Warmup)/float64(span-1))
		return floor + (s.Peak-floor)*0.5*(1+math.Cos(math.Pi*progress))
	}
	switch s.Kind {
	case "constant":
		return s.Peak, nil
	case "constant_with_warmup":
		if lr, ok := warm(); ok {
			return lr, nil
		}
		return s.Peak, nil
	case "cosine":
		if lr, ok := warm(); ok {
			return lr, nil
		}
		return cosine(0), nil
	case "cosine_with_min_lr":
		if lr, ok := warm(); ok {
			return lr, nil
		}
		return cosine(s.Peak * s.MinLRRatio), nil
	case "warmup_stable_decay":
		// Warm up, hold Peak, then fall linearly over the last Decay steps so
		// the final step runs at the floor. The stable phase is the run of
		// constant_with_warmup, so a constant-lr run can be resumed into its
		// decay phase (--resume with this schedule) and match a fresh run.
		if lr, ok := warm(); ok {
			return lr, nil
		}
		// A decay longer than the run after warm-up (a recipe shortened with
		// --set train.steps) spans every step after warm-up.
		decay := min(s.Decay, s.Total-s.Warmup)
		start := s.Total - decay
		if decay <= 0 || step < start {
			return s.Peak, nil
		}
		floor := s.Peak * s.MinLRRatio
		progress := math.Min(1, float64(step-start+1)/float64(decay))
		return s.Peak + (floor-s.Peak)*progress, nil
	}
	return 0, fmt.Errorf("unknown lr schedule %q", s.Kind)
}
