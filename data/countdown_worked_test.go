package data

import "testing"

func TestExpandCountdownWorked(t *testing.T) {
	for in, want := range map[string]string{
		"24+70=94,94-53":       "(24+70)-53",
		"5-3=2,12/2":           "12/(5-3)",
		" 5 - 3 = 2 , 12 / 2 ": "12/(5-3)",
		"86-43=43,43+53":       "(86-43)+53", // the result equals a given number: the first operand takes it
		"24+70=94,94-53=41":    "(24+70)-53", // the last result may be written
		"7/2=3,3*2":            "7/2=3,3*2",  // 3.5, not 3: not a worked answer
		"24+70=95,95-53":       "24+70=95,95-53",
		"24+70=94,93-53":       "24+70=94,93-53", // does not use the result
		"24+70,94-53":          "24+70,94-53",    // a step without its result
		"24+70+1=95,95-53":     "24+70+1=95,95-53",
		"-24+70=46,46-53":      "-24+70=46,46-53", // a sign is not an operand
		"=,":                   "=,",
		"24+70-53":             "24+70-53", // bare equations pass through
		"":                     "",
	} {
		if got := ExpandCountdownWorked(in); got != want {
			t.Errorf("ExpandCountdownWorked(%q) = %q, want %q", in, got, want)
		}
	}
	task := Countdown{}
	ex := CountdownExample([]int{24, 53, 70}, 41, "")
	for c, want := range map[string]bool{
		"24+70=94,94-53":     true,
		"70-53=17,24+17":     true,
		"70-53=17,17+24=41":  true,
		"70-53=17,17+24=42":  false, // the written target is wrong
		"24+70=94,94-53=41,": false,
		"24+70=95,95-53":     false, // a wrong intermediate result, even though (24+70)-53 is 41
		"24+70=94,94-70":     false, // 70 twice, 53 missing
	} {
		if task.Correct(ex, c) != want {
			t.Errorf("Correct(%q) = %v, want %v", c, !want, want)
		}
	}
}

func TestExprWorked(t *testing.T) {
	n := func(v int) *expr { return &expr{val: v} }
	for _, c := range []struct {
		nums   []int
		target int
		want   string
	}{
		{[]int{24, 53, 70}, 41, " 24+ 70= 94, 94- 53"},
		{[]int{12, 5, 3}, 6, "  5-  3=  2, 12/  2"},
		{[]int{2, 3, 4}, 20, "  2+  3=  5,  5*  4"},
		{[]int{50, 40, 25}, 80, " 50* 40=2000,2000/ 25"}, // wider than the width
	} {
		if got := solveCountdown(c.nums, c.target).Worked(); got != c.want {
			t.Errorf("%v -> %d: Worked = %q, want %q", c.nums, c.target, got, c.want)
		}
	}
	if got := n(7).Worked(); got != "" {
		t.Errorf("a number alone: Worked = %q, want no steps", got)
	}
}
