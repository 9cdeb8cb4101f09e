package trainer

import (
	"math"
	"testing"

	"github.com/remask/remask/model"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Two AdamW steps worked by hand (lr 0.1, betas 0.9/0.999, eps 1e-8, wd 0.1):
// a norm gain (not decayed) and a matrix (decayed), gradients +0.5 then -0.5.
func TestAdamWByHand(t *testing.T) {
	p := &model.Params{Tensors: []*model.Tensor{
		{Name: "gain", Shape: []int{1}, Data: []float32{1}},
		{Name: "w", Shape: []int{1, 1}, Data: []float32{1}},
	}}
	a := NewAdamW(p, 0.9, 0.999, 1e-8, 0.1)
	if err := a.Update(p, [][]float32{{0.5}, {0.5}}, 0.1); err != nil {
		t.Fatal(err)
	}
	// mhat = 0.5, vhat = 0.25: the step is lr * 1.
	if !near(float64(p.Tensors[0].Data[0]), 0.9, 1e-6) || !near(float64(p.Tensors[1].Data[0]), 0.89, 1e-6) {
		t.Fatalf("after step 1: %v %v, want 0.9 0.89", p.Tensors[0].Data, p.Tensors[1].Data)
	}
	if err := a.Update(p, [][]float32{{-0.5}, {-0.5}}, 0.1); err != nil {
		t.Fatal(err)
	}
	// m = -0.005, v = 0.00049975; mhat = -0.005/0.19, vhat = 0.00049975/0.001999 = 0.25.
	step := 0.1 * (-0.005 / 0.19) / 0.5
	if !near(float64(p.Tensors[0].Data[0]), 0.9-step, 1e-6) || !near(float64(p.Tensors[1].Data[0]), 0.89*0.99-step, 1e-6) {
		t.Fatalf("after step 2: %v %v, want %v %v", p.Tensors[0].Data, p.Tensors[1].Data, 0.9-step, 0.89*0.99-step)
	}
	if a.Step != 2 {
		t.Fatalf("step count %d", a.Step)
	}
}

func TestClipGlobalNorm(t *testing.T) {
	g := [][]float32{{3}, {4}}
	if n := ClipGlobalNorm(g, 1); n != 5 {
		t.Fatalf("norm %v, want 5", n)
	}
	if !near(float64(g[0][0]), 0.6, 1e-7) || !near(float64(g[1][0]), 0.8, 1e-7) {
		t.Fatalf("clipped to %v", g)
	}
	g = [][]float32{{0.3}, {0.4}}
	ClipGlobalNorm(g, 1)
	if g[0][0] != 0.3 || g[1][0] != 0.4 {
		t.Fatalf("clipped below the limit: %v", g)
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		s    Schedule
		step int
		want float64
	}{
		{Schedule{Kind: "constant", Peak: 0.5, Warmup: 10, Total: 100}, 0, 0.5},
		{Schedule{Kind: "constant_with_warmup", Peak: 1, Warmup: 4, Total: 100}, 0, 0.25},
		{Schedule{Kind: "constant_with_warmup", Peak: 1, Warmup: 4, Total: 100}, 3, 1},
		{Schedule{Kind: "constant_with_warmup", Peak: 1, Warmup: 4, Total: 100}, 50, 1},
		{Schedule{Kind: "cosine", Peak: 1, Warmup: 0, Total: 11}, 0, 1},
		{Schedule{Kind: "cosine", Peak: 1, Warmup: 0, Total: 11}, 5, 0.5},
		{Schedule{Kind: "cosine", Peak: 1, Warmup: 0, Total: 11}, 10, 0},
		{Schedule{Kind: "cosine_with_min_lr", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1}, 0, 0.5},
		{Schedule{Kind: "cosine_with_min_lr", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1}, 2, 1},
		{Schedule{Kind: "cosine_with_min_lr", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1}, 7, 0.1 + 0.9*0.5*(1+math.Cos(5*math.Pi/9))},
		{Schedule{Kind: "cosine_with_min_lr", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1}, 11, 0.1},
		// 12 steps: warm-up 0-1, stable 2-7, decay 8-11 falls by 0.9/4 a step to 0.1.
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1, Decay: 4}, 0, 0.5},
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1, Decay: 4}, 7, 1},
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1, Decay: 4}, 8, 0.775},
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1, Decay: 4}, 10, 0.325},
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 12, MinLRRatio: 0.1, Decay: 4}, 11, 0.1},
		// decay 60 in a 6-step run with 2 warm-up steps: steps 2-5 decay, 0.9/4 a step.
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 6, MinLRRatio: 0.1, Decay: 60}, 1, 1},
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 6, MinLRRatio: 0.1, Decay: 60}, 2, 0.775},
		{Schedule{Kind: "warmup_stable_decay", Peak: 1, Warmup: 2, Total: 6, MinLRRatio: 0.1, Decay: 60}, 5, 0.1},
	}
	for _, c := range cases {
		got, err := c.s.LR(c.step)
		if err != nil || !near(got, c.want, 1e-12) {
			t.Errorf("%s warmup %d total %d step %d: %v (%v), want %v", c.s.Kind, c.s.Warmup, c.s.Total, c.step, got, err, c.want)
		}
	}
	if _, err := (Schedule{Kind: "linear"}).LR(0); err == nil {
		t.Error("unknown schedule accepted")
	}
}

