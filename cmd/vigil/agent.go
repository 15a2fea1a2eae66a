package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/broadcast"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/export"
	"github.com/vigil-sec/vigil/pkg/filter"
	"github.com/vigil-sec/vigil/pkg/kubewatch"
	"github.com/vigil-sec/vigil/pkg/logring"
	"github.com/vigil-sec/vigil/pkg/memtune"
	"github.com/vigil-sec/vigil/pkg/metrics"
	"github.com/vigil-sec/vigil/pkg/output"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/server"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

type agentFlags struct {
	cfg        agent.Config
	logLevel   string
	file       export.FileOptions
	k8s        bool
	ia32       bool
	kubeconfig string
	stateDir   string
	api        server.Config

	metricsAddr, metricsLabels        string
	filters                           filter.Options
	sinks                             sinkFlags
	guardrails                        []string
	guardrailsConfigMap               string
	responses                         responseFlags
	client                            *kubewatch.Core // with --enable-k8s-api
	heapHeadroomMB, heapHeadroomMaxMB int
	tetragon                          tetragonFlags
}

func agentCommand() *cobra.Command {
	var f agentFlags
	host, _ := os.Hostname()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: trace processes and write events as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.tetragon.configDir != "" {
				if err := readConfigDir(cmd.Flags(), f.tetragon.configDir); err != nil {
					return err
				}
			}
			if err := f.tetragon.apply(&f); err != nil {
				return err
			}
			return runAgent(&f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cfg.Process.NodeName, "node-name", host, "node name in events and exec_ids")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fl.StringVar(&f.file.Path, "export-filename", "", "write events to this file (created 0600) instead of stdout")
	fl.IntVar(&f.file.MaxSizeMB, "export-file-max-size-mb", 10, "rotate the export file at this size")
	fl.IntVar(&f.file.MaxBackups, "export-file-rotation-max-backups", 5, "rotated export files kept")
	fl.BoolVar(&f.file.Compress, "export-file-compress", false, "gzip rotated export files")
	fl.BoolVar(&f.file.AllowShared, "export-file-allow-shared", false, "accept an existing export file that another user owns, that group or others may open, or that has other hard links (refused by default; a symbolic link is always refused)")
	fl.Var(ancestorsFlag{&f.cfg.Process.Ancestors}, "enable-ancestors", "add every ancestor process to events: to all (bare flag, or true), or to those of Tetragon's list of event types (base: process_exec and process_exit; kprobe, tracepoint, uprobe, lsm, usdt: need base)")
	fl.Lookup("enable-ancestors").NoOptDefVal = "true"
	fl.BoolVar(&f.cfg.Process.Credentials, "enable-process-cred", false, "add capabilities and credentials to processes")
	fl.BoolVar(&f.cfg.Process.Namespaces, "enable-process-ns", false, "add namespaces to processes")
	fl.IntVar(&f.cfg.Process.Capacity, "process-cache-size", process.DefaultCapacity, "process images kept in memory at most")
	fl.IntVar(&f.heapHeadroomMB, "heap-headroom-mb", 4, "let the Go heap grow at least this many MiB over what is live before collecting (not less than an eighth of it); 0: GOGC alone")
	fl.IntVar(&f.heapHeadroomMaxMB, "heap-headroom-max-mb", 32, "under a burst of events, let the Go heap grow by what it allocates in 100 ms, up to this many MiB over what is live")
	fl.StringArrayVar(&f.cfg.PolicyFiles, "tracing-policy", nil, "load a TracingPolicy file (repeatable); reloaded when it changes")
	fl.StringVar(&f.cfg.PolicyDir, "tracing-policy-dir", "", "load every *.yaml and *.yml TracingPolicy file in this directory; reloaded on change")
	fl.BoolVar(&f.cfg.Tracing.Keep, "keep-enforcement", false, "pin programs, maps and links under --bpf-pin-dir so that they go on enforcing while the agent is down (crash, OOM, upgrade), and store the policies under --state-dir; the next agent adopts them with no gap ('vigil unpin' removes them)")
	fl.StringVar(&f.cfg.Tracing.PinDir, "bpf-pin-dir", "/sys/fs/bpf/vigil", "bpffs folder of what --keep-enforcement pins; an agent releases what earlier agents left there once it enforces")
	fl.StringVar(&f.stateDir, "state-dir", "/var/lib/vigil", "folder of what outlives the agent with --keep-enforcement: the policies it loaded")
	fl.DurationVar(&f.cfg.IdentityRefresh, "identity-refresh", time.Second, "look up the files and directories that policies name this often, so that a replaced file is matched by its new inode")
	fl.DurationVar(&f.cfg.PolicySettle, "tracing-policy-settle", time.Second, "load a changed policy file once it has not changed for this long (write files elsewhere and rename them in to load at once)")
	fl.Int64Var(&f.cfg.PolicyMaxBytes, "policy-max-bytes", policy.DefaultMaxBytes, "the size a policy file or API request may have")
	fl.BoolVar(&f.ia32, "ia32-syscalls", true, "hook ia32 syscalls (32-bit processes, int 0x80) beside the x86_64 ones where the kernel runs ia32 code; false leaves them unwatched, and on kernels without kprobes and fentry spares every unhooked syscall the raw syscall tracepoint")
	fl.StringVar(&f.cfg.SyscallBackend, "syscall-backend", "auto", "backend of syscall hooks: auto (kprobe, fentry, then the syscall's own tracepoint or else the raw syscall tracepoint, the first the kernel has), kprobe, fentry, syscall_tracepoint or raw_syscall_tracepoint")
	fl.IntVar(&f.cfg.Tracing.RingBufferSize, "rb-size", tracing.DefaultRingBufferSize, "kernel ring buffer size in bytes (power of two)")
	fl.StringVar(&f.cfg.Tracing.HostRoot, "host-root", "/", "where the files and directories that policies name are looked up, to match them by identity too (in a container with the host's pid namespace: /proc/1/root)")
	fl.IntVar(&f.cfg.Tracing.StackTraces, "stack-trace-map-entries", tracing.DefaultStackTraces, "stack traces (kernelStackTrace, userStackTrace) the kernel holds until the agent reads them; about 1 KiB of kernel memory each")
	fl.BoolVar(&f.cfg.ExposeStackAddresses, "expose-stack-addresses", false, "put the addresses of stack trace frames in events (they defeat kernel and user address space randomization)")
	f.cfg.Beacon = beacon.DefaultConfig
	fl.StringVar(&f.cfg.Beacon.DNSServer, "dns-lookup-server", beacon.DefaultConfig.DNSServer, "the DNS server (host:port) that the DnsLookup action asks, as Tetragon's does")
	fl.BoolVar(&f.k8s, "enable-k8s-api", false, "load TracingPolicy resources from the Kubernetes API server, and add the pod and container of each process to events (pods of --node-name)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file for --enable-k8s-api (default: the in-cluster service account)")
	fl.DurationVar(&f.cfg.PodHold, "k8s-pod-wait", 2*time.Second, "how long an event waits for its pod to be known")
	apiFlags(cmd, &f.api)
	exportFlags(cmd, &f.filters)
	sinkFlagsOf(cmd, &f.sinks)
	responseFlagsOf(cmd, &f.responses)
	fl.StringArrayVar(&f.guardrails, "guardrails", nil, "Rego guardrails (a .rego file or a directory of them; repeatable): their deny messages refuse a policy about to load, from any source")
	fl.StringVar(&f.guardrailsConfigMap, "guardrails-configmap", "", "namespace/name of a ConfigMap of Rego guardrails (file name -> module), followed as it changes; needs --enable-k8s-api")
	fl.StringVar(&f.metricsAddr, "metrics-address", "127.0.0.1:2112", "serve Prometheus metrics on /metrics at this address; \"\" for none")
	fl.StringVar(&f.metricsLabels, "metrics-labels", "", "extra labels of vigil_events_total: namespace, pod, binary (comma-separated; each multiplies the series)")
	f.tetragon.register(fl)
	return cmd
}

