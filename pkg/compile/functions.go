package compile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-sec/vigil/pkg/tracefs"
)

// functions lists the kernel functions keep selects: the target's
// lister, or this machine's.
func (c *compiler) functions(keep func(string) bool) ([]string, error) {
	if c.target.Functions != nil {
		return c.target.Functions(keep)
	}
	return kernelFunctions(keep)
}

// kernelFunctions lists the kernel functions keep selects among those a
// hook can attach to: tracefs's available_filter_functions (what
// Tetragon reads), or where the kernel does not let root read it (a
// hardened kernel), the text symbols of /proc/kallsyms. Module functions
// are named without their module.
func kernelFunctions(keep func(string) bool) ([]string, error) {
	var errs []error
	if dir, err := tracefs.Dir(); err == nil {
		names, err := scanNames(filepath.Join(dir, "available_filter_functions"), ftraceName, keep)
		if err == nil {
			return names, nil
		}
		errs = append(errs, err)
	}
	names, err := scanNames("/proc/kallsyms", kallsymsName, keep)
	if err == nil {
		return names, nil
	}
	return nil, fmt.Errorf("listing the kernel's functions: %w", errors.Join(append(errs, err)...))
}

// scanNames reads file line by line, without holding it whole: the lists
// hold a hundred thousand functions and more.
func scanNames(file string, name func(string) (string, bool), keep func(string) bool) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, ok := name(sc.Text()); ok && !seen[n] && keep(n) {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, sc.Err()
}

// ftraceName: "vfs_read" or "xfs_file_read_iter [xfs]".
func ftraceName(line string) (string, bool) {
	name, _, _ := strings.Cut(line, " ")
	return name, name != ""
}

// kallsymsName: "ffffffff812a3b40 T vfs_read", text symbols only.
func kallsymsName(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || (f[1] != "t" && f[1] != "T") {
		return "", false
	}
	return f[2], true
}
