package agent

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// policyFiles loads policies from files and a directory, and reloads a file
// whenever its content changes.
type policyFiles struct {
	files  []string
	dir    string
	ps     *policies
	hashes map[string][32]byte
}

// list is the files to load: those named, and *.yaml/*.yml in dir.
func (f *policyFiles) list() []string {
	out := append([]string(nil), f.files...)
	if f.dir != "" {
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(f.dir, pat))
			out = append(out, m...)
		}
	}
	sort.Strings(out)
	return out
}

// sync loads what changed since the last call.
func (f *policyFiles) sync() {
	seen := map[string]bool{}
	for _, name := range f.list() {
		seen[name] = true
		data, err := os.ReadFile(name)
		if err != nil {
			logrus.WithField("source", name).WithError(err).Error("reading policy file")
			continue
		}
		sum := sha256.Sum256(data)
		if old, ok := f.hashes[name]; ok && old == sum {
			continue
		}
		f.hashes[name] = sum
		docs, err := policy.Parse(data, name)
		if err != nil {
			// keep what this file loaded before: an edit in progress must
			// not drop enforcement
			logrus.WithField("source", name).WithError(err).Error("policy file rejected")
			continue
		}
		f.ps.syncSource(name, docs)
	}
	for name := range f.hashes {
		if !seen[name] {
			delete(f.hashes, name)
			f.ps.syncSource(name, nil)
		}
	}
}

// watch reloads changed files every interval until stop closes.
func (f *policyFiles) watch(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f.sync()
		}
	}
}
