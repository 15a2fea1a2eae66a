package sink

import (
	"regexp"
	"strings"
	"testing"
)

var safeName = regexp.MustCompile(`^[A-Za-z0-9+-][A-Za-z0-9._+-]*-[0-9a-f]{16}$`)

// FuzzSinkSpec: ParseSpec and SpoolName take any spec without panicking
// or blocking; a spec ParseSpec takes has a spool name, the same each
// time, safe as a file name; no error shows a token.
func FuzzSinkSpec(f *testing.F) {
	for _, s := range []string{
		"syslog+tcp://siem.example", "syslog+tls://[::1]:7000?severity=3&server_name=a",
		"syslog+relp://127.0.0.1:2514?app=vigil&facility=auth", "splunk-hec+https://h?token=s3cr3t&index=main",
		"webhook+https://h/p?header=A:b&tenant=a", "syslog+tls://h?ca=/dev/zero", "syslog+tls://h?ca=/dev/stdin",
		"syslog+tls://h?cert=/proc/self/mem&key=/proc/self/mem", "splunk-hec+https://h:x?token=s3cr3t",
		"syslog+tcp://h:99999999999999999999", "syslog+tcp://%zz", "token=REDACTED&token=s3cr3t0", "syslog+relp://h/../../etc?app=%00",
		"webhook+http://h/" + strings.Repeat("a", 5000), "webhook+http://" + strings.Repeat("h", 1000) + "/p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tr, err := ParseSpec(spec, "node")
		if err != nil {
			// the spec's other text may spell s3cr3t too ("s3cr3token=..."):
			// the error may show those, never the token's value
			rest := strings.Count(strings.ReplaceAll(spec, "token=s3cr3t", "token="), "s3cr3t")
			if strings.Contains(spec, "token=s3cr3t") && strings.Count(err.Error(), "s3cr3t") > rest {
				t.Fatalf("error shows the token: %v", err)
			}
			return
		}
		defer tr.Close()
		name, err := SpoolName(spec)
		if err != nil {
			t.Fatalf("ParseSpec took %q, SpoolName did not: %v", spec, err)
		}
		again, _ := SpoolName(spec)
		if name != again || len(name) > 255 || !safeName.MatchString(name) {
			t.Fatalf("spool name %q (then %q) of %q", name, again, spec)
		}
	})
}
