package hftok

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// decoder is the library's decode_chain: tokens in, tokens out; Decode joins
// the last ones.
type decoder interface {
	decode(tokens []string) []string
}

func parseDecoder(raw json.RawMessage, where string) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Sequence":
		var j struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		var seq seqDec
		for i, sub := range j.Decoders {
			d, err := parseDecoder(sub, fmt.Sprintf("%s.decoders[%d]", where, i))
			if err != nil {
				return nil, err
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	case "Replace":
		m, content, err := parseReplace(raw, where)
		if err != nil {
			return nil, err
		}
		return replaceDec{m, content}, nil
	case "Strip":
		var j struct {
			Content *string `json:"content"`
			Start   int     `json:"start"`
			Stop    int     `json:"stop"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		if j.Content == nil || utf8.RuneCountInString(*j.Content) != 1 {
			return nil, fmt.Errorf("%s: content must be one character", where)
		}
		if j.Start < 0 || j.Stop < 0 {
			return nil, fmt.Errorf("%s: negative start or stop", where)
		}
		r, _ := utf8.DecodeRuneInString(*j.Content)
		return stripDec{r, j.Start, j.Stop}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "BPEDecoder":
		var j struct {
			Suffix *string `json:"suffix"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		suffix := "</w>"
		if j.Suffix != nil {
			suffix = *j.Suffix
		}
		return bpeDec{suffix}, nil
	}
	return nil, fmt.Errorf("%s: unsupported decoder type %q (supported: ByteLevel, Replace, Strip, Fuse, ByteFallback, BPEDecoder, Sequence)", where, typ)
}

type byteLevelDec struct{}

func (byteLevelDec) decode(tokens []string) []string { return byteLevelDecode(tokens) }

type seqDec []decoder

func (q seqDec) decode(tokens []string) []string {
	for _, d := range q {
		tokens = d.decode(tokens)
	}
	return tokens
}

type replaceDec struct {
	m       matcher
	content string
}

func (r replaceDec) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = replaceAll(t, r.m, r.content)
	}
	return out
}

// stripDec removes up to start copies of content from the start of each
// token and up to stop from its end.
type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		chars := []rune(t)
		lo := 0
		for k := 0; k < d.start && k < len(chars) && chars[k] == d.content; k++ {
			lo = k + 1
		}
		hi := len(chars)
		for k := 0; k < d.stop; k++ {
			idx := len(chars) - k - 1
			if idx < 0 || chars[idx] != d.content {
				break
			}
			hi = idx
		}
		if hi < lo {
			hi = lo
		}
		out[i] = string(chars[lo:hi])
	}
	return out
}

type fuseDec struct{}

func (fuseDec) decode(tokens []string) []string { return []string{strings.Join(tokens, "")} }

// byteFallbackDec turns runs of <0xXX> tokens into the text of their bytes,
// one U+FFFD per byte when they are not valid UTF-8.
type byteFallbackDec struct{}

func (byteFallbackDec) decode(tokens []string) []string {
	var out []string
	var bytes []byte
	flush := func() {
		if len(bytes) == 0 {
			return
		}
		if utf8.Valid(bytes) {
			out = append(out, string(bytes))
		} else {
			for range bytes {
				out = append(out, "\uFFFD")
			}
		}
		bytes = bytes[:0]
	}
	for _, t := range tokens {
		if len(t) == 6 && strings.HasPrefix(t, "<0x") && t[5] == '>' {
			if b, ok := hexByte(t[3], t[4]); ok {
				bytes = append(bytes, b)
				continue
			}
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

func hexByte(a, b byte) (byte, bool) {
	h, ok1 := hexDigit(a)
	l, ok2 := hexDigit(b)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// bpeDec replaces the end-of-word suffix by a space (nothing after the last
// token).
type bpeDec struct{ suffix string }

func (d bpeDec) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rep := " "
		if i == len(tokens)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}
