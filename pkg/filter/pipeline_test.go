package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

func TestAllowDeny(t *testing.T) {
	p := mustNew(t, Options{
		Allow: `{"event_set":["PROCESS_EXEC","PROCESS_KPROBE"]}`,
		Deny: `{"namespace":["kube-system"]}
{"binary_regex":["^/usr/bin/ls$"],"event_set":["PROCESS_EXEC"]}`,
	})
	coredns := inPod(proc(400, "/coredns", ""), "kube-system", "coredns-0", nil)
	for _, tc := range []struct {
		name string
		ev   *event.Event
		want bool
	}{
		{"allowed", execEv(nginx, containerd), true},
		{"not in allowlist", exitEv(nginx, containerd), false},
		{"denied namespace", kprobeEv(coredns, nil, "p"), false},
		{"denied binary", execEv(ls, bash), false},
		{"deny is ANDed", kprobeEv(ls, bash, "p"), true},
		{"lost_events", lostEv(), true},
		{"rate_limit_info", &event.Event{RateLimitInfo: &event.RateLimitInfo{NumberOfDroppedProcessEvents: 3}}, true},
	} {
		recs := p.Apply(tc.ev, t0)
		if got := len(recs) == 1 && recs[0].Event == tc.ev; got != tc.want {
			t.Errorf("%s: passed %v, want %v", tc.name, got, tc.want)
		}
	}
	if c := p.Counters(); c != (Counters{DroppedByFilter: 3}) {
		t.Errorf("counters %+v", c)
	}
}

// TestLossesNeverDenied: a denylist that matches everything still lets
// losses out.
func TestLossesNeverDenied(t *testing.T) {
	p := mustNew(t, Options{Deny: `{"binary_regex":[""]}` + "\n" + `{"namespace":[""]}`, Allow: `{"pid":[1]}`})
	if recs := p.Apply(lostEv(), t0); len(recs) != 1 || recs[0].Event.LostEvents == nil {
		t.Errorf("got %v", recs)
	}
	if recs := p.Apply(execEv(ls, bash), t0); recs != nil {
		t.Errorf("got %v", recs)
	}
}

func TestNewErrorsNameTheOption(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Allow: `{"event_set":["PROCESS_EXEC"]}` + "\n" + `{"binary_regex":["("]}`},
			"allowlist line 2: binary_regex[0]: error parsing regexp: missing closing ): `(`"},
		{Options{Deny: `{"pod_regex":["x"],"pods":["y"]}`}, "denylist line 1: pods: unknown field"},
	} {
		if _, err := New(tc.o); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
}

// count splits records into process events and rate_limit_info records.
func count(recs []Record) (events int, infos []*event.RateLimitInfo) {
	for _, r := range recs {
		if r.Event.RateLimitInfo != nil {
			infos = append(infos, r.Event.RateLimitInfo)
		} else {
			events++
		}
	}
	return events, infos
}

func TestRateLimit(t *testing.T) {
	p := mustNew(t, Options{RateLimit: 10, NodeName: "node-1"})
	var recs []Record
	for i := range 25 {
		recs = append(recs, p.Apply(execEv(ls, bash), t0.Add(time.Duration(i)*time.Millisecond))...)
	}
	if n, infos := count(recs); n != 10 || len(infos) != 0 {
		t.Fatalf("burst: %d events, %d infos; want 10, 0", n, len(infos))
	}

	// A minute on, the bucket is full again: the next event goes out, after
	// the report of what was dropped.
	at := t0.Add(61 * time.Second)
	recs = p.Apply(exitEv(ls, bash), at)
	if len(recs) != 2 || recs[0].Event.RateLimitInfo == nil || recs[1].Event.ProcessExit == nil {
		t.Fatalf("got %d records", len(recs))
	}
	info := recs[0].Event
	if info.RateLimitInfo.NumberOfDroppedProcessEvents != 15 || info.NodeName != "node-1" || info.Time != event.FormatTime(at) {
		t.Errorf("got %s", encodeJSON(t, recs[0]))
	}
	want := `{"rate_limit_info":{"number_of_dropped_process_events":"15"},"node_name":"node-1","time":"2026-11-23T14:54:50Z"}`
	if got := encodeJSON(t, recs[0]); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}

	// Another burst: reported no earlier than a minute after the last report.
	recs = nil
	for range 14 {
		recs = append(recs, p.Apply(execEv(ls, bash), at)...)
	}
	recs = append(recs, p.Tick(at.Add(30*time.Second))...)
	if n, infos := count(recs); n != 9 || len(infos) != 0 {
		t.Errorf("second burst: %d events, %d infos; want 9, 0", n, len(infos))
	}
	recs = p.Tick(at.Add(time.Minute))
	if _, infos := count(recs); len(infos) != 1 || infos[0].NumberOfDroppedProcessEvents != 5 {
		t.Errorf("tick: %v", infos)
	}
	if recs := p.Tick(at.Add(2 * time.Minute)); recs != nil {
		t.Errorf("nothing dropped, yet %v", recs)
	}
	if c := p.Counters(); c != (Counters{DroppedByRateLimit: 20}) {
		t.Errorf("counters %+v", c)
	}
}

