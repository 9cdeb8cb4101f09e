package reward

import (
	"strings"

	"github.com/remask/remask/data"
)

func init() {
	Register("d1_math_correct", func() Reward { return Func(mathCorrect) })
	Register("d1_math_format", func() Reward { return Func(mathFormat) })
}

// d1's MATH rewards (diffu-grpo's correctness_reward_func_math and
// boxed_and_answer_tags_format_reward, with the Hendrycks MATH string
// normalisation they use, shared with the math task's eval in data).

// mathCorrect: 2.0 when the last \boxed{...} of the completion (the whole
// completion if it has none) equals the reference's after normalisation.
func mathCorrect(c Completion) (float64, error) {
	ref, ok := c.Ref["answer"].(string)
	if !ok {
		if ref, ok = c.Ref["solution"].(string); !ok {
			return 0, errMissingRef("answer (a MATH solution or its final answer)")
		}
	}
	want, err := data.MathFinalAnswer(ref)
	if err != nil {
		return 0, errMissingRef("answer: its last \\boxed{...} is unbalanced")
	}
	got := c.Text
	if r, err := data.MathFinalAnswer(got); err == nil {
		got = r
	}
	if data.MathEquiv(got, want) {
		return 2, nil
	}
	return 0, nil
}

// mathFormat is 0.5 x (1 for an <answer> tag + 1 when "\boxed" is in the
// answer, else 0.5). The published check is written "\boxed" in a Python
// string without r-prefix, where "\b" is a backspace, so it never matches and
// every completion gets the 0.5; this is the intended check for the text
// \boxed. Range: 0.25 (no tag, no box) to 1.0.
func mathFormat(c Completion) (float64, error) {
	r, score := c.Text, 0.0
	// r.split("<answer>")[1].split("</answer>")[0]: after the FIRST tag
	if i := strings.Index(r, "<answer>"); i >= 0 {
		r = r[i+len("<answer>"):]
		if j := strings.Index(r, "<answer>"); j >= 0 {
			r = r[:j]
		}
		if j := strings.Index(r, "</answer>"); j >= 0 {
			r = r[:j]
		}
		score += 1
	}
	if strings.Contains(r, `\boxed`) {
		score += 1
	} else {
		score += 0.5
	}
	return 0.5 * score, nil
}
