package probe_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
)

// testCache is a cache in a fresh directory, keyed by a boot id file the
// test can change.
func testCache(t *testing.T) (probe.Cache, string) {
	t.Helper()
	dir := t.TempDir()
	boot := filepath.Join(dir, "boot_id")
	if err := os.WriteFile(boot, []byte("11111111-2222-3333-4444-555555555555\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return probe.Cache{Dir: filepath.Join(dir, "vigil"), BootIDFile: boot, Version: "test"}, boot
}

func cacheFile(c probe.Cache) string { return filepath.Join(c.Dir, "probe.json") }

func mustHit(t *testing.T, c probe.Cache, want probe.Report) {
	t.Helper()
	r, info := c.Report(false)
	if !info.Hit || info.Ignored != nil || info.Err != nil {
		t.Fatalf("second read: %+v, want a clean cache hit", info)
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("cached report differs from the probed one:\n got %+v\nwant %+v", r, want)
	}
}

// The first call probes and stores a root-only file; later calls read it
// and get exactly what a fresh probe finds.
func TestCacheProbesOnceAndMatchesFresh(t *testing.T) {
	c, _ := testCache(t)
	first, info := c.Report(false)
	if info.Hit || info.Ignored != nil || info.Err != nil {
		t.Fatalf("first call on an empty cache: %+v, want a clean probe", info)
	}
	mustHit(t, c, first)
	if fresh := probe.Run(); !reflect.DeepEqual(fresh, first) {
		t.Errorf("a fresh probe differs from the cached report:\nfresh  %+v\ncached %+v", fresh, first)
	}
	for name, want := range map[string]os.FileMode{c.Dir: 0o700 | os.ModeDir, cacheFile(c): 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode(), err, want)
		}
	}
	again, info := c.Report(true)
	if info.Hit || info.Err != nil || !reflect.DeepEqual(again, first) {
		t.Errorf("fresh=true: %+v, want a new probe with the same answers", info)
	}
}

// A corrupt cache is ignored, said so, and rewritten (the kinds of bad
// cache file are in TestReadCacheRejects).
func TestCacheRewritesCorrupt(t *testing.T) {
	c, _ := testCache(t)
	want, _ := c.Report(false)
	if err := os.WriteFile(cacheFile(c), []byte(`{"key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	r, info := c.Report(false)
	if info.Hit || info.Err != nil || info.Ignored == nil || !strings.Contains(info.Ignored.Error(), "corrupt") {
		t.Fatalf("info %+v, want the corrupt cache ignored", info)
	}
	if !reflect.DeepEqual(r.Available(), want.Available()) {
		t.Errorf("re-probed %v, first probe %v", r.Available(), want.Available())
	}
	mustHit(t, c, r)
}

// A cache directory that others may write to is not used at all, and the
// report is probed anyway.
func TestCacheRefusesSharedDir(t *testing.T) {
	c, _ := testCache(t)
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(c.Dir, 0o777)
	r, info := c.Report(false)
	if info.Err == nil || !strings.Contains(info.Err.Error(), "others may change it") || len(r.Features) != len(probe.Features()) {
		t.Fatalf("info %+v with %d results, want an error about the mode and a full report", info, len(r.Features))
	}
	if _, err := os.Stat(cacheFile(c)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a report was stored in the shared directory: %v", err)
	}
}

// Processes that start together probe once: the others wait for the lock
// and read the report.
func TestCacheConcurrentCallersProbeOnce(t *testing.T) {
	c, _ := testCache(t)
	var wg sync.WaitGroup
	hits := make([]bool, 4)
	for i := range hits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, info := c.Report(false)
			hits[i] = info.Hit
		}()
	}
	wg.Wait()
	probed := 0
	for _, h := range hits {
		if !h {
			probed++
		}
	}
	if probed != 1 {
		t.Errorf("%d of %d concurrent callers probed, want 1", probed, len(hits))
	}
}

// childEnv makes the test binary a short-lived Vigil-like process that
// reads the report through the cache in the named directory.
const childEnv = "VIGIL_PROBE_CACHE_CHILD"

type childResult struct {
	Hit    bool
	Err    string
	Report probe.Report
}

func TestCacheChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		return // only a helper process of TestProbeOncePerBootInManyProcesses
	}
	r, info := probe.Cache{Dir: dir}.Report(false)
	res := childResult{Hit: info.Hit, Report: r}
	if err := errors.Join(info.Ignored, info.Err); err != nil {
		res.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		t.Fatal(err)
	}
}

// The sequence that panicked a 6.12 guest under QEMU TCG (issue 15): one
// short-lived process after another, each needing the probe report, like
// `vigil policy check FILE` run once per file. Only the first may probe
// (attach and detach test programs, live-patching kernel text); the
// others read its report, which is what a fresh probe finds.
func TestProbeOncePerBootInManyProcesses(t *testing.T) {
	const processes = 8
	dir := filepath.Join(t.TempDir(), "vigil")
	var first probe.Report
	for i := 0; i < processes; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, out)
		}
		var res childResult
		if err := json.Unmarshal(out[:strings.LastIndex(string(out), "}")+1], &res); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, out)
		}
		switch {
		case res.Err != "":
			t.Fatalf("process %d: cache problem: %s", i, res.Err)
		case i == 0 && res.Hit:
			t.Fatal("process 0 read a cache from an empty directory")
		case i > 0 && !res.Hit:
			t.Fatalf("process %d probed again instead of reading the cache", i)
		case i == 0:
			first = res.Report
		case !reflect.DeepEqual(res.Report, first):
			t.Fatalf("process %d got %+v, the first %+v", i, res.Report, first)
		}
	}
	if fresh := probe.Run(); !reflect.DeepEqual(fresh, first) {
		t.Errorf("a fresh probe differs from the cached report:\nfresh  %+v\ncached %+v", fresh, first)
	}
}