// TestRateLimitSpreads: a limit of 60 a minute lets one event a second
// through once its burst is spent.
func TestRateLimitSpreads(t *testing.T) {
	p := mustNew(t, Options{RateLimit: 60})
	passed := 0
	for i := range 600 { // 10 a second for a minute
		n, _ := count(p.Apply(execEv(ls, bash), t0.Add(time.Duration(i)*100*time.Millisecond)))
		passed += n
	}
	if passed < 60+59 || passed > 60+60 {
		t.Errorf("%d passed, want the burst of 60 and one a second", passed)
	}
}

func TestRateLimitSparesLosses(t *testing.T) {
	p := mustNew(t, Options{RateLimit: 1})
	p.Apply(execEv(ls, bash), t0)
	if recs := p.Apply(execEv(ls, bash), t0); recs != nil {
		t.Fatalf("over the limit, got %v", recs)
	}
	for range 5 {
		recs := p.Apply(lostEv(), t0)
		if len(recs) == 0 || recs[len(recs)-1].Event.LostEvents == nil {
			t.Fatalf("lost_events: got %v", recs)
		}
	}
	// The first record out after the drop carried its report; losses took
	// no tokens, so the next event passes a minute on.
	if n, infos := count(p.Apply(execEv(ls, bash), t0.Add(time.Minute))); n != 1 || len(infos) != 0 {
		t.Errorf("got %d events, %v", n, infos)
	}
	if c := p.Counters(); c.DroppedByRateLimit != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestNoRateLimit(t *testing.T) {
	for _, limit := range []int{0, -1} {
		p := mustNew(t, Options{RateLimit: limit})
		for range 10000 {
			if recs := p.Apply(execEv(ls, bash), t0); len(recs) != 1 {
				t.Fatalf("limit %d: dropped", limit)
			}
		}
		if recs := p.Tick(t0.Add(time.Hour)); recs != nil {
			t.Errorf("got %v", recs)
		}
	}
}

// TestPipeline runs all stages together on one event.
func TestPipeline(t *testing.T) {
	p := mustNew(t, Options{
		Allow:        `{"namespace":["shop"]}`,
		Redactions:   `{"redact":["--password(?:\\s+|=)(\\S*)"]}`,
		FieldFilters: `{"fields":"process.binary,process.arguments,process.pod.name","action":"INCLUDE"}`,
		RateLimit:    100,
	})
	app := inPod(proc(9400, "/app/migrate", "--password=s3cret --db shop"), "shop", "migrate-x1", nil)
	got := shown(t, p, execEv(app, containerd))
	want := `{"process_exec":{"process":{"binary":"/app/migrate","arguments":"--password=***** --db shop",` +
		`"pod":{"name":"migrate-x1"}}},"node_name":"node-1","time":"2026-11-23T14:53:49Z"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !strings.Contains(app.Arguments, "s3cret") {
		t.Error("input changed")
	}
}

// TestConcurrent: Apply, Tick and Counters from several goroutines (run
// with -race).
func TestConcurrent(t *testing.T) {
	p := mustNew(t, Options{RateLimit: 100, Redactions: redactions, Deny: `{"pid":[1]}`,
		FieldFilters: `{"fields":"parent","action":"EXCLUDE"}`})
	done := make(chan int)
	for g := range 3 {
		go func() {
			n := 0
			for i := range 500 {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				for _, r := range append(p.Apply(execEv(proc(uint32(g+1), "/usr/bin/mysql", "-p=x"), bash), now), p.Tick(now)...) {
					if _, err := r.AppendJSON(nil); err != nil {
						t.Error(err)
					}
					if r.Event.ProcessExec != nil {
						n++
					}
				}
				p.Counters()
			}
			done <- n
		}()
	}
	passed := <-done + <-done + <-done
	c := p.Counters()
	if passed != 100 || c.DroppedByFilter != 500 || c.DroppedByRateLimit != 900 {
		t.Errorf("passed %d, counters %+v", passed, c)
	}
}
