package configs

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/remask/remask/algos/unigrpo"
)

const minimal = "data: {task: sudoku4x4, train: gen:10}\n"

func TestDefaultsAreValidOnceDataIsGiven(t *testing.T) {
	c := Default()
	c.Data.Task, c.Data.Train = "sudoku4x4", "gen:10"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults plus data: %v", err)
	}
	// Without data the two required fields, and only they, are reported.
	var fes FieldErrors
	if err := Default().Validate(); !errors.As(err, &fes) {
		t.Fatalf("bare defaults: %v, want FieldErrors", err)
	}
	var got []string
	for _, f := range fes {
		got = append(got, f.Field)
	}
	if !reflect.DeepEqual(got, []string{"data.task", "data.train"}) {
		t.Fatalf("bare defaults report %v, want data.task and data.train", got)
	}
	d := Default()
	if d.Run != (Run{Name: "run", Dir: "runs", Seed: 1}) || d.Objective != "sft" ||
		d.Model.Preset != "tiny" || d.Model.Vocab != "char" || d.Model.MaxLen != 512 || d.Model.RopeTheta != 10000 || d.Model.NormEps != 1e-5 ||
		d.Data.EvalN != 200 ||
		d.Optim != (Optim{LR: 1e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, Schedule: "cosine", MinLRRatio: 0.1}) ||
		d.Train != (Train{Steps: 1000, Batch: 16, CkptEvery: 100, LogEvery: 10}) ||
		d.Sample.Remasking != "low_confidence" || d.Sample.Temperature != 0 {
		t.Fatalf("defaults differ from the documented ones: %+v", d)
	}
}

func TestEveryRecipeLoadsAndRoundTrips(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("recipes: %v %v", files, err)
	}
	for _, f := range files {
		c, err := Load(f, nil)
		if err != nil {
			t.Errorf("recipe %s: %v", f, err)
			continue
		}
		y, err := c.YAML()
		if err != nil {
			t.Fatalf("%s: YAML: %v", f, err)
		}
		back, err := Parse(f+" (stored)", y, nil)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%s: round trip: %v\n%+v\n%+v", f, err, c, back)
		}
	}
}

