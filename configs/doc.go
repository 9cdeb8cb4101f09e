// Package configs is the run schema: one YAML file describes a run (DESIGN.md
// section 8). Each section's type sits beside its defaults, and every field
// has a one-line doc. Load reads a file with viper, applies `--set key=value`
// overrides and validates; unknown keys, wrong types and out-of-range values
// are errors that name the file, the field path and, where it has one, the
// line. The YAML recipes users copy live in this folder too.
package configs
