// Package siemtest runs real SIEM receivers for tests: rsyslog over TLS and
// TCP, and an OpenTelemetry Collector with the Splunk HEC and OTLP receivers, started
// by scripts/siem-up.sh on loopback ports of their own, in a temporary
// directory of their own, and reads back what they received. It also runs
// rsyslog with imrelp as a child process (StartRELP), a slow syslog
// receiver (StartSlow), and a Splunk HEC receiver with indexer
// acknowledgement (StartHECAck).
package siemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// Receivers.
const (
	Rsyslog = "rsyslog"
	Otelcol = "otelcol"
)

// Env is a set of running receivers.
type Env struct {
	Dir        string
	CA         string // PEM of the CA that signed the receivers' certificates
	ClientCert string // a client certificate and key signed by it
	ClientKey  string
	SyslogTLS  string // host:port of rsyslog's RFC5425 input
	SyslogTCP  string // host:port of rsyslog's plain TCP input
	HEC        string // https://host:port of the collector's Splunk HEC receiver
	OTLPGRPC   string // host:port of the collector's OTLP/gRPC receiver
	OTLPHTTP   string // host:port of its OTLP/HTTP receiver

	root, rsyslogOut, otelOut string
	env                       []string
}

// Received is one event as a receiver wrote it.
type Received struct {
	Time  time.Time // syslog TIMESTAMP or HEC time
	Host  string    // syslog HOSTNAME or HEC host
	App   string    // syslog APP-NAME or HEC source
	Pri   int       // syslog PRI
	Event event.Event
	JSON  json.RawMessage // the event, as parsed by the receiver
}

// SkipOnKernelVM skips a test in the kernel-matrix VMs (VIGIL_TEST_KERNEL
// set), which have no receivers; everywhere else the test runs.
func SkipOnKernelVM(t testing.TB) {
	if os.Getenv("VIGIL_TEST_KERNEL") != "" {
		t.Skip("no SIEM receivers in the kernel-matrix VMs")
	}
}

// Start starts the receivers named (Rsyslog, Otelcol; both when none) and
// stops them when the test ends. The first run installs rsyslog and builds
// the collector, which takes minutes.
func Start(t testing.TB, which ...string) *Env {
	t.Helper()
	SkipOnKernelVM(t)
	if len(which) == 0 {
		which = []string{Rsyslog, Otelcol}
	}
	e := &Env{Dir: t.TempDir(), root: repoRoot(t)}
	e.env = append(os.Environ(), "VIGIL_SIEM_DIR="+e.Dir,
		"VIGIL_SIEM_SYSLOG_TLS_PORT="+freePort(t), "VIGIL_SIEM_SYSLOG_TCP_PORT="+freePort(t),
		"VIGIL_SIEM_HEC_PORT="+freePort(t), "VIGIL_SIEM_OTLP_GRPC_PORT="+freePort(t),
		"VIGIL_SIEM_OTLP_HTTP_PORT="+freePort(t))
	t.Cleanup(func() { e.Down(t, "all") })
	for _, w := range which {
		e.Up(t, w)
	}
	return e
}

// Up starts a receiver (again), keeping what it received before.
func (e *Env) Up(t testing.TB, which string) {
	t.Helper()
	out := e.script(t, "siem-up.sh", which)
	vars := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
			vars[k] = v
		}
	}
	e.CA, e.ClientCert, e.ClientKey = vars["VIGIL_SIEM_CA"], vars["VIGIL_SIEM_CLIENT_CERT"], vars["VIGIL_SIEM_CLIENT_KEY"]
	e.SyslogTLS, e.SyslogTCP, e.HEC = vars["VIGIL_SIEM_SYSLOG_TLS"], vars["VIGIL_SIEM_SYSLOG_TCP"], vars["VIGIL_SIEM_HEC"]
	e.rsyslogOut, e.otelOut = vars["VIGIL_SIEM_RSYSLOG_OUT"], vars["VIGIL_SIEM_OTELCOL_OUT"]
	e.OTLPGRPC, e.OTLPHTTP = vars["VIGIL_SIEM_OTLP_GRPC"], vars["VIGIL_SIEM_OTLP_HTTP"]
}

// Down stops a receiver, or "all".
func (e *Env) Down(t testing.TB, which string) {
	t.Helper()
	e.script(t, "siem-down.sh", which)
}

func (e *Env) script(t testing.TB, name, arg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(e.root, "scripts", name), arg)
	cmd.Env = e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, arg, err, tail(stderr.String(), 4000))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "siem-up.sh")); err == nil {
			return dir
		}
	}
	t.Fatal("scripts/siem-up.sh not found above the working directory")
	return ""
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// lines returns the complete lines of a file written by a receiver.
func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b[:bytes.LastIndexByte(b, '\n')+1]))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// RsyslogEvents returns what rsyslog wrote so far, parsed.
func (e *Env) RsyslogEvents(t testing.TB) []Received {
	t.Helper()
	return rsyslogEvents(t, e.rsyslogOut)
}

// rsyslogEvents parses the lines of an rsyslog output file.
func rsyslogEvents(t testing.TB, path string) []Received {
	t.Helper()
	var out []Received
	for _, l := range lines(t, path) {
		var m struct {
			TS    string          `json:"ts"`
			Host  string          `json:"host"`
			App   string          `json:"app"`
			Pri   string          `json:"pri"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("rsyslog wrote %q: %v", l, err)
		}
		r := Received{Host: m.Host, App: m.App, JSON: m.Event}
		r.Time, _ = time.Parse(time.RFC3339Nano, m.TS)
		r.Pri, _ = strconv.Atoi(m.Pri)
		if err := json.Unmarshal(m.Event, &r.Event); err != nil {
			t.Fatalf("rsyslog event %s: %v", m.Event, err)
		}
		out = append(out, r)
	}
	return out
}

// Wait calls get until it returns at least n events, for up to timeout,
// and returns what it got last.
func Wait(t testing.TB, get func(testing.TB) []Received, n int, timeout time.Duration) []Received {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		got := get(t)
		if len(got) >= n || time.Now().After(end) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}
