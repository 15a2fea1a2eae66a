package process

import (
	"runtime"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// BenchmarkLiveProcesses: the heap a cache holds per live process, for 50,000
// children of one shell, each forked and then exec'd as `sleep 3600` (what
// make bench's memory measurement starts), as the kernel's records decode
// them (every string a copy of its own).
func BenchmarkLiveProcesses(b *testing.B) {
	const n = 50000
	var before, after runtime.MemStats
	for b.Loop() {
		c := New(Options{NodeName: "node-1"})
		shell := ident(100, 1000)
		c.Exec(execRec(shell, ident(1, 1), "/usr/bin/bash"))
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := uint32(0); i < n; i++ {
			child := ident(1000+i, 2000+2*uint64(i))
			c.Clone(&tracing.Clone{Ident: child, Parent: shell, Tid: child.Pid})
			img := ident(child.Pid, child.Ktime+1)
			r := execRec(img, shell, strings.Clone("/usr/bin/sleep"))
			r.Args = []string{strings.Clone("sleep"), strings.Clone("3600")}
			r.Cwd = strings.Clone("/root")
			r.Cgroup = strings.Clone("session-1.scope")
			c.Exec(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.Len() != n+1 {
			b.Fatalf("%d processes cached, want %d", c.Len(), n+1)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/process")
	}
}
