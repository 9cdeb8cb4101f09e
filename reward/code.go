package reward

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/reward/sandbox"
)

func init() {
	Register("code_format", func() Reward { return NewCodeReward(false, DefaultCodeOptions(), zerolog.Nop()) })
	Register("code_pass_rate", func() Reward { return NewCodeReward(true, DefaultCodeOptions(), zerolog.Nop()) })
}

// CodeOptions set how the code rewards run model-written Python.
type CodeOptions struct {
	Python   string         // the interpreter, looked up on the sandbox's PATH (/usr/local/bin:/usr/bin:/bin)
	Test     sandbox.Limits // one test's run (and the syntax check's)
	Budget   time.Duration  // a completion whose tests take longer than this in all scores 0
	Parallel int            // sandboxes at once
}

// DefaultCodeOptions are DiffuCoder's: 5 s per test, 30 s per completion.
// Memory is d1's 1 GB of address space, which leaves room for numpy.
func DefaultCodeOptions() CodeOptions {
	lim := sandbox.DefaultLimits()
	lim.Wall, lim.CPU, lim.Memory = 5*time.Second, 5*time.Second, 1<<30
	return CodeOptions{Python: "python3", Test: lim, Budget: 30 * time.Second, Parallel: runtime.NumCPU()}
}

// CodeReward is DiffuCoder's code_format or code_pass_rate. Both run Python
// in the sandbox: the syntax check too, since a parser fed model output can
// be made to exhaust memory.
type CodeReward struct {
	passRate bool
	opts     CodeOptions
	box      *sandbox.Sandbox
}

// NewCodeReward returns code_pass_rate (passRate) or code_format.
func NewCodeReward(passRate bool, opts CodeOptions, log zerolog.Logger) *CodeReward {
	if opts.Parallel < 1 {
		opts.Parallel = 1
	}
	if opts.Python == "" {
		opts.Python = "python3"
	}
	return &CodeReward{passRate: passRate, opts: opts, box: sandbox.New(opts.Test, log)}
}

// UseLogger logs the sandbox's warning (no isolation) to log.
func (r *CodeReward) UseLogger(log zerolog.Logger) { r.box.Log = log }

// Score scores one completion.
func (r *CodeReward) Score(c Completion) (float64, error) {
	o := r.ScoreBatch([]Completion{c})[0]
	return o.Score, o.Err
}

// codeFence is DiffuCoder's format: the completion is text without ```,
// then ```python\n, code without ```, then ``` and a newline, and nothing
// after (its regular expression, fully matched, says just this). It returns
// the code.
func codeFence(s string) (string, bool) {
	i := strings.Index(s, "```")
	if i < 0 || !strings.HasPrefix(s[i:], "```python\n") {
		return "", false
	}
	rest := s[i+len("```python\n"):]
	j := strings.Index(rest, "```")
	if j < 0 || rest[j:] != "```\n" {
		return "", false
	}
	return rest[:j], true
}

// parseScript prints 1 or 0 per code: whether ast.parse accepts it.
// DiffuCoder catches SyntaxError only; anything else raised while parsing
// (ValueError for a NUL byte, MemoryError or RecursionError on deep nesting)
// would stop its training, and counts as not parsing here.
const parseScript = `import ast, json
for code in json.load(open("codes.json")):
    try:
        ast.parse(code)
        ok = 1
    except BaseException:
        ok = 0
    print(ok, flush=True)
`

// formats is DiffuCoder's format score of each completion: 1.0 when the
// format holds and the stripped code parses, 0.5 when it does not parse, 0
// without the format.
func (r *CodeReward) formats(cs []Completion) []float64 {
	scores := make([]float64, len(cs))
	var idx []int
	var codes []string
	for i, c := range cs {
		if code, ok := codeFence(c.Text); ok {
			idx = append(idx, i)
			codes = append(codes, pyStrip(code))
		}
	}
	if len(codes) == 0 {
		return scores
	}
	parsed := r.parse(codes)
	if len(parsed) < len(codes) {
		// The batch did not finish (a pathological input took it down): check
		// the rest one at a time, so only the culprit scores as unparsable.
		for k := len(parsed); k < len(codes); k++ {
			one := r.parse(codes[k : k+1])
			if one == nil {
				one = []bool{false}
			}
			parsed = append(parsed, one[0])
		}
	}
	for k, i := range idx {
		scores[i] = 0.5
		if parsed[k] {
			scores[i] = 1
		}
	}
	return scores
}

