package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get returns the status code and body of an HTTP GET.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The agent answers its probes beside the metrics, and says its version
// on the command line and in its status alike.
func TestHealthEndpointsAndVersion(t *testing.T) {
	bin := build(t)
	addr := freePort(t)
	r := startAgent(t, bin, "--metrics-address", addr)
	code, body := get(t, "http://"+addr+"/readyz")
	for deadline := time.Now().Add(30 * time.Second); code != http.StatusOK && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		code, body = get(t, "http://"+addr+"/readyz")
	}
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz: %d %q, want 200 ok", code, body)
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 ok", code, body)
	}

	out, err := vigilCmd(bin, "version")
	fields := strings.Fields(out)
	if err != nil || len(fields) < 3 || fields[0] != "vigil" || !strings.HasPrefix(fields[2], "(go") {
		t.Fatalf("vigil version: %v %q, want \"vigil VERSION (goX, os/arch)\"", err, out)
	}
	status, err := vigilCmd(bin, "status", "--server", r.readOnly)
	if err != nil || !strings.Contains(status, "vigil "+fields[1]+",") {
		t.Errorf("status: %v %q, want the version %s", err, status, fields[1])
	}
}
