package filter

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

// redactions are Tetragon's documented examples: --password anywhere, -p
// for mysql only.
const redactions = `{"redact":["--password(?:\\s+|=)(\\S*)"]}
{"binary_regex":["(?:^|/)mysql$"],"redact":["-p(?:\\s+|=)(\\S*)"]}`

func TestRedactArguments(t *testing.T) {
	p := mustNew(t, Options{Redactions: redactions})
	mysql := proc(7001, "/usr/bin/mysql", "-u root -p=s3cret --host db.shop -e \"select 1\"")
	deploy := proc(7000, "/usr/bin/bash", `-c "deploy --password hunter2 --verbose -p=7"`)
	curl := proc(7002, "/usr/bin/curl", "-p=8080 --password=topsecret https://shop.example")
	ev := execEv(mysql, deploy, sshd, curl)
	before := encodeJSON(t, ev)

	out := p.Apply(ev, t0)[0].Event
	got := out.ProcessExec
	for _, tc := range []struct{ name, got, want string }{
		{"process", got.Process.Arguments, "-u root -p=***** --host db.shop -e \"select 1\""},
		{"parent", got.Parent.Arguments, `-c "deploy --password ***** --verbose -p=7"`},
		{"ancestor untouched", got.Ancestors[0].Arguments, "-D"},
		{"ancestor", got.Ancestors[1].Arguments, "-p=8080 --password=***** https://shop.example"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if after := encodeJSON(t, ev); after != before {
		t.Errorf("input changed:\n%s\n%s", before, after)
	}
	if out == ev || got == ev.ProcessExec || got.Process == mysql || got.Ancestors[0] != sshd {
		t.Error("want a copy of what changed, and the rest shared")
	}
	if &got.Ancestors[0] == &ev.ProcessExec.Ancestors[0] {
		t.Error("ancestors slice shared")
	}

	clean := execEv(ls, bash, sshd)
	if out := p.Apply(clean, t0)[0].Event; out != clean {
		t.Error("an event without secrets was copied")
	}
}

func TestRedactKprobeArgs(t *testing.T) {
	p := mustNew(t, Options{Redactions: redactions})
	fd := intArg(3)
	secret := strArg("--password=s3cret", "")
	path := strArg("/etc/shadow", "path")
	ev := kprobeEv(ls, bash, "p", fd, secret, path)
	out := p.Apply(ev, t0)[0].Event.ProcessKprobe
	if *out.Args[1].StringArg != "--password=*****" || *secret.StringArg != "--password=s3cret" {
		t.Errorf("got %q, input %q", *out.Args[1].StringArg, *secret.StringArg)
	}
	if out.Args[0] != fd || out.Args[2] != path || out.Process != ls {
		t.Error("unchanged arguments and processes are not shared")
	}
	if &out.Args[0] == &ev.ProcessKprobe.Args[0] {
		t.Error("args slice shared")
	}
	// binary_regex applies to the event's process.
	ev = kprobeEv(proc(1, "/usr/bin/mysql", ""), nil, "p", strArg("-p s3cret", ""))
	if got := *p.Apply(ev, t0)[0].Event.ProcessKprobe.Args[0].StringArg; got != "-p *****" {
		t.Errorf("got %q", got)
	}
}

func TestRedactMatch(t *testing.T) {
	p := mustNew(t, Options{Redactions: `{"match":{"namespace":["shop"]},"redact":["token=(\\w+)"]}
{"match":[{"pid":[1]},{"binary_regex":["ls$"]}],"redact":["key=(\\w+)"]}`})
	app := inPod(proc(9300, "/app/server", "token=abc key=def"), "shop", "api-0", nil)
	host := proc(9301, "/usr/bin/ls", "token=abc key=def")
	if got := p.Apply(execEv(app, nil), t0)[0].Event.ProcessExec.Process.Arguments; got != "token=***** key=def" {
		t.Errorf("pod: %q", got)
	}
	if got := p.Apply(execEv(host, nil), t0)[0].Event.ProcessExec.Process.Arguments; got != "token=abc key=*****" {
		t.Errorf("host: %q", got)
	}
}

func TestRedactCaptures(t *testing.T) {
	for _, tc := range []struct{ re, in, want string }{
		{`--password(?:\s+|=)(\S*)`, "--password a --password=b", "--password ***** --password=*****"},
		{`(\w+):(\w+)@`, "https://user:pw@host", "https://*****:*****@host"},
		{`secret=((\w)\w*)`, "secret=abc", "secret=*****"},                       // nested group: once
		{`(?:-p(\S+))|(?:--pass (\S+))`, "--pass x -py", "--pass ***** -p*****"}, // groups that did not take part
		{`--password=(\S*)`, "--password= next", "--password= next"},             // nothing to hide
		{`--password=(\S*)`, "no secret", "no secret"},
	} {
		got, changed := redactCaptures(regexp.MustCompile(tc.re), tc.in)
		if got != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("%s on %q: got %q, %v; want %q", tc.re, tc.in, got, changed, tc.want)
		}
	}
}

func TestRedactionErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"redact":["--password=\\S+"]}`, "redaction filters line 1: redact[0]: no capture group: nothing would be redacted"},
		{`{"binary_regex":["mysql"]}`, "redaction filters line 1: redact: missing"},
		{`{"redact":["(x)"],"binary_regex":["("]}`, "redaction filters line 1: binary_regex[0]: error parsing regexp: missing closing ): `(`"},
		{`{"redact":["(x)"]}` + "\n" + `{"redact":["(x)"],"env":["X"]}`, "redaction filters line 2: env: unknown field"},
		{`{"redact":["(x)"],"match":[{"pid":[1]},{"pod":["x"]}]}`, "redaction filters line 1: match[1]: pod: unknown field"},
		{`{"redact":["(x)"],"match":{"pid":"1"}}`, "redaction filters line 1: match: pid: want a list of pids"},
		{`{"redact":"(x)"}`, "redaction filters line 1: redact: want a list of regular expressions"},
	} {
		_, err := New(Options{Redactions: tc.in})
		t.Log(err)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// TestRedactTracepointUprobe: every policy event's string arguments.
func TestRedactTracepointUprobe(t *testing.T) {
	p := mustNew(t, Options{Redactions: redactions})
	for _, ev := range []*event.Event{
		{ProcessTracepoint: &event.ProcessTracepoint{Process: ls, Args: []*event.Argument{strArg("--password x", "")}}},
		{ProcessUprobe: &event.ProcessUprobe{Process: ls, Args: []*event.Argument{strArg("--password x", "")}}},
		{ProcessLsm: &event.ProcessKprobe{Process: ls, Args: []*event.Argument{strArg("--password x", "")}}},
	} {
		s := subjectOf(p.Apply(ev, t0)[0].Event)
		if got := *s.args[0].StringArg; got != "--password *****" {
			t.Errorf("%s: %q", encodeJSON(t, ev), got)
		}
		if *subjectOf(ev).args[0].StringArg != "--password x" {
			t.Error("input changed")
		}
	}
}

// TestRedactQuotedPhrase: redaction works on each argument before quoting:
// a secret with spaces is one argument, hidden whole.
func TestRedactQuotedPhrase(t *testing.T) {
	p := mustNew(t, Options{Redactions: redactions})
	for _, tc := range []struct{ args, want string }{
		{`--password "my secret phrase" --user bob`, `--password ***** --user bob`},
		{`"--password=my secret phrase" -v`, `--password=***** -v`},
		{`x --password "a \"quoted\" secret"`, `x --password *****`},
		{`--password "" next`, `--password "" *****`}, // \s+ spans the empty argument
		{`-c "deploy --password hunter2 --verbose"`, `-c "deploy --password ***** --verbose"`},
	} {
		out := p.Apply(execEv(proc(7100, "/usr/bin/tool", tc.args), nil), t0)[0].Event
		got := out.ProcessExec.Process.Arguments
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.args, got, tc.want)
		}
		for _, word := range []string{"my", "secret", "phrase", "quoted", "hunter2"} {
			if strings.Contains(tc.args, word) && strings.Contains(got, word) && !strings.Contains(tc.want, word) {
				t.Errorf("%s: %q left in %s", tc.args, word, got)
			}
		}
	}
}
