package data

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/remask/remask/data/chat"
	"github.com/remask/remask/data/hftok"
)

// HFTokenizer is a Hugging Face checkpoint's tokenizer: tokenizer.json
// (byte-level BPE, data/hftok), the special tokens and chat template of
// tokenizer_config.json, and the ids of config.json and
// generation_config.json. Prompts go through the chat template when there
// is one.
type HFTokenizer struct {
	tok      *hftok.Tokenizer
	chat     *chat.Template // nil: prompts are encoded as they are
	size     int
	pad, eos int
	mask     int
	bos      int          // -1: none is put before plain prompts
	stop     map[int]bool // ids that end a completion
}

// NewHFTokenizer reads the files of a Hugging Face model folder (as an
// import keeps them in the run store): tokenizer.json is required,
// tokenizer_config.json, config.json and generation_config.json are read
// when present. maskID is the model's mask token (config.json's
// mask_token_id, model.mask_id). A chat template is compiled and rendered
// once, on a one-message conversation.
//
// The end-of-text id is tokenizer_config's eos_token, else config.json's
// eos_token_id; padding is pad_token (pad_token_id), else that id. A
// completion ends at the first of those or of generation_config's
// eos_token_id list.
func NewHFTokenizer(files map[string][]byte, maskID int) (*HFTokenizer, error) {
	raw, ok := files["tokenizer.json"]
	if !ok {
		return nil, fmt.Errorf("tokenizer.json is missing")
	}
	tok, err := hftok.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t := &HFTokenizer{tok: tok, size: tok.VocabSize(), mask: maskID, bos: -1, pad: -1, eos: -1, stop: map[int]bool{}}
	if maskID < 0 {
		return nil, fmt.Errorf("mask token id %d is negative", maskID)
	}
	specials := map[string]string{}
	if b, ok := files["tokenizer_config.json"]; ok {
		if t.chat, specials, err = chat.FromTokenizerConfig(b); err != nil {
			return nil, err
		}
	}
	id := func(field string) (int, error) {
		s, ok := specials[field]
		if !ok {
			return -1, nil
		}
		i, ok := tok.TokenID(s)
		if !ok {
			return -1, fmt.Errorf("tokenizer_config.json: %s %q is not a token of tokenizer.json", field, s)
		}
		return i, nil
	}
	if t.eos, err = id("eos_token"); err != nil {
		return nil, err
	}
	if t.pad, err = id("pad_token"); err != nil {
		return nil, err
	}
	var model, gen struct {
		EOS json.RawMessage `json:"eos_token_id"`
		Pad json.RawMessage `json:"pad_token_id"`
	}
	for name, dst := range map[string]any{"config.json": &model, "generation_config.json": &gen} {
		if b, ok := files[name]; ok {
			if err := json.Unmarshal(b, dst); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	modelEOS, err := idList("config.json", "eos_token_id", model.EOS)
	if err != nil {
		return nil, err
	}
	genEOS, err := idList("generation_config.json", "eos_token_id", gen.EOS)
	if err != nil {
		return nil, err
	}
	modelPad, err := idList("config.json", "pad_token_id", model.Pad)
	if err != nil {
		return nil, err
	}
	if t.eos < 0 && len(modelEOS) > 0 {
		t.eos = modelEOS[0]
	}
	if t.eos < 0 {
		return nil, fmt.Errorf("no end-of-text token: tokenizer_config.json has no eos_token and config.json no eos_token_id")
	}
	if t.pad < 0 && len(modelPad) > 0 {
		t.pad = modelPad[0]
	}
	if t.pad < 0 {
		t.pad = t.eos
	}
	for _, i := range append(append([]int{t.eos, t.pad}, modelEOS...), genEOS...) {
		t.stop[i] = true
	}
	if t.chat != nil {
		// the one conversation prompts use: a template that cannot render it
		// is unusable, better said now than at the first prompt
		if _, err := t.EncodeChat("1 + 1?"); err != nil {
			return nil, err
		}
	}
	if b, ok := specials["bos_token"]; ok && t.chat == nil && addBOS(files) {
		if i, ok := tok.TokenID(b); ok {
			t.bos = i
		}
	}
	return t, nil
}

// addBOS is tokenizer_config.json's add_bos_token (false when absent).
func addBOS(files map[string][]byte) bool {
	var c struct {
		AddBOS bool `json:"add_bos_token"`
	}
	json.Unmarshal(files["tokenizer_config.json"], &c) // already parsed once: a bad file was refused
	return c.AddBOS
}

// idList reads a token id field that may be a number or a list of numbers.
func idList(file, field string, raw json.RawMessage) ([]int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return []int{one}, nil
	}
	var many []int
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%s: %s is %s, want a token id or a list of them", file, field, raw)
	}
	return many, nil
}

// Size is the number of ids the tokenizer produces (added tokens included).
func (t *HFTokenizer) Size() int   { return t.size }
func (t *HFTokenizer) PadID() int  { return t.pad }
func (t *HFTokenizer) MaskID() int { return t.mask }
func (t *HFTokenizer) BOSID() int  { return t.bos }
func (t *HFTokenizer) EOSID() int  { return t.eos }

// HasChatTemplate says whether prompts go through a chat template.
func (t *HFTokenizer) HasChatTemplate() bool { return t.chat != nil }

// Encode is the library's encode(s, add_special_tokens=False): special
// tokens written in the text are recognised. It never fails.
func (t *HFTokenizer) Encode(s string) ([]int, error) { return t.tok.Encode(s), nil }

// EncodeChat lays out a prompt as one user message through the chat
// template with the generation prompt (apply_chat_template(...,
// add_generation_prompt=True) then encode without special tokens added);
// without a template, the prompt as it is, after <bos> where the tokenizer
// adds one.
func (t *HFTokenizer) EncodeChat(prompt string) ([]int, error) {
	if t.chat == nil {
		ids := t.tok.Encode(prompt)
		if t.bos >= 0 {
			ids = append([]int{t.bos}, ids...)
		}
		return ids, nil
	}
	text, err := t.chat.Render([]chat.Message{{Role: "user", Content: prompt}}, true)
	if err != nil {
		return nil, fmt.Errorf("tokenizer_config.json: %w", err)
	}
	return t.tok.Encode(text), nil
}

// Decode renders ids with their special tokens; ids the tokenizer does not
// have (a model's padded embedding rows) are shown as "<N>".
func (t *HFTokenizer) Decode(ids []int) string {
	var b strings.Builder
	run := make([]int, 0, len(ids))
	flush := func() {
		b.WriteString(t.tok.Decode(run, false))
		run = run[:0]
	}
	for _, id := range ids {
		if _, ok := t.tok.Token(id); ok {
			run = append(run, id)
			continue
		}
		flush()
		fmt.Fprintf(&b, "<%d>", id)
	}
	flush()
	return b.String()
}

// DecodeAnswer renders a completion up to its first end-of-text (or pad)
// id, skipping special tokens as decode(skip_special_tokens=True) does; a
// still-masked position reads "?".
func (t *HFTokenizer) DecodeAnswer(ids []int) string {
	var b strings.Builder
	run := make([]int, 0, len(ids))
	flush := func() {
		b.WriteString(t.tok.Decode(run, true))
		run = run[:0]
	}
	for _, id := range ids {
		if t.stop[id] {
			break
		}
		if id == t.mask {
			flush()
			b.WriteByte('?')
			continue
		}
		run = append(run, id)
	}
	flush()
	return b.String()
}
