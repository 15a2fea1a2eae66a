package filter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

// shown returns the JSON line the pipeline writes for ev.
func shown(t *testing.T, p *Pipeline, ev *event.Event) string {
	t.Helper()
	recs := p.Apply(ev, t0)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	return encodeJSON(t, recs[0])
}

func TestFieldFilterInclude(t *testing.T) {
	p := mustNew(t, Options{FieldFilters: `{"fields":"process.binary,process.pid,parent.binary","event_set":["PROCESS_EXEC"],"action":"INCLUDE"}`})
	want := `{"process_exec":{"process":{"pid":5112,"binary":"/usr/bin/ls"},"parent":{"binary":"/usr/bin/bash"}},` +
		`"node_name":"node-1","time":"2026-11-23T14:53:49Z"}`
	if got := shown(t, p, execEv(ls, bash)); got != want {
		t.Errorf("exec:\n got %s\nwant %s", got, want)
	}
	exit := exitEv(ls, bash)
	if got, want := shown(t, p, exit), encodeJSON(t, exit); got != want {
		t.Errorf("exit, outside the event_set:\n got %s\nwant %s", got, want)
	}
}

func TestFieldFilterExclude(t *testing.T) {
	p := mustNew(t, Options{FieldFilters: `{"fields":"process.pod.pod_labels, process.arguments,parent","action":"EXCLUDE"}`})
	got := shown(t, p, execEv(nginx, containerd))
	for _, gone := range []string{`"parent"`, `"arguments"`, `"pod_labels"`, "containerd-shim"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s still in %s", gone, got)
		}
	}
	for _, kept := range []string{`"pod":{"namespace":"shop","name":"web-5d8f9c7b6-x2x9k"`, `"binary":"/usr/sbin/nginx"`, `"node_name":"node-1"`, `"time":`} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s missing from %s", kept, got)
		}
	}
	kp := shown(t, p, kprobeEv(nginx, containerd, "p", strArg("/etc/shadow", "path")))
	if strings.Contains(kp, `"parent"`) || !strings.Contains(kp, `"args":[{"string_arg":"/etc/shadow","label":"path"}]`) {
		t.Errorf("kprobe: %s", kp)
	}
}

func TestFieldFiltersCombine(t *testing.T) {
	p := mustNew(t, Options{FieldFilters: `{"fields":"process.binary","action":"INCLUDE"}
{"fields":"process.pid,function_name","event_set":["PROCESS_KPROBE"],"action":"INCLUDE"}
{"fields":"process.pid","event_set":["PROCESS_KPROBE"],"action":"EXCLUDE"}
{"fields":"process.exec_id","event_set":["PROCESS_EXEC","PROCESS_EXIT"],"invert_event_set":true,"action":"INCLUDE"}`})
	// INCLUDE filters add up, EXCLUDE wins, and invert_event_set applies
	// the last filter to every type but exec and exit.
	want := `{"process_kprobe":{"process":{"exec_id":"bm9kZS0xOjUzNDU0Mjk3NDY5Njo1MTEy","binary":"/usr/bin/ls"},` +
		`"function_name":"__x64_sys_openat"},"node_name":"node-1","time":"2026-11-23T14:53:49Z"}`
	if got := shown(t, p, kprobeEv(ls, bash, "p")); got != want {
		t.Errorf("kprobe:\n got %s\nwant %s", got, want)
	}
	want = `{"process_exec":{"process":{"binary":"/usr/bin/ls"}},"node_name":"node-1","time":"2026-11-23T14:53:49Z"}`
	if got := shown(t, p, execEv(ls, bash)); got != want {
		t.Errorf("exec:\n got %s\nwant %s", got, want)
	}
}

func TestFieldFilterLists(t *testing.T) {
	p := mustNew(t, Options{FieldFilters: `{"fields":"args.string_arg,ancestors.pid","action":"INCLUDE"}`})
	want := `{"process_kprobe":{"args":[{"string_arg":"/etc/shadow"},{}]},"node_name":"node-1","time":"2026-11-23T14:53:49Z"}`
	if got := shown(t, p, kprobeEv(ls, bash, "p", strArg("/etc/shadow", "path"), intArg(-100))); got != want {
		t.Errorf("kprobe:\n got %s\nwant %s", got, want)
	}
	want = `{"process_exec":{"ancestors":[{"pid":812},{"pid":700}]},"node_name":"node-1","time":"2026-11-23T14:53:49Z"}`
	if got := shown(t, p, execEv(ls, bash, sshd, containerd)); got != want {
		t.Errorf("exec:\n got %s\nwant %s", got, want)
	}
}

