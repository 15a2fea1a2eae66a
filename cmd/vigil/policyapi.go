package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/api"
)

// policyAPICommands are the policy commands that talk to the agent.
func policyAPICommands() []*cobra.Command {
	return []*cobra.Command{policyAddCommand(), policyListCommand(),
		policyChangeCommand("delete", "Remove a policy added through the API",
			func(ctx context.Context, c api.VigilClient, n string) (*api.PolicyResponse, error) {
				return c.DeletePolicy(ctx, &api.PolicyRequest{Name: n})
			}),
		policyChangeCommand("enable", "Put a disabled policy back in the kernel",
			func(ctx context.Context, c api.VigilClient, n string) (*api.PolicyResponse, error) {
				return c.EnablePolicy(ctx, &api.PolicyRequest{Name: n})
			}),
		policyChangeCommand("disable", "Take a policy out of the kernel; it stays listed",
			func(ctx context.Context, c api.VigilClient, n string) (*api.PolicyResponse, error) {
				return c.DisablePolicy(ctx, &api.PolicyRequest{Name: n})
			}),
		policyModeCommand()}
}

func policyAddCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "add FILE",
		Short: "Load TracingPolicy documents into the agent (Sigkill, Signal and Override need the admin role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			out, err := call(addr, func(ctx context.Context, c api.VigilClient) (*api.AddPolicyResponse, error) {
				return c.AddPolicy(ctx, &api.AddPolicyRequest{Yaml: doc})
			})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return writePolicies(cmd.OutOrStdout(), "table", out.Policies)
		},
	}
	serverFlag(cmd, &addr)
	return cmd
}

func policyListCommand() *cobra.Command {
	var addr, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the agent's policies: state, mode, backends, counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := call(addr, func(ctx context.Context, c api.VigilClient) (*api.ListPoliciesResponse, error) {
				return c.ListPolicies(ctx, &api.ListPoliciesRequest{})
			})
			if err != nil {
				return err
			}
			return writePolicies(cmd.OutOrStdout(), output, out.Policies)
		},
	}
	serverFlag(cmd, &addr)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func policyChangeCommand(verb, short string, do func(context.Context, api.VigilClient, string) (*api.PolicyResponse, error)) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := call(addr, func(ctx context.Context, c api.VigilClient) (*api.PolicyResponse, error) {
				return do(ctx, c, args[0])
			})
			if err != nil {
				return err
			}
			if out.Policy == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %sd\n", args[0], strings.TrimSuffix(verb, "e"))
				return nil
			}
			return writePolicies(cmd.OutOrStdout(), "table", []*api.Policy{out.Policy})
		},
	}
	serverFlag(cmd, &addr)
	return cmd
}

func policyModeCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "mode NAME enforce|monitor",
		Short: "Switch a policy between enforce and monitor without reloading it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := call(addr, func(ctx context.Context, c api.VigilClient) (*api.PolicyResponse, error) {
				return c.SetPolicyMode(ctx, &api.SetPolicyModeRequest{Name: args[0], Mode: args[1]})
			})
			if err != nil {
				return err
			}
			return writePolicies(cmd.OutOrStdout(), "table", []*api.Policy{out.Policy})
		},
	}
	serverFlag(cmd, &addr)
	return cmd
}

func writePolicies(w io.Writer, output string, ps []*api.Policy) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ps)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tMODE\tEVENTS\tACTIONS\tSOURCE\tBACKENDS OR ERROR")
		for _, p := range ps {
			detail := strings.Join(p.Backends, ",")
			if len(p.Skipped) > 0 {
				detail += "; skipped " + strings.Join(p.Skipped, "; ")
			}
			if p.Error != "" {
				detail = p.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", p.Name, p.State, p.Mode, p.Events, p.Actions, p.Source, detail)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q: use table or json", output)
}
