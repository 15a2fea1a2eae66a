package server

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/broadcast"
	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// Version is the agent's version, as GetStatus reports it.
var Version = "dev"

type service struct {
	api.UnimplementedVigilServer
	agent   Agent
	hub     *broadcast.Hub
	streams *streams
	logs    func() []string // Config.RecentLogs
}

// GetEvents streams the events the request's filters take, if the limits
// let the client have one more stream; the filters run here, in the
// stream's goroutine.
func (s *service) GetEvents(req *api.GetEventsRequest, stream grpc.ServerStreamingServer[api.Event]) error {
	release, err := s.streams.admit(stream.Context())
	if err != nil {
		return err
	}
	defer release()
	accept, err := s.streams.compileFilters(req.AllowList, req.DenyList)
	if err != nil {
		return err
	}
	sub := s.hub.Subscribe(s.streams.limits.QueueSize, accept)
	defer sub.Close()
	for {
		ev, err := sub.Next(stream.Context())
		if err != nil {
			return nil // the client went away
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return status.Errorf(codes.Internal, "encoding an event: %v", err)
		}
		if err := stream.Send(&api.Event{Json: b}); err != nil {
			return err
		}
	}
}

func (s *service) ListPolicies(context.Context, *api.ListPoliciesRequest) (*api.ListPoliciesResponse, error) {
	out := &api.ListPoliciesResponse{}
	for _, p := range s.agent.ListPolicies() {
		out.Policies = append(out.Policies, toAPI(p))
	}
	return out, nil
}

func (s *service) AddPolicy(ctx context.Context, req *api.AddPolicyRequest) (*api.AddPolicyResponse, error) {
	if err := allow(ctx, RoleOperator, "adding a policy"); err != nil {
		return nil, err
	}
	if n := len(req.Yaml); n > s.streams.limits.PolicyBytes {
		return nil, status.Errorf(codes.InvalidArgument, "the policy has %d bytes, more than the %d a policy may have (--policy-max-bytes)", n, s.streams.limits.PolicyBytes)
	}
	docs, err := policy.Parse(req.Yaml, "request")
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	for _, d := range docs {
		enforces := policy.Enforces(d)
		if err := allow(ctx, changeNeeds(enforces), "adding policy "+compile.QualifiedName(d)+enforcingNote(enforces)); err != nil {
			return nil, err
		}
		if old, ok := s.agent.Policy(compile.QualifiedName(d)); ok && old.Enforces {
			if err := allow(ctx, RoleAdmin, "replacing policy "+old.Name+enforcingNote(true)); err != nil {
				return nil, err
			}
		}
	}
	if err := s.agent.AddPolicies(docs, roleIn(ctx).String()); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	out := &api.AddPolicyResponse{}
	for _, d := range docs {
		if p, ok := s.agent.Policy(compile.QualifiedName(d)); ok {
			out.Policies = append(out.Policies, toAPI(p))
		}
	}
	return out, nil
}

// change runs do on policy name if the caller's role may change it.
func (s *service) change(ctx context.Context, name, what string, do func() error) (*api.PolicyResponse, error) {
	p, ok := s.agent.Policy(name)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no policy %q", name)
	}
	if err := allow(ctx, changeNeeds(p.Enforces), what+" policy "+name+enforcingNote(p.Enforces)); err != nil {
		return nil, err
	}
	if err := do(); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	out := &api.PolicyResponse{}
	if p, ok := s.agent.Policy(name); ok {
		out.Policy = toAPI(p)
	}
	return out, nil
}

func (s *service) DeletePolicy(ctx context.Context, req *api.PolicyRequest) (*api.PolicyResponse, error) {
	return s.change(ctx, req.Name, "deleting", func() error { return s.agent.DeletePolicy(req.Name) })
}

func (s *service) EnablePolicy(ctx context.Context, req *api.PolicyRequest) (*api.PolicyResponse, error) {
	return s.change(ctx, req.Name, "enabling", func() error { return s.agent.EnablePolicy(req.Name, roleIn(ctx).String()) })
}

func (s *service) DisablePolicy(ctx context.Context, req *api.PolicyRequest) (*api.PolicyResponse, error) {
	return s.change(ctx, req.Name, "disabling", func() error { return s.agent.DisablePolicy(req.Name) })
}

func (s *service) SetPolicyMode(ctx context.Context, req *api.SetPolicyModeRequest) (*api.PolicyResponse, error) {
	return s.change(ctx, req.Name, "changing the mode of", func() error { return s.agent.SetPolicyMode(req.Name, req.Mode) })
}

func (s *service) GetStatus(ctx context.Context, _ *api.GetStatusRequest) (*api.Status, error) {
	st := s.agent.Status()
	lost := map[string]uint64{broadcast.LostSubscriberQueue: s.hub.Dropped()}
	for k, v := range st.Lost {
		lost[k] = v
	}
	return &api.Status{NodeName: st.NodeName, Version: Version, UptimeSeconds: int64(time.Since(st.Started).Seconds()),
		Events: st.Events, Lost: lost, ProcessCacheSize: st.ProcessCacheSize, Role: roleIn(ctx).String()}, nil
}

// GetLogs returns the agent's recent log lines: admin only, as they name
// files, policies and errors of the node.
func (s *service) GetLogs(ctx context.Context, _ *api.GetLogsRequest) (*api.GetLogsResponse, error) {
	if err := allow(ctx, RoleAdmin, "reading the agent's logs"); err != nil {
		return nil, err
	}
	out := &api.GetLogsResponse{}
	if s.logs != nil {
		out.Lines = s.logs()
	}
	return out, nil
}

func enforcingNote(enforces bool) string {
	if enforces {
		return ", which can signal, kill or deny,"
	}
	return ""
}

func toAPI(p agent.PolicyInfo) *api.Policy {
	return &api.Policy{Name: p.Name, Source: p.Source, State: string(p.State), Mode: p.Mode, Backends: p.Backends, Skipped: p.Skipped,
		Events: p.Events, Actions: p.Actions, Error: p.Error, Enforces: p.Enforces}
}
