package trainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
)

// TokenizerFiles are the files of a Hugging Face folder that a tokenizer is
// built from (tokenizer.json required).
var TokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "config.json", "generation_config.json"}

// NewTokenizer builds the tokenizer of a config's model. model.vocab char is
// remask's character vocabulary (files unused). hf is the Hugging Face
// tokenizer built from files: those a run store keeps (StoreFiles). A path
// to a tokenizer.json reads that file and the tokenizer_config.json,
// config.json and generation_config.json beside it instead.
func NewTokenizer(cfg configs.Config, files map[string][]byte) (data.Tokenizer, error) {
	switch v := cfg.Model.Vocab; {
	case v == "char" || v == "":
		return data.NewDefaultTokenizer(), nil
	case v != "hf" && files == nil:
		var err error
		if files, err = folderTokenizerFiles(v); err != nil {
			return nil, err
		}
	case v == "hf" && files["tokenizer.json"] == nil:
		return nil, fmt.Errorf("model.vocab hf: the run store keeps no tokenizer.json (the folder it was imported from had none)")
	}
	tok, err := data.NewHFTokenizer(files, cfg.Model.MaskID)
	if err != nil {
		return nil, fmt.Errorf("model.vocab %s: %w", cfg.Model.Vocab, err)
	}
	if tok.Size() > cfg.Model.VocabSize {
		return nil, fmt.Errorf("model.vocab %s: the tokenizer has %d tokens, more than the model's %d (model.vocab_size)", cfg.Model.Vocab, tok.Size(), cfg.Model.VocabSize)
	}
	if m := cfg.Model.MaskID; m >= cfg.Model.VocabSize {
		return nil, fmt.Errorf("model.mask_id %d is outside the model's %d token ids", m, cfg.Model.VocabSize)
	}
	return tok, nil
}

// folderTokenizerFiles reads a tokenizer.json and the files of
// TokenizerFiles beside it.
func folderTokenizerFiles(path string) (map[string][]byte, error) {
	if !strings.HasSuffix(path, ".json") {
		return nil, fmt.Errorf("model.vocab %q: want char, hf or the path of a tokenizer.json", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	files := map[string][]byte{"tokenizer.json": b}
	for _, name := range TokenizerFiles[1:] {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("model.vocab: %w", err)
		}
		files[name] = b
	}
	return files, nil
}

// StoreFiles reads the files a run store keeps (an imported model's
// tokenizer and config files) from "RUN.db[:STEP]".
func StoreFiles(ref string) (map[string][]byte, error) {
	path, _, _, err := checkpoint.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	st, err := checkpoint.OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Files()
}

// runTokenizer is a training run's tokenizer: with model.vocab hf, that of
// the store it resumes, else of the store model.init_from names (an
// imported model's).
func runTokenizer(cfg configs.Config, opt Options) (data.Tokenizer, error) {
	files, err := tokenizerSourceFiles(cfg, opt)
	if err != nil {
		return nil, err
	}
	return NewTokenizer(cfg, files)
}

// tokenizerSourceFiles are the files a run's tokenizer is built from and its
// store keeps (nil for the char vocabulary).
func tokenizerSourceFiles(cfg configs.Config, opt Options) (map[string][]byte, error) {
	var files map[string][]byte
	switch v := cfg.Model.Vocab; {
	case v == "char" || v == "":
		return nil, nil
	case v != "hf":
		return folderTokenizerFiles(v)
	default:
		src := cfg.Model.InitFrom
		if opt.Resume {
			src = StorePath(cfg)
		}
		if src == "" {
			return nil, fmt.Errorf("model.vocab hf: the tokenizer comes from the store model.init_from names (one `remask ckpt import --hf` wrote); model.init_from is empty")
		}
		var err error
		if files, err = StoreFiles(src); err != nil {
			return nil, fmt.Errorf("model.vocab hf: %w", err)
		}
	}
	return files, nil
}
