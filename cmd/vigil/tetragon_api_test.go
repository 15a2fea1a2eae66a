package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/tetragon/api/v1/tetragon"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// tetragonClient is a client of Tetragon's API, built from Tetragon's own
// types, on a unix socket.
func tetragonClient(t *testing.T, socket string) tetragon.FineGuidanceSensorsClient {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return tetragon.NewFineGuidanceSensorsClient(conn)
}

// policyOf finds a policy in Tetragon's list.
func policyOf(t *testing.T, c tetragon.FineGuidanceSensorsClient, name string) *tetragon.TracingPolicyStatus {
	t.Helper()
	list, err := c.ListTracingPolicies(context.Background(), &tetragon.ListTracingPoliciesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// A client built from Tetragon's types, on the agent's socket for it (set
// as Tetragon's flags set it): the
// version and health, a policy added, listed, enforced, switched to
// monitor, disabled and deleted, its events streamed as Tetragon's
// messages, and the read-only role kept.
func TestTetragonAPI(t *testing.T) {
	bin := build(t)
	// the socket as a Tetragon deployment gives it: --server-address, in a
	// folder of flags (tetragon.conf.d)
	sock, conf := filepath.Join(t.TempDir(), "tetragon.sock"), t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "server-address"), []byte("unix://"+sock+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startAgent(t, bin, "--metrics-address", "", "--config-dir", conf)
	c := tetragonClient(t, sock)
	ctx := context.Background()
	if v, err := c.GetVersion(ctx, &tetragon.GetVersionRequest{}); err != nil || v.Version == "" {
		t.Errorf("GetVersion: %v %v", v, err)
	}
	h, err := c.GetHealth(ctx, &tetragon.GetHealthStatusRequest{})
	if err != nil || len(h.HealthStatus) != 1 || h.HealthStatus[0].Status != tetragon.HealthStatusResult_HEALTH_STATUS_RUNNING {
		t.Errorf("GetHealth: %v %v", h, err)
	}
	if _, err := c.ListSensors(ctx, &tetragon.ListSensorsRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("ListSensors: %v, want Unimplemented", err)
	}

	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: tetra-kill}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, secret)
	ro := tetragonClient(t, r.readOnly[len("unix://"):])
	if _, err := ro.AddTracingPolicy(ctx, &tetragon.AddTracingPolicyRequest{Yaml: yaml}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("AddTracingPolicy on the read-only socket: %v, want PermissionDenied", err)
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := c.GetEvents(streamCtx, &tetragon.GetEventsRequest{AllowList: []*tetragon.Filter{
		{EventSet: []tetragon.EventType{tetragon.EventType_PROCESS_KPROBE}, PolicyNames: []string{"tetra-kill"}}},
		FieldFilters: []*tetragon.FieldFilter{{EventSet: []tetragon.EventType{tetragon.EventType_PROCESS_KPROBE},
			Fields: &fieldmaskpb.FieldMask{Paths: []string{"process.pid"}}, Action: tetragon.FieldFilterAction_EXCLUDE}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTracingPolicy(ctx, &tetragon.AddTracingPolicyRequest{Yaml: yaml}); err != nil {
		t.Fatalf("AddTracingPolicy: %v", err)
	}
	if p := policyOf(t, c, "tetra-kill"); p == nil || p.State != tetragon.TracingPolicyState_TP_STATE_ENABLED ||
		p.Mode != tetragon.TracingPolicyMode_TP_MODE_ENFORCE {
		t.Fatalf("listed: %v", p)
	}
	if sig := killedBy(exec.Command("/bin/cat", secret).Run()); sig != syscall.SIGKILL {
		t.Errorf("cat of the secret: signal %v, want SIGKILL", sig)
	}
	got := make(chan *tetragon.GetEventsResponse, 1)
	go func() {
		if ev, err := events.Recv(); err == nil {
			got <- ev
		}
	}()
	select {
	case ev := <-got:
		k := ev.GetProcessKprobe()
		if k == nil || k.PolicyName != "tetra-kill" || k.Action != tetragon.KprobeAction_KPROBE_ACTION_SIGKILL ||
			k.Process.GetBinary() != "/usr/bin/cat" || k.Process.GetPid() != nil || ev.NodeName != "e2e-api" {
			t.Errorf("event: %v", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no event on the stream")
	}

	mode := tetragon.TracingPolicyMode_TP_MODE_MONITOR
	if _, err := c.ConfigureTracingPolicy(ctx, &tetragon.ConfigureTracingPolicyRequest{Name: "tetra-kill", Mode: &mode}); err != nil {
		t.Fatalf("ConfigureTracingPolicy: %v", err)
	}
	if p := policyOf(t, c, "tetra-kill"); p.GetMode() != mode {
		t.Errorf("after monitor: %v", p)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat in monitor mode: %v", err)
	}
	if _, err := c.DisableTracingPolicy(ctx, &tetragon.DisableTracingPolicyRequest{Name: "tetra-kill"}); err != nil {
		t.Fatal(err)
	}
	if p := policyOf(t, c, "tetra-kill"); p.GetState() != tetragon.TracingPolicyState_TP_STATE_DISABLED {
		t.Errorf("after disable: %v", p)
	}
	if _, err := c.DeleteTracingPolicy(ctx, &tetragon.DeleteTracingPolicyRequest{Name: "tetra-kill"}); err != nil {
		t.Fatal(err)
	}
	if p := policyOf(t, c, "tetra-kill"); p != nil {
		t.Errorf("after delete: %v", p)
	}
	if _, err := c.DeleteTracingPolicy(ctx, &tetragon.DeleteTracingPolicyRequest{Name: "tetra-kill"}); status.Code(err) != codes.NotFound {
		t.Errorf("deleting it again: %v, want NotFound", err)
	}
}
