package scope

import (
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// The cgroups of pods made before the agent loaded are found in the cgroup
// file system; a bad selector is refused.
func TestCgroupsMadeBeforeTheAgent(t *testing.T) {
	const uid = "11111111-2222-4333-8444-555555555555"
	slice := cgrouptest.PodSlice(t, uid)
	ctr := cgrouptest.Make(t, slice, "cri-containerd-"+
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff.scope")
	kernel, err := tracing.Load(tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer kernel.Close()
	s, err := New(kernel, nil)
	if err != nil {
		t.Fatal(err)
	}
	cgs, err := kernel.Cgroups()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, c := range cgs {
		found[c.Name] = c.PodUID
	}
	for _, dir := range []string{slice, ctr} {
		if found[filepath.Base(dir)] != uid {
			t.Errorf("cgroup %s made before the agent: pod %q, want %q", dir, found[filepath.Base(dir)], uid)
		}
	}

	if err := s.Set(8, &compile.Scope{Host: true, Pods: &policy.LabelSelector{MatchExpressions: []policy.LabelSelectorRequirement{
		{Key: "app", Operator: "Bogus"}}}}); err == nil {
		t.Error("a selector with an unknown operator: no error")
	}
}