// exportFlags are Tetragon's export options.
func exportFlags(cmd *cobra.Command, o *filter.Options) {
	fl := cmd.Flags()
	fl.StringVar(&o.Allow, "export-allowlist", "", "export only events matching these filters (JSON, one object per line)")
	fl.StringVar(&o.Deny, "export-denylist", "", "never export events matching these filters")
	fl.StringVar(&o.FieldFilters, "field-filters", "", "fields exported events show (JSON: fields, event_set, action INCLUDE or EXCLUDE)")
	fl.StringVar(&o.Redactions, "redaction-filters", "", "regexes whose capture groups are masked in arguments, in every output (JSON: redact, binary_regex)")
	fl.IntVar(&o.RateLimit, "export-rate-limit", 0, "export at most this many events a minute (0: no limit); a rate_limit_info record counts the rest")
	fl.BoolVar(&o.Strict, "export-tetragon-strict", false, "export events as Tetragon writes them, for strict parsers: without Vigil's additions (cgroup, backend, mode, incomplete), lost_events records as rate_limit_info")
}

func apiFlags(cmd *cobra.Command, c *server.Config) {
	fl := cmd.Flags()
	fl.StringVar(&c.Socket, "api-socket", defaultSocket, "the API's admin socket (mode 0600, root only); \"\" for none")
	fl.StringVar(&c.ReadOnlySocket, "api-readonly-socket", "", "a read-only API socket (stream events, list policies, status)")
	fl.StringVar(&c.TetragonSocket, "tetragon-api-socket", "", "a socket of its own for Tetragon's gRPC API (admin role, mode 0600; tetra --server-address unix://PATH); the other API sockets serve it too")
	fl.StringVar(&c.ReadOnlyGroup, server.FlagReadOnlyGroup, "", "group allowed on the read-only socket (mode 0660); default: \""+server.DefaultGroup+"\" if that group exists, else root only (0600)")
	fl.BoolVar(&c.ReadOnlyWorld, server.FlagReadOnlyWorld, false, "make the read-only socket mode 0666: every local user may stream events, list policies and read the status")
	fl.StringVar(&c.TCP.Address, "api-tcp-address", "", "also serve the API on this host:port, with mutual TLS")
	fl.StringVar(&c.TCP.CertFile, "api-tls-cert", "", "the API's TLS certificate (for --api-tcp-address)")
	fl.StringVar(&c.TCP.KeyFile, "api-tls-key", "", "its key")
	fl.StringVar(&c.TCP.ClientCA, "api-tls-client-ca", "", "CA of the client certificates; organization vigil:admin or vigil:operator gives that role, others are read-only")
	d := server.DefaultLimits
	fl.IntVar(&c.Limits.Connections, server.FlagConnections, d.Connections, "connections each API listener serves at once; more wait")
	fl.IntVar(&c.Limits.Streams, server.FlagStreams, d.Streams, "event streams all API clients hold at once (admin clients are never refused by it)")
	fl.IntVar(&c.Limits.StreamsPerConnection, server.FlagStreamsPerConnection, d.StreamsPerConnection, "event streams one API connection holds at once")
	fl.IntVar(&c.Limits.FilterCost, server.FlagFilterCost, d.FilterCost, "what an event stream's filters may cost: 1 a line and a list element, a regular expression its compiled instructions")
	fl.IntVar(&c.Limits.RequestBytes, server.FlagRequestBytes, d.RequestBytes, "largest API request in bytes")
}

