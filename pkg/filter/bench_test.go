package filter

import (
	"encoding/json"
	"io"
	"testing"
	"time"
)

// typical is an allowlist and redaction as a cluster would set them.
var typical = Options{
	Allow: `{"event_set":["PROCESS_EXEC","PROCESS_EXIT","PROCESS_KPROBE","PROCESS_TRACEPOINT","PROCESS_UPROBE","PROCESS_LSM","PROCESS_USDT"]}`,
	Deny: `{"namespace":["kube-system","cilium"]}
{"binary_regex":["^/usr/bin/(?:true|sleep)$"],"namespace":[""]}`,
	Redactions: `{"redact":["--password(?:\\s+|=)(\\S*)"]}
{"binary_regex":["(?:^|/)mysql$"],"redact":["-p(?:\\s+|=)(\\S*)"]}`,
}

// BenchmarkApply: the decision, rate limit and redaction of one exec event
// of a pod, with ancestors, whose arguments hold a password.
func BenchmarkApply(b *testing.B) {
	o := typical
	o.RateLimit = 1 << 30
	p := mustNew(b, o)
	app := inPod(proc(9400, "/app/migrate", "--password=s3cret --db shop --verbose"), "shop", "migrate-x1",
		map[string]string{"app": "migrate"})
	ev := execEv(app, containerd, sshd, bash)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if len(p.Apply(ev, now)) != 1 {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkApplyClean: the same without a secret to redact.
func BenchmarkApplyClean(b *testing.B) {
	p := mustNew(b, typical)
	ev := execEv(nginx, containerd, sshd, bash)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		p.Apply(ev, now)
	}
}

// BenchmarkEncode: encoding one event as the export writer does, directly
// (the baseline), as a Record, and as a Record with a field filter.
func BenchmarkEncode(b *testing.B) {
	ev := execEv(nginx, containerd, sshd, bash)
	for _, tc := range []struct{ name, filters string }{
		{"event", ""},
		{"record", ""},
		{"record-exclude", exclude},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := typical
			o.FieldFilters = tc.filters
			var v any = p(b, o).Apply(ev, time.Now())[0]
			if tc.name == "event" {
				v = ev
			}
			enc := json.NewEncoder(io.Discard)
			enc.SetEscapeHTML(false)
			b.ReportAllocs()
			for b.Loop() {
				if err := enc.Encode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func p(b *testing.B, o Options) *Pipeline { return mustNew(b, o) }

const exclude = `{"fields":"process.pod.pod_labels,parent.cgroup,ancestors","action":"EXCLUDE"}`

// BenchmarkAppendJSON: Record.AppendJSON, as a writer of lines uses it.
func BenchmarkAppendJSON(b *testing.B) {
	ev := execEv(nginx, containerd, sshd, bash)
	for _, tc := range []struct{ name, filters string }{{"record", ""}, {"record-exclude", exclude}} {
		b.Run(tc.name, func(b *testing.B) {
			o := typical
			o.FieldFilters = tc.filters
			rec := p(b, o).Apply(ev, time.Now())[0]
			var line []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if line, err = rec.AppendJSON(line[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
