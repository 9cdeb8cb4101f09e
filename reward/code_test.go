package reward

import (
	"os"
	"testing"
	"time"

	"github.com/remask/remask/reward/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeChild()
	os.Exit(m.Run())
}

func TestCodeRewards(t *testing.T) {
	ref := map[string]any{"tests": []any{"assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"}}
	good := "Here:\n```python\ndef add(a, b):\n    return a + b\n```\n"
	cases := []struct {
		text           string
		format, passed float64
	}{
		{good, 1, 2.0 / 3},
		{"```python\ndef add(a, b)\n    return a + b\n```", 0.5, 0}, // syntax error: format 0.5, no pass rate
		{"def add(a, b): return a + b", 0, 0},                       // no code block
		{"```python\ndef add(a, b):\n    while True: pass\n```", 1, 0},
		{"```python\nimport os\nos.system('touch /etc/pwned')\ndef add(a, b):\n    return a + b\n```", 1, 2.0 / 3},
	}
	SandboxLimits.Wall = 10 * time.Second // generous: CI runs packages side by side on 2 cores
	SandboxLimits.CPU = time.Second
	for _, c := range cases {
		f := score(t, "code_format", Completion{Text: c.text, Ref: ref})
		p := score(t, "code_pass_rate", Completion{Text: c.text, Ref: ref})
		if f != c.format || p != c.passed {
			t.Errorf("%q: format %v pass %v, want %v %v", c.text, f, p, c.format, c.passed)
		}
	}
	if _, err := os.Stat("/etc/pwned"); err == nil {
		os.Remove("/etc/pwned")
		t.Fatal("model code wrote into /etc")
	}
	if _, err := Func(codePassRate).Score(Completion{Text: good, Ref: map[string]any{}}); err == nil {
		t.Fatal("missing tests accepted")
	}
}
