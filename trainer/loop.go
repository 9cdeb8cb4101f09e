package trainer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/checkpoint"
	"github.com/remask/remask/configs"
	"github.com/remask/remask/data"
	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

// errInterrupted is what a step returns when the run was cancelled before
// its update: the loop then writes the final checkpoint at that step.
var errInterrupted = errors.New("interrupted")

// runLoop is the loop every objective shares, supervised and RL: from the
// run's start to train.steps, one step's work (the objective's), then the
// progress callback, eval, the metrics row and the checkpoint. Cancelled
// (SIGINT, SIGTERM), it writes a final checkpoint with the data cursor put
// back to where the interrupted step began, so a resumed run repeats that
// step exactly.
type runLoop struct {
	cfg    configs.Config
	opt    Options
	log    zerolog.Logger
	st     *checkpoint.Store
	params *model.Params
	tr     *Trainer
	// the data order: items served batch at a time; rebuilt at a cursor
	// when an interrupted step gives its batch back
	it           *data.Iterator
	items, batch int
	tok          data.Tokenizer
	task         data.Task
	evalEx       []data.Example
	evalOpts     rollout.Options
	sum          Summary
	t0           time.Time
	// extra are tensors saved in each checkpoint's optimizer group beside
	// Adam's (RL: the reference model, under ref/)
	extra func() []checkpoint.Tensor
}

// stepResult is what one step's work hands the loop.
type stepResult struct {
	stats  StepStats            // the last update's
	logged []checkpoint.Sample  // kept with the step when no eval runs
	log    func(*zerolog.Event) // writes the step's log line (the loop gives it the step)
}

// stepFunc runs step's work up to and including its update(s) and adds its
// figures to metrics; errInterrupted when ctx was cancelled before the
// update. last is the previous step's stats.
type stepFunc func(ctx context.Context, step int, last StepStats, metrics map[string]float64) (stepResult, error)

func (l *runLoop) save(step int, metrics map[string]float64) error {
	ck := snapshot(step, l.params, l.tr.Opt, l.it.Cursor(), metrics)
	if l.extra != nil {
		ck.Optim = append(ck.Optim, l.extra()...)
	}
	if err := l.st.Save(ck); err != nil {
		return fmt.Errorf("save checkpoint at step %d: %w", step, err)
	}
	if l.cfg.Train.KeepLast > 0 {
		return l.st.Retain(l.cfg.Train.KeepLast, l.cfg.Train.KeepEvery)
	}
	return nil
}

func (l *runLoop) evaluate(step int, metrics map[string]float64) error {
	acc, samples, err := Evaluate(NewEvalModel(l.params), l.tok, l.task, l.evalEx, l.evalOpts, stepRNG(l.cfg.Run.Seed, step, purposeEval))
	if err != nil {
		return fmt.Errorf("eval at step %d: %w", step, err)
	}
	metrics["eval_acc"] = acc
	metrics["eval_n"] = float64(len(l.evalEx)) // for standard errors (ckpt compare)
	l.sum.EvalAcc = acc
	l.log.Info().Int("step", step).Float64("eval_acc", acc).Int("n", len(l.evalEx)).Msg("eval")
	return l.st.AddSamples(step, samples)
}

