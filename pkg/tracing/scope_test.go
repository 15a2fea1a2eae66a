package tracing

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
)

func killed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
}

// A pod's cgroups are marked by the kernel as they are made, with the
// policies of their pod; a scoped hook acts only on processes in scope.
func TestScopeFollowsPodCgroups(t *testing.T) {
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const uid, policy = "0f0e0d0c-0b0a-4909-8807-060504030201", 3
	var m ScopeMask
	m.Set(policy)
	if err := s.SetPodScope(uid, m); err != nil {
		t.Fatal(err)
	}
	podDir := cgrouptest.PodSlice(t, uid)
	ctr := cgrouptest.Make(t, podDir, "cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope")
	cgs, err := s.Cgroups()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]Cgroup{}
	for _, c := range cgs {
		found[c.Name] = c
	}
	for _, dir := range []string{podDir, ctr} {
		c, ok := found[filepath.Base(dir)]
		st, _ := os.Stat(dir)
		if !ok || c.PodUID != uid || !c.Mask.Has(policy) || c.Key.ID != st.Sys().(*syscall.Stat_t).Ino {
			t.Errorf("cgroup %s: %+v (found %v), want pod %s with policy %d", dir, c, ok, uid, policy)
		}
	}

	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	prog := openatPrefixKill(secret, 9)
	prog.Hooks[0].Config.Scoped = 1
	if _, err := s.Hooks().Install(policy, ModeEnforce, prog, nil); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat on the host, out of scope: %v", err)
	}
	if err := cgrouptest.Command(ctr, "/bin/cat", secret).Run(); !killed(err) {
		t.Errorf("cat in the pod's container: %v, want killed", err)
	}
	if err := s.SetHostScope(m); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("/bin/cat", secret).Run(); !killed(err) {
		t.Errorf("cat on the host, now in scope: %v, want killed", err)
	}

	if err := os.Remove(ctr); err != nil {
		t.Fatal(err)
	}
	cgs, _ = s.Cgroups()
	for _, c := range cgs {
		if c.Name == filepath.Base(ctr) {
			t.Errorf("removed cgroup %s still in the scope map", ctr)
		}
	}
}
