package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BD3-LM's vectorised training sequence worked by hand: a prompt token (block
// -1) and an answer of two blocks of 2 (rows c0..c4), then the noised copy
// of the same positions (n0..n4). Clean rows see clean rows of their own
// and earlier blocks; noised rows see the noised rows of their own block and
// the clean rows of earlier blocks. Key c2 is padding.
func TestBlockMaskByHand(t *testing.T) {
	lay := &Layout{
		Block: []int{-1, 0, 0, 1, 1, -1, 0, 0, 1, 1},
		Noisy: []bool{false, false, false, false, false, true, true, true, true, true},
	}
	valid := []bool{true, true, false, true, true, true, true, true, true, true}
	want := []string{
		//c0..c4 n0..n4
		"10000 00000", // c0
		"11000 00000", // c1 (c2 is padding)
		"11000 00000", // c2
		"11011 00000", // c3
		"11011 00000", // c4
		"00000 10000", // n0
		"10000 01100", // n1
		"10000 01100", // n2
		"11000 00011", // n3 (c2 padding)
		"11000 00011", // n4
	}
	s := attnShape{B: 1, L: 10, Valid: valid, Layout: lay}
	m := make([]bool, 10)
	for i, w := range want {
		got := ""
		for j, v := range s.keyMask(0, i, m) {
			if j == 5 {
				got += " "
			}
			if v {
				got += "1"
			} else {
				got += "0"
			}
		}
		if got != w {
			t.Errorf("row %d sees %s, want %s", i, got, w)
		}
	}
	// DefaultLayout with blocks of 3 over 7 positions, and the key limit the
	// plain-Go forward derives from it.
	d := DefaultLayout(2, 7, 3)
	wantBlocks := []int{0, 0, 0, 1, 1, 1, 2, 0, 0, 0, 1, 1, 1, 2}
	for i, b := range wantBlocks {
		if d.Block[i] != b {
			t.Fatalf("default layout block %d at %d, want %d", d.Block[i], i, b)
		}
	}
	for pos, end := range []int{3, 3, 3, 6, 6, 6, 7} {
		if got := blockEnd(pos, 3, 7); got != end {
			t.Fatalf("blockEnd(%d) = %d, want %d", pos, got, end)
		}
	}
	if blockEnd(2, 0, 7) != 7 {
		t.Fatal("full attention limits keys")
	}
}

// Block-causal attention makes earlier blocks blind to later ones: changing
// the tokens of block 2 leaves the logits of blocks 0 and 1 untouched, and
// changes block 2's. With full attention everything changes.
func TestBlockCausalHidesLaterBlocks(t *testing.T) {
	for _, bs := range []int{3, 0} {
		c := blockConfig()
		c.BlockSize = bs
		p, _ := New(c, 2)
		inf := NewInference(p)
		ids := []int{3, 4, 5, 6, 7, 8, 9, 10, 11}
		a, _ := inf.Forward(ids, 1, 9, nil, nil)
		a = append([]float32(nil), a...)
		ids[7] = 1
		b, _ := inf.Forward(ids, 1, 9, nil, nil)
		V := c.Vocab
		for pos := 0; pos < 9; pos++ {
			same := true
			for v := 0; v < V; v++ {
				same = same && a[pos*V+v] == b[pos*V+v]
			}
			if want := bs > 0 && pos < 6; same != want {
				t.Fatalf("block size %d: position %d unchanged %v, want %v", bs, pos, same, want)
			}
		}
	}
}

