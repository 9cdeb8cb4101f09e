package trainer

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if _, err := Train(context.Background(), smallRun(t, dir, n), Options{Log: zerolog.Nop()}); err != nil {
			t.Fatal(err)
		}
	}
	a := finalWeights(t, filepath.Join(dir, "a.db"))
	b := finalWeights(t, filepath.Join(dir, "b.db"))
	for i := range a.Weights {
		for j := range a.Weights[i].Data {
			if math.Float32bits(a.Weights[i].Data[j]) != math.Float32bits(b.Weights[i].Data[j]) {
				t.Fatalf("%s[%d]: %g vs %g", a.Weights[i].Name, j, a.Weights[i].Data[j], b.Weights[i].Data[j])
			}
		}
	}
}
