// Package containerid finds the container a process runs in from the name
// of its cgroup, as container runtimes name them: containerd and CRI-O
// under systemd ("cri-containerd-<id>.scope", "crio-<id>.scope"), Docker
// and Podman ("docker-<id>.scope", "libpod-<id>.scope"), and the cgroupfs
// driver's bare "<id>" (cgroup v1 or v2 alike).
package containerid

import (
	"path"
	"strings"
)

// idLen is the length of a container id: 64 hexadecimal digits.
const idLen = 64

// prefixes are the runtimes' scope name prefixes, and the runtime each
// names (as Kubernetes writes it in containerStatuses[].containerID).
var prefixes = []struct{ prefix, runtime string }{
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"docker-", "docker"},
	{"libpod-", "podman"},
}

// Parse returns the container id and runtime that cgroup (a full path or
// only its last element) names, or ok false for a cgroup that is not a
// container's (a host service, a pod's own slice).
func Parse(cgroup string) (id, runtime string, ok bool) {
	name := strings.TrimSuffix(path.Base(cgroup), ".scope")
	for _, p := range prefixes {
		if rest, found := strings.CutPrefix(name, p.prefix); found {
			if isID(rest) {
				return rest, p.runtime, true
			}
			return "", "", false
		}
	}
	if isID(name) {
		return name, "", true // cgroupfs driver: the runtime is not in the name
	}
	return "", "", false
}

func isID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// FromStatus splits a Kubernetes containerStatuses[].containerID
// ("containerd://<id>") into the runtime and id.
func FromStatus(containerID string) (id, runtime string, ok bool) {
	runtime, id, found := strings.Cut(containerID, "://")
	if !found || !isID(id) {
		return "", "", false
	}
	return id, runtime, true
}
