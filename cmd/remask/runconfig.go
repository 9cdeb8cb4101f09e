package main

import (
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/trainer"
)

// loadRunConfig is configs.Load for train and probe. When model.init_from
// names the store of an imported Hugging Face model (or a run from one),
// the model fields the file and --set leave out come from that store's
// config: `model: {init_from: runs/dream.db}` is a complete model section.
func loadRunConfig(file string, overrides []string) (configs.Config, error) {
	if from := initFromOf(file, overrides); from != "" {
		if m, ok := trainer.ImportedModel(from); ok {
			return configs.LoadOver(file, overrides, m)
		}
	}
	return configs.Load(file, overrides)
}

// initFromOf is model.init_from as the file and the overrides set it, read
// without validating anything ("" when unset or unreadable: configs.Load
// then reports what is wrong).
func initFromOf(file string, overrides []string) string {
	var doc struct {
		Model struct {
			InitFrom string `yaml:"init_from"`
		} `yaml:"model"`
	}
	if b, err := os.ReadFile(file); err == nil {
		_ = yaml.Unmarshal(b, &doc)
	}
	from := doc.Model.InitFrom
	for _, o := range overrides {
		if v, ok := strings.CutPrefix(o, "model.init_from="); ok {
			from = v
		}
	}
	return from
}
