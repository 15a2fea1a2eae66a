package compile

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// TestCorpusOutcomes runs every document of Tetragon's example corpus
// through parsing and compilation on this kernel, and counts the outcomes:
// loads, needs a kernel feature this kernel lacks, or needs a part of Vigil
// not written yet. Any other error, or a panic, fails the test.
func TestCorpusOutcomes(t *testing.T) {
	kernel := probe.Run()
	var files []string
	_ = filepath.WalkDir("../policy/testdata/tetragon", func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no corpus files under ../policy/testdata/tetragon")
	}
	counts := map[string]int{}
	reasons := map[string]int{}
	for _, f := range files {
		docs, err := policy.ParseFile(f)
		if err != nil {
			counts["rejected by validation"]++
			t.Logf("%s: %v", f, err)
			continue
		}
		for _, p := range docs {
			outcome, reason := compileOutcome(p, kernel)
			if outcome == "" {
				t.Errorf("%s: %s: unexplained error: %s", f, p.GetName(), reason)
				continue
			}
			counts[outcome]++
			t.Logf("%s: %s: %s", strings.TrimPrefix(f, "../policy/testdata/tetragon/"), p.GetName(), outcome)
			if reason != "" {
				reasons[outcome+": "+reason]++
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		t.Logf("%-40s %d", k, counts[k])
	}
	for _, k := range slices.Sorted(maps.Keys(reasons)) {
		t.Logf("  %3d  %s", reasons[k], k)
	}
	if counts["loads here"] == 0 {
		t.Error("no corpus policy loads on this kernel")
	}
}

// compileOutcome names the outcome and, for failures, the reason without
// the YAML path (so equal reasons group together).
func compileOutcome(p policy.Policy, kernel probe.Report) (outcome, reason string) {
	_, err := Compile(p, Target{Kernel: kernel, Pods: true, Nodes: true}) // as the agent with --enable-k8s-api
	var u *UnsupportedError
	switch {
	case err == nil:
		return "loads here", ""
	case errors.As(err, &u) && u.KernelLacks:
		return "needs what this kernel lacks", firstClause(u.Reason)
	case errors.As(err, &u):
		return "not implemented in Vigil yet", firstClause(u.Reason)
	case errors.Is(err, fs.ErrNotExist):
		return "names a binary this machine lacks", ""
	}
	return "", err.Error()
}

func firstClause(s string) string {
	if i := strings.Index(s, ":"); i > 0 {
		s = s[:i]
	}
	if f := strings.Fields(s); len(f) > 0 && f[0] == "kernel" && len(f) > 3 {
		return strings.Join(f[:3], " ") // "kernel function hook", without the name
	}
	return s
}
