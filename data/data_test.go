package data

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTokenizer(t *testing.T) {
	tok := NewDefaultTokenizer()
	if tok.Size() != 100 {
		t.Fatalf("size %d, want 100", tok.Size())
	}
	ids, err := tok.Encode("12=a b\n")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Decode(ids) != "12=a b\n" {
		t.Fatalf("round trip: %q", tok.Decode(ids))
	}
	if _, err := tok.Encode("ok é"); err == nil || !strings.Contains(err.Error(), "byte 3") {
		t.Fatalf("unknown character: %v", err)
	}
	if got := tok.DecodeAnswer(append(append([]int{BOSID}, ids[:2]...), MaskID, EOSID, ids[0])); got != "12?" {
		t.Fatalf("DecodeAnswer: %q", got)
	}
	back, err := TokenizerFromVocab(tok.Vocab())
	if err != nil || !reflect.DeepEqual(back.Vocab(), tok.Vocab()) {
		t.Fatalf("vocab round trip: %v", err)
	}
	if _, err := TokenizerFromVocab([]string{"<pad>", "<bos>"}); err == nil {
		t.Fatal("bad vocab accepted")
	}
	if _, err := NewCharTokenizer("abca"); err == nil {
		t.Fatal("duplicate charset accepted")
	}
}

func TestSudokuSolverAndCorrect(t *testing.T) {
	sol := "1234341221434321"
	if !validGrid(sol) {
		t.Fatal("valid grid rejected")
	}
	if validGrid("1234341221434312") {
		t.Fatal("invalid grid accepted")
	}
	n, first := SolveSudoku4x4("0004300021000320")
	if n != 1 || first != sol {
		t.Fatalf("solutions %d %q", n, first)
	}
	if n, _ := SolveSudoku4x4("0000000000000000"); n != 2 {
		t.Fatalf("empty grid: %d solutions, want the search to stop at 2", n)
	}
	ex := SudokuExample("1034340221404301", sol)
	task := Sudoku4x4{}
	for c, want := range map[string]bool{sol: true, sol + "<junk>": true, " " + sol: true, sol[:15]: false,
		"2134341221434321": false, "1234341221434312": false, "1234341221434x21": false} {
		if task.Correct(ex, c) != want {
			t.Errorf("Correct(%q) = %v", c, !want)
		}
	}
}

func TestGenerateSudoku(t *testing.T) {
	a := GenerateSudoku4x4(rand.New(rand.NewPCG(1, 1)), 200, 0, 0)
	b := GenerateSudoku4x4(rand.New(rand.NewPCG(1, 1)), 200, 0, 0)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different puzzles")
	}
	seen := map[string]bool{}
	for _, ex := range a {
		p := ex.Ref["puzzle"].(string)
		if seen[p] {
			t.Fatalf("duplicate puzzle %s", p)
		}
		seen[p] = true
		n, s := SolveSudoku4x4(p)
		if n != 1 || s != ex.Answer {
			t.Fatalf("puzzle %s: %d solutions, first %s, answer %s", p, n, s, ex.Answer)
		}
		empty := strings.Count(p, "0")
		if empty < SudokuMinEmpty || empty > SudokuMaxEmpty {
			t.Fatalf("puzzle %s has %d empty cells", p, empty)
		}
		if !(Sudoku4x4{}).Correct(ex, ex.Answer) {
			t.Fatalf("own answer rejected: %s", p)
		}
	}
}

