package data

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// CountdownD1Correct is d1's countdown check of an extracted equation
// (diffu-grpo/reward_func.py, compute_score): the runs of digits in eq are
// exactly the given numbers, as multisets (so a unary minus is allowed and
// "-3" uses the number 3), and Python's eval of eq, after d1 allows only
// digits, + - * / ( ) . and whitespace, is within 1e-5 of the target.
// Non-integer intermediate results are allowed (Python's / is true
// division); division by zero fails. evalPython gives Python's values and
// failures (see there), so the verdicts agree with d1's.
func CountdownD1Correct(eq string, nums []int64, target float64) bool {
	if !sameNumbers(digitRuns(eq), nums) {
		return false
	}
	v, err := evalPython(eq)
	if err != nil {
		return false
	}
	close, err := v.within(target, 1e-5)
	return err == nil && close
}

// digitRuns is d1's [int(n) for n in re.findall(r"\d+", s)] for ASCII
// digits; a run too long for int64 is -1, which matches no given number.
// (Python's \d also takes other scripts' digits, but such an answer then fails
// to evaluate, and d1 scores both failures 0.1.)
func digitRuns(s string) []int64 {
	var out []int64
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(s[i:j], 10, 64)
		if err != nil {
			n = -1
		}
		out = append(out, n)
		i = j
	}
	return out
}

// sameNumbers is sorted(a) == sorted(b).
func sameNumbers(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	count := make(map[int64]int, len(a))
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// pyNum is a Python number: an exact integer or a float.
type pyNum struct {
	isFloat bool
	i       *big.Int
	f       float64
}

// maxIntBits bounds integer results. Python's integers are unbounded, so d1
// itself hangs or runs out of memory on an answer like 100**93**30; here such
// an answer fails to evaluate (and scores 0.1) instead.
const maxIntBits = 1 << 16

var (
	errPySyntax    = errors.New("SyntaxError")
	errPyZeroDiv   = errors.New("ZeroDivisionError")
	errPyOverflow  = errors.New("OverflowError")
	errPyTooBig    = errors.New("integer result too large to evaluate")
	errPyComplex   = errors.New("complex result")
	errPyNotNumber = errors.New("TypeError")
)

func pyInt(i *big.Int) (pyNum, error) {
	if i.BitLen() > maxIntBits {
		return pyNum{}, errPyTooBig
	}
	return pyNum{i: i}, nil
}

// float is Python's float(x): an integer too large for a float64 raises
// OverflowError.
func (x pyNum) float() (float64, error) {
	if x.isFloat {
		return x.f, nil
	}
	f, _ := new(big.Float).SetInt(x.i).Float64()
	if math.IsInf(f, 0) {
		return 0, errPyOverflow
	}
	return f, nil
}

// within is abs(x - target) < tol as Python computes it (exact for an int
// result and an integral target).
func (x pyNum) within(target, tol float64) (bool, error) {
	if !x.isFloat && target == math.Trunc(target) {
		t, _ := new(big.Float).SetFloat64(target).Int(nil)
		return x.i.Cmp(t) == 0, nil
	}
	f, err := x.float()
	if err != nil {
		return false, err
	}
	return math.Abs(f-target) < tol, nil
}

// evalPython evaluates s as Python 3's eval would an expression made only of
// digits, + - * / ( ) . and whitespace: int and float literals (leading zeros
// only on floats and zero), unary + and -, ** (right-associative, binding
// tighter than a unary minus on its left), *, /, //, +, -, parentheses, and
// newlines only inside parentheses. Integer arithmetic is exact, / is true
// division, // floors; division by zero, a float overflow, a complex result
// (a negative number to a fractional power), a call such as 2(3) or an empty
// () fail as they do in Python.
func evalPython(s string) (pyNum, error) {
	toks, err := pyTokens(s)
	if err != nil {
		return pyNum{}, err
	}
	p := pyParser{toks: toks}
	v, err := p.sum()
	if err != nil {
		return pyNum{}, err
	}
	if p.pos != len(p.toks) {
		return pyNum{}, errPySyntax
	}
	return v, nil
}

type pyToken struct {
	op  string // "num" or the operator: + - * / ** // ( )
	num pyNum
}

// pyTokens splits s as Python's tokenizer would, rejecting what Python's
// compile rejects: any character but the allowed ones (other whitespace such
// as \v is "invalid non-printable"), an integer with leading zeros, adjacent
// numbers (1.2.3, 5 5), and a line break outside parentheses before the end.
func pyTokens(s string) ([]pyToken, error) {
	var toks []pyToken
	depth := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\f':
			i++
		case c == '\n' || c == '\r':
			if depth == 0 {
				// only line breaks and blanks may follow the expression
				for j := i; j < len(s); j++ {
					if d := s[j]; d != '\n' && d != '\r' && d != ' ' && d != '\t' && d != '\f' {
						return nil, errPySyntax
					}
				}
				return toks, nil
			}
			i++
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			isFloat := false
			if j < len(s) && s[j] == '.' {
				isFloat = true
				j++
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
			}
			lit := s[i:j]
			if lit == "." {
				return nil, errPySyntax
			}
			var n pyNum
			if isFloat {
				f, err := strconv.ParseFloat(lit, 64)
				if err != nil {
					return nil, errPySyntax
				}
				n = pyNum{isFloat: true, f: f}
			} else {
				if len(lit) > 1 && lit[0] == '0' && lit != zeros(len(lit)) {
					return nil, errPySyntax // "leading zeros in decimal integer literals are not permitted"
				}
				if len(lit) > maxIntBits/3 {
					return nil, errPyTooBig
				}
				v, _ := new(big.Int).SetString(lit, 10)
				n = pyNum{i: v}
			}
			if len(toks) > 0 && toks[len(toks)-1].op == "num" {
				return nil, errPySyntax
			}
			toks = append(toks, pyToken{op: "num", num: n})
			i = j
		case c == '*' || c == '/':
			if i+1 < len(s) && s[i+1] == c {
				toks = append(toks, pyToken{op: s[i : i+2]})
				i += 2
			} else {
				toks = append(toks, pyToken{op: s[i : i+1]})
				i++
			}
		case c == '+' || c == '-':
			toks = append(toks, pyToken{op: s[i : i+1]})
			i++
		case c == '(':
			depth++
			toks = append(toks, pyToken{op: "("})
			i++
		case c == ')':
			depth--
			toks = append(toks, pyToken{op: ")"})
			i++
		default:
			return nil, errPySyntax
		}
	}
	return toks, nil
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

