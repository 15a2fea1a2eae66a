package filter

import (
	"bytes"
	stdjson "encoding/json"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

// FuzzEncodingMatchesTheStandardLibrary: the export encoder writes every
// event byte for byte as encoding/json does (HTML not escaped), whatever
// the strings of its processes and arguments hold: invalid UTF-8,
// control and HTML characters, line separators.
func FuzzEncodingMatchesTheStandardLibrary(f *testing.F) {
	for _, seed := range []struct {
		binary, args, path string
		long               int64
		raw                []byte
	}{
		{"/usr/bin/cat", "/etc/shadow", "/etc/shadow", -1, []byte("x")},
		{"/bin/sh", `-c "a<b && c>d" 'e'`, "/tmp/\u2028\u2029", 1 << 62, nil},
		{"/tmp/\xff\xfe", "\x00\x01\x1f\x7f \\ \"", "\xe2\x80", -1 << 63, []byte{0, 255}},
		{"", "", "", 0, []byte{}},
		{"/opt/日本語/bin", "--pass=é\t\r\n", "/a/b/c/../d", 42, []byte("<html>")},
	} {
		f.Add(seed.binary, seed.args, seed.path, seed.long, seed.raw)
	}
	f.Fuzz(func(t *testing.T, binary, args, path string, long int64, raw []byte) {
		size := uint64(long)
		p := inPod(proc(4242, binary, args), "shop", path, map[string]string{"app": args})
		for _, ev := range fuzzEvents {
			checkSameJSON(t, ev)
		}
		for _, ev := range []*event.Event{
			execEv(p, bash, sshd), exitEv(p, nginx),
			kprobeEv(p, bash, path, strArg(path, "path"), intArg(int32(long)),
				&event.Argument{LongArg: &long, SizeArg: &size, BytesArg: raw}),
		} {
			checkSameJSON(t, ev)
			ev.NodeName, ev.Time = binary, args
			checkSameJSON(t, ev)
		}
	})
}

func checkSameJSON(t *testing.T, v any) {
	t.Helper()
	var want bytes.Buffer
	enc := stdjson.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	errWant := enc.Encode(v)
	e := getEncoder()
	defer encoders.Put(e)
	got, errGot := e.encode(v)
	if (errWant != nil) != (errGot != nil) {
		t.Fatalf("encoding/json: %v, the export encoder: %v", errWant, errGot)
	}
	w := bytes.TrimSuffix(want.Bytes(), []byte("\n"))
	if !bytes.Equal(got, w) {
		t.Fatalf("the export encoder wrote\n%s\nencoding/json\n%s", got, w)
	}
	ev, ok := v.(*event.Event)
	if !ok || errWant != nil {
		return
	}
	for _, pass := range []string{"first", "again, processes kept"} {
		line, err := Record{Event: ev}.AppendJSON(nil)
		if err != nil || !bytes.Equal(line, w) {
			t.Fatalf("%s: a record's line is\n%s (%v)\nencoding/json\n%s", pass, line, err, w)
		}
	}
}

// TestKeptProcessJSON: a process's kept JSON follows a pod attached
// later, and a copy of the process (as a redaction makes) has its own.
func TestKeptProcessJSON(t *testing.T) {
	p := proc(4243, "/usr/bin/mysql", "-p secret")
	ev := kprobeEv(p, bash, "/etc/passwd", strArg("/etc/passwd", "path"))
	checkSameJSON(t, ev)
	p.Pod = &event.Pod{Namespace: "shop", Name: "db-0", PodLabels: map[string]string{"app": "db"}}
	checkSameJSON(t, ev)
	line, _ := Record{Event: ev}.AppendJSON(nil)
	if !bytes.Contains(line, []byte(`"name":"db-0"`)) {
		t.Fatalf("the pod attached later is not in %s", line)
	}
	cp := *p
	cp.Arguments = "-p *****"
	ev.ProcessKprobe.Process = &cp
	checkSameJSON(t, ev)
}
