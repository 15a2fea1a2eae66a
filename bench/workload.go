package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// examplePolicies are the policies Vigil ships as examples: the workloads
// run under all of them at once.
const examplePolicies = "examples/policies/*.yaml"

// exampleAuditRules make auditd do the job of the example policies as far
// as it can: it logs where they kill, and it cannot test a connect's port,
// so it logs every connect.
var exampleAuditRules = [][]string{
	{"-a", "always,exit", "-F", "arch=b64", "-F", "path=/etc/shadow", "-F", "perm=r"}, // kill-shadow-read
	{"-a", "always,exit", "-F", "arch=b64", "-F", "dir=/etc", "-F", "perm=wa"},        // observe-etc-writes
	{"-a", "always,exit", "-F", "arch=b64", "-S", "connect"},                          // connect-port
	{"-a", "always,exit", "-F", "arch=b64", "-S", "init_module,finit_module"},         // module-load
	{"-a", "always,exit", "-F", "arch=b64", "-S", "setuid", "-F", "a0=0"},             // setuid-root
	{"-a", "always,exit", "-F", "arch=b64", "-S", "setresuid", "-F", "a0=0"},
	{"-a", "always,exit", "-F", "arch=b64", "-S", "setresuid", "-F", "a1=0"},
	{"-a", "always,exit", "-F", "arch=b64", "-S", "setresuid", "-F", "a2=0"},
}

// workloadPackages are the Debian packages the workloads need.
var workloadPackages = []string{"gcc", "libc6-dev", "make", "git", "libpcre2-dev", "libssl-dev", "zlib1g-dev"}

// sourceCache is where fetched sources stay from one run to the next.
const sourceCache = "bench-results/cache"

// debianSources is the sources list that sources are fetched with: the
// suite is fixed, so that every machine builds the same nginx.
const debianSources = "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n"

// nginxConfigure are the options nginx is configured with: its default
// modules and those of TLS, HTTP/2, streams and threads.
var nginxConfigure = []string{"--with-http_ssl_module", "--with-http_v2_module", "--with-stream", "--with-stream_ssl_module", "--with-threads"}

// The git workload: files the second commit changes, checkouts of one
// commit and back, and runs of git status.
const (
	gitChanged  = 2000
	gitSwitches = 5
	gitStatuses = 40
)

