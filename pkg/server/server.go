// Package server serves the agent's gRPC API (pkg/api), and Tetragon's
// (tetragon.go), on unix sockets and, optionally, TCP with mutual TLS.
// Every listener has a role: the admin sockets (root only, 0600) are admin,
// the read-only socket (0660 with a group, by default) read-only, and a TCP
// client's role comes from its certificate's organization. Clients are bounded (Limits): connections,
// event streams per connection and in total, request sizes and what their
// event filters cost, which run in each stream's own goroutine.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cilium/tetragon/api/v1/tetragon"
	"github.com/sirupsen/logrus"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/broadcast"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// Agent is what the API serves.
type Agent interface {
	ListPolicies() []agent.PolicyInfo
	Policy(name string) (agent.PolicyInfo, bool)
	AddPolicies(docs []policy.Policy, role string) error
	DeletePolicy(name string) error
	EnablePolicy(name, role string) error
	DisablePolicy(name string) error
	SetPolicyMode(name, mode string) error
	Status() agent.Status
	Health() agent.Health
}

// Config says where the API listens and what clients may take.
type Config struct {
	Socket         string // admin role, mode 0600
	ReadOnlySocket string // read-only role; "" for none
	// ReadOnlyGroup may use ReadOnlySocket (mode 0660); "": DefaultGroup
	// if the system has it, else root only (0600).
	ReadOnlyGroup string
	// ReadOnlyWorld makes ReadOnlySocket mode 0666: every local user may
	// stream events, list policies and read the status.
	ReadOnlyWorld bool
	// TetragonSocket is a socket of its own for Tetragon's API (admin
	// role, mode 0600), where tetra and Tetragon's clients look for one;
	// "" for none. Every listener serves Tetragon's API beside Vigil's.
	TetragonSocket string
	TCP            TCPConfig
	Limits         Limits
	// RecentLogs are the agent's recent log lines, for GetLogs; nil: none.
	RecentLogs func() []string
}

// Server is the running API.
type Server struct {
	limits  Limits
	servers []*grpc.Server
	wg      sync.WaitGroup
}

// Start listens as cfg says and serves until Stop.
func Start(cfg Config, a Agent, hub *broadcast.Hub) (*Server, error) {
	limits, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	mode, group, err := readOnlyAccess(cfg.ReadOnlyGroup, cfg.ReadOnlyWorld, DefaultGroup)
	if err != nil {
		return nil, err
	}
	svc := &service{agent: a, hub: hub, streams: &streams{limits: limits}, logs: cfg.RecentLogs}
	s := &Server{limits: limits}
	if cfg.Socket != "" {
		l, err := listenUnix(cfg.Socket, 0o600, "")
		if err != nil {
			return nil, err
		}
		s.serve(l, fixedRole(RoleAdmin), svc)
	}
	if cfg.TetragonSocket != "" {
		l, err := listenUnix(cfg.TetragonSocket, 0o600, "")
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.serve(l, fixedRole(RoleAdmin), svc)
	}
	if cfg.ReadOnlySocket != "" {
		l, err := listenUnix(cfg.ReadOnlySocket, mode, group)
		if err != nil {
			s.Stop()
			return nil, err
		}
		logrus.WithFields(logrus.Fields{"socket": cfg.ReadOnlySocket, "mode": fmt.Sprintf("%04o", mode),
			"group": group}).Info("API read-only socket")
		s.serve(l, fixedRole(RoleReadOnly), svc)
	}
	if cfg.TCP.Address != "" {
		l, creds, err := listenTLS(cfg.TCP)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.serve(l, certRole, svc, grpc.Creds(creds))
	}
	return s, nil
}

// unaryRoom is how many calls besides its event streams one connection may
// have in flight; more wait their turn in the client.
const unaryRoom = 16

func (s *Server) serve(l net.Listener, role roleOf, svc *service, opts ...grpc.ServerOption) {
	l = netutil.LimitListener(l, s.limits.Connections)
	opts = append(opts, grpc.UnaryInterceptor(role.unary), grpc.StreamInterceptor(role.stream),
		grpc.StatsHandler(connTagger{}), grpc.MaxRecvMsgSize(s.limits.RequestBytes),
		grpc.MaxConcurrentStreams(uint32(s.limits.StreamsPerConnection+unaryRoom)),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}))
	g := grpc.NewServer(opts...)
	api.RegisterVigilServer(g, svc)
	tetragon.RegisterFineGuidanceSensorsServer(g, &tetragonService{vigil: svc})
	s.servers = append(s.servers, g)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := g.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			logrus.WithError(err).WithField("address", l.Addr().String()).Error("API listener stopped")
		}
	}()
	logrus.WithField("address", l.Addr().String()).Info("API listening")
}

// Stop closes the listeners and ends the streams.
func (s *Server) Stop() {
	for _, g := range s.servers {
		g.Stop()
	}
	s.wg.Wait()
}

// roleOf finds a call's role.
type roleOf func(ctx context.Context) Role

func fixedRole(r Role) roleOf { return func(context.Context) Role { return r } }

type roleKey struct{}

func (f roleOf) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(context.WithValue(ctx, roleKey{}, f(ctx)), req)
}

func (f roleOf) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &roleStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), roleKey{}, f(ss.Context()))})
}

type roleStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (r *roleStream) Context() context.Context { return r.ctx }

func roleIn(ctx context.Context) Role {
	r, _ := ctx.Value(roleKey{}).(Role)
	return r
}
