package agent

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/beacon/beacontest"
	"github.com/vigil-sec/vigil/pkg/event"
)

// testDNS answers the shared agent's DnsLookup requests.
var testDNS *beacontest.DNS

// TestGetUrlAndDnsLookup: a selector with GetUrl and DnsLookup (Tetragon's
// open_geturl and open_dnsrequest shape) posts its event with the action,
// and the agent fetches the URL and looks the name up, once per event.
func TestGetUrlAndDnsLookup(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/canary" {
			hits.Add(1)
		}
	}))
	defer srv.Close()
	dir, _, _ := secretFiles(t)
	canary := filepath.Join(dir, "canary")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: beacons}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - {action: GetUrl, argUrl: %q}
      - {action: DnsLookup, argFqdn: canary.vigil.test}
`, canary, srv.URL+"/canary"))
	cmd := exec.Command("/bin/cat", canary)
	_ = cmd.Run() // the file need not exist: the open is what the policy sees
	ev := shared.sink.one(t, "the canary's event", kprobeOf(cmd.Process.Pid, "beacons")).ProcessKprobe
	if ev.Action != event.ActionDNSLookup {
		t.Errorf("action %s, want the selector's last, %s", ev.Action, event.ActionDNSLookup)
	}
	for deadline := time.Now().Add(10 * time.Second); hits.Load() < 1 || testDNS.Queries("canary.vigil.test") < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d GETs of the URL, %d lookups of the name, want one each", hits.Load(), testDNS.Queries("canary.vigil.test"))
		}
	}
	time.Sleep(200 * time.Millisecond)
	if hits.Load() != 1 {
		t.Errorf("%d GETs for one event", hits.Load())
	}
}
