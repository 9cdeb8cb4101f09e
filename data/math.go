package data

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MATH is competition mathematics in the Hendrycks MATH / MATH500 JSONL
// format: a problem and a worked solution whose final answer is in
// \boxed{...} (MATH500 also has an "answer" field). A completion is correct
// when its final answer (the last \boxed{...}, else the text of the first
// <answer>...</answer>, else the whole completion) equals the reference after
// MATH's normalisation (MathEquiv), the check d1's d1_math_correct reward
// makes.
type MATH struct{}

func (MATH) Name() string { return "math" }

func (MATH) Correct(ex Example, completion string) bool {
	want, ok := ex.Ref["answer"].(string)
	if !ok {
		return false
	}
	return MathEquiv(mathCompletionAnswer(completion), want)
}

// mathCompletionAnswer is the final answer a completion gives: its last
// \boxed{...}; without one the first <answer> tag's text (d1's XML format);
// else the completion as it is.
func mathCompletionAnswer(c string) string {
	if strings.Contains(c, `\boxed`) || strings.Contains(c, `\fbox`) {
		if a, err := MathFinalAnswer(c); err == nil {
			return a
		}
	}
	if m := answerRe.FindStringSubmatch(c); m != nil {
		return strings.TrimSpace(m[1])
	}
	return c
}

// MathExample turns a problem, its solution and (when known) its final
// answer into an example: the prompt is d1's format instruction
// (GSM8KSystemPrompt), a blank line and the problem; the SFT answer is d1's
// XML format with the solution as reasoning and the final answer boxed;
// Ref holds "answer" (what Correct and d1_math_correct compare), "solution"
// and "problem". Without an answer it is the solution's last \boxed{...}.
func MathExample(problem, solution, answer string) (Example, error) {
	if strings.TrimSpace(problem) == "" {
		return Example{}, fmt.Errorf("problem is empty")
	}
	answer = strings.TrimSpace(answer)
	if answer == "" {
		if !strings.Contains(solution, `\boxed`) && !strings.Contains(solution, `\fbox`) {
			return Example{}, fmt.Errorf("no answer field and the solution has no \\boxed{...}")
		}
		a, err := MathFinalAnswer(solution)
		if err != nil {
			return Example{}, fmt.Errorf("the solution's last \\boxed{...} never closes")
		}
		answer = strings.TrimSpace(a)
	}
	return Example{
		Prompt: GSM8KSystemPrompt + "\n\n" + problem,
		Answer: "<reasoning>\n" + strings.TrimSpace(solution) + "\n</reasoning>\n<answer>\n\\boxed{" + answer + "}\n</answer>",
		Ref:    map[string]any{"answer": answer, "solution": solution, "problem": problem},
	}, nil
}

// LoadMathJSONL reads MATH / MATH500 JSONL: one {"problem", "solution"[,
// "answer"]} a line; other fields (level, type, unique_id) are ignored.
func LoadMathJSONL(path string) ([]Example, error) {
	var out []Example
	err := eachJSONLine(path, "MATH JSONL", func(raw map[string]json.RawMessage) error {
		p, err := stringField(raw, "problem", true)
		if err != nil {
			return err
		}
		s, err := stringField(raw, "solution", true)
		if err != nil {
			return err
		}
		a, err := stringField(raw, "answer", false)
		if err != nil {
			return err
		}
		ex, err := MathExample(p, s, a)
		if err != nil {
			return err
		}
		out = append(out, ex)
		return nil
	})
	return out, err
}
