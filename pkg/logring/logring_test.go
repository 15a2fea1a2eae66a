package logring

import (
	"io"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// The ring keeps the newest lines within its bounds, oldest first.
func TestRingKeepsTheNewest(t *testing.T) {
	r := New(3, 1000)
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.AddHook(r)
	for _, m := range []string{"one", "two", "three", "four"} {
		log.WithField("n", m).Info("line " + m)
	}
	got := r.Lines()
	if len(got) != 3 || !strings.Contains(got[0], "line two") || !strings.Contains(got[2], "line four") {
		t.Errorf("lines: %q", got)
	}

	small := New(100, 200)
	log.AddHook(small)
	for range 20 {
		log.Info(strings.Repeat("x", 60))
	}
	total := 0
	for _, l := range small.Lines() {
		total += len(l)
	}
	if total > 200 || len(small.Lines()) == 0 {
		t.Errorf("%d bytes in %d lines, bound 200", total, len(small.Lines()))
	}
}
