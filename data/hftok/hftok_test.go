package hftok

import (
	"compress/gzip"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tiny is a minimal byte-level BPE file for the error tests.
const tiny = `{
  "version": "1.0",
  "added_tokens": [{"id": 5, "content": "<eos>", "single_word": false, "lstrip": false,
    "rstrip": false, "normalized": false, "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": null,
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
    "merges": ["a b", "Ġ ab"]}
}`

// edit returns tiny with one replacement, which must apply.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(tiny, old) {
		t.Fatalf("tiny has no %q", old)
	}
	return strings.Replace(tiny, old, new, 1)
}

func TestTiny(t *testing.T) {
	tk, err := Parse([]byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("ab ab<eos>"); !equalInts(got, []int{2, 4, 5}) {
		t.Errorf("Encode = %v, want [2 4 5]", got)
	}
	if got := tk.Decode([]int{2, 4, 5, 99}, false); got != "ab ab<eos>" {
		t.Errorf("Decode = %q", got)
	}
	if got := tk.Decode([]int{2, 4, 5}, true); got != "ab ab" {
		t.Errorf("Decode skipping specials = %q", got)
	}
	// Merges in the [["a", "b"]] form give the same tokenizer.
	tk2, err := Parse([]byte(edit(t, `["a b", "Ġ ab"]`, `[["a", "b"], ["Ġ", "ab"]]`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk2.Encode("ab ab<eos>"); !equalInts(got, []int{2, 4, 5}) {
		t.Errorf("tuple merges: Encode = %v", got)
	}
	// Characters missing from the vocabulary are dropped, as the library
	// does without unk_token or byte_fallback.
	if got := tk.Encode("xab"); !equalInts(got, []int{2}) {
		t.Errorf("Encode(xab) = %v, want [2]", got)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		json string
		want string // substring of the error
	}{
		{"wordpiece", edit(t, `"type": "BPE"`, `"type": "WordPiece"`), `model: unsupported model type "WordPiece" (only BPE is supported)`},
		{"unigram", edit(t, `"type": "BPE"`, `"type": "Unigram"`), `unsupported model type "Unigram"`},
		{"wordlevel", edit(t, `"type": "BPE"`, `"type": "WordLevel"`), `unsupported model type "WordLevel"`},
		{"missing vocab", edit(t, `"vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},`, ``), `model (BPE): missing vocab`},
		{"missing merges", edit(t, `"merges": ["a b", "Ġ ab"]`, `"x": 1`), `model (BPE): missing merges`},
		{"missing model", edit(t, `"model": {`, `"notmodel": {`), `model: missing`},
		{"unknown merge token", edit(t, `"a b", "Ġ ab"`, `"a b", "zz ab"`), `model.merges[1]: token "zz" of merge "zz ab" is not in the vocab`},
		{"merge result unknown", edit(t, `"a b", "Ġ ab"`, `"a b", "b a"`), `the merge of "b a" gives "ba", which is not in the vocab`},
		{"bad merge line", edit(t, `"a b", "Ġ ab"`, `"a b", "ab"`), `merge 2 ("ab") is not two tokens separated by one space`},
		{"bad merge tuple", edit(t, `["a b", "Ġ ab"]`, `[["a", "b", "c"]]`), `model.merges[0]: expected a pair of tokens, found 3`},
		{"dropout", edit(t, `"dropout": null`, `"dropout": 0.1`), `dropout 0.1 is not supported`},
		{"unk not in vocab", edit(t, `"unk_token": null`, `"unk_token": "<unk>"`), `model.unk_token "<unk>" is not in the vocab`},
		{"vocab not an object", edit(t, `"vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}`, `"vocab": ["a"]`), `model.vocab: expected an object, found JSON array`},
		{"fractional id", edit(t, `"b": 1,`, `"b": 1.5,`), `model.vocab: expected a number, found JSON number 1.5`},
		{"negative id", edit(t, `"b": 1,`, `"b": -1,`), `model.vocab: token "b" has id -1, out of range`},
		{"merges not an array", edit(t, `["a b", "Ġ ab"]`, `{"a": "b"}`), `model.merges: expected a JSON array`},
		{"merge of numbers", edit(t, `["a b", "Ġ ab"]`, `[1, 2]`), `model.merges: expected an array, found JSON number`},
		{"version", edit(t, `"version": "1.0"`, `"version": "2.0"`), `version "2.0"`},
		{"metaspace", edit(t, `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`,
			`{"type": "Sequence", "pretokenizers": [{"type": "Metaspace", "replacement": "▁"}]}`),
			`pre_tokenizer.pretokenizers[0]: unsupported pre-tokenizer type "Metaspace"`},
		{"precompiled", edit(t, `"normalizer": null`, `"normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}`),
			`normalizer: unsupported normalizer type "Precompiled"`},
		{"wordpiece decoder", edit(t, `"decoder": {"type": "ByteLevel"}`, `"decoder": {"type": "WordPiece", "prefix": "##"}`),
			`decoder: unsupported decoder type "WordPiece"`},
		{"post processor", edit(t, `"post_processor": null`, `"post_processor": {"type": "Mystery"}`),
			`post_processor: unsupported post-processor type "Mystery"`},
		{"bad regex", edit(t, `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`,
			`{"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}`),
			`pre_tokenizer.pattern: regex "(unclosed":`},
		{"bad behavior", edit(t, `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`,
			`{"type": "Split", "pattern": {"String": "x"}, "behavior": "Sideways", "invert": false}`),
			`pre_tokenizer.behavior: unknown split behavior "Sideways"`},
		{"no type", edit(t, `"decoder": {"type": "ByteLevel"}`, `"decoder": {"kind": "ByteLevel"}`), `decoder: missing "type"`},
		{"template", edit(t, `"post_processor": null`, `"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}], "pair": [], "special_tokens": {}}`),
			`post_processor.single[0]: special token "<bos>" is not in special_tokens`},
		{"added token without content", edit(t, `"content": "<eos>", `, ``), `added_tokens[0]: missing content`},
		{"truncated", tiny[:200], `malformed JSON at line 6, column 8: unexpected end of JSON input`},
		{"not json", "hello", `malformed JSON at line 1, column 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if strings.Count(err.Error(), "hftok:") != 1 {
				t.Errorf("error %q should start with one hftok: prefix", err)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, []byte(tiny[:300]), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+": malformed JSON at line") {
		t.Fatalf("Load error = %v, want one naming %s and the place", err, path)
	}
	path2 := filepath.Join(dir, "missing.json")
	if _, err := Load(path2); err == nil || !strings.Contains(err.Error(), path2) {
		t.Fatalf("Load of a missing file: %v", err)
	}
	// A gzip-compressed file loads like the plain one.
	gz := filepath.Join(dir, "tokenizer.json.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(tiny))
	zw.Close()
	f.Close()
	tk, err := Load(gz)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("ab"); !equalInts(got, []int{2}) {
		t.Errorf("Encode = %v", got)
	}
}

// TestQwen3Config checks the ids of Qwen3's added tokens against its
// tokenizer_config.json, and the API around ids and tokens.
func TestQwen3Config(t *testing.T) {
	tk := loadTokenizer(t, "qwen3")
	f, err := os.Open(filepath.Join("testdata", "qwen3_tokenizer_config.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Decoder map[string]struct {
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens_decoder"`
		EOS string `json:"eos_token"`
		Pad string `json:"pad_token"`
	}
	if err := json.NewDecoder(zr).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Decoder) != len(tk.AddedTokens()) {
		t.Errorf("%d added tokens, the config has %d", len(tk.AddedTokens()), len(cfg.Decoder))
	}
	for ids, d := range cfg.Decoder {
		id, _ := strconv.Atoi(ids)
		if s, ok := tk.Token(id); !ok || s != d.Content {
			t.Errorf("Token(%d) = %q, %v; config says %q", id, s, ok, d.Content)
		}
		if got, ok := tk.TokenID(d.Content); !ok || got != id {
			t.Errorf("TokenID(%q) = %d, %v; config says %d", d.Content, got, ok, id)
		}
		if tk.IsSpecial(id) != d.Special {
			t.Errorf("IsSpecial(%d) = %v; config says %v", id, tk.IsSpecial(id), d.Special)
		}
	}
	if id, _ := tk.TokenID(cfg.EOS); id != 151645 {
		t.Errorf("eos %q has id %d", cfg.EOS, id)
	}
	if id, _ := tk.TokenID(cfg.Pad); id != 151643 {
		t.Errorf("pad %q has id %d", cfg.Pad, id)
	}
	if got := tk.SpecialIDs(); len(got) != 14 || got[0] != 151643 || got[13] != 151656 {
		t.Errorf("SpecialIDs = %v", got)
	}
	if s, ok := tk.Token(9707); !ok || s != "Hello" {
		t.Errorf("Token(9707) = %q", s)
	}
	if _, ok := tk.Token(-1); ok {
		t.Error("Token(-1) exists")
	}
	if _, ok := tk.Token(tk.VocabSize()); ok {
		t.Error("Token(VocabSize()) exists")
	}
	if _, ok := tk.TokenID("no such token"); ok {
		t.Error("TokenID of an unknown token")
	}
}

func TestInvalidUTF8(t *testing.T) {
	tk := loadTokenizer(t, "qwen3")
	for _, c := range []struct{ bad, good string }{
		{"a\xffb", "a\uFFFDb"},
		{"\xe2\x82", "\uFFFD"},                       // truncated sequence: one replacement
		{"\xe2\x82x\xc0\xaf", "\uFFFDx\uFFFD\uFFFD"}, // C0 is never valid
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // a surrogate: each byte
	} {
		if got, want := tk.Encode(c.bad), tk.Encode(c.good); !equalInts(got, want) {
			t.Errorf("Encode(%q) = %v, want %v (as %q)", c.bad, got, want, c.good)
		}
		if got := lossyString([]byte(c.bad)); got != c.good {
			t.Errorf("lossyString(%q) = %q, want %q", c.bad, got, c.good)
		}
	}
}

// TestMergePaths checks that the scanning and the priority-queue merges
// agree, on random words of Qwen3's vocabulary.
func TestMergePaths(t *testing.T) {
	tk := loadTokenizer(t, "qwen3")
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", "e", "t", "h", " ", "in", "er", "中", "é", "1", "\n", "😀"}
	st := new(encodeState)
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		n := 1 + rng.Intn(120)
		for k := 0; k < n; k++ {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		p := piece{s: b.String(), id: -1, bl: true}
		w1 := tk.model.initialSymbols(p, nil)
		w2 := append([]int32(nil), w1...)
		got1 := append([]int32(nil), tk.model.mergeScan(w1, st)...)
		got2 := tk.model.mergeHeap(w2, st)
		if len(got1) != len(got2) {
			t.Fatalf("%q: scan %v, heap %v", p.s, got1, got2)
		}
		for k := range got1 {
			if got1[k] != got2[k] {
				t.Fatalf("%q: scan %v, heap %v", p.s, got1, got2)
			}
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := loadTokenizer(t, "qwen3")
	ref := loadReference(t, "qwen3")
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(ref.Cases); i += 3 {
				c := ref.Cases[i]
				if !equalInts(tk.Encode(c.Text), c.IDs) {
					errs <- c.Text
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("concurrent Encode(%s) differs", short(s))
	}
}

func TestEmpty(t *testing.T) {
	tk := loadTokenizer(t, "qwen3")
	if got := tk.Encode(""); len(got) != 0 {
		t.Errorf("Encode(\"\") = %v", got)
	}
	if got := tk.Decode(nil, false); got != "" {
		t.Errorf("Decode(nil) = %q", got)
	}
}

// FuzzRoundTrip: with no normalizer and a byte-level decoder, decoding the
// ids gives the text back; and no input makes Encode fail on Qwen3.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "  \t\n x", "<|endoftext|>a", "é中😀", "\xff\xfe", "it's 123"} {
		f.Add(s)
	}
	gpt2 := loadTokenizer(f, "synth_gpt2")
	qwen := loadTokenizer(f, "qwen3")
	f.Fuzz(func(t *testing.T, s string) {
		ids := gpt2.Encode(s)
		want := lossyString([]byte(s))
		if got := gpt2.Decode(ids, false); got != want {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		for _, id := range qwen.Encode(s) {
			if _, ok := qwen.Token(id); !ok {
				t.Fatalf("Encode(%q) gave unknown id %d", s, id)
			}
		}
	})
}
