package rollout

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/remask/remask/model"
)

// blockScripted is a scripted block-causal model: the logits are
// scriptedModel's (counted from the completion's first position), and it
// records which positions each forward computes.
type blockScripted struct {
	scriptedModel
	bs     int
	ranges [][2]int
	lens   []int
}

func (m *blockScripted) BlockSize() int                   { return m.bs }
func (m *blockScripted) NewCache(B, L int) *model.KVCache { return &model.KVCache{B: B, L: L} }
func (m *blockScripted) Forward(ids []int, B, L int, valid []bool, out []float32) ([]float32, error) {
	return m.ForwardRange(ids, B, L, valid, 0, L, nil, out)
}
func (m *blockScripted) ForwardRange(ids []int, B, L int, valid []bool, lo, hi int, _ *model.KVCache, out []float32) ([]float32, error) {
	m.ranges = append(m.ranges, [2]int{lo, hi})
	m.lens = append(m.lens, L)
	full, _ := m.scriptedModel.Forward(ids, B, L, valid, nil)
	V := m.vocab
	out = make([]float32, 0, B*(hi-lo)*V)
	for b := 0; b < B; b++ {
		out = append(out, full[(b*L+lo)*V:(b*L+hi)*V]...)
	}
	return out, nil
}

// Worked by hand: a prompt of 3 tokens and blocks of 4 put the completion at
// position 4 (one padding position), 8 tokens in two blocks, two steps per
// block. Cached, the first forward of block 0 computes the prompt block and
// block 0, its second block 0 alone; the first of block 1 recomputes block 0,
// now final, into the cache with block 1, the second block 1 alone.
// Uncached, every forward is over all 12 positions. Both commit the same.
func TestBlockDecodingRanges(t *testing.T) {
	for _, tc := range []struct {
		cache string
		want  [][2]int
	}{
		{"dual", [][2]int{{0, 8}, {4, 8}, {4, 12}, {8, 12}}},
		{"none", [][2]int{{0, 12}, {0, 12}, {0, 12}, {0, 12}}},
	} {
		// the completion starts at position 4 = promptLen in the padded layout
		m := &blockScripted{scriptedModel: scriptedModel{vocab: 10, promptLen: 4, tok: []int{4, 5, 6, 7, 8, 9, 4, 5}, conf: []float32{1, 5, 3, 4, 2, 8, 7, 6}}, bs: 4}
		o := opts(8, 4, 0)
		o.Cache = tc.cache
		res, err := Generate(m, [][]int{{2, 6, 7}}, o, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.ranges, tc.want) || m.lens[0] != 12 {
			t.Fatalf("cache %s: forwards over %v of %d positions, want %v of 12", tc.cache, m.ranges, m.lens[0], tc.want)
		}
		if !reflect.DeepEqual(res.Tokens[0], []int{4, 5, 6, 7, 8, 9, 4, 5}) || !reflect.DeepEqual(res.Trace[0], []int{1, 0, 1, 0, 3, 2, 2, 3}) || res.NFE != 4 {
			t.Fatalf("cache %s: tokens %v trace %v nfe %d", tc.cache, res.Tokens[0], res.Trace[0], res.NFE)
		}
	}
	m := &blockScripted{scriptedModel: scriptedModel{vocab: 10, promptLen: 4, tok: make([]int, 8), conf: make([]float32, 8)}, bs: 4}
	if _, err := Generate(m, [][]int{{2}}, opts(8, 4, 8), rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("a sampler block other than the model's accepted")
	}
}
