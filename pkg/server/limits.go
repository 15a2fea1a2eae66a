package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/filter"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// Limits bound what API clients may take of the agent. A zero field takes
// its default (DefaultLimits).
type Limits struct {
	// Connections is how many connections each listener serves at once;
	// more wait to be accepted.
	Connections int
	// Streams is how many event streams all clients hold at once. Admin
	// clients are never refused by it (unprivileged users must not lock
	// root out), but their streams count.
	Streams int
	// StreamsPerConnection is how many event streams one connection holds.
	StreamsPerConnection int
	// FilterCost is what a GetEvents request's filters may cost (see
	// filter.Client).
	FilterCost int
	// RequestBytes is the largest request message.
	RequestBytes int
	// QueueSize is how many events a stream may lag behind before it
	// loses some.
	QueueSize int
	// PolicyBytes is the largest policy an AddPolicy request may carry
	// (the agent's --policy-max-bytes, as for files).
	PolicyBytes int
}

// DefaultLimits are the limits' defaults.
var DefaultLimits = Limits{Connections: 64, Streams: 64, StreamsPerConnection: 8, FilterCost: 10000,
	RequestBytes: 1 << 20, QueueSize: 4096, PolicyBytes: policy.DefaultMaxBytes}

// The agent's flags for the limits, which refusals name.
const (
	FlagConnections          = "api-max-connections"
	FlagStreams              = "api-max-streams"
	FlagStreamsPerConnection = "api-max-streams-per-connection"
	FlagFilterCost           = "api-max-filter-cost"
	FlagRequestBytes         = "api-max-request-bytes"
)

// withDefaults fills the zero fields and refuses negative ones.
func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits
	for _, f := range []struct {
		v    *int
		def  int
		flag string
	}{{&l.Connections, d.Connections, FlagConnections}, {&l.Streams, d.Streams, FlagStreams},
		{&l.StreamsPerConnection, d.StreamsPerConnection, FlagStreamsPerConnection},
		{&l.FilterCost, d.FilterCost, FlagFilterCost}, {&l.RequestBytes, d.RequestBytes, FlagRequestBytes},
		{&l.QueueSize, d.QueueSize, "queue size"}, {&l.PolicyBytes, d.PolicyBytes, "policy-max-bytes"}} {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("--%s: %d: want a positive number", f.flag, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return l, nil
}

// streams counts event streams, in total and per connection, and refuses
// those over the limits.
type streams struct {
	limits Limits
	total  atomic.Int64
}

// connKey finds a connection's count of event streams in a call's context.
type connKey struct{}

// admit counts a new event stream of the call in ctx, or refuses it;
// release uncounts it.
func (s *streams) admit(ctx context.Context) (release func(), err error) {
	conn, ok := ctx.Value(connKey{}).(*atomic.Int64)
	if !ok {
		return nil, status.Error(codes.Internal, "event stream on an untracked connection")
	}
	if n := conn.Add(1); n > int64(s.limits.StreamsPerConnection) {
		conn.Add(-1)
		return nil, status.Errorf(codes.ResourceExhausted, "this connection holds %d event streams, the limit (--%s)",
			s.limits.StreamsPerConnection, FlagStreamsPerConnection)
	}
	if n := s.total.Add(1); n > int64(s.limits.Streams) && roleIn(ctx) < RoleAdmin {
		s.total.Add(-1)
		conn.Add(-1)
		return nil, status.Errorf(codes.ResourceExhausted, "clients hold %d event streams, the limit (--%s)",
			s.limits.Streams, FlagStreams)
	}
	return func() { s.total.Add(-1); conn.Add(-1) }, nil
}

// compileFilters compiles a GetEvents request's filters within the cost
// limit.
func (s *streams) compileFilters(allow, deny string) (func(*event.Event) bool, error) {
	accept, err := filter.Client(allow, deny, s.limits.FilterCost)
	switch {
	case errors.Is(err, filter.ErrCost):
		return nil, status.Errorf(codes.ResourceExhausted, "filters: %v (--%s)", err, FlagFilterCost)
	case err != nil:
		return nil, status.Errorf(codes.InvalidArgument, "filters: %v", err)
	}
	return accept, nil
}

// connTagger gives every connection a count of its event streams, in the
// context its calls' contexts derive from.
type connTagger struct{}

func (connTagger) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, new(atomic.Int64))
}

func (connTagger) HandleConn(context.Context, stats.ConnStats)                     {}
func (connTagger) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connTagger) HandleRPC(context.Context, stats.RPCStats)                       {}
