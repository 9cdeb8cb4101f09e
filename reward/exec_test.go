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
    if c == "wrongid":
        print(json.dumps({"id": req["id"] + 100, "score": 1}), flush=True); continue
    if c == "error":
        print(json.dumps({"id": req["id"], "error": "cannot score this"}), flush=True); continue
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

// A plugin that crashes, hangs, writes garbage, lies about the id or the
// score fails that one completion and is restarted; the next call works.
func TestExecPluginFailuresAreContained(t *testing.T) {
	e, err := NewExec(plugin(t), 2*time.Second, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if v, err := e.Score(Completion{Text: "abcde"}); err != nil || v != 0.5 {
		t.Fatalf("honest answer: %v %v", v, err)
	}
	for _, bad := range []string{"crash", "hang", "garbage", "nan", "wrongid", "fork"} {
		start := time.Now()
		_, err := e.Score(Completion{Text: bad})
		if err == nil {
			t.Fatalf("%s: no error", bad)
		}
		if time.Since(start) > 6*time.Second {
			t.Fatalf("%s: took %v despite the 2s timeout", bad, time.Since(start))
		}
		if v, err := e.Score(Completion{Text: "abc"}); err != nil || v != 0.3 {
			t.Fatalf("after %s: %v %v (the plugin should have been restarted)", bad, v, err)
		}
	}
	if e.Restarts != 6 {
		t.Fatalf("%d restarts, want 6", e.Restarts)
	}
	// An error the plugin reports itself does not restart it.
	if _, err := e.Score(Completion{Text: "error"}); err == nil || !strings.Contains(err.Error(), "cannot score this") {
		t.Fatalf("reported error: %v", err)
	}
	if e.Restarts != 6 {
		t.Fatal("a reported error restarted the plugin")
	}
	// In a combination, the failure costs the completion its failure score only.
	s := Combine([]Component{{Name: "p", Weight: 1, Reward: e, FailureScore: -0.5}}, Completion{Text: "garbage"})
	if s.Total != -0.5 || s.Failures["p"] == "" {
		t.Fatalf("%+v", s)
	}
}

func TestExampleLengthPlugin(t *testing.T) {
	e, err := NewExec([]string{"python3", "../examples/length_reward.py"}, 2*time.Second, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if v, err := e.Score(Completion{Text: "1234341221434321"}); err != nil || v != 1 {
		t.Fatalf("balanced: %v %v", v, err)
	}
	if v, err := e.Score(Completion{Text: "1111111111111111"}); err != nil || v != 0 {
		t.Fatalf("unbalanced: %v %v", v, err)
	}
}
