package process

import (
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

func ident(pid uint32, ktime uint64) tracing.ExecIdent {
	return tracing.ExecIdent{Pid: pid, Ktime: ktime}
}

func execRec(id, parent tracing.ExecIdent, binary string) *tracing.Exec {
	return &tracing.Exec{
		Process: tracing.Process{Ident: id, Parent: parent, Tid: id.Pid, Flags: tracing.FlagExecve},
		Binary:  binary,
		Args:    []string{binary, "x"},
		Cwd:     "/",
	}
}

func exitRec(id tracing.ExecIdent, code uint32) *tracing.Exit {
	return &tracing.Exit{Ident: id, Tid: id.Pid, Code: code}
}

func TestParentsAreKeptWhileChildrenNeedThem(t *testing.T) {
	c := New(Options{NodeName: "n", Ancestors: AllAncestors})
	shell, child, gchild := ident(10, 100), ident(11, 200), ident(11, 300)
	c.Exec(execRec(shell, ident(1, 1), "/bin/sh"))
	c.Clone(&tracing.Clone{Ident: child, Parent: shell, Tid: 11})
	ev := c.Exec(execRec(gchild, shell, "/bin/ls"))
	if ev.ProcessExec.Parent == nil || ev.ProcessExec.Parent.Binary != "/bin/sh" {
		t.Fatalf("exec parent = %+v, want /bin/sh", ev.ProcessExec.Parent)
	}
	if c.Len() != 2 {
		t.Errorf("the clone image was replaced by the exec: want 2 entries, got %d", c.Len())
	}
	c.Exit(exitRec(shell, 0))
	if c.Lookup(c.ExecID(shell)) == nil {
		t.Error("the shell left the cache while its child still runs")
	}
	ev = c.Exit(exitRec(gchild, 3<<8))
	if x := ev.ProcessExit; x.Status != 3 || x.Parent.Binary != "/bin/sh" || x.Process.Arguments != "x" {
		t.Errorf("exit = %+v", x)
	}
	if c.Len() != 0 {
		t.Errorf("every process exited: want an empty cache, got %d", c.Len())
	}
}

func TestExitOfUnknownProcess(t *testing.T) {
	c := New(Options{NodeName: "n"})
	ev := c.Exit(exitRec(ident(5, 9), 9))
	if x := ev.ProcessExit; x.Process.Pid != 5 || x.Signal != "SIGKILL" || x.Process.ExecID != c.ExecID(ident(5, 9)) {
		t.Errorf("exit = %+v", x)
	}
	// its start time is its id's, never "" (Tetragon's schema refuses
	// an empty timestamp: TestExportParsesAsTetragonStrictly)
	if got, want := ev.ProcessExit.Process.StartTime, event.FormatTime(tracing.WallTime(9)); got != want {
		t.Errorf("start_time %q, want %q", got, want)
	}
}

func TestCapacityBoundsMemory(t *testing.T) {
	c := New(Options{NodeName: "n", Capacity: 100})
	for i := uint32(1); i <= 1000; i++ {
		c.Exec(execRec(ident(i, uint64(i)), ident(1, 1), "/bin/true"))
	}
	if c.Len() > 100 {
		t.Errorf("cache holds %d entries, capacity 100", c.Len())
	}
	if c.Evictions() != 900 {
		t.Errorf("evictions = %d, want 900", c.Evictions())
	}
}

func TestExecIDIsTetragons(t *testing.T) {
	c := New(Options{NodeName: "minikube"})
	// from Tetragon's exported events: minikube:3349766462822:38313
	if got := c.ExecID(ident(38313, 3349766462822)); got != "bWluaWt1YmU6MzM0OTc2NjQ2MjgyMjozODMxMw==" {
		t.Errorf("exec_id = %s", got)
	}
}

func TestFormatArgs(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"ls"}, ""},
		{[]string{"ls", "-l", "/tmp"}, "-l /tmp"},
		{[]string{"echo", "a b", ""}, `"a b" ""`},
		{[]string{"echo", `say "hi"`, `c:\x`}, `"say \"hi\"" "c:\\x"`},
	} {
		if got := formatArgs(tc.argv); got != tc.want {
			t.Errorf("formatArgs(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}

// TestParseAncestors: --enable-ancestors reads Tetragon's list of event
// types, and true and false; an unknown type, or a hook type without
// base, is refused with the reason.
func TestParseAncestors(t *testing.T) {
	for in, want := range map[string]Ancestors{
		"": {}, "false": {}, "true": AllAncestors, "base": {Base: true},
		"base,kprobe": {Base: true, Kprobe: true}, "base,tracepoint,uprobe,lsm": {Base: true, Tracepoint: true, Uprobe: true, LSM: true},
	} {
		if got, err := ParseAncestors(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
		if in != "" && in != "false" && in != "true" && want.String() != in {
			t.Errorf("%+v prints %q, want %q", want, want.String(), in)
		}
	}
	for _, in := range []string{"kprobe", "base,exec", "base,"} {
		if _, err := ParseAncestors(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestCompactAfterLargeDrops(t *testing.T) {
	c := New(Options{NodeName: "n"})
	shell := ident(10, 100)
	c.Exec(execRec(shell, ident(1, 1), "/bin/sh"))
	const n = 3 * compactMin
	for i := uint32(0); i < n; i++ {
		c.Exec(execRec(ident(100+i, 1000+uint64(i)), shell, "/bin/sleep"))
	}
	if c.Compact() {
		t.Fatal("compacted a cache that holds what it held at most")
	}
	for i := uint32(0); i < n-100; i++ {
		c.Exit(exitRec(ident(100+i, 1000+uint64(i)), 0))
	}
	if !c.Compact() {
		t.Fatalf("%d entries left of %d: not compacted", c.Len(), n+1)
	}
	if c.Compact() {
		t.Error("compacted twice without a change")
	}
	last := ident(100+n-1, 1000+n-1)
	if p := c.Lookup(c.ExecID(last)); p == nil || p.Binary != "/bin/sleep" {
		t.Fatalf("a live process is gone after the compaction: %+v", p)
	}
	ev := c.Exec(execRec(ident(99999, 99999), last, "/bin/ls"))
	if ev.ProcessExec.Parent == nil || ev.ProcessExec.Parent.ExecID != c.ExecID(last) {
		t.Errorf("an exec after the compaction lost its parent: %+v", ev.ProcessExec.Parent)
	}
	if c.Len() != 102 {
		t.Errorf("%d entries, want 102 (the shell, 100 sleeps, ls)", c.Len())
	}
}
