package respond

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/vigil-sec/vigil/pkg/regocaps"
)

const (
	respondQuery = "data.vigil.responses.respond"
	matchQuery   = "data.vigil.responses.match"
	rulesPackage = "data.vigil.responses"
)

// ruleset is one version of the modules, compiled and prepared once.
type ruleset struct {
	digest  [32]byte
	modules int
	query   rego.PreparedEvalQuery
	wants   prefilter
}

// readModules reads the .rego files named by paths, walking directories
// (test files, *_test.rego, are skipped).
func readModules(paths []string) (map[string]string, error) {
	mods := map[string]string{}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if path != p && (!strings.HasSuffix(path, ".rego") || strings.HasSuffix(path, "_test.rego")) {
				return nil
			}
			b, err := os.ReadFile(path)
			mods[path] = string(b)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return mods, nil
}

// digest identifies a version of the modules.
func digest(mods map[string]string) [32]byte {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(mods[name]), mods[name])
	}
	return [32]byte(h.Sum(nil))
}

// compile parses, checks and compiles mods, prepares the respond query
// and evaluates match. Errors name the file and line.
func compile(mods map[string]string) (*ruleset, error) {
	parsed := make(map[string]*ast.Module, len(mods))
	for name, src := range mods {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, err
		}
		if err := checkModule(name, m); err != nil {
			return nil, err
		}
		parsed[name] = m
	}
	c := ast.NewCompiler().WithCapabilities(regocaps.Capabilities())
	if c.Compile(parsed); c.Failed() {
		return nil, c.Errors
	}
	ctx := context.Background()
	q, err := rego.New(rego.Compiler(c), rego.Query(respondQuery)).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	wants, err := evalMatch(ctx, c)
	if err != nil {
		return nil, err
	}
	return &ruleset{digest: digest(mods), modules: len(mods), query: q, wants: wants}, nil
}

// checkModule requires a module of package vigil.responses that defines
// respond to define match too, and match not to read input.
func checkModule(name string, m *ast.Module) error {
	if m.Package.Path.String() != rulesPackage {
		return nil
	}
	var respond, match bool
	for _, r := range m.Rules {
		switch r.Head.Ref()[0].String() {
		case "respond":
			respond = true
		case "match":
			match = true
			if loc := readsInput(r); loc != nil {
				return fmt.Errorf("%s:%d: match is evaluated once at load and may not read input", name, loc.Row)
			}
		}
	}
	if respond && !match {
		return fmt.Errorf("%s:%d: the module defines respond but no match: say which alerts it wants, "+
			`e.g. match contains {"type": "process_kprobe", "policy": "NAME"}`, name, m.Package.Location.Row)
	}
	return nil
}

func readsInput(r *ast.Rule) *ast.Location {
	var loc *ast.Location
	ast.WalkRefs(r, func(ref ast.Ref) bool {
		if loc == nil && ref[0].Equal(ast.InputRootDocument) {
			loc = ref[0].Location
			if loc == nil {
				loc = r.Location
			}
		}
		return false
	})
	return loc
}
