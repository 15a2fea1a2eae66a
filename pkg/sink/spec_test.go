package sink

import (
	"regexp"
	"strings"
	"testing"
)

// TestSpoolName: specs that differ in an option spool apart; the same
// spec written another way spools together; the name shows no option.
func TestSpoolName(t *testing.T) {
	name := func(spec string) string {
		t.Helper()
		n, err := SpoolName(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		return n
	}
	apart := [][2]string{
		{"splunk-hec+https://h?token=a&index=x", "splunk-hec+https://h?token=a&index=y"},
		{"syslog+tls://h?app=a", "syslog+tls://h?app=b"},
		{"webhook+https://h/p?tenant=a", "webhook+https://h/p?tenant=b"},
		{"syslog+tcp://h", "syslog+relp://h"},
		{"webhook+https://h/p", "webhook+https://h/q"},
	}
	for _, p := range apart {
		if name(p[0]) == name(p[1]) {
			t.Errorf("%s and %s share the spool %s", p[0], p[1], name(p[0]))
		}
	}
	together := [][2]string{
		{"splunk-hec+https://h?token=a&index=x", "splunk-hec+https://H:8088/?index=x&token=a"},
		{"syslog+tcp://siem.example", "syslog+tcp://siem.example:514"},
	}
	for _, p := range together {
		if name(p[0]) != name(p[1]) {
			t.Errorf("%s and %s spool apart: %s, %s", p[0], p[1], name(p[0]), name(p[1]))
		}
	}
	if n := name("splunk-hec+https://h?token=s3cr3t"); strings.Contains(n, "s3cr3t") ||
		!regexp.MustCompile(`^splunk-hec\+https_h_8088-[0-9a-f]{16}$`).MatchString(n) {
		t.Errorf("spool name %q", n)
	}
}