// startPods starts the node's pod index; the API server being down does
// not stop the agent: the informer retries, events go out without pods.
func startPods(ctx context.Context, f *agentFlags) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig) // in-cluster when empty
	if err != nil {
		return fmt.Errorf("--enable-k8s-api: %w", err)
	}
	client, err := kubewatch.NewCore(cfg)
	if err != nil {
		return fmt.Errorf("--enable-k8s-api: %w", err)
	}
	f.cfg.Pods = pods.New(client.Pods(""), f.cfg.Process.NodeName)
	f.cfg.Pods.Start(ctx)
	f.cfg.Kube, f.client = cfg, client
	return nil
}

// memtune is the heap's tuning from --heap-headroom-mb and
// --heap-headroom-max-mb.
func (f *agentFlags) memtune() (memtune.Config, error) {
	switch {
	case f.heapHeadroomMB < 0:
		return memtune.Config{}, fmt.Errorf("--heap-headroom-mb %d: must not be negative (0 leaves the heap to GOGC)", f.heapHeadroomMB)
	case f.heapHeadroomMaxMB < f.heapHeadroomMB:
		return memtune.Config{}, fmt.Errorf("--heap-headroom-max-mb %d: must not be under --heap-headroom-mb (%d)", f.heapHeadroomMaxMB, f.heapHeadroomMB)
	}
	return memtune.Config{
		Min: uint64(f.heapHeadroomMB) << 20, Max: uint64(f.heapHeadroomMaxMB) << 20,
		Period: 100 * time.Millisecond, Floor: 12, Every: 500 * time.Millisecond,
	}, nil
}

