package trainer

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at a step (0-based) of a run of Total steps.
type Schedule struct {
	Kind       string  // constant | constant_with_warmup | cosine | cosine_with_min_lr
	Peak       float64 // the configured lr
	Warmup     int     // linear warm-up steps (constant_with_warmup and the cosines)
	Total      int     // run length in steps
	MinLRRatio float64 // cosine_with_min_lr: floor as a fraction of Peak
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
	}
	return 0, fmt.Errorf("unknown lr schedule %q", s.Kind)
}
