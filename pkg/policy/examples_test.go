package policy

import (
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
)

func TestExamplesCompile(t *testing.T) {
	kernel := probe.Run()
	files, _ := filepath.Glob("../../examples/policies/*.yaml")
	for _, f := range files {
		ps, err := ParseFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, p := range ps {
			if _, err := Compile(p, Target{Kernel: kernel}); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
	if len(files) < 5 {
		t.Errorf("want at least 5 example policies, found %d", len(files))
	}
}
