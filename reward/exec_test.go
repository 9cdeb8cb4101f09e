package reward

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// plugin writes a Python plugin whose behaviour for each request is chosen by
// the completion text, so one program can be honest, crash, hang or lie.
func plugin(t *testing.T) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.py")
	src := `
import json, sys, time
def forever():
    while True:
        time.sleep(3600)
for line in sys.stdin:
    req = json.loads(line)
    c = req["completion"]
    if c == "crash":
        sys.stderr.write("crashing on purpose\n"); sys.stderr.flush()
        sys.exit(3)
    if c == "hang":
        forever()
    if c == "garbage":
        print("this is not json", flush=True); continue
    if c == "nan":
        print('{"id": %d, "score": NaN}' % req["id"], flush=True); continue
    if c == "huge":
        print('{"id": %d, "score": 1e999}' % req["id"], flush=True); continue
    if c == "noscore":
        print(json.dumps({"id": req["id"]}), flush=True); continue
    if c == "wrongid":
        print(json.dumps({"id": req["id"] + 100, "score": 1}), flush=True); continue
    if c == "twice":
        print(json.dumps({"id": req["id"], "score": 1}), flush=True)
        print(json.dumps({"id": req["id"], "score": 1}), flush=True); continue
    if c == "baddetails":
        print(json.dumps({"id": req["id"], "score": 1, "details": [1, 2]}), flush=True); continue
    if c == "error":
        print(json.dumps({"id": req["id"], "error": "cannot score this"}), flush=True); continue
    if c == "closeout":
        sys.stdout.close(); forever()
    if c == "fork":
        import subprocess
        subprocess.Popen(["sleep", "3600"])
        forever()
    print(json.dumps({"id": req["id"], "score": len(c) / 10, "details": {"n": len(c)}}), flush=True)
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"python3", p}
}

// script writes a Python program of the given source and returns its command.
func script(t *testing.T, src string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.py")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"python3", p}
}

// No test here depends on how fast the machine is. A healthy answer always
// has a minute: either the timeout is a minute, or the answer is the first of
// a fresh start, which gets the startup grace (an hour) on top of a short
// timeout. The short timeout only ever runs out on a program that never
// answers. Restart back-off sleeps are recorded, not slept.
const (
	generous = time.Minute
	short    = 300 * time.Millisecond
)

// newPlugin prepares a plugin with the given timeout and an hour of startup
// grace.
func newPlugin(t *testing.T, argv []string, timeout time.Duration) (*Exec, *[]time.Duration) {
	t.Helper()
	e, err := NewExec(argv, timeout, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	e.Startup = time.Hour
	slept := new([]time.Duration)
	e.sleep = func(d time.Duration) { *slept = append(*slept, d) }
	t.Cleanup(func() { e.Close() })
	return e, slept
}

// A plugin that crashes, hangs, writes garbage, lies about the id or the
// score fails that one completion and is restarted; the next call works.
func TestExecPluginFailuresAreContained(t *testing.T) {
	// Every healthy answer below is the first after a (re)start, with the
	// hour of grace; "hang", "fork" and "closeout" come after an answer, so
	// the short timeout applies to them, and they never answer.
	e, _ := newPlugin(t, plugin(t), short)
	if v, err := e.Score(Completion{Text: "abcde"}); err != nil || v != 0.5 {
		t.Fatalf("honest answer: %v %v", v, err)
	}
	bad := []string{"crash", "hang", "garbage", "nan", "huge", "noscore", "wrongid", "baddetails", "closeout", "fork"}
	for _, b := range bad {
		_, err := e.Score(Completion{Text: b})
		if err == nil {
			t.Fatalf("%s: no error", b)
		}
		if errors.Is(err, ErrAbort) {
			t.Fatalf("%s: one failure aborted: %v", b, err)
		}
		if b == "hang" && !strings.Contains(err.Error(), "no answer within 300ms") {
			t.Fatalf("hang: %v", err)
		}
		if v, err := e.Score(Completion{Text: "abc"}); err != nil || v != 0.3 {
			t.Fatalf("after %s: %v %v (the plugin should have been restarted)", b, v, err)
		}
	}
	if e.Restarts() != len(bad) || e.Failures() != len(bad) {
		t.Fatalf("%d restarts, %d failures, want %d", e.Restarts(), e.Failures(), len(bad))
	}
	// A second answer to one request shows up as the wrong id for the next.
	if v, err := e.Score(Completion{Text: "twice"}); err != nil || v != 1 {
		t.Fatalf("twice: %v %v", v, err)
	}
	if _, err := e.Score(Completion{Text: "abc"}); err == nil || !strings.Contains(err.Error(), "want") {
		t.Fatalf("after a double answer: %v", err)
	}
	restarts := e.Restarts()
	// An error the plugin reports itself does not restart it.
	if _, err := e.Score(Completion{Text: "error"}); err == nil || !strings.Contains(err.Error(), "cannot score this") {
		t.Fatalf("reported error: %v", err)
	}
	if e.Restarts() != restarts {
		t.Fatal("a reported error restarted the plugin")
	}
	// In a combination, the failure costs the completion its failure score only.
	s, err := Combine([]Component{{Name: "p", Weight: 2, Reward: e, FailureScore: -0.5}, {Name: "one", Weight: 1, Reward: Func(func(Completion) (float64, error) { return 1, nil })}}, Completion{Text: "garbage"})
	if err != nil || s.Total != 0 || s.Components["p"] != -0.5 || s.Failures["p"] == "" || s.Components["one"] != 1 {
		t.Fatalf("%+v %v", s, err)
	}
}

// A batch is pipelined; a failure in its middle costs that completion only.
func TestExecPluginBatch(t *testing.T) {
	e, _ := newPlugin(t, plugin(t), generous)
	texts := []string{"a", "bb", "crash", "cccc", "garbage", "ddddd", "error", "ee"}
	var cs []Completion
	for _, s := range texts {
		cs = append(cs, Completion{Text: s})
	}
	outs := e.ScoreBatch(cs)
	for i, s := range texts {
		o := outs[i]
		switch s {
		case "crash", "garbage", "error":
			if o.Err == nil || errors.Is(o.Err, ErrAbort) {
				t.Errorf("%s: %v", s, o.Err)
			}
		default:
			if o.Err != nil || o.Score != float64(len(s))/10 || o.Details["n"] != float64(len(s)) {
				t.Errorf("%s: %+v", s, o)
			}
		}
	}
	if e.Restarts() != 2 {
		t.Errorf("%d restarts, want 2", e.Restarts())
	}
	// CombineBatch carries the details through.
	sc, err := CombineBatch([]Component{{Name: "len", Weight: 1, Reward: e}}, cs[:2])
	if err != nil || sc[1].Components["len"] != 0.2 || sc[1].Details["len"].(map[string]any)["n"] != 2.0 {
		t.Fatalf("%+v %v", sc, err)
	}
	// A large batch goes through the pipes without either side blocking.
	big := make([]Completion, 2000)
	for i := range big {
		big[i] = Completion{Text: strings.Repeat("x", i%10), Prompt: strings.Repeat("p", 500)}
	}
	for i, o := range e.ScoreBatch(big) {
		if o.Err != nil || o.Score != float64(i%10)/10 {
			t.Fatalf("big batch, %d: %+v", i, o)
		}
	}
}

// A completion that hangs in a batch times out; the plugin is restarted for
// the rest of the batch. Each healthy answer is the first of a start, so it
// has the startup grace; the hang has the short timeout.
func TestExecPluginBatchHang(t *testing.T) {
	e, _ := newPlugin(t, plugin(t), short)
	outs := e.ScoreBatch([]Completion{{Text: "a"}, {Text: "hang"}, {Text: "bb"}})
	if outs[0].Err != nil || outs[0].Score != 0.1 || outs[2].Err != nil || outs[2].Score != 0.2 {
		t.Fatalf("%+v", outs)
	}
	if outs[1].Err == nil || !strings.Contains(outs[1].Err.Error(), "no answer within 300ms") || errors.Is(outs[1].Err, ErrAbort) {
		t.Fatalf("hang: %v", outs[1].Err)
	}
	if e.Restarts() != 1 {
		t.Fatalf("%d restarts", e.Restarts())
	}
}

// A program that never reads its input cannot block us, even when the
// request does not fit in the pipe.
func TestExecPluginThatDoesNotRead(t *testing.T) {
	e, _ := newPlugin(t, []string{"sleep", "3600"}, short)
	e.Startup = 0
	_, err := e.Score(Completion{Text: strings.Repeat("x", 1<<20)})
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("%v", err)
	}
}

// A program that cannot start fails at Start, with one line that names it
// and ends with its stderr; without Start, the first batch aborts.
func TestExecPluginThatCannotStart(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "plugin.py")
	if err := os.WriteFile(notExec, []byte("print('hi')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missingScript := filepath.Join(t.TempDir(), "missing.py")
	cases := []struct {
		argv []string
		want []string
	}{
		{[]string{"/no/such/program"}, []string{`reward plugin "/no/such/program" cannot start`, "no such file"}},
		{[]string{notExec}, []string{"cannot start", "permission denied"}},
		{[]string{"python3", missingScript}, []string{"cannot start", "exit status 2", "stderr:", "missing.py"}},
		{script(t, "import sys\nsys.stderr.write('no module named magic\\n')\nsys.exit(4)\n"), []string{"cannot start", "exit status 4", "stderr: no module named magic"}},
	}
	for _, c := range cases {
		e, _ := newPlugin(t, c.argv, generous)
		e.probe = time.Hour // Start returns as soon as the program exits
		err := e.Start()
		if err == nil {
			t.Fatalf("%v: started", c.argv)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", c.argv, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: more than one line: %q", c.argv, err)
		}
	}
	// Without Start, the first batch ends the run: every outcome carries the
	// error, which wraps ErrAbort.
	e, slept := newPlugin(t, []string{"/no/such/program"}, generous)
	outs := e.ScoreBatch([]Completion{{Text: "a"}, {Text: "b"}})
	for _, o := range outs {
		if !errors.Is(o.Err, ErrAbort) || !strings.Contains(o.Err.Error(), `reward plugin "/no/such/program" cannot start`) {
			t.Fatalf("%+v", outs)
		}
	}
	if _, err := CombineBatch([]Component{{Name: "x", Weight: 1, Reward: e}}, []Completion{{}}); !errors.Is(err, ErrAbort) {
		t.Fatalf("CombineBatch after an abort: %v", err)
	}
	if len(*slept) != 0 {
		t.Fatalf("slept %v", *slept)
	}
	if _, err := NewExec(nil, 0, zerolog.Nop()); err == nil {
		t.Fatal("empty command accepted")
	}
}

// A healthy program passes Start, and is the one that answers.
func TestExecPluginStart(t *testing.T) {
	e, _ := newPlugin(t, plugin(t), generous)
	e.probe = 10 * time.Millisecond // it waits for its input, however long we watch
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Score(Completion{Text: "ab"}); err != nil || v != 0.2 {
		t.Fatalf("%v %v", v, err)
	}
	if err := e.Start(); err != nil || e.Restarts() != 0 {
		t.Fatalf("second Start: %v, %d restarts", err, e.Restarts())
	}
}

// A program that passes Start but exits on its first request, before any
// answer, cannot start either: the run ends at the first batch.
func TestExecPluginDiesBeforeFirstAnswer(t *testing.T) {
	argv := script(t, "import sys\nsys.stdin.readline()\nsys.stderr.write('model file not found\\n')\nsys.exit(1)\n")
	e, _ := newPlugin(t, argv, generous)
	e.Name = "judge"
	e.probe = 10 * time.Millisecond
	if err := e.Start(); err != nil {
		t.Fatal(err) // it waits for its input
	}
	_, err := CombineBatch([]Component{{Name: "judge", Weight: 1, Reward: e}}, make([]Completion, 5))
	if !errors.Is(err, ErrAbort) {
		t.Fatalf("%v", err)
	}
	for _, w := range []string{`reward plugin "judge" cannot start`, "without answering its first request", "stderr: model file not found"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if e.Restarts() != 1 {
		t.Errorf("%d restarts, want 1 (no restart after the abort)", e.Restarts())
	}
}

// After max_consecutive_failures failed completions in a row the run ends,
// with one line naming the plugin, the count, the last reason and the stderr
// tail; an answer resets the count; restarts back off.
func TestExecPluginMaxConsecutiveFailures(t *testing.T) {
	e, slept := newPlugin(t, plugin(t), generous)
	e.Name = "rules"
	e.MaxConsecutiveFailures = 4
	crash := Completion{Text: "crash"}
	if v, err := e.Score(Completion{Text: "abc"}); err != nil || v != 0.3 {
		t.Fatalf("%v %v", v, err)
	}
	// three failures, then an answer: the count starts again
	for range 3 {
		if _, err := e.Score(crash); err == nil || errors.Is(err, ErrAbort) {
			t.Fatalf("%v", err)
		}
	}
	if _, err := e.Score(Completion{Text: "error"}); err == nil || errors.Is(err, ErrAbort) {
		t.Fatalf("an error answer: %v", err)
	}
	// restarts before the second and third crash, and before the answer
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !reflect.DeepEqual(*slept, want) {
		t.Fatalf("back-off %v, want %v", *slept, want)
	}
	*slept = nil
	// four in a row, in one batch: the fourth ends the run, and so do the
	// completions after it, without another start
	cs := []Completion{crash, crash, crash, crash, {Text: "abc"}, {Text: "abc"}}
	outs := e.ScoreBatch(cs)
	for i := range 3 {
		if outs[i].Err == nil || errors.Is(outs[i].Err, ErrAbort) {
			t.Fatalf("%d: %v", i, outs[i].Err)
		}
	}
	for i := 3; i < len(cs); i++ {
		if !errors.Is(outs[i].Err, ErrAbort) {
			t.Fatalf("%d: %v", i, outs[i].Err)
		}
	}
	msg := outs[3].Err.Error()
	for _, w := range []string{`reward plugin "rules" failed on 4 completions in a row (max_consecutive_failures 4)`, "the last: exited (exit status 3) without answering", "stderr: crashing on purpose"} {
		if !strings.Contains(msg, w) {
			t.Errorf("%q lacks %q", msg, w)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("more than one line: %q", msg)
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !reflect.DeepEqual(*slept, want) {
		t.Fatalf("back-off %v, want %v", *slept, want)
	}
	restarts := e.Restarts()
	if _, err := e.Score(Completion{Text: "abc"}); !errors.Is(err, ErrAbort) || e.Restarts() != restarts {
		t.Fatalf("after the abort: %v, %d restarts (was %d)", err, e.Restarts(), restarts)
	}
	if err := e.Start(); !errors.Is(err, ErrAbort) {
		t.Fatalf("Start after the abort: %v", err)
	}
}

// answerOnceThenCrash is a shell plugin that answers the first request of
// its life (a marker file remembers it across restarts) and then exits 3 on
// every request: cheap to restart many times.
func answerOnceThenCrash(t *testing.T) []string {
	mark := filepath.Join(t.TempDir(), "answered")
	src := `read line || exit 0
