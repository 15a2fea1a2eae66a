// Package tracefs reads the kernel's trace event formats: where each field
// of a tracepoint's record lies, which tracepoint hooks need to read
// arguments by index. It mounts tracefs when nothing has.
package tracefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Field is one field of a tracepoint's record, as its format file says.
type Field struct {
	Name    string
	Type    string // C type, e.g. "const char *", "__data_loc char[]", "char[16]"
	Offset  uint32
	Size    uint32
	Signed  bool
	DataLoc bool // __data_loc: a u32 holding the data's offset (low 16 bits) and length
	Array   bool // a fixed array inside the record, e.g. char comm[16]
}

// Pointer says whether the field holds a pointer.
func (f Field) Pointer() bool { return strings.HasSuffix(f.Type, "*") }

// Root is where tracefs is usually mounted.
const Root = "/sys/kernel/tracing"

var mountOnce struct {
	sync.Once
	dir string
	err error
}

// Dir returns tracefs's mount point, mounting it at Root when it is not
// mounted there or under debugfs.
func Dir() (string, error) {
	mountOnce.Do(func() { mountOnce.dir, mountOnce.err = findOrMount() })
	return mountOnce.dir, mountOnce.err
}

func findOrMount() (string, error) {
	for _, d := range []string{Root, "/sys/kernel/debug/tracing"} {
		if isTracefs(d) {
			return d, nil
		}
	}
	if err := unix.Mount("tracefs", Root, "tracefs", 0, ""); err != nil {
		return "", fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %w", Root, err)
	}
	return Root, nil
}

func isTracefs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TRACEFS_MAGIC
}

// Format reads the fields of tracepoint subsys/event, common ones included,
// in the order of the format file: the order that policies' indexes count.
func Format(subsys, event string) ([]Field, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(subsys+event, "/.") || subsys == "" || event == "" {
		return nil, fmt.Errorf("tracepoint %q/%q: not a valid name", subsys, event)
	}
	data, err := os.ReadFile(filepath.Join(dir, "events", subsys, event, "format"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tracepoint %s/%s does not exist on this kernel", subsys, event)
	}
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s/%s: %w", subsys, event, err)
	}
	return Parse(string(data))
}

// Parse reads the fields of a format file.
func Parse(format string) ([]Field, error) {
	var fields []Field
	for _, line := range strings.Split(format, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") {
			continue
		}
		f, err := parseField(line)
		if err != nil {
			return nil, fmt.Errorf("format line %q: %w", line, err)
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return nil, errors.New("format has no fields")
	}
	return fields, nil
}

// parseField reads "field:int sig;\toffset:8;\tsize:4;\tsigned:1;".
func parseField(line string) (Field, error) {
	var f Field
	for _, part := range strings.Split(line, ";") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "field":
			err = f.setDecl(val)
		case "offset":
			f.Offset, err = atou(val)
		case "size":
			f.Size, err = atou(val)
		case "signed":
			f.Signed = val == "1"
		}
		if err != nil {
			return f, err
		}
	}
	if f.Name == "" || f.Size == 0 {
		return f, errors.New("no name or size")
	}
	return f, nil
}

// setDecl splits a C declaration into type and name: "const char * filename",
// "char comm[16]", "__data_loc char[] filename".
func (f *Field) setDecl(decl string) error {
	decl = strings.TrimSpace(decl)
	i := strings.LastIndexAny(decl, " *")
	if i < 0 {
		return fmt.Errorf("declaration %q has no type", decl)
	}
	f.Type, f.Name = strings.TrimSpace(decl[:i+1]), decl[i+1:]
	if b := strings.IndexByte(f.Name, '['); b >= 0 {
		f.Type += f.Name[b:]
		f.Name = f.Name[:b]
		f.Array = true
	}
	if strings.HasPrefix(f.Type, "__data_loc") {
		f.DataLoc, f.Array = true, false
	}
	return nil
}

func atou(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}
