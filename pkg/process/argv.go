package process

import "strings"

// JoinArgs renders arguments (argv without argv[0]) as Tetragon's
// "arguments" string, as formatArgs does.
func JoinArgs(args []string) string {
	return formatArgs(append([]string{""}, args...))
}

// SplitArgs is the inverse of JoinArgs: it returns the arguments an
// "arguments" string holds. A string JoinArgs did not make is split all the
// same: a quote left open runs to the end, a backslash outside quotes is
// itself.
func SplitArgs(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var arg string
		arg, i = nextArg(s, i)
		out = append(out, arg)
	}
	return out
}

// nextArg reads the argument at s[i:], and returns it and where it ends.
func nextArg(s string, i int) (string, int) {
	if s[i] != '"' {
		end := strings.IndexByte(s[i:], ' ')
		if end < 0 {
			return s[i:], len(s)
		}
		return s[i : i+end], i + end
	}
	var b strings.Builder
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), i + 1
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), i
}
