package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Options say what goes in the image.
type Options struct {
	Binary            string    // the static vigil binary
	CACerts           string    // a PEM bundle; "" for none
	Version, Revision string    // its labels
	Time              time.Time // of every file and of the image (the zero time: 1970)
}

// Path of the binary in the image.
const binPath = "usr/bin/vigil"

// Build returns the image: one layer, then the configuration.
func Build(o Options) (v1.Image, error) {
	if o.Time.IsZero() {
		o.Time = time.Unix(0, 0).UTC()
	}
	layer, err := buildLayer(o)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: o.Time}, CreatedBy: "vigil tools/image", Comment: "vigil " + o.Version}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS, cfg.Created = "amd64", "linux", v1.Time{Time: o.Time}
	cfg.Config = v1.Config{
		Entrypoint: []string{"/" + binPath},
		Cmd:        []string{"agent"},
		Env:        []string{"PATH=/usr/bin:/bin"},
		User:       "0:0", // the agent loads BPF programs
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "vigil",
			"org.opencontainers.image.description": "Runtime security for Linux and Kubernetes, with eBPF",
			"org.opencontainers.image.source":      "https://github.com/vigil-sec/vigil",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.licenses":    "Apache-2.0",
		},
	}
	return mutate.ConfigFile(img, cfg)
}

// entry is one file or folder of the layer.
type entry struct {
	name string
	mode int64
	data []byte // nil: a folder, or a link
	link string // a symbolic link's target
}

// buildLayer makes the layer: folders first, in this fixed order.
func buildLayer(o Options) (v1.Layer, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("-binary: %w", err)
	}
	if !static(bin) {
		return nil, fmt.Errorf("-binary %s: dynamically linked: build it with CGO_ENABLED=0", o.Binary)
	}
	entries := []entry{
		{name: "etc/", mode: 0o755}, {name: "etc/ssl/", mode: 0o755}, {name: "etc/ssl/certs/", mode: 0o755},
		{name: "tmp/", mode: 0o1777}, {name: "usr/", mode: 0o755}, {name: "usr/bin/", mode: 0o755},
		{name: "var/", mode: 0o755}, {name: "var/lib/", mode: 0o755}, {name: "var/lib/vigil/", mode: 0o700},
		{name: "var/run/", mode: 0o755}, {name: "var/run/vigil/", mode: 0o700},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nvigil:x:999:\nnogroup:x:65534:\n")},
		{name: binPath, mode: 0o755, data: bin},
	}
	if o.CACerts != "" {
		pem, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("-ca-certs: %w", err)
		}
		entries = append(entries, entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: pem})
	}
	return layerOf(entries, o.Time)
}

// layerOf makes a layer's tar in memory from entries, in their order, each
// owned by root with time t.
func layerOf(entries []entry, t time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: t, Uname: "root", Gname: "root",
			Typeflag: tar.TypeDir, Format: tar.FormatPAX}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		case e.data != nil:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// static says whether bin is an ELF binary with no program interpreter
// (PT_INTERP): it needs no dynamic loader, which the image does not have.
func static(bin []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return false
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
