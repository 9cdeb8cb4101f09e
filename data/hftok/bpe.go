package hftok

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// piece is a part of the text on its way to the model: either an added
// token already (id >= 0) or text to tokenize. With bl set, s holds raw
// bytes that the ByteLevel pre-tokenizer has yet to map to its alphabet
// (done lazily: the model reads the bytes directly).
type piece struct {
	s  string
	id int32
	bl bool
}

// bpeModel is the library's BPE model.
type bpeModel struct {
	vocab     map[string]int32
	vocabR    []string // by id; "" and !hasID for holes
	hasID     []bool
	merges    map[uint64]uint64 // pair (a<<32|b) -> rank<<32 | new id
	unk       int32             // -1: none
	fuseUnk   bool
	byteFB    bool
	prefix    string // continuing_subword_prefix
	suffix    string // end_of_word_suffix
	ignoreMrg bool
	byteID    [256]int32   // id of the byte-level character of each byte, -1 if absent
	allBytes  bool         // all 256 byte-level characters are in the vocab
	byteFBID  [256]int32   // id of "<0xXX>", -1 if absent
	cache     [2]wordCache // words' ids: [0] for text, [1] for raw bytes of byte-level pieces
}

// The word cache, as the library's: words shorter than cacheMaxWord bytes,
// until cacheCapacity of them are stored.
const (
	cacheCapacity = 10000
	cacheMaxWord  = 256
)

type wordCache struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func (c *wordCache) get(s string) ([]int32, bool) {
	c.mu.RLock()
	v, ok := c.m[s]
	c.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(s string, ids []int32) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string][]int32)
	}
	if len(c.m) < cacheCapacity {
		c.m[strings.Clone(s)] = append([]int32(nil), ids...)
	}
	c.mu.Unlock()
}

