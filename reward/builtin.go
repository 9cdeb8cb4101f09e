package reward

import (
	"math"
	"regexp"
	"strings"

	"github.com/remask/remask/data"
)

func init() {
	// d1's recipes read the answer from the last <answer>...</answer>; no tag
	// scores 0. The untagged twins score remask's task format, where the
	// answer is the whole completion.
	Register("d1_sudoku", func() Reward { return Func(func(c Completion) (float64, error) { return sudokuCells(c, true) }) })
	Register("d1_countdown", func() Reward { return Func(func(c Completion) (float64, error) { return countdown(c, true) }) })
	Register("sudoku_cells", func() Reward { return Func(func(c Completion) (float64, error) { return sudokuCells(c, false) }) })
	Register("countdown", func() Reward { return Func(func(c Completion) (float64, error) { return countdown(c, false) }) })
	Register("d1_gsm8k_correct", func() Reward { return Func(gsm8kCorrect) })
	Register("d1_gsm8k_int", func() Reward { return Func(gsm8kInt) })
	Register("d1_gsm8k_strict_format", func() Reward { return Func(gsm8kStrictFormat) })
	Register("d1_gsm8k_soft_format", func() Reward { return Func(gsm8kSoftFormat) })
	Register("d1_gsm8k_xmlcount", func() Reward { return Func(gsm8kXMLCount) })
}

var answerTag = regexp.MustCompile(`(?s)<answer>(.*?)</answer>`)

// answerText is the content of the last <answer>...</answer>; without tags
// it is the whole completion when untagged is allowed, else ok is false.
func answerText(s string, tagged bool) (string, bool) {
	if m := answerTag.FindAllStringSubmatch(s, -1); len(m) > 0 {
		return strings.TrimSpace(m[len(m)-1][1]), true
	}
	if tagged {
		return "", false
	}
	return strings.TrimSpace(s), true
}

// sudokuCells is d1's sudoku reward: the fraction of the puzzle's empty cells
// that the answer fills correctly, the answer's digits padded with 0 or cut
// to 16; no answer (or no digit) scores 0.
func sudokuCells(c Completion, tagged bool) (float64, error) {
	puzzle, _ := c.Ref["puzzle"].(string)
	solution, _ := c.Ref["solution"].(string)
	if len(puzzle) != 16 || len(solution) != 16 {
		return 0, errMissingRef("puzzle and solution (16 digits each)")
	}
	ans, ok := answerText(c.Text, tagged)
	if !ok {
		return 0, nil
	}
	var digits []byte
	for _, ch := range []byte(ans) {
		if ch >= '0' && ch <= '9' {
			digits = append(digits, ch)
		}
	}
	if len(digits) == 0 {
		return 0, nil
	}
	for len(digits) < 16 {
		digits = append(digits, '0')
	}
	digits = digits[:16]
	empty, right := 0, 0
	for i := 0; i < 16; i++ {
		if puzzle[i] == '0' {
			empty++
			if digits[i] == solution[i] {
				right++
			}
		}
	}
	if empty == 0 {
		return 0, nil
	}
	return float64(right) / float64(empty), nil
}

// countdown is d1's countdown reward: 1.0 for an equation that uses each
// number once and equals the target (within 1e-5), 0.1 for an answer that is
// there but wrong or unparsable, 0 for no answer.
func countdown(c Completion, tagged bool) (float64, error) {
	nums, ok1 := c.Ref["numbers"].([]int)
	target, ok2 := c.Ref["target"].(int)
	if !ok1 || !ok2 {
		return 0, errMissingRef("numbers and target")
	}
	eq, ok := answerText(c.Text, tagged)
	if !ok || (!tagged && eq == "") {
		return 0, nil
	}
	v, used, err := data.EvalExpression(eq)
	if err != nil || !sameNumbers(used, nums) {
		return 0.1, nil
	}
	f, _ := v.Float64()
	if math.Abs(f-float64(target)) < 1e-5 {
		return 1, nil
	}
	return 0.1, nil
}

func sameNumbers(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[int]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

type errMissingRef string

func (e errMissingRef) Error() string { return "reference fields missing: " + string(e) }

// d1's GSM8K rewards (Will Brown's GRPO demo as d1 uses it). The answer is
// the text between the last "<answer>" and the next "</answer>", trimmed;
// without tags that is the whole completion, as in the published code.
func gsm8kAnswer(s string) string {
	if i := strings.LastIndex(s, "<answer>"); i >= 0 {
		s = s[i+len("<answer>"):]
	}
	if i := strings.Index(s, "</answer>"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func refAnswer(c Completion) (string, error) {
	a, ok := c.Ref["answer"].(string)
	if !ok {
		return "", errMissingRef("answer")
	}
	return a, nil
}

// gsm8kCorrect: 2.0 when the extracted answer equals the reference exactly.
func gsm8kCorrect(c Completion) (float64, error) {
	a, err := refAnswer(c)
	if err != nil {
		return 0, err
	}
	if gsm8kAnswer(c.Text) == a {
		return 2, nil
	}
	return 0, nil
}

// gsm8kInt: 0.5 when the extracted answer is all ASCII digits (Python's
// str.isdigit; an empty answer is not).
func gsm8kInt(c Completion) (float64, error) {
	a := gsm8kAnswer(c.Text)
	if a == "" {
		return 0, nil
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return 0, nil
		}
	}
	return 0.5, nil
}

var (
	strictFormat = regexp.MustCompile(`(?s)^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n$`)
	softFormat   = regexp.MustCompile(`(?s)^<reasoning>.*?</reasoning>\s*<answer>.*?</answer>`)
)

// gsm8kStrictFormat: 0.5 for exactly "<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n".
func gsm8kStrictFormat(c Completion) (float64, error) {
	if strictFormat.MatchString(c.Text) {
		return 0.5, nil
	}
	return 0, nil
}

// gsm8kSoftFormat: 0.5 when the completion starts with a reasoning block
// followed by an answer block (re.match: anchored at the start only).
func gsm8kSoftFormat(c Completion) (float64, error) {
	if softFormat.MatchString(c.Text) {
		return 0.5, nil
	}
	return 0, nil
}

// gsm8kXMLCount: 0.125 for each of the four tags appearing once with its
// newlines, less 0.001 per character after the closing answer tag.
func gsm8kXMLCount(c Completion) (float64, error) {
	t := c.Text
	count := 0.0
	if strings.Count(t, "<reasoning>\n") == 1 {
		count += 0.125
	}
	if strings.Count(t, "\n</reasoning>\n") == 1 {
		count += 0.125
	}
	if strings.Count(t, "\n<answer>\n") == 1 {
		count += 0.125
		parts := strings.Split(t, "\n</answer>\n")
		count -= float64(len([]rune(parts[len(parts)-1]))) * 0.001
	}
	if strings.Count(t, "\n</answer>") == 1 {
		count += 0.125
		parts := strings.Split(t, "\n</answer>")
		count -= float64(len([]rune(parts[len(parts)-1]))-1) * 0.001
	}
	return count, nil
}
