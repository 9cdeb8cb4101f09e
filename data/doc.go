// Package data owns what the model reads: the character tokenizer with its
// four fixed special tokens (tokenizer.go); the tasks and their correctness
// checks, sudoku 4x4 and countdown as d1 publishes them plus free text
// (task.go, sudoku.go, countdown.go); seeded generators for both puzzles;
// reading and writing d1's sudoku CSV and countdown JSONL (load.go,
// write.go); and the encoding of examples into fixed-length sequences with
// an epoch iterator whose cursor makes a resumed run see the same batches
// (batch.go).
//
// Nothing here reads global randomness: generators take a *rand.Rand, and
// Load and the Iterator seed their own from the values they are given.
package data
