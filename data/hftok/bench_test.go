package hftok

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time, for a figure that the
// load of a shared machine changes less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the throughput in CPU time, as cpu-MB/s.
func reportCPU(b *testing.B, start time.Duration, bytes int) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/d.Seconds()/1e6, "cpu-MB/s")
	}
}

// benchText is the large mixed text of the speed comparison: the Qwen3
// reference strings joined by newlines, repeated to at least 1 MiB.
// testdata/bench_npm.js builds the same text for the Rust library.
func benchText(b *testing.B) (string, []string) {
	ref := loadReference(b, "qwen3")
	texts := make([]string, len(ref.Cases))
	for i, c := range ref.Cases {
		texts[i] = c.Text
	}
	base := strings.Join(texts, "\n")
	reps := (1<<20 + len(base) - 1) / len(base)
	return strings.Repeat(base+"\n", reps), texts
}

// BenchmarkEncodeQwen3 encodes the whole text in one call.
func BenchmarkEncodeQwen3(b *testing.B) {
	tk := loadTokenizer(b, "qwen3")
	text, _ := benchText(b)
	tk.Encode(text) // as the Rust side, time with a warm word cache
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		tk.Encode(text)
	}
	reportCPU(b, start, len(text))
}

// benchDocs cuts the text at line ends into documents of at least 2 KiB,
// the size of a prompt with its completion.
func benchDocs(text string) []string {
	var docs []string
	var cur []string
	n := 0
	for _, line := range strings.Split(text, "\n") {
		cur = append(cur, line)
		n += len(line) + 1
		if n >= 2048 {
			docs = append(docs, strings.Join(cur, "\n"))
			cur, n = cur[:0], 0
		}
	}
	if len(cur) > 0 {
		docs = append(docs, strings.Join(cur, "\n"))
	}
	return docs
}

// BenchmarkEncodeQwen3Docs encodes the text as documents of about 2 KiB,
// one call each.
func BenchmarkEncodeQwen3Docs(b *testing.B) {
	tk := loadTokenizer(b, "qwen3")
	text, _ := benchText(b)
	docs := benchDocs(text)
	n := 0
	for _, d := range docs {
		n += len(d)
		tk.Encode(d)
	}
	b.SetBytes(int64(n))
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			tk.Encode(d)
		}
	}
	reportCPU(b, start, n)
}

// BenchmarkDecodeQwen3 decodes the ids of the whole text.
func BenchmarkDecodeQwen3(b *testing.B) {
	tk := loadTokenizer(b, "qwen3")
	text, _ := benchText(b)
	ids := tk.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		tk.Decode(ids, false)
	}
	reportCPU(b, start, len(text))
}
