package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/siemtest"
)

// The export filters shape what the file receives: the denylist drops,
// field filters remove fields, and redaction masks secrets in the file and
// in the API stream alike.
func TestExportFiltersAndRedaction(t *testing.T) {
	bin := build(t)
	r := startAgent(t, bin, "--metrics-address", "",
		"--export-denylist", `{"binary_regex":["/sleep$"]}`,
		"--field-filters", `{"event_set":["PROCESS_EXEC"],"fields":"process.cwd","action":"EXCLUDE"}`,
		"--redaction-filters", `{"redact":["--password[= ](\\S+)"]}`)
	out := r.out
	live := streamLines(t, bin, "-o", "json", "--server", r.admin)
	if err := exec.Command("/bin/sleep", "0.01").Run(); err != nil {
		t.Fatal(err)
	}
	line := pokeUntilLine(t, live, "the echo in the API stream", run(t, "/bin/echo", "--password", "hunter2", "filter-marker"),
		`"process_exec"`, "filter-marker")
	if strings.Contains(line, "hunter2") || !strings.Contains(line, `--password *****`) {
		t.Errorf("API stream: the password is not masked: %s", line)
	}
	waitFor(t, "the echo in the export file", func() bool { return strings.Contains(read(out), "filter-marker") })
	for _, l := range strings.Split(read(out), "\n") {
		switch {
		case strings.Contains(l, `"process_exec"`) && execCwd(l) != nil:
			t.Errorf("an exec event kept process.cwd, which the field filter removes: %.200s", l)
		case strings.Contains(l, "hunter2"):
			t.Errorf("the password reached the file: %.200s", l)
		case strings.Contains(l, `/sleep"`):
			t.Errorf("a denylisted sleep event was exported: %.200s", l)
		}
	}
	if !strings.Contains(read(out), `"arguments":"--password ***** filter-marker"`) {
		t.Error("the echo's exec in the file lacks its redacted arguments")
	}
}

// execCwd returns process_exec.process.cwd of a JSON line, nil without it.
func execCwd(line string) any {
	var ev struct {
		ProcessExec struct {
			Process map[string]any `json:"process"`
		} `json:"process_exec"`
	}
	if json.Unmarshal([]byte(line), &ev) != nil {
		return nil
	}
	return ev.ProcessExec.Process["cwd"]
}

// The agent delivers exported events, shaped by the export filters, to a
// real rsyslog over TLS.
func TestAgentDeliversToSyslogOverTLS(t *testing.T) {
	env := siemtest.Start(t, siemtest.Rsyslog)
	bin := build(t)
	spool := t.TempDir()
	startAgent(t, bin, "--metrics-address", "", "--sink-spool-dir", spool,
		"--sink", "syslog+tls://"+env.SyslogTLS+"?ca="+env.CA+"&app=vigil-e2e",
		"--redaction-filters", `{"redact":["--token[= ](\\S+)"]}`)
	marker := exec.Command("/bin/echo", "--token", "s3cret", "syslog-marker")
	if err := marker.Run(); err != nil {
		t.Fatal(err)
	}
	var got *siemtest.Received
	waitFor(t, "the echo's exec at rsyslog", func() bool {
		for _, rec := range env.RsyslogEvents(t) {
			if ex := rec.Event.ProcessExec; ex != nil && ex.Process.Pid == uint32(marker.Process.Pid) {
				got = &rec
				return true
			}
		}
		return false
	})
	if got.App != "vigil-e2e" || got.Event.ProcessExec.Process.Arguments != "--token ***** syslog-marker" {
		t.Errorf("at rsyslog: app %q, arguments %q", got.App, got.Event.ProcessExec.Process.Arguments)
	}
}
