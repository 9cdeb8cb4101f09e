package reward

import (
	"strings"
	"unicode"
)

// The published rewards are Python; these helpers give Go the same answers
// where Python's notion of whitespace and digits is wider than Go's ASCII
// defaults, so a score does not depend on which language computed it.

// pyIsSpace is Python's str.isspace for one character: Unicode whitespace
// plus the ASCII separators 0x1c-0x1f.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyStrip is Python's str.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// pySpaceClass is Python's regular-expression \s (for str patterns) as a Go
// character class.
const pySpaceClass = `[\t-\r\x1c- \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]`

// pyIsDecimal is Python's str.isdecimal for one character: the Unicode
// decimal digits (category Nd), what int() reads.
func pyIsDecimal(r rune) bool { return unicode.IsDigit(r) }

// pyIsDigit is Python's str.isdigit for one character: the decimal digits and
// the 128 characters of Unicode numeric type Digit (superscripts, circled
// digits and the like), listed by Python 3.11's unicodedata (Unicode 14).
func pyIsDigit(r rune) bool { return unicode.IsDigit(r) || unicode.Is(otherDigits, r) }

var otherDigits = &unicode.RangeTable{
	R16: []unicode.Range16{
		{0xB2, 0xB3, 1}, {0xB9, 0xB9, 1}, {0x1369, 0x1371, 1}, {0x19DA, 0x19DA, 1}, {0x2070, 0x2070, 1},
		{0x2074, 0x2079, 1}, {0x2080, 0x2089, 1}, {0x2460, 0x2468, 1}, {0x2474, 0x247C, 1}, {0x2488, 0x2490, 1},
		{0x24EA, 0x24EA, 1}, {0x24F5, 0x24FD, 1}, {0x24FF, 0x24FF, 1}, {0x2776, 0x277E, 1}, {0x2780, 0x2788, 1},
		{0x278A, 0x2792, 1},
	},
	R32: []unicode.Range32{
		{0x10A40, 0x10A43, 1}, {0x10E60, 0x10E68, 1}, {0x11052, 0x1105A, 1}, {0x1F100, 0x1F10A, 1},
	},
	LatinOffset: 2,
}
