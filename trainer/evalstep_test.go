package trainer

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

func TestCommitCountsByHand(t *testing.T) {
	var c CommitCounts
	// tokens 5 7 9 committed at steps 1 0 1; reference 5 8 9: step 0 holds one
	// wrong token, step 1 two right ones.
	c.add([]int{5, 7, 9}, []int{1, 0, 1}, []int{5, 8, 9})
	// a completion longer than its reference: the extra position is wrong.
	c.add([]int{4, 4}, []int{2, 0}, []int{4})
	want := CommitCounts{Committed: []int{2, 2, 1}, Right: []int{0, 2, 1}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	if got := c.Accuracy(); !reflect.DeepEqual(got, []float64{0, 1, 1}) {
		t.Fatalf("accuracy %v", got)
	}
}

func TestReferenceCompletionPadsWithEOS(t *testing.T) {
	tok := data.NewDefaultTokenizer()
	ref, err := referenceCompletion(tok, data.Example{Prompt: "1", Answer: "12"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tok.Encode("12")
	want := []int{a[0], a[1], tok.EOSID(), tok.EOSID()}
	if !reflect.DeepEqual(ref, want) {
		t.Fatalf("reference %v, want %v", ref, want)
	}
	if ref, _ := referenceCompletion(tok, data.Example{Prompt: "1"}, 4); ref != nil {
		t.Fatalf("no answer gave reference %v", ref)
	}
}

// EvaluateByStep samples exactly what Evaluate samples and accounts for
// every completion token once.
func TestEvaluateByStepMatchesEvaluate(t *testing.T) {
	tok := data.NewDefaultTokenizer()
	task, err := data.TaskByName("sudoku4x4")
	if err != nil {
		t.Fatal(err)
	}
	exs, err := data.Load("sudoku4x4", "gen:40", 3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := model.New(model.Config{Vocab: tok.Size(), D: 16, Layers: 1, Heads: 2, FF: 16, MaxLen: 40, RopeTheta: 10000, NormEps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := rollout.Options{GenLength: 16, Steps: 8, MaskID: tok.MaskID(), EOSID: tok.EOSID(), PadID: tok.PadID(), Remasking: "low_confidence", Confidence: "prob"}
	acc, _, err := Evaluate(NewEvalModel(p), tok, task, exs, o, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	acc2, cc, err := EvaluateByStep(NewEvalModel(p), tok, task, exs, o, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if acc != acc2 {
		t.Fatalf("accuracy %v by step, %v plain", acc2, acc)
	}
	if len(cc.Committed) != 8 {
		t.Fatalf("%d steps counted, want 8", len(cc.Committed))
	}
	for s, n := range cc.Committed {
		if n != 2*len(exs) { // 16 tokens in 8 steps: two per step
			t.Fatalf("step %d committed %d tokens, want %d", s, n, 2*len(exs))
		}
		if cc.Right[s] > n {
			t.Fatalf("step %d: %d right of %d", s, cc.Right[s], n)
		}
	}
}