// The KV cache of a block-causal model is exact: decoding block by block,
// each forward computes the newest finished block (for the cache) and the
// current one, and its logits equal the full forward's bit for bit, on a
// multi-layer model with grouped-query attention and left padding.
func TestBlockCacheIsExact(t *testing.T) {
	c := blockConfig()
	p, _ := New(c, 6)
	rng := rand.New(rand.NewPCG(6, 6))
	for _, tn := range p.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	const B, L, bs = 3, 15, 3
	ids := make([]int, B*L)
	valid := make([]bool, B*L)
	for i := range ids {
		ids[i] = rng.IntN(c.Vocab)
		valid[i] = i%L >= i/L // sequence b starts with b padding positions
	}
	inf := NewInference(p)
	full, err := inf.Forward(ids, B, L, valid, nil)
	if err != nil {
		t.Fatal(err)
	}
	full = append([]float32(nil), full...)
	cache := inf.NewCache(B, L)
	V := c.Vocab
	for blk := 0; blk < L/bs; blk++ {
		lo, hi := max(blk-1, 0)*bs, (blk+1)*bs
		part, err := inf.ForwardRange(ids, B, L, valid, lo, hi, cache, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := hi - lo
		for b := 0; b < B; b++ {
			for pos := blk * bs; pos < hi; pos++ {
				for v := 0; v < V; v++ {
					got, want := part[(b*n+pos-lo)*V+v], full[(b*L+pos)*V+v]
					if math.Float32bits(got) != math.Float32bits(want) && valid[b*L+pos] {
						t.Fatalf("block %d seq %d pos %d logit %d: cached %g, full %g", blk, b, pos, v, got, want)
					}
				}
			}
		}
	}
}

// ForwardLayout over BD3-LM's side-by-side rows conditions as block decoding
// does: the noised copy of block b gives the logits a plain forward gives
// on the decoding state "clean blocks before b, the noised block b" (later
// blocks hidden), and the clean copy those of the clean sequence, on a
// multi-layer model with grouped-query attention and left padding.
func TestForwardLayoutIsDecodingState(t *testing.T) {
	c := blockConfig()
	p, _ := New(c, 7)
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tn := range p.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	const B, L, bs = 2, 9, 3
	clean, noisy := make([]int, B*L), make([]int, B*L)
	valid := make([]bool, B*L)
	for i := range clean {
		clean[i] = 2 + rng.IntN(c.Vocab-2)
		noisy[i] = clean[i]
		if rng.IntN(2) == 0 {
			noisy[i] = 1 // a "mask"
		}
		valid[i] = i%L >= i/L
	}
	ids, sv := make([]int, B*2*L), make([]bool, B*2*L)
	lay := &Layout{Block: make([]int, B*2*L), Noisy: make([]bool, B*2*L), Pos: make([]int, B*2*L)}
	for b := 0; b < B; b++ {
		for l := 0; l < L; l++ {
			for k, src := range [][]int{clean, noisy} {
				r := b*2*L + k*L + l
				ids[r], sv[r] = src[b*L+l], valid[b*L+l]
				lay.Block[r], lay.Noisy[r], lay.Pos[r] = l/bs, k == 1, l
			}
		}
	}
	inf := NewInference(p)
	side, err := inf.ForwardLayout(ids, B, 2*L, sv, lay, nil)
	if err != nil {
		t.Fatal(err)
	}
	side = append([]float32(nil), side...)
	V := c.Vocab
	check := func(what string, got, want []float32) {
		t.Helper()
		for v := range got {
			if math.Abs(float64(got[v]-want[v])) > 1e-4 {
				t.Fatalf("%s logit %d: side by side %g, decoding state %g", what, v, got[v], want[v])
			}
		}
	}
	full, _ := inf.Forward(clean, B, L, valid, nil)
	full = append([]float32(nil), full...)
	for blk := 0; blk < L/bs; blk++ {
		state := append([]int(nil), clean...)
		for b := 0; b < B; b++ {
			for l := blk * bs; l < L; l++ {
				state[b*L+l] = noisy[b*L+l]
			}
		}
		dec, err := inf.Forward(state, B, L, valid, nil)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < B; b++ {
			for l := blk * bs; l < (blk+1)*bs; l++ {
				if !valid[b*L+l] {
					continue
				}
				check("noised", side[(b*2*L+L+l)*V:(b*2*L+L+l+1)*V], dec[(b*L+l)*V:(b*L+l+1)*V])
				check("clean", side[(b*2*L+l)*V:(b*2*L+l+1)*V], full[(b*L+l)*V:(b*L+l+1)*V])
			}
		}
	}
	if _, err := inf.ForwardLayout(ids, B, 2*L, sv, nil, nil); err == nil {
		t.Fatal("no layout accepted")
	}
}

// ForwardLayout gives the training graph's logits under the same layout (the
// RL update's old and reference log-probs against the policy's): BD3-LM's
// side-by-side rows whose sequence is longer than max_len, with padding.
func TestForwardLayoutMatchesGraph(t *testing.T) {
	c := blockConfig()
	c.MaxLen = 8
	p, _ := New(c, 8)
	rng := rand.New(rand.NewPCG(8, 8))
	for _, tn := range p.Tensors {
		for i := range tn.Data {
			tn.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	const B, S = 2, 7 // two copies of 7 positions: 14 rows > max_len 8
	L := 2 * S
	ids, targets, valid := make([]int, B*L), make([]int, B*L), make([]bool, B*L)
	lay := &Layout{Block: make([]int, B*L), Noisy: make([]bool, B*L), Pos: make([]int, B*L)}
	for i := range ids {
		b, l := i/L, i%L
		ids[i], targets[i] = rng.IntN(c.Vocab), -1
		lay.Block[i], lay.Noisy[i], lay.Pos[i] = (l%S-1)/3, l >= S, l%S+1
		valid[i] = !(b == 1 && l%S == 0) && !(l >= S && l%S == 0)
	}
	tg, err := NewTrainGraph(p, B, L)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	zero := func(lp []float64) (float64, []float64, error) { return 0, make([]float64, len(lp)), nil }
	if _, _, err := tg.Run(Batch{IDs: ids, Valid: valid, Targets: targets, Loss: zero, Layout: lay}); err != nil {
		t.Fatal(err)
	}
	want := tg.logits.Value().Data().([]float32)
	got, err := NewInference(p).ForwardLayout(ids, B, L, valid, lay, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := c.Vocab
	for i := range want {
		if !valid[i/V] {
			continue
		}
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*math.Max(math.Abs(float64(want[i])), 1) {
			t.Fatalf("logit %d (row %d): forward %g, graph %g", i%V, i/V, got[i], want[i])
		}
	}
}
