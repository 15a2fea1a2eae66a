package policy

import (
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusDir holds Tetragon's example policies, copied unchanged from
// ../shared/compat/tetragon (see its SOURCE.md).
const corpusDir = "testdata/tetragon/examples"

// corpusRejections are the corpus files that must be rejected, with the
// exact errors. Every other file must parse and validate.
var corpusRejections = map[string]string{
	"quickstart/docker-compose.yaml": `testdata/tetragon/examples/quickstart/docker-compose.yaml:1: not a TracingPolicy: the document has no apiVersion and no kind`,
	"policylibrary/egress.yaml": `testdata/tetragon/examples/policylibrary/egress.yaml:18: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: unexpanded template variable ${PODCIDR}: substitute it before loading the policy
testdata/tetragon/examples/policylibrary/egress.yaml:19: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: unexpanded template variable ${SERVICECIDR}: substitute it before loading the policy`,
	"quickstart/file_monitoring_enforce.yaml": `testdata/tetragon/examples/quickstart/file_monitoring_enforce.yaml:3: metadata.namespace: required for kind TracingPolicyNamespaced (outside a cluster there is no current namespace to default to)`,
	"quickstart/network_egress_cluster.yaml": `testdata/tetragon/examples/quickstart/network_egress_cluster.yaml:27: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: unexpanded template variable ${PODCIDR}: substitute it before loading the policy
testdata/tetragon/examples/quickstart/network_egress_cluster.yaml:28: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: unexpanded template variable ${SERVICECIDR}: substitute it before loading the policy`,
	"quickstart/network_egress_cluster_enforce.yaml": `testdata/tetragon/examples/quickstart/network_egress_cluster_enforce.yaml:3: metadata.namespace: required for kind TracingPolicyNamespaced (outside a cluster there is no current namespace to default to)
testdata/tetragon/examples/quickstart/network_egress_cluster_enforce.yaml:18: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: unexpanded template variable ${PODCIDR}: substitute it before loading the policy
testdata/tetragon/examples/quickstart/network_egress_cluster_enforce.yaml:19: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: unexpanded template variable ${SERVICECIDR}: substitute it before loading the policy`,
}

// rejectionReasons names the explained reasons for rejecting a file.
var rejectionReasons = []struct{ marker, reason string }{
	{"not a TracingPolicy", "not a policy document"},
	{"required for kind TracingPolicyNamespaced", "namespaced policy without namespace"},
	{"unexpanded template variable", "unexpanded template variable"},
}

func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCorpus parses every Tetragon example: each must load, or be one of
// corpusRejections, rejected with exactly the expected explanation.
func TestCorpus(t *testing.T) {
	counts := map[string]int{}
	for _, file := range corpusFiles(t, corpusDir) {
		rel, _ := filepath.Rel(corpusDir, file)
		policies, err := parseNoPanic(t, file)
		want, rejected := corpusRejections[filepath.ToSlash(rel)]
		switch {
		case err == nil && !rejected:
			counts["parsed"] += len(policies)
		case err == nil:
			t.Errorf("%s: parsed, want rejection:\n%s", rel, want)
		case !rejected:
			t.Errorf("%s: unexplained rejection:\n%v", rel, err)
		case err.Error() != want:
			t.Errorf("%s: got\n%v\nwant\n%s", rel, err, want)
		default:
			counts["rejected: "+strings.Join(reasons(err.Error()), " + ")]++
		}
	}
	for _, outcome := range slices.Sorted(maps.Keys(counts)) {
		t.Logf("%-75s %d", outcome, counts[outcome])
	}
	if counts["parsed"] != 78 {
		t.Errorf("%d corpus documents parsed, want 78", counts["parsed"])
	}
}

func parseNoPanic(t *testing.T, file string) (policies []Policy, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: panic: %v", file, r)
		}
	}()
	return ParseFile(file)
}

// reasons lists the explained reasons found in an error text.
func reasons(errText string) []string {
	var found []string
	for _, r := range rejectionReasons {
		if strings.Contains(errText, r.marker) {
			found = append(found, r.reason)
		}
	}
	return found
}
