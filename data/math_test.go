package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMathJSONL(t *testing.T) {
	exs, err := LoadMathJSONL("testdata/math_sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 4 {
		t.Fatalf("%d examples, want 4", len(exs))
	}
	// the answer field where present, else the solution's last \boxed{...}
	for i, want := range []string{`\frac{3}{4}`, "4", `2\sqrt{3}`, `20\%`} {
		if got := exs[i].Ref["answer"]; got != want {
			t.Errorf("example %d: answer %q, want %q", i, got, want)
		}
	}
	if !strings.HasPrefix(exs[1].Prompt, GSM8KSystemPrompt+"\n\n") || !strings.HasSuffix(exs[1].Prompt, "$2x + 3 = 11$.") {
		t.Errorf("prompt %q", exs[1].Prompt)
	}
	if want := "</reasoning>\n<answer>\n\\boxed{4}\n</answer>"; !strings.HasSuffix(exs[1].Answer, want) {
		t.Errorf("SFT answer %q, want it to end in %q", exs[1].Answer, want)
	}
	// every shipped example's own SFT answer is correct
	for i, ex := range exs {
		if !(MATH{}).Correct(ex, ex.Answer) {
			t.Errorf("example %d: its own answer is not correct", i)
		}
	}
}

func TestMathCorrect(t *testing.T) {
	ex, err := MathExample("p", `so the answer is \boxed{\frac{3}{4}}.`, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		completion string
		want       bool
	}{
		{`\boxed{\frac{3}{4}}`, true},
		{`\boxed{\frac34}`, true},                            // \frac34 -> \frac{3}{4}
		{`\boxed{3/4}`, true},                                // a/b -> \frac{a}{b}
		{`\boxed{0.75}`, false},                              // MATH's normalisation does not evaluate decimals
		{`first \boxed{1}, then \boxed{\dfrac{3}{4}}`, true}, // the last box counts; \dfrac -> \frac
		{"<answer>\n3/4\n</answer>", true},                   // d1's XML format without a box
		{"<answer>1/2</answer>", false},
		{`3/4`, true},                 // a bare completion is the answer
		{`\boxed{\frac{3}{4}`, false}, // braces never close: the raw text is compared
		{"", false},
	}
	for _, c := range cases {
		if got := (MATH{}).Correct(ex, c.completion); got != c.want {
			t.Errorf("%q: correct %v, want %v", c.completion, got, c.want)
		}
	}
}

func TestMathBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, line := range map[string]string{
		"no problem": `{"solution": "\\boxed{1}"}`,
		"no box":     `{"problem": "p", "solution": "it is 1"}`,
		"open box":   `{"problem": "p", "solution": "\\boxed{1"}`,
		"empty":      `{"problem": " ", "solution": "\\boxed{1}"}`,
		"not string": `{"problem": ["p"], "solution": "\\boxed{1}"}`,
	} {
		p := filepath.Join(dir, "m.jsonl")
		if err := os.WriteFile(p, []byte("\n"+line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMathJSONL(p)
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v, want an error naming line 2", name, err)
		}
	}
	if _, err := Load("math", "x.csv", 1); err == nil || !strings.Contains(err.Error(), "MATH JSONL") {
		t.Errorf("csv for math: %v", err)
	}
}
