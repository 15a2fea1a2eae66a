package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tetragon's names of Vigil's flags set them.
func TestTetragonFlagAliases(t *testing.T) {
	fl := agentCommand().Flags()
	if err := fl.Parse([]string{"--metrics-server", ":9999", "--export-file-max-backups", "7",
		"--k8s-kubeconfig-path", "/etc/kube.conf", "--keep-sensors-on-exit"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"metrics-address": ":9999", "export-file-rotation-max-backups": "7",
		"kubeconfig": "/etc/kube.conf", "keep-enforcement": "true"} {
		if got := fl.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
}

// --config-dir sets the flags its files name, Tetragon's names included;
// the command line wins; hidden entries are skipped; a file named for no
// flag, or with a bad value, is refused naming the file.
func TestConfigDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, value string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("metrics-server", ":7777\n")
	write("export-file-max-size-mb", "20")
	write("enable-process-cred", "true\n")
	write(".target", "warn")
	if err := os.Symlink(".target", filepath.Join(dir, "log-level")); err != nil { // as a ConfigMap volume
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("..data/gops-address", "x")

	fl := agentCommand().Flags()
	if err := fl.Parse([]string{"--export-file-max-size-mb", "30"}); err != nil {
		t.Fatal(err)
	}
	if err := readConfigDir(fl, dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"metrics-address": ":7777", "export-file-max-size-mb": "30",
		"enable-process-cred": "true", "log-level": "warn"} {
		if got := fl.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}

	for file, want := range map[string]string{"gops-address": "file gops-address: no flag of that name",
		"export-file-max-size-mb": "file export-file-max-size-mb: value:"} {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, file), []byte("not-a-number-or-flag"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := readConfigDir(agentCommand().Flags(), bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}

// --server-address takes a unix socket for Tetragon's API and refuses
// plain TCP, saying what Vigil serves there.
func TestServerAddress(t *testing.T) {
	var f agentFlags
	tf := tetragonFlags{serverAddress: "unix:///run/t.sock", debug: true}
	if err := tf.apply(&f); err != nil || f.api.TetragonSocket != "/run/t.sock" || f.logLevel != "debug" {
		t.Errorf("unix: %v %+v", err, f.api)
	}
	tf = tetragonFlags{serverAddress: "localhost:54321"}
	if err := tf.apply(&agentFlags{}); err == nil || !strings.Contains(err.Error(), "mutual TLS") {
		t.Errorf("TCP: %v", err)
	}
}
