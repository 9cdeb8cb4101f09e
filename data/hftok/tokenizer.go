package hftok

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer encodes and decodes text as a Hugging Face tokenizer.json says.
type Tokenizer struct {
	model  *bpeModel
	added  *addedVocab
	norm   normalizer     // nil: none
	pre    []preTokenizer // run in order; a Sequence is flattened
	post   postProcessor  // nil: none
	dec    decoder        // nil: tokens joined by spaces
	states sync.Pool      // *encodeState
}

// AddedToken is one entry of the file's added_tokens, with the id the
// library gives it (the vocabulary's id when the content is already there).
type AddedToken struct {
	ID         int
	Content    string
	Special    bool
	SingleWord bool
	LStrip     bool
	RStrip     bool
	Normalized bool
}

// Load reads a tokenizer.json file; a gzip-compressed file is read as well.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hftok: %w", err)
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("hftok: %s: %w", path, err)
		}
		// The gzip trailer has the size (mod 2^32): read into one buffer,
		// trusting the hint only as far as a plausible ratio.
		var buf bytes.Buffer
		if n := len(data); n >= 4 {
			buf.Grow(min(int(binary.LittleEndian.Uint32(data[n-4:])), 64*n) + 1)
		}
		if _, err := io.Copy(&buf, zr); err != nil {
			return nil, fmt.Errorf("hftok: %s: gzip: %w", path, err)
		}
		data = buf.Bytes()
	}
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("hftok: %s: %w", path, err)
	}
	return t, nil
}

// Parse reads the contents of a tokenizer.json file.
func Parse(data []byte) (*Tokenizer, error) {
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("hftok: %w", err)
	}
	return t, nil
}

type fileJSON struct {
	Version       *string         `json:"version"`
	AddedTokens   json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

func parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(data, "", err)
	}
	if f.Version != nil && *f.Version != "1.0" {
		return nil, fmt.Errorf("version %q: only tokenizer.json version 1.0 is known", *f.Version)
	}
	if isNull(f.Model) {
		return nil, errors.New("model: missing")
	}
	m, err := parseModel(f.Model)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: m}
	if t.norm, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	if t.dec, err = parseDecoder(f.Decoder, "decoder"); err != nil {
		return nil, err
	}
	var added []addedTokenJSON
	if !isNull(f.AddedTokens) {
		if err := json.Unmarshal(f.AddedTokens, &added); err != nil {
			return nil, jsonError(f.AddedTokens, "added_tokens", err)
		}
	}
	if t.added, err = newAddedVocab(added, m, t.norm); err != nil {
		return nil, err
	}
	t.states.New = func() any { return new(encodeState) }
	return t, nil
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// jsonError describes a decoding error: for the whole file, with the line
// and column of the offending byte; for a part, with its path in the file.
func jsonError(data []byte, where string, err error) error {
	prefix := ""
	if where != "" {
		prefix = where + ": "
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if where == "" {
			pos := se.Offset - 1 // the offending byte
			if se.Offset >= int64(len(data)) {
				pos = int64(len(data)) // just past the end
			}
			line, col := lineCol(data, pos)
			return fmt.Errorf("malformed JSON at line %d, column %d: %v", line, col, se)
		}
		return fmt.Errorf("%smalformed JSON: %v", prefix, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := ""
		if te.Field != "" {
			field = te.Field + ": "
		}
		return fmt.Errorf("%s%sexpected %s, found JSON %s", prefix, field, goTypeName(te.Type.String()), te.Value)
	}
	return fmt.Errorf("%s%v", prefix, err)
}

// goTypeName says what JSON a Go type stands for.
func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "map["):
		return "an object"
	case strings.HasPrefix(t, "[]"), strings.HasPrefix(t, "[2]"):
		return "an array"
	case t == "string", t == "*string":
		return "a string"
	case t == "bool", t == "*bool":
		return "a boolean"
	case strings.Contains(t, "int"), strings.Contains(t, "float"):
		return "a number"
	}
	return "an object"
}