// parse runs the syntax check on codes in one sandbox; it returns the
// answers it got, fewer than codes when the run broke off.
func (r *CodeReward) parse(codes []string) []bool {
	js, _ := json.Marshal(codes)
	res, err := r.box.Run(context.Background(), []string{r.opts.Python, "parse.py"},
		map[string][]byte{"parse.py": []byte(parseScript), "codes.json": js}, nil)
	if err != nil {
		return nil
	}
	var out []bool
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if len(out) == len(codes) || (line != "0" && line != "1") {
			break
		}
		out = append(out, line == "1")
	}
	return out
}

// ScoreBatch scores cs, running their sandboxes in parallel.
func (r *CodeReward) ScoreBatch(cs []Completion) []Outcome {
	out := make([]Outcome, len(cs))
	var tests [][]string
	if r.passRate {
		tests = make([][]string, len(cs))
		for i, c := range cs {
			t, err := refTests(c.Ref)
			if err != nil {
				out[i].Err = err
			}
			tests[i] = t
		}
	}
	formats := r.formats(cs)
	if !r.passRate {
		for i := range cs {
			out[i].Score = formats[i]
		}
		return out
	}
	// DiffuCoder's code reward: each test is its own run of the solution
	// followed by the test (python3 -c "code\ntest"), passing when it exits
	// 0; a test that times out ends the whole evaluation, which then scores 0.
	// DiffuCoder limits wall-clock time only; running out of our CPU-time
	// limit (as long as the wall-clock one by default) counts the same.
	type job struct{ c, t int }
	var jobs []job
	state := make([]struct {
		passed   int
		timedOut bool
		spent    time.Duration
		iso      string
		ctx      context.Context
		cancel   context.CancelFunc
	}, len(cs))
	for i := range cs {
		if out[i].Err != nil || formats[i] != 1 {
			continue
		}
		state[i].ctx, state[i].cancel = context.WithCancel(context.Background())
		defer state[i].cancel()
		for t := range tests[i] {
			jobs = append(jobs, job{i, t})
		}
	}
	var mu sync.Mutex
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < min(r.opts.Parallel, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				st := &state[j.c]
				if st.ctx.Err() != nil {
					continue // an earlier test timed out: the completion scores 0
				}
				code, _ := codeFence(cs[j.c].Text)
				res, err := r.runTest(st.ctx, code, tests[j.c][j.t])
				mu.Lock()
				switch {
				case err != nil:
					if out[j.c].Err == nil {
						out[j.c].Err = err
					}
					st.cancel()
				case res.TimedOut || res.OutOfCPU:
					if st.ctx.Err() == nil { // not one we cut short
						st.timedOut = true
						st.cancel()
					}
				case res.OK():
					st.passed++
				}
				st.spent += res.Elapsed
				st.iso = res.Isolation
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	for i := range cs {
		if out[i].Err != nil || formats[i] != 1 {
			continue
		}
		st := state[i]
		n := len(tests[i])
		over := st.spent > r.opts.Budget
		if !st.timedOut && !over {
			out[i].Score = float64(st.passed) / float64(n)
		}
		out[i].Details = map[string]any{"passed": st.passed, "tests": n, "timed_out": st.timedOut, "over_budget": over, "isolation": st.iso}
	}
	return out
}

// runTest runs the solution and one test as a single Python program.
func (r *CodeReward) runTest(ctx context.Context, code, test string) (sandbox.Result, error) {
	prog := code + "\n" + test
	if len(prog) < 64<<10 {
		return r.box.Run(ctx, []string{r.opts.Python, "-c", prog}, nil, nil)
	}
	// too long for one argument: the same program from a file
	return r.box.Run(ctx, []string{r.opts.Python, "main.py"}, map[string][]byte{"main.py": []byte(prog)}, nil)
}

// refTests reads the tests: DiffuCoder's "test_cases" (a list of programs,
// usually asserts) or "tests" (the same, or d1's block of assert lines, one
// test per line).
func refTests(ref map[string]any) ([]string, error) {
	v, ok := ref["test_cases"]
	if !ok {
		v = ref["tests"]
	}
	switch v := v.(type) {
	case []string:
		if len(v) > 0 {
			return v, nil
		}
	case []any:
		out := make([]string, 0, len(v))
		for i, t := range v {
			s, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("reference tests[%d]: %v is not a string", i, t)
			}
			out = append(out, s)
		}
		if len(out) > 0 {
			return out, nil
		}
	case string:
		var out []string
		for _, line := range strings.Split(v, "\n") {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "assert") {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, errMissingRef("test_cases or tests (a non-empty list of test programs, e.g. asserts)")
}
