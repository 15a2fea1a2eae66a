package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/regocaps"
)

// Query is the document guardrails add their deny messages to.
const Query = "data.vigil.guardrails.deny"

// evalTimeout bounds one evaluation; a guardrail that runs longer refuses
// the policy.
const evalTimeout = 5 * time.Second

// Guard checks policies against guardrails. It is safe for concurrent use;
// Set replaces its guardrails atomically. The zero Guard has none.
type Guard struct {
	current atomic.Pointer[prepared] // nil: no guardrails

	mu    sync.Mutex
	stats Stats
}

var _ agent.Guard = (*Guard)(nil)

// prepared is one set of compiled guardrails.
type prepared struct {
	query   rego.PreparedEvalQuery
	modules []string
}

// Stats counts evaluations of guardrails since the Guard was made.
type Stats struct {
	Evaluations uint64        // Check calls that evaluated guardrails
	Denied      uint64        // of which refused by deny messages
	Errors      uint64        // of which failed to evaluate
	Total       time.Duration // time spent evaluating
	Last        time.Duration // time the last evaluation took
}

// Load returns a Guard with the guardrails of paths: .rego files, or
// directories whose .rego files (not those of subdirectories) are read.
func Load(paths ...string) (*Guard, error) {
	modules, err := ReadFiles(paths...)
	if err != nil {
		return nil, err
	}
	g := &Guard{}
	if err := g.Set(modules); err != nil {
		return nil, err
	}
	return g, nil
}

// ReadFiles reads the modules of paths, as Load, keyed by file path.
func ReadFiles(paths ...string) (map[string]string, error) {
	modules := map[string]string{}
	for _, p := range paths {
		files, err := regoFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			modules[f] = string(b)
		}
	}
	return modules, nil
}

func regoFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.rego"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: no .rego files", path)
	}
	return files, err
}

// Set compiles modules (file name to Rego source, as in a ConfigMap) and,
// when they compile, makes them the guardrails of later Checks. On error
// the guardrails in place stay. No modules: every policy is allowed.
func (g *Guard) Set(modules map[string]string) error {
	p, err := prepare(modules)
	if err != nil {
		return err
	}
	g.current.Store(p)
	return nil
}

// Modules returns the file names of the guardrails in place, sorted.
func (g *Guard) Modules() []string {
	if p := g.current.Load(); p != nil {
		return append([]string(nil), p.modules...)
	}
	return nil
}

// prepare parses and compiles modules and prepares Query; nil when there
// are no modules. Errors name the file and line of each mistake.
func prepare(modules map[string]string) (*prepared, error) {
	if len(modules) == 0 {
		return nil, nil
	}
	parsed, err := parse(modules)
	if err != nil {
		return nil, err
	}
	c := ast.NewCompiler().WithCapabilities(regocaps.Capabilities())
	if c.Compile(parsed); c.Failed() {
		return nil, locatedErrors(c.Errors)
	}
	if len(c.GetRulesForVirtualDocument(ast.MustParseRef(Query))) == 0 {
		return nil, fmt.Errorf("no rule defines %s: guardrails are in package vigil.guardrails and add messages with `deny contains msg if { ... }`", Query)
	}
	q, err := rego.New(rego.Query(Query), rego.Compiler(c)).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	p := &prepared{query: q}
	for name := range modules {
		p.modules = append(p.modules, name)
	}
	sort.Strings(p.modules)
	return p, nil
}

func parse(modules map[string]string) (map[string]*ast.Module, error) {
	parsed := map[string]*ast.Module{}
	var errs []error
	for name, src := range modules {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		switch {
		case err != nil:
			errs = append(errs, locatedErrors(err))
		case m == nil:
			errs = append(errs, fmt.Errorf("%s: empty module", name))
		default:
			parsed[name] = m
		}
	}
	sortErrors(errs)
	return parsed, errors.Join(errs...)
}

// locatedErrors splits OPA's errors, each "file:line: code: message".
func locatedErrors(err error) error {
	var list ast.Errors
	if !errors.As(err, &list) {
		return err
	}
	errs := make([]error, len(list))
	for i, e := range list {
		errs[i] = e
	}
	sortErrors(errs)
	return errors.Join(errs...)
}

func sortErrors(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
}

// Check evaluates the guardrails for l: nil when they allow it, an
// *agent.GuardError with their messages when they deny it, another error
// when they could not be evaluated.
func (g *Guard) Check(l agent.Load) error {
	p := g.current.Load()
	if p == nil {
		return nil
	}
	in, err := inputValue(l)
	if err != nil {
		return fmt.Errorf("guardrails: input: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	start := time.Now()
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(in))
	took := time.Since(start)
	var reasons []string
	if err == nil {
		reasons, err = denials(rs)
	}
	g.record(took, len(reasons) > 0, err != nil)
	if err != nil {
		return fmt.Errorf("guardrails: %w", err)
	}
	if len(reasons) > 0 {
		return &agent.GuardError{Reasons: reasons}
	}
	return nil
}

func inputValue(l agent.Load) (ast.Value, error) {
	b, err := Input(l)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(bytes.NewReader(b))
}

// denials returns the messages of Query's value, sorted.
func denials(rs rego.ResultSet) ([]string, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil // no guardrail defines deny for this input
	}
	v := rs[0].Expressions[0].Value
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want a set of strings", Query, v)
	}
	reasons := make([]string, 0, len(items))
	for _, it := range items {
		reasons = append(reasons, message(it))
	}
	sort.Strings(reasons)
	return reasons, nil
}

// message is a deny entry as text: a string as is, anything else as JSON.
func message(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (g *Guard) record(took time.Duration, denied, failed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stats.Evaluations++
	g.stats.Total += took
	g.stats.Last = took
	if denied {
		g.stats.Denied++
	}
	if failed {
		g.stats.Errors++
	}
}

// Stats returns the evaluation counts and times so far.
func (g *Guard) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}
