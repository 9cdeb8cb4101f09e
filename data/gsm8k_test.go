package data

import (
	"strings"
	"testing"
)

func TestLoadGSM8K(t *testing.T) {
	exs, err := Load("gsm8k", "testdata/gsm8k_sample.jsonl", 1)
	if err != nil || len(exs) != 8 {
		t.Fatal(len(exs), err)
	}
	ex := exs[0]
	if !strings.HasPrefix(ex.Prompt, GSM8KSystemPrompt+"\n\nMia has 12 marbles.") {
		t.Fatalf("prompt %q", ex.Prompt)
	}
	want := "<reasoning>\nAfter giving 5 away she has 12 - 5 = 7 marbles.\nAfter buying 8 more she has 7 + 8 = 15 marbles.\n</reasoning>\n<answer>\n15\n</answer>"
	if ex.Answer != want {
		t.Fatalf("answer %q\nwant %q", ex.Answer, want)
	}
	if ex.Ref["answer"] != "15" || ex.Ref["number"] != 15.0 {
		t.Fatalf("ref %v", ex.Ref)
	}
	if exs[4].Ref["number"] != 1250.0-375 || exs[5].Ref["number"] != -5.0 || exs[7].Ref["number"] != 150.0 {
		t.Fatalf("refs %v %v %v", exs[4].Ref, exs[5].Ref, exs[7].Ref)
	}
	// the SFT answer is itself correct
	for i, ex := range exs {
		if !(GSM8K{}).Correct(ex, ex.Answer) {
			t.Errorf("example %d: its own answer is not correct", i)
		}
	}
}

// d1's parse_gsm_answers, case by case (values worked out by hand from the
// published code).
func TestGSM8KCorrect(t *testing.T) {
	ex, err := GSM8KExample("q", "work\n#### 1,234")
	if err != nil || ex.Ref["number"] != 1234.0 || ex.Ref["answer"] != "1,234" {
		t.Fatal(ex.Ref, err)
	}
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"<answer>1234</answer>", true},
		{"<answer>\n1234.0\n</answer>", true},
		{"<answer>so 12 then 1234</answer>", true},        // last number in the tag
		{"<answer>1234 then 12</answer>", false},          // last number wins
		{`\boxed{1234} <answer>5</answer>`, true},         // boxed first
		{`\boxed{...} \boxed{1234}`, true},                // placeholders skipped
		{`\boxed{x = 1234 or 7}`, true},                   // first number in a box
		{`\boxed{7} \boxed{1234}`, false},                 // first usable box
		{"1234", false},                                   // no tag, no box
		{"<answer>1,234</answer>", false},                 // d1 does not strip commas: "1" then "234", last is 234
		{"<answer></answer><answer>1234</answer>", false}, // first tag only
		{"<answer>inf</answer>", false},
	} {
		if got := (GSM8K{}).Correct(ex, c.text); got != c.ok {
			t.Errorf("%q: correct %v, want %v", c.text, got, c.ok)
		}
	}
	for _, c := range []struct{ q, a, want string }{
		{"q", "no marker", "does not end in"},
		{"q", "#### x", "not a number"},
		{"q", "#### 1 #### 2", "more than one"},
		{" ", "#### 1", "question is empty"},
	} {
		if _, err := GSM8KExample(c.q, c.a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %q: %v, want %q", c.q, c.a, err, c.want)
		}
	}
	if _, err := Load("gsm8k", "x.csv", 1); err == nil || !strings.Contains(err.Error(), "reads GSM8K JSONL") {
		t.Fatal(err)
	}
	if _, err := TaskByName("gsm8k"); err != nil {
		t.Fatal(err)
	}
}
