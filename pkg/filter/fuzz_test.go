package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

// fuzzCost is the cost limit FuzzFilter compiles its filters with.
const fuzzCost = 2000

// fuzzEvents are what FuzzFilter evaluates its filters on.
var fuzzEvents = []*event.Event{
	execEv(ls, bash, sshd), exitEv(bash, sshd), execEv(nginx, containerd),
	kprobeEv(nginx, containerd, "kill-shadow-read", strArg("/etc/shadow", "path")),
	{ProcessLsm: &event.ProcessKprobe{Process: ls}}, lostEv(),
	{RateLimitInfo: &event.RateLimitInfo{NumberOfDroppedProcessEvents: 1}}, {},
}

// FuzzFilter compiles an allow and a deny list as an API client's filters
// (with a cost limit) and evaluates them: never a panic; a refusal other
// than the cost limit is the one ParseFilters gives; filters within the
// limit choose what ParseFilters' filters match, and loss records always
// pass. The allowlist is allow given 1+repeat%2048 times, one a line, as
// hostile clients send long lists: a short input makes a 2,000-line list,
// which the fuzzer can mutate and minimize cheaply.
func FuzzFilter(f *testing.F) {
	for _, seed := range []struct {
		allow, deny string
		repeat      uint16
	}{
		{`{"binary_regex":["^/usr/bin/"]}`, `{"arguments_regex":["^-l"]}`, 0},
		{`{"arguments_regex":["--config=/etc/app[0-9]+/[a-z]+\\.ya?ml$"]}`, "", 1999}, // the client
		{`{"arguments_regex":["^-l"]}`, `{"arguments_regex":["(a*)*b"]}`, 1999},
		{`{"pid":[1]}`, "", 2047},
		{`{"event_set":["PROCESS_EXEC"],"namespace":["shop",""],"labels":["app=web,tier notin (db)"]}`, `{"pid_set":[5105]}`, 0},
		{`{"policy_names":["kill-shadow-read"]}` + "\n" + `{"container_id":["^a1"],"pod_regex":["^web-"]}`, "", 1},
		{`{"arguments_regex":["(a*)*b","((((((((((x))))))))))","\\p{Greek}+"]}`, "", 0},
		{`{"arguments_regex":["a{1000}"]}`, `{"binary_regex":["x{1001}"]}`, 0},
		{`{"arguments_regex":["` + strings.Repeat("(", 100) + strings.Repeat(")", 100) + `"]}`, "", 0},
		{`{"pid":[1],"pid":[2]}`, `{}`, 0},
		{`{"labels":["` + strings.Repeat("a=b,", 100) + `c=d"]}`, "", 0},
		{"{\"pid\":[1]}\n\n{", "[1,2]", 0},
	} {
		f.Add(seed.allow, seed.deny, seed.repeat)
	}
	f.Fuzz(func(t *testing.T, line, deny string, repeat uint16) {
		allow := strings.Repeat(line+"\n", 1+int(repeat%2048))
		accept, err := Client(allow, deny, fuzzCost)
		if err != nil {
			checkRefusal(t, allow, deny, err)
			return
		}
		a, errA := ParseFilters(allow)
		d, errD := ParseFilters(deny)
		if errA != nil || errD != nil {
			t.Fatalf("within the limit but ParseFilters refuses: %v, %v", errA, errD)
		}
		for _, ev := range fuzzEvents {
			got := accept(ev)
			if got != accept(ev) {
				t.Fatalf("%s: not the same twice", encodeJSON(t, ev))
			}
			if want := wantAccepted(a, d, ev); got != want {
				t.Fatalf("%s: accepted %v, ParseFilters' filters say %v", encodeJSON(t, ev), got, want)
			}
		}
	})
}

// checkRefusal checks that err, Client's refusal, names what it refuses:
// either the cost, or what ParseFilters refuses too.
func checkRefusal(t *testing.T, allow, deny string, err error) {
	if errors.Is(err, ErrCost) {
		return
	}
	_, errA := ParseFilters(allow)
	want := errA
	if errA == nil {
		_, want = ParseFilters(deny)
		want = prefixed("denylist ", want)
	} else {
		want = prefixed("allowlist ", want)
	}
	if errString(want) != err.Error() {
		t.Fatalf("refused with %q, ParseFilters says %q", err, errString(want))
	}
}

func wantAccepted(a, d []*Filter, ev *event.Event) bool {
	if ev.ProcessExec == nil && ev.ProcessExit == nil && ev.ProcessKprobe == nil && ev.ProcessLsm == nil &&
		ev.ProcessTracepoint == nil && ev.ProcessUprobe == nil {
		return true // loss records, and anything else without a process, pass
	}
	any := func(fs []*Filter) bool {
		for _, f := range fs {
			if f.Match(ev) {
				return true
			}
		}
		return false
	}
	return (len(a) == 0 || any(a)) && !any(d)
}

func prefixed(p string, err error) error {
	if err == nil {
		return nil
	}
	return errors.New(p + err.Error())
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
