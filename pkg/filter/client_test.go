package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

// heavyArgs is the hostile read-only client: n lines of
// arguments_regex.
func heavyArgs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"arguments_regex":["--config=/etc/app%d/[a-z]+\\.ya?ml$"]}`+"\n", i)
	}
	return b.String()
}

// A client filter of 2,000 arguments_regex lines is refused by its cost,
// and parsing stops where the cost went over; without a limit it loads.
func TestClientFilterRefusedByCost(t *testing.T) {
	heavy := heavyArgs(2000)
	_, err := Client(heavy, "", 10000)
	if !errors.Is(err, ErrCost) {
		t.Fatalf("2,000 arguments_regex lines under a limit of 10000: %v, want ErrCost", err)
	}
	var line int
	if _, scanErr := fmt.Sscanf(err.Error(), "allowlist line %d: arguments_regex[0]: filters cost over the limit of 10000", &line); scanErr != nil || line >= 2000 {
		t.Errorf("error %q: want the allowlist line where the cost went over, before the last", err)
	}
	accept, err := Client(heavy, "", 0)
	if err != nil {
		t.Fatalf("without a limit: %v", err)
	}
	ev := execEv(proc(1, "/usr/bin/app", "--config=/etc/app1999/main.yaml"), bash)
	if !accept(ev) || accept(execEv(ls, bash)) {
		t.Error("without a limit: the heavy filter does not choose events")
	}
}

// The limit is on both lists together; filters within it load and choose
// events; loss records pass whatever the filters.
func TestClientFilter(t *testing.T) {
	allow := `{"binary_regex":["^/usr/bin/"]}`
	deny := `{"arguments_regex":["^-l"]}` + "\n" + `{"namespace":["kube-system"],"labels":["app=dns"]}`
	accept, err := Client(allow, deny, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ev   *event.Event
		want bool
	}{
		{execEv(bash, sshd), true},
		{execEv(ls, bash), false},  // denied
		{execEv(sshd, nil), false}, // not allowed
		{lostEv(), true},
		{&event.Event{RateLimitInfo: &event.RateLimitInfo{NumberOfDroppedProcessEvents: 3}}, true},
	} {
		if got := accept(tc.ev); got != tc.want {
			t.Errorf("%s: %v, want %v", encodeJSON(t, tc.ev), got, tc.want)
		}
	}
	_, err = Client(heavyArgs(30), heavyArgs(30), 1000)
	if !errors.Is(err, ErrCost) || !strings.HasPrefix(err.Error(), "denylist line ") {
		t.Errorf("two lists each under the limit, together over it: %v", err)
	}
	_, err = Client(`{"labels":["a=1,b=2,c=3"]}`, `{"pid":[1,2,3,4,5,6]}`, 11)
	if !errors.Is(err, ErrCost) || !strings.HasPrefix(err.Error(), "denylist line 1: pid: filters cost over the limit of 11") {
		t.Errorf("labels (1+1+3) and pids (1+6): %v, want over 11 at the pids", err)
	}
	if _, err := Client(`{"binary_regex":["("]}`, "", 100); errors.Is(err, ErrCost) ||
		err == nil || !strings.HasPrefix(err.Error(), "allowlist line 1: binary_regex[0]: error parsing regexp") {
		t.Errorf("a bad regular expression: %v", err)
	}
}
