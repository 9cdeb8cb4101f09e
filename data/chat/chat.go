package chat

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Template is a compiled chat template; it is safe for concurrent use.
type Template struct {
	tmpl *jinja.Template
	vars map[string]any // special tokens and the like, as Hugging Face passes them
}

// Compile compiles a template's source. vars are the names the template
// may read besides messages and add_generation_prompt (Hugging Face passes
// the special tokens: bos_token, eos_token, ...).
func Compile(src string, vars map[string]any) (*Template, error) {
	t, err := jinja.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("chat template: %s", oneLine(err.Error()))
	}
	return &Template{tmpl: t, vars: vars}, nil
}

// Render lays out msgs; addGenerationPrompt appends the start of the
// assistant's turn, which is what a prompt for sampling needs.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	data := make(map[string]any, len(t.vars)+2)
	for k, v := range t.vars {
		data[k] = v
	}
	list := make([]any, len(msgs))
	for i, m := range msgs {
		list[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	data["messages"] = list
	data["add_generation_prompt"] = addGenerationPrompt
	out, err := t.tmpl.Render(data)
	if err != nil {
		return "", fmt.Errorf("chat template: %s", oneLine(err.Error()))
	}
	return out, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// FromTokenizerConfig reads the chat template and the special tokens of a
// tokenizer_config.json. It returns a nil Template when the file has no
// chat_template. chat_template may be a string or Hugging Face's list of
// named templates, of which "default" is used.
func FromTokenizerConfig(data []byte) (*Template, map[string]string, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("tokenizer_config.json: %w", err)
	}
	specials := map[string]string{}
	vars := map[string]any{}
	for k, raw := range cfg {
		if !strings.HasSuffix(k, "_token") {
			continue
		}
		s, ok := tokenContent(raw)
		if !ok {
			continue
		}
		specials[k] = s
		vars[k] = s
	}
	raw, ok := cfg["chat_template"]
	if !ok || string(raw) == "null" {
		return nil, specials, nil
	}
	var src string
	if err := json.Unmarshal(raw, &src); err != nil {
		var named []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		}
		if err := json.Unmarshal(raw, &named); err != nil {
			return nil, nil, fmt.Errorf("tokenizer_config.json: chat_template is neither a string nor a list of {name, template}")
		}
		for _, n := range named {
			if n.Name == "default" {
				src = n.Template
			}
		}
		if src == "" {
			return nil, nil, fmt.Errorf("tokenizer_config.json: chat_template lists no template named default")
		}
	}
	t, err := Compile(src, vars)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer_config.json: %w", err)
	}
	return t, specials, nil
}

// tokenContent reads a special token as tokenizer_config.json writes it: a
// string or an AddedToken object with content.
func tokenContent(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Content != nil {
		return *obj.Content, true
	}
	return "", false
}