func lineCol(data []byte, off int64) (int, int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// VocabSize is the number of tokens, the added ones included (the
// library's get_vocab_size(true)).
func (t *Tokenizer) VocabSize() int {
	n := len(t.model.vocab)
	for content := range t.added.byContent {
		if _, ok := t.model.vocab[content]; !ok {
			n++
		}
	}
	return n
}

// ModelVocabSize is the size of the model's own vocabulary, without the
// added tokens that are not in it (get_vocab_size(false)).
func (t *Tokenizer) ModelVocabSize() int { return len(t.model.vocab) }

// TokenID is the id of a token string: an added token's, else the model's.
func (t *Tokenizer) TokenID(s string) (int, bool) {
	if id, ok := t.added.byContent[s]; ok {
		return id, true
	}
	if id, ok := t.model.vocab[s]; ok {
		return int(id), true
	}
	return 0, false
}

// Token is the string of an id (as the model or added_tokens spell it, in
// byte-level form for a byte-level vocabulary), and false for an unknown id.
func (t *Tokenizer) Token(id int) (string, bool) {
	if s, ok := t.added.tokenString(id); ok {
		return s, true
	}
	return t.model.token(id)
}

// AddedTokens lists the added tokens by id.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, 0, len(t.added.byID))
	for id, a := range t.added.byID {
		out = append(out, AddedToken{ID: id, Content: a.content, Special: a.special,
			SingleWord: a.singleWord, LStrip: a.lstrip, RStrip: a.rstrip, Normalized: a.normalized})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SpecialIDs lists the ids of the special added tokens, ascending.
func (t *Tokenizer) SpecialIDs() []int {
	var out []int
	for id, a := range t.added.byID {
		if a.special {
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return out
}

// IsSpecial says whether id is a special added token (one that Decode with
// skipSpecial leaves out).
func (t *Tokenizer) IsSpecial(id int) bool {
	s, ok := t.Token(id)
	return ok && t.added.special[s]
}

// encodeState holds the buffers of one Encode call.
type encodeState struct {
	a, b  []piece
	spans []span
	ids   []int32
	word  []int32
	word2 []int32
	ranks []int32
	heap  []mergeEntry
	links []int32
}

// Encode turns text into token ids, without the special tokens of the
// post-processor (the library's encode(text, add_special_tokens=False)).
// Added tokens written in the text are recognised first. Invalid UTF-8 is
// read as U+FFFD, as a Rust string built with from_utf8_lossy would be.
func (t *Tokenizer) Encode(text string) []int {
	st := t.states.Get().(*encodeState)
	ids := t.encode(st, text)
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	t.states.Put(st)
	return out
}

// EncodeWithSpecial is Encode followed by the post-processor's special
// tokens (encode(text, add_special_tokens=True)), e.g. a BOS token.
func (t *Tokenizer) EncodeWithSpecial(text string) []int {
	ids := t.Encode(text)
	if t.post == nil {
		return ids
	}
	return t.post.single(ids)
}

func (t *Tokenizer) encode(st *encodeState, text string) []int32 {
	if !utf8.ValidString(text) {
		text = lossyString([]byte(text))
	}
	st.ids = st.ids[:0]
	if text == "" {
		return st.ids
	}
	// Added tokens that are matched on the raw text, then normalization of
	// what is between them and the added tokens matched on normalized text.
	st.a = t.added.split(text, false, st.a[:0])
	st.b = st.b[:0]
	for _, p := range st.a {
		if p.id >= 0 {
			st.b = append(st.b, p)
			continue
		}
		s := p.s
		if t.norm != nil {
			s = t.norm.normalize(s)
		}
		st.b = t.added.split(s, true, st.b)
	}
	for _, pt := range t.pre {
		out := st.a[:0]
		for _, p := range st.b {
			if p.id >= 0 {
				out = append(out, p)
				continue
			}
			out = pt.split(p, out, st)
		}
		st.a, st.b = st.b, out
	}
	for _, p := range st.b {
		if p.id >= 0 {
			st.ids = append(st.ids, p.id)
			continue
		}
		st.ids = t.model.tokenize(p, st.ids, st)
	}
	return st.ids
}

// Decode turns ids back into text. Unknown ids are left out; with
// skipSpecial, so are the special added tokens.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		s, ok := t.Token(id)
		if !ok {
			continue
		}
		if skipSpecial && t.added.special[s] {
			continue
		}
		toks = append(toks, s)
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.dec.decode(toks), "")
}
