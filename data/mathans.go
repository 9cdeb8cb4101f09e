package data

import (
	"errors"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The Hendrycks MATH answer extraction and string normalisation that d1's
// MATH reward and eval use (last_boxed_only_string, remove_boxed, is_equiv,
// strip_string). It lives here so the math task's eval and the
// d1_math_correct reward share one copy. Python's exceptions are errors,
// handled where the published code handles them.

var (
	errPyNone  = errors.New("None") // a Python function returned None where a string was needed
	errPyRaise = errors.New("the published code raises here")
)

// MathFinalAnswer is remove_boxed(last_boxed_only_string(s)): the content of
// the last \boxed{...} (or \fbox, or "\boxed x"), the whole string when it
// has none, an error when its braces never close.
func MathFinalAnswer(s string) (string, error) { return removeBoxed(lastBoxedOnly(s)) }

// MathEquiv is is_equiv: the normalised strings are equal, or, when
// normalising either raises, the raw strings are.
func MathEquiv(a, b string) bool { return mathEquiv(a, b) }

// boxed is a Python str-or-None.
type boxed struct {
	s    string
	none bool
}

// lastBoxedOnly is last_boxed_only_string: the last \boxed{...} (braces
// matched) or \fbox{...}, the text after the last "\boxed " up to a "$", the
// whole string when there is neither, None when the braces never close.
func lastBoxedOnly(s string) boxed {
	idx := strings.LastIndex(s, `\boxed`)
	if strings.Contains(s, `\boxed `) {
		parts := strings.Split(s, `\boxed `)
		return boxed{s: `\boxed ` + strings.Split(parts[len(parts)-1], "$")[0]}
	}
	if idx < 0 {
		if idx = strings.LastIndex(s, `\fbox`); idx < 0 {
			return boxed{s: s}
		}
	}
	open := 0
	for i := idx; i < len(s); i++ {
		switch s[i] {
		case '{':
			open++
		case '}':
			open--
			if open == 0 {
				return boxed{s: s[idx : i+1]}
			}
		}
	}
	return boxed{none: true}
}

// removeBoxed is remove_boxed: "\boxed{x}" -> "x", "\boxed x" -> "x",
// anything else unchanged; None raises.
func removeBoxed(b boxed) (string, error) {
	if b.none {
		return "", errPyNone
	}
	s := b.s
	if strings.Contains(s, `\boxed `) {
		if !strings.HasPrefix(s, `\boxed `) {
			return "", errPyRaise
		}
		return s[len(`\boxed `):], nil
	}
	if strings.HasPrefix(s, `\boxed{`) && strings.HasSuffix(s, "}") {
		return s[len(`\boxed{`) : len(s)-1], nil
	}
	return s, nil
}

// mathEquiv is is_equiv: the normalised strings are equal, or, when
// normalising either raises, the raw strings are.
func mathEquiv(a, b string) bool {
	sa, errA := mathNormalize(a)
	sb, errB := mathNormalize(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return sa == sb
}

// mathNormalize is the MATH strip_string, step by step.
func mathNormalize(s string) (string, error) {
	s = strings.ReplaceAll(s, "\n", "")
	s = strings.ReplaceAll(s, `\!`, "")
	s = strings.ReplaceAll(s, `\\`, `\`)
	s = strings.ReplaceAll(s, "tfrac", "frac")
	s = strings.ReplaceAll(s, "dfrac", "frac")
	s = strings.ReplaceAll(s, `\left`, "")
	s = strings.ReplaceAll(s, `\right`, "")
	s = strings.ReplaceAll(s, `^{\circ}`, "")
	s = strings.ReplaceAll(s, `^\circ`, "")
	s = strings.ReplaceAll(s, `\$`, "")
	// units on the right: "\text{ " occurs once, else the published code raises
	if strings.Contains(s, `\text{ `) {
		parts := strings.Split(s, `\text{ `)
		if len(parts) != 2 {
			return "", errPyRaise
		}
		s = parts[0]
	}
	s = strings.ReplaceAll(s, `\%`, "")
	s = strings.ReplaceAll(s, " .", " 0.")
	s = strings.ReplaceAll(s, "{.", "{0.")
	if s == "" {
		return s, nil
	}
	if s[0] == '.' {
		s = "0" + s
	}
	// "k = 5" -> "5" when what precedes the only "=" is at most 2 characters
	if parts := strings.Split(s, "="); len(parts) == 2 && utf8.RuneCountInString(parts[0]) <= 2 {
		s = parts[1]
	}
	s, err := fixSqrt(s)
	if err != nil {
		return "", err
	}
	s = strings.ReplaceAll(s, " ", "")
	if s, err = fixFracs(s); err != nil {
		return "", err
	}
	if s == "0.5" {
		s = `\frac{1}{2}`
	}
	return fixSlash(s)
}

// fixSqrt: \sqrt3 -> \sqrt{3}.
func fixSqrt(s string) (string, error) {
	if !strings.Contains(s, `\sqrt`) {
		return s, nil
	}
	parts := strings.Split(s, `\sqrt`)
	out := parts[0]
	for _, p := range parts[1:] {
		first, size := utf8.DecodeRuneInString(p)
		if size == 0 {
			return "", errPyRaise // split[0] of an empty string: IndexError
		}
		if first != '{' {
			out += `\sqrt{` + p[:size] + "}" + p[size:]
		} else {
			out += `\sqrt` + p
		}
	}
	return out, nil
}

// fixFracs: \frac12 -> \frac{1}{2}, \frac1{72} -> \frac{1}{72}.
func fixFracs(s string) (string, error) {
	parts := strings.Split(s, `\frac`)
	out := parts[0]
	for _, p := range parts[1:] {
		out += `\frac`
		r := []rune(p)
		if len(r) == 0 {
			return "", errPyRaise // substr[0] of an empty string: IndexError
		}
		if r[0] == '{' {
			out += p
			continue
		}
		if len(r) < 2 {
			return s, nil
		}
		a, b := string(r[0]), string(r[1])
		if b != "{" {
			out += "{" + a + "}{" + b + "}" + string(r[2:])
		} else {
			out += "{" + a + "}" + b + string(r[2:])
		}
	}
	return out, nil
}

// fixSlash: "3/4" -> \frac{3}{4} for two plain integers; a side that Python's
// int() cannot read raises (and is_equiv then compares the raw strings).
func fixSlash(s string) (string, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 2 {
		return s, nil
	}
	a, okA := pyParseInt(parts[0])
	if !okA {
		return "", errPyRaise
	}
	b, okB := pyParseInt(parts[1])
	if !okB {
		return "", errPyRaise
	}
	if s != a.String()+"/"+b.String() {
		return s, nil
	}
	return `\frac{` + a.String() + "}{" + b.String() + "}", nil
}

// pyParseInt is Python's int(str): surrounding whitespace, a sign, decimal digits
// of any script with single underscores between them.
func pyParseInt(s string) (*big.Int, bool) {
	s = pyStrip(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var digits []byte
	prevDigit := false
	for _, r := range s {
		switch {
		case r == '_' && prevDigit:
			prevDigit = false
		case pyIsDecimal(r):
			digits = append(digits, byte('0'+digitValue(r)))
			prevDigit = true
		default:
			return nil, false
		}
	}
	if len(digits) == 0 || !prevDigit {
		return nil, false
	}
	v, _ := new(big.Int).SetString(string(digits), 10)
	if neg {
		v.Neg(v)
	}
	return v, true
}

// digitValue is the value of a Unicode decimal digit: Unicode assigns the
// decimal digits in runs of ten, 0 to 9, so it is the distance from the start
// of the run of digits r stands in, modulo 10.
func digitValue(r rune) int {
	start := r
	for pyIsDecimal(start - 1) {
		start--
	}
	return int(r-start) % 10
}

// pyStrip is Python's str.strip(): Unicode whitespace plus the ASCII
// separators 0x1c-0x1f (reward's helper of the same name; the MATH code here
// needs only these two).
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) })
}

// pyIsDecimal is Python's str.isdecimal for one character (category Nd).
func pyIsDecimal(r rune) bool { return unicode.IsDigit(r) }
