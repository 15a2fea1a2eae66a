package compile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
// hook can attach to (listFunctions), from a list kept for a few seconds.
func kernelFunctions(keep func(string) bool) ([]string, error) {
	all, err := cachedFunctions()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// functionCacheTTL is how long a read of the kernel's functions is kept:
// each kprobe spec of each policy asks for it, and one read takes about
// 0.1 s on an idle machine (a second and more on a busy one, where the
// kernel renders available_filter_functions at every read). A module
// loaded since is seen once it expired.
const functionCacheTTL = 5 * time.Second

var functionCache struct {
	sync.Mutex
	names []string
	until time.Time
}

// cachedFunctions returns the kernel's functions, read again once the
// last read is functionCacheTTL old; the list is dropped then, so an
// agent that compiled once does not hold it.
func cachedFunctions() ([]string, error) {
	functionCache.Lock()
	defer functionCache.Unlock()
	if functionCache.names != nil && time.Now().Before(functionCache.until) {
		return functionCache.names, nil
	}
	names, err := listFunctions()
	if err != nil {
		return nil, err
	}
	functionCache.names, functionCache.until = names, time.Now().Add(functionCacheTTL)
	time.AfterFunc(functionCacheTTL, func() {
		functionCache.Lock()
		defer functionCache.Unlock()
		if !time.Now().Before(functionCache.until) {
			functionCache.names = nil
		}
	})
	return names, nil
}

// listFunctions lists the kernel functions a hook can attach to:
// tracefs's available_filter_functions (what Tetragon reads), or where
// the kernel does not let root read it (a hardened kernel), the text
// symbols of /proc/kallsyms. Module functions are named without their
// module.
func listFunctions() ([]string, error) {
	var errs []error
	if dir, err := tracefs.Dir(); err == nil {
		names, err := scanNames(filepath.Join(dir, "available_filter_functions"), ftraceName)
		if err == nil {
			return names, nil
		}
		errs = append(errs, err)
	}
	names, err := scanNames("/proc/kallsyms", kallsymsName)
	if err == nil {
		return names, nil
	}
	return nil, fmt.Errorf("listing the kernel's functions: %w", errors.Join(append(errs, err)...))
}

// scanNames reads file line by line, without holding it whole: the lists
// hold a hundred thousand functions and more.
func scanNames(file string, name func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, ok := name(sc.Text()); ok && !seen[n] {
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
