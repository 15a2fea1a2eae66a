package containerid

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		cgroup, id, runtime string
		ok                  bool
	}{
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1d2e.slice/cri-containerd-" + id + ".scope", id, "containerd", true},
		{"cri-containerd-" + id + ".scope", id, "containerd", true},
		{"/kubepods.slice/kubepods-pod42.slice/crio-" + id + ".scope", id, "cri-o", true},
		{"/system.slice/docker-" + id + ".scope", id, "docker", true},
		{"/machine.slice/libpod-" + id + ".scope", id, "podman", true},
		{"/kubepods/besteffort/pod1d2e3f/" + id, id, "", true}, // cgroupfs driver, v1 or v2
		{"/docker/" + id, id, "", true},
		{"/kubepods.slice/kubepods-besteffort.slice", "", "", false},
		{"/system.slice/sshd.service", "", "", false},
		{"cri-containerd-" + id[:63] + ".scope", "", "", false}, // too short
		{"cri-containerd-" + strings.ToUpper(id) + ".scope", "", "", false},
		{"/", "", "", false},
		{"", "", "", false},
	} {
		gotID, gotRuntime, ok := Parse(tc.cgroup)
		if gotID != tc.id || gotRuntime != tc.runtime || ok != tc.ok {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q, %v", tc.cgroup, gotID, gotRuntime, ok, tc.id, tc.runtime, tc.ok)
		}
	}
}

func TestFromStatus(t *testing.T) {
	id := strings.Repeat("ab", 32)
	if got, rt, ok := FromStatus("containerd://" + id); !ok || got != id || rt != "containerd" {
		t.Errorf("FromStatus = %q %q %v", got, rt, ok)
	}
	for _, bad := range []string{"", id, "containerd://", "containerd://xyz", "docker://" + id[:10]} {
		if _, _, ok := FromStatus(bad); ok {
			t.Errorf("FromStatus(%q): want not ok", bad)
		}
	}
}
