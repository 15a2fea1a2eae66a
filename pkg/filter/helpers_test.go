package filter

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

var t0 = time.Date(2026, 11, 23, 14, 53, 49, 0, time.UTC)

// proc returns a process as the process cache builds it.
func proc(pid uint32, binary, args string) *event.Process {
	return &event.Process{
		ExecID:    "bm9kZS0xOjUzNDU0Mjk3NDY5Njo1MTEy",
		Pid:       pid,
		Tid:       pid,
		Cwd:       "/root",
		Binary:    binary,
		Arguments: args,
		Flags:     "execve clone",
		StartTime: "2026-11-23T14:53:49.123456789Z",
		Auid:      4294967295,
		Cgroup:    &event.Cgroup{ID: 2675, Name: "session-1.scope"},
	}
}

// inPod returns a copy of p running in a container of pod ns/name.
func inPod(p *event.Process, ns, name string, labels map[string]string) *event.Process {
	cp := *p
	cp.Pod = &event.Pod{
		Namespace: ns, Name: name, UID: "6f0c1a8e-3b1d-4c7e-9a43-2d1f0b5e7c11",
		Container: &event.Container{ID: "containerd://a1a1b2b2", Name: "app",
			Image: &event.Image{ID: "docker.io/library/nginx@sha256:0abc", Name: "nginx:1.27"}},
		PodLabels: labels, Workload: "web", WorkloadKind: "Deployment",
	}
	cp.Docker = "a1a1b2b2"
	return &cp
}

func execEv(p, parent *event.Process, ancestors ...*event.Process) *event.Event {
	return &event.Event{
		ProcessExec: &event.ProcessExec{Process: p, Parent: parent, Ancestors: ancestors},
		NodeName:    "node-1", Time: event.FormatTime(t0),
	}
}

func exitEv(p, parent *event.Process) *event.Event {
	return &event.Event{
		ProcessExit: &event.ProcessExit{Process: p, Parent: parent, Status: 0, Time: event.FormatTime(t0)},
		NodeName:    "node-1", Time: event.FormatTime(t0),
	}
}

func kprobeEv(p, parent *event.Process, policy string, args ...*event.Argument) *event.Event {
	return &event.Event{
		ProcessKprobe: &event.ProcessKprobe{Process: p, Parent: parent,
			FunctionName: "__x64_sys_openat", Args: args, Action: event.ActionPost, PolicyName: policy},
		NodeName: "node-1", Time: event.FormatTime(t0),
	}
}

func lostEv() *event.Event {
	return &event.Event{
		LostEvents: &event.LostEvents{Count: 881, Reason: event.LostRingBuffer,
			WindowStart: "2026-11-23T14:57:02.1Z", WindowEnd: "2026-11-23T14:57:02.2Z"},
		NodeName: "node-1", Time: "2026-11-23T14:57:02.2Z",
	}
}

func strArg(s, label string) *event.Argument { return &event.Argument{StringArg: &s, Label: label} }

func intArg(v int32) *event.Argument { return &event.Argument{IntArg: &v} }

// Processes of a typical tree: sshd -> bash -> ls, and a pod's nginx.
var (
	sshd  = proc(812, "/usr/sbin/sshd", "-D")
	bash  = proc(5105, "/usr/bin/bash", "")
	ls    = proc(5112, "/usr/bin/ls", "-l /tmp")
	nginx = inPod(proc(9182, "/usr/sbin/nginx", "-g \"daemon off;\""), "shop", "web-5d8f9c7b6-x2x9k",
		map[string]string{"app": "web", "tier": "front"})
	containerd = proc(700, "/usr/bin/containerd-shim-runc-v2", "-namespace k8s.io")
)

// encodeJSON encodes v as the export writer does.
func encodeJSON(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func mustNew(t testing.TB, o Options) *Pipeline {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
