package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const minimal = "data: {task: sudoku4x4, train: gen:10}\n"

func TestDefaultsAndRecipes(t *testing.T) {
	if _, err := Parse("min.yaml", []byte(minimal), nil); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 5 {
		t.Fatalf("recipes: %v", files)
	}
	for _, f := range files {
		if _, err := Load(f, nil); err != nil {
			t.Errorf("recipe %s: %v", f, err)
		}
	}
}

func TestErrorsNameFileFieldLine(t *testing.T) {
	cases := []struct {
		yaml string
		want []string
	}{
		{minimal + "optim:\n  lrr: 0.1\n", []string{"bad.yaml:3", `unknown field "optim.lrr"`, `did you mean "optim.lr"`}},
		{minimal + "train: {steps: ten}\n", []string{"bad.yaml:2", "field train.steps", "want an integer"}},
		{minimal + "train: {steps: 1.5}\n", []string{"field train.steps", "want an integer"}},
		{minimal + "optim: {lr: 2}\n", []string{"bad.yaml", "field optim.lr", "(0, 1)"}},
		{minimal + "optim: {schedule: linear}\n", []string{"field optim.schedule", `"linear"`}},
		{minimal + "model: {preset: huge}\n", []string{"model.preset", `"huge"`}},
		{minimal + "model: {heads: 3}\n", []string{"model.heads"}},
		{minimal + "model: {preset: '', d: 64}\n", []string{"d, layers, heads and ff are all required"}},
		{minimal + "optim: {warmup: 5000}\n", []string{"optim.warmup"}},
		{minimal + "run: [1, 2]\n", []string{"bad.yaml:2", "field run", "mapping"}},
		{minimal + "objective: 3\n", []string{"field objective", "want a string"}},
		{"data: {task: sudoku4x4}\n", []string{"data.train", "required"}},
		{minimal + "train: {steps: 10\n", []string{"bad.yaml", "line"}},
		{minimal + "sample: {temperature: -1}\n", []string{"sample.temperature"}},
	}
	for _, c := range cases {
		_, err := Parse("bad.yaml", []byte(c.yaml), nil)
		if err == nil {
			t.Errorf("%q: accepted", c.yaml)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", c.yaml, err, w)
			}
		}
	}
}

func TestOverrides(t *testing.T) {
	c, err := Parse("o.yaml", []byte(minimal), []string{"train.steps=42", "optim.lr=0.01", "run.name=x", "sample.temperature=1", "model.init_from="})
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Steps != 42 || c.Optim.LR != 0.01 || c.Run.Name != "x" || c.Sample.Temperature != 1 {
		t.Fatalf("%+v", c)
	}
	for o, want := range map[string]string{
		"train.stepz=1":  `did you mean "train.steps"`,
		"train.steps=ab": "want an integer",
		"train=3":        "a section",
		"noequals":       "key=value",
		"optim.lr=5":     "optim.lr",
	} {
		_, err := Parse("o.yaml", []byte(minimal), []string{o})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want %q", o, err, want)
		}
		if err != nil && !strings.Contains(o, "lr=5") && !strings.Contains(err.Error(), "--set") {
			t.Errorf("--set %s: error %q does not say --set", o, err)
		}
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	c, err := Load("sudoku-sft.yaml", []string{"optim.lr=0.00123"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("stored", y, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip:\n%+v\n%+v", c, back)
	}
}

func TestPresets(t *testing.T) {
	s, err := Model{Preset: "small", FF: 100}.Resolved()
	if err != nil || s != (ModelShape{D: 256, Layers: 6, Heads: 8, FF: 100}) {
		t.Fatal(s, err)
	}
	if _, err := (Model{D: 64, Layers: 2, Heads: 4, FF: 96}).Resolved(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !os.IsNotExist(errorsUnwrap(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func errorsUnwrap(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
