package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

func policyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Check TracingPolicy files; add, list and change the agent's policies"}
	cmd.AddCommand(policyCheckCommand())
	cmd.AddCommand(policyAPICommands()...)
	return cmd
}

// checkResult is the verdict on one policy document, or on a file that
// did not parse (Policy empty).
type checkResult struct {
	File     string   `json:"file"`
	Policy   string   `json:"policy,omitempty"`
	Loads    bool     `json:"loads"`
	Hooks    []string `json:"hooks,omitempty"`   // function and backend of each hook
	Skipped  []string `json:"skipped,omitempty"` // calls ignore.callNotFound left out
	Caveats  []string `json:"caveats,omitempty"` // hooks served by a fallback, and how it differs
	Problems []string `json:"problems,omitempty"`
}

func policyCheckCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Say whether each policy loads on this kernel, through which backends, or exactly what is missing",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			kernel, info := probe.Cached()
			warnCache(cmd.ErrOrStderr(), info)
			var results []checkResult
			for _, f := range files {
				results = append(results, checkFile(f, kernel)...)
			}
			if err := writeCheck(cmd.OutOrStdout(), output, results); err != nil {
				return err
			}
			for _, r := range results {
				if !r.Loads {
					return errors.New("some policies do not load")
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func checkFile(file string, kernel probe.Report) []checkResult {
	docs, err := policy.ParseFile(file)
	if err != nil {
		return []checkResult{{File: file, Problems: problems(err)}}
	}
	var out []checkResult
	for _, p := range docs {
		r := checkResult{File: file, Policy: p.GetName()}
		c, err := compile.Compile(p, compile.Target{Kernel: kernel, NoIA32: compile.KernelRunsNoIA32(kernel)})
		if err != nil {
			r.Problems = problems(err)
		} else {
			r.Loads = true
			for _, h := range c.Hooks {
				if hook := h.Function + " via " + h.Backend; !slices.Contains(r.Hooks, hook) {
					r.Hooks = append(r.Hooks, hook) // a fallback spans several syscalls
				}
			}
			r.Skipped, r.Caveats = c.Skipped, c.Caveats
		}
		out = append(out, r)
	}
	return out
}

func problems(err error) []string {
	var list policy.ErrorList
	if errors.As(err, &list) {
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

func writeCheck(w io.Writer, output string, results []checkResult) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tPOLICY\tLOADS\tHOOKS OR PROBLEMS")
		for _, r := range results {
			detail := append(r.Hooks, r.Problems...)
			for _, s := range r.Skipped {
				detail = append(detail, "skipped "+s)
			}
			for _, s := range r.Caveats {
				detail = append(detail, "fallback "+s)
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", r.File, r.Policy, r.Loads, first(detail))
			for _, d := range rest(detail) {
				fmt.Fprintf(tw, "\t\t\t%s\n", d)
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q: use table or json", output)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func rest(s []string) []string {
	if len(s) < 2 {
		return nil
	}
	return s[1:]
}
