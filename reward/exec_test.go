package reward

import (
	"os"
	"path/filepath"
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
for line in sys.stdin:
    req = json.loads(line)
    c = req["completion"]
    if c == "crash":
        sys.exit(3)
    if c == "hang":
        time.sleep(60)
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
        sys.stdout.close(); time.sleep(60)
    if c == "fork":
        import subprocess
        subprocess.Popen(["sleep", "60"])
        time.sleep(60)
    print(json.dumps({"id": req["id"], "score": len(c) / 10, "details": {"n": len(c)}}), flush=True)
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"python3", p}
}

func newPlugin(t *testing.T, argv []string, timeout time.Duration) *Exec {
	t.Helper()
	e, err := NewExec(argv, timeout, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	e.Startup = time.Second // python starts in well under that
	t.Cleanup(func() { e.Close() })
	return e
}

// A plugin that crashes, hangs, writes garbage, lies about the id or the
// score fails that one completion and is restarted; the next call works.
func TestExecPluginFailuresAreContained(t *testing.T) {
	e := newPlugin(t, plugin(t), 500*time.Millisecond)
	if v, err := e.Score(Completion{Text: "abcde"}); err != nil || v != 0.5 {
		t.Fatalf("honest answer: %v %v", v, err)
	}
	bad := []string{"crash", "hang", "garbage", "nan", "huge", "noscore", "wrongid", "baddetails", "closeout", "fork"}
	for _, b := range bad {
		if _, err := e.Score(Completion{Text: b}); err == nil {
			t.Fatalf("%s: no error", b)
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
	s := Combine([]Component{{Name: "p", Weight: 2, Reward: e, FailureScore: -0.5}, {Name: "one", Weight: 1, Reward: Func(func(Completion) (float64, error) { return 1, nil })}}, Completion{Text: "garbage"})
	if s.Total != 0 || s.Components["p"] != -0.5 || s.Failures["p"] == "" || s.Components["one"] != 1 {
		t.Fatalf("%+v", s)
	}
}

// A batch is pipelined; a failure in its middle costs that completion only.
func TestExecPluginBatch(t *testing.T) {
	e := newPlugin(t, plugin(t), 500*time.Millisecond)
	texts := []string{"a", "bb", "crash", "cccc", "garbage", "hang", "ddddd", "error", "ee"}
	var cs []Completion
	for _, s := range texts {
		cs = append(cs, Completion{Text: s})
	}
	outs := e.ScoreBatch(cs)
	for i, s := range texts {
		o := outs[i]
		switch s {
		case "crash", "garbage", "hang", "error":
			if o.Err == nil {
				t.Errorf("%s: no error", s)
			}
		default:
			if o.Err != nil || o.Score != float64(len(s))/10 || o.Details["n"] != float64(len(s)) {
				t.Errorf("%s: %+v", s, o)
			}
		}
	}
	if e.Restarts() != 3 {
		t.Errorf("%d restarts, want 3", e.Restarts())
	}
	// CombineBatch carries the details through.
	sc := CombineBatch([]Component{{Name: "len", Weight: 1, Reward: e}}, cs[:2])
	if sc[1].Components["len"] != 0.2 || sc[1].Details["len"].(map[string]any)["n"] != 2.0 {
		t.Fatalf("%+v", sc[1])
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

// A program that never reads its input cannot block us, even when the
// request does not fit in the pipe.
func TestExecPluginThatDoesNotRead(t *testing.T) {
	e := newPlugin(t, []string{"sleep", "60"}, 300*time.Millisecond)
	e.Startup = 0
	_, err := e.Score(Completion{Text: strings.Repeat("x", 1<<20)})
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("%v", err)
	}
}

func TestExecPluginThatCannotStart(t *testing.T) {
	e := newPlugin(t, []string{"/no/such/program"}, time.Second)
	outs := e.ScoreBatch([]Completion{{Text: "a"}, {Text: "b"}})
	if outs[0].Err == nil || outs[1].Err == nil || !strings.Contains(outs[0].Err.Error(), "/no/such/program") {
		t.Fatalf("%+v", outs)
	}
	if _, err := NewExec(nil, 0, zerolog.Nop()); err == nil {
		t.Fatal("empty command accepted")
	}
}

// The example plugin of the README does what its documentation says.
func TestExamplePlugin(t *testing.T) {
	e := newPlugin(t, []string{"python3", "../examples/sudoku_rules_reward.py"}, 2*time.Second)
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
