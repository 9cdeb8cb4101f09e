// Package configs is the run schema: one YAML file describes a run
// (docs/architecture.md, "Configs"). Each section's type sits beside its defaults, and every field
// has a one-line doc. Load reads a file with viper, applies `--set key=value`
// overrides and validates. Keys are checked against the structs' yaml tags, so
// a section added to Config brings its keys along. Unknown keys, wrong types
// and out-of-range values are errors that name the file and line (or the
// --set that gave the value) and the dotted field path; Validate's FieldErrors
// carry the paths for callers. ParseStored reads the config a run store kept,
// dropping fields a later version removed. The YAML recipes users copy live
// here too.
package configs
