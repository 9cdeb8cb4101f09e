package hftok

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits one piece of text, appending the parts to out;
// empty parts are left out, as the library drops them.
type preTokenizer interface {
	split(p piece, out []piece, st *encodeState) []piece
}

type typed struct {
	Type *string `json:"type"`
}

// componentType reads the "type" of a component.
func componentType(raw json.RawMessage, where string) (string, error) {
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", jsonError(raw, where, err)
	}
	if t.Type == nil {
		return "", fmt.Errorf("%s: missing \"type\"", where)
	}
	return *t.Type, nil
}

func parsePreTokenizer(raw json.RawMessage, where string) ([]preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var j struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		var out []preTokenizer
		for i, sub := range j.PreTokenizers {
			p, err := parsePreTokenizer(sub, fmt.Sprintf("%s.pretokenizers[%d]", where, i))
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	case "ByteLevel":
		var j struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		b := &byteLevelPre{addPrefixSpace: true}
		if j.AddPrefixSpace != nil {
			b.addPrefixSpace = *j.AddPrefixSpace
		}
		if j.UseRegex == nil || *j.UseRegex {
			if b.re, err = newRegexMatcher(patternGPT2); err != nil {
				return nil, err
			}
		}
		return []preTokenizer{b}, nil
	case "Split":
		var j struct {
			Pattern  json.RawMessage `json:"pattern"`
			Behavior string          `json:"behavior"`
			Invert   bool            `json:"invert"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		m, err := parsePattern(j.Pattern, where+".pattern")
		if err != nil {
			return nil, err
		}
		b, err := parseBehavior(j.Behavior, where+".behavior")
		if err != nil {
			return nil, err
		}
		return []preTokenizer{&splitPre{m: m, behavior: b, invert: j.Invert}}, nil
	case "Digits":
		var j struct {
			IndividualDigits bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		return []preTokenizer{&digitsPre{individual: j.IndividualDigits}}, nil
	}
	return nil, fmt.Errorf("%s: unsupported pre-tokenizer type %q (supported: ByteLevel, Split, Digits, Sequence)", where, typ)
}

// parsePattern reads {"String": s} or {"Regex": r}.
func parsePattern(raw json.RawMessage, where string) (matcher, error) {
	var j struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, jsonError(raw, where, err)
	}
	switch {
	case j.String != nil && j.Regex == nil:
		if *j.String == "" {
			// The library compiles it as an (empty) regex.
			return newRegexMatcher("")
		}
		return literalMatcher{*j.String}, nil
	case j.Regex != nil && j.String == nil:
		m, err := newRegexMatcher(*j.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s: regex %q: %v", where, *j.Regex, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s: expected {\"String\": ...} or {\"Regex\": ...}, found %s", where, abbreviate(string(raw)))
}

// Split behaviors (the library's SplitDelimiterBehavior).
const (
	bRemoved = iota
	bIsolated
	bMergedWithPrevious
	bMergedWithNext
	bContiguous
)

func parseBehavior(s, where string) (int, error) {
	switch s {
	case "Removed":
		return bRemoved, nil
	case "Isolated":
		return bIsolated, nil
	case "MergedWithPrevious":
		return bMergedWithPrevious, nil
	case "MergedWithNext":
		return bMergedWithNext, nil
	case "Contiguous":
		return bContiguous, nil
	}
	return 0, fmt.Errorf("%s: unknown split behavior %q", where, s)
}

// plain returns the text of p as the following steps see it.
func plain(p piece) string {
	if p.bl {
		return byteLevelString(p.s)
	}
	return p.s
}

type byteLevelPre struct {
	addPrefixSpace bool
	re             matcher // the GPT-2 pattern; nil without use_regex
}

func (b *byteLevelPre) split(p piece, out []piece, st *encodeState) []piece {
	s := plain(p)
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if b.re == nil {
		return append(out, piece{s: s, id: -1, bl: true})
	}
	st.spans = b.re.find(s, st.spans[:0])
	for _, m := range st.spans {
		out = append(out, piece{s: s[m.start:m.end], id: -1, bl: true})
	}
	return out
}

type splitPre struct {
	m        matcher
	behavior int
	invert   bool
}

type segment struct {
	start, end int
	match      bool
}

func (sp *splitPre) split(p piece, out []piece, st *encodeState) []piece {
	s := plain(p)
	st.spans = sp.m.find(s, st.spans[:0])
	if sp.behavior == bIsolated {
		// Fast path: matches and the text between them, in order.
		prev := 0
		for _, m := range st.spans {
			if prev < m.start {
				out = append(out, piece{s: s[prev:m.start], id: -1})
			}
			if m.start < m.end {
				out = append(out, piece{s: s[m.start:m.end], id: -1})
			}
			prev = m.end
		}
		if prev < len(s) {
			out = append(out, piece{s: s[prev:], id: -1})
		}
		return out
	}
	return applyBehavior(s, segments(s, st.spans, sp.invert), sp.behavior, out)
}

// segments covers s with the matches and the text between them.
func segments(s string, spans []span, invert bool) []segment {
	segs := make([]segment, 0, 2*len(spans)+1)
	prev := 0
	for _, m := range spans {
		if prev != m.start {
			segs = append(segs, segment{prev, m.start, invert})
		}
		segs = append(segs, segment{m.start, m.end, !invert})
		prev = m.end
	}
	if prev != len(s) {
		segs = append(segs, segment{prev, len(s), invert})
	}
	return segs
}

// applyBehavior is NormalizedString::split after find_matches.
func applyBehavior(s string, segs []segment, behavior int, out []piece) []piece {
	var keep []segment
	switch behavior {
	case bIsolated:
		keep = segs
	case bRemoved:
		for _, g := range segs {
			if !g.match {
				keep = append(keep, g)
			}
		}
	case bContiguous:
		prevMatch := false
		for _, g := range segs {
			if g.match == prevMatch && len(keep) > 0 {
				keep[len(keep)-1].end = g.end
			} else {
				keep = append(keep, g)
			}
			prevMatch = g.match
		}
	case bMergedWithPrevious:
		prevMatch := false
		for _, g := range segs {
			if g.match && !prevMatch && len(keep) > 0 {
				keep[len(keep)-1].end = g.end
			} else {
				keep = append(keep, g)
			}
			prevMatch = g.match
		}
	case bMergedWithNext:
		prevMatch := false
		for i := len(segs) - 1; i >= 0; i-- {
			g := segs[i]
			if g.match && !prevMatch && len(keep) > 0 {
				keep[len(keep)-1].start = g.start
			} else {
				keep = append(keep, g)
			}
			prevMatch = g.match
		}
		for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
			keep[i], keep[j] = keep[j], keep[i]
		}
	}
	for _, g := range keep {
		if g.start < g.end {
			out = append(out, piece{s: s[g.start:g.end], id: -1})
		}
	}
	return out
}

// digitsPre splits off numbers (Rust's char::is_numeric: category N),
// each digit alone with individual_digits.
type digitsPre struct{ individual bool }

func (d *digitsPre) split(p piece, out []piece, _ *encodeState) []piece {
	s := plain(p)
	start := 0
	prevNum := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		num := r < utf8.RuneSelf && '0' <= r && r <= '9' || r >= utf8.RuneSelf && unicode.Is(number16, r)
		if i > start && (num != prevNum || num && d.individual) {
			out = append(out, piece{s: s[start:i], id: -1})
			start = i
		}
		prevNum = num
		i += n
	}
	if start < len(s) {
		out = append(out, piece{s: s[start:], id: -1})
	}
	return out
}
