package compile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// FuzzCompile: whatever validates compiles, or is refused with an error,
// on a kernel with every feature and on one with the least Vigil needs;
// never a panic.
func FuzzCompile(f *testing.F) {
	for _, pat := range []string{"../policy/testdata/tetragon/examples/*/*.yaml", "../../examples/policies/*.yaml"} {
		files, _ := filepath.Glob(pat)
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				f.Add(data)
			}
		}
	}
	targets := []Target{{Kernel: kernelWith(probe.Features()...)}, {Kernel: kernelWith(probe.TPBTF, probe.Tracepoint, probe.SendSignal)},
		{Kernel: kernelWith(probe.Features()...), Pods: true}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := policy.Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		for _, p := range ps {
			for _, tg := range targets {
				c, err := Compile(p, tg)
				if err == nil && len(c.Hooks) != len(c.Program.Hooks)+len(c.Program.Funcs) {
					t.Fatalf("%d hooks described for %d in the program", len(c.Hooks), len(c.Program.Hooks)+len(c.Program.Funcs))
				}
			}
		}
	})
}
