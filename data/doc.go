// Package data owns what the model reads: the Tokenizer interface, with
// remask's character tokenizer and its four fixed special tokens
// (tokenizer.go) and a Hugging Face checkpoint's tokenizer (hf.go: BPE from
// data/hftok, chat template from data/chat, special ids from the
// checkpoint's files); the tasks and their correctness checks, sudoku 4x4
// and countdown as d1 publishes them, GSM8K (gsm8k.go) plus free text
// (task.go, sudoku.go, countdown.go); seeded generators for both puzzles;
// reading and writing d1's sudoku CSV and countdown JSONL, GSM8K JSONL
// (load.go, write.go); and the encoding of examples into fixed-length sequences with
// an epoch iterator whose cursor makes a resumed run see the same batches
// (batch.go).
//
// Nothing here reads global randomness: generators take a *rand.Rand, and
// Load and the Iterator seed their own from the values they are given.
package data
