package chat

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type reference map[string]struct {
	Template string            `json:"template"`
	Vars     map[string]string `json:"vars"`
	Cases    []struct {
		Messages            []Message `json:"messages"`
		AddGenerationPrompt bool      `json:"add_generation_prompt"`
		Output              string    `json:"output"`
	} `json:"cases"`
}

// Every render of LLaDA's, Qwen2.5's and Qwen3's templates equals
// @huggingface/jinja's byte for byte (testdata/gen_reference.mjs).
func TestRenderMatchesHuggingFaceJinja(t *testing.T) {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref) != 3 {
		t.Fatalf("reference has %d templates, want 3", len(ref))
	}
	n := 0
	for name, r := range ref {
		vars := map[string]any{}
		for k, v := range r.Vars {
			vars[k] = v
		}
		tmpl, err := Compile(r.Template, vars)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, c := range r.Cases {
			got, err := tmpl.Render(c.Messages, c.AddGenerationPrompt)
			if err != nil {
				t.Errorf("%s case %d: %v", name, i, err)
				continue
			}
			if got != c.Output {
				t.Errorf("%s case %d (generation prompt %v):\n got %q\nwant %q", name, i, c.AddGenerationPrompt, got, c.Output)
			}
			n++
		}
	}
	if n < 60 {
		t.Fatalf("%d renders compared", n)
	}
}

func TestFromTokenizerConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/llada_tokenizer_config.json")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, sp, err := FromTokenizerConfig(b)
	if err != nil || tmpl == nil {
		t.Fatal(tmpl, err)
	}
	if sp["bos_token"] != "<|startoftext|>" || sp["eos_token"] != "<|endoftext|>" {
		t.Fatalf("specials %v", sp)
	}
	got, err := tmpl.Render([]Message{{"user", " hi "}}, true)
	if want := "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"; err != nil || got != want {
		t.Fatalf("render %q, %v; want %q", got, err, want)
	}
	// AddedToken objects, named templates, no template
	cfg := `{"eos_token": {"content": "</s>", "special": true}, "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ eos_token }}"}]}`
	tmpl, sp, err = FromTokenizerConfig([]byte(cfg))
	if err != nil || sp["eos_token"] != "</s>" {
		t.Fatal(sp, err)
	}
	if got, _ := tmpl.Render(nil, false); got != "</s>" {
		t.Fatalf("named default template rendered %q", got)
	}
	if tmpl, _, err := FromTokenizerConfig([]byte(`{"bos_token": null}`)); tmpl != nil || err != nil {
		t.Fatal(tmpl, err)
	}
	for _, c := range []struct{ cfg, want string }{
		{`{"chat_template": "{% for %}"}`, "chat template"},
		{`{"chat_template": 3}`, "neither a string"},
		{`{"chat_template": [{"name": "x", "template": "y"}]}`, "no template named default"},
		{`{`, "tokenizer_config.json"},
	} {
		if _, _, err := FromTokenizerConfig([]byte(c.cfg)); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", c.cfg, err, c.want)
		}
	}
	// a template that fails at render time (raise_exception) is an error
	tmpl, err = Compile("{{ raise_exception('only user and assistant roles') }}", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(nil, true); err == nil || !strings.Contains(err.Error(), "only user and assistant roles") {
		t.Fatalf("raise_exception: %v", err)
	}
}
