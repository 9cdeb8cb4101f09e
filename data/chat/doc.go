// Package chat owns rendering a Hugging Face checkpoint's chat template: the
// Jinja program in tokenizer_config.json's chat_template that turns a list
// of messages into the text an instruct model was trained on.
//
// Templates run on github.com/ardanlabs/jinja, a Go Jinja written for chat
// templates (with Hugging Face's trim_blocks and lstrip_blocks defaults,
// raise_exception and strftime_now). Renders are checked byte for byte
// against npm @huggingface/jinja, the implementation transformers.js uses,
// on LLaDA's, Qwen2.5's (Dream's) and Qwen3's real templates (testdata,
// gen_reference.js).
package chat
