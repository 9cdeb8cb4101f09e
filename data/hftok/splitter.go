package hftok

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// span is a match [start, end) in bytes.
type span struct{ start, end int }

// matcher finds the matches of a pattern the way the library iterates over
// Oniguruma matches: leftmost first, not overlapping, an empty match right
// after the previous match skipped.
type matcher interface {
	find(s string, out []span) []span
}

// The pre-tokenizer patterns of the model families, matched by hand: they
// use look-ahead, which Go's regexp lacks, and a hand-written matcher is
// several times faster than a backtracking engine.
const (
	// Qwen2, Qwen2.5, Qwen3 (Dream, SDAR): one digit per match.
	patternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Llama 3 and the tokenizers derived from it: up to three digits.
	patternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// GPT-2, also what the ByteLevel pre-tokenizer splits with.
	patternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// forceGenericRegex makes newRegexMatcher use regexp2 for every pattern
// (tests compare the two).
var forceGenericRegex = false

func newRegexMatcher(pattern string) (matcher, error) {
	if !forceGenericRegex {
		switch pattern {
		case patternQwen2:
			return llamaMatcher{maxDigits: 1}, nil
		case patternLlama3:
			return llamaMatcher{maxDigits: 3}, nil
		case patternGPT2:
			return gpt2Matcher{}, nil
		}
	}
	// Oniguruma's default syntax (Ruby's) makes ^ and $ match at line
	// boundaries: .NET's Multiline.
	re, err := regexp2.Compile(pattern, regexp2.Multiline, regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, err
	}
	return regexMatcher{re}, nil
}

type regexMatcher struct{ re *regexp2.Regexp }

func (m regexMatcher) find(s string, out []span) []span {
	if s == "" {
		return out
	}
	idx, err := m.re.FindAllStringIndex(s, -1)
	if err != nil {
		// Only a timeout or a stack limit can fail, and neither is set.
		panic(fmt.Sprintf("hftok: regexp2 on %q: %v", m.re.String(), err))
	}
	for _, x := range idx {
		out = append(out, span{x[0], x[1]})
	}
	return out
}

// literalMatcher finds a plain string (a Split or Replace pattern given as
// {"String": ...}).
type literalMatcher struct{ lit string }

func (m literalMatcher) find(s string, out []span) []span {
	for i := 0; i <= len(s); {
		k := strings.Index(s[i:], m.lit)
		if k < 0 {
			break
		}
		out = append(out, span{i + k, i + k + len(m.lit)})
		i += k + len(m.lit)
	}
	return out
}

// Character classes of the hand-written matchers, from Unicode 16.0 as the
// library's Oniguruma has them (unicode16.go; Go's own tables are older).
const (
	clOther  = 0 // none of the below
	clLetter = 1 // \p{L}
	clNumber = 2 // \p{N}
	clSpace  = 3 // \s: Unicode White_Space
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			asciiClass[c] = clLetter
		case '0' <= c && c <= '9':
			asciiClass[c] = clNumber
		case c == ' ', '\t' <= c && c <= '\r':
			asciiClass[c] = clSpace
		}
	}
}

// isWhiteSpace is the White_Space property: Oniguruma's and Rust's \s and
// Rust's char::is_whitespace.
func isWhiteSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return 0x2000 <= r && r <= 0x200A
}

// bmpClass caches classOf for the Basic Multilingual Plane, built on first
// use (64 KiB).
var (
	bmpClass     *[0x10000]uint8
	bmpClassOnce sync.Once
)

func classOf(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	if r < 0x10000 {
		bmpClassOnce.Do(func() {
			t := new([0x10000]uint8)
			for c := rune(0); c < 0x10000; c++ {
				t[c] = classOfSlow(c)
			}
			bmpClass = t
		})
		return bmpClass[r]
	}
	return classOfSlow(r)
}

func classOfSlow(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	switch {
	case unicode.Is(letter16, r):
		return clLetter
	case unicode.Is(number16, r):
		return clNumber
	case isWhiteSpace(r):
		return clSpace
	}
	return clOther
}

