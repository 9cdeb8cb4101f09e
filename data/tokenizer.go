package data

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The char tokenizer's special token ids, the same for every charset.
const (
	PadID  = 0
	MaskID = 1
	BOSID  = 2
	EOSID  = 3
)

var specials = []string{"<pad>", "<mask>", "<bos>", "<eos>"}

// DefaultCharset is newline and printable ASCII: a vocabulary of 100 tokens
// with the specials.
var DefaultCharset = func() string {
	var b strings.Builder
	b.WriteByte('\n')
	for c := byte(32); c < 127; c++ {
		b.WriteByte(c)
	}
	return b.String()
}()

// Tokenizer turns text into the model's token ids and back. CharTokenizer is
// remask's own; HFTokenizer reads a Hugging Face checkpoint's tokenizer.json.
// The special ids come from the tokenizer, never from literals.
type Tokenizer interface {
	// Size is the number of ids Encode can produce (a model may score more:
	// Hugging Face embeddings are often padded).
	Size() int
	PadID() int
	MaskID() int
	// BOSID is the id EncodePrompt puts before a plain prompt, -1 for none
	// (a chat template writes its own).
	BOSID() int
	// EOSID is the id that ends an answer and pads it in SFT.
	EOSID() int
	// Encode maps text to ids; text it cannot encode is an error.
	Encode(s string) ([]int, error)
	// Decode renders ids for logs and debugging; it never fails.
	Decode(ids []int) string
	// DecodeAnswer renders a completion: the text before its end, without
	// special tokens, a still-masked position as "?".
	DecodeAnswer(ids []int) string
}

// CharTokenizer maps single characters to ids after the four special tokens.
type CharTokenizer struct {
	vocab []string
	ids   map[rune]int
}

// NewCharTokenizer builds a tokenizer over the characters of charset, in
// order, after the four special tokens. The charset must be valid UTF-8
// without repeated characters.
func NewCharTokenizer(charset string) (*CharTokenizer, error) {
	t := &CharTokenizer{vocab: append([]string(nil), specials...), ids: map[rune]int{}}
	for off, r := range charset {
		if r == utf8.RuneError && !strings.HasPrefix(charset[off:], string(utf8.RuneError)) {
			return nil, fmt.Errorf("tokenizer: charset byte %d (0x%02x) is not valid UTF-8", off, charset[off])
		}
		if _, dup := t.ids[r]; dup {
			return nil, fmt.Errorf("tokenizer: character %q at charset byte %d appears twice", r, off)
		}
		t.ids[r] = len(t.vocab)
		t.vocab = append(t.vocab, string(r))
	}
	return t, nil
}

// NewDefaultTokenizer is the tokenizer over DefaultCharset.
func NewDefaultTokenizer() *CharTokenizer {
	t, _ := NewCharTokenizer(DefaultCharset) // DefaultCharset has no duplicates
	return t
}

// TokenizerFromVocab rebuilds a tokenizer from Vocab (as stored in a run).
func TokenizerFromVocab(vocab []string) (*CharTokenizer, error) {
	if len(vocab) < len(specials) {
		return nil, fmt.Errorf("tokenizer: vocab has %d entries, fewer than the %d special tokens", len(vocab), len(specials))
	}
	for i, s := range specials {
		if vocab[i] != s {
			return nil, fmt.Errorf("tokenizer: vocab entry %d is %q, want %q", i, vocab[i], s)
		}
	}
	var cs strings.Builder
	first := map[string]int{}
	for i, v := range vocab[len(specials):] {
		id := i + len(specials)
		if utf8.RuneCountInString(v) != 1 || !utf8.ValidString(v) {
			return nil, fmt.Errorf("tokenizer: vocab entry %d is %q, want one character", id, v)
		}
		if j, dup := first[v]; dup {
			return nil, fmt.Errorf("tokenizer: vocab entries %d and %d are both %q", j, id, v)
		}
		first[v] = id
		cs.WriteString(v)
	}
	return NewCharTokenizer(cs.String())
}

// Vocab lists every token by id.
func (t *CharTokenizer) Vocab() []string { return append([]string(nil), t.vocab...) }

// Size is the vocabulary size.
func (t *CharTokenizer) Size() int { return len(t.vocab) }

// The special ids are the package constants; code that holds a Tokenizer
// asks it instead, since a Hugging Face tokenizer has its own.
func (t *CharTokenizer) PadID() int  { return PadID }
func (t *CharTokenizer) MaskID() int { return MaskID }
func (t *CharTokenizer) BOSID() int  { return BOSID }
func (t *CharTokenizer) EOSID() int  { return EOSID }

// Encode maps text to ids; a character outside the vocabulary is an error.
func (t *CharTokenizer) Encode(s string) ([]int, error) {
	out := make([]int, 0, len(s))
	for off, r := range s {
		id, ok := t.ids[r]
		if !ok {
			if r == utf8.RuneError && !strings.HasPrefix(s[off:], string(utf8.RuneError)) {
				return nil, fmt.Errorf("byte %d (0x%02x) is not valid UTF-8", off, s[off])
			}
			return nil, fmt.Errorf("character %q at byte %d is not in the vocabulary", r, off)
		}
		out = append(out, id)
	}
	return out, nil
}

// Decode renders ids, special tokens by name and ids outside the vocabulary
// as "<N>" (it never fails: it is for logs and debugging).
func (t *CharTokenizer) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(t.vocab) {
			b.WriteString(t.vocab[id])
		} else {
			fmt.Fprintf(&b, "<%d>", id)
		}
	}
	return b.String()
}

// DecodeAnswer renders a completion: text up to the first <eos>, <pad> and
// <bos> skipped, <mask> shown as "?".
func (t *CharTokenizer) DecodeAnswer(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id == EOSID:
			return b.String()
		case id == MaskID:
			b.WriteByte('?')
		case id == PadID || id == BOSID || id < 0 || id >= len(t.vocab):
		default:
			b.WriteString(t.vocab[id])
		}
	}
	return b.String()
}
