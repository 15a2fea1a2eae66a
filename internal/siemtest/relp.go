package siemtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RELP is rsyslog with imrelp (Debian's rsyslog-relp) on a loopback port,
// run by the test as a child process with its own configuration, pid file
// and work directory. Its queues are direct: a message is in its output
// file before imrelp answers for it, so that killing it loses nothing it
// answered for.
type RELP struct {
	Addr string
	dir  string
	cmd  *exec.Cmd
}

const relpConf = `global(workDirectory="@DIR@/work" maxMessageSize="1m")
main_queue(queue.type="Direct")
module(load="imrelp")
module(load="mmjsonparse")
input(type="imrelp" port="@PORT@" address="127.0.0.1" ruleset="siem")
template(name="jsonl" type="list") {
  constant(value="{\"ts\":\"")       property(name="timereported" dateFormat="rfc3339")
  constant(value="\",\"host\":\"")   property(name="hostname")
  constant(value="\",\"app\":\"")    property(name="app-name")
  constant(value="\",\"pri\":\"")    property(name="pri")
  constant(value="\",\"event\":")    property(name="$!")
  constant(value="}\n")
}
ruleset(name="siem" queue.type="Direct") {
  action(type="mmjsonparse" cookie="")
  action(type="omfile" file="@DIR@/events.jsonl" template="jsonl" flushOnTXEnd="on" asyncWriting="off")
}
`

// StartRELP installs rsyslog-relp with apt-get when imrelp is missing,
// starts rsyslogd, and kills it when the test ends.
func StartRELP(t testing.TB) *RELP {
	t.Helper()
	SkipOnKernelVM(t)
	installRELP(t)
	r := &RELP{Addr: "127.0.0.1:" + freePort(t), dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(r.dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@DIR@", r.dir, "@PORT@", strings.TrimPrefix(r.Addr, "127.0.0.1:")).Replace(relpConf)
	if err := os.WriteFile(filepath.Join(r.dir, "rsyslog.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Kill(t) })
	r.Start(t)
	return r
}

func installRELP(t testing.TB) {
	t.Helper()
	mods, _ := filepath.Glob("/usr/lib/*/rsyslog/imrelp.so")
	if len(mods) > 0 {
		return
	}
	cmd := exec.Command("apt-get", "install", "-y", "-qq", "rsyslog-relp")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install rsyslog-relp: %v\n%s", err, tail(string(out), 2000))
	}
}

// Start starts rsyslogd (again), keeping what it received before, and
// waits for its port.
func (r *RELP) Start(t testing.TB) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	pid := filepath.Join(r.dir, "rsyslogd.pid")
	os.Remove(pid)
	r.cmd = exec.Command("rsyslogd", "-n", "-f", filepath.Join(r.dir, "rsyslog.conf"), "-i", pid)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if listening(r.Addr) {
			return
		}
		if time.Now().After(end) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("rsyslogd with imrelp did not listen on %s:\n%s", r.Addr, tail(string(b), 2000))
		}
	}
}

// Kill kills rsyslogd (SIGKILL: a crash) and waits for it.
func (r *RELP) Kill(t testing.TB) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// Events returns what rsyslogd wrote so far, parsed.
func (r *RELP) Events(t testing.TB) []Received {
	t.Helper()
	return rsyslogEvents(t, filepath.Join(r.dir, "events.jsonl"))
}

func listening(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
	}
	return err == nil
}
