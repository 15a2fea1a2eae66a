package process

import (
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for _, argv := range [][]string{
		nil, {"-c", "deploy --password hunter2"}, {"--password", "my secret phrase"}, {"", "a\"b", `c\d`, "x\ty"},
		{"plain", "-p=1"},
	} {
		s := JoinArgs(argv)
		if got := SplitArgs(s); !slices.Equal(got, argv) {
			t.Errorf("%q: joined %q, split %q", argv, s, got)
		}
	}
	for s, want := range map[string][]string{
		`a "b c`:  {"a", "b c"}, // cut short
		`a\b  c`:  {`a\b`, "c"},
		`"x\"y" `: {`x"y`},
	} {
		if got := SplitArgs(s); !slices.Equal(got, want) {
			t.Errorf("%q: split %q, want %q", s, got, want)
		}
	}
}
