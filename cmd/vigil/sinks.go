package main

import (
	"errors"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/metrics"
	"github.com/vigil-sec/vigil/pkg/output"
	"github.com/vigil-sec/vigil/pkg/sink"
)

type sinkFlags struct {
	specs    []string
	spoolDir string
	maxBytes int64
}

func sinkFlagsOf(cmd *cobra.Command, f *sinkFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.specs, "sink", nil, "also deliver exported events to a SIEM (repeatable): syslog+tls://host:6514?ca=FILE, "+
		"syslog+tcp://host:514, syslog+relp://host:2514, splunk-hec+https://host:8088?token=T, webhook+https://host/path, "+
		"otlp+grpc://host:4317, otlp+http://host:4318; NAME=SPEC names it for response rules")
	fl.StringVar(&f.spoolDir, "sink-spool-dir", "/var/lib/vigil/spool", "where each sink spools what its receiver has not taken yet (one directory per sink, 0700)")
	fl.Int64Var(&f.maxBytes, "sink-spool-max-bytes", 64<<20, "a sink's spool bound; beyond it events are dropped, counted and reported in-band")
}

// open opens every sink; each spools under a directory named after its
// whole spec (sink.SpoolName: the receiver, then a hash of the normalized
// spec, options included), so that a restart resumes its spool and two
// sinks never share one. Spool directories named by an older version (the
// receiver only) are left alone. A spec "NAME=SPEC" names
// its sink for response rules; the others go by their receiver.
func (f *sinkFlags) open(node string, strict bool) ([]*sink.Sink, map[string]output.Exporter, error) {
	var out []*sink.Sink
	named := map[string]output.Exporter{}
	for _, spec := range f.specs {
		name, spec := sinkName(spec)
		t, err := sink.ParseSpec(spec, node)
		if err != nil {
			closeSinks(out)
			return nil, nil, err
		}
		base, err := sink.SpoolName(spec)
		if err != nil {
			t.Close()
			closeSinks(out)
			return nil, nil, err
		}
		s, err := sink.New(t, sink.Options{Dir: filepath.Join(f.spoolDir, base), MaxBytes: f.maxBytes, NodeName: node,
			Strict: strict})
		if err != nil {
			t.Close()
			closeSinks(out)
			return nil, nil, err
		}
		out = append(out, s)
		if name == "" {
			name = s.Name()
		}
		named[name] = s
	}
	return out, named, nil
}

var sinkNamed = regexp.MustCompile(`^([A-Za-z0-9_-]+)=(.+)$`)

// sinkName splits "NAME=SPEC"; a spec without a name gives "".
func sinkName(spec string) (name, rest string) {
	if m := sinkNamed.FindStringSubmatch(spec); m != nil {
		return m[1], m[2]
	}
	return "", spec
}

func closeSinks(sinks []*sink.Sink) error {
	var errs []error
	for _, s := range sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

func exporters(sinks []*sink.Sink) []output.Exporter {
	out := make([]output.Exporter, len(sinks))
	for i, s := range sinks {
		out[i] = s
	}
	return out
}

// sinkStats reads each sink's numbers for the metrics.
func sinkStats(sinks []*sink.Sink) func() []metrics.SinkStats {
	return func() []metrics.SinkStats {
		out := make([]metrics.SinkStats, len(sinks))
		for i, s := range sinks {
			st := s.Stats()
			out[i] = metrics.SinkStats{Name: s.Name(), Delivered: st.Delivered, SpoolFull: st.Dropped,
				Rejected: st.Rejected, Corrupt: st.Corrupt, Stalls: st.Stalls, SpoolBytes: uint64(st.SpoolBytes), LagSeconds: st.Lag.Seconds()}
		}
		return out
	}
}
