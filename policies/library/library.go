// Package library is Vigil's detection library: TracingPolicies in
// Tetragon's format, each mapped to MITRE ATT&CK techniques by the tags of
// its hooks, observing by default. The files are embedded so that the
// simulator (vigil simulate) knows each policy's tags.
package library

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"

	"github.com/vigil-sec/vigil/pkg/policy"
)

//go:embed *.yaml
var files embed.FS

// Policies parses every policy of the library.
func Policies() ([]policy.Policy, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []policy.Policy
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		docs, err := policy.Parse(data, "policies/library/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// Tags maps each policy's name to the tags of each of its hooks.
func Tags(pols []policy.Policy) map[string][][]string {
	out := map[string][][]string{}
	for _, p := range pols {
		for _, h := range hooks(p) {
			out[p.GetName()] = append(out[p.GetName()], h.tags)
		}
	}
	return out
}

// Check says what a library policy lacks: every hook needs a message and
// an ATT&CK technique id among its tags.
func Check(p policy.Policy) error {
	hs := hooks(p)
	if len(hs) == 0 {
		return fmt.Errorf("%s: no hooks", p.GetName())
	}
	for _, h := range hs {
		if h.message == "" || !slices.ContainsFunc(h.tags, techniqueID.MatchString) {
			return fmt.Errorf("%s: %s: want a message and an ATT&CK technique id (T1234 or T1234.001) among the tags, have %q %q",
				p.GetName(), h.path, h.message, h.tags)
		}
	}
	return nil
}

// techniqueID is an ATT&CK technique or sub-technique id.
var techniqueID = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// hook is one hook of a policy: its YAML path, message and tags.
type hook struct {
	path, message string
	tags          []string
}

func hooks(p policy.Policy) []hook {
	s := p.GetSpec()
	var out []hook
	for i, h := range s.KProbes {
		out = append(out, hook{fmt.Sprintf("spec.kprobes[%d]", i), h.Message, h.Tags})
	}
	for i, h := range s.LsmHooks {
		out = append(out, hook{fmt.Sprintf("spec.lsmhooks[%d]", i), h.Message, h.Tags})
	}
	for i, h := range s.Tracepoints {
		out = append(out, hook{fmt.Sprintf("spec.tracepoints[%d]", i), h.Message, h.Tags})
	}
	return out
}
