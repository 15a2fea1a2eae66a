package filter

import (
	"strings"
	"testing"

	"github.com/cilium/tetragon/api/v1/tetragon"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vigil-sec/vigil/pkg/event"
)

// strictEvents are events with each of Vigil's additions: processes'
// cgroups (the helpers' processes have one), a backend, a monitor mode,
// and a truncated buffer that says why it is incomplete.
func strictEvents() []*event.Event {
	kp := kprobeEv(ls, bash, "watch", strArg("/etc/passwd", ""),
		&event.Argument{TruncatedBytesArg: &event.TruncatedBytes{BytesArg: []byte("ab"), OrigSize: 9000,
			Incomplete: event.IncompleteFault}})
	kp.ProcessKprobe.Backend, kp.ProcessKprobe.Mode = "open_syscalls_exit", "monitor"
	kp.ProcessKprobe.Ancestors = []*event.Process{sshd}
	tp := &event.Event{ProcessTracepoint: &event.ProcessTracepoint{Process: ls, Parent: bash,
		Subsys: "syscalls", Event: "sys_enter_ptrace", Action: event.ActionPost, Mode: "monitor"},
		NodeName: "node-1", Time: event.FormatTime(t0)}
	return []*event.Event{execEv(ls, bash, sshd), exitEv(nginx, containerd), kp, tp}
}

// With Strict, exported lines parse as Tetragon's GetEventsResponse with
// its own types and a strict parser, lost_events records become
// rate_limit_info, and the events given are left as they were.
func TestStrictWritesTetragonsEvents(t *testing.T) {
	strict, plain := mustNew(t, Options{Strict: true}), mustNew(t, Options{})
	for _, ev := range append(strictEvents(), lostEv()) {
		before := encodeJSON(t, ev)
		recs := strict.Apply(ev, t0)
		if len(recs) != 1 {
			t.Fatalf("%d records", len(recs))
		}
		line, err := recs[0].AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		var resp tetragon.GetEventsResponse
		if err := protojson.Unmarshal(line, &resp); err != nil {
			t.Errorf("strict: not Tetragon's: %v\n%s", err, line)
		}
		if after := encodeJSON(t, ev); after != before {
			t.Errorf("the event given changed:\n%s\n%s", before, after)
		}
		plainLine, err := plain.Apply(ev, t0)[0].AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if ev.LostEvents == nil && protojson.Unmarshal(plainLine, &resp) == nil {
			t.Errorf("without Strict, a strict parser takes Vigil's additions: %s", plainLine)
		}
	}
	recs := strict.Apply(lostEv(), t0)
	if info := recs[0].Event.RateLimitInfo; info == nil || info.NumberOfDroppedProcessEvents != 881 ||
		recs[0].Event.NodeName != "node-1" {
		t.Errorf("lost_events under Strict: %+v", recs[0].Event)
	}
	line, _ := recs[0].AppendJSON(nil)
	if !strings.Contains(string(line), `"rate_limit_info":{"number_of_dropped_process_events":"881"}`) {
		t.Errorf("lost_events under Strict: %s", line)
	}
}
