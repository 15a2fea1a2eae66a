package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/simulate"
	"github.com/vigil-sec/vigil/policies/library"
)

func simulateCommand() *cobra.Command {
	var addr string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "simulate [POLICY...]",
		Short: "Reproduce, harmlessly, what each detection library policy catches, and check the agent reported it (root)",
		Long: `Runs, for each policy of the detection library (policies/library) or each one named, a harmless
reproduction of the behaviour it detects on this machine, and checks that the running agent
posted the policy's event, with its tags, from the reproduction's processes. The library must be
loaded in the agent (vigil policy add policies/library/*.yaml). Exits 1 if any case fails.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("simulate needs root: its reproductions mount file systems, set file capabilities and open files only root may")
			}
			pols, err := library.Policies()
			if err != nil {
				return err
			}
			cases, err := chooseCases(names)
			if err != nil {
				return err
			}
			return runSimulations(cmd.Context(), cmd.OutOrStdout(), addr, cases,
				simulate.Options{Tags: library.Tags(pols), Wait: wait})
		},
	}
	serverFlag(cmd, &addr)
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long each case waits for its event")
	return cmd
}

// chooseCases returns the cases of the named policies, or all of them.
func chooseCases(names []string) ([]simulate.Case, error) {
	if len(names) == 0 {
		return simulate.Cases, nil
	}
	var out []simulate.Case
	for _, n := range names {
		i := slices.IndexFunc(simulate.Cases, func(c simulate.Case) bool { return c.Policy == n })
		if i < 0 {
			var known []string
			for _, c := range simulate.Cases {
				known = append(known, c.Policy)
			}
			return nil, fmt.Errorf("no library policy %q; the library has: %s", n, strings.Join(known, ", "))
		}
		out = append(out, simulate.Cases[i])
	}
	return out, nil
}

// runSimulations checks that the agent has the cases' policies, follows
// its events of them, runs the cases and prints a table of the results.
func runSimulations(ctx context.Context, w io.Writer, addr string, cases []simulate.Case, o simulate.Options) error {
	c, closeConn, err := dial(addr)
	if err != nil {
		return err
	}
	defer closeConn()
	list, err := c.ListPolicies(ctx, &api.ListPoliciesRequest{})
	if err != nil {
		return err
	}
	var names []string
	for _, cs := range cases {
		i := slices.IndexFunc(list.Policies, func(p *api.Policy) bool { return p.Name == cs.Policy })
		if i < 0 || list.Policies[i].State != "loaded" {
			return fmt.Errorf("policy %s is not loaded in the agent: vigil policy add policies/library/%s.yaml", cs.Policy, cs.Policy)
		}
		names = append(names, cs.Policy)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	allow, _ := json.Marshal(map[string][]string{"policy_names": names})
	stream, err := c.GetEvents(ctx, &api.GetEventsRequest{AllowList: string(allow)})
	if err != nil {
		return err
	}
	events := make(chan *event.Event, 4096)
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				return
			}
			var ev event.Event
			if json.Unmarshal(e.Json, &ev) == nil {
				events <- &ev
			}
		}
	}()
	return report(w, simulate.Run(ctx, cases, events, o))
}

// report prints one line per case and fails if any case failed.
func report(w io.Writer, results []simulate.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tRESULT\tREPRODUCTION\tDETAIL")
	failed := 0
	for _, r := range results {
		result, detail := "seen", ""
		if r.Err != nil {
			result, detail = "FAILED", r.Err.Error()
			failed++
		} else {
			detail = "tags " + strings.Join(r.Tags, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Policy, result, r.Does, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d simulations were not seen", failed, len(results))
	}
	return nil
}
