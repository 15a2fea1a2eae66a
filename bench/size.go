package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigil-sec/vigil/pkg/compact"
	"github.com/vigil-sec/vigil/pkg/event"
)

// eventSize runs a short exec storm with a policy that matches every open
// of a file, and reports the mean size of the events as the agent writes
// them (JSON lines) and as `vigil events -o compact` prints them.
func eventSize(r *report, bin string, execs int) error {
	dir, err := os.MkdirTemp("", "vigil-bench-size-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out, pol := filepath.Join(dir, "events.json"), filepath.Join(dir, "open.yaml")
	if err := os.WriteFile(pol, []byte(fmt.Sprintf(openPolicy, "/etc/hostname")), 0o600); err != nil {
		return err
	}
	_, err = underAgent(bin, []string{"--export-filename", out, "--tracing-policy", pol}, func() (float64, error) {
		return stormOf(execs, "/bin/cat /etc/hostname >/dev/null")
	})
	if err != nil {
		return err
	}
	sizes, err := measure(out)
	if err != nil {
		return err
	}
	r.printf("## Event size, %d execs of cat each opening a watched file\n\n| kind | events | mean JSON bytes | mean compact bytes |\n|---|---|---|---|\n", execs)
	for _, k := range []string{"process_exec", "process_exit", "process_kprobe", "all"} {
		s := sizes[k]
		if s.n == 0 {
			continue
		}
		r.printf("| %s | %d | %.0f | %.0f |\n", k, s.n, float64(s.json)/float64(s.n), float64(s.compact)/float64(s.n))
	}
	if got := sizes["process_kprobe"]; got == nil || got.n != execs || sizes["lost_events"] != nil {
		r.printf("\nWarning: events were lost in this run; the means are of the events written.\n")
	}
	r.printf("\n")
	return nil
}

type size struct{ n, json, compact int }

// measure reads the agent's JSON lines and sizes each, as written and
// rendered compact (without colors).
func measure(path string) (map[string]*size, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := compact.New(false)
	out := map[string]*size{"all": {}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, err
		}
		k := ev.Kind().Type
		if out[k] == nil {
			out[k] = &size{}
		}
		line := len(p.Line(&ev)) + 1
		for _, s := range []*size{out[k], out["all"]} {
			s.n++
			s.json += len(sc.Bytes()) + 1
			s.compact += line
		}
	}
	return out, sc.Err()
}