// next decodes the rune at i (s is valid UTF-8) and its class.
func next(s string, i int) (rune, int, uint8) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1, asciiClass[c]
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, n, classOf(r)
}

// classAt is the class of the rune at i, or -1 at the end of s.
func classAt(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	_, _, c := next(s, i)
	return int(c)
}

// scanClass returns the end of the run of class cl starting at i.
func scanClass(s string, i int, cl uint8) int {
	for i < len(s) {
		_, n, c := next(s, i)
		if c != cl {
			break
		}
		i += n
	}
	return i
}

// contraction matches 's 't 're 've 'm 'll 'd after the apostrophe at i-1
// and returns the length matched (0: none). With fold, letters match in any
// case, as Oniguruma's (?i) does (ſ, U+017F, folds to s).
func contraction(s string, i int, fold bool) int {
	if i >= len(s) {
		return 0
	}
	lower := func(c byte) byte {
		if fold && 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	c := lower(s[i])
	switch c {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if i+1 < len(s) && lower(s[i+1]) == 'e' {
			return 2
		}
	case 'l':
		if i+1 < len(s) && lower(s[i+1]) == 'l' {
			return 2
		}
	}
	if fold && strings.HasPrefix(s[i:], "ſ") {
		return len("ſ")
	}
	return 0
}

// llamaMatcher matches patternQwen2 (maxDigits 1) and patternLlama3
// (maxDigits 3). Every character starts a match, so matches are contiguous.
type llamaMatcher struct{ maxDigits int }

func (m llamaMatcher) find(s string, out []span) []span {
	for i := 0; i < len(s); {
		e := m.matchAt(s, i)
		out = append(out, span{i, e})
		i = e
	}
	return out
}

func (m llamaMatcher) matchAt(s string, i int) int {
	r0, n0, c0 := next(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r0 == '\'' {
		if k := contraction(s, i+1, true); k > 0 {
			return i + 1 + k
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c0 == clLetter {
		return scanClass(s, i+n0, clLetter)
	}
	if c0 != clNumber && r0 != '\r' && r0 != '\n' && classAt(s, i+n0) == clLetter {
		return scanClass(s, i+n0, clLetter)
	}
	// \p{N} or \p{N}{1,3}
	if c0 == clNumber {
		j := i + n0
		for k := 1; k < m.maxDigits && j < len(s); k++ {
			_, n, c := next(s, j)
			if c != clNumber {
				break
			}
			j += n
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := i
	if r0 == ' ' {
		j = i + 1
	}
	if classAt(s, j) == clOther {
		j = scanClass(s, j, clOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// Now c0 is clSpace. \s*[\r\n]+: up to the last \r or \n of the run.
	end := scanClass(s, i, clSpace)
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	return spaceRun(s, i, end)
}

// spaceRun is `\s+(?!\S)|\s+` for the whitespace run [i, end): all of it at
// the end of the text, all but its last character before anything else,
// or its single character.
func spaceRun(s string, i, end int) int {
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last
	}
	return end
}

// gpt2Matcher matches patternGPT2.
type gpt2Matcher struct{}

func (gpt2Matcher) find(s string, out []span) []span {
	for i := 0; i < len(s); {
		e := gpt2MatchAt(s, i)
		out = append(out, span{i, e})
		i = e
	}
	return out
}

func gpt2MatchAt(s string, i int) int {
	r0, n0, c0 := next(s, i)
	if r0 == '\'' {
		if k := contraction(s, i+1, false); k > 0 {
			return i + 1 + k
		}
	}
	j := i
	if r0 == ' ' && i+1 < len(s) {
		// ` ?X+`: with the space when X follows it.
		if c := classAt(s, i+1); c != clSpace {
			return scanClass(s, i+1, uint8(c))
		}
	}
	if c0 != clSpace {
		return scanClass(s, j+n0, c0)
	}
	end := scanClass(s, i, clSpace)
	return spaceRun(s, i, end)
}
