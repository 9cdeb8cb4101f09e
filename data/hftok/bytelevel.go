package hftok

import (
	"strings"
	"unicode/utf8"
)

// byteChar is GPT-2's map from bytes to printable characters: printable
// Latin-1 bytes map to themselves, the others to U+0100 onwards.
var byteChar [256]rune

// charByte is its inverse, for decoding; 0 entries beyond 0x143 are unused.
var charByte = map[rune]byte{}

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if '!' <= b && b <= '~' || 0xA1 <= b && b <= 0xAC || 0xAE <= b && b <= 0xFF {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
		charByte[byteChar[b]] = byte(b)
	}
}

// byteLevelString maps every byte of s to its byte-level character.
func byteLevelString(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteChar[s[i]])
	}
	return b.String()
}

// byteLevelDecode is the ByteLevel decoder: each token's characters back to
// bytes (a token with a character outside the alphabet is taken as it is),
// then the bytes as UTF-8, invalid sequences replaced.
func byteLevelDecode(tokens []string) []string {
	var buf []byte
	for _, t := range tokens {
		start := len(buf)
		ok := true
		for _, r := range t {
			b, in := charByte[r]
			if !in {
				ok = false
				break
			}
			buf = append(buf, b)
		}
		if !ok {
			buf = append(buf[:start], t...)
		}
	}
	return []string{lossyString(buf)}
}

// lossyString is Rust's String::from_utf8_lossy: each maximal invalid
// subsequence (as the Unicode standard defines it) becomes one U+FFFD.
func lossyString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			out.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			out.Write(b[i : i+n])
			i += n
			continue
		}
		out.WriteRune(utf8.RuneError)
		i += invalidLen(b[i:])
	}
	return out.String()
}

// invalidLen is the length of the maximal subpart of an ill-formed UTF-8
// sequence at the start of b (at least 1): the longest prefix that could
// begin a well-formed sequence.
func invalidLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case 0xE1 <= c && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for k := 0; k < need && i < len(b); k++ {
		x := b[i]
		if k == 0 {
			if x < lo || x > hi {
				return i
			}
		} else if x < 0x80 || x > 0xBF {
			return i
		}
		i++
	}
	return i
}
