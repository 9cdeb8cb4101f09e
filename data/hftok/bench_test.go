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

// englishDocs is plain English-like text, 512 documents of about 2 KiB,
// from a fixed word list and a linear congruential generator that
// testdata/bench_npm.js repeats.
func englishDocs() []string {
	words := strings.Fields("the of and to in is was that for on with as by at from his her " +
		"model training reward policy sample token diffusion masked language learning gradient " +
		"quickly brown fox jumps over lazy dog 2024 3.14 it's don't they're (see below), " +
		"however; moreover: results! questions? e.g. 42% $100")
	x := uint64(1)
	docs := make([]string, 512)
	for d := range docs {
		var b strings.Builder
		for b.Len() < 2048 {
			x = (x*1103515245 + 12345) % (1 << 31)
			b.WriteString(words[x%uint64(len(words))])
			if x%7 == 0 {
				b.WriteString(".\n")
			} else {
				b.WriteByte(' ')
			}
		}
		docs[d] = b.String()
	}
	return docs
}

// BenchmarkEncodeQwen3English encodes englishDocs one by one.
func BenchmarkEncodeQwen3English(b *testing.B) {
	tk := loadTokenizer(b, "qwen3")
	docs := englishDocs()
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
