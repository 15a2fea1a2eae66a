package compile

import (
	"os"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

const btfTypePolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: socket-connect-address}
spec:
  kprobes:
  - call: security_socket_connect
    syscall: false
    args:
    - {index: 1, type: uint16, btfType: %s, resolve: sin_port}
    - {index: 1, type: uint32, btfType: sockaddr_in, resolve: sin_addr.s_addr}
`

// TestBTFTypeCompiles: Tetragon's documented btfType policy compiles to
// the members' offsets in struct sockaddr_in, read at their sizes; a
// struct the kernel lacks is refused at btfType.
func TestBTFTypeCompiles(t *testing.T) {
	c, err := compileDoc(t, strings.Replace(btfTypePolicy, "%s", "sockaddr_in", 1), kernelWith(probe.Kprobe))
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Program.Funcs[0].Config
	want := []tracing.ResolveStep{{Off: 2, Load: 2}, {Off: 4, Load: 0}, {Off: 0, Load: 4}}
	got := append(cfg.Resolve[0][:cfg.NResolve[0]:cfg.NResolve[0]], cfg.Resolve[1][:cfg.NResolve[1]]...)
	if len(got) != len(want) {
		t.Fatalf("steps %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Off != want[i].Off || got[i].Load != want[i].Load {
			t.Errorf("step %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	_, err = compileDoc(t, strings.Replace(btfTypePolicy, "%s", "no_such_struct", 1), kernelWith(probe.Kprobe))
	if err == nil || !strings.Contains(err.Error(), "spec.kprobes[0].args[0].btfType: struct no_such_struct is not in the kernel's BTF") {
		t.Errorf("a struct the kernel lacks: %v", err)
	}
}

// TestBTFTypeModule: btfTypeModule finds the struct in a loaded module's
// BTF (overlay, which the kernel matrix's guests load), and names a
// module that is not loaded.
func TestBTFTypeModule(t *testing.T) {
	doc := strings.Replace(btfTypePolicy, "type: uint16, btfType: %s, resolve: sin_port}",
		"type: string, btfType: ovl_fs, btfTypeModule: %s, resolve: config.upperdir}", 1)
	_, err := compileDoc(t, strings.Replace(doc, "%s", "no_such_module", 1), kernelWith(probe.Kprobe))
	if err == nil || !strings.Contains(err.Error(), "spec.kprobes[0].args[0].btfTypeModule: the BTF of module no_such_module") {
		t.Errorf("a module not loaded: %v", err)
	}
	if _, err := os.Stat("/sys/kernel/btf/overlay"); err != nil {
		t.Skipf("no BTF of the overlay module (CONFIG_DEBUG_INFO_BTF_MODULES, module loaded): %v", err)
	}
	if _, err := compileDoc(t, strings.Replace(doc, "%s", "overlay", 1), kernelWith(probe.Kprobe)); err != nil {
		t.Errorf("struct ovl_fs of module overlay: %v", err)
	}
}
