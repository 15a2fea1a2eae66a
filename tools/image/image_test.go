package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// vigilBinary builds Vigil's static binary from the repository.
func vigilBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "vigil")
	cmd := exec.Command("go", "build", "-C", "../..", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/vigil")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// files lists the image's single layer: each entry's header, and the
// content of the binary.
func files(t *testing.T, img v1.Image) (map[string]*tar.Header, []byte) {
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	var binary []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, binary
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
		if h.Name == binPath {
			if binary, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The image written and read back: the same digest from two builds, its
// configuration, and exactly the files it should hold.
func TestImage(t *testing.T) {
	bin := vigilBinary(t)
	dir := t.TempDir()
	var digests []v1.Hash
	for i := range 2 {
		out := filepath.Join(dir, "vigil"+string(rune('0'+i))+".tar")
		if err := run(Options{Binary: bin, CACerts: "/etc/ssl/certs/ca-certificates.crt", Version: "v9.9.9", Revision: "abc"},
			out, "ghcr.io/vigil-sec/vigil:v9.9.9", "", "1700000000"); err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
		if i > 0 {
			continue
		}
		checkConfig(t, img)
		checkFiles(t, img, bin)
		if _, err := tarball.ImageFromPath(out, mustTag(t, "ghcr.io/vigil-sec/vigil:latest")); err != nil {
			t.Errorf("no latest tag: %v", err)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds, two digests: %v", digests)
	}
}

func checkConfig(t *testing.T, img v1.Image) {
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || !cfg.Created.Time.Equal(time.Unix(1700000000, 0)) ||
		!slices.Equal(c.Entrypoint, []string{"/usr/bin/vigil"}) || !slices.Equal(c.Cmd, []string{"agent"}) ||
		c.User != "0:0" || c.Labels["org.opencontainers.image.version"] != "v9.9.9" ||
		c.Labels["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("config: %+v", cfg)
	}
}

func checkFiles(t *testing.T, img v1.Image, bin string) {
	got, binary := files(t, img)
	var names []string
	for n, h := range got {
		names = append(names, n)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: owner %d:%d, time %v", n, h.Uid, h.Gid, h.ModTime)
		}
	}
	slices.Sort(names)
	want := []string{"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt",
		"tmp/", "usr/", "usr/bin/", "usr/bin/vigil", "var/", "var/lib/", "var/lib/vigil/", "var/run/", "var/run/vigil/"}
	if !slices.Equal(names, want) {
		t.Errorf("files: %v, want %v", names, want)
	}
	if h := got["usr/bin/vigil"]; h == nil || h.Mode != 0o755 {
		t.Errorf("the binary: %+v", h)
	}
	if h := got["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp: %+v", h)
	}
	built, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(binary, built) {
		t.Errorf("the binary in the image (%d bytes) is not the one built (%d bytes)", len(binary), len(built))
	}
}

// A dynamically linked binary is refused: the image has no loader.
func TestDynamicBinaryRefused(t *testing.T) {
	_, err := Build(Options{Binary: "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("Build of /bin/true: %v", err)
	}
}

func mustTag(t *testing.T, s string) *name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return &tag
}
