package data

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sol is the grid
//
//	1 2 | 3 4
//	3 4 | 1 2
//	----+----
//	2 1 | 4 3
//	4 3 | 2 1
const sol = "1234341221434321"

func TestValidGrid(t *testing.T) {
	for g, want := range map[string]bool{
		sol:                true,
		"1234341221434312": false, // last row repeats 1
		"1234123412341234": false, // rows fine, columns repeat
		"1234214334124321": false, // a Latin square whose top-left box is 1 2 / 2 1
		"1234341221434320": false, // a blank
		"123434122143432":  false, // 15 cells
	} {
		if validGrid(g) != want {
			t.Errorf("validGrid(%s) = %v", g, !want)
		}
	}
	if len(allGrids) != 288 {
		t.Fatalf("%d full grids, want 288", len(allGrids))
	}
	seen := map[string]bool{}
	for _, g := range allGrids {
		if !validGrid(g) || seen[g] {
			t.Fatalf("grid %s invalid or repeated", g)
		}
		seen[g] = true
	}
}

func TestSolveSudoku4x4(t *testing.T) {
	for _, c := range []struct {
		puzzle string
		n      int
		first  string
	}{
		{"0004300021000320", 1, sol},
		{sol, 1, sol},
		// Blanking cells 9, 11, 13, 15 (1 3 / 3 1 across the bottom boxes)
		// leaves two ways to fill them; the search tries 1 first at cell 9.
		{"1234341220404020", 2, sol},
		{"0000000000000000", 2, "1234341221434321"}, // stops at the second
		{"1100000000000000", 0, ""},                 // givens clash in row 1
		{"1234214334124321", 0, ""},                 // full but invalid grid
		{"123", 0, ""},
		{"12343412214343210", 0, ""},
		{"1234341221434325", 0, ""},
		{"12343412214343x1", 0, ""},
	} {
		n, first := SolveSudoku4x4(c.puzzle)
		if n != c.n || first != c.first {
			t.Errorf("SolveSudoku4x4(%s) = %d, %q; want %d, %q", c.puzzle, n, first, c.n, c.first)
		}
	}
}

func TestSudokuCorrect(t *testing.T) {
	task, _ := TaskByName("sudoku4x4")
	ex := SudokuExample("1034340221404301", sol)
	if ex.Prompt != "1034340221404301=" || ex.Answer != sol {
		t.Fatalf("example %+v", ex)
	}
	for c, want := range map[string]bool{
		sol:                 true,
		sol + "<junk>":      true, // only the first 16 characters count
		" " + sol + "\n":    true,
		sol[:15]:            false,
		"2134341221434321":  false, // breaks a given and the grid
		"1234341221434312":  false,
		"1234341221434x21":  false,
		"1234 341221434321": false,
		"1134341221414311":  false, // keeps every given, but rows repeat 1
		"":                  false,
	} {
		if task.Correct(ex, c) != want {
			t.Errorf("Correct(%q) = %v", c, !want)
		}
	}
	// With two solutions, either is correct; a valid grid that breaks a given is not.
	two := SudokuExample("1234341220404020", sol)
	if !task.Correct(two, "1234341223414123") || !task.Correct(two, sol) {
		t.Error("the second solution of a two-solution puzzle rejected")
	}
	// sol with the digits 1 and 2 swapped: still a valid grid.
	if swapped := "2134342112434312"; !validGrid(swapped) || task.Correct(SudokuExample("0004300021000320", sol), swapped) {
		t.Error("a valid grid that ignores the givens accepted")
	}
	// Without Ref the puzzle is read from the prompt.
	if !task.Correct(Example{Prompt: "1034340221404301="}, sol) || task.Correct(Example{Prompt: "junk"}, sol) {
		t.Error("prompt fallback")
	}
}

func TestGenerateSudoku4x4(t *testing.T) {
	a := GenerateSudoku4x4(rand.New(rand.NewPCG(1, 1)), 300, 0, 0)
	b := GenerateSudoku4x4(rand.New(rand.NewPCG(1, 1)), 300, 0, 0)
	c := GenerateSudoku4x4(rand.New(rand.NewPCG(2, 1)), 300, 0, 0)
	if len(a) != 300 || !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different puzzles")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same puzzles")
	}
	seen := map[string]bool{}
	blanks := map[int]int{}
	for _, ex := range a {
		p := ex.Ref["puzzle"].(string)
		if seen[p] {
			t.Fatalf("duplicate puzzle %s", p)
		}
		seen[p] = true
		n, s := SolveSudoku4x4(p)
		if n != 1 || s != ex.Answer || ex.Ref["solution"] != s || ex.Prompt != p+"=" {
			t.Fatalf("puzzle %s: %d solutions, first %s, example %+v", p, n, s, ex)
		}
		e := strings.Count(p, "0")
		if e < SudokuMinEmpty || e > SudokuMaxEmpty {
			t.Fatalf("puzzle %s has %d empty cells", p, e)
		}
		blanks[e]++
		if !(Sudoku4x4{}).Correct(ex, ex.Answer) {
			t.Fatalf("own answer rejected: %s", p)
		}
	}
	if len(blanks) < 3 {
		t.Errorf("blank counts %v: the range 6..10 is barely used", blanks)
	}
	// A hard setting: 12 blanks, the most a unique puzzle can have.
	for _, ex := range GenerateSudoku4x4(rand.New(rand.NewPCG(3, 3)), 5, 12, 12) {
		p := ex.Ref["puzzle"].(string)
		if n, _ := SolveSudoku4x4(p); n != 1 || strings.Count(p, "0") != 12 {
			t.Fatalf("12-blank puzzle %s: %d solutions", p, n)
		}
	}
	if got := GenerateSudoku4x4(rand.New(rand.NewPCG(3, 3)), 0, 0, 0); len(got) != 0 {
		t.Fatalf("n = 0 gave %d puzzles", len(got))
	}
}

// One blank per puzzle allows 288*16 = 4608 distinct puzzles; asking for
// more returns at most those instead of looping for ever.
func TestGenerateSudoku4x4Exhausted(t *testing.T) {
	got := GenerateSudoku4x4(rand.New(rand.NewPCG(4, 4)), 5000, 1, 1)
	if len(got) > 4608 || len(got) < 4000 {
		t.Fatalf("%d puzzles, want between 4000 and 4608", len(got))
	}
	seen := map[string]bool{}
	for _, ex := range got {
		p := ex.Ref["puzzle"].(string)
		if seen[p] || strings.Count(p, "0") != 1 {
			t.Fatalf("puzzle %s repeated or without exactly one blank", p)
		}
		seen[p] = true
	}
}

func BenchmarkGenerateSudoku4x4(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		GenerateSudoku4x4(rng, 100, 0, 0)
	}
}