// workload measures workloads users recognise, building nginx with
// make -j2 and git on a large tree, without an agent, under Vigil with
// the example policies and under auditd with rules doing their job.
func workload(r *report, o options) error {
	if err := installMissing(workloadPackages...); err != nil {
		return err
	}
	policies, err := filepath.Glob(examplePolicies)
	if err != nil || len(policies) == 0 {
		return fmt.Errorf("no policies in %s", examplePolicies)
	}
	var args []string
	for _, p := range policies {
		args = append(args, "--tracing-policy", p)
	}
	dir, err := os.MkdirTemp("", "vigil-bench-workload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build, err := nginxBuild(dir)
	if err != nil {
		return err
	}
	r.printf("## Workloads, %d rounds\n\nVigil runs with the %d policies of %s, auditd with rules doing their job:\n\n", o.rounds, len(policies), examplePolicies)
	for _, rule := range exampleAuditRules {
		r.printf("    auditctl %s\n", strings.Join(rule, " "))
	}
	if err := compare(r, o, args, "nginx make -j2", build); err != nil {
		return err
	}
	git, err := gitWork(dir)
	if err != nil {
		return err
	}
	return compare(r, o, args, "git status and checkout", git)
}

// compare times work without an agent, under Vigil with args and under
// auditd, configurations alternating after a first run that warms the
// caches, and reports it.
func compare(r *report, o options, args []string, name string, work func() (float64, error)) error {
	configs := []config{
		{"no agent", work},
		{"vigil agent, example policies", func() (float64, error) { return underAgent(o.bin, args, work) }},
		{"auditd, equivalent rules", func() (float64, error) { return underAuditd(exampleAuditRules, work) }},
		{"vigil agent, example policies, --ia32-syscalls=false", func() (float64, error) {
			return underAgent(o.bin, append(args, "--ia32-syscalls=false"), work)
		}},
	}
	if _, err := work(); err != nil { // untimed: it warms the caches
		return fmt.Errorf("%s: %w", name, err)
	}
	times, err := alternate(o.rounds, configs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.printf("\n### %s\n\n", name)
	r.table(configs, times, []int{0, 0, 0, 0})
	r.printf("\nVigil %+.1f%% over no agent (target: at most +2%%), %+.1f%% without ia32 syscalls (which only the raw syscall tracepoint sees on a kernel without kprobes and fentry); %s\n\n",
		100*(median(times[1])/median(times[0])-1), 100*(median(times[3])/median(times[0])-1), r.versus(name, times[0], times[1], times[2]))
	return nil
}

// nginxBuild unpacks nginx's source in dir and configures it, and returns
// the build: each copies the configured tree afresh, untimed, then times
// make -j2 in the copy.
func nginxBuild(dir string) (func() (float64, error), error) {
	tarball, err := debianSource("nginx")
	if err != nil {
		return nil, err
	}
	src, build := filepath.Join(dir, "nginx"), filepath.Join(dir, "nginx-build")
	if err := os.Mkdir(src, 0o755); err != nil {
		return nil, err
	}
	if err := runIn("", "tar", "-xf", tarball, "-C", src, "--strip-components=1"); err != nil {
		return nil, err
	}
	if err := runIn(src, "./configure", nginxConfigure...); err != nil {
		return nil, err
	}
	return func() (float64, error) {
		if err := os.RemoveAll(build); err != nil {
			return 0, err
		}
		if err := runIn("", "cp", "-a", src, build); err != nil {
			return 0, err
		}
		start := time.Now()
		err := runIn(build, "make", "-j2")
		return time.Since(start).Seconds(), err
	}, nil
}

// debianSource returns the upstream tarball of a source package of
// debianSources, fetched into sourceCache the first time.
func debianSource(pkg string) (string, error) {
	dir := filepath.Join(sourceCache, pkg)
	pattern := filepath.Join(dir, pkg+"_*.orig.tar.?z")
	if m, _ := filepath.Glob(pattern); len(m) > 0 {
		return m[0], nil
	}
	if err := fetchSource(pkg, dir); err != nil {
		return "", err
	}
	if m, _ := filepath.Glob(pattern); len(m) > 0 {
		return m[0], nil
	}
	return "", fmt.Errorf("apt-get source %s fetched no upstream tarball", pkg)
}

// fetchSource downloads a source package of debianSources into dir with
// apt-get source: apt checks the suite's signature against Debian's
// keyring and the files' hashes (the source is built as root), and with a
// sources list, lists and cache of its own it leaves the machine's apt
// alone. The files go to dir once all are there.
func fetchSource(pkg, dir string) error {
	parent, err := filepath.Abs(filepath.Dir(dir)) // apt reads relative paths from /etc/apt
	if err != nil {
		return err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, pkg+"-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"parts", "lists", "cache", "src"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	list, src := filepath.Join(tmp, "sources.list"), filepath.Join(tmp, "src")
	if err := os.WriteFile(list, []byte(debianSources), 0o644); err != nil {
		return err
	}
	apt := []string{"-q", "-o", "Dir::Etc::sourcelist=" + list, "-o", "Dir::Etc::sourceparts=" + filepath.Join(tmp, "parts"),
		"-o", "Dir::State::Lists=" + filepath.Join(tmp, "lists"), "-o", "Dir::Cache=" + filepath.Join(tmp, "cache")}
	if err := runIn("", "apt-get", append(apt, "update")...); err != nil {
		return err
	}
	if err := runIn(src, "apt-get", append(apt, "source", "--download-only", pkg)...); err != nil {
		return err
	}
	return os.Rename(src, dir)
}

// gitWork makes a repository of GOROOT in dir, and returns a run of the
// git workload on it: checkouts of commit a and back to b, then runs of
// git status.
func gitWork(dir string) (func() (float64, error), error) {
	repo := filepath.Join(dir, "repo")
	if err := gitRepo(repo); err != nil {
		return nil, err
	}
	return func() (float64, error) {
		start := time.Now()
		for i := 0; i < gitSwitches; i++ {
			if err := gitIn(repo, "checkout", "-q", "a"); err != nil {
				return 0, err
			}
			if err := gitIn(repo, "checkout", "-q", "b"); err != nil {
				return 0, err
			}
		}
		for i := 0; i < gitStatuses; i++ {
			if err := gitIn(repo, "status"); err != nil {
				return 0, err
			}
		}
		return time.Since(start).Seconds(), nil
	}, nil
}

// gitRepo makes a git repository of a copy of GOROOT in repo: commit a,
// then commit b changing gitChanged of its files, on branches of those
// names, packed.
func gitRepo(repo string) error {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	if err := runIn("", "cp", "-a", strings.TrimSpace(string(goroot)), repo); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "a"}, {"add", "-A"}, {"commit", "-q", "-m", "a"}, {"checkout", "-q", "-b", "b"}} {
		if err := gitIn(repo, args...); err != nil {
			return err
		}
	}
	if err := changeFiles(filepath.Join(repo, "src"), gitChanged); err != nil {
		return err
	}
	if err := gitIn(repo, "commit", "-q", "-a", "-m", "b"); err != nil {
		return err
	}
	return gitIn(repo, "gc", "-q") // as a clone is
}

// changeFiles appends a line to the first n .go files under dir.
func changeFiles(dir string, n int) error {
	left := n
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case left == 0:
			return fs.SkipAll
		case !d.Type().IsRegular() || filepath.Ext(path) != ".go":
			return nil
		}
		left--
		return appendLine(path)
	})
	if err == nil && left > 0 {
		err = fmt.Errorf("fewer than %d .go files under %s", n, dir)
	}
	return err
}

// appendLine appends a comment line to a Go file.
func appendLine(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("// changed by vigil's bench\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// gitIn runs git in repo, away from the machine's git config, without
// automatic gc.
func gitIn(repo string, args ...string) error {
	cmd := exec.Command("git", append([]string{"-c", "gc.auto=0", "-c", "user.name=vigil bench", "-c", "user.email=bench@localhost"}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	return check(cmd)
}

// runIn runs a command in dir (the current folder when empty).
func runIn(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return check(cmd)
}

// check runs cmd and, when it fails, puts the end of its output in the
// error.
func check(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, out)
}

// installMissing installs those of the Debian packages pkgs that are not
// installed.
func installMissing(pkgs ...string) error {
	var missing []string
	for _, p := range pkgs {
		out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if !strings.HasSuffix(string(out), " installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	out, err := exec.Command("apt-get", append([]string{"install", "-y", "-q"}, missing...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("installing %s: %v: %s", strings.Join(missing, " "), err, out)
	}
	return nil
}
