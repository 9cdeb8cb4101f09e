// Package reward scores completions (DESIGN.md section 5). A Reward maps a
// completion, its prompt and the example's reference fields to a score; a
// registry maps names to rewards, so a Go reward is one file with one
// Register call; Combine weighs several and keeps each component for the
// logs. The built-ins follow the published recipes' scoring exactly.
package reward
