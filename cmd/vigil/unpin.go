package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// unpinCommand removes what --keep-enforcement left in the kernel and on
// disk: run it with the agent stopped, to take Vigil off a node.
func unpinCommand() *cobra.Command {
	var pinDir, stateDir string
	var policies bool
	cmd := &cobra.Command{
		Use:   "unpin",
		Short: "Remove the programs a stopped agent left enforcing (--keep-enforcement), and with --policies its stored policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := tracing.Unpin(pinDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "released %d pinned generation(s) under %s\n", n, pinDir)
			if !policies {
				return nil
			}
			if err := os.RemoveAll(filepath.Join(stateDir, "policies")); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the stored policies under %s\n", stateDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&pinDir, "bpf-pin-dir", "/sys/fs/bpf/vigil", "the agent's --bpf-pin-dir")
	cmd.Flags().StringVar(&stateDir, "state-dir", "/var/lib/vigil", "the agent's --state-dir")
	cmd.Flags().BoolVar(&policies, "policies", false, "also remove the stored policies (the API's, and the others' last versions)")
	return cmd
}
