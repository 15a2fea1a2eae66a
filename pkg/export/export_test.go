package export

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/internal/disktest"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/output"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (tmpfs mount, chown)")
	}
}

// collector is a Live output that keeps what it sees.
type collector struct{ evs []*event.Event }

func (c *collector) Write(ev *event.Event) error { c.evs = append(c.evs, ev); return nil }
func (c *collector) Flush() error                { return nil }

func execEvent(i int) *event.Event {
	return &event.Event{NodeName: "n", Time: event.FormatTime(time.Now()),
		ProcessExec: &event.ProcessExec{Process: &event.Process{ExecID: strings.Repeat("x", 900), Pid: uint32(i)}}}
}

// readLines checks every line of a file is a whole JSON object and returns
// them.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("torn line in %s: %q: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// A full disk under the export file: the writer goes on, counts what it
// cannot write, never leaves a torn line, and once there is room again a
// lost_events record with the count goes to the file and to every output.
func TestFullDiskCountedAndReported(t *testing.T) {
	dir := disktest.Small(t, 64<<10)
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 32<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.log")
	w, err := File(FileOptions{Path: path, MaxSizeMB: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	clock := time.Now()
	w.now = func() time.Time { return clock }
	live := &collector{}
	out := &output.Output{Live: []output.Sink{live}, Exported: []output.Exporter{w}, NodeName: "n"}

	i := 0
	for ; w.Lost() == 0 && i < 1000; i++ {
		if err := out.Write(execEvent(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if err := out.Flush(); err != nil {
			t.Fatalf("flush %d: %v", i, err)
		}
	}
	if w.Lost() == 0 {
		t.Fatal("the disk never filled up")
	}
	for j := 0; j < 5; j++ { // during the backoff: counted, not tried
		out.Write(execEvent(i))
		i++
	}
	if err := out.Flush(); err != nil {
		t.Fatalf("flush while failing: %v", err)
	}
	lost := w.Lost()
	if lost != 6 {
		t.Errorf("lost %d events, want 6 (the one that hit the full disk and 5 in the backoff)", lost)
	}
	written := len(readLines(t, path))

	os.Remove(filler)
	clock = clock.Add(maxBackoff)
	out.Write(execEvent(i))
	if err := out.Flush(); err != nil {
		t.Fatalf("flush after room: %v", err)
	}
	lines := readLines(t, path)
	if len(lines) != written+2 {
		t.Fatalf("%d lines after room, want %d + the event + lost_events", len(lines), written)
	}
	le, _ := lines[len(lines)-1]["lost_events"].(map[string]any)
	if le == nil || le["reason"] != event.LostExportWrite || le["count"] != float64(lost) {
		t.Fatalf("last line %v, want lost_events %s count %d", lines[len(lines)-1], event.LostExportWrite, lost)
	}
	var told *event.LostEvents
	for _, ev := range live.evs {
		if ev.LostEvents != nil {
			told = ev.LostEvents
		}
	}
	if told == nil || told.Count != lost || told.Reason != event.LostExportWrite || told.WindowStart == "" {
		t.Fatalf("live outputs got %+v", told)
	}
	if w.Recovered() != nil {
		t.Fatal("the loss is reported twice")
	}
}

func TestSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "passwd")
	os.WriteFile(target, []byte("root:x:0:0\n"), 0o600)
	path := filepath.Join(dir, "events.log")
	os.Symlink(target, path)
	for _, shared := range []bool{false, true} {
		if _, err := File(FileOptions{Path: path, AllowShared: shared}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("shared %v: %v, want a symbolic link refused", shared, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "root:x:0:0\n" {
		t.Fatalf("target changed: %q", b)
	}
}

func TestForeignOwnerRefused(t *testing.T) {
	needRoot(t)
	path := filepath.Join(t.TempDir(), "events.log")
	os.WriteFile(path, nil, 0o600)
	os.Chown(path, 65534, 65534)
	if _, err := File(FileOptions{Path: path}); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("file of another user: %v", err)
	}
	w, err := File(FileOptions{Path: path, AllowShared: true})
	if err != nil {
		t.Fatalf("with AllowShared: %v", err)
	}
	w.Close()
}

func TestOpenModeRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	os.WriteFile(path, nil, 0o600)
	os.Chmod(path, 0o644)
	if _, err := File(FileOptions{Path: path}); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Fatalf("0644 file: %v", err)
	}
	w, err := File(FileOptions{Path: path, AllowShared: true})
	if err != nil {
		t.Fatalf("with AllowShared: %v", err)
	}
	w.Close()
}

func TestHardLinkAndFIFORefused(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "shadow")
	os.WriteFile(secret, nil, 0o600)
	link := filepath.Join(dir, "events.log")
	os.Link(secret, link)
	if _, err := File(FileOptions{Path: link}); err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Fatalf("hard link: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.log")
	unix.Mkfifo(fifo, 0o600)
	if _, err := File(FileOptions{Path: fifo, AllowShared: true}); err == nil { // ENXIO: no reader; never a hang
		t.Fatal("a FIFO accepted")
	}
	dev := filepath.Join(dir, "null.log")
	unix.Mknod(dev, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
	if _, err := File(FileOptions{Path: dev, AllowShared: true}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("device: %v", err)
	}
}

func checkPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() || int(st.Uid) != os.Geteuid() {
		t.Errorf("%s: mode %v uid %d, want a regular file 0600 of uid %d", path, fi.Mode(), st.Uid, os.Geteuid())
	}
}

// writeMB exports about mb MiB of events.
func writeMB(t *testing.T, w *Writer, mb int) {
	t.Helper()
	line := []byte(`{"process_exec":{"process":{"binary":"` + strings.Repeat("b", 1000) + `"}}}`)
	for n := 0; n < mb<<20; n += len(line) + 1 {
		w.Export(nil, line)
	}
	w.Flush()
	if w.Lost() != 0 {
		t.Fatalf("lost %d", w.Lost())
	}
}

// Rotation creates the new file 0600, owned by the agent, even where the
// file it rotates (accepted with AllowShared) was 0644 and another user's;
// backups are compressed 0600 and pruned.
func TestRotationKeepsPrivate(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	os.WriteFile(path, nil, 0o644)
	os.Chown(path, 65534, 65534)
	w, err := File(FileOptions{Path: path, MaxSizeMB: 1, MaxBackups: 2, Compress: true, AllowShared: true})
	if err != nil {
		t.Fatal(err)
	}
	writeMB(t, w, 4)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, path)
	backups, _ := filepath.Glob(filepath.Join(dir, "events-*.log.gz"))
	if len(backups) != 2 {
		all, _ := os.ReadDir(dir)
		t.Fatalf("backups %v, want 2 compressed (dir: %v)", backups, all)
	}
	for _, b := range backups {
		checkPrivate(t, b)
	}
}