// run steps from start to train.steps; evalAtStart evaluates the starting
// weights first (a fresh RL run's step 0).
func (l *runLoop) run(ctx context.Context, start int, evalAtStart bool, step stepFunc) (Summary, error) {
	cfg, opt := l.cfg, l.opt
	evalOn := cfg.Train.EvalEvery > 0 && len(l.evalEx) > 0
	if evalAtStart && start == 0 && evalOn {
		m := map[string]float64{}
		if err := l.evaluate(0, m); err != nil {
			return l.sum, err
		}
		if err := l.st.LogMetrics(0, m); err != nil {
			return l.sum, err
		}
	}
	var last StepStats
	for s := start; s < cfg.Train.Steps; s++ {
		stepCursor := l.it.Cursor()
		metrics := map[string]float64{}
		var res stepResult
		err := errInterrupted
		if ctx.Err() == nil {
			res, err = step(ctx, s, last, metrics)
		}
		if errors.Is(err, errInterrupted) {
			l.sum.Interrupted = true
			l.log.Warn().Int("step", s).Msg("interrupted: writing a final checkpoint")
			l.it = data.NewIterator(l.items, l.batch, cfg.Run.Seed, stepCursor)
			if err := l.save(s, map[string]float64{"loss": last.Loss}); err != nil {
				return l.sum, err
			}
			l.sum.Steps, l.sum.Elapsed = s, time.Since(l.t0)
			return l.sum, nil
		}
		if err != nil {
			return l.sum, err
		}
		last = res.stats
		done := s + 1
		if opt.Progress != nil {
			opt.Progress(done, cfg.Train.Steps, last)
		}
		evalNow := evalOn && (done%cfg.Train.EvalEvery == 0 || done == cfg.Train.Steps)
		if evalNow {
			opt.at("eval", done)
			if err := l.evaluate(done, metrics); err != nil {
				return l.sum, err
			}
		} else if len(res.logged) > 0 {
			if err := l.st.AddSamples(done, res.logged); err != nil {
				return l.sum, err
			}
		}
		if done%max(cfg.Train.LogEvery, 1) == 0 || evalNow || done == cfg.Train.Steps {
			if err := l.st.LogMetrics(done, metrics); err != nil {
				return l.sum, err
			}
			res.log(l.log.Info().Int("step", done))
		}
		if (cfg.Train.CkptEvery > 0 && done%cfg.Train.CkptEvery == 0) || done == cfg.Train.Steps {
			opt.at("ckpt", done)
			if err := l.save(done, metrics); err != nil {
				return l.sum, err
			}
		}
		l.sum.Steps, l.sum.Loss = done, last.Loss
	}
	l.sum.Elapsed = time.Since(l.t0)
	return l.sum, nil
}

// runData is what every objective's run starts from: the tokenizer, the
// task, the training and eval examples and the model's shape.
type runData struct {
	tok     data.Tokenizer
	task    data.Task
	trainEx []data.Example
	evalEx  []data.Example
	mc      model.Config
	t0      time.Time
}

// loadRun reads a run's data and model shape.
func loadRun(cfg configs.Config, opt Options) (runData, error) {
	log := opt.Log
	if cfg.Train.Threads > 0 {
		runtime.GOMAXPROCS(cfg.Train.Threads)
	}
	d := runData{t0: time.Now()}
	var err error
	if d.tok, err = runTokenizer(cfg, opt); err != nil {
		return d, err
	}
	if d.task, err = data.TaskByName(cfg.Data.Task); err != nil {
		return d, err
	}
	if d.trainEx, err = data.Load(cfg.Data.Task, cfg.Data.Train, cfg.Run.Seed); err != nil {
		return d, fmt.Errorf("data.train: %w", err)
	}
	if len(d.trainEx) == 0 {
		return d, fmt.Errorf("data.train %q has no examples", cfg.Data.Train)
	}
	if d.evalEx, err = evalSet(cfg, d.trainEx, log); err != nil {
		return d, err
	}
	d.mc, err = ModelConfig(cfg, d.tok.Size())
	return d, err
}

// begin creates or resumes the run store and builds the loop over items
// served batch at a time; close releases the store and the trainer.
func (d runData) begin(cfg configs.Config, opt Options, items, batch int) (*runLoop, *runStart, error) {
	run, err := beginRun(cfg, opt, d.mc, d.tok)
	if err != nil {
		return nil, nil, err
	}
	l := &runLoop{cfg: cfg, opt: opt, log: opt.Log, st: run.store, params: run.params, tr: newTrainer(cfg, run.params, run.adam),
		it: data.NewIterator(items, batch, cfg.Run.Seed, run.cursor), items: items, batch: batch,
		tok: d.tok, task: d.task, evalEx: d.evalEx, evalOpts: SampleOptions(cfg, d.tok, d.task), sum: resumedSummary(run.path, run), t0: d.t0}
	return l, run, nil
}

func (l *runLoop) close() {
	l.tr.Close()
	l.st.Close()
}
