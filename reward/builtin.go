package reward

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

func init() {
	// d1's recipes read the answer from the last <answer>...</answer>; no tag
	// scores 0. The untagged twins score remask's task format, where the
	// answer is the whole completion.
	Register("d1_sudoku", func() Reward { return Func(func(c Completion) (float64, error) { return sudokuCells(c, true) }) })
	Register("d1_countdown", func() Reward { return Func(func(c Completion) (float64, error) { return countdown(c, true) }) })
	Register("sudoku_cells", func() Reward { return Func(func(c Completion) (float64, error) { return sudokuCells(c, false) }) })
	Register("countdown", func() Reward { return Func(func(c Completion) (float64, error) { return countdown(c, false) }) })
	Register("sudoku_solved", func() Reward { return Func(sudokuSolved) })
	Register("d1_gsm8k_correct", func() Reward { return Func(gsm8kCorrect) })
	Register("d1_gsm8k_int", func() Reward { return Func(gsm8kInt) })
	Register("d1_gsm8k_strict_format", func() Reward { return Func(gsm8kStrictFormat) })
	Register("d1_gsm8k_soft_format", func() Reward { return Func(gsm8kSoftFormat) })
	Register("d1_gsm8k_xmlcount", func() Reward { return Func(gsm8kXMLCount) })
}

// answerTag is d1's re.findall(r"<answer>(.*?)</answer>", s, re.DOTALL).
var answerTag = regexp.MustCompile(`(?s)<answer>(.*?)</answer>`)

// answerText is the stripped content of the last <answer>...</answer>;
// without tags it is the whole completion when untagged answers are allowed,
// else ok is false.
func answerText(s string, tagged bool) (string, bool) {
	if m := answerTag.FindAllStringSubmatch(s, -1); len(m) > 0 {
		return pyStrip(m[len(m)-1][1]), true
	}
	if tagged {
		return "", false
	}
	return pyStrip(s), true
}

// sudokuCells is d1's sudoku reward: the fraction of the puzzle's empty cells
// (0 in the puzzle) that the answer fills correctly, the answer's digits
// padded with 0 or cut to 16; no answer (or not one digit in it) scores 0.
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
	// Python compares characters, so a non-ASCII digit takes a cell (and
	// never matches the solution's ASCII digit).
	digits := make([]rune, 0, 16)
	for _, r := range ans {
		if pyIsDigit(r) {
			digits = append(digits, r)
		}
	}
	if len(digits) == 0 {
		return 0, nil
	}
	for len(digits) < 16 {
		digits = append(digits, '0')
	}
	empty, right := 0, 0
	for i := 0; i < 16; i++ {
		if puzzle[i] == '0' {
			empty++
			if digits[i] == rune(solution[i]) {
				right++
			}
		}
	}
	if empty == 0 {
		return 0, nil
	}
	return float64(right) / float64(empty), nil
}

// sudokuSolved is 1 when the first 16 characters of the stripped completion
// are a valid 4x4 grid (every row, column and 2x2 box holds 1-4) that keeps
// the puzzle's givens, else 0: remask eval's rule, so any valid solution
// counts, not only the reference one. A binary reward gives GRPO groups a
// cleaner signal than the cell fraction, whose partial credit rewards grids
// that break the rules.
func sudokuSolved(c Completion) (float64, error) {
	puzzle, _ := c.Ref["puzzle"].(string)
	if len(puzzle) != 16 {
		return 0, errMissingRef("puzzle (16 digits)")
	}
	ans := pyStrip(c.Text)
	if len(ans) < 16 {
		return 0, nil
	}
	var grid [16]byte
	for i := 0; i < 16; i++ {
		g := ans[i]
		if g < '1' || g > '4' || (puzzle[i] != '0' && puzzle[i] != g) {
			return 0, nil
		}
		grid[i] = g - '0'
	}
	for u := 0; u < 4; u++ {
		var row, col, box [5]bool
		bi, bj := 2*(u/2), 2*(u%2) // box u's top-left cell
		for k := 0; k < 4; k++ {
			row[grid[4*u+k]] = true
			col[grid[4*k+u]] = true
			box[grid[4*(bi+k/2)+bj+k%2]] = true
		}
		for d := 1; d <= 4; d++ {
			if !row[d] || !col[d] || !box[d] {
				return 0, nil
			}
		}
	}
	return 1, nil
}

// d1's GSM8K rewards (Will Brown's GRPO demo as d1 uses it). The answer is
// the text between the last "<answer>" and the next "</answer>", stripped;
// without tags that is the whole completion, as in the published code.
func gsm8kAnswer(s string) string {
	if i := strings.LastIndex(s, "<answer>"); i >= 0 {
		s = s[i+len("<answer>"):]
	}
	if i := strings.Index(s, "</answer>"); i >= 0 {
		s = s[:i]
	}
	return pyStrip(s)
}

// refAnswer is the reference answer; a raw GSM8K answer ("...#### 72") is
// cut the way d1 prepares its data (the text after "####", stripped).
func refAnswer(c Completion) (string, error) {
	var a string
	switch v := c.Ref["answer"].(type) {
	case string:
		a = v
	case int:
		a = strconv.Itoa(v)
	default:
		return "", errMissingRef("answer (a string)")
	}
	if parts := strings.Split(a, "####"); len(parts) > 1 {
		a = pyStrip(parts[1])
	}
	return a, nil
}

// gsm8kCorrect: 2.0 when the extracted answer equals the reference exactly
// (as strings: "72.0" is not "72").
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

// gsm8kInt: 0.5 when the extracted answer is all digits (Python's
// str.isdigit: no sign, no point, not empty).
func gsm8kInt(c Completion) (float64, error) {
	a := gsm8kAnswer(c.Text)
	if a == "" {
		return 0, nil
	}
	for _, r := range a {
		if !pyIsDigit(r) {
			return 0, nil
		}
	}
	return 0.5, nil
}

var (
	// Python's re.match(..., re.DOTALL) with a final "$", which also matches
	// before one trailing newline: hence "\n?" before Go's end of text.
	strictFormat = regexp.MustCompile(`(?s)^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n\n?$`)
	// re.match anchors at the start only; Python's \s is Unicode whitespace.
	softFormat = regexp.MustCompile(`(?s)^<reasoning>.*?</reasoning>` + pySpaceClass + `*<answer>.*?</answer>`)
)

// gsm8kStrictFormat: 0.5 for exactly "<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n".
func gsm8kStrictFormat(c Completion) (float64, error) {
	if strictFormat.MatchString(c.Text) {
		return 0.5, nil
	}
	return 0, nil
}

// gsm8kSoftFormat: 0.5 when the completion starts with a reasoning block
// followed, after any whitespace, by an answer block.
func gsm8kSoftFormat(c Completion) (float64, error) {
	if softFormat.MatchString(c.Text) {
		return 0.5, nil
	}
	return 0, nil
}

// gsm8kXMLCount: 0.125 for each of the four tags appearing once with its
// newlines, less 0.001 per character after the closing answer tag (counted
// twice, as the published code does). The additions run in Python's order,
// so the float result is bit-identical.
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
		count -= float64(utf8.RuneCountInString(parts[len(parts)-1])) * 0.001
	}
	if strings.Count(t, "\n</answer>") == 1 {
		count += 0.125
		parts := strings.Split(t, "\n</answer>")
		count -= float64(utf8.RuneCountInString(parts[len(parts)-1])-1) * 0.001
	}
	return count, nil
}
