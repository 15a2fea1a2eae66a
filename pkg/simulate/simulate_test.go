package simulate

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/policies/library"
)

func TestMain(m *testing.M) {
	Main()
	if os.Geteuid() != 0 {
		fmt.Println("the simulations need root: an agent loads BPF programs, and the reproductions mount and set credentials")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// chanSink hands the agent's events to the simulation; it never blocks
// the agent (a full channel would lose the event: the buffer is large).
type chanSink chan *event.Event

func (c chanSink) Write(ev *event.Event) error {
	select {
	case c <- ev:
	default:
	}
	return nil
}

func (chanSink) Flush() error { return nil }

// TestEveryPolicyHasACase: the library and the cases are one list, and
// every library policy has a message and an ATT&CK id on each hook.
func TestEveryPolicyHasACase(t *testing.T) {
	pols, err := library.Policies()
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) < 30 {
		t.Errorf("the library has %d policies, want at least 30", len(pols))
	}
	cases := map[string]bool{}
	for _, c := range Cases {
		if cases[c.Policy] {
			t.Errorf("two cases for %s", c.Policy)
		}
		cases[c.Policy] = true
	}
	for _, p := range pols {
		if err := library.Check(p); err != nil {
			t.Error(err)
		}
		if !cases[p.GetName()] {
			t.Errorf("library policy %s has no case", p.GetName())
		}
		delete(cases, p.GetName())
	}
	for name := range cases {
		t.Errorf("case %s has no library policy", name)
	}
}

// TestSimulations loads the whole library into an agent, runs every
// reproduction and checks that its policy's event, with the hook's tags,
// came from the reproduction's processes.
func TestSimulations(t *testing.T) {
	pols, err := library.Policies()
	if err != nil {
		t.Fatal(err)
	}
	events := make(chanSink, 1<<16)
	a, err := agent.New(agent.Config{Process: process.Options{NodeName: "simulate-test"}}, events)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	if err := a.AddPolicies(pols, "admin"); err != nil {
		t.Fatalf("the library does not load: %v", err)
	}
	for _, r := range Run(ctx, Cases, events, Options{Tags: library.Tags(pols), Wait: 10 * time.Second}) {
		if r.Err != nil {
			t.Errorf("%s (%s): %v", r.Policy, r.Does, r.Err)
		}
	}
}
