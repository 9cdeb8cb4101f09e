// Package checkpoint is the run store: one bbolt file per run holding the
// resolved config, every checkpoint, the metrics and sample completions
// (docs/architecture.md, "The run store").
//
// A run creates its store once and saves checkpoints into it:
//
//	st, err := checkpoint.Create("runs/a.db", checkpoint.Meta{ConfigYAML: y, Seed: 1})
//	err = st.Save(&checkpoint.Checkpoint{Step: 100, Weights: ws, Optim: moments})
//	err = st.LogMetrics(100, map[string]float64{"loss": 0.4})
//
// and a resume or an inspection opens it:
//
//	st, err := checkpoint.OpenReadOnly("runs/a.db")
//	ck, err := st.Latest()
//
// A checkpoint is written in one transaction, so after a crash it is either
// whole or absent and the previous one is untouched. Every tensor carries a
// CRC-32C of its bytes, verified on load. Files that are not run stores, or
// that are truncated or corrupt, give errors wrapping ErrNotRunStore or
// ErrCorrupt, never a panic or a hang: Open walks the file's page tree before
// bbolt maps it, because bbolt follows a corrupt page cycle forever.
package checkpoint
