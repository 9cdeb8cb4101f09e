package data

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// GSM8KSystemPrompt is d1's format instruction for GSM8K (diffu-grpo
// data_utils.py SYSTEM_PROMPT), which d1 puts before the question in the
// user message: SYSTEM_PROMPT + "\n\n" + question.
const GSM8KSystemPrompt = "\nRespond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n"

// GSM8K is grade-school math in the GSM8K format: a question, and a
// worked answer whose last line is "#### N". A completion is correct when
// the number it answers equals N (d1's eval, parse_gsm_answers).
type GSM8K struct{}

func (GSM8K) Name() string { return "gsm8k" }

// Correct reads the answer as d1's eval does: the first \boxed{...} whose
// content is a number (or holds one: its first), else the text of the first
// <answer>...</answer>, a number or its last number; it must equal the
// reference as a float.
func (GSM8K) Correct(ex Example, completion string) bool {
	want, ok := ex.Ref["number"].(float64)
	if !ok {
		return false
	}
	got, ok := gsm8kParse(completion)
	return ok && got == want
}

var (
	boxedRe  = regexp.MustCompile(`\\boxed\{(.*?)\}`)
	numberRe = regexp.MustCompile(`-?\d+\.?\d*`)
	answerRe = regexp.MustCompile(`(?s)<answer>(.*?)</answer>`)
	dotsRe   = regexp.MustCompile(`^\.+$`)
)

func gsm8kParse(s string) (float64, bool) {
	for _, m := range boxedRe.FindAllStringSubmatch(s, -1) {
		c := strings.TrimSpace(m[1])
		if c == "" || c == "..." || dotsRe.MatchString(c) {
			continue
		}
		if f, ok := pyFloat(c); ok {
			return f, true
		}
		if n := numberRe.FindString(c); n != "" {
			if f, ok := pyFloat(n); ok {
				return f, true
			}
		}
	}
	m := answerRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	c := strings.TrimSpace(m[1])
	if c == "" {
		return 0, false
	}
	if f, ok := pyFloat(c); ok {
		return f, true
	}
	if ns := numberRe.FindAllString(c, -1); len(ns) > 0 {
		return pyFloat(ns[len(ns)-1])
	}
	return 0, false
}

// pyFloat is Python's float() on a decimal number (surrounding white space
// allowed); "inf", "nan" and hexadecimal are not answers.
func pyFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if unicode.IsLetter(r) && r != 'e' && r != 'E' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// calcRe is GSM8K's calculator annotations, "<<3*4=12>>".
var calcRe = regexp.MustCompile(`<<[^<>]*>>`)

// GSM8KExample turns a question and its worked answer into an example: the
// prompt is d1's (GSM8KSystemPrompt, a blank line, the question); the SFT
// answer is d1's XML format, <reasoning> with the worked solution (the
// calculator annotations removed) and <answer> with the number; Ref holds
// "answer" (the text after ####, what the d1_gsm8k_* rewards compare) and
// "number" (its value, what Correct compares).
func GSM8KExample(question, answer string) (Example, error) {
	work, final, ok := strings.Cut(answer, "####")
	if !ok {
		return Example{}, fmt.Errorf("answer does not end in \"#### N\"")
	}
	if strings.Contains(final, "####") {
		return Example{}, fmt.Errorf("answer has more than one \"####\"")
	}
	final = strings.TrimSpace(final)
	num, ok := pyFloat(strings.NewReplacer(",", "", "$", "").Replace(final))
	if !ok {
		return Example{}, fmt.Errorf("the final answer %q after #### is not a number", final)
	}
	if strings.TrimSpace(question) == "" {
		return Example{}, fmt.Errorf("question is empty")
	}
	work = strings.TrimSpace(calcRe.ReplaceAllString(work, ""))
	return Example{
		Prompt: GSM8KSystemPrompt + "\n\n" + question,
		Answer: "<reasoning>\n" + work + "\n</reasoning>\n<answer>\n" + final + "\n</answer>",
		Ref:    map[string]any{"answer": final, "number": num, "question": question},
	}, nil
}

// LoadGSM8KJSONL reads GSM8K's JSONL (openai/gsm8k, as d1 and Hugging Face
// datasets write it): one {"question": ..., "answer": "... #### N"} a line.
func LoadGSM8KJSONL(path string) ([]Example, error) {
	var out []Example
	err := eachJSONLine(path, "GSM8K JSONL", func(raw map[string]json.RawMessage) error {
		q, err := stringField(raw, "question", true)
		if err != nil {
			return err
		}
		a, err := stringField(raw, "answer", true)
		if err != nil {
			return err
		}
		ex, err := GSM8KExample(q, a)
		if err != nil {
			return err
		}
		out = append(out, ex)
		return nil
	})
	return out, err
}
