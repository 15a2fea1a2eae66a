package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/probe"
)

func probeCommand() *cobra.Command {
	var output string
	var fresh bool
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Show which BPF features the running kernel offers, by loading and attaching test programs (needs root)",
		Long: "Show which BPF features the running kernel offers, by loading and attaching test programs (needs root).\n" +
			"Vigil probes once per boot and keeps the report in " + probe.DefaultCacheDir + "; --fresh probes again and replaces it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("unknown output format %q: use table or json", output)
			}
			r, info := probe.Cache{}.Report(fresh)
			warnCache(cmd.ErrOrStderr(), info)
			if info.Hit {
				fmt.Fprintf(cmd.ErrOrStderr(), "vigil: probed earlier this boot (cached in %s); --fresh probes again\n", probe.DefaultCacheDir)
			}
			if output == "json" {
				return r.WriteJSON(cmd.OutOrStdout())
			}
			return r.WriteTable(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&fresh, "fresh", false, "probe again instead of reading this boot's cached report, and replace it")
	return cmd
}

// warnCache says on w what went wrong with the probe cache: the report is
// right anyway, but the next process will probe again.
func warnCache(w io.Writer, info probe.CacheInfo) {
	if info.Ignored != nil {
		fmt.Fprintf(w, "vigil: warning: ignored the cached probe report: %v\n", info.Ignored)
	}
	if info.Err != nil {
		fmt.Fprintf(w, "vigil: warning: %v\n", info.Err)
	}
}
