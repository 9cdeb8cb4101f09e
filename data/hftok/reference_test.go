package hftok

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// The reference files are written by testdata/gen_reference.js with
// Hugging Face's tokenizers (the Rust library through its node bindings).
var referenceNames = []string{"qwen3", "synth_gpt2", "synth_llada", "synth_digits", "synth_splits", "synth_fallback", "synth_suffix"}

type refCase struct {
	Text        string   `json:"text"`
	IDs         []int    `json:"ids"`
	Decoded     string   `json:"decoded"`
	DecodedSkip *string  `json:"decoded_skip"`
	Pre         []string `json:"pre"`
}

type refDecode struct {
	IDs  []int  `json:"ids"`
	Skip bool   `json:"skip"`
	Text string `json:"text"`
}

type reference struct {
	TokenizersVersion  string      `json:"tokenizers_version"`
	VocabSize          int         `json:"vocab_size"`
	VocabSizeWithAdded int         `json:"vocab_size_with_added"`
	Cases              []refCase   `json:"cases"`
	Decodes            []refDecode `json:"decodes"`
	WithSpecial        []struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	} `json:"with_special"`
}

var (
	loaded   sync.Map // name -> *Tokenizer
	loadedMu sync.Mutex
)

func tokenizerFile(name string) string {
	return filepath.Join("testdata", name+"_tokenizer.json.gz")
}

// loadTokenizer loads a testdata tokenizer once per test binary.
func loadTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tk, ok := loaded.Load(name); ok {
		return tk.(*Tokenizer)
	}
	tk, err := Load(tokenizerFile(name))
	if err != nil {
		t.Fatal(err)
	}
	loaded.Store(name, tk)
	return tk
}

func loadReference(t testing.TB, name string) *reference {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+"_reference.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.NewDecoder(zr).Decode(&r); err != nil {
		t.Fatalf("%s reference: %v", name, err)
	}
	return &r
}

