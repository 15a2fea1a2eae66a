package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/vigil-sec/vigil/pkg/api"
)

// defaultSocket is where the agent's admin API listens by default.
const defaultSocket = "/var/run/vigil/vigil.sock"

// serverFlag adds --server to a client command.
func serverFlag(cmd *cobra.Command, addr *string) {
	cmd.Flags().StringVar(addr, "server", "unix://"+defaultSocket, "the agent's API: unix:///path/to/socket")
}

// dial connects to the agent's API at addr.
func dial(addr string) (api.VigilClient, func(), error) {
	if !strings.HasPrefix(addr, "unix://") {
		return nil, nil, fmt.Errorf("--server %q: only unix:// sockets (TCP needs mutual TLS, which these commands do not set up yet)", addr)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("--server %s: %w", addr, err)
	}
	return api.NewVigilClient(conn), func() { conn.Close() }, nil
}

// call runs one unary call with a timeout, with the agent's message as
// the error.
func call[T any](addr string, do func(context.Context, api.VigilClient) (T, error)) (T, error) {
	var zero T
	c, closeConn, err := dial(addr)
	if err != nil {
		return zero, err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := do(ctx, c)
	if err != nil {
		return zero, fmt.Errorf("%s", status.Convert(err).Message())
	}
	return out, nil
}
