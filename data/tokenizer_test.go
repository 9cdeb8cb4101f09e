package data

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaultTokenizerIDs(t *testing.T) {
	tok := NewDefaultTokenizer()
	if tok.Size() != 100 {
		t.Fatalf("size %d, want 100", tok.Size())
	}
	if tok.PadID() != 0 || tok.MaskID() != 1 || tok.BOSID() != 2 || tok.EOSID() != 3 {
		t.Fatalf("special ids %d %d %d %d", tok.PadID(), tok.MaskID(), tok.BOSID(), tok.EOSID())
	}
	// '\n' is 4, then printable ASCII from ' ' (5): '0' = 5+16, 'A' = 5+33, '~' = 5+94.
	ids, err := tok.Encode("0A\n ~")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{21, 38, 4, 5, 99}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Encode = %v, want %v", ids, want)
	}
	v := tok.Vocab()
	if v[0] != "<pad>" || v[1] != "<mask>" || v[2] != "<bos>" || v[3] != "<eos>" || v[4] != "\n" || v[99] != "~" {
		t.Fatalf("vocab starts %q, ends %q", v[:5], v[99])
	}
	v[5] = "changed"
	if tok.Vocab()[5] != " " {
		t.Fatal("Vocab returned the tokenizer's own slice")
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	tok := NewDefaultTokenizer()
	ids, err := tok.Encode(DefaultCharset)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if id != i+4 {
			t.Fatalf("character %d has id %d, want %d", i, id, i+4)
		}
	}
	if got := tok.Decode(ids); got != DefaultCharset {
		t.Fatalf("round trip %q", got)
	}
	custom, err := NewCharTokenizer("xyé")
	if err != nil {
		t.Fatal(err)
	}
	ids, err = custom.Encode("éyx")
	if err != nil || !reflect.DeepEqual(ids, []int{6, 5, 4}) || custom.Size() != 7 {
		t.Fatalf("custom charset: %v %v size %d", ids, err, custom.Size())
	}
}

func TestTokenizerErrors(t *testing.T) {
	tok := NewDefaultTokenizer()
	for _, c := range []struct{ in, want string }{
		{"ok é", `'é' at byte 3`},
		{"a\xffb", "byte 1 (0xff) is not valid UTF-8"},
		{"\t", `'\t' at byte 0`},
	} {
		if _, err := tok.Encode(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%q): error %v, want one containing %q", c.in, err, c.want)
		}
	}
	if _, err := NewCharTokenizer("abca"); err == nil || !strings.Contains(err.Error(), `'a' at charset byte 3`) {
		t.Errorf("duplicate charset: %v", err)
	}
	if _, err := NewCharTokenizer("a\xff"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("invalid UTF-8 charset: %v", err)
	}
	// U+FFFD written out is a character like any other.
	if r, err := NewCharTokenizer("a\uFFFD"); err != nil || r.Size() != 6 {
		t.Errorf("charset with U+FFFD: %v", err)
	}
}

func TestDecode(t *testing.T) {
	tok := NewDefaultTokenizer()
	// '0' = 21, '1' = 22, '2' = 23
	if got := tok.Decode([]int{2, 21, 1, 3, 0, 500, -1}); got != "<bos>0<mask><eos><pad><500><-1>" {
		t.Errorf("Decode = %q", got)
	}
	if got := tok.DecodeAnswer([]int{2, 21, 0, 1, 22, 3, 23}); got != "0?1" {
		t.Errorf("DecodeAnswer stops at <eos>, skips <pad>/<bos>, shows <mask> as ?: got %q", got)
	}
	if got := tok.DecodeAnswer([]int{21, 22, 23}); got != "012" {
		t.Errorf("DecodeAnswer without <eos> = %q", got)
	}
	if got := tok.DecodeAnswer([]int{3, 21}); got != "" {
		t.Errorf("DecodeAnswer of a leading <eos> = %q", got)
	}
}

func TestTokenizerFromVocab(t *testing.T) {
	tok := NewDefaultTokenizer()
	back, err := TokenizerFromVocab(tok.Vocab())
	if err != nil || !reflect.DeepEqual(back.Vocab(), tok.Vocab()) {
		t.Fatalf("vocab round trip: %v", err)
	}
	ids, _ := back.Encode("hi")
	if want, _ := tok.Encode("hi"); !reflect.DeepEqual(ids, want) {
		t.Fatalf("rebuilt tokenizer encodes %v, want %v", ids, want)
	}
	sp := []string{"<pad>", "<mask>", "<bos>", "<eos>"}
	for _, c := range []struct {
		vocab []string
		want  string
	}{
		{[]string{"<pad>", "<mask>"}, "fewer than the 4"},
		{[]string{"<pad>", "<bos>", "<mask>", "<eos>", "a"}, `entry 1 is "<bos>", want "<mask>"`},
		{append(sp, "a", "bc"), `entry 5 is "bc"`},
		{append(sp, "a", ""), `entry 5 is ""`},
		{append(sp, "a", "<pad>"), `entry 5 is "<pad>"`},
		{append(sp, "a", "b", "a"), `entries 4 and 6 are both "a"`},
		{append(sp, "\xff"), `entry 4`},
	} {
		if _, err := TokenizerFromVocab(c.vocab); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TokenizerFromVocab(%q): error %v, want one containing %q", c.vocab, err, c.want)
		}
	}
	if only, err := TokenizerFromVocab(sp); err != nil || only.Size() != 4 {
		t.Errorf("specials-only vocab: %v", err)
	}
}
