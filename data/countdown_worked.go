package data

import (
	"strconv"
	"strings"
)

// Worked prints the expression as its steps, innermost first: each step is
// one operation on two numbers, and every step but the last ends with its
// result ("=94"); the last step's result is the target, given in the prompt.
// Numbers are right-aligned to CountdownWidth as in the prompt: 24+70-53 is
// " 24+ 70= 94, 94- 53" and 12/(5-3) is "  5-  3=  2, 12/  2". A small model
// writes the intermediate result down instead of holding it, so the last
// step is a check of two numbers against the target.
func (e *expr) Worked() string {
	var steps []string
	var walk func(n *expr) string // the operand that stands for n in its parent's step
	walk = func(n *expr) string {
		if n.op == 0 {
			return countdownNumber(n.val)
		}
		l, r := walk(n.left), walk(n.right)
		steps = append(steps, l+string(n.op)+r+"="+countdownNumber(n.val))
		return countdownNumber(n.val)
	}
	walk(e)
	if len(steps) > 0 {
		last := steps[len(steps)-1]
		steps[len(steps)-1] = last[:strings.LastIndexByte(last, '=')]
	}
	return strings.Join(steps, ",")
}

// ExpandCountdownWorked returns the equation a worked answer stands for:
// "24+70=94,94-53" is "(24+70)-53". Each step is two operands and one of
// + - * /, and every step but the first uses the previous step's result as
// one operand, which is replaced by that step's parenthesised equation; a
// written result must be the integer its step evaluates to (the last step
// may omit it). Anything else, a bare equation included, is returned as it
// is, so d1's check then judges it (and fails it when it has a stray "=").
func ExpandCountdownWorked(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	steps := strings.Split(s, ",")
	eq, prev := "", ""
	for i, step := range steps {
		body, result, hasResult := strings.Cut(step, "=")
		if !hasResult && i < len(steps)-1 {
			return s
		}
		body = strings.TrimSpace(body)
		if body == "" {
			return s
		}
		opAt := strings.IndexAny(body[1:], "+-*/") + 1 // from 1: an operator, not a sign
		if opAt <= 0 {
			return s
		}
		left, right := strings.TrimSpace(body[:opAt]), strings.TrimSpace(body[opAt+1:])
		if !isUint(left) || !isUint(right) {
			return s
		}
		if i > 0 {
			switch prev {
			case left:
				left = "(" + eq + ")"
			case right:
				right = "(" + eq + ")"
			default:
				return s
			}
		}
		eq = left + body[opAt:opAt+1] + right
		if hasResult {
			result = strings.TrimSpace(result)
			v, err := evalPython(eq)
			if !isUint(result) || err != nil {
				return s
			}
			want, _ := strconv.ParseFloat(result, 64)
			if ok, err := v.within(want, 1e-9); err != nil || !ok {
				return s
			}
			prev = result
		}
	}
	return eq
}

// isUint reports whether s is a run of 1 to 9 ASCII digits.
func isUint(s string) bool {
	return s != "" && len(s) <= 9 && strings.Trim(s, "0123456789") == ""
}
