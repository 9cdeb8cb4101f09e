package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/remask/remask/algos"
)

// remask algos lists every registered estimator with its defaults; train's
// help points to it.
func TestAlgosCommand(t *testing.T) {
	code, out, errOut := runCaptured(t, "algos")
	if code != 0 {
		t.Fatalf("algos: %d %s", code, errOut)
	}
	for _, n := range algos.Names() {
		r, _ := algos.Lookup(n)
		if !strings.Contains(out, n) || !strings.Contains(out, r.Doc) {
			t.Errorf("algos lacks %s:\n%s", n, out)
		}
	}
	if !strings.Contains(out, "p_mask_prompt 0.15") || !strings.Contains(out, "loss_agg token") {
		t.Errorf("algos lacks defaults:\n%s", out)
	}
	code, out, _ = runCaptured(t, "algos", "--json")
	var infos []algoInfo
	if err := json.Unmarshal([]byte(out), &infos); code != 0 || err != nil || len(infos) != len(algos.Names()) {
		t.Fatalf("algos --json: %d %v\n%s", code, err, out)
	}
	for _, a := range infos {
		if a.Name == "unigrpo" && (a.Defaults.Mu != 4 || a.Section["t"] != float64(1000)) {
			t.Errorf("unigrpo: %+v", a)
		}
	}
	if _, out, _ := runCaptured(t, "train", "--help"); !strings.Contains(out, "remask algos") {
		t.Errorf("train --help does not point to remask algos:\n%s", out)
	}
}
