package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImages builds the images the node tests run, from a static busybox
// (Debian's busybox-static) with a link per applet: busybox itself
// (command sh) and the pod sandbox's pause image (sleep inf), one layer
// for both. Their /etc/shadow is a file a test's pod may read.
func TestImages(busybox string, t time.Time) (bb, pause v1.Image, err error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, nil, fmt.Errorf("-busybox: %w", err)
	}
	if !static(bin) {
		return nil, nil, fmt.Errorf("-busybox %s: dynamically linked: install busybox-static", busybox)
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("-busybox %s --list: %w", busybox, err)
	}
	entries := []entry{
		{name: "bin/", mode: 0o755}, {name: "etc/", mode: 0o755}, {name: "tmp/", mode: 0o1777},
		{name: "bin/busybox", mode: 0o755, data: bin},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{name: "etc/shadow", mode: 0o640, data: []byte("root:*:20000:0:99999:7:::\n")},
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			entries = append(entries, entry{name: "bin/" + applet, mode: 0o777, link: "busybox"})
		}
	}
	layer, err := layerOf(entries, t)
	if err != nil {
		return nil, nil, err
	}
	base, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: t}, CreatedBy: "vigil tools/image -busybox"}})
	if err != nil {
		return nil, nil, err
	}
	if bb, err = withConfig(base, t, nil, []string{"sh"}); err != nil {
		return nil, nil, err
	}
	pause, err = withConfig(base, t, []string{"/bin/sleep", "inf"}, nil)
	return bb, pause, err
}

// withConfig gives img its platform, time, entrypoint and command.
func withConfig(img v1.Image, t time.Time, entrypoint, cmd []string) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS, cfg.Created = "amd64", "linux", v1.Time{Time: t}
	cfg.Config = v1.Config{Entrypoint: entrypoint, Cmd: cmd, Env: []string{"PATH=/bin"}, WorkingDir: "/"}
	return mutate.ConfigFile(img, cfg)
}
