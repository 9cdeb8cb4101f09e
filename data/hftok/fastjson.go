package hftok

import (
	"encoding/json"
	"errors"
)

// A small reader for the two big parts of a tokenizer.json, the vocab and
// the merges, several times faster than encoding/json's reflection. It only
// sees JSON that encoding/json has already validated (the whole file is
// decoded first); anything it does not expect makes it give up, and the
// caller then decodes with encoding/json, which says what is wrong.

var errFast = errors.New("unexpected JSON")

type jsonReader struct {
	b []byte
	i int
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		return errFast
	}
	r.i++
	return nil
}

// str reads a string.
func (r *jsonReader) str() (string, error) {
	if r.peek() != '"' {
		return "", errFast
	}
	start := r.i
	r.i++
	escaped := false
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '\\' {
			escaped = true
			r.i += 2
			continue
		}
		r.i++
		if c == '"' {
			if !escaped {
				return string(r.b[start+1 : r.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
				return "", errFast
			}
			return s, nil
		}
	}
	return "", errFast
}

// uint reads a non-negative integer.
func (r *jsonReader) uint() (int64, error) {
	r.ws()
	start := r.i
	var n int64
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		n = n*10 + int64(r.b[r.i]-'0')
		if n > 1<<40 {
			return 0, errFast
		}
		r.i++
	}
	if r.i == start || r.i < len(r.b) && (r.b[r.i] == '.' || r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		return 0, errFast
	}
	return n, nil
}

// fastVocab reads {"token": id, ...}.
func fastVocab(b []byte) (map[string]int64, error) {
	r := &jsonReader{b: b}
	if err := r.expect('{'); err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(b)/12)
	if r.peek() == '}' {
		return m, nil
	}
	for {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if err := r.expect(':'); err != nil {
			return nil, err
		}
		v, err := r.uint()
		if err != nil {
			return nil, err
		}
		m[k] = v
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			return m, nil
		default:
			return nil, errFast
		}
	}
}

// fastMerges reads ["a b", ...] (legacy) or [["a", "b"], ...]. Legacy
// lines come back whole in the first element of each pair.
func fastMerges(b []byte) (pairs [][2]string, legacy bool, err error) {
	r := &jsonReader{b: b}
	if err := r.expect('['); err != nil {
		return nil, false, err
	}
	if r.peek() == ']' {
		return nil, false, nil
	}
	legacy = r.peek() == '"'
	pairs = make([][2]string, 0, len(b)/16)
	for {
		var p [2]string
		if legacy {
			if p[0], err = r.str(); err != nil {
				return nil, false, err
			}
		} else {
			if err := r.expect('['); err != nil {
				return nil, false, err
			}
			if p[0], err = r.str(); err != nil {
				return nil, false, err
			}
			if err := r.expect(','); err != nil {
				return nil, false, err
			}
			if p[1], err = r.str(); err != nil {
				return nil, false, err
			}
			if err := r.expect(']'); err != nil {
				return nil, false, err
			}
		}
		pairs = append(pairs, p)
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			return pairs, legacy, nil
		default:
			return nil, false, errFast
		}
	}
}
