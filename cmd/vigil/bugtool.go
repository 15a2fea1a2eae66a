package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/probe"
)

func bugtoolCommand() *cobra.Command {
	var addr, metrics, out string
	cmd := &cobra.Command{
		Use:   "bugtool",
		Short: "Collect what a support case needs into a tarball (no events, no secrets)",
		Long: "Collect what a support case needs into a gzipped tarball: the version and kernel, the probe report,\n" +
			"the agent's status, policies with their states, metrics, health and recent logs, and the BPF\n" +
			"programs and maps loaded (names and sizes, never their contents). No events, no policy\n" +
			"documents, no environment. What cannot be collected is said in errors.txt, and the rest is kept.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = fmt.Sprintf("vigil-bugtool-%s.tar.gz", time.Now().UTC().Format("20060102-150405"))
			}
			b := &bundle{}
			b.collect(addr, metrics)
			if err := b.write(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d files, %d problems (errors.txt)\n", out, len(b.files), len(b.errs))
			return nil
		},
	}
	serverFlag(cmd, &addr)
	cmd.Flags().StringVar(&metrics, "metrics-address", "127.0.0.1:2112", "the agent's metrics and health address; \"\" to skip them")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the tarball to write (default vigil-bugtool-TIME.tar.gz)")
	return cmd
}

// bundle is the tarball's files, in order, and what could not be collected.
type bundle struct {
	files []bundleFile
	errs  []string
}

type bundleFile struct {
	name string
	data []byte
}

// bugtoolMax bounds each file collected over the network.
const bugtoolMax = 16 << 20

func (b *bundle) add(name string, data []byte, err error) {
	if err != nil {
		b.errs = append(b.errs, fmt.Sprintf("%s: %v", name, err))
		return
	}
	b.files = append(b.files, bundleFile{name, data})
}

func (b *bundle) collect(addr, metrics string) {
	b.add("version.txt", []byte(fmt.Sprintf("vigil %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)), nil)
	for _, f := range []string{"/proc/version", "/etc/os-release", "/proc/cmdline"} {
		data, err := os.ReadFile(f)
		b.add("host"+strings.ReplaceAll(f, "/", "_")+".txt", data, err)
	}
	var probeOut bytes.Buffer
	r, _ := probe.Cache{}.Report(false)
	werr := r.WriteJSON(&probeOut)
	b.add("probe.json", probeOut.Bytes(), werr)
	b.addAPI(addr, "status.json", func(ctx context.Context, c api.VigilClient) (proto.Message, error) {
		return c.GetStatus(ctx, &api.GetStatusRequest{})
	})
	b.addAPI(addr, "policies.json", func(ctx context.Context, c api.VigilClient) (proto.Message, error) {
		return c.ListPolicies(ctx, &api.ListPoliciesRequest{})
	})
	logs, err := call(addr, func(ctx context.Context, c api.VigilClient) (*api.GetLogsResponse, error) {
		return c.GetLogs(ctx, &api.GetLogsRequest{})
	})
	b.add("agent.log", []byte(strings.Join(logs.GetLines(), "")), err)
	if metrics != "" {
		for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
			data, err := httpGet("http://" + metrics + path)
			b.add("http"+strings.ReplaceAll(path, "/", "_")+".txt", data, err)
		}
	}
	b.add("bpf_programs.txt", bpfPrograms(), nil)
	b.add("bpf_maps.txt", bpfMaps(), nil)
}

// addAPI adds the JSON of an API call's answer.
func (b *bundle) addAPI(addr, name string, do func(context.Context, api.VigilClient) (proto.Message, error)) {
	m, err := call(addr, do)
	if err != nil {
		b.add(name, nil, err)
		return
	}
	data, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
	b.add(name, data, err)
}

// httpGet reads an answer of the agent's HTTP server, whatever its
// status (a 503 from /readyz says why), within 10 s and bugtoolMax bytes.
func httpGet(url string) ([]byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, bugtoolMax))
	return append([]byte(resp.Status+"\n"), body...), err
}

// bpfPrograms lists every BPF program loaded: id, type, name, tag.
func bpfPrograms() []byte {
	var w bytes.Buffer
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return w.Bytes() // no more
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			fmt.Fprintf(&w, "%d\t(gone or not readable: %v)\n", id, err)
			continue
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			fmt.Fprintf(&w, "%d\t(no info: %v)\n", id, err)
			continue
		}
		fmt.Fprintf(&w, "%d\t%s\t%s\t%s\n", id, info.Type, info.Name, info.Tag)
	}
}

// bpfMaps lists every BPF map: id, type, name, sizes and flags; never
// their contents.
func bpfMaps() []byte {
	var w bytes.Buffer
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			return w.Bytes()
		}
		id = next
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			fmt.Fprintf(&w, "%d\t(gone or not readable: %v)\n", id, err)
			continue
		}
		info, err := m.Info()
		m.Close()
		if err != nil {
			fmt.Fprintf(&w, "%d\t(no info: %v)\n", id, err)
			continue
		}
		fmt.Fprintf(&w, "%d\t%s\t%s\tkey %d\tvalue %d\tmax %d\tflags %#x\n", id, info.Type, info.Name,
			info.KeySize, info.ValueSize, info.MaxEntries, info.Flags)
	}
}

// write writes the gzipped tarball, mode 0600: errors.txt, then the files.
func (b *bundle) write(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	now := time.Now()
	all := append([]bundleFile{{"errors.txt", []byte(strings.Join(b.errs, "\n") + "\n")}}, b.files...)
	for _, bf := range all {
		h := &tar.Header{Name: "vigil-bugtool/" + bf.name, Mode: 0o600, Size: int64(len(bf.data)), ModTime: now}
		if err = tw.WriteHeader(h); err == nil {
			_, err = tw.Write(bf.data)
		}
		if err != nil {
			break
		}
	}
	for _, c := range []io.Closer{tw, zw, f} {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