// What the agent keeps of its log for vigil bugtool (GetLogs).
const (
	recentLogLines = 2000
	recentLogBytes = 1 << 20
)

func runAgent(f *agentFlags) error {
	level, err := logrus.ParseLevel(f.logLevel)
	if err != nil {
		return err
	}
	logrus.SetLevel(level)
	logrus.SetOutput(os.Stderr)
	recent := logring.New(recentLogLines, recentLogBytes)
	logrus.AddHook(recent)
	f.api.RecentLogs = recent.Lines
	out := export.Stdout()
	if f.file.Path != "" {
		if out, err = export.File(f.file); err != nil {
			return err
		}
	}
	defer out.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tune, err := f.memtune()
	if err != nil {
		return err
	}
	go memtune.Run(ctx, tune)
	if f.k8s {
		if err := startPods(ctx, f); err != nil {
			return err
		}
	}
	g, err := guardrails(ctx, f.guardrails, f.guardrailsConfigMap, f.client)
	if err != nil {
		return err
	}
	if g != nil {
		f.cfg.Guard = g
	}
	sinks, named, err := f.sinks.open(f.cfg.Process.NodeName, f.filters.Strict)
	if err != nil {
		return err
	}
	defer closeSinks(sinks)
	exported := append([]output.Exporter{out}, exporters(sinks)...)
	responder, err := f.responses.start(ctx, f.client, named)
	if err != nil {
		return err
	}
	if responder != nil {
		defer responder.Close()
		exported = append(exported, responder)
	}
	hub := broadcast.New()
	outs, err := outputs(f, hub, exported)
	if err != nil {
		return err
	}
	if f.cfg.Tracing.Keep {
		f.cfg.StateDir = f.stateDir
	}
	f.cfg.NoIA32 = !f.ia32
	// a request carries a policy of --policy-max-bytes, with room to spare
	f.api.Limits.PolicyBytes = int(f.cfg.PolicyMaxBytes)
	if f.api.Limits.RequestBytes == 0 && f.cfg.PolicyMaxBytes > policy.DefaultMaxBytes {
		f.api.Limits.RequestBytes = int(f.cfg.PolicyMaxBytes) + 64<<10
	}
	a, err := agent.New(f.cfg, outs)
	if err != nil {
		return err
	}
	if f.metricsAddr != "" {
		labels, err := metrics.ParseLabels(f.metricsLabels)
		if err != nil {
			return err
		}
		reg := metrics.New(a, metrics.Source{Losses: func() map[string]uint64 {
			return map[string]uint64{broadcast.LostSubscriberQueue: hub.Dropped(), event.LostExportWrite: out.Lost(),
				filter.LostRateLimit: outs.Filter.Counters().DroppedByRateLimit}
		}, Sinks: sinkStats(sinks), Rego: regoStats(g, responder)}, labels)
		outs.Live = append(outs.Live, reg.Events)
		l, err := reg.Serve(f.metricsAddr, healthHandlers(a))
		if err != nil {
			return err
		}
		defer l.Close()
	}
	srv, err := server.Start(f.api, a, hub)
	if err != nil {
		return err
	}
	defer srv.Stop()
	logrus.WithField("node", f.cfg.Process.NodeName).Info("vigil agent running")
	err = a.Run(ctx)
	logrus.Info("vigil agent stopped")
	return err
}

// outputs builds the agent's outputs: API subscribers see every event,
// redacted; the export filters decide what the file and sinks receive.
func outputs(f *agentFlags, hub *broadcast.Hub, exported []output.Exporter) (*output.Output, error) {
	f.filters.NodeName = f.cfg.Process.NodeName
	exp, err := filter.New(f.filters)
	if err != nil {
		return nil, err
	}
	o := &output.Output{Live: []output.Sink{hub}, Filter: exp, Exported: exported, NodeName: f.cfg.Process.NodeName}
	if f.filters.Redactions != "" { // no pass per event over nothing to redact
		if o.Redact, err = filter.New(filter.Options{Redactions: f.filters.Redactions}); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ancestorsFlag is --enable-ancestors: Tetragon's list of event types, or
// a bare flag for all of them.
type ancestorsFlag struct{ a *process.Ancestors }

func (f ancestorsFlag) String() string { return f.a.String() }
func (f ancestorsFlag) Type() string   { return "list" }

func (f ancestorsFlag) Set(s string) (err error) {
	*f.a, err = process.ParseAncestors(s)
	return err
}
