package process

import "strings"

// formatArgs renders argv after argv[0] as one string, Tetragon's
// "arguments": arguments are separated by one space, and an argument that is
// empty or holds whitespace, a double quote or a backslash is put in double
// quotes with '"' and '\' escaped, so the string maps back to argv exactly.
func formatArgs(argv []string) string {
	if len(argv) < 2 {
		return ""
	}
	var b strings.Builder
	for i, a := range argv[1:] {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\n\r\v\f\"\\") {
			b.WriteString(a)
			continue
		}
		b.WriteByte('"')
		for _, c := range []byte(a) {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	}
	return b.String()
}