type bpeJSON struct {
	Type                    *string          `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 *bool            `json:"fuse_unk"`
	ByteFallback            *bool            `json:"byte_fallback"`
	IgnoreMerges            *bool            `json:"ignore_merges"`
	Vocab                   *json.RawMessage `json:"vocab"`
	Merges                  *json.RawMessage `json:"merges"`
}

func parseModel(raw json.RawMessage) (*bpeModel, error) {
	var j bpeJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, jsonError(raw, "model", err)
	}
	typ := "BPE"
	if j.Type != nil {
		typ = *j.Type
	} else if j.Merges == nil {
		// The library tells models apart by their fields when "type" is
		// missing; only a BPE has merges.
		return nil, fmt.Errorf("model: no \"type\" and no merges: only a BPE model is supported")
	}
	if typ != "BPE" {
		return nil, fmt.Errorf("model: unsupported model type %q (only BPE is supported)", typ)
	}
	if j.Vocab == nil || isNull(*j.Vocab) {
		return nil, fmt.Errorf("model (BPE): missing vocab")
	}
	if j.Merges == nil || isNull(*j.Merges) {
		return nil, fmt.Errorf("model (BPE): missing merges")
	}
	if j.Dropout != nil && *j.Dropout != 0 {
		return nil, fmt.Errorf("model (BPE): dropout %v is not supported (it makes encoding random)", *j.Dropout)
	}
	m := &bpeModel{unk: -1}
	vocab, err := fastVocab(*j.Vocab)
	if err != nil {
		if err := json.Unmarshal(*j.Vocab, &vocab); err != nil {
			return nil, jsonError(*j.Vocab, "model.vocab", err)
		}
	}
	m.vocab = make(map[string]int32, len(vocab))
	maxID := int64(-1)
	for s, id := range vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("model.vocab: token %q has id %d, out of range", s, id)
		}
		m.vocab[s] = int32(id)
		maxID = max(maxID, id)
	}
	if maxID >= 0 && maxID > 4*int64(len(vocab))+1<<20 {
		return nil, fmt.Errorf("model.vocab: ids up to %d for %d tokens: too sparse", maxID, len(vocab))
	}
	m.vocabR = make([]string, maxID+1)
	m.hasID = make([]bool, maxID+1)
	for s, id := range m.vocab {
		m.vocabR[id] = s
		m.hasID[id] = true
	}
	if j.UnkToken != nil {
		id, ok := m.vocab[*j.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is not in the vocab", *j.UnkToken)
		}
		m.unk = id
	}
	if j.ContinuingSubwordPrefix != nil {
		m.prefix = *j.ContinuingSubwordPrefix
	}
	if j.EndOfWordSuffix != nil {
		m.suffix = *j.EndOfWordSuffix
	}
	m.fuseUnk = j.FuseUnk != nil && *j.FuseUnk
	m.byteFB = j.ByteFallback != nil && *j.ByteFallback
	m.ignoreMrg = j.IgnoreMerges != nil && *j.IgnoreMerges
	if err := m.parseMerges(*j.Merges); err != nil {
		return nil, err
	}
	m.allBytes = true
	for b := 0; b < 256; b++ {
		m.byteID[b] = -1
		if id, ok := m.vocab[string(byteChar[b])]; ok {
			m.byteID[b] = id
		} else {
			m.allBytes = false
		}
		m.byteFBID[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteFBID[b] = id
		}
	}
	return m, nil
}

func (m *bpeModel) parseMerges(raw json.RawMessage) error {
	trim := bytes.TrimSpace(raw)
	if len(trim) == 0 || trim[0] != '[' {
		return fmt.Errorf("model.merges: expected a JSON array")
	}
	// Two forms: ["a b", ...] (older) and [["a", "b"], ...].
	pairs, legacy, err := fastMerges(raw)
	if err != nil {
		inner := bytes.TrimSpace(trim[1:])
		legacy = len(inner) > 0 && inner[0] == '"'
		if legacy {
			var lines []string
			if err := json.Unmarshal(raw, &lines); err != nil {
				return jsonError(raw, "model.merges", err)
			}
			pairs = make([][2]string, len(lines))
			for i, l := range lines {
				pairs[i][0] = l
			}
		} else {
			var tuples [][]string
			if err := json.Unmarshal(raw, &tuples); err != nil {
				return jsonError(raw, "model.merges", err)
			}
			pairs = make([][2]string, len(tuples))
			for i, ab := range tuples {
				if len(ab) != 2 {
					return fmt.Errorf("model.merges[%d]: expected a pair of tokens, found %d", i, len(ab))
				}
				pairs[i] = [2]string{ab[0], ab[1]}
			}
		}
	}
	if legacy {
		out := pairs[:0]
		rank := 0
		for _, p := range pairs {
			line := p[0]
			if strings.HasPrefix(line, "#version") {
				continue
			}
			rank++
			a, b, ok := strings.Cut(line, " ")
			if !ok || strings.Contains(b, " ") {
				return fmt.Errorf("model.merges: merge %d (%q) is not two tokens separated by one space", rank, line)
			}
			out = append(out, [2]string{a, b})
		}
		pairs = out
	}
	m.merges = make(map[uint64]uint64, len(pairs))
	var buf []byte
	for rank, p := range pairs {
		a, ok := m.vocab[p[0]]
		if !ok {
			return fmt.Errorf("model.merges[%d]: token %q of merge %q is not in the vocab", rank, p[0], p[0]+" "+p[1])
		}
		b, ok := m.vocab[p[1]]
		if !ok {
			return fmt.Errorf("model.merges[%d]: token %q of merge %q is not in the vocab", rank, p[1], p[0]+" "+p[1])
		}
		if len(p[1]) < len(m.prefix) {
			return fmt.Errorf("model.merges[%d]: token %q is shorter than continuing_subword_prefix %q", rank, p[1], m.prefix)
		}
		buf = append(append(buf[:0], p[0]...), p[1][len(m.prefix):]...)
		nid, ok := m.vocab[string(buf)]
		if !ok {
			return fmt.Errorf("model.merges[%d]: the merge of %q gives %q, which is not in the vocab", rank, p[0]+" "+p[1], buf)
		}
		// A pair listed twice keeps its last rank, as in the library.
		m.merges[uint64(uint32(a))<<32|uint64(uint32(b))] = uint64(rank)<<32 | uint64(uint32(nid))
	}
	return nil
}

func abbreviate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func (m *bpeModel) token(id int) (string, bool) {
	if id < 0 || id >= len(m.vocabR) || !m.hasID[id] {
		return "", false
	}
	return m.vocabR[id], true
}

// tokenize appends the ids of one piece of text.
func (m *bpeModel) tokenize(p piece, out []int32, st *encodeState) []int32 {
	if p.s == "" {
		return out
	}
	// Raw bytes and their byte-level form are different strings: two caches.
	cache := &m.cache[0]
	if p.bl {
		cache = &m.cache[1]
	}
	if len(p.s) < cacheMaxWord {
		if v, ok := cache.get(p.s); ok {
			return append(out, v...)
		}
	}
	if m.ignoreMrg {
		s := p.s
		if p.bl {
			s = byteLevelString(p.s)
		}
		if id, ok := m.vocab[s]; ok {
			return append(out, id)
		}
	}
	word := m.initialSymbols(p, st.word[:0])
	word = m.mergeAll(word, st)
	st.word = word
	if len(p.s) < cacheMaxWord {
		cache.put(p.s, word)
	}
	return append(out, word...)
}

// initialSymbols is the library's merge_word before the merges: one symbol
// per character (with prefix and suffix), byte fallback or unk for those
// not in the vocab.
func (m *bpeModel) initialSymbols(p piece, word []int32) []int32 {
	if p.bl && m.allBytes && m.prefix == "" && m.suffix == "" {
		for i := 0; i < len(p.s); i++ {
			word = append(word, m.byteID[p.s[i]])
		}
		return word
	}
	s := p.s
	if p.bl {
		s = byteLevelString(s)
	}
	unkPending := false
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		c := s[i : i+n]
		if i > 0 && m.prefix != "" {
			c = m.prefix + c
		}
		if i+n == len(s) && m.suffix != "" {
			c += m.suffix
		}
		i += n
		if id, ok := m.vocab[c]; ok {
			if unkPending {
				word = append(word, m.unk)
				unkPending = false
			}
			word = append(word, id)
			continue
		}
		if m.byteFB {
			all := true
			for k := 0; k < len(c); k++ {
				if m.byteFBID[c[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				for k := 0; k < len(c); k++ {
					word = append(word, m.byteFBID[c[k]])
				}
				continue
			}
		}
		if m.unk >= 0 {
			if unkPending && !m.fuseUnk {
				word = append(word, m.unk)
			}
			unkPending = true
		}
	}
	if unkPending {
		word = append(word, m.unk)
	}
	return word
}