// TestFieldFilterKeepsRecords: lost_events and rate_limit_info keep all
// their fields.
func TestFieldFilterKeepsRecords(t *testing.T) {
	p := mustNew(t, Options{FieldFilters: `{"fields":"process","action":"INCLUDE"}`})
	lost := lostEv()
	if got, want := shown(t, p, lost), encodeJSON(t, lost); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestFieldFilterNoMutation: the caller's event and its processes are
// unchanged, and characters HTML would escape are written as the export
// writer writes them.
func TestFieldFilterNoMutation(t *testing.T) {
	p := mustNew(t, Options{FieldFilters: `{"fields":"process.arguments,parent","action":"EXCLUDE"}`})
	sh := proc(6001, "/usr/bin/sh", `-c "a > b && c < d"`)
	ev := execEv(sh, bash)
	before := encodeJSON(t, ev)
	got := shown(t, p, ev)
	if after := encodeJSON(t, ev); after != before || sh.Arguments != `-c "a > b && c < d"` {
		t.Errorf("event changed:\n%s\n%s", before, after)
	}
	if strings.Contains(got, "arguments") || !strings.Contains(got, `"binary":"/usr/bin/sh"`) {
		t.Errorf("got %s", got)
	}
	p = mustNew(t, Options{FieldFilters: `{"fields":"process.arguments","action":"INCLUDE"}`})
	if got := shown(t, p, ev); !strings.Contains(got, `"arguments":"-c \"a > b && c < d\""`) {
		t.Errorf("HTML escaped: %s", got)
	}
}

func TestFieldFilterErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"fields":"process.binaryy","event_set":["PROCESS_EXEC"],"action":"INCLUDE"}`,
			`field filters line 1: fields: "process.binaryy": no such field in PROCESS_EXEC events`},
		{`{"fields":"function_name","event_set":["PROCESS_EXEC","PROCESS_EXIT"],"action":"EXCLUDE"}`,
			`field filters line 1: fields: "function_name": no such field in PROCESS_EXEC, PROCESS_EXIT events`},
		{`{"fields":"process.pod.pod_labels.app","action":"EXCLUDE"}`, `field filters line 1: fields: "process.pod.pod_labels.app": no such field`},
		{`{"fields":"process..pid","action":"EXCLUDE"}`, `field filters line 1: fields: "process..pid": no such field`},
		{`{"fields":"process.nspid","action":"EXCLUDE"}`, `field filters line 1: fields: "process.nspid": no such field`},
		{`{"fields":"","action":"EXCLUDE"}`, `field filters line 1: fields: missing`},
		{`{"fields":"process.pid"}`, `field filters line 1: action: missing: INCLUDE or EXCLUDE`},
		{`{"fields":"process.pid","action":"KEEP"}`, `field filters line 1: action: "KEEP": want INCLUDE or EXCLUDE`},
		{`{"fields":["process.pid"],"action":"INCLUDE"}`, `field filters line 1: fields: want a string`},
		{`{"fields":"process.pid","action":"INCLUDE","event_set":["PROCESS_EXEC"],"invert_dir":true}`,
			`field filters line 1: invert_dir: unknown field (Tetragon's name is invert_event_set)`},
		{`{"fields":"process.pid","action":"INCLUDE","invert_event_set":true}`, `field filters line 1: invert_event_set: needs an event_set to invert`},
		{`{"fields":"process.pid","action":"INCLUDE","event_set":["PROCESS_EXEC","PROCESS_EXIT","PROCESS_KPROBE","PROCESS_TRACEPOINT","PROCESS_UPROBE","PROCESS_LSM","PROCESS_USDT","PROCESS_LOADER"],"invert_event_set":true}`,
			`field filters line 1: invert_event_set: event_set lists every event type: none is left`},
		{"\n" + `{"fields":"process.pid","action":"INCLUDE","event_set":["RATE_LIMIT_INFO"]}`, `field filters line 2: event_set[0]: RATE_LIMIT_INFO records are never filtered`},
	} {
		_, err := New(Options{FieldFilters: tc.in})
		t.Log(err)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// TestFieldFilterReference compares field filters, on events whose strings
// hold JSON's special characters, with the same filters applied to the
// decoded JSON, and AppendJSON with MarshalJSON.
func TestFieldFilterReference(t *testing.T) {
	odd := inPod(proc(6100, "/usr/bin/sh", `-c "echo '}{][,:' \\ \"x\" <&>"`), `ns"}`, "p{0}",
		map[string]string{`a"b`: `{"c":[1]}`, "k": `\`})
	evs := []*event.Event{
		execEv(odd, odd, odd, sshd),
		exitEv(odd, nil),
		kprobeEv(odd, odd, "p]", strArg(`"],[{`, `l"`), intArg(-1), &event.Argument{BytesArg: []byte{0, '"', 0xff}}),
		lostEv(),
	}
	for _, tc := range []struct{ fields, action string }{
		{"process.pod.pod_labels,parent.arguments,args.label,ancestors.binary", "EXCLUDE"},
		{"process.pod.pod_labels,parent.arguments,args.label,ancestors.binary", "INCLUDE"},
		{"process.pod,args,process.arguments", "INCLUDE"},
		{"process,parent.pod.container.image.name,function_name", "EXCLUDE"},
	} {
		p := mustNew(t, Options{FieldFilters: `{"fields":"` + tc.fields + `","action":"` + tc.action + `"}`})
		for _, ev := range evs {
			rec := p.Apply(ev, t0)[0]
			got, err := rec.AppendJSON([]byte("x"))
			if err != nil || !json.Valid(got[1:]) || got[0] != 'x' {
				t.Fatalf("%s %s: %v %s", tc.action, tc.fields, err, got)
			}
			if m := encodeJSON(t, rec); m != string(got[1:]) {
				t.Errorf("MarshalJSON %s\nAppendJSON  %s", m, got[1:])
			}
			want := referencePrune(t, ev, strings.Split(tc.fields, ","), tc.action == "INCLUDE")
			if string(got[1:]) != want && !sameJSON(t, string(got[1:]), want) {
				t.Errorf("%s %s:\n got %s\nwant %s", tc.action, tc.fields, got[1:], want)
			}
		}
	}
}

// referencePrune applies a field filter to ev decoded into maps.
func referencePrune(t *testing.T, ev *event.Event, paths []string, include bool) string {
	var top map[string]any
	if err := json.Unmarshal([]byte(encodeJSON(t, ev)), &top); err != nil {
		t.Fatal(err)
	}
	if ev.LostEvents != nil {
		return encodeJSON(t, top)
	}
	for k, v := range top {
		if k == "node_name" || k == "time" {
			continue
		}
		if include {
			keep := map[string]any{}
			for _, p := range paths {
				copyPath(v, keep, strings.Split(p, "."))
			}
			top[k] = keep
		} else {
			for _, p := range paths {
				deletePath(v, strings.Split(p, "."))
			}
		}
	}
	return encodeJSON(t, top)
}

func copyPath(from any, to map[string]any, path []string) {
	obj, ok := from.(map[string]any)
	if !ok {
		return
	}
	v, ok := obj[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		to[path[0]] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		sub, _ := to[path[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			to[path[0]] = sub
		}
		copyPath(v, sub, path[1:])
	case []any:
		list, _ := to[path[0]].([]any)
		if list == nil {
			list = make([]any, len(v))
			for i := range list {
				list[i] = map[string]any{}
			}
			to[path[0]] = list
		}
		for i, e := range v {
			copyPath(e, list[i].(map[string]any), path[1:])
		}
	default:
		to[path[0]] = v
	}
}

func deletePath(v any, path []string) {
	switch v := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(v, path[0])
		} else if sub, ok := v[path[0]]; ok {
			deletePath(sub, path[1:])
		}
	case []any:
		for _, e := range v {
			deletePath(e, path)
		}
	}
}

// sameJSON compares two JSON texts once decoded (map order aside).
func sameJSON(t *testing.T, a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return encodeJSON(t, x) == encodeJSON(t, y)
}
