package hftok

import "math"

// heapThreshold is the word length (in symbols) from which mergeAll uses a
// priority queue; shorter words are merged by scanning, which is faster for
// them. Both give the library's result: the pair of lowest rank is merged
// first, the leftmost among equals.
var heapThreshold = 48

const noRank = math.MaxUint32

// mergeAll applies the merges to the symbols of one word.
func (m *bpeModel) mergeAll(word []int32, st *encodeState) []int32 {
	if len(word) < 2 {
		return word
	}
	if len(word) >= heapThreshold {
		return m.mergeHeap(word, st)
	}
	return m.mergeScan(word, st)
}

func (m *bpeModel) lookup(a, b int32) (rank uint32, id int32) {
	v, ok := m.merges[uint64(uint32(a))<<32|uint64(uint32(b))]
	if !ok {
		return noRank, -1
	}
	return uint32(v >> 32), int32(uint32(v))
}

// mergeScan keeps the rank of each adjacent pair and merges the lowest
// until none is left.
func (m *bpeModel) mergeScan(word []int32, st *encodeState) []int32 {
	n := len(word)
	ranks := st.ranks[:0]
	ids := st.word2[:0]
	for i := 0; i+1 < n; i++ {
		r, id := m.lookup(word[i], word[i+1])
		ranks = append(ranks, rankOrNone(r))
		ids = append(ids, id)
	}
	for {
		best := -1
		var bestRank int32
		for i, r := range ranks {
			if r >= 0 && (best < 0 || r < bestRank) {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		word[best] = ids[best]
		copy(word[best+1:], word[best+2:])
		word = word[:len(word)-1]
		copy(ranks[best:], ranks[best+1:])
		ranks = ranks[:len(ranks)-1]
		copy(ids[best:], ids[best+1:])
		ids = ids[:len(ids)-1]
		if best > 0 {
			r, id := m.lookup(word[best-1], word[best])
			ranks[best-1], ids[best-1] = rankOrNone(r), id
		}
		if best < len(ranks) {
			r, id := m.lookup(word[best], word[best+1])
			ranks[best], ids[best] = rankOrNone(r), id
		}
	}
	st.ranks, st.word2 = ranks, ids
	return word
}

func rankOrNone(r uint32) int32 {
	if r == noRank {
		return -1
	}
	return int32(r & 0x7fffffff)
}

type mergeEntry struct {
	rank  uint32
	pos   int32
	newID int32
}

func (a mergeEntry) less(b mergeEntry) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// A binary min-heap of merges, by rank then position.
func heapPush(h []mergeEntry, e mergeEntry) []mergeEntry {
	h = append(h, e)
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].less(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	return h
}

func heapPop(h []mergeEntry) (mergeEntry, []mergeEntry) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	heapDown(h, 0)
	return top, h
}

func heapDown(h []mergeEntry, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			c = r
		}
		if !h[c].less(h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// mergeHeap is the library's Word::merge_all: symbols in a linked list, a
// queue of candidate merges, stale entries skipped when popped.
func (m *bpeModel) mergeHeap(word []int32, st *encodeState) []int32 {
	n := len(word)
	if cap(st.links) < 2*n {
		st.links = make([]int32, 2*n)
	}
	prev, next := st.links[:n], st.links[n:2*n]
	for i := range word {
		prev[i], next[i] = int32(i-1), int32(i+1)
	}
	next[n-1] = -1
	const dead = -2 // prev of a symbol merged into its left neighbour
	h := st.heap[:0]
	for i := 0; i+1 < n; i++ {
		if r, id := m.lookup(word[i], word[i+1]); r != noRank {
			h = append(h, mergeEntry{r, int32(i), id})
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		heapDown(h, i)
	}
	for len(h) > 0 {
		var top mergeEntry
		top, h = heapPop(h)
		p := top.pos
		if prev[p] == dead || next[p] < 0 {
			continue
		}
		q := next[p]
		if _, id := m.lookup(word[p], word[q]); id != top.newID {
			continue
		}
		word[p] = top.newID
		prev[q] = dead
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if r, id := m.lookup(word[pp], word[p]); r != noRank {
				h = heapPush(h, mergeEntry{r, pp, id})
			}
		}
		if nx := next[p]; nx >= 0 {
			if r, id := m.lookup(word[p], word[nx]); r != noRank {
				h = heapPush(h, mergeEntry{r, p, id})
			}
		}
	}
	st.heap = h[:0]
	out := word[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, word[i])
	}
	return out
}
