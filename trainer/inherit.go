package trainer

import (
	"github.com/remask/remask/configs"
	"github.com/remask/remask/model"
)

// ImportedModel is the model section of the store "RUN.db[:STEP]" when it
// holds a Hugging Face family's model (an import, or a run from one), with
// init_from cleared; ok is false for remask's own models and for anything
// that cannot be read (the run then reports it where it reads init_from).
func ImportedModel(ref string) (m configs.Model, ok bool) {
	cfg, err := storedConfig(ref)
	if err != nil || cfg.Model.Family == model.FamilyRemask || cfg.Model.Family == "" {
		return m, false
	}
	m = cfg.Model
	m.InitFrom = ""
	return m, true
}
