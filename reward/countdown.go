package reward

import (
	"math"

	"github.com/remask/remask/data"
)

// countdown is d1's countdown reward: 1.0 for an equation that passes d1's
// check (data.CountdownD1Correct: exactly the given numbers, each once, and a
// value within 1e-5 of the target), 0.1 for an answer that is there but
// wrong, unparsable or uses other numbers, 0 for no answer.
func countdown(c Completion, tagged bool) (float64, error) {
	nums, ok1 := refInts(c.Ref["numbers"])
	target, ok2 := refNumber(c.Ref["target"])
	if !ok1 || !ok2 {
		return 0, errMissingRef("numbers (a list of integers) and target (a number)")
	}
	eq, ok := answerText(c.Text, tagged)
	if !ok || (!tagged && eq == "") {
		return 0, nil
	}
	if !data.CountdownD1Correct(eq, nums, target) {
		return 0.1, nil
	}
	return 1, nil
}

// refInts reads a list of integers from reference fields, whether they came
// from the data package ([]int) or straight from JSON ([]any of float64).
func refInts(v any) ([]int64, bool) {
	switch x := v.(type) {
	case []int:
		out := make([]int64, len(x))
		for i, n := range x {
			out[i] = int64(n)
		}
		return out, true
	case []int64:
		return x, true
	case []float64:
		out := make([]int64, len(x))
		for i, f := range x {
			if f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
				return nil, false
			}
			out[i] = int64(f)
		}
		return out, true
	case []any:
		out := make([]int64, len(x))
		for i, e := range x {
			f, ok := refNumber(e)
			if !ok || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
				return nil, false
			}
			out[i] = int64(f)
		}
		return out, true
	}
	return nil, false
}

func refNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return 0, false
}
