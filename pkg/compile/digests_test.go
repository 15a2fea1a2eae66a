package compile

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/buildid"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// TestBinaryDigestsCompile: build IDs are digests too; the hooks of a
// checked binary name its file; malformed digests are refused with
// their path.
func TestBinaryDigestsCompile(t *testing.T) {
	const bin = "/bin/true"
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	id, err := buildid.Read(f)
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	doc := func(digest string) string {
		return fmt.Sprintf("apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: d}\nspec:\n"+
			"  uprobes:\n  - path: %s\n    offsets: [0]\n    binaryDigests: [%q]\n", bin, digest)
	}
	compile := func(digest string) (*Compiled, error) {
		ps, err := policy.Parse([]byte(doc(digest)), "d.yaml")
		if err != nil {
			return nil, err
		}
		return Compile(ps[0], Target{Kernel: probe.Run()})
	}
	c, err := compile("build-id:" + hex.EncodeToString(id))
	if err != nil {
		t.Fatalf("the binary's own build ID: %v", err)
	}
	if fh := c.Program.Funcs[0]; fh.File.Ino == 0 {
		t.Errorf("the hook does not name the checked file: %+v", fh.File)
	}
	for digest, want := range map[string]string{
		"build-id:" + strings.Repeat("0", len(id)*2): "spec.uprobes[0].binaryDigests: /bin/true matches none of them (its build-id is " + hex.EncodeToString(id),
		"md5:00":                          `spec.uprobes[0].binaryDigests[0]: "md5:00": want <type>:<hex digest>`,
		"sha256:abcd":                     `a sha256 digest has 64 hex digits, not 4`,
		"sha1:" + strings.Repeat("g", 40): `the digest is not hexadecimal bytes`,
	} {
		if _, err := compile(digest); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", digest, err, want)
		}
	}
}