if [ -e "$1" ]; then echo "crashing again" >&2; exit 3; fi
: > "$1"
id=$(printf '%s' "$line" | sed 's/^{"id":\([0-9]*\).*/\1/')
printf '{"id": %s, "score": 1}\n' "$id"
read line
exit 3
`
	return []string{"sh", "-c", src, "sh", mark}
}

// max_consecutive_failures 0 never aborts.
func TestExecPluginNoFailureLimit(t *testing.T) {
	e, slept := newPlugin(t, answerOnceThenCrash(t), generous)
	e.MaxConsecutiveFailures = 0
	if v, err := e.Score(Completion{Text: "a"}); err != nil || v != 1 {
		t.Fatalf("%v %v", v, err)
	}
	cs := make([]Completion, DefaultMaxConsecutiveFailures+5)
	for i, o := range e.ScoreBatch(cs) {
		if o.Err == nil || errors.Is(o.Err, ErrAbort) {
			t.Fatalf("%d: %v", i, o.Err)
		}
	}
	// the first crash needs no restart, the second restarts at once
	if len(*slept) != len(cs)-2 || (*slept)[len(*slept)-1] != restartDelayMax {
		t.Fatalf("back-off %v", *slept)
	}
	// with the default limit, the same plugin ends the run after 20
	e, _ = newPlugin(t, answerOnceThenCrash(t), generous)
	if _, err := e.Score(Completion{}); err != nil {
		t.Fatal(err)
	}
	outs := e.ScoreBatch(cs)
	if errors.Is(outs[DefaultMaxConsecutiveFailures-2].Err, ErrAbort) || !errors.Is(outs[DefaultMaxConsecutiveFailures-1].Err, ErrAbort) ||
		!strings.Contains(outs[len(cs)-1].Err.Error(), "failed on 20 completions in a row") || !strings.Contains(outs[len(cs)-1].Err.Error(), "stderr: crashing again") {
		t.Fatalf("%v | %v", outs[DefaultMaxConsecutiveFailures-2].Err, outs[len(cs)-1].Err)
	}
}

// The back-off: none before the first restart, then 100 ms doubling, at most
// 2 s.
func TestRestartDelay(t *testing.T) {
	var got []string
	for n := 0; n <= 9; n++ {
		got = append(got, restartDelay(n).String())
	}
	want := "[0s 0s 100ms 200ms 400ms 800ms 1.6s 2s 2s 2s]"
	if fmt.Sprint(got) != want {
		t.Fatalf("%v, want %s", got, want)
	}
	if restartDelay(1000) != restartDelayMax {
		t.Fatal("no cap")
	}
}

// The stderr tail is the last lines on one line.
func TestStderrTail(t *testing.T) {
	var tl stderrTail
	for i := range 10 {
		tl.add([]byte(fmt.Sprintf("line %d\n", i)))
	}
	tl.add([]byte("\n  Traceback: x\r\n"))
	if got := tl.String(); got != "line 6 | line 7 | line 8 | line 9 | Traceback: x" {
		t.Fatalf("%q", got)
	}
	tl.add([]byte(strings.Repeat("y", 10000)))
	if got := tl.String(); len(got) != 603 || !strings.HasPrefix(got, "...y") {
		t.Fatalf("%d %.20q", len(got), got)
	}
}

// The example plugin of the README does what its documentation says.
func TestExamplePlugin(t *testing.T) {
	e, _ := newPlugin(t, []string{"python3", "../examples/sudoku_rules_reward.py"}, generous)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	ref := map[string]any{"puzzle": "0004300021000320"}
	cases := []struct {
		text string
		want float64
	}{
		{"1234341221434321", 1},
		{"1234341221434322", 0.75}, // the last row, column and box are wrong
		{"1233341221434321", 0},    // a given digit (the 4 in the first row) changed
	}
	for _, c := range cases {
		if v, err := e.Score(Completion{Text: c.text, Ref: ref}); err != nil || v != c.want {
			t.Errorf("%q: %v %v, want %v", c.text, v, err, c.want)
		}
	}
	outs := e.ScoreBatch([]Completion{{Text: "1234341221434321", Ref: ref}, {Text: "1234", Ref: map[string]any{}}})
	if outs[0].Details["good_units"] != 12.0 || outs[1].Err == nil || !strings.Contains(outs[1].Err.Error(), "16-digit puzzle") {
		t.Fatalf("%+v", outs)
	}
	if e.Restarts() != 0 {
		t.Fatalf("%d restarts", e.Restarts())
	}
}
