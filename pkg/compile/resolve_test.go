package compile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// compileArg compiles a hook on function with one argument of type typ
// resolved through members, on a kernel with kprobes or BPF LSM.
func compileArg(t *testing.T, hook, typ, members string) (*Compiled, error) {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolve}
spec:
  %s
    args: [{index: 0, type: %s, resolve: %q}]
`, hook, typ, members)
	ps, err := policy.Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe, probe.LSM)})
}

func loads(c *Compiled) []uint8 {
	cfg := c.Program.Funcs[0].Config
	var out []uint8
	for _, s := range cfg.Resolve[0][:cfg.NResolve[0]] {
		out = append(out, s.Load)
	}
	return out
}

// TestResolvePathsFromBTF: pointers on the way are loaded, embedded
// structs and arrays are not, and the last member is read as the declared
// type says.
func TestResolvePathsFromBTF(t *testing.T) {
	kprobe := "kprobes:\n  - call: security_bprm_check\n    syscall: false"
	for _, tc := range []struct {
		hook, typ, members string
		want               []uint8
	}{
		// file is a pointer, f_path embedded, dentry a pointer, d_name
		// embedded, name a char pointer
		{kprobe, "string", "file.f_path.dentry.d_name.name", []uint8{8, 0, 8, 0, 8}},
		{kprobe, "path", "file.f_path", []uint8{8, 0}},
		{kprobe, "file", "file", []uint8{8}},
		{kprobe, "uint32", "file.f_flags", []uint8{8, 4}},
		// Tetragon's lsm_track_grandparent.yml: comm is an array
		{"lsmhooks:\n  - hook: bprm_check_security", "string", "mm.owner.real_parent.real_parent.comm", []uint8{8, 8, 8, 8, 0}},
	} {
		c, err := compileArg(t, tc.hook, tc.typ, tc.members)
		if err != nil {
			t.Errorf("%s: %v", tc.members, err)
			continue
		}
		if got := loads(c); !slices.Equal(got, tc.want) {
			t.Errorf("%s: loads %v, want %v", tc.members, got, tc.want)
		}
	}
}

func TestResolveRefusals(t *testing.T) {
	kprobe := "kprobes:\n  - call: security_bprm_check\n    syscall: false"
	for _, tc := range []struct{ hook, typ, members, want string }{
		{kprobe, "string", "file.f_pathx", `struct file has no member "f_pathx"`},
		{kprobe, "int", "file.f_path", "the last member is struct path, which type int cannot read"},
		{kprobe, "string", "file.f_flags.x", "f_flags: int unsigned int is neither a pointer nor a struct"},
		{"kprobes:\n  - call: sys_openat", "string", "x", "resolve follows members of kernel objects"},
	} {
		_, err := compileArg(t, tc.hook, tc.typ, tc.members)
		var u *UnsupportedError
		if !errors.As(err, &u) || u.Path != "spec.kprobes[0].args[0].resolve" || !strings.Contains(u.Reason, tc.want) {
			t.Errorf("%s: got %v, want an error at spec.kprobes[0].args[0].resolve containing %q", tc.members, err, tc.want)
		}
	}
}
