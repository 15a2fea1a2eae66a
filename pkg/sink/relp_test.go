package sink

import (
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/siemtest"
)

// TestRELPCrash kills rsyslog (imrelp) while events stream to it, and
// starts it again: every event arrives, at least once.
func TestRELPCrash(t *testing.T) {
	r := siemtest.StartRELP(t)
	s := openSink(t, "syslog+relp://"+r.Addr+"?app=vigil-relp", t.TempDir(), Options{MaxBackoff: 200 * time.Millisecond})
	defer s.Close()
	const total = 3000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 2000 events a second
		defer wg.Done()
		for i := 0; i < total; i += 20 {
			write(t, s, i, i+20)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	siemtest.Wait(t, r.Events, 500, 30*time.Second)
	r.Kill(t)
	killedAt := len(r.Events(t))
	time.Sleep(500 * time.Millisecond)
	r.Start(t)
	wg.Wait()
	got := siemtest.Wait(t, r.Events, total, 60*time.Second)
	seen := map[int]int{}
	for _, v := range seqs(got) {
		seen[v]++
	}
	missing, dup := 0, 0
	for i := 0; i < total; i++ {
		if seen[i] == 0 {
			missing++
		}
		if seen[i] > 1 {
			dup++
		}
	}
	t.Logf("rsyslog killed after %d events; %d received, %d missing, %d twice; stats %+v",
		killedAt, len(got), missing, dup, s.Stats())
	if missing > 0 || len(seen) != total {
		t.Fatalf("%d events missing (%d distinct of %d)", missing, len(seen), total)
	}
	if got[0].App != "vigil-relp" || got[0].Host != node {
		t.Fatalf("header app %q host %q", got[0].App, got[0].Host)
	}
}
