package filter

import (
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

func TestFilterFields(t *testing.T) {
	secret := inPod(proc(9190, "/usr/bin/cat", "/etc/shadow"), "shop", "web-5d8f9c7b6-x2x9k",
		map[string]string{"app": "web", "tier": "db"})
	child := proc(5120, "/usr/bin/grep", "root")
	for _, tc := range []struct {
		name, filter string
		ev           *event.Event
		want         bool
	}{
		{"event_set exec", `{"event_set":["PROCESS_EXEC","PROCESS_KPROBE"]}`, execEv(ls, bash), true},
		{"event_set exit", `{"event_set":["PROCESS_EXEC","PROCESS_KPROBE"]}`, exitEv(ls, bash), false},
		{"event_set lsm", `{"event_set":["PROCESS_LSM"]}`, &event.Event{ProcessLsm: &event.ProcessKprobe{Process: ls}}, true},
		{"binary_regex", `{"binary_regex":["^/usr/bin/l[s]$"]}`, execEv(ls, bash), true},
		{"binary_regex no", `{"binary_regex":["^/usr/bin/cat$"]}`, execEv(ls, bash), false},
		{"parent_binary_regex", `{"parent_binary_regex":["bash$"]}`, execEv(ls, bash), true},
		{"parent_binary_regex no parent", `{"parent_binary_regex":[".*"]}`, execEv(ls, nil), false},
		{"arguments_regex", `{"arguments_regex":["^-l "]}`, execEv(ls, bash), true},
		{"arguments_regex no", `{"arguments_regex":["shadow"]}`, execEv(ls, bash), false},
		{"parent_arguments_regex", `{"parent_arguments_regex":["^-D$"]}`, execEv(bash, sshd), true},
		{"namespace", `{"namespace":["shop"]}`, execEv(nginx, containerd), true},
		{"namespace other", `{"namespace":["kube-system"]}`, execEv(nginx, containerd), false},
		{"namespace host", `{"namespace":[""]}`, execEv(ls, bash), true},
		{"namespace host not pod", `{"namespace":[""]}`, execEv(nginx, containerd), false},
		{"pod_regex", `{"pod_regex":["^web-"]}`, execEv(nginx, containerd), true},
		{"pod_regex host", `{"pod_regex":[".*"]}`, execEv(ls, bash), false},
		{"container_name_regex", `{"container_name_regex":["^app$"]}`, execEv(nginx, containerd), true},
		{"container_id", `{"container_id":["^a1a1"]}`, execEv(nginx, containerd), true},
		{"container_id host", `{"container_id":[".*"]}`, execEv(ls, bash), false},
		{"labels", `{"labels":["app=web,tier!=db"]}`, execEv(nginx, containerd), true},
		{"labels excluded", `{"labels":["app=web,tier!=db"]}`, execEv(secret, containerd), false},
		{"labels set-based", `{"labels":["tier in (db, cache)"]}`, execEv(secret, containerd), true},
		{"labels ORed", `{"labels":["app=api","tier=front"]}`, execEv(nginx, containerd), true},
		{"labels host", `{"labels":["!app"]}`, execEv(ls, bash), false},
		{"pid", `{"pid":[5112]}`, execEv(ls, bash), true},
		{"pid not parent", `{"pid":[5105]}`, execEv(ls, bash), false},
		{"pid_set itself", `{"pid_set":[5112]}`, execEv(ls, bash), true},
		{"pid_set child", `{"pid_set":[5105]}`, execEv(ls, bash), true},
		{"pid_set grandchild", `{"pid_set":[812]}`, execEv(child, ls, bash, sshd), true},
		{"pid_set grandchild without ancestors", `{"pid_set":[812]}`, execEv(child, ls), false},
		{"pid_set other", `{"pid_set":[1]}`, execEv(child, ls, bash, sshd), false},
		{"policy_names", `{"policy_names":["kill-shadow-read"]}`, kprobeEv(secret, containerd, "kill-shadow-read"), true},
		{"policy_names other", `{"policy_names":["other"]}`, kprobeEv(secret, containerd, "kill-shadow-read"), false},
		{"policy_names exec", `{"policy_names":["kill-shadow-read"]}`, execEv(secret, containerd), false},
		{"fields ANDed", `{"event_set":["PROCESS_KPROBE"],"namespace":["shop"],"binary_regex":["cat$"]}`,
			kprobeEv(secret, containerd, "p"), true},
		{"fields ANDed one fails", `{"event_set":["PROCESS_KPROBE"],"namespace":["shop"],"binary_regex":["ls$"]}`,
			kprobeEv(secret, containerd, "p"), false},
		{"lost_events no process", `{"namespace":[""]}`, lostEv(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := ParseFilters(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := fs[0].Match(tc.ev); got != tc.want {
				t.Errorf("%s on %s: got %v, want %v", tc.filter, encodeJSON(t, tc.ev), got, tc.want)
			}
		})
	}
}

func TestParseFiltersLines(t *testing.T) {
	fs, err := ParseFilters(`{"event_set":["PROCESS_EXEC"],"namespace":["shop"]}

{"event_set":["PROCESS_KPROBE"]}
{
  "pid": [5112]
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 {
		t.Fatalf("got %d filters, want 3", len(fs))
	}
	for _, tc := range []struct {
		ev   *event.Event
		want []bool
	}{
		{execEv(nginx, containerd), []bool{true, false, false}},
		{execEv(ls, bash), []bool{false, false, true}},
		{kprobeEv(ls, bash, "p"), []bool{false, true, true}},
	} {
		for i, f := range fs {
			if got := f.Match(tc.ev); got != tc.want[i] {
				t.Errorf("filter %d on %s: got %v", i, encodeJSON(t, tc.ev), got)
			}
		}
	}
	if fs, err := ParseFilters(" \n\n"); err != nil || fs != nil {
		t.Errorf("blank list: %v, %v", fs, err)
	}
}

func TestParseFiltersErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"event_set":["PROCESS_EXEC"]}` + "\n" + `{"binary_regex":["^/usr/bin/ls$","("]}`,
			"line 2: binary_regex[1]: error parsing regexp: missing closing ): `(`"},
		{`{"binary":["ls"]}`, "line 1: binary: unknown field"},
		{`{"health_check":true}`, "line 1: health_check: Tetragon's filter field is not implemented by Vigil"},
		{`{"pid":["5112"]}`, "line 1: pid: want a list of pids (numbers)"},
		{`{"pid":[-1]}`, "line 1: pid: want a list of pids (numbers)"},
		{`{"pid_set":5112}`, "line 1: pid_set: want a list of pids (numbers)"},
		{`{"namespace":[]}`, "line 1: namespace: empty list: omit the field instead"},
		{`{"namespace":null}`, "line 1: namespace: empty list: omit the field instead"},
		{`{}`, "line 1: no fields: the filter would match every event"},
		{`["PROCESS_EXEC"]`, "line 1: want a JSON object"},
		{`{"event_set":["PROCESS_EXECUTE"]}`, `line 1: event_set[0]: unknown event type "PROCESS_EXECUTE": want one of PROCESS_EXEC, PROCESS_EXIT, PROCESS_KPROBE, PROCESS_LOADER, PROCESS_LSM, PROCESS_TRACEPOINT, PROCESS_UPROBE, PROCESS_USDT`},
		{`{"event_set":["PROCESS_EXEC","LOST_EVENTS"]}`, "line 1: event_set[1]: LOST_EVENTS records are never filtered: losses are always reported"},
		{`{"labels":["app=web","tier in (db"]}`, "line 1: labels[1]: "},
		{`{"pid":[1],"pid":[2]}`, "line 1: pid: given twice"},
		{`{"pid":[1]}` + "\n\n" + `{"pid":[2]` + "\n", "line 3: invalid JSON: "},
		{`{"pid":[1]} {"pid":[2]} {"pod_regex":["["]}`, "line 1: pod_regex[0]: error parsing regexp"},
	} {
		_, err := ParseFilters(tc.in)
		t.Log(err)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