func short(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%q... (%d bytes)", s[:120], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// describeMismatch shows where two id lists part, with the tokens around.
func describeMismatch(tk *Tokenizer, want, got []int) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	show := func(ids []int) string {
		lo, hi := max(0, i-3), min(len(ids), i+4)
		var parts []string
		for k := lo; k < hi; k++ {
			s, _ := tk.Token(ids[k])
			mark := ""
			if k == i {
				mark = ">>"
			}
			parts = append(parts, fmt.Sprintf("%s%d:%q", mark, ids[k], s))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprintf("first difference at id %d (of %d wanted, %d got)\n  want: %s\n  got:  %s", i, len(want), len(got), show(want), show(got))
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// preTokenize is the pre-tokenizer alone on text, as the library's
// pre_tokenize_str shows it.
func preTokenize(tk *Tokenizer, text string) []string {
	st := new(encodeState)
	pieces := []piece{{s: text, id: -1}}
	for _, pt := range tk.pre {
		var out []piece
		for _, p := range pieces {
			out = pt.split(p, out, st)
		}
		pieces = out
	}
	strs := make([]string, len(pieces))
	for i, p := range pieces {
		strs[i] = plain(p)
	}
	return strs
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// newerUnicode says whether s has a letter or number that Go's unicode
// tables (older than the library's Unicode 16.0) do not know as such;
// regexp2 reads \p{...} from those tables.
func newerUnicode(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) != unicode.Is(letter16, r) || unicode.IsNumber(r) != unicode.Is(number16, r) {
			return true
		}
	}
	return false
}

// usesRegexp2 says whether a pattern of tk runs on regexp2.
func usesRegexp2(tk *Tokenizer) bool {
	is := func(m matcher) bool { _, ok := m.(regexMatcher); return ok }
	for _, p := range tk.pre {
		switch p := p.(type) {
		case *splitPre:
			if is(p.m) {
				return true
			}
		case *byteLevelPre:
			if p.re != nil && is(p.re) {
				return true
			}
		}
	}
	var norm func(n normalizer) bool
	norm = func(n normalizer) bool {
		switch n := n.(type) {
		case seqNorm:
			for _, x := range n {
				if norm(x) {
					return true
				}
			}
		case replaceNorm:
			return is(n.m)
		}
		return false
	}
	return norm(tk.norm)
}

// checkReference compares tk with one reference file and returns how many
// strings agree on pre-tokens, ids and both decodes, and how many were
// skipped: those with Unicode 15.1 or 16.0 letters or numbers, when a
// pattern runs on regexp2.
func checkReference(t *testing.T, tk *Tokenizer, ref *reference) (agree, skipped int) {
	t.Helper()
	skipNewer := usesRegexp2(tk)
	for i, c := range ref.Cases {
		if skipNewer && newerUnicode(c.Text) {
			skipped++
			continue
		}
		got := tk.Encode(c.Text)
		ok := true
		if c.Pre != nil {
			if pre := preTokenize(tk, c.Text); !equalStrings(pre, c.Pre) {
				k := 0
				for k < len(pre) && k < len(c.Pre) && pre[k] == c.Pre[k] {
					k++
				}
				t.Errorf("case %d: pre-tokens of %s part at %d:\n  want %q\n  got  %q", i, short(c.Text), k,
					c.Pre[k:min(k+4, len(c.Pre))], pre[k:min(k+4, len(pre))])
				ok = false
			}
		}
		if !equalInts(got, c.IDs) {
			t.Errorf("case %d: Encode(%s):\n%s", i, short(c.Text), describeMismatch(tk, c.IDs, got))
			ok = false
		}
		if d := tk.Decode(c.IDs, false); d != c.Decoded {
			t.Errorf("case %d: Decode(ids of %s, false) = %s, want %s", i, short(c.Text), short(d), short(c.Decoded))
			ok = false
		}
		wantSkip := c.Decoded
		if c.DecodedSkip != nil {
			wantSkip = *c.DecodedSkip
		}
		if d := tk.Decode(c.IDs, true); d != wantSkip {
			t.Errorf("case %d: Decode(ids of %s, true) = %s, want %s", i, short(c.Text), short(d), short(wantSkip))
			ok = false
		}
		if ok {
			agree++
		}
		if t.Failed() && i > 0 && !ok {
			t.Fatalf("stopping at the first failing case (%d of %d)", i, len(ref.Cases))
		}
	}
	return agree, skipped
}

func TestReference(t *testing.T) {
	for _, name := range referenceNames {
		t.Run(name, func(t *testing.T) {
			tk := loadTokenizer(t, name)
			ref := loadReference(t, name)
			if got := tk.ModelVocabSize(); got != ref.VocabSize {
				t.Errorf("ModelVocabSize = %d, want %d", got, ref.VocabSize)
			}
			if got := tk.VocabSize(); got != ref.VocabSizeWithAdded {
				t.Errorf("VocabSize = %d, want %d", got, ref.VocabSizeWithAdded)
			}
			agree, skipped := checkReference(t, tk, ref)
			for i, d := range ref.Decodes {
				if got := tk.Decode(d.IDs, d.Skip); got != d.Text {
					t.Fatalf("decode %d: Decode(%v, %v) = %s, want %s", i, d.IDs, d.Skip, short(got), short(d.Text))
				}
			}
			for i, w := range ref.WithSpecial {
				if got := tk.EncodeWithSpecial(w.Text); !equalInts(got, w.IDs) {
					t.Fatalf("with_special %d: EncodeWithSpecial(%s):\n%s", i, short(w.Text), describeMismatch(tk, w.IDs, got))
				}
			}
			t.Logf("%s: %d/%d strings agree (pre-tokens, ids, decode, decode skipping specials), %d skipped (Unicode 15.1+ with regexp2); %d/%d id-sequence decodes, %d/%d with special tokens (tokenizers %s)",
				name, agree, len(ref.Cases)-skipped, skipped, len(ref.Decodes), len(ref.Decodes), len(ref.WithSpecial), len(ref.WithSpecial), ref.TokenizersVersion)
		})
	}
}

// TestReferenceGenericRegex runs the patterns that have hand-written
// matchers through regexp2 instead, on the same references.
func TestReferenceGenericRegex(t *testing.T) {
	for _, name := range []string{"synth_gpt2", "synth_llada", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			tk := genericCopy(t, loadTokenizer(t, name))
			ref := loadReference(t, name)
			agree, skipped := checkReference(t, tk, ref)
			t.Logf("%s with regexp2: %d/%d strings agree, %d skipped (Unicode 15.1+)", name, agree, len(ref.Cases)-skipped, skipped)
		})
	}
}

// genericCopy is tk with its hand-written matchers replaced by regexp2.
func genericCopy(t *testing.T, tk *Tokenizer) *Tokenizer {
	t.Helper()
	generic := func(m matcher) matcher {
		var pattern string
		switch m := m.(type) {
		case llamaMatcher:
			pattern = map[int]string{1: patternQwen2, 3: patternLlama3}[m.maxDigits]
		case gpt2Matcher:
			pattern = patternGPT2
		default:
			return m
		}
		forceGenericRegex = true
		defer func() { forceGenericRegex = false }()
		g, err := newRegexMatcher(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := g.(regexMatcher); !ok {
			t.Fatalf("%q did not compile with regexp2", pattern)
		}
		return g
	}
	c := &Tokenizer{model: tk.model, added: tk.added, norm: tk.norm, post: tk.post, dec: tk.dec}
	c.states.New = func() any { return new(encodeState) }
	replaced := 0
	for _, p := range tk.pre {
		switch p := p.(type) {
		case *splitPre:
			q := *p
			q.m = generic(p.m)
			c.pre = append(c.pre, &q)
			replaced++
		case *byteLevelPre:
			q := *p
			if q.re != nil {
				q.re = generic(q.re)
				replaced++
			}
			c.pre = append(c.pre, &q)
		default:
			c.pre = append(c.pre, p)
		}
	}
	if replaced == 0 {
		t.Fatal("no matcher to replace")
	}
	return c
}