// The trainer keeps the graphs of the last maxGraphs batch shapes: a shape
// seen again reuses its graph, the least recently used one is dropped.
func TestTrainerGraphCacheIsBounded(t *testing.T) {
	p, err := model.New(model.Config{Vocab: 12, D: 8, Layers: 1, Heads: 2, FF: 8, MaxLen: 16, RopeTheta: 10000, NormEps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTrainer(p, NewAdamW(p, 0.9, 0.999, 1e-8, 0), Schedule{Kind: "constant", Peak: 1e-3}, 0)
	defer tr.Close()
	g := func(B int) *model.TrainGraph {
		t.Helper()
		gr, err := tr.Graph(B, 4)
		if err != nil {
			t.Fatal(err)
		}
		return gr
	}
	g1 := g(1)
	g(2)
	g(3)
	if g(1) != g1 { // 1 is now the most recent; 2 is the least
		t.Fatal("a cached shape built a new graph")
	}
	g(4) // drops 2
	if len(tr.graphs) != maxGraphs || len(tr.lru) != maxGraphs {
		t.Fatalf("%d graphs kept", len(tr.graphs))
	}
	if _, ok := tr.graphs[[2]int{2, 4}]; ok {
		t.Fatal("the least recently used graph was kept")
	}
	if g(1) != g1 {
		t.Fatal("a recently used graph was dropped")
	}
}

// A step whose gradient is exactly zero leaves the weights and AdamW's
// state alone (AdamW would move them on its moments and weight decay);
// the next step with a gradient updates as usual.
func TestZeroGradientSkipsTheOptimizerStep(t *testing.T) {
	p, err := model.New(model.Config{Vocab: 12, D: 8, Layers: 1, Heads: 2, FF: 8, MaxLen: 16, RopeTheta: 10000, NormEps: 1e-5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := NewAdamW(p, 0.9, 0.999, 1e-8, 0.1)
	tr := NewTrainer(p, opt, Schedule{Kind: "constant", Peak: 1e-2}, 0)
	defer tr.Close()
	ids := []int{1, 2, 3, 4}
	targets := []int{5, 6, 7, 8}
	batch := func(scale float64) model.Batch {
		return model.Batch{IDs: ids, Targets: targets, Loss: func(lp []float64) (float64, []float64, error) {
			g := make([]float64, len(lp))
			loss := 0.0
			for i := range lp {
				g[i] = -scale
				loss -= scale * lp[i]
			}
			return loss, g, nil
		}}
	}
	before := p.Clone()
	st, err := tr.Update(1, 1, 4, batch(0))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Skipped || st.GradNorm != 0 {
		t.Fatalf("zero gradient: %+v, want Skipped with norm 0", st)
	}
	if opt.Step != 0 {
		t.Fatalf("AdamW stepped %d times on a zero gradient", opt.Step)
	}
	for i, x := range p.Tensors {
		for j := range x.Data {
			if x.Data[j] != before.Tensors[i].Data[j] {
				t.Fatalf("tensor %s changed on a zero gradient", x.Name)
			}
		}
	}
	st, err = tr.Update(2, 1, 4, batch(1))
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped || st.GradNorm == 0 || opt.Step != 1 {
		t.Fatalf("non-zero gradient: %+v, AdamW step %d", st, opt.Step)
	}
}
