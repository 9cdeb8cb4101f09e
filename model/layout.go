package model

import "fmt"

// Layout places the rows of a batch for block-causal attention
// (Config.BlockSize > 0). Every row has a block number; a row of the clean
// sequence sees the clean rows of its own and every earlier block. BD3-LM
// trains with the noised sequence and the clean one side by side in one
// forward: a row of the noised copy (Noisy) sees the noised rows of its own
// block and the clean rows of earlier blocks only, so that each noised block
// is denoised given the clean blocks before it, as in decoding. Padding
// (Batch.Valid) hides keys on top of this.
//
// A block-causal model given no Layout uses DefaultLayout: block l/BlockSize
// at position l, SDAR's blocks counted from the first position. Samplers
// left-pad prompts to a multiple of the block size, so that the answer's
// blocks start at a block boundary and the prompt fills whole blocks before
// them (SDAR's prompt blocks, counted back from the answer).
type Layout struct {
	Block []int  // B*L: the block number of each row (any integers; only their order matters)
	Noisy []bool // nil, or B*L: rows of the noised copy
	Pos   []int  // nil, or B*L: each row's RoPE position (the noised copy repeats the clean positions); nil = its index in its sequence
}

// DefaultLayout is block l/size at position l of each of B sequences of L.
func DefaultLayout(B, L, size int) *Layout {
	lay := &Layout{Block: make([]int, B*L)}
	for i := range lay.Block {
		lay.Block[i] = (i % L) / size
	}
	return lay
}

// check reports a layout that does not fit a batch of n rows whose RoPE
// positions must stay below maxPos.
func (lay *Layout) check(n, maxPos int) error {
	if len(lay.Block) != n || (lay.Noisy != nil && len(lay.Noisy) != n) || (lay.Pos != nil && len(lay.Pos) != n) {
		return fmt.Errorf("model: layout has %d blocks, %d noisy flags, %d positions for %d rows", len(lay.Block), len(lay.Noisy), len(lay.Pos), n)
	}
	for i, p := range lay.Pos {
		if p < 0 || p >= maxPos {
			return fmt.Errorf("model: layout position %d at row %d outside [0, %d)", p, i, maxPos)
		}
	}
	return nil
}

// sees says whether a query row (block qb, noised copy or not) attends to a
// key row (block kb, noised or not).
func sees(qb int, qNoisy bool, kb int, kNoisy bool) bool {
	if qNoisy {
		return (kNoisy && kb == qb) || (!kNoisy && kb < qb)
	}
	return !kNoisy && kb <= qb
}

// keyMask fills m (one sequence's L keys) with which keys query row i of
// sequence b sees under the layout and the padding mask. It returns nil when
// every key is visible (no layout, no padding).
func (s attnShape) keyMask(b, i int, m []bool) []bool {
	L := s.L
	var valid []bool
	if s.Valid != nil {
		valid = s.Valid[b*L : (b+1)*L]
	}
	if s.Layout == nil {
		return valid
	}
	blk := s.Layout.Block[b*L : (b+1)*L]
	var noisy []bool
	if s.Layout.Noisy != nil {
		noisy = s.Layout.Noisy[b*L : (b+1)*L]
	}
	qn := noisy != nil && noisy[i]
	for j := range m {
		kn := noisy != nil && noisy[j]
		m[j] = (valid == nil || valid[j]) && sees(blk[i], qn, blk[j], kn)
	}
	return m
}

// pos is the RoPE position of row l of sequence b.
func (s attnShape) pos(b, l int) int {
	if s.Layout == nil || s.Layout.Pos == nil {
		return l
	}
	return s.Layout.Pos[b*s.L+l]
}

// blockEnd is, for block-causal attention over positions counted from 0 in
// blocks of size (DefaultLayout), the first key position a query at pos does
// not see; L with full attention (size 0).
func blockEnd(pos, size, L int) int {
	if size <= 0 {
		return L
	}
	return min(L, (pos/size+1)*size)
}
