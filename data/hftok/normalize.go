package hftok

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites one piece of text.
type normalizer interface {
	normalize(s string) string
}

func parseNormalizer(raw json.RawMessage, where string) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "NFC":
		return formNorm{norm.NFC}, nil
	case "NFD":
		return formNorm{norm.NFD}, nil
	case "NFKC":
		return formNorm{norm.NFKC}, nil
	case "NFKD":
		return formNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "Sequence":
		var j struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		var seq seqNorm
		for i, sub := range j.Normalizers {
			n, err := parseNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", where, i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "Replace":
		m, content, err := parseReplace(raw, where)
		if err != nil {
			return nil, err
		}
		return replaceNorm{m, content}, nil
	case "Prepend":
		var j struct {
			Prepend *string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		if j.Prepend == nil {
			return nil, fmt.Errorf("%s: missing prepend", where)
		}
		return prependNorm(*j.Prepend), nil
	case "Strip":
		var j struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		return stripNorm{j.Left, j.Right}, nil
	}
	return nil, fmt.Errorf("%s: unsupported normalizer type %q (supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend, Sequence)", where, typ)
}

type formNorm struct{ f norm.Form }

func (n formNorm) normalize(s string) string {
	// ASCII is unchanged by every form, and so is text below U+0300 (UTF-8
	// bytes below 0xCC) by NFC: none of it decomposes or combines.
	limit := byte(0x80)
	if n.f == norm.NFC {
		limit = 0xCC
	}
	i := 0
	for i < len(s) && s[i] < limit {
		i++
	}
	if i == len(s) {
		return s
	}
	return n.f.String(s)
}

type seqNorm []normalizer

func (q seqNorm) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

type replaceNorm struct {
	m       matcher
	content string
}

func (r replaceNorm) normalize(s string) string { return replaceAll(s, r.m, r.content) }

func replaceAll(s string, m matcher, content string) string {
	spans := m.find(s, nil)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, x := range spans {
		b.WriteString(s[prev:x.start])
		b.WriteString(content)
		prev = x.end
	}
	b.WriteString(s[prev:])
	return b.String()
}

type prependNorm string

func (p prependNorm) normalize(s string) string {
	if s == "" {
		return s
	}
	return string(p) + s
}

type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, isWhiteSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, isWhiteSpace)
	}
	return s
}

// lowercaseNorm is Rust's char::to_lowercase on each character: the simple
// mapping, except U+0130 which lowercases to two characters.
type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 0x130 {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// parseReplace reads a Replace component (normalizer or decoder alike): the
// pattern to find and the content to put in its place.
func parseReplace(raw json.RawMessage, where string) (matcher, string, error) {
	var j struct {
		Pattern json.RawMessage `json:"pattern"`
		Content *string         `json:"content"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, "", jsonError(raw, where, err)
	}
	if j.Content == nil {
		return nil, "", fmt.Errorf("%s: missing content", where)
	}
	m, err := parsePattern(j.Pattern, where+".pattern")
	if err != nil {
		return nil, "", err
	}
	return m, *j.Content, nil
}
