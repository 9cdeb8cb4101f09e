package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hfFiles reads the files of a model folder in model/testdata/hf.
func hfFiles(t *testing.T, name string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	dir := filepath.Join("..", "model", "testdata", "hf", name)
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "config.json", "generation_config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil {
			files[f] = b
		}
	}
	return files
}

func TestHFTokenizer(t *testing.T) {
	files := hfFiles(t, "dream_chat")
	tok, err := NewHFTokenizer(files, 355)
	if err != nil {
		t.Fatal(err)
	}
	// ids from the folder's files: 352 <|endoftext|> (eos, pad), 353
	// <|im_start|>, 354 <|im_end|> (generation_config's eos), 355 <|mask|>
	if tok.Size() != 356 || tok.EOSID() != 352 || tok.PadID() != 352 || tok.MaskID() != 355 || tok.BOSID() != -1 || !tok.HasChatTemplate() {
		t.Fatalf("size %d eos %d pad %d mask %d bos %d", tok.Size(), tok.EOSID(), tok.PadID(), tok.MaskID(), tok.BOSID())
	}
	var _ Tokenizer = tok
	var _ PromptEncoder = tok
	s := "Mia has 12 marbles, café!\n<|im_end|>"
	ids, _ := tok.Encode(s)
	if ids[len(ids)-1] != 354 || tok.Decode(ids) != s {
		t.Fatalf("encode %v decodes to %q", ids, tok.Decode(ids))
	}
	// a completion: text, a masked position, <|im_end|> ends it
	a, _ := tok.Encode("x = 4")
	comp := append(append(append([]int{}, a...), 355), a...)
	comp = append(comp, 354, a[0], 352)
	if got := tok.DecodeAnswer(comp); got != "x = 4?x = 4" {
		t.Fatalf("DecodeAnswer %q", got)
	}
	// ids past the tokenizer (the model's padded embedding rows)
	if got := tok.Decode([]int{a[0], 380, a[0]}); got != "x<380>x" {
		t.Fatalf("Decode %q", got)
	}
	// prompts go through Qwen2.5's template (Dream's): its default system
	// message, the user turn, the generation prompt
	p, err := EncodePrompt(tok, Example{Prompt: "What is 2+3?"})
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"
	if got := tok.Decode(p); got != want {
		t.Fatalf("prompt %q\nwant %q", got, want)
	}
	// SFT: prompt, answer, then <|endoftext|> padding
	seq, err := EncodeSFT(tok, Example{Prompt: "What is 2+3?", Answer: "5"}, len(p)+4)
	if err != nil || seq.PromptLen != len(p) || seq.IDs[len(p)+1] != 352 || seq.IDs[len(p)+3] != 352 {
		t.Fatalf("SFT %v %v", seq, err)
	}
	// pretraining: no <bos>, <|endoftext|>, then padding hidden by Valid
	pre, err := EncodePretrain(tok, Example{Prompt: "ab"}, 8)
	if err != nil || pre.IDs[len(pre.IDs)-1] != 352 || pre.Valid == nil || pre.Valid[7] {
		t.Fatalf("pretrain %v %v", pre, err)
	}
}

func TestHFTokenizerBadFiles(t *testing.T) {
	good := hfFiles(t, "dream_chat")
	with := func(name, content string) map[string][]byte {
		f := map[string][]byte{}
		for k, v := range good {
			f[k] = v
		}
		if content == "" {
			delete(f, name)
		} else {
			f[name] = []byte(content)
		}
		return f
	}
	for _, c := range []struct {
		files map[string][]byte
		want  string
	}{
		{with("tokenizer.json", ""), "tokenizer.json is missing"},
		{with("tokenizer.json", `{"model": {"type": "WordPiece", "vocab": {}}}`), `tokenizer.json: hftok: model: unsupported model type "WordPiece"`},
		{with("tokenizer_config.json", `{"chat_template": "{% if %}"}`), "tokenizer_config.json: chat template"},
		{with("tokenizer_config.json", `{"eos_token": "<nope>"}`), `eos_token "<nope>" is not a token`},
		{with("generation_config.json", `{"eos_token_id": "x"}`), "generation_config.json: eos_token_id"},
	} {
		_, err := NewHFTokenizer(c.files, 355)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v, want one line with %q", err, c.want)
		}
	}
	// a template that compiles but fails to render is refused at once
	_, err := NewHFTokenizer(with("tokenizer_config.json", `{"eos_token": "<|endoftext|>", "chat_template": "{{ raise_exception('no system role') }}"}`), 355)
	if err == nil || !strings.Contains(err.Error(), "tokenizer_config.json: chat template") || !strings.Contains(err.Error(), "no system role") {
		t.Fatal(err)
	}
}

// Without tokenizer_config.json the ids come from config.json (a list of
// end ids, no pad); a tokenizer without a chat template puts <bos> first
// where add_bos_token says so. Added tokens not in the vocabulary are
// numbered after it, as the library does (the file's ids are not used).
func TestHFTokenizerIDs(t *testing.T) {
	tj := `{"version": "1.0", "added_tokens": [{"id": 10, "content": "<e>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
		{"id": 11, "content": "<s>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}],
		"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}, "merges": []}}`
	tok, err := NewHFTokenizer(map[string][]byte{"tokenizer.json": []byte(tj), "config.json": []byte(`{"eos_token_id": [3, 2], "pad_token_id": null}`)}, 9)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Size() != 5 || tok.EOSID() != 3 || tok.PadID() != 3 || tok.BOSID() != -1 || tok.HasChatTemplate() {
		t.Fatalf("size %d eos %d pad %d bos %d", tok.Size(), tok.EOSID(), tok.PadID(), tok.BOSID())
	}
	if got := tok.DecodeAnswer([]int{0, 1, 9, 2, 0}); got != "a b?" { // no decoder: tokens joined by spaces, as the library does; config.json's second end id ends it too
		t.Fatalf("DecodeAnswer %q", got)
	}
	tok, err = NewHFTokenizer(map[string][]byte{"tokenizer.json": []byte(tj), "tokenizer_config.json": []byte(`{"eos_token": "<e>", "bos_token": {"content": "<s>"}, "add_bos_token": true}`)}, 9)
	if err != nil {
		t.Fatal(err)
	}
	p, err := EncodePrompt(tok, Example{Prompt: "ab"})
	if err != nil || len(p) != 3 || p[0] != 4 || tok.BOSID() != 4 || tok.EOSID() != 3 {
		t.Fatalf("prompt %v %v", p, err)
	}
	if _, err := NewHFTokenizer(map[string][]byte{"tokenizer.json": []byte(tj)}, 9); err == nil || !strings.Contains(err.Error(), "no end-of-text token") {
		t.Fatal(err)
	}
}
