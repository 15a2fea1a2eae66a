package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
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
