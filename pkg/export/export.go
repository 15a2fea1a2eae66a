// Package export writes events as JSON lines, to stdout or to a file that is
// rotated by size.
package export

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/vigil-sec/vigil/pkg/event"
)

// FileOptions configure a rotated export file.
type FileOptions struct {
	Path       string
	MaxSizeMB  int  // rotate when the file reaches this size
	MaxBackups int  // rotated files kept
	Compress   bool // gzip rotated files
}

// Writer writes events' JSON lines into a buffer that Flush writes out.
type Writer struct {
	out io.WriteCloser
	buf *bufio.Writer
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Stdout returns a writer to standard output.
func Stdout() *Writer { return New(nopCloser{os.Stdout}) }

// File returns a writer to a file created 0600 and rotated by size.
// lumberjack does the rotation: it is small, widely used, and keeps the
// file mode of the file it rotates.
func File(o FileOptions) (*Writer, error) {
	f, err := os.OpenFile(o.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("export file: %w", err)
	}
	f.Close()
	return New(&lumberjack.Logger{
		Filename:   o.Path,
		MaxSize:    o.MaxSizeMB,
		MaxBackups: o.MaxBackups,
		Compress:   o.Compress,
	}), nil
}

// New returns a writer to out.
func New(out io.WriteCloser) *Writer {
	buf := bufio.NewWriterSize(out, 64<<10)
	return &Writer{out: out, buf: buf}
}

// Export writes an event's encoded line.
func (w *Writer) Export(_ *event.Event, line []byte) error {
	if _, err := w.buf.Write(line); err != nil {
		return err
	}
	return w.buf.WriteByte('\n')
}

// Flush writes buffered lines out.
func (w *Writer) Flush() error { return w.buf.Flush() }

// Close flushes and closes the output.
func (w *Writer) Close() error {
	err := w.Flush()
	if cerr := w.out.Close(); err == nil {
		err = cerr
	}
	return err
}
