// Package hftok owns reading Hugging Face tokenizer.json files (the format
// of the `tokenizers` library) and encoding and decoding with them, so that
// remask can use the tokenizers of the LLaDA, Dream (Qwen2-style) and SDAR
// (Qwen3-style) checkpoints without Python.
//
// Supported, and checked against the Rust library on the references in
// testdata (gen_reference.js):
//
//   - model: BPE (byte-level or not), with vocab, merges in the "a b" and
//     [["a","b"]] forms, unk_token, fuse_unk, byte_fallback,
//     continuing_subword_prefix, end_of_word_suffix, ignore_merges;
//   - added_tokens with special, single_word, lstrip, rstrip, normalized,
//     matched in the text before anything else, as the library does;
//   - normalizers NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend,
//     Sequence;
//   - pre-tokenizers ByteLevel (add_prefix_space, use_regex), Split (String
//     or Regex pattern, every behavior, invert), Digits, Sequence;
//   - post-processors TemplateProcessing, ByteLevel, BertProcessing,
//     RobertaProcessing, Sequence (only the special tokens they add: see
//     EncodeWithSpecial);
//   - decoders ByteLevel, Replace, Strip, Fuse, ByteFallback, BPEDecoder,
//     Sequence.
//
// Anything else (another model type, Metaspace, WordPiece decoders, BPE
// dropout...) is refused by Parse with an error naming the component and its
// type, rather than tokenized differently from the library.
//
// Split patterns are matched the way the library's Oniguruma does. The
// patterns of GPT-2, Qwen2/Qwen3 and Llama-3 style tokenizers, which need
// look-ahead that Go's regexp lacks, have hand-written matchers (splitter.go);
// any other pattern runs on github.com/dlclark/regexp2, a backtracking engine.
//
// A Tokenizer is immutable after Parse and safe for concurrent use.
package hftok
