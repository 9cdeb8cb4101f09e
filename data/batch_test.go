package data

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// In the default vocabulary '1' = 22, '2' = 23, '3' = 24, ',' = 17,
// '>' = 35, '=' = 34, '+' = 16; <pad> 0, <bos> 2, <eos> 3.
var cd12 = Example{Prompt: "1,2>3=", Answer: "1+2"} // an unpadded countdown-like example

func TestEncodePrompt(t *testing.T) {
	ids, err := EncodePrompt(NewDefaultTokenizer(), cd12)
	if want := []int{2, 22, 17, 23, 35, 24, 34}; err != nil || !reflect.DeepEqual(ids, want) {
		t.Fatalf("EncodePrompt = %v, %v; want %v", ids, err, want)
	}
}

func TestEncodeSFT(t *testing.T) {
	tok := NewDefaultTokenizer()
	s, err := EncodeSFT(tok, cd12, 13)
	if err != nil {
		t.Fatal(err)
	}
	want := Sequence{IDs: []int{2, 22, 17, 23, 35, 24, 34, 22, 16, 23, 3, 3, 3}, PromptLen: 7}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("EncodeSFT = %+v\nwant %+v", s, want)
	}
	// Exactly long enough: one <eos>, no padding.
	if s, err := EncodeSFT(tok, cd12, 11); err != nil || !reflect.DeepEqual(s.IDs, want.IDs[:11]) {
		t.Fatalf("exact fit: %v %v", s, err)
	}
	if _, err := EncodeSFT(tok, cd12, 10); err == nil || !strings.Contains(err.Error(), "prompt (7 tokens) + answer (3) + <eos> = 11 exceeds the sequence length 10") {
		t.Fatalf("too short: %v", err)
	}
	if _, err := EncodeSFT(tok, Example{Prompt: "a", Answer: "é"}, 10); err == nil || !strings.Contains(err.Error(), "answer") {
		t.Fatalf("unknown answer character: %v", err)
	}
	if _, err := EncodeSFT(tok, Example{Prompt: "\t", Answer: "a"}, 10); err == nil || !strings.Contains(err.Error(), "prompt") {
		t.Fatalf("unknown prompt character: %v", err)
	}
}

func TestEncodePretrain(t *testing.T) {
	tok := NewDefaultTokenizer()
	s, err := EncodePretrain(tok, cd12, 13)
	if err != nil {
		t.Fatal(err)
	}
	want := Sequence{
		IDs:   []int{2, 22, 17, 23, 35, 24, 34, 22, 16, 23, 3, 0, 0},
		Valid: []bool{true, true, true, true, true, true, true, true, true, true, true, false, false},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("EncodePretrain = %+v\nwant %+v", s, want)
	}
	if s, err := EncodePretrain(tok, cd12, 11); err != nil || s.Valid != nil || !reflect.DeepEqual(s.IDs, want.IDs[:11]) {
		t.Fatalf("exact fit: %+v %v", s, err)
	}
	if _, err := EncodePretrain(tok, cd12, 10); err == nil || !strings.Contains(err.Error(), "= 11 exceeds the sequence length 10") {
		t.Fatalf("too short: %v", err)
	}
}

func TestSeqLenFor(t *testing.T) {
	tok := NewDefaultTokenizer()
	n, err := SeqLenFor(tok, []Example{cd12, {Prompt: "ab", Answer: "cdefghijk"}, {Prompt: "x"}}, true)
	if err != nil || n != 13 { // 2 + 9 + <bos> + <eos>
		t.Fatalf("SeqLenFor = %d, %v; want 13", n, err)
	}
	if _, err := SeqLenFor(tok, []Example{cd12, {Prompt: "é"}}, false); err == nil || !strings.Contains(err.Error(), "example 1") {
		t.Fatalf("bad character: %v", err)
	}
	if _, err := SeqLenFor(tok, nil, false); err == nil {
		t.Fatal("no examples accepted")
	}
}

// take draws k batches.
func take(it *Iterator, k int) []int {
	var out []int
	for range k {
		out = append(out, it.Next()...)
	}
	return out
}

func TestIterator(t *testing.T) {
	all := take(NewIterator(10, 4, 5, Cursor{}), 10) // 40 indices: 4 epochs
	if !reflect.DeepEqual(all, take(NewIterator(10, 4, 5, Cursor{}), 10)) {
		t.Fatal("same seed, different order")
	}
	if reflect.DeepEqual(all, take(NewIterator(10, 4, 6, Cursor{}), 10)) {
		t.Fatal("different seeds, same order")
	}
	for e := range 4 {
		epoch := slices.Clone(all[e*10 : (e+1)*10])
		slices.Sort(epoch)
		if !reflect.DeepEqual(epoch, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Fatalf("epoch %d visits %v", e, all[e*10:(e+1)*10])
		}
	}
	if reflect.DeepEqual(all[:10], all[10:20]) {
		t.Fatal("two epochs in the same order")
	}

	// After 3 batches of 4 over 10 examples: epoch 1, 2 examples in; the
	// third batch spanned the two epochs.
	it := NewIterator(10, 4, 5, Cursor{})
	take(it, 3)
	if it.Cursor() != (Cursor{Epoch: 1, Pos: 2}) {
		t.Fatalf("cursor %+v, want {1 2}", it.Cursor())
	}
	// The cursor goes through JSON (the run store) and resumes the stream.
	raw, _ := json.Marshal(it.Cursor())
	if string(raw) != `{"epoch":1,"pos":2}` {
		t.Fatalf("cursor JSON %s", raw)
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if rest := take(NewIterator(10, 4, 5, c), 7); !reflect.DeepEqual(rest, all[12:]) {
		t.Fatalf("resumed stream differs:\n%v\n%v", rest, all[12:])
	}
	// Resuming at an epoch boundary, mid-way through a later epoch.
	if rest := take(NewIterator(10, 4, 5, Cursor{Epoch: 2, Pos: 0}), 2); !reflect.DeepEqual(rest, all[20:28]) {
		t.Fatalf("resume at epoch 2: %v, want %v", rest, all[20:28])
	}
	if rest := take(NewIterator(10, 4, 5, Cursor{Epoch: 0, Pos: 10}), 1); !reflect.DeepEqual(rest, all[10:14]) {
		t.Fatalf("resume at the end of epoch 0: %v, want %v", rest, all[10:14])
	}
}

func TestIteratorEdges(t *testing.T) {
	// A batch larger than the dataset spans several epochs.
	big := NewIterator(3, 7, 1, Cursor{})
	b := big.Next()
	if len(b) != 7 || big.Cursor() != (Cursor{Epoch: 2, Pos: 1}) {
		t.Fatalf("batch %v, cursor %+v", b, big.Cursor())
	}
	if got := NewIterator(0, 4, 1, Cursor{}).Next(); got != nil {
		t.Fatalf("empty dataset gave %v", got)
	}
	if got := NewIterator(5, 0, 1, Cursor{}).Next(); got != nil {
		t.Fatalf("batch 0 gave %v", got)
	}
	// A corrupt cursor does not panic; it starts over.
	if got := NewIterator(5, 2, 1, Cursor{Epoch: -1, Pos: -3}); got.Cursor() != (Cursor{}) || len(got.Next()) != 2 {
		t.Fatal("negative cursor")
	}
	for c, ok := range map[Cursor]bool{{}: true, {3, 10}: true, {0, 11}: false, {-1, 0}: false, {0, -1}: false} {
		if err := c.Check(10); (err == nil) != ok {
			t.Errorf("Check(%+v) = %v", c, err)
		}
	}
}
