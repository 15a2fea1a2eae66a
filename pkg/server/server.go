// Package server serves the agent's gRPC API (pkg/api) on unix sockets and,
// optionally, TCP with mutual TLS. Every listener has a role: the admin
// socket (root only, 0600) is admin, the read-only socket read-only, and a
// TCP client's role comes from its certificate's organization.
package server

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/broadcast"
	"github.com/vigil-sec/vigil/pkg/event"
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
}

// Filter compiles a GetEvents request's filters into the events it takes.
type Filter func(allow, deny string) (func(*event.Event) bool, error)

// Config says where the API listens.
type Config struct {
	Socket         string // admin role, mode 0600
	ReadOnlySocket string // read-only role; "" for none
	ReadOnlyGroup  string // group that may use ReadOnlySocket (mode 0660); "": everyone (0666)
	TCP            TCPConfig
	QueueSize      int // events a GetEvents client may lag behind before losing some
}

// Server is the running API.
type Server struct {
	servers []*grpc.Server
	wg      sync.WaitGroup
}

// Start listens as cfg says and serves until Stop.
func Start(cfg Config, a Agent, hub *broadcast.Hub, filter Filter) (*Server, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	svc := &service{agent: a, hub: hub, filter: filter, queue: cfg.QueueSize}
	s := &Server{}
	if cfg.Socket != "" {
		l, err := listenUnix(cfg.Socket, 0o600, "")
		if err != nil {
			return nil, err
		}
		s.serve(l, fixedRole(RoleAdmin), svc)
	}
	if cfg.ReadOnlySocket != "" {
		l, err := listenUnix(cfg.ReadOnlySocket, 0o666, cfg.ReadOnlyGroup)
		if err != nil {
			s.Stop()
			return nil, err
		}
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

func (s *Server) serve(l net.Listener, role roleOf, svc *service, opts ...grpc.ServerOption) {
	opts = append(opts, grpc.UnaryInterceptor(role.unary), grpc.StreamInterceptor(role.stream))
	g := grpc.NewServer(opts...)
	api.RegisterVigilServer(g, svc)
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
