package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// tetragonAliases are Tetragon's agent flags whose meaning Vigil's flags
// have under another name: either name sets the same flag.
var tetragonAliases = map[string]string{
	"metrics-server":          "metrics-address",
	"export-file-max-backups": "export-file-rotation-max-backups",
	"k8s-kubeconfig-path":     "kubeconfig",
	"keep-sensors-on-exit":    "keep-enforcement",
}

// aliasNames makes Tetragon's names of tetragonAliases name Vigil's flags.
func aliasNames(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if vigil, ok := tetragonAliases[name]; ok {
		return pflag.NormalizedName(vigil)
	}
	return pflag.NormalizedName(name)
}

// tetragonFlags are Tetragon's flags that map onto Vigil's with a check:
// --server-address (a unix socket: Tetragon's API there; Vigil serves TCP
// only with mutual TLS) and --debug (--log-level debug).
type tetragonFlags struct {
	serverAddress string
	debug         bool
	configDir     string
}

func (t *tetragonFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&t.serverAddress, "server-address", "", "Tetragon's flag: unix://PATH serves Tetragon's API there, as --tetragon-api-socket PATH (TCP needs --api-tcp-address and mutual TLS)")
	fl.BoolVar(&t.debug, "debug", false, "Tetragon's flag: --log-level debug")
	fl.StringVar(&t.configDir, "config-dir", "", "a folder of flags, as Tetragon's tetragon.conf.d: each file is named for a flag and holds its value; the command line wins")
	fl.SetNormalizeFunc(aliasNames)
}

// apply turns the Tetragon flags into Vigil's, into f.
func (t *tetragonFlags) apply(f *agentFlags) error {
	if t.debug {
		f.logLevel = "debug"
	}
	if t.serverAddress == "" {
		return nil
	}
	path, ok := strings.CutPrefix(t.serverAddress, "unix://")
	if !ok || path == "" {
		return fmt.Errorf("--server-address %q: Vigil serves Tetragon's API on unix://PATH; over TCP only with mutual TLS (--api-tcp-address, --api-tls-cert, --api-tls-key, --api-tls-client-ca)", t.serverAddress)
	}
	if f.api.TetragonSocket != "" && f.api.TetragonSocket != path {
		return fmt.Errorf("--server-address %q and --tetragon-api-socket %q: give one", t.serverAddress, f.api.TetragonSocket)
	}
	f.api.TetragonSocket = path
	return nil
}

// Bounds of --config-dir.
const (
	configFilesMax = 256
	configFileMax  = 1 << 20
)

// readConfigDir sets each flag of fl that dir names by a file and the
// command line left unset, to the file's content without surrounding
// space. Hidden names (a ConfigMap volume's ..data) are skipped; files are
// followed through symbolic links, as such a volume makes them. A file
// named for no flag is refused, not ignored.
func readConfigDir(fl *pflag.FlagSet, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--config-dir: %w", err)
	}
	if len(entries) > configFilesMax {
		return fmt.Errorf("--config-dir %s: %d files, more than the %d a folder of flags may have", dir, len(entries), configFilesMax)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := configFile(fl, dir, name); err != nil {
			return fmt.Errorf("--config-dir %s: file %s: %w", dir, name, err)
		}
	}
	return nil
}

func configFile(fl *pflag.FlagSet, dir, name string) error {
	path := filepath.Join(dir, name)
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("a folder: want a file holding the flag's value")
	}
	flag := fl.Lookup(name)
	if flag == nil {
		return errors.New("no flag of that name (vigil agent --help lists them; Tetragon's that Vigil lacks are refused, not ignored)")
	}
	if flag.Changed {
		return nil // the command line wins
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, configFileMax+1))
	if err != nil {
		return err
	}
	if len(b) > configFileMax {
		return fmt.Errorf("more than %d bytes", configFileMax)
	}
	if err := fl.Set(name, strings.TrimSpace(string(b))); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	return nil
}
