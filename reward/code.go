package reward

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/remask/remask/reward/sandbox"
)

func init() {
	Register("code_format", func() Reward { return Func(codeFormat) })
	Register("code_pass_rate", func() Reward { return Func(codePassRate) })
}

// SandboxLimits bound every run of model-written code by the code rewards.
var SandboxLimits = sandbox.DefaultLimits()

var pythonBlock = regexp.MustCompile("(?s)```python\\n(.*?)```")

// codeBlock is the first ```python fenced block of a completion.
func codeBlock(s string) (string, bool) {
	m := pythonBlock.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

const syntaxCheck = "import ast, sys\nast.parse(open('solution.py').read())\n"

// codeFormat is DiffuCoder's format reward: 1.0 for a ```python block that
// parses, 0.5 for one that does not, 0 without one. The parse runs in the
// sandbox, since it runs Python on model output.
func codeFormat(c Completion) (float64, error) {
	code, ok := codeBlock(c.Text)
	if !ok {
		return 0, nil
	}
	r, err := sandbox.Run(context.Background(), []string{"python3", "check.py"},
		map[string][]byte{"solution.py": []byte(code), "check.py": []byte(syntaxCheck)}, nil, SandboxLimits)
	if err != nil {
		return 0, err
	}
	switch {
	case r.OK():
		return 1, nil
	case r.ExitCode == 1 && (strings.Contains(string(r.Stderr), "SyntaxError") || strings.Contains(string(r.Stderr), "ValueError")):
		return 0.5, nil // it is there but does not parse
	}
	// Anything else (timeout, a limit, a sandbox failure) says nothing about
	// the completion: report it, so that it gets the failure score, instead
	// of scoring it as unparsable.
	return 0, fmt.Errorf("code_format: syntax check did not finish (exit %d, %s, timed out %v): %.200s", r.ExitCode, r.Signal, r.TimedOut, r.Stderr)
}

// The harness runs the solution, then each test on its own, printing one line
// per passed test as it goes, so a test that hangs costs only itself and the
// ones after it.
const testHarness = `import json, sys
tests = json.load(open("tests.json"))
ns = {"__name__": "solution"}
try:
    exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
except BaseException:
    sys.exit(0)
for i, t in enumerate(tests):
    try:
        exec(compile(t, "test_%d" % i, "exec"), dict(ns))
        print("PASS", i, flush=True)
    except BaseException:
        pass
`

// codePassRate is DiffuCoder's code reward: the fraction of the reference
// tests ({"tests": ["assert f(1) == 2", ...]}) that the completion's code
// passes in the sandbox, scored only when its format reward is 1.
func codePassRate(c Completion) (float64, error) {
	tests, err := refTests(c.Ref)
	if err != nil {
		return 0, err
	}
	if f, err := codeFormat(c); err != nil || f != 1 {
		return 0, err
	}
	code, _ := codeBlock(c.Text)
	tj, _ := json.Marshal(tests)
	r, err := sandbox.Run(context.Background(), []string{"python3", "harness.py"},
		map[string][]byte{"solution.py": []byte(code), "tests.json": tj, "harness.py": []byte(testHarness)}, nil, SandboxLimits)
	if err != nil {
		return 0, err
	}
	passed := map[string]bool{}
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		if strings.HasPrefix(line, "PASS ") {
			passed[line] = true
		}
	}
	return float64(len(passed)) / float64(len(tests)), nil
}

func refTests(ref map[string]any) ([]string, error) {
	switch v := ref["tests"].(type) {
	case []string:
		if len(v) > 0 {
			return v, nil
		}
	case []any:
		var out []string
		for _, t := range v {
			s, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("reference tests: %v is not a string", t)
			}
			out = append(out, s)
		}
		if len(out) > 0 {
			return out, nil
		}
	case string:
		// a block of asserts: one test per assert line
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
	return nil, errMissingRef("tests (a list of assert statements)")
}
