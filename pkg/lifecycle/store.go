package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// Store keeps the loaded and disabled policies on disk, one file each
// (0600, in a 0700 folder owned by the agent), each written whole (a
// temporary file, synced, renamed in), so that a restarted agent installs
// them again, from any source, before it lets go of the programs its
// predecessor left pinned. Policies added through the API have no other
// home: they come back from here.
type Store struct {
	dir      string
	maxBytes int64
}

// stored is a policy on disk.
type stored struct {
	Name, Source, Role string
	State              State
	Mode               int
	Carried            Counts
	// Generation and HookIDs say where the kernel counts the version
	// installed (tracing.Previous.Stats)
	Generation string
	HookIDs    []uint32
	Doc        json.RawMessage
}

// OpenStore opens (or makes) the store in dir; a file there may have at
// most maxBytes (a policy's limit, and room for its state).
func OpenStore(dir string, maxBytes int64) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("policy store: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy store: %w", err)
	}
	if !st.IsDir() || st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("policy store %s: must be a folder only its owner can use (mode %v)", dir, st.Mode())
	}
	return &Store{dir: dir, maxBytes: 2*maxBytes + 4096}, nil
}

func (s *Store) file(name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:12])+".json")
}

// persist writes r as it stands; errors are logged: the kernel already
// holds the change.
func (ps *Policies) persist(r *record) {
	if ps.store == nil || r.state == StateError {
		return
	}
	doc, err := json.Marshal(r.doc)
	if err == nil {
		st := stored{Name: r.name, Source: r.source, Role: r.role, State: r.state, Mode: r.mode,
			Carried: r.carried, Doc: doc, Generation: ps.generation}
		if r.inst != nil {
			st.HookIDs = r.inst.inst.HookIDs
		}
		err = ps.store.write(st)
	}
	if err != nil {
		logrus.WithError(err).WithField("policy", r.name).Error("storing the policy: it will not come back after a restart")
	}
}

func (ps *Policies) unpersist(r *record) {
	if ps.store == nil {
		return
	}
	if err := os.Remove(ps.store.file(r.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		logrus.WithError(err).WithField("policy", r.name).Error("removing the stored policy")
	}
}

func (s *Store) write(st stored) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.file(st.Name))
	}
	return err
}

// read returns every stored policy, by name; a file that cannot be read
// is logged and left out.
func (s *Store) read() []stored {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		logrus.WithError(err).Error("reading the policy store")
		return nil
	}
	var out []stored
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := filepath.Join(s.dir, e.Name())
		var st stored
		data, err := policy.ReadFile(name, s.maxBytes)
		if err == nil {
			err = json.Unmarshal(data, &st)
		}
		if err != nil {
			logrus.WithError(err).WithField("file", name).Error("a stored policy is unreadable: left out")
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Restore installs the stored policies again, as they were (state, mode,
// counts). before gives the counts an earlier run's kernel holds for a
// stored version. Each is judged by the guardrails again; one that does
// not load is logged and listed in error.
func (ps *Policies) Restore(before func(gen string, ids []uint32) Counts) {
	if ps.store == nil {
		return
	}
	for _, st := range ps.store.read() {
		if err := ps.restore(st, before(st.Generation, st.HookIDs)); err != nil {
			LogError(st.Source, st.Name, fmt.Errorf("restoring it: %w", err))
		}
	}
}

func (ps *Policies) restore(st stored, counted Counts) error {
	docs, err := policy.Parse(st.Doc, st.Source)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := &record{name: st.Name, source: st.Source, role: st.Role, state: StateError,
		carried: Counts{Events: st.Carried.Events + counted.Events, Actions: st.Carried.Actions + counted.Actions}}
	if st.State == StateDisabled {
		r.state, r.doc = StateDisabled, docs[0]
		ps.byName[r.name] = r
		return nil
	}
	err = ps.check(docs[0], st.Source, st.Role)
	var here bool
	if err == nil {
		here, err = ps.selected(docs[0])
	}
	if err == nil && !here {
		return ps.deselect(r, docs[0], st.Role)
	}
	if err == nil {
		err = ps.install(r, docs[0], st.Role)
	}
	if err == nil && st.Mode != r.mode {
		if err = ps.hooks.SetMode(r.inst.id, st.Mode); err == nil {
			r.mode = st.Mode
		}
	}
	ps.note(r, docs[0], err)
	return err
}
