package rollout

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func poolPrompts() [][]int {
	var ps [][]int
	for i := 0; i < 7; i++ {
		ps = append(ps, []int{2, 4 + i%8, 5 + i%7, 6})
	}
	return ps
}

// The groups are bit-identical whatever the number of workers, and every
// sample of a group has its own random stream.
func TestPoolIndependentOfWorkers(t *testing.T) {
	m := randomModel(t, 2)
	o := opts(8, 8, 4)
	o.Temperature = 1
	snap := &Snapshot{Version: 3, Params: m.Params()}
	var ref []Group
	for _, w := range []int{1, 2, 3} {
		pool, err := NewPool(PoolConfig{Workers: w, Group: 4, Seed: 11, PerJob: 2, Options: o})
		if err != nil {
			t.Fatal(err)
		}
		gs, err := pool.Rollout(context.Background(), snap, 5, poolPrompts())
		if err != nil {
			t.Fatal(err)
		}
		if w == 1 {
			ref = gs
			if reflect.DeepEqual(gs[0].Tokens[0], gs[0].Tokens[1]) && reflect.DeepEqual(gs[0].Tokens[1], gs[0].Tokens[2]) {
				t.Fatal("samples of a group are identical at temperature 1: shared random stream?")
			}
			for i, g := range gs {
				if g.Prompt != i || g.Version != 3 || len(g.Tokens) != 4 {
					t.Fatalf("group %d: %+v", i, g)
				}
			}
			continue
		}
		if !reflect.DeepEqual(gs, ref) {
			t.Fatalf("%d workers: groups differ from 1 worker", w)
		}
	}
	// Another step draws other samples.
	pool, _ := NewPool(PoolConfig{Workers: 2, Group: 4, Seed: 11, Options: o})
	gs, _ := pool.Rollout(context.Background(), snap, 6, poolPrompts())
	if reflect.DeepEqual(gs, ref) {
		t.Fatal("step 6 repeated step 5's samples")
	}
}

func TestPoolCancellation(t *testing.T) {
	m := randomModel(t, 1)
	pool, err := NewPool(PoolConfig{Workers: 2, Group: 2, Seed: 1, Options: opts(8, 8, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pool.Rollout(ctx, &Snapshot{Params: m.Params()}, 0, poolPrompts()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rollout: %v", err)
	}
	if _, err := NewPool(PoolConfig{Workers: 1, Group: 0, Options: opts(8, 8, 0)}); err == nil {
		t.Fatal("group 0 accepted")
	}
}
