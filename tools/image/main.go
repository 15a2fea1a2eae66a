// Command image builds Vigil's container image without a container daemon:
// a static vigil binary, CA certificates, minimal passwd and group files and
// /tmp on an empty base (what a distroless static base has, built from
// files at hand, since this workplace can pull no base image). The image is
// reproducible: the same binary and certificates give the same digest
// (fixed times from -epoch, sorted entries, owner root). It is written as a
// docker-archive tarball, which docker load, podman load, ctr images import
// and crane push take. go-containerregistry is the library ko and crane are
// built on: image assembly without a daemon is what it does.
//
// It is a module of its own so that its dependencies never move Vigil's.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	var o Options
	var out, tag string
	flag.StringVar(&o.Binary, "binary", "", "the static vigil binary to put in (CGO_ENABLED=0)")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates; \"\" for none")
	flag.StringVar(&o.Version, "version", "dev", "org.opencontainers.image.version")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision (a commit)")
	flag.StringVar(&out, "out", "bin/image/vigil.tar", "the docker-archive tarball to write")
	flag.StringVar(&tag, "tag", "ghcr.io/vigil-sec/vigil:latest", "the image's tag in the tarball; it is also tagged latest")
	busybox := flag.String("busybox", "", "instead, build the node tests' images from this static busybox: "+busyboxTag+" and "+pauseTag)
	epoch := flag.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "seconds since 1970 of every time in the image (default SOURCE_DATE_EPOCH, else 0)")
	flag.Parse()
	if err := run(o, out, tag, *busybox, *epoch); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

// The node tests' image names; the pause image's is the sandbox image the
// node's containerd is configured with (scripts/node-up.sh).
const (
	busyboxTag = "vigil.test/busybox:1.35"
	pauseTag   = "registry.k8s.io/pause:3.10"
)

func run(o Options, out, tag, busybox, epoch string) error {
	if epoch != "" {
		secs, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("-epoch %q: want seconds since 1970", epoch)
		}
		o.Time = time.Unix(secs, 0).UTC()
	}
	if busybox != "" {
		return writeTestImages(busybox, out, o.Time)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	img, err := Build(o)
	if err != nil {
		return err
	}
	tags := map[name.Tag]v1.Image{ref: img, ref.Context().Tag("latest"): img}
	if err := tarball.MultiWriteToFile(out, tags); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", out, ref, digest)
	return nil
}

// writeTestImages writes the node tests' busybox and pause images to out.
func writeTestImages(busybox, out string, t time.Time) error {
	bb, pause, err := TestImages(busybox, t)
	if err != nil {
		return err
	}
	tags := map[name.Tag]v1.Image{}
	for tag, img := range map[string]v1.Image{busyboxTag: bb, pauseTag: pause} {
		ref, err := name.NewTag(tag)
		if err != nil {
			return err
		}
		tags[ref] = img
	}
	if err := tarball.MultiWriteToFile(out, tags); err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", out, busyboxTag, pauseTag)
	return nil
}
