// Package data owns what the model reads: the character tokenizer with its
// special tokens, the task formats as published (d1's sudoku CSV and countdown
// JSONL), seeded generators for sudoku 4x4 and countdown, the correctness
// check of each task, and the encoding of examples into fixed-length
// sequences with an epoch iterator whose cursor makes resumes exact.
package data
