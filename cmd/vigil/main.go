// Command vigil is Vigil's single binary: the node agent and its client
// commands. Cobra provides the command tree, flags and help: it is the
// de facto standard CLI library for Go infrastructure tools.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/server"
	"github.com/vigil-sec/vigil/pkg/simulate"
)

func main() {
	simulate.Main() // a process vigil simulate started for one of its steps runs it and exits
	root := &cobra.Command{
		Use:           "vigil",
		Short:         "Runtime security for Linux and Kubernetes, with eBPF",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	server.Version = buildVersion() // what GetStatus reports
	root.AddCommand(agentCommand(), probeCommand(), policyCommand(), eventsCommand(), statusCommand(), unpinCommand(),
		versionCommand(), bugtoolCommand(), simulateCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "vigil: %v\n", err)
		os.Exit(1)
	}
}
