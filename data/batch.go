package data

import (
	"fmt"
	"math/rand/v2"
)

// Sequence is one example encoded to a fixed length.
type Sequence struct {
	IDs       []int  // the tokens, seqLen long
	PromptLen int    // leading positions that are prompt (with <bos>); SFT never masks them
	Valid     []bool // key-padding mask, false at <pad>; nil when nothing is padding
}

// PromptEncoder is a tokenizer that lays out prompts itself, through a
// chat template: the prompt as a user message, then the generation prompt.
type PromptEncoder interface {
	EncodeChat(prompt string) ([]int, error)
}

// EncodePrompt is what a sampler starts from: the prompt through the
// tokenizer's chat template when it has one (PromptEncoder), else <bos> (when
// the tokenizer has one) and the prompt.
func EncodePrompt(t Tokenizer, ex Example) ([]int, error) {
	if pe, ok := t.(PromptEncoder); ok {
		ids, err := pe.EncodeChat(ex.Prompt)
		if err != nil {
			return nil, fmt.Errorf("prompt: %w", err)
		}
		return ids, nil
	}
	p, err := t.Encode(ex.Prompt)
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	if t.BOSID() < 0 {
		return p, nil
	}
	return append([]int{t.BOSID()}, p...), nil
}

// EncodeSFT lays out the prompt (EncodePrompt), the answer and <eos>,
// padded with <eos> to seqLen: the padding is part of the answer, so the
// model learns to stop.
func EncodeSFT(t Tokenizer, ex Example, seqLen int) (Sequence, error) {
	p, err := EncodePrompt(t, ex)
	if err != nil {
		return Sequence{}, err
	}
	a, err := t.Encode(ex.Answer)
	if err != nil {
		return Sequence{}, fmt.Errorf("answer: %w", err)
	}
	if n := len(p) + len(a) + 1; n > seqLen {
		return Sequence{}, fmt.Errorf("prompt (%d tokens) + answer (%d) + <eos> = %d exceeds the sequence length %d", len(p), len(a), n, seqLen)
	}
	ids := append(append(p, a...), t.EOSID())
	for len(ids) < seqLen {
		ids = append(ids, t.EOSID())
	}
	return Sequence{IDs: ids, PromptLen: len(p)}, nil
}

// EncodePretrain lays out <bos> (when the tokenizer has one) prompt+answer
// <eos> and pads with <pad>, which the key-padding mask hides. PromptLen is
// 0: pretraining may mask any position. It uses no chat template.
func EncodePretrain(t Tokenizer, ex Example, seqLen int) (Sequence, error) {
	x, err := t.Encode(ex.Prompt + ex.Answer)
	if err != nil {
		return Sequence{}, fmt.Errorf("text: %w", err)
	}
	var ids []int
	if t.BOSID() >= 0 {
		ids = append(ids, t.BOSID())
	}
	ids = append(append(ids, x...), t.EOSID())
	if len(ids) > seqLen {
		return Sequence{}, fmt.Errorf("text (%d tokens) with <bos> and <eos> = %d exceeds the sequence length %d", len(x), len(ids), seqLen)
	}
	real := len(ids)
	for len(ids) < seqLen {
		ids = append(ids, t.PadID())
	}
	var valid []bool
	if real < seqLen {
		valid = make([]bool, seqLen)
		for i := range real {
			valid[i] = true
		}
	}
	return Sequence{IDs: ids, Valid: valid}, nil
}

// SeqLenFor is the shortest length that fits every example, for
// EncodePretrain (objective mdlm) or EncodeSFT (the others, sft true).
func SeqLenFor(t Tokenizer, exs []Example, sft bool) (int, error) {
	if len(exs) == 0 {
		return 0, fmt.Errorf("sequence length: no examples")
	}
	n := 0
	for i, ex := range exs {
		var l int
		if sft {
			p, err := EncodePrompt(t, ex)
			if err != nil {
				return 0, fmt.Errorf("example %d: %w", i, err)
			}
			a, err := t.Encode(ex.Answer)
			if err != nil {
				return 0, fmt.Errorf("example %d: answer: %w", i, err)
			}
			l = len(p) + len(a) + 1
		} else {
			x, err := t.Encode(ex.Prompt + ex.Answer)
			if err != nil {
				return 0, fmt.Errorf("example %d: %w", i, err)
			}
			l = len(x) + 1
			if t.BOSID() >= 0 {
				l++
			}
		}
		n = max(n, l)
	}
	return n, nil
}

// Cursor is a position in the epoch stream: resuming from it replays the
// same batches. Pos counts the examples of epoch Epoch already handed out.
type Cursor struct {
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"`
}

// Check reports whether the cursor can belong to a stream over n examples
// (a resume against a dataset of another size cannot replay the run).
func (c Cursor) Check(n int) error {
	if c.Epoch < 0 || c.Pos < 0 || c.Pos > n {
		return fmt.Errorf("data cursor epoch %d pos %d does not fit a dataset of %d examples", c.Epoch, c.Pos, n)
	}
	return nil
}

// Iterator hands out batches of example indices, each epoch a fresh
// permutation drawn from an RNG seeded by (seed, epoch), so a cursor alone
// says where the stream stands.
type Iterator struct {
	n, batch int
	seed     int64
	cur      Cursor
	perm     []int
}

// NewIterator starts at cursor c over n examples. A cursor that Check would
// reject is not trusted: a negative one starts at epoch 0, one past the end
// of its epoch starts the next.
func NewIterator(n, batch int, seed int64, c Cursor) *Iterator {
	if c.Epoch < 0 || c.Pos < 0 {
		c = Cursor{}
	}
	it := &Iterator{n: max(n, 0), batch: max(batch, 0), seed: seed, cur: c}
	it.perm = it.permutation(c.Epoch)
	return it
}

func (it *Iterator) permutation(epoch int) []int {
	return rand.New(rand.NewPCG(uint64(it.seed), uint64(epoch)<<8|0x49)).Perm(it.n)
}

// Next returns the next batch of indices; a batch may span two epochs. With
// no examples or a batch size of 0 it returns nil.
func (it *Iterator) Next() []int {
	if it.n == 0 || it.batch == 0 {
		return nil
	}
	out := make([]int, 0, it.batch)
	for len(out) < it.batch {
		if it.cur.Pos >= it.n {
			it.cur = Cursor{Epoch: it.cur.Epoch + 1}
			it.perm = it.permutation(it.cur.Epoch)
		}
		out = append(out, it.perm[it.cur.Pos])
		it.cur.Pos++
	}
	return out
}

// Cursor is where the next batch starts.
func (it *Iterator) Cursor() Cursor { return it.cur }