type pyParser struct {
	toks  []pyToken
	pos   int
	depth int
}

func (p *pyParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].op
	}
	return ""
}

// sum := term (("+" | "-") term)*
func (p *pyParser) sum() (pyNum, error) {
	v, err := p.term()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.toks[p.pos].op
		p.pos++
		var w pyNum
		if w, err = p.term(); err == nil {
			v, err = pyBinary(op, v, w)
		}
	}
	return v, err
}

// term := factor (("*" | "/" | "//") factor)*
func (p *pyParser) term() (pyNum, error) {
	v, err := p.factor()
	for err == nil && (p.peek() == "*" || p.peek() == "/" || p.peek() == "//") {
		op := p.toks[p.pos].op
		p.pos++
		var w pyNum
		if w, err = p.factor(); err == nil {
			v, err = pyBinary(op, v, w)
		}
	}
	return v, err
}

// factor := ("+" | "-") factor | power
func (p *pyParser) factor() (pyNum, error) {
	switch p.peek() {
	case "+", "-":
		op := p.toks[p.pos].op
		p.pos++
		v, err := p.factor()
		if err != nil || op == "+" {
			return v, err
		}
		if v.isFloat {
			return pyNum{isFloat: true, f: -v.f}, nil
		}
		return pyNum{i: new(big.Int).Neg(v.i)}, nil
	}
	return p.power()
}

// power := atom ["**" factor]
func (p *pyParser) power() (pyNum, error) {
	v, err := p.atom()
	if err != nil {
		return v, err
	}
	if p.peek() == "**" {
		p.pos++
		w, err := p.factor()
		if err != nil {
			return w, err
		}
		return pyBinary("**", v, w)
	}
	return v, nil
}

