package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedPolicies adds Tetragon's example policies, Vigil's, the malformed
// specs and an alias bomb to f's corpus.
func seedPolicies(f *testing.F, root string) {
	for _, pat := range []string{"testdata/tetragon/examples/*/*.yaml", "../../examples/policies/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join(root, pat))
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				f.Add(data)
			}
		}
	}
	for _, c := range specCases {
		f.Add([]byte(header + c.spec))
	}
	f.Add([]byte(aliasBomb(20)))
}

// FuzzParse: any bytes parse to policies or to errors that name where
// (never a panic), and what parses is classified by the field table.
func FuzzParse(f *testing.F) {
	seedPolicies(f, ".")
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("an error without its source: %v", err)
			}
			return
		}
		for _, p := range ps {
			_ = Refusals(p.GetSpec())
			_ = Enforces(p)
		}
	})
}
