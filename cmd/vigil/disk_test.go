package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/disktest"
	"github.com/vigil-sec/vigil/pkg/event"
)

// lostExport returns the count of the export_write_failed lost_events
// records in an export file.
func lostExport(lines string) (n uint64) {
	sc := bufio.NewScanner(strings.NewReader(lines))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev event.Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.LostEvents != nil && ev.LostEvents.Reason == event.LostExportWrite {
			n += ev.LostEvents.Count
		}
	}
	return n
}

// The export file's disk fills up: the agent keeps running, and once there
// is room again the file says how many events it lost.
func TestAgentSurvivesFullExportDisk(t *testing.T) {
	bin := build(t)
	disk := disktest.Small(t, 64<<10)
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(disk, "events.json")
	agent := exec.Command(bin, "agent", "--node-name", "e2e", "--export-filename", out,
		"--api-socket", "", "--metrics-address", "")
	var stderr strings.Builder
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer agent.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	storm := func() {
		if err := exec.Command("/bin/sh", "-c", "for i in $(seq 200); do /bin/true; done").Run(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the export file to fill its disk", func() bool {
		storm()
		return strings.Contains(stderr.String(), "no space left on device")
	})
	select {
	case err := <-exited:
		t.Fatalf("the agent exited on a full disk: %v\n%s", err, stderr.String())
	default:
	}
	os.Remove(filler)
	// a few events at a time: a storm would fill the freed room before
	// the writer's next try (its backoff reaches 10 s)
	for deadline := time.Now().Add(45 * time.Second); lostExport(read(out)) == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no lost_events record in the export file 45 s after the disk had room again\n%s", stderr.String())
		}
		_ = exec.Command("/bin/true").Run()
	}
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	t.Logf("events lost while the disk was full: %d", lostExport(read(out)))
}