// atom := number | "(" sum ")"; an atom followed by "(" is a call, which
// compiles but fails at run time ("'int' object is not callable").
func (p *pyParser) atom() (pyNum, error) {
	if p.depth > 200 {
		return pyNum{}, errPySyntax // Python's parser gives up on deep nesting too
	}
	var v pyNum
	switch p.peek() {
	case "num":
		v = p.toks[p.pos].num
		p.pos++
	case "(":
		p.pos++
		if p.peek() == ")" {
			return pyNum{}, errPyNotNumber // () is an empty tuple
		}
		p.depth++
		var err error
		v, err = p.sum()
		p.depth--
		if err != nil {
			return v, err
		}
		if p.peek() != ")" {
			return pyNum{}, errPySyntax
		}
		p.pos++
	default:
		return pyNum{}, errPySyntax
	}
	if p.peek() == "(" {
		return pyNum{}, errPyNotNumber
	}
	return v, nil
}

// pyBinary applies one of Python's arithmetic operators.
func pyBinary(op string, a, b pyNum) (pyNum, error) {
	if !a.isFloat && !b.isFloat {
		x, y := a.i, b.i
		switch op {
		case "+":
			return pyInt(new(big.Int).Add(x, y))
		case "-":
			return pyInt(new(big.Int).Sub(x, y))
		case "*":
			if x.BitLen()+y.BitLen() > maxIntBits+1 {
				return pyNum{}, errPyTooBig
			}
			return pyInt(new(big.Int).Mul(x, y))
		case "/":
			if y.Sign() == 0 {
				return pyNum{}, errPyZeroDiv
			}
			f, _ := new(big.Rat).SetFrac(x, y).Float64()
			if math.IsInf(f, 0) {
				return pyNum{}, errPyOverflow
			}
			return pyNum{isFloat: true, f: f}, nil
		case "//":
			if y.Sign() == 0 {
				return pyNum{}, errPyZeroDiv
			}
			q, r := new(big.Int).QuoRem(x, y, new(big.Int))
			if r.Sign() != 0 && (r.Sign() < 0) != (y.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			}
			return pyNum{i: q}, nil
		case "**":
			if y.Sign() < 0 {
				break // a negative exponent makes it float arithmetic
			}
			if x.CmpAbs(big.NewInt(1)) <= 0 || y.Sign() == 0 {
				// 0, 1 and -1 stay small whatever the exponent
				if x.Sign() == 0 && y.Sign() > 0 {
					return pyNum{i: new(big.Int)}, nil
				}
				if y.Bit(0) == 0 || x.Sign() >= 0 {
					return pyNum{i: big.NewInt(1)}, nil
				}
				return pyNum{i: big.NewInt(-1)}, nil
			}
			if !y.IsInt64() || int64(x.BitLen()-1)*y.Int64() > maxIntBits {
				return pyNum{}, errPyTooBig
			}
			return pyInt(new(big.Int).Exp(x, y, nil))
		}
	}
	x, err := a.float()
	if err != nil {
		return pyNum{}, err
	}
	y, err := b.float()
	if err != nil {
		return pyNum{}, err
	}
	var f float64
	switch op {
	case "+":
		f = x + y
	case "-":
		f = x - y
	case "*":
		f = x * y
	case "/":
		if y == 0 {
			return pyNum{}, errPyZeroDiv
		}
		f = x / y
	case "//":
		if y == 0 {
			return pyNum{}, errPyZeroDiv
		}
		f = pyFloorDiv(x, y)
	case "**":
		if f, err = pyPow(x, y); err != nil {
			return pyNum{}, err
		}
	default:
		return pyNum{}, fmt.Errorf("operator %q", op)
	}
	return pyNum{isFloat: true, f: f}, nil
}

// pyFloorDiv is CPython's float floor division (through fmod, so that
// x == (x//y)*y + x%y holds as nearly as floats allow).
func pyFloorDiv(x, y float64) float64 {
	mod := math.Mod(x, y)
	div := (x - mod) / y
	if mod != 0 && (y < 0) != (mod < 0) {
		div -= 1
	}
	if div == 0 {
		return math.Copysign(0, x/y)
	}
	fl := math.Floor(div)
	if div-fl > 0.5 {
		fl++
	}
	return fl
}

// pyPow is CPython's float power for the finite values evaluated here.
func pyPow(x, y float64) (float64, error) {
	switch {
	case y == 0:
		return 1, nil
	case x == 0 && y < 0:
		return 0, errPyZeroDiv // "0.0 cannot be raised to a negative power"
	case x < 0 && y != math.Trunc(y):
		return 0, errPyComplex
	}
	f := math.Pow(x, y)
	if math.IsInf(f, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return 0, errPyOverflow
	}
	return f, nil
}
