package server

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/cilium/tetragon/api/v1/tetragon"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/filter"
)

// tetragonService serves Tetragon's FineGuidanceSensors API, with its own Go
// types (github.com/cilium/tetragon/api), on every listener of the API and
// with the same roles, so that tetra and clients written for Tetragon talk
// to Vigil. Policy calls go through Vigil's (the same checks of role and
// size); events go out as Tetragon writes them (filter.Options.Strict),
// their JSON parsed into Tetragon's messages. What Vigil has no counterpart
// for (sensors, stack trace trees, runtime hooks, debug) is answered
// Unimplemented by the embedded default, which names the method.
type tetragonService struct {
	tetragon.UnimplementedFineGuidanceSensorsServer
	vigil *service
}

// GetEvents streams the events the request's lists take, with its field
// filters applied, under the limits of Vigil's streams.
func (t *tetragonService) GetEvents(req *tetragon.GetEventsRequest, stream grpc.ServerStreamingServer[tetragon.GetEventsResponse]) error {
	if req.AggregationOptions != nil {
		return status.Error(codes.InvalidArgument, "aggregation_options: not implemented by Vigil")
	}
	allow, err := filterLines(req.AllowList)
	if err != nil {
		return err
	}
	deny, err := filterLines(req.DenyList)
	if err != nil {
		return err
	}
	fields, err := fieldFilterLines(req.FieldFilters)
	if err != nil {
		return err
	}
	pipe, err := filter.New(filter.Options{FieldFilters: fields, Strict: true})
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	s := t.vigil
	release, err := s.streams.admit(stream.Context())
	if err != nil {
		return err
	}
	defer release()
	accept, err := s.streams.compileFilters(allow, deny)
	if err != nil {
		return err
	}
	sub := s.hub.Subscribe(s.streams.limits.QueueSize, accept)
	defer sub.Close()
	var line []byte
	for {
		ev, err := sub.Next(stream.Context())
		if err != nil {
			return nil // the client went away
		}
		for _, r := range pipe.Apply(ev, time.Now()) {
			if line, err = r.AppendJSON(line[:0]); err != nil {
				return status.Errorf(codes.Internal, "encoding an event: %v", err)
			}
			resp := &tetragon.GetEventsResponse{}
			if err := protojson.Unmarshal(line, resp); err != nil {
				return status.Errorf(codes.Internal, "an event Tetragon's types do not take: %v", err)
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// filterLines is Tetragon's filters as the JSON lines of its export flags,
// which Vigil's filters parse (field names as in the proto).
func filterLines(fs []*tetragon.Filter) (string, error) {
	var b strings.Builder
	for _, f := range fs {
		line, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(f)
		if err != nil {
			return "", status.Errorf(codes.InvalidArgument, "a filter: %v", err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// fieldFilterLines is Tetragon's field filters as the JSON lines of its
// --field-filters: the mask's paths as one comma-separated string.
func fieldFilterLines(ffs []*tetragon.FieldFilter) (string, error) {
	var b strings.Builder
	for _, ff := range ffs {
		sets := make([]string, len(ff.EventSet))
		for i, e := range ff.EventSet {
			sets[i] = e.String()
		}
		line, err := json.Marshal(map[string]any{"event_set": sets, "fields": strings.Join(ff.GetFields().GetPaths(), ","),
			"action": ff.Action.String(), "invert_event_set": ff.GetInvertEventSet().GetValue()})
		if err != nil {
			return "", status.Errorf(codes.InvalidArgument, "a field filter: %v", err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// GetHealth says the agent runs while its event reader makes progress.
func (t *tetragonService) GetHealth(context.Context, *tetragon.GetHealthStatusRequest) (*tetragon.GetHealthStatusResponse, error) {
	h := t.vigil.agent.Health()
	st := &tetragon.HealthStatus{Event: tetragon.HealthStatusType_HEALTH_STATUS_TYPE_STATUS,
		Status: tetragon.HealthStatusResult_HEALTH_STATUS_RUNNING, Details: "running"}
	switch {
	case !h.Live:
		st.Status, st.Details = tetragon.HealthStatusResult_HEALTH_STATUS_ERROR, h.Why
	case !h.Ready:
		st.Details = "running, not ready: " + h.Why
	}
	return &tetragon.GetHealthStatusResponse{HealthStatus: []*tetragon.HealthStatus{st}}, nil
}

func (t *tetragonService) GetVersion(context.Context, *tetragon.GetVersionRequest) (*tetragon.GetVersionResponse, error) {
	return &tetragon.GetVersionResponse{Version: Version}, nil
}

func (t *tetragonService) AddTracingPolicy(ctx context.Context, req *tetragon.AddTracingPolicyRequest) (*tetragon.AddTracingPolicyResponse, error) {
	_, err := t.vigil.AddPolicy(ctx, &api.AddPolicyRequest{Yaml: []byte(req.Yaml)})
	return ok(&tetragon.AddTracingPolicyResponse{}, err)
}

func (t *tetragonService) DeleteTracingPolicy(ctx context.Context, req *tetragon.DeleteTracingPolicyRequest) (*tetragon.DeleteTracingPolicyResponse, error) {
	_, err := t.vigil.DeletePolicy(ctx, &api.PolicyRequest{Name: qualified(req.Namespace, req.Name)})
	return ok(&tetragon.DeleteTracingPolicyResponse{}, err)
}

func (t *tetragonService) EnableTracingPolicy(ctx context.Context, req *tetragon.EnableTracingPolicyRequest) (*tetragon.EnableTracingPolicyResponse, error) {
	_, err := t.vigil.EnablePolicy(ctx, &api.PolicyRequest{Name: qualified(req.Namespace, req.Name)})
	return ok(&tetragon.EnableTracingPolicyResponse{}, err)
}

func (t *tetragonService) DisableTracingPolicy(ctx context.Context, req *tetragon.DisableTracingPolicyRequest) (*tetragon.DisableTracingPolicyResponse, error) {
	_, err := t.vigil.DisablePolicy(ctx, &api.PolicyRequest{Name: qualified(req.Namespace, req.Name)})
	return ok(&tetragon.DisableTracingPolicyResponse{}, err)
}

// ConfigureTracingPolicy sets the mode, then enables or disables, as the
// request says.
func (t *tetragonService) ConfigureTracingPolicy(ctx context.Context, req *tetragon.ConfigureTracingPolicyRequest) (*tetragon.ConfigureTracingPolicyResponse, error) {
	name := qualified(req.Namespace, req.Name)
	if req.Mode != nil {
		mode, found := modes[req.GetMode()]
		if !found {
			return nil, status.Errorf(codes.InvalidArgument, "mode: %s: want TP_MODE_ENFORCE or TP_MODE_MONITOR", req.GetMode())
		}
		if _, err := t.vigil.SetPolicyMode(ctx, &api.SetPolicyModeRequest{Name: name, Mode: mode}); err != nil {
			return nil, err
		}
	}
	if req.Enable != nil {
		change := t.vigil.DisablePolicy
		if req.GetEnable() {
			change = t.vigil.EnablePolicy
		}
		if _, err := change(ctx, &api.PolicyRequest{Name: name}); err != nil {
			return nil, err
		}
	}
	return &tetragon.ConfigureTracingPolicyResponse{}, nil
}

var modes = map[tetragon.TracingPolicyMode]string{
	tetragon.TracingPolicyMode_TP_MODE_ENFORCE: "enforce",
	tetragon.TracingPolicyMode_TP_MODE_MONITOR: "monitor",
}

// ListTracingPolicies lists every policy, any source. Vigil has no policy
// ids: a policy's id is its place in the list, by name, from 1.
func (t *tetragonService) ListTracingPolicies(context.Context, *tetragon.ListTracingPoliciesRequest) (*tetragon.ListTracingPoliciesResponse, error) {
	out := &tetragon.ListTracingPoliciesResponse{}
	for i, p := range t.vigil.agent.ListPolicies() {
		out.Policies = append(out.Policies, tetragonStatus(uint64(i+1), p))
	}
	return out, nil
}

func tetragonStatus(id uint64, p agent.PolicyInfo) *tetragon.TracingPolicyStatus {
	ns, name, found := strings.Cut(p.Name, "/")
	if !found {
		ns, name = "", p.Name
	}
	st := &tetragon.TracingPolicyStatus{Id: id, Name: name, Namespace: ns, Info: "source: " + p.Source,
		Sensors: p.Backends, Error: p.Error, Enabled: p.State == agent.StateLoaded,
		State: tetragon.TracingPolicyState_TP_STATE_DISABLED, Mode: tetragon.TracingPolicyMode_TP_MODE_ENFORCE}
	switch p.State {
	case agent.StateLoaded:
		st.State = tetragon.TracingPolicyState_TP_STATE_ENABLED
	case agent.StateError:
		st.State = tetragon.TracingPolicyState_TP_STATE_LOAD_ERROR
	case agent.StateNotSelected:
		st.Info += "; not selected on this node (spec.nodeSelector)"
	}
	if p.Mode == "monitor" {
		st.Mode = tetragon.TracingPolicyMode_TP_MODE_MONITOR
	}
	return st
}

// qualified is the agent's name of a policy: namespace/name when it has a
// namespace.
func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// ok is resp, or nil and err when there is one.
func ok[T proto.Message](resp T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return resp, nil
}
