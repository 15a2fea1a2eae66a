package agent

import (
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// TestConcurrentPolicyOperations: applies, disables, enables and removes
// of one policy from many goroutines (files, CRDs and API callers at
// once) leave a state that matches the kernel: loaded kills, anything
// else does not. Run with -race, it also finds unguarded fields.
func TestConcurrentPolicyOperations(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	docs, err := policy.Parse([]byte(killReadPolicy("raced", dir+"/secret", "enforce")), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	ps := shared.agent.pols
	t.Cleanup(func() { _ = ps.Remove("raced") })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				switch (g + i) % 4 {
				case 0:
					_ = ps.Apply(t.Name(), docs[0])
				case 1:
					_ = ps.Disable("raced")
				case 2:
					_ = ps.Enable("raced", "admin")
				case 3:
					_ = ps.Remove("raced")
				}
				_ = ps.List()
			}
		}()
	}
	wg.Wait()
	p, listed := shared.agent.Policy("raced")
	err = exec.Command("/bin/cat", secret).Run()
	if enforced := killedBy(err) == syscall.SIGKILL; enforced != (listed && p.State == StateLoaded) {
		t.Fatalf("listed %v as %+v, but cat: %v", listed, p, err)
	}
}
