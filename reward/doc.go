// Package reward scores completions (docs/architecture.md, "Rewards"). A Reward maps a
// completion, its prompt and the example's reference fields to a score; a
// Batcher scores a batch at once and may report details. A registry maps
// names to rewards, so a Go reward is one file with one Register call;
// Combine and CombineBatch weigh several, keep each component for the logs
// and give a failing component its failure score, or return the error that
// ends the run (one that wraps ErrAbort). Exec runs a reward program in any
// language over JSON lines, restarting it with a back-off when it fails, and
// ends the run when it cannot start or fails too often in a row. The
// built-ins reproduce the published recipes' scoring (d1's GSM8K, countdown,
// sudoku and MATH rewards, DiffuCoder's code rewards, which run model-written
// code in package sandbox); README.md documents them, the plugin protocol
// and the sandbox.
package reward
