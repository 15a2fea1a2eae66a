package tracing

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFindObjects: a named file is found as the kernel knows it (the
// superblock's dev_t, the inode), through a symlink too; a name gone keeps
// its last identity; a file put in its place is found anew.
func TestFindObjects(t *testing.T) {
	// a plain file system: the kernel matrix's guests keep the temporary
	// folder on an overlay, where identity is refused
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		t.Fatal(err)
	}
	want := ObjKey{SetID: 3, Dev: unix.Major(st.Dev)<<20 | unix.Minor(st.Dev), Ino: st.Ino}
	names := []ObjName{{SetID: 3, Path: file}, {SetID: 3, Path: filepath.Join(dir, "link")}, {SetID: 3, Path: dir + "/nothing"}}
	got, err := findObjects("/", names, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].found || got[0].key != want || got[1].key != want || got[2].found {
		t.Fatalf("found %+v, want %+v for the file and its symlink, nothing for the third", got, want)
	}
	if err := os.Rename(file, file+".moved"); err != nil {
		t.Fatal(err)
	}
	again, _ := findObjects("/", names, got)
	if !again[0].found || again[0].key != want {
		t.Fatalf("after a rename: %+v, want the last identity kept", again[0])
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	again, _ = findObjects("/", names, again)
	if again[0].key == want || !again[0].found {
		t.Fatalf("after a new file at the path: %+v, want a new identity", again[0])
	}
}
