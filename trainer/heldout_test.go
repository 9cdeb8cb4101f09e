package trainer

import (
	"testing"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
)

// TestDropSeenInTrainingCountdown: a countdown test file is scored only on
// problems the run did not train on, whatever order they come in.
func TestDropSeenInTrainingCountdown(t *testing.T) {
	cfg := configs.Default()
	cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed = "countdown", "gen:500", 7
	train, err := data.Load("countdown", "gen:500", 7)
	if err != nil {
		t.Fatal(err)
	}
	other, err := data.Load("countdown", "gen:50", 8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ex := range train {
		seen[ex.Prompt] = true
	}
	var fresh []data.Example
	for _, ex := range other {
		if !seen[ex.Prompt] {
			fresh = append(fresh, ex)
		}
	}
	// a file mixing three trained problems (one as d1 writes it, without
	// an answer) with fresh ones
	d1 := data.CountdownExample(train[4].Ref["numbers"].([]int), train[4].Ref["target"].(int), "")
	test := append([]data.Example{train[0], d1}, fresh...)
	test = append(test, train[499])
	kept, dropped, err := DropSeenInTraining(cfg, test)
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 3 || len(kept) != len(fresh) {
		t.Fatalf("dropped %d, kept %d; want 3 dropped and the %d fresh kept", dropped, len(kept), len(fresh))
	}
	for i := range kept {
		if kept[i].Prompt != fresh[i].Prompt {
			t.Fatalf("kept[%d] = %q, want %q", i, kept[i].Prompt, fresh[i].Prompt)
		}
	}
}
