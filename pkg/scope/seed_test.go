package scope

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPodUIDFromCgroupNames(t *testing.T) {
	const uid = "6f1e2d3c-4b5a-4978-8899-aabbccddeeff"
	for name, want := range map[string]string{
		"kubepods-besteffort-pod6f1e2d3c_4b5a_4978_8899_aabbccddeeff.slice":                     uid,
		"kubepods-pod6f1e2d3c_4b5a_4978_8899_aabbccddeeff.slice":                                uid,
		"pod6f1e2d3c-4b5a-4978-8899-aabbccddeeff":                                               uid,
		"kubepods-burstable.slice":                                                              "",
		"pod6f1e2d3c-4b5a-4978-8899-aabbccddeef":                                                "", // one short
		"pod6F1E2D3C-4b5a-4978-8899-aabbccddeeff":                                               "", // not as the kubelet writes it
		"cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope": "",
	} {
		if got := PodUID(name); got != want {
			t.Errorf("PodUID(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestHierarchiesFromTheMountTable(t *testing.T) {
	dir := t.TempDir()
	mounts, cgroups := filepath.Join(dir, "mounts"), filepath.Join(dir, "cgroups")
	write := func(f, s string) {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(mounts, `tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
`)
	write(cgroups, "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t2\t1\t1\nmemory\t5\t90\t1\n")
	hs, err := hierarchies(mounts, cgroups)
	if err != nil {
		t.Fatal(err)
	}
	want := []hierarchy{{root: "/sys/fs/cgroup/memory", id: 5}, {root: "/sys/fs/cgroup/unified", id: 0}}
	if len(hs) != len(want) || hs[0] != want[0] || hs[1] != want[1] {
		t.Errorf("hierarchies = %+v, want %+v", hs, want)
	}
	write(cgroups, "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t2\t1\t1\n")
	if _, err := hierarchies(mounts, cgroups); err == nil {
		t.Error("a memory mount without the memory controller in /proc/cgroups: no error")
	}
}