func TestRecipeContents(t *testing.T) {
	c, err := Load("sudoku-sft.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.Task != "sudoku4x4" || c.Data.Train != "gen:20000" || c.Model.Preset != "tiny" || c.Objective != "sft" ||
		c.Optim.LR != 1e-3 || c.Optim.Schedule != "cosine_with_min_lr" || c.Optim.Warmup != 50 ||
		c.Train.Steps != 1500 || c.Train.Batch != 32 || c.Train.EvalEvery != 250 || c.Train.CkptEvery != 250 ||
		c.Sample.GenLength != 16 || c.Sample.Steps != 16 {
		t.Errorf("sudoku-sft.yaml: %+v", c)
	}
	for f, want := range map[string][3]string{
		"sudoku-mdlm.yaml":    {"sudoku4x4", "mdlm", "gen:20000"},
		"countdown-sft.yaml":  {"countdown", "sft", "gen:200000"}, // fresh problems: under one pass (docs/countdown.md)
		"countdown-mdlm.yaml": {"countdown", "mdlm", "gen:200000"},
		"quickstart.yaml":     {"sudoku4x4", "sft", "gen:20000"},
	} {
		c, err := Load(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Data.Task != want[0] || c.Objective != want[1] || c.Data.Train != want[2] || c.Sample.GenLength != 16 || c.Model.Preset != "tiny" {
			t.Errorf("%s: task %s objective %s train %s gen_length %d preset %s", f, c.Data.Task, c.Objective, c.Data.Train, c.Sample.GenLength, c.Model.Preset)
		}
	}
}

func TestErrorsNameFileFieldLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key with suggestion", minimal + "optim:\n  lrr: 0.1\n", []string{"bad.yaml:3:", `unknown field "optim.lrr"`, `did you mean "optim.lr"`}},
		{"unknown key, nothing close", minimal + "optim:\n  learning_rate: 0.1\n", []string{"bad.yaml:3:", `unknown field "optim.learning_rate"`}},
		{"unknown section", minimal + "\nalgorithm: {}\n", []string{"bad.yaml:3:", `unknown field "algorithm"`}},
		{"unknown key in a list entry", minimal + "rewards:\n  - {name: x, wieght: 1}\n", []string{"bad.yaml:3:", `unknown field "rewards[0].wieght"`, `"rewards[0].weight"`}},
		{"word for an integer", minimal + "train: {steps: ten}\n", []string{"bad.yaml:2:", "field train.steps", `want an integer, got "ten"`}},
		{"fraction for an integer", minimal + "train: {steps: 1.5}\n", []string{"field train.steps", "want an integer"}},
		{"word for a number", minimal + "optim:\n  lr: fast\n", []string{"bad.yaml:3:", "field optim.lr", "want a number"}},
		{"number for a string", minimal + "objective: 3\n", []string{"bad.yaml:2:", "field objective", "want a string"}},
		{"word for a bool", minimal + "algo: {drop_zero_signal: maybe}\n", []string{"field algo.drop_zero_signal", "want true or false"}},
		{"list for a section", minimal + "run: [1, 2]\n", []string{"bad.yaml:2:", "field run", "mapping"}},
		{"mapping for a scalar", minimal + "optim: {lr: {a: 1}}\n", []string{"field optim.lr", "single value"}},
		{"lr out of range, line of the value", minimal + "optim:\n  schedule: cosine\n  lr: 2\n", []string{"bad.yaml:4: field optim.lr: 2 must be in (0, 1)"}},
		{"bad enum", minimal + "optim: {schedule: linear}\n", []string{"bad.yaml:2:", "field optim.schedule", `"linear" is not one of constant, constant_with_warmup, cosine, cosine_with_min_lr`}},
		{"bad preset", minimal + "model: {preset: huge}\n", []string{"field model.preset", `"huge"`}},
		{"bad objective", minimal + "objective: ppo\n", []string{"field objective", `"ppo"`}},
		{"bad task", "data: {task: chess, train: gen:1}\n", []string{"bad.yaml:1: field data.task", `"chess"`}},
		{"heads not dividing d", minimal + "model: {heads: 3}\n", []string{"bad.yaml:2: field model.heads", "3 must divide d 128"}},
		{"odd head width", minimal + "model: {heads: 128}\n", []string{"field model.heads", "even head width"}},
		{"warmup past steps", minimal + "optim: {warmup: 5000}\n", []string{"field optim.warmup", "train.steps 1000"}},
		{"negative decay", minimal + "optim: {schedule: warmup_stable_decay, decay_steps: -5}\n", []string{"field optim.decay_steps", "-5 must be >= 0"}},
		{"decay schedule without decay", minimal + "optim: {schedule: warmup_stable_decay}\n", []string{"field optim.decay_steps", "needs decay_steps > 0"}},
		{"negative seed", minimal + "run: {seed: -1}\n", []string{"field run.seed", "-1 must be >= 0"}},
		{"zero batch", minimal + "train: {batch: 0}\n", []string{"field train.batch", "0 must be >= 1"}},
		{"beta1 of 1", minimal + "optim: {beta1: 1}\n", []string{"field optim.beta1", "[0, 1)"}},
		{"negative clip", minimal + "optim: {clip_norm: -0.5}\n", []string{"field optim.clip_norm"}},
		{"infinite weight decay", minimal + "optim: {weight_decay: .inf}\n", []string{"field optim.weight_decay"}},
		{"negative eval_n", "data: {task: text, train: a.txt, eval_n: -1}\n", []string{"field data.eval_n"}},
		{"negative temperature", minimal + "sample: {temperature: -1}\n", []string{"bad.yaml:2: field sample.temperature"}},
		{"bad remasking", minimal + "sample: {remasking: topk}\n", []string{"field sample.remasking"}},
		{"missing train", "data: {task: sudoku4x4}\n", []string{"field data.train", "required"}},
		{"missing task and train", "", []string{"field data.task", "field data.train"}},
		{"bad reward timeout", minimal + "rewards:\n  - {exec: [x], weight: 1, timeout: soon}\n", []string{"bad.yaml:3: field rewards[0].timeout", `"soon"`}},
		{"rl without rewards", minimal + "objective: diffu_grpo\n", []string{"field rewards", "at least one reward"}},
		{"bad startup grace", minimal + "rewards:\n  - {exec: [x], weight: 1, startup_grace: soon}\n", []string{"bad.yaml:3: field rewards[0].startup_grace", `"soon"`}},
		{"negative startup grace", minimal + "rewards:\n  - {exec: [x], weight: 1, startup_grace: -1s}\n", []string{"bad.yaml:3: field rewards[0].startup_grace", `"-1s" is not a duration >= 0`}},
		{"negative max_consecutive_failures", minimal + "rewards:\n  - {exec: [x], weight: 1, max_consecutive_failures: -1}\n", []string{"bad.yaml:3: field rewards[0].max_consecutive_failures: -1 must be >= 0"}},
		{"fraction for max_consecutive_failures", minimal + "rewards:\n  - {exec: [x], weight: 1, max_consecutive_failures: 1.5}\n", []string{"bad.yaml:3: field rewards[0].max_consecutive_failures", "want an integer"}},
		{"word for max_consecutive_failures", minimal + "rewards:\n  - {exec: [x], weight: 1, max_consecutive_failures: ten}\n", []string{"field rewards[0].max_consecutive_failures", `want an integer, got "ten"`}},
		{"plugin fields on a built-in", minimal + "rewards:\n  - {name: d1_sudoku, weight: 1, startup_grace: 5s, max_consecutive_failures: 3}\n", []string{"field rewards[0].startup_grace: applies to exec plugins only", "field rewards[0].max_consecutive_failures: applies to exec plugins only"}},
		{"neither name nor exec", minimal + "rewards:\n  - {weight: 1}\n", []string{"bad.yaml:3: field rewards[0]", "give name"}},
		{"empty program", minimal + "rewards:\n  - {exec: [\"\"], weight: 1}\n", []string{"field rewards[0].exec", "empty"}},
		{"the same built-in twice", minimal + "rewards:\n  - {name: d1_sudoku, weight: 1}\n  - {name: d1_sudoku, weight: 2}\n", []string{"bad.yaml:4: field rewards[1]", `key "d1_sudoku" (metric reward/d1_sudoku) is also rewards[0]'s`}},
		{"two plugins of one name", minimal + "rewards:\n  - {name: rules, exec: [a.py], weight: 1}\n  - {name: sudoku_cells, weight: 1}\n  - {name: rules, exec: [b.py], weight: 1}\n", []string{"bad.yaml:5: field rewards[2]", `key "rules"`, "rewards[0]"}},
		{"a plugin named as a built-in in use", minimal + "rewards:\n  - {name: sudoku_cells, weight: 1}\n  - {name: sudoku_cells, exec: [x], weight: 1}\n", []string{"field rewards[1]", `key "sudoku_cells"`, "rewards[0]"}},
		{"one plugin command twice, unnamed", minimal + "rewards:\n  - {exec: [python3, r.py], weight: 1}\n  - {exec: [python3, r.py], weight: 1, failure_score: -1}\n", []string{"field rewards[1]", `key "python3 r.py"`, "rewards[0]", "names of their own"}},
		{"bad rollout backend", minimal + "rollout: {backend: ray}\n", []string{"bad.yaml:2: field rollout.backend", `"ray" is not one of local, nats`}},
		{"negative max_staleness", minimal + "rollout: {max_staleness: -1}\n", []string{"bad.yaml:2: field rollout.max_staleness: -1 must be >= 0"}},
		{"nats without url", minimal + "rollout:\n  backend: nats\n  nats: {url: \"\"}\n", []string{"bad.yaml:4: field rollout.nats.url: required with rollout.backend nats"}},
		{"nats url scheme", minimal + "rollout: {nats: {url: \"http://h:4222\"}}\n", []string{"field rollout.nats.url", `scheme "http" is not nats, tls, ws or wss`}},
		{"nats url not a url", minimal + "rollout: {nats: {url: \"127.0.0.1:4222\"}}\n", []string{"field rollout.nats.url", "is not a server URL"}},
		{"nats url port", minimal + "rollout: {nats: {url: \"nats://h:99999\"}}\n", []string{"field rollout.nats.url", `port "99999"`}},
		{"nats url hides its password", minimal + "rollout: {nats: {url: \"http://u:hunter2@h\"}}\n", []string{"field rollout.nats.url", "(redacted)@h"}},
		{"nats password without user", minimal + "rollout: {nats: {password: x}}\n", []string{"field rollout.nats.password: is set without rollout.nats.user"}},
		{"nats two ways to authenticate", minimal + "rollout: {nats: {token: t, creds: a.creds}}\n", []string{"field rollout.nats: give one way to authenticate"}},
		{"nats cert without key", minimal + "rollout: {nats: {tls: {cert_file: c.pem}}}\n", []string{"field rollout.nats.tls.cert_file: and key_file go together"}},
		{"nats bad ack_wait", minimal + "rollout: {nats: {ack_wait: soon}}\n", []string{"bad.yaml:2: field rollout.nats.ack_wait", `"soon" is not a positive duration`}},
		{"nats zero connect_timeout", minimal + "rollout: {nats: {connect_timeout: 0s}}\n", []string{"field rollout.nats.connect_timeout"}},
		{"nats tiny ack_wait", minimal + "rollout: {nats: {ack_wait: 1ms}}\n", []string{"field rollout.nats.ack_wait: 1ms is shorter than 100ms"}},
		{"nats step_timeout within ack_wait", minimal + "rollout: {nats: {ack_wait: 1m, step_timeout: 30s}}\n", []string{"field rollout.nats.step_timeout: 30s must be longer than ack_wait 1m0s"}},
		{"word for insecure_skip_verify", minimal + "rollout: {nats: {tls: {insecure_skip_verify: yes please}}}\n", []string{"field rollout.nats.tls.insecure_skip_verify", "want true or false"}},
		{"malformed YAML", minimal + "train: {steps: 10\n", []string{"bad.yaml", "line"}},
		{"tab indentation", "data:\n\ttask: x\n", []string{"bad.yaml", "line 2"}},
		{"duplicate key", minimal + "train: {steps: 1}\ntrain: {steps: 2}\n", []string{"bad.yaml", "already defined"}},
	}
	for _, c := range cases {
		_, err := Parse("bad.yaml", []byte(c.yaml), nil)
		if err == nil {
			t.Errorf("%s: accepted %q", c.name, c.yaml)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}

func TestValidateReportsEveryProblemInSchemaOrder(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(minimal+"train: {steps: 0, batch: 0}\nrun: {seed: -3}\n"), nil)
	var fes FieldErrors
	if !errors.As(err, &fes) {
		t.Fatalf("%v: want FieldErrors inside", err)
	}
	var got []string
	for _, f := range fes {
		got = append(got, f.Field)
	}
	// warmup 0 <= steps 0 is fine; steps and batch are not.
	want := []string{"run.seed", "train.steps", "train.batch"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v (error %v)", got, want, err)
	}
	for _, w := range []string{"bad.yaml:3: field run.seed", "bad.yaml:2: field train.steps", "bad.yaml:2: field train.batch"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

func TestOverridesApplyWithTypes(t *testing.T) {
	file := minimal + "train: {steps: 10}\nrun: {name: fromfile}\n"
	c, err := Parse("o.yaml", []byte(file), []string{
		"train.steps=42",               // over the file's 10
		"optim.lr=1e-2",                // exponent form
		"sample.temperature=1",         // integer text into a float
		"run.seed=9000000000",          // beyond int32
		"run.name=2024",                // digits are text for a string field
		"model.init_from=runs/a.db:50", // ':' kept
		"data.eval=gen:5",              // '=' only splits once
		"data.train=a=b.csv",
		"algo.drop_zero_signal=true",
		"model.preset=small",
		"train.batch = 3", // spaces round the key
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Steps != 42 || c.Optim.LR != 0.01 || c.Sample.Temperature != 1 || c.Run.Seed != 9000000000 ||
		c.Run.Name != "2024" || c.Model.InitFrom != "runs/a.db:50" || c.Data.Eval != "gen:5" || c.Data.Train != "a=b.csv" ||
		!c.Algo.DropZeroSignal || c.Model.Preset != "small" || c.Train.Batch != 3 {
		t.Fatalf("overrides not applied: %+v", c)
	}
	c, err = Parse("o.yaml", []byte(minimal+"model: {init_from: x.db}\n"), []string{"model.init_from="})
	if err != nil || c.Model.InitFrom != "" {
		t.Fatalf("empty override: %q %v", c.Model.InitFrom, err)
	}
	c, err = Parse("o.yaml", []byte(minimal), []string{"model.preset=~", "model.d=64", "model.layers=2", "model.heads=2", "model.ff=96"})
	if err != nil || c.Model.Preset != "" {
		t.Fatalf("null override: %q %v", c.Model.Preset, err)
	}
}

func TestBadOverridesSayWhichSet(t *testing.T) {
	for o, want := range map[string]string{
		"train.stepz=1":            `--set train.stepz: unknown field "train.stepz" (did you mean "train.steps"?)`,
		"OPTIM.lr=0.1":             `did you mean "optim"`,
		"train.steps=ab":           `--set train.steps: want an integer, got "ab"`,
		"train.steps=1.5":          "--set train.steps: want an integer",
		"optim.lr=fast":            "--set optim.lr: want a number",
		"algo.drop_zero_signal=no": `--set algo.drop_zero_signal: want true or false, got "no"`,
		"train=3":                  "--set train: a section",
		"train.steps.x=1":          "--set train.steps.x: train.steps is a single value",
		"rewards=x":                "--set rewards: a list",
		"noequals":                 "want key=value",
		"=3":                       "want key=value",
		"train.steps=[1, 2":        "--set train.steps: cannot read value",
		"optim.lr=5":               "--set optim.lr=5: field optim.lr: 5 must be in (0, 1)",
		"run.seed=-1":              "--set run.seed=-1: field run.seed",
		"sample.remasking=topk":    "--set sample.remasking=topk: field sample.remasking",
	} {
		_, err := Parse("o.yaml", []byte(minimal), []string{o})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want %q", o, err, want)
		}
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	text := minimal + `objective: unigrpo
rewards:
  - {name: sudoku_cells, weight: 1.0}
  - {exec: [python3, r.py, --strict], weight: 0.5, timeout: 2s, failure_score: -1}
algo: {drop_zero_signal: true, beta: 0.01, advantage: loo}
model: {preset: "", d: 64, layers: 2, heads: 4, ff: 96, init_from: "runs/x.db:7"}
run: {name: "007", seed: 0}
`
	c, err := Parse("rt.yaml", []byte(text), []string{"optim.lr=0.00123", "optim.eps=1e-12"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("stored", y, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip:\n%+v\n%+v", c, back)
	}
	// An empty list of rewards is no rewards, before and after storing.
	c, err = Parse("rt.yaml", []byte(minimal+"rewards: []\n"), nil)
	if err != nil || c.Rewards != nil {
		t.Fatalf("rewards: [] gave %#v, %v", c.Rewards, err)
	}
}

func TestPresetsResolve(t *testing.T) {
	want := map[string]ModelShape{
		"tiny":  {D: 128, Layers: 4, Heads: 4, FF: 384},
		"small": {D: 256, Layers: 6, Heads: 8, FF: 768},
		"base":  {D: 512, Layers: 8, Heads: 8, FF: 1536},
	}
	if !reflect.DeepEqual(Presets(), want) {
		t.Fatalf("presets %v", Presets())
	}
	for name, shape := range want {
		if s, err := (Model{Preset: name}).Resolved(); err != nil || s != shape {
			t.Errorf("%s: %v %v", name, s, err)
		}
	}
	s, err := Model{Preset: "small", FF: 100, Layers: 2}.Resolved()
	if err != nil || s != (ModelShape{D: 256, Layers: 2, Heads: 8, FF: 100}) {
		t.Fatal(s, err)
	}
	if s, err := (Model{D: 64, Layers: 2, Heads: 4, FF: 96}).Resolved(); err != nil || s != (ModelShape{64, 2, 4, 96}) {
		t.Fatal(s, err)
	}
	if _, err := (Model{D: 64, Heads: 4}).Resolved(); err == nil || !strings.Contains(err.Error(), "missing layers, ff") {
		t.Fatalf("custom shape without layers and ff: %v", err)
	}
	if _, err := (Model{Preset: "huge"}).Resolved(); err == nil || !strings.Contains(err.Error(), `"huge"`) {
		t.Fatalf("unknown preset: %v", err)
	}
	if _, err := (Model{Preset: "tiny", Heads: -2}).Resolved(); err == nil || !strings.Contains(err.Error(), "model.heads -2") {
		t.Fatalf("negative heads: %v", err)
	}
}

func TestCustomShapeNeedsEveryDimension(t *testing.T) {
	_, err := Parse("m.yaml", []byte(minimal+"model:\n  preset: ''\n  d: 64\n"), nil)
	if err == nil {
		t.Fatal("custom shape with only d accepted")
	}
	for _, w := range []string{"field model.layers: required", "field model.heads: required", "field model.ff: required"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "model.d") {
		t.Errorf("%q blames model.d, which was given", err)
	}
	// A negative dimension is reported once, not again as a bad head width.
	_, err = Parse("m.yaml", []byte(minimal+"model: {d: -4}\n"), nil)
	if err == nil || err.Error() != "m.yaml:2: field model.d: -4 must be >= 0" {
		t.Errorf("negative d: %v", err)
	}
	c, err := Parse("m.yaml", []byte(minimal+"model: {preset: '', d: 64, layers: 2, heads: 2, ff: 96}\n"), nil)
	if err != nil || c.Model.Preset != "" {
		t.Fatalf("complete custom shape: %v", err)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	text := minimal + "x-sched: &sched {schedule: constant, warmup: 3}\n"
	if _, err := Parse("a.yaml", []byte(text), nil); err == nil || !strings.Contains(err.Error(), `unknown field "x-sched"`) {
		t.Fatalf("stray anchor holder: %v", err)
	}
	text = minimal + "optim: &o {lr: 0.01, schedule: constant}\nsample: {temperature: &t 0.5}\nrollout: {temperature: *t}\n"
	c, err := Parse("a.yaml", []byte(text), nil)
	if err != nil || c.Rollout.Temperature != 0.5 || c.Sample.Temperature != 0.5 {
		t.Fatalf("alias: %+v %v", c.Rollout, err)
	}
	text = "base: &b {task: countdown, train: gen:3}\n"
	if _, err := Parse("a.yaml", []byte(text), nil); err == nil {
		t.Fatal("unknown top-level key accepted")
	}
	text = "data: {<<: {task: countdown, traim: gen:3}}\n"
	if _, err := Parse("a.yaml", []byte(text), nil); err == nil || !strings.Contains(err.Error(), `unknown field "data.traim"`) {
		t.Fatalf("typo inside a merged mapping: %v", err)
	}
	c, err = Parse("a.yaml", []byte("data: {<<: {task: countdown, train: gen:3}, eval_n: 5}\n"), nil)
	if err != nil || c.Data.Task != "countdown" || c.Data.Train != "gen:3" || c.Data.EvalN != 5 {
		t.Fatalf("merge key: %+v %v", c.Data, err)
	}
}

func TestEmptySectionsKeepDefaults(t *testing.T) {
	c, err := Parse("e.yaml", []byte(minimal+"run:\noptim: {}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Run != defaultRun() || c.Optim != defaultOptim() {
		t.Fatalf("empty sections changed defaults: %+v %+v", c.Run, c.Optim)
	}
}

func TestLevenshteinAndSuggestions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"lrr", "lr", 1}, {"stpes", "steps", 2}, {"flaw", "lawn", 2}} {
		if got := levenshtein(c.a, c.b); got != c.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	keys := []string{"steps", "batch", "eval_every"}
	for k, want := range map[string]string{"stpes": "steps", "BATCH": "batch", "evalevery": "eval_every", "epochs": ""} {
		if got := closest(k, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", k, got, want)
		}
	}
	if keys[0] != "steps" {
		t.Errorf("closest reordered its caller's slice: %v", keys)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing file: %v", err)
	}
}

// A store written by an older remask may hold fields this version removed;
// ParseStored drops them (and says which) where Parse refuses them.
func TestParseStoredDropsRemovedFields(t *testing.T) {
	text := []byte(`run: {name: old, seed: 7}
objective: unigrpo
model: {preset: tiny}
data: {task: sudoku4x4, train: gen:100}
rewards:
  - {name: sudoku_solved, weight: 2.0, retired: 1}
algo: {mu: 3, group_masks: false, trace_masks: true}
gone_section: {a: 1}
`)
	if _, err := Parse("old.db (stored config)", text, nil); err == nil || !strings.Contains(err.Error(), `unknown field "rewards[0].retired"`) {
		t.Fatalf("Parse must stay strict: %v", err)
	}
	c, dropped, err := ParseStored("old.db (stored config)", text)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rewards[0].retired", "algo.group_masks", "gone_section"}
	if !reflect.DeepEqual(dropped, want) {
		t.Errorf("dropped %q, want %q", dropped, want)
	}
	if c.Run.Seed != 7 || c.Algo.Mu != 3 || !c.Algo.Section("unigrpo").(*unigrpo.Config).TraceMasks || len(c.Rewards) != 1 || c.Rewards[0].Weight != 2 {
		t.Errorf("kept fields lost: %+v", c)
	}
	// A current store has nothing to drop, and a bad value still fails with its line.
	if _, d, err := ParseStored("new.db", []byte("objective: sft\ndata: {task: sudoku4x4, train: gen:10}\n")); err != nil || len(d) != 0 {
		t.Errorf("clean config: %v %v", d, err)
	}
	if _, _, err := ParseStored("bad.db (stored config)", []byte("algo:\n  retired: 1\n  also_retired: 2\ntrain: {steps: -3}\n")); err == nil || !strings.Contains(err.Error(), "bad.db (stored config):4") {
		t.Errorf("bad value: %v", err)
	}
}

// The memory estimate, worked by hand for a 1-layer model: d 8, ff 16, 2
// heads, batch 2, 10 tokens, vocab bound 64.
func TestEstimateMemoryByHand(t *testing.T) {
	c := Default()
	c.Objective = "sft"
	c.Model = Model{D: 8, Layers: 1, Heads: 2, FF: 16, MaxLen: 64}
	c.Train.Batch = 2
	m := EstimateMemory(c, 10)
	params := 2.0*64*8 + (4*8*8 + 3*8*16 + 2*8) + 8 // embeddings+head, one block, final norm
	if m.Weights != 4*params || m.Optimizer != 12*params {
		t.Fatalf("weights %g optimizer %g, want %g and %g", m.Weights, m.Optimizer, 4*params, 12*params)
	}
	perRow := 2 * 4 * 10.0 * ((10*8 + 3*16 + 2*2*10) + 3*64)
	if m.Activations != 2*perRow || m.Rollout != 0 {
		t.Fatalf("activations %g rollout %g, want %g and 0", m.Activations, m.Rollout, 2*perRow)
	}
}

// A config that cannot fit the machine is refused before anything runs,
// naming the field that drives the estimate.
func TestValidateRefusesWhatCannotFit(t *testing.T) {
	t.Setenv("REMASK_MEMORY", "24G")
	for _, c := range []struct{ set, want string }{
		{"train.batch=10000000", "field train.batch: the run needs an estimated"},
		{"train.batch=1000000000", "field train.batch: 1000000000 is more than the largest allowed"},
		{"model.d=100000", "field model (d, layers, ff)"},
		{"train.threads=100000000", "field train.threads: 100000000 is more than the largest allowed"},
		{"data.train=gen:100000000", "field data.train: \"gen:100000000\": want gen:N with N from 1 to 1000000"},
	} {
		_, err := Parse("run.yaml", []byte("data: {task: sudoku4x4, train: gen:10}\n"), []string{c.set})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--set %s: error %v, want %q", c.set, err, c.want)
		}
	}
	rl := []string{"objective=unigrpo", "rollout.prompts=10000", "rollout.group=1000"}
	_, err := Parse("run.yaml", []byte("data: {task: sudoku4x4, train: gen:10}\nrewards: [{name: sudoku_solved}]\n"), rl)
	if err == nil || !strings.Contains(err.Error(), "field rollout.prompts x rollout.group: the run needs") {
		t.Errorf("RL with 1e8 completions a step: error %v", err)
	}
}

// An exec plugin may be named; name is then its key. startup_grace and
// max_consecutive_failures are kept as given (absent: the plugin's
// defaults), 0 included, and survive storing.
func TestRewardPluginFields(t *testing.T) {
	text := minimal + `objective: unigrpo
rewards:
  - {name: rules, exec: [python3, r.py], weight: 1, startup_grace: 30s, max_consecutive_failures: 0}
  - {exec: [python3, r.py], weight: 0.5, startup_grace: 0s}
  - {name: sudoku_cells, weight: 1}
  - {name: judge, exec: [./judge], weight: 1, max_consecutive_failures: 5}
`
	c, err := Parse("r.yaml", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rewards
	if r[0].Label() != "rules" || r[1].Label() != "python3 r.py" || r[2].Label() != "sudoku_cells" || r[3].Label() != "judge" {
		t.Fatalf("labels %q %q %q %q", r[0].Label(), r[1].Label(), r[2].Label(), r[3].Label())
	}
	if r[0].StartupGrace != "30s" || r[0].MaxConsecutiveFailures == nil || *r[0].MaxConsecutiveFailures != 0 ||
		r[1].StartupGrace != "0s" || r[1].MaxConsecutiveFailures != nil || *r[3].MaxConsecutiveFailures != 5 {
		t.Fatalf("%+v", r)
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("stored", y, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip:\n%+v\n%+v", c.Rewards, back.Rewards)
	}
	if !strings.Contains(string(y), "max_consecutive_failures: 0") || strings.Count(string(y), "max_consecutive_failures") != 2 {
		t.Fatalf("stored:\n%s", y)
	}
}

// The nats backend's fields: defaults, overrides, secrets kept out of the
// stored config, and none of them defines the run (rollout.max_staleness,
// which changes what is sampled, does).
func TestRolloutNATSFields(t *testing.T) {
	d := Default().Rollout
	if d.Backend != "local" || d.MaxStaleness != 0 || d.NATS != (RolloutNATS{URL: "nats://127.0.0.1:4222", ConnectTimeout: "5s", AckWait: "30s", StepTimeout: "30m"}) {
		t.Fatalf("defaults: %+v", d)
	}
	c, err := Parse("n.yaml", []byte(minimal+"rollout:\n  backend: nats\n  nats: {url: \"nats://a:4222, tls://b:4443\", user: u, password: hunter2, tls: {ca_file: ca.pem}}\n"),
		[]string{"rollout.nats.ack_wait=2s", "rollout.nats.tls.insecure_skip_verify=true", "rollout.max_staleness=1"})
	if err != nil {
		t.Fatal(err)
	}
	n := c.Rollout.NATS
	if c.Rollout.Backend != "nats" || n.User != "u" || n.Password != "hunter2" || n.TLS.CAFile != "ca.pem" || !n.TLS.InsecureSkipVerify || n.AckWait != "2s" || c.Rollout.MaxStaleness != 1 {
		t.Fatalf("parsed: %+v", c.Rollout)
	}
	c.Rollout.NATS.Token = ""
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), "hunter2") || !strings.Contains(string(y), "password: (redacted)") || !strings.Contains(string(y), `token: ""`) {
		t.Fatalf("stored config shows the secret or hides that it was set:\n%s", y)
	}
	for _, ch := range Diff(Default(), c) {
		if strings.Contains(ch.String(), "hunter2") {
			t.Fatalf("a config change shows the password: %s", ch)
		}
	}
	for field, defines := range map[string]bool{
		"rollout.backend": false, "rollout.nats.url": false, "rollout.nats.password": false, "rollout.nats.tls.ca_file": false,
		"rollout.nats.step_timeout": false, "rollout.max_staleness": true, "rollout.group": true,
	} {
		if DefinesRun(field) != defines {
			t.Errorf("DefinesRun(%s) = %v, want %v", field, !defines, defines)
		}
	}
}

// Block-causal attention: a block size with it and none without, samplers in
// the model's blocks, and the fields define the run.
func TestBlockCausalFields(t *testing.T) {
	c, err := Parse("b.yaml", []byte(minimal), []string{"model.attention=block_causal", "model.block_size=4", "sample.gen_length=16", "sample.block=4"})
	if err != nil || c.Model.BlockSize != 4 || c.Model.Attention != "block_causal" {
		t.Fatalf("parsed %+v, %v", c.Model, err)
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"model.attention=causal"}, "model.attention"},
		{[]string{"model.block_size=4"}, "model.block_size"},
		{[]string{"model.attention=block_causal"}, "model.block_size"},
		{[]string{"model.attention=block_causal", "model.block_size=4", "sample.block=8"}, "sample.block"},
		{[]string{"model.attention=block_causal", "model.block_size=3", "sample.gen_length=16"}, "sample.gen_length"},
		{[]string{"model.attention=block_causal", "model.block_size=4", "rollout.gen_length=18"}, "rollout.gen_length"},
		{[]string{"model.attention=block_causal", "model.block_size=4", "objective=edit"}, "objective"},
	} {
		_, err := Parse("b.yaml", []byte(minimal), tc.sets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.sets, err, tc.want)
		}
	}
	// every RL estimator runs on a block-causal model
	for _, obj := range []string{"diffu_grpo", "tracerl", "spg"} {
		if _, err := Parse("b.yaml", []byte(minimal+"rewards: [{name: sudoku_cells}]\n"), []string{"model.attention=block_causal", "model.block_size=4", "objective=" + obj, "algo.spg.block_length=8"}); err != nil {
			t.Errorf("%s on a block model: %v", obj, err)
		}
	}
	_, err = Parse("b.yaml", []byte(minimal+"rewards: [{name: sudoku_cells}]\n"), []string{"model.attention=block_causal", "model.block_size=4", "objective=spg", "algo.spg.block_length=6"})
	if err == nil || !strings.Contains(err.Error(), "algo.spg.block_length") {
		t.Errorf("spg blocks across attention blocks: error %v", err)
	}
	if !DefinesRun("model.attention") || !DefinesRun("model.block_size") {
		t.Error("the attention fields do not define the run")
	}
}