func TestCountdownCorrect(t *testing.T) {
	ex := CountdownExample([]int{30, 100, 93}, 23, "")
	task := Countdown{}
	cases := map[string]bool{
		"30-(100-93)":       true,
		" 30 - (100 - 93) ": true,
		"30-100+93":         true,
		"30+100-93":         false, // 37
		"30-(100-30)":       false, // reuses 30, misses 93
		"100-93":            false, // misses 30
		"30-(100-93)+0":     false, // extra number
		"30/(100-100)":      false,
		"30-(100-93":        false,
		"abc":               false,
		"":                  false,
	}
	for c, want := range cases {
		if task.Correct(ex, c) != want {
			t.Errorf("Correct(%q) = %v, want %v", c, !want, want)
		}
	}
	div := CountdownExample([]int{6, 4, 3}, 8, "")
	if !task.Correct(div, "6*4/3") || !task.Correct(div, "6/3*4") || task.Correct(div, "6/(3*4)") {
		t.Error("division handled wrongly")
	}
	frac := CountdownExample([]int{1, 2, 3}, 1, "")
	if task.Correct(frac, "1/2*3") { // 1.5, not 1: exact arithmetic, no truncation
		t.Error("1/2*3 accepted as 1")
	}
	for _, e := range GenerateCountdown(rand.New(rand.NewPCG(3, 3)), 300) {
		if !task.Correct(e, e.Answer) {
			t.Fatalf("generated answer %q wrong for %s", e.Answer, e.Prompt)
		}
	}
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSudokuCSV(t *testing.T) {
	good := writeTemp(t, "s.csv", "Puzzle,Solution\n0004300021000320,1234341221434321\n")
	exs, err := LoadSudokuCSV(good)
	if err != nil || len(exs) != 1 || exs[0].Prompt != "0004300021000320=" {
		t.Fatalf("%v %v", exs, err)
	}
	bad := map[string]string{
		"Puzzle,Solution\n103002000010400,1234341221434321\n":                    "line 2",
		"Puzzle,Solution\n0004300021000320,1234341221434321\n1030020000104002\n": "line 3",
		"Puzzle,Solution\n10300200001040x2,1234341221434321\n":                   "line 2",
		"Puzzle,Solution\n2030020000104002,1234341221434321\n":                   "disagrees",
		"Puzzle,Solution\n\"1030020000104002,1234341221434321\n":                 "line",
		"A,B\n1,2\n": "lacks Puzzle",
		"":           "empty file",
	}
	for body, want := range bad {
		p := writeTemp(t, "bad.csv", body)
		_, err := LoadSudokuCSV(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %v, want one naming the file and %q", body, err, want)
		}
	}
	if _, err := LoadSudokuCSV("/nonexistent.csv"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestLoadCountdownJSONL(t *testing.T) {
	good := writeTemp(t, "c.jsonl", `{"input": "30,100,93", "output": "23"}`+"\n\n"+`{"input": "1,2,3", "output": 6, "answer": "1+2+3"}`+"\n")
	exs, err := LoadCountdownJSONL(good)
	if err != nil || len(exs) != 2 || exs[0].Prompt != "30,100,93>23=" || exs[1].Answer != "1+2+3" {
		t.Fatalf("%+v %v", exs, err)
	}
	bad := map[string]string{
		`{"input": "30,100,93"}`:                         `line 1: missing field "output"`,
		"{\"input\": \"1,2\", \"output\": \"3\"}\n{oops": "line 2: not a JSON object",
		`{"input": "1,x,3", "output": "3"}`:              "line 1: input",
		`{"input": "1,2,3", "output": "three"}`:          "line 1: output",
		`{"input": [1,2], "output": "3"}`:                "line 1: field \"input\"",
		"\n\n":                                           "no examples",
	}
	for body, want := range bad {
		p := writeTemp(t, "bad.jsonl", body)
		_, err := LoadCountdownJSONL(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %v, want one naming the file and %q", body, err, want)
		}
	}
}

func TestWriteReadBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var buf bytes.Buffer
	sud := GenerateSudoku4x4(rng, 20, 0, 0)
	if err := WriteSudokuCSV(&buf, sud); err != nil {
		t.Fatal(err)
	}
	back, err := LoadSudokuCSV(writeTemp(t, "s.csv", buf.String()))
	if err != nil || !reflect.DeepEqual(back, sud) {
		t.Fatalf("sudoku round trip: %v", err)
	}
	buf.Reset()
	cd := GenerateCountdown(rng, 20)
	if err := WriteCountdownJSONL(&buf, cd); err != nil {
		t.Fatal(err)
	}
	back, err = LoadCountdownJSONL(writeTemp(t, "c.jsonl", buf.String()))
	if err != nil || !reflect.DeepEqual(back, cd) {
		t.Fatalf("countdown round trip: %v", err)
	}
}

func TestEncode(t *testing.T) {
	tok := NewDefaultTokenizer()
	ex := SudokuExample("0004300021000320", "1234341221434321")
	s, err := EncodeSFT(tok, ex, 40)
	if err != nil {
		t.Fatal(err)
	}
	if s.PromptLen != 18 || s.IDs[0] != BOSID || tok.Decode(s.IDs[1:18]) != "0004300021000320=" ||
		tok.Decode(s.IDs[18:34]) != "1234341221434321" || s.Valid != nil {
		t.Fatalf("layout %v", s)
	}
	for _, id := range s.IDs[34:] {
		if id != EOSID {
			t.Fatalf("padding %v, want <eos>", s.IDs[34:])
		}
	}
	if _, err := EncodeSFT(tok, ex, 34); err == nil {
		t.Fatal("too short a sequence accepted")
	}
	if n, _ := SeqLenFor(tok, []Example{ex}); n != 35 {
		t.Fatalf("SeqLenFor %d, want 35", n)
	}
	p, err := EncodePretrain(tok, Example{Prompt: "ab"}, 6)
	if err != nil || !reflect.DeepEqual(p.IDs[3:], []int{EOSID, PadID, PadID}) || !reflect.DeepEqual(p.Valid, []bool{true, true, true, true, false, false}) {
		t.Fatalf("pretrain layout %v %v", p, err)
	}
}

func TestIterator(t *testing.T) {
	it := NewIterator(10, 4, 5, Cursor{})
	var all []int
	for i := 0; i < 10; i++ {
		all = append(all, it.Next()...)
	}
	// Each epoch visits every index once.
	for e := 0; e < 4; e++ {
		seen := map[int]bool{}
		for _, i := range all[e*10 : (e+1)*10] {
			seen[i] = true
		}
		if len(seen) != 10 {
			t.Fatalf("epoch %d: %v", e, all[e*10:(e+1)*10])
		}
	}
	if reflect.DeepEqual(all[:10], all[10:20]) {
		t.Fatal("two epochs in the same order")
	}
	// Resuming from a cursor replays the same stream.
	it2 := NewIterator(10, 4, 5, Cursor{})
	it2.Next()
	it2.Next()
	it2.Next()
	resumed := NewIterator(10, 4, 5, it2.Cursor())
	var rest []int
	for i := 0; i < 7; i++ {
		rest = append(rest, resumed.Next()...)
	}
	if !reflect.DeepEqual(rest, all[12:]) {
		t.Fatalf("resumed stream differs:\n%v\n%v", rest, all[12:])
	}
}
