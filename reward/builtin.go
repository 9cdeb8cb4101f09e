package reward

import (
	"math"
	"regexp"
	"strings"

	"github.com/remask/remask/data"
)

func init() {
	Register("d1_sudoku", func() Reward { return Func(sudokuCells) })
	Register("d1_countdown", func() Reward { return Func(countdown) })
}

var answerTag = regexp.MustCompile(`(?s)<answer>(.*?)</answer>`)

// answerText is the content of the last <answer>...</answer> when the
// completion has one, else the whole completion (remask's task formats put
// the answer right after the prompt, without tags).
func answerText(s string) string {
	if m := answerTag.FindAllStringSubmatch(s, -1); len(m) > 0 {
		return strings.TrimSpace(m[len(m)-1][1])
	}
	return strings.TrimSpace(s)
}

// sudokuCells is d1's sudoku reward: the fraction of the puzzle's empty cells
// that the answer fills correctly, the answer's digits padded with 0 or cut
// to 16.
func sudokuCells(c Completion) (float64, error) {
	puzzle, _ := c.Ref["puzzle"].(string)
	solution, _ := c.Ref["solution"].(string)
	if len(puzzle) != 16 || len(solution) != 16 {
		return 0, errMissingRef("puzzle and solution (16 digits each)")
	}
	var digits []byte
	for _, ch := range []byte(answerText(c.Text)) {
		if ch >= '0' && ch <= '9' {
			digits = append(digits, ch)
		}
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
func countdown(c Completion) (float64, error) {
	nums, ok1 := c.Ref["numbers"].([]int)
	target, ok2 := c.Ref["target"].(int)
	if !ok1 || !ok2 {
		return 0, errMissingRef("numbers and target")
	}
	eq := answerText(c.Text)
	if eq == "" {
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
