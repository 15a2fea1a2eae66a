package symbolize

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkReadKallsyms: what the first kernel stack costs, and what
// Kernel keeps (bytes retained per read, printed as B/table).
func BenchmarkReadKallsyms(b *testing.B) {
	var before, after runtime.MemStats
	var tab *ksymTable
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		var err error
		if tab, err = readKallsyms("/proc/kallsyms"); err != nil {
			b.Skip(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc), "B/table")
	b.ReportMetric(float64(tab.len()), "symbols")
}

// BenchmarkLoadELF: what the first frame in a file costs (the C library,
// and this test binary).
func BenchmarkLoadELF(b *testing.B) {
	self, _ := os.Executable()
	for _, path := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", self} {
		b.Run(filepath.Base(path), func(b *testing.B) {
			var n int
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Skip(err)
				}
				syms, err := loadELF(f, maxSymbols)
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				n = syms.len()
			}
			b.ReportMetric(float64(n), "symbols")
		})
	}
}
