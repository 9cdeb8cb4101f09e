package hftok

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

type addedTokenJSON struct {
	ID         *int    `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	LStrip     bool    `json:"lstrip"`
	RStrip     bool    `json:"rstrip"`
	Normalized *bool   `json:"normalized"`
	Special    bool    `json:"special"`
}

type addedToken struct {
	content    string
	special    bool
	singleWord bool
	lstrip     bool
	rstrip     bool
	normalized bool
}

// addedVocab is the library's AddedVocabulary: tokens found in the text
// before the model sees it, in two passes: those with normalized=false on
// the raw text, then the others on the normalized text.
type addedVocab struct {
	byID      map[int]*addedToken
	byContent map[string]int
	special   map[string]bool // contents of special tokens
	normForm  map[int]string  // normalized content, where it differs
	raw, norm trie            // matchers of the two passes
}

// newAddedVocab adds the tokens as the library's add_tokens does when it
// reads a file: an id already in the vocabulary (or taken by an earlier
// added token of the same content) is kept, a new token gets the next free
// id, and the file's "id" field is not used.
func newAddedVocab(list []addedTokenJSON, m *bpeModel, norm normalizer) (*addedVocab, error) {
	v := &addedVocab{byID: map[int]*addedToken{}, byContent: map[string]int{},
		special: map[string]bool{}, normForm: map[int]string{}}
	next := len(m.vocab)
	for i, j := range list {
		if j.Content == nil {
			return nil, fmt.Errorf("added_tokens[%d]: missing content", i)
		}
		tok := &addedToken{content: *j.Content, special: j.Special, singleWord: j.SingleWord,
			lstrip: j.LStrip, rstrip: j.RStrip, normalized: true}
		if j.Normalized != nil {
			tok.normalized = *j.Normalized
		}
		if tok.content == "" {
			continue
		}
		if id, ok := v.byContent[tok.content]; ok && *v.byID[id] == *tok {
			continue
		}
		id, ok := v.byContent[tok.content]
		if !ok {
			if mid, inModel := m.vocab[tok.content]; inModel {
				id, ok = int(mid), true
			}
		}
		if !ok {
			id = next
			next++
		}
		if tok.normalized && norm != nil {
			if n := norm.normalize(tok.content); n != tok.content {
				v.normForm[id] = n
			}
		}
		v.byContent[tok.content] = id
		if tok.special {
			v.special[tok.content] = true
		}
		v.byID[id] = tok
	}
	for id, tok := range v.byID {
		if tok.normalized {
			pat := tok.content
			if n, ok := v.normForm[id]; ok {
				pat = n
			}
			v.norm.add(pat, id)
		} else {
			v.raw.add(tok.content, id)
		}
	}
	return v, nil
}

// tokenString is the library's simple_id_to_token: the normalized form of a
// normalized added token.
func (v *addedVocab) tokenString(id int) (string, bool) {
	tok, ok := v.byID[id]
	if !ok {
		return "", false
	}
	if n, ok := v.normForm[id]; ok {
		return n, true
	}
	return tok.content, true
}

// split appends to out the pieces of s: added tokens found in it (with their
// ids) and the text between them. Empty pieces are left out.
func (v *addedVocab) split(s string, normalized bool, out []piece) []piece {
	tr := &v.raw
	if normalized {
		tr = &v.norm
	}
	if tr.empty() || s == "" {
		if s != "" {
			out = append(out, piece{s: s, id: -1})
		}
		return out
	}
	start := 0 // start of the text not yet emitted
	pos := 0   // where the search for the next match starts
	for pos < len(s) {
		ms, me, id, ok := tr.leftmostLongest(s, pos)
		if !ok {
			break
		}
		pos = me
		tok := v.byID[id]
		if tok.singleWord {
			startSpace := ms == 0 || !endsWithWord(s[:ms])
			stopSpace := me == len(s) || !startsWithWord(s[me:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if tok.lstrip {
			ms = max(spaceLeftmostAtEnd(s[:ms]), start)
		}
		if tok.rstrip {
			me += spaceRightmostAtStart(s[me:])
		}
		if start < ms {
			out = append(out, piece{s: s[start:ms], id: -1})
		}
		if ms < me {
			out = append(out, piece{s: s[ms:me], id: int32(id)})
		}
		start = me
	}
	if start < len(s) {
		out = append(out, piece{s: s[start:], id: -1})
	}
	return out
}

// isWordChar is Rust regex's \w: Alphabetic, marks, decimal numbers,
// connector punctuation and Join_Control (Unicode 16.0).
func isWordChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.Is(word16, r)
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}

// spaceLeftmostAtEnd is where the whitespace at the end of s begins.
func spaceLeftmostAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !isWhiteSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// spaceRightmostAtStart is the length of the whitespace at the start of s.
func spaceRightmostAtStart(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWhiteSpace(r) {
			break
		}
		i += n
	}
	return i
}

// trie finds added tokens in text, leftmost first and longest among those
// that start at the same place, like the Aho-Corasick automaton
// (MatchKind::LeftmostLongest) the library builds.
type trie struct {
	nodes []trieNode
	first [256]bool // bytes a token can start with
}

type trieNode struct {
	next map[byte]int32
	id   int32 // -1: no token ends here
}

func (t *trie) empty() bool { return len(t.nodes) == 0 }

func (t *trie) add(s string, id int) {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, trieNode{id: -1})
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		nx, ok := t.nodes[n].next[c]
		if !ok {
			if t.nodes[n].next == nil {
				t.nodes[n].next = map[byte]int32{}
			}
			t.nodes = append(t.nodes, trieNode{id: -1})
			nx = int32(len(t.nodes) - 1)
			t.nodes[n].next[c] = nx
		}
		n = int(nx)
	}
	t.nodes[n].id = int32(id)
	t.first[s[0]] = true
}

// leftmostLongest finds the first match at or after pos.
func (t *trie) leftmostLongest(s string, pos int) (start, end, id int, ok bool) {
	for i := pos; i < len(s); i++ {
		if !t.first[s[i]] {
			continue
		}
		n, best := 0, -1
		for j := i; j < len(s); j++ {
			nx, found := t.nodes[n].next[s[j]]
			if !found {
				break
			}
			n = int(nx)
			if t.nodes[n].id >= 0 {
				best, id = j+1, int(t.nodes[n].id)
			}
		}
		if best >= 0 {
			return i, best, id, true
		}
	}
	return 0, 0, 0, false
}
