package tracing

import (
	"os/exec"
	"testing"
	"time"
)

func TestLoadSmoke(t *testing.T) {
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot: %d", len(snap))
	for _, e := range snap {
		t.Logf("%d %s", e.Process.Ident.Pid, e.Binary)
	}
	cmd := exec.Command("/bin/sh", "-c", "cd /tmp && exec /bin/ls -l 'a b' /nonexist")
	cmd.Run()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r, err := s.Read(deadline)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%T %+v", r, r)
		if e, ok := r.(*Exec); ok && e.Process.Ident.Pid == uint32(cmd.Process.Pid) && e.Binary == "/usr/bin/ls" {
			break
		}
	}
}
