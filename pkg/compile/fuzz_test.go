package compile

import (
	"os"
	"path/filepath"
	"slices"
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
	// the machine's functions, read once: reading them for each input
	// (a hundred thousand lines) made the seed corpus alone outlast the
	// fuzzing time
	all, err := kernelFunctions(func(string) bool { return true })
	if err != nil {
		f.Fatal(err)
	}
	functions := func(keep func(string) bool) ([]string, error) {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return !keep(n) }), nil
	}
	targets := []Target{{Kernel: kernelWith(probe.Features()...), Functions: functions},
		{Kernel: kernelWith(probe.TPBTF, probe.Tracepoint, probe.SendSignal), Functions: functions},
		{Kernel: kernelWith(probe.Features()...), Pods: true, Functions: functions}}
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
