// Package logring keeps the agent's most recent log lines in memory, so
// that vigil bugtool can collect them from a running agent: a logrus hook
// bounded in lines and in bytes, the oldest lines dropped first.
package logring

import (
	"sync"

	"github.com/sirupsen/logrus"
)

// Ring is a logrus hook that keeps the last lines logged.
type Ring struct {
	mu        sync.Mutex
	lines     []string // oldest first
	bytes     int      // in lines
	maxLines  int
	maxBytes  int
	formatter logrus.Formatter
}

// New keeps at most maxLines lines of at most maxBytes in all.
func New(maxLines, maxBytes int) *Ring {
	return &Ring{maxLines: maxLines, maxBytes: maxBytes,
		formatter: &logrus.TextFormatter{DisableColors: true, FullTimestamp: true}}
}

// Levels is every level: what is logged at all is kept.
func (r *Ring) Levels() []logrus.Level { return logrus.AllLevels }

// Fire keeps the entry as the text formatter writes it; a line longer
// than the ring's bytes is cut to them.
func (r *Ring) Fire(e *logrus.Entry) error {
	b, err := r.formatter.Format(e)
	if err != nil {
		return err
	}
	line := string(b[:min(len(b), r.maxBytes)])
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.lines) > 0 && (len(r.lines) >= r.maxLines || r.bytes+len(line) > r.maxBytes) {
		r.dropOldest()
	}
	r.lines = append(r.lines, line)
	r.bytes += len(line)
	return nil
}

func (r *Ring) dropOldest() {
	r.bytes -= len(r.lines[0])
	r.lines[0] = ""
	r.lines = r.lines[1:]
}

// Lines returns the lines kept, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}
