package trainer

import (
	"fmt"
	"math"

	"github.com/remask/remask/model"
)

// Trainer is the shared update step: graph forward and backward for any
// objective's batch, global-norm clipping, AdamW and the LR schedule. It keeps
// one training graph per batch shape.
type Trainer struct {
	Params   *model.Params
	Opt      *AdamW
	Sched    Schedule
	ClipNorm float64

	graphs map[[2]int]*model.TrainGraph
}

// NewTrainer wraps params with an optimizer and schedule.
func NewTrainer(p *model.Params, opt *AdamW, sched Schedule, clipNorm float64) *Trainer {
	return &Trainer{Params: p, Opt: opt, Sched: sched, ClipNorm: clipNorm, graphs: map[[2]int]*model.TrainGraph{}}
}

// StepStats describe one update.
type StepStats struct {
	Loss     float64
	GradNorm float64 // before clipping
	LR       float64
}

// Graph returns the training graph for B sequences of L tokens, building it
// on first use.
func (t *Trainer) Graph(B, L int) (*model.TrainGraph, error) {
	key := [2]int{B, L}
	if g, ok := t.graphs[key]; ok {
		return g, nil
	}
	g, err := model.NewTrainGraph(t.Params, B, L)
	if err != nil {
		return nil, err
	}
	t.graphs[key] = g
	return g, nil
}

// Update applies one optimizer step at the given (0-based) step for a batch
// of B sequences of L tokens. Weights are left untouched when the loss or the
// gradient is not finite.
func (t *Trainer) Update(step, B, L int, b model.Batch) (StepStats, error) {
	g, err := t.Graph(B, L)
	if err != nil {
		return StepStats{}, err
	}
	loss, _, err := g.Run(b)
	if err != nil {
		return StepStats{}, err
	}
	grads, err := g.Grads()
	if err != nil {
		return StepStats{}, err
	}
	norm := ClipGlobalNorm(grads, t.ClipNorm)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return StepStats{}, fmt.Errorf("step %d: gradient norm is %v (loss %v); weights left unchanged", step, norm, loss)
	}
	lr, err := t.Sched.LR(step)
	if err != nil {
		return StepStats{}, err
	}
	if err := t.Opt.Update(t.Params, grads, lr); err != nil {
		return StepStats{}, err
	}
	return StepStats{Loss: loss, GradNorm: norm, LR: lr}, nil
}

// Close releases the graphs.
func (t *Trainer) Close() {
	for _, g := range t.graphs {
		g.Close()
	}
	t.graphs = nil
}
