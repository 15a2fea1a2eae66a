package agent

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/lifecycle"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// policyFiles loads policies from files and a directory, and reloads a file
// whenever its content changes. A file is read only when it is a regular
// file of at most maxBytes, and a changed file is loaded only once it has
// stopped changing (the same content for settle, or not modified for
// settle) and parses whole: an editor's half-written file keeps the
// version loaded before.
type policyFiles struct {
	files    []string
	dir      string
	ps       *lifecycle.Policies
	maxBytes int64
	settle   time.Duration

	hashes  map[string][32]byte // loaded content, by file
	pending map[string]seenAt   // changed content waiting to settle, by file
	errs    map[string]string   // the last problem logged, by file
}

// seenAt is a file's content and when it was first read.
type seenAt struct {
	sum  [32]byte
	when time.Time
}

func newPolicyFiles(files []string, dir string, ps *lifecycle.Policies, maxBytes int64, settle time.Duration) *policyFiles {
	return &policyFiles{files: files, dir: dir, ps: ps, maxBytes: maxBytes, settle: settle,
		hashes: map[string][32]byte{}, pending: map[string]seenAt{}, errs: map[string]string{}}
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

// initial loads the files at start: one that was being written waits to
// settle once, then is left to the watcher.
func (f *policyFiles) initial() {
	f.sync()
	if len(f.pending) > 0 {
		time.Sleep(f.settle)
		f.sync()
	}
	f.prune()
}

// prune removes the policies restored from files that are no longer
// listed (deleted, or no longer named) while the agent was down.
func (f *policyFiles) prune() {
	listed := map[string]bool{}
	for _, name := range f.list() {
		listed[name] = true
	}
	for _, src := range f.ps.Sources() {
		if src != SourceAPI && !strings.HasPrefix(src, "crd:") && !listed[src] {
			f.ps.SyncSource(src, nil)
		}
	}
}

// sync loads what changed, and settled, since the last call.
func (f *policyFiles) sync() {
	seen := map[string]bool{}
	now := time.Now()
	for _, name := range f.list() {
		seen[name] = true
		if docs, ok := f.changed(name, now); ok {
			f.ps.SyncSource(name, docs)
		}
	}
	for name := range f.hashes {
		if !seen[name] {
			delete(f.hashes, name)
			f.ps.SyncSource(name, nil)
		}
	}
	for name := range f.pending {
		if !seen[name] {
			delete(f.pending, name)
			delete(f.errs, name)
		}
	}
}

// changed reads name and returns its policies when they changed, have
// settled and parse.
func (f *policyFiles) changed(name string, now time.Time) ([]policy.Policy, bool) {
	data, mtime, err := f.read(name)
	if err != nil {
		f.problem(name, "policy file not read", err)
		return nil, false
	}
	sum := sha256.Sum256(data)
	if old, ok := f.hashes[name]; ok && old == sum {
		delete(f.pending, name)
		return nil, false
	}
	p, ok := f.pending[name]
	if !ok || p.sum != sum {
		p = seenAt{sum: sum, when: now}
		f.pending[name] = p
	}
	if now.Sub(p.when) < f.settle && now.Sub(mtime) < f.settle {
		return nil, false // still being written, perhaps
	}
	docs, err := policy.Parse(data, name)
	if err != nil {
		// keep what this file loaded before: an edit in progress must
		// not drop enforcement
		f.problem(name, "policy file rejected", err)
		return nil, false
	}
	delete(f.pending, name)
	delete(f.errs, name)
	f.hashes[name] = sum
	return docs, true
}

func (f *policyFiles) read(name string) ([]byte, time.Time, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	data, err := policy.ReadFile(name, f.maxBytes)
	return data, st.ModTime(), err
}

// problem logs why a file is not loaded, once until the reason changes.
func (f *policyFiles) problem(name, msg string, err error) {
	if f.errs[name] == err.Error() {
		return
	}
	f.errs[name] = err.Error()
	logrus.WithField("source", name).WithError(err).Error(msg)
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