// A symbolic link planted at the path between rotations is refused, the
// events counted, and writing resumes once it is gone.
func TestLinkPlantedAtRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	w, err := File(FileOptions{Path: path, MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	clock := time.Now()
	w.now = func() time.Time { return clock }
	writeMB(t, w, 1)
	rf := w.out.(*rotFile)
	rf.f.Close()
	rf.f = nil // as if a rotation had just renamed it away
	os.Rename(path, path+".old")
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o600)
	os.Symlink(target, path)
	w.Export(nil, []byte(`{}`))
	w.Flush()
	if w.Lost() != 1 {
		t.Fatalf("lost %d, want 1", w.Lost())
	}
	if fi, _ := os.Stat(target); fi.Size() != 0 {
		t.Fatal("written through the link")
	}
	os.Remove(path)
	clock = clock.Add(maxBackoff)
	w.Export(nil, []byte(`{}`))
	w.Flush()
	if l := w.Recovered(); l == nil || l.Count != 1 {
		t.Fatalf("recovered %+v", l)
	}
	checkPrivate(t, path)
}

func TestNegativeOptionsRefused(t *testing.T) {
	_, err := File(FileOptions{Path: filepath.Join(t.TempDir(), "x"), MaxBackups: -1})
	if err == nil || !strings.Contains(err.Error(), "backups") {
		t.Fatalf("negative backups: %v", err)
	}
}
