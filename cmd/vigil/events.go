package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/compact"
	"github.com/vigil-sec/vigil/pkg/event"
)

func eventsCommand() *cobra.Command {
	var addr, output, allow, deny, colorMode string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Stream the agent's events (read-only role is enough)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "json" && output != "compact" {
				return fmt.Errorf("-o %q: use compact or json", output)
			}
			c, closeConn, err := dial(addr)
			if err != nil {
				return err
			}
			defer closeConn()
			stream, err := c.GetEvents(cmd.Context(), &api.GetEventsRequest{AllowList: allow, DenyList: deny})
			if err != nil {
				return err
			}
			return printEvents(stream, cmd.OutOrStdout(), output, useColor(colorMode))
		},
	}
	serverFlag(cmd, &addr)
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "json", "json (one event per line) or compact (one readable line per event)")
	fl.StringVar(&allow, "allow", "", "only events matching these filters (export filter JSON, one object per line)")
	fl.StringVar(&deny, "deny", "", "no events matching these filters")
	fl.StringVar(&colorMode, "color", "auto", "compact colors: auto (on a terminal), always or never")
	return cmd
}

func useColor(mode string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return term.IsTerminal(int(os.Stdout.Fd()))
}

type eventStream interface {
	Recv() (*api.Event, error)
	Context() context.Context
}

func printEvents(stream eventStream, w io.Writer, output string, color bool) error {
	p := compact.New(color)
	for {
		e, err := stream.Recv()
		if err != nil {
			if err == io.EOF || stream.Context().Err() != nil {
				return nil
			}
			return err
		}
		if output == "json" {
			fmt.Fprintf(w, "%s\n", e.Json)
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(e.Json, &ev); err != nil {
			return fmt.Errorf("an event from the agent: %w", err)
		}
		fmt.Fprintln(w, p.Line(&ev))
	}
}
