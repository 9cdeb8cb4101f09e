//go:build (linux || darwin) && !noopenblas

package model

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// OpenBLAS is 3-4x gonum's pure Go on the matmul-heavy training step
// (DESIGN.md section 2). It is looked for at start and loaded with dlopen
// through purego, so the binary needs no cgo, no C compiler and no
// libopenblas-dev to build, and runs (on pure Go) where OpenBLAS is missing.
// Only the matrix products go to OpenBLAS: they are all the BLAS that our
// kernels and gorgonia's matmuls call on the training and inference paths;
// every other routine stays gonum's.

// openBLASCandidates are the files tried, in order: the sonames first (the
// system's search path, ldconfig's cache), then the places package managers
// put the library when the loader's search path does not cover them.
func openBLASCandidates() []string {
	if runtime.GOOS == "darwin" {
		return []string{
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib", // Homebrew on Apple silicon
			"/usr/local/opt/openblas/lib/libopenblas.dylib",    // Homebrew on Intel
			"/opt/local/lib/libopenblas.dylib",                 // MacPorts
			"libopenblas.dylib",
		}
	}
	c := []string{"libopenblas.so.0", "libopenblas.so"}
	triplet := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "riscv64": "riscv64", "ppc64le": "powerpc64le", "s390x": "s390x", "loong64": "loongarch64"}[runtime.GOARCH]
	if triplet != "" {
		// Debian and Ubuntu: the alternatives link, then each flavour.
		dir := "/usr/lib/" + triplet + "-linux-gnu/"
		c = append(c, dir+"libopenblas.so.0")
		for _, flavour := range []string{"openblas-pthread", "openblas-openmp", "openblas-serial"} {
			c = append(c, dir+flavour+"/libopenblas.so.0")
		}
	}
	return append(c, "/usr/lib64/libopenblas.so.0", "/usr/local/lib/libopenblas.so.0", "/opt/OpenBLAS/lib/libopenblas.so.0")
}

// openBLAS is gonum's BLAS with the matrix products done by OpenBLAS.
//
// The products go through OpenBLAS's Fortran entry points (sgemm_, dgemm_),
// called with purego.SyscallN, rather than through cblas_sgemm registered with
// purego.RegisterFunc: RegisterFunc builds each call by reflection, 1.5-3 us
// and 15 allocations a call against 0.15-0.3 us for cgo, and a tiny training
// step makes 1,638 products (1,536 of them per-head attention products of
// 64x64x32 or smaller), so that was 2-3% of the step. Every argument of the
// Fortran interface is a pointer, which SyscallN passes as it is: about
// 0.35 us and 2 allocations a call.
type openBLAS struct {
	gonum.Implementation
	sgemm, dgemm uintptr // sgemm_, dgemm_
}

var openBLASOnce = sync.OnceValues(func() (*openBLASLib, error) { return dlopenOpenBLAS() })

type openBLASLib struct {
	impl blasBase
	info string // the file, and OpenBLAS's own description of its build
}

// loadOpenBLAS dlopens OpenBLAS (once per process). info names the file
// loaded and OpenBLAS's build.
func loadOpenBLAS() (impl blasBase, info string, err error) {
	lib, err := openBLASOnce()
	if err != nil {
		return nil, "", err
	}
	return lib.impl, lib.info, nil
}

// avx512Core is the OpenBLAS kernel set asked for on an x86 CPU with
// AVX-512 when the user names none. OpenBLAS builds with DYNAMIC_ARCH pick
// their kernels by CPU model at load, and older ones (Debian 12's 0.3.21)
// do not know AMD's Zen 4 and Zen 5 and fall back to the AVX2 Haswell
// kernels: on the development machine (AMD EPYC Turin, virtual) the
// SkylakeX sgemm was 2.1-2.3x Haswell's on the forward's products
// (2176x384x128 to 2176x128x384, docs/results.md). Intel CPUs with AVX-512
// get SkylakeX's sgemm/dgemm from OpenBLAS's own choice already (Cooperlake
// and Sapphire Rapids reuse them), so naming it changes nothing there.
const avx512Core = "SkylakeX"

// openBLASCoreType is the OPENBLAS_CORETYPE to set before loading OpenBLAS,
// or "" to leave OpenBLAS's own choice: the user's setting always wins, and
// the SkylakeX kernels need AVX-512 F, BW, DQ and VL enabled by the OS.
func openBLASCoreType(userSet bool, goarch string, avx512 bool) string {
	if userSet || goarch != "amd64" || !avx512 {
		return ""
	}
	return avx512Core
}

