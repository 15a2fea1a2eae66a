package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/api"
)

func statusCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "The agent's health: uptime, events, losses by where they happened",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := call(addr, func(ctx context.Context, c api.VigilClient) (*api.Status, error) {
				return c.GetStatus(ctx, &api.GetStatusRequest{})
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "node %s, vigil %s, up %ds, your role: %s\n", st.NodeName, st.Version, st.UptimeSeconds, st.Role)
			fmt.Fprintf(w, "events: %d, processes cached: %d\n", st.Events, st.ProcessCacheSize)
			reasons := make([]string, 0, len(st.Lost))
			for r := range st.Lost {
				reasons = append(reasons, r)
			}
			sort.Strings(reasons)
			for _, r := range reasons {
				fmt.Fprintf(w, "lost (%s): %d\n", r, st.Lost[r])
			}
			return nil
		},
	}
	serverFlag(cmd, &addr)
	return cmd
}