func dlopenOpenBLAS() (*openBLASLib, error) {
	_, userSet := os.LookupEnv("OPENBLAS_CORETYPE")
	avx512 := cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
	if core := openBLASCoreType(userSet, runtime.GOARCH, avx512); core != "" {
		// OpenBLAS reads it with getenv when the library initialises, in
		// dlopen below; os.Setenv reaches C's environment (cgo, or purego's
		// fakecgo without it).
		os.Setenv("OPENBLAS_CORETYPE", core)
	}
	var handle uintptr
	var path string
	var loadErrs []string
	for _, p := range openBLASCandidates() {
		if strings.HasPrefix(p, "/") {
			if _, err := os.Stat(p); err != nil {
				continue // not there: nothing to report
			}
		}
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			handle, path = h, p
			break
		}
		if strings.HasPrefix(p, "/") {
			// there, but it would not load (wrong architecture, a missing dependency)
			loadErrs = append(loadErrs, err.Error())
		}
	}
	if handle == 0 {
		if len(loadErrs) > 0 {
			return nil, fmt.Errorf("found OpenBLAS but could not load it: %s", strings.Join(loadErrs, "; "))
		}
		return nil, errors.New("no OpenBLAS library found")
	}
	sym := func(name string) uintptr {
		addr, err := purego.Dlsym(handle, name)
		if err != nil {
			return 0
		}
		return addr
	}
	o := &openBLAS{sgemm: sym("sgemm_"), dgemm: sym("dgemm_")}
	if o.sgemm == 0 || o.dgemm == 0 {
		return nil, fmt.Errorf("%s has no sgemm_/dgemm_", path)
	}
	// OpenBLAS's own threads are turned off: the many small per-head products
	// of attention run on goroutines already, and OpenBLAS threads spinning
	// beside them cost more than they gave (pprof: a third of the time in
	// libc). Large products are split by rows across goroutines instead
	// (parallelBLAS).
	if f := sym("openblas_set_num_threads"); f != 0 {
		var setThreads func(int32)
		purego.RegisterFunc(&setThreads, f)
		setThreads(1)
	}
	info := loadedPath(path)
	if f := sym("openblas_get_config"); f != 0 {
		var config func() string
		purego.RegisterFunc(&config, f)
		c := strings.TrimSpace(config())
		if strings.Contains(c, "USE64BITINT") {
			// its integers are 64 bits; the calls below pass 32
			return nil, fmt.Errorf("%s is a 64-bit-integer build (%s)", info, c)
		}
		info += ", " + c
	}
	return &openBLASLib{impl: o, info: info}, nil
}

// loadedPath is the file the loader actually mapped for name (a soname
// resolves through ldconfig's cache and symlinks); name where that is not
// known.
func loadedPath(name string) string {
	maps, err := os.ReadFile("/proc/self/maps") // Linux only; darwin's candidates are paths
	if err != nil {
		return name
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if i := strings.IndexByte(line, '/'); i >= 0 && strings.Contains(line[i:], "libopenblas") {
			return line[i:]
		}
	}
	return name
}

// gemmInC reports whether a product can go to OpenBLAS as it is: every
// argument valid (gonum panics on an invalid one; CBLAS would print and
// return), it fits C's int, and there is a product to compute (gonum already
// handles the cases with nothing to multiply: m, n or k zero, alpha zero).
func gemmInC(tA, tB blas.Transpose, m, n, k int, alpha float64, lenA, lda, lenB, ldb, lenC, ldc int) bool {
	trans := func(t blas.Transpose) bool { return t == blas.Trans || t == blas.ConjTrans }
	if tA != blas.NoTrans && !trans(tA) || tB != blas.NoTrans && !trans(tB) {
		return false
	}
	if m <= 0 || n <= 0 || k <= 0 || alpha == 0 {
		return false
	}
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v > math.MaxInt32 {
			return false
		}
	}
	rowsA, colsA := m, k // of A as stored
	if trans(tA) {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if trans(tB) {
		rowsB, colsB = n, k
	}
	return lda >= colsA && ldb >= colsB && ldc >= n &&
		lenA >= (rowsA-1)*lda+colsA && lenB >= (rowsB-1)*ldb+colsB && lenC >= (m-1)*ldc+n
}

func (o *openBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !gemmInC(tA, tB, m, n, k, float64(alpha), len(a), lda, len(b), ldb, len(c), ldc) {
		o.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	fortranGemm(o.sgemm, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (o *openBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if !gemmInC(tA, tB, m, n, k, alpha, len(a), lda, len(b), ldb, len(c), ldc) {
		o.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	fortranGemm(o.dgemm, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmScalars are the arguments that the Fortran interface takes by
// reference. Its integers are 32 bits (OpenBLAS's blasint; 64-bit builds are
// refused at load).
type gemmScalars[T float32 | float64] struct {
	tA, tB        byte // 'N' or 'T'
	m, n, k       int32
	lda, ldb, ldc int32
	alpha, beta   T
}

// fortranGemm computes the row-major c = alpha*op(a)*op(b) + beta*c with the
// column-major Fortran routine fn, as the column-major c^T = op(b)^T*op(a)^T:
// a row-major matrix is its transpose in column-major order, with the same
// leading dimension. The arguments are valid (gemmInC).
func fortranGemm[T float32 | float64](fn uintptr, tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	trans := func(t blas.Transpose) byte {
		if t == blas.NoTrans {
			return 'N'
		}
		return 'T'
	}
	p := &gemmScalars[T]{tA: trans(tA), tB: trans(tB), m: int32(m), n: int32(n), k: int32(k),
		lda: int32(lda), ldb: int32(ldb), ldc: int32(ldc), alpha: alpha, beta: beta}
	// The conversions to uintptr sit in SyscallN's argument list, which keeps
	// what they point at alive (and in place) until it returns.
	purego.SyscallN(fn,
		uintptr(unsafe.Pointer(&p.tB)), uintptr(unsafe.Pointer(&p.tA)),
		uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.alpha)),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&p.beta)),
		uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)))
}
