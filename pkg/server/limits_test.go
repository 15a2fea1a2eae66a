package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/broadcast"
	"github.com/vigil-sec/vigil/pkg/event"
)

// testAPI is a server on an admin and a read-only socket, without an agent:
// the calls these tests make need only the hub.
type testAPI struct {
	hub       *broadcast.Hub
	admin, ro string
}

func startAPI(t *testing.T, cfg Config) testAPI {
	t.Helper()
	dir := t.TempDir()
	a := testAPI{hub: broadcast.New(), admin: filepath.Join(dir, "admin.sock"), ro: filepath.Join(dir, "ro.sock")}
	cfg.Socket, cfg.ReadOnlySocket = a.admin, a.ro
	s, err := Start(cfg, nil, a.hub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return a
}

// dial opens one connection to a unix socket.
func dial(t *testing.T, sock string) api.VigilClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return api.NewVigilClient(conn)
}

// openStreams opens n event streams on c; each one's first Recv result
// (nil: an event) comes on the channel.
func openStreams(ctx context.Context, t *testing.T, c api.VigilClient, n int, req *api.GetEventsRequest) <-chan error {
	t.Helper()
	results := make(chan error, n)
	for range n {
		st, err := c.GetEvents(ctx, req)
		if err != nil {
			results <- err
			continue
		}
		go func() {
			_, err := st.Recv()
			results <- err
		}()
	}
	return results
}

// refusals takes n results, which must be refusals with code and a message
// holding want.
func refusals(t *testing.T, results <-chan error, n int, code codes.Code, want string) {
	t.Helper()
	for i := range n {
		err := <-results
		if status.Code(err) != code || !strings.Contains(err.Error(), want) {
			t.Fatalf("stream %d: %v, want %v naming %s", i, err, code, want)
		}
	}
}

// publish hands the subscribers an event.
func publish(t *testing.T, hub *broadcast.Hub) {
	t.Helper()
	if err := hub.Write(&event.Event{ProcessExec: &event.ProcessExec{Process: &event.Process{Pid: 1}}}); err != nil {
		t.Fatal(err)
	}
}

// served takes n results, which must be events.
func served(t *testing.T, results <-chan error, n int) {
	t.Helper()
	for i := range n {
		if err := <-results; err != nil {
			t.Fatalf("an admitted stream %d: %v", i, err)
		}
	}
}

// waitFor waits for cond; the deadline only bounds a failing run (ten
// clients compiling 2,000 regular expressions each take over 20 s in a
// kernel-matrix guest under software emulation).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The client: 2,000 event streams on one connection. Beyond the
// per-connection limit each is refused, naming the limit and its flag; the
// hub holds only the admitted subscribers, and the heap does not grow with
// the streams asked for (each admitted one may queue 4,096 events).
func TestStreamsPerConnectionRefusedBeyondTheLimit(t *testing.T) {
	a := startAPI(t, Config{Limits: Limits{StreamsPerConnection: 8}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := heapInUse()
	results := openStreams(ctx, t, dial(t, a.ro), 2000, &api.GetEventsRequest{})
	refusals(t, results, 2000-8, codes.ResourceExhausted, "holds 8 event streams, the limit (--api-max-streams-per-connection)")
	waitFor(t, "8 subscribers", func() bool { return a.hub.Subscribers() == 8 })
	grown := int64(heapInUse()) - int64(before)
	t.Logf("heap grew %d KiB for 2,000 streams asked, 8 admitted", grown>>10)
	if grown > 16<<20 {
		t.Errorf("heap grew %d MiB, want it bounded by the admitted streams", grown>>20)
	}
	publish(t, a.hub)
	served(t, results, 8)
	if n := a.hub.Subscribers(); n != 8 {
		t.Errorf("%d subscribers, want 8", n)
	}
}

// Beyond the total, read-only clients are refused, naming the limit and its
// flag; the admin is not, so that no user can lock root out.
func TestStreamsInTotalRefusedExceptToTheAdmin(t *testing.T) {
	a := startAPI(t, Config{Limits: Limits{Streams: 6, StreamsPerConnection: 4}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := openStreams(ctx, t, dial(t, a.ro), 4, &api.GetEventsRequest{})
	waitFor(t, "4 subscribers", func() bool { return a.hub.Subscribers() == 4 })
	second := openStreams(ctx, t, dial(t, a.ro), 4, &api.GetEventsRequest{})
	refusals(t, second, 2, codes.ResourceExhausted, "clients hold 6 event streams, the limit (--api-max-streams)")
	admin := openStreams(ctx, t, dial(t, a.admin), 4, &api.GetEventsRequest{})
	waitFor(t, "10 subscribers", func() bool { return a.hub.Subscribers() == 10 })
	publish(t, a.hub)
	served(t, first, 4)
	served(t, second, 2)
	served(t, admin, 4)
	cancel()
	waitFor(t, "streams released", func() bool { return a.hub.Subscribers() == 0 })
	again := openStreams(context.Background(), t, dial(t, a.ro), 1, &api.GetEventsRequest{})
	waitFor(t, "a stream after the others left", func() bool { return a.hub.Subscribers() == 1 })
	publish(t, a.hub)
	served(t, again, 1)
}

// heavyFilter is the filter: n lines of arguments_regex.
func heavyFilter(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"arguments_regex":["--config=/etc/app%d/[a-z]+\\.ya?ml$"]}`+"\n", i)
	}
	return b.String()
}

// A client with 2,000 arguments_regex lines is refused by the cost limit,
// naming it and its flag; a filter that does not parse is an invalid
// argument naming the line and the field. Neither subscribes.
func TestFiltersRefusedByCostOrSyntax(t *testing.T) {
	a := startAPI(t, Config{})
	c := dial(t, a.ro)
	ctx := context.Background()
	refusals(t, openStreams(ctx, t, c, 1, &api.GetEventsRequest{AllowList: heavyFilter(2000)}), 1,
		codes.ResourceExhausted, "filters cost over the limit of 10000 (--api-max-filter-cost)")
	refusals(t, openStreams(ctx, t, c, 1, &api.GetEventsRequest{DenyList: `{"binary_regex":["("]}`}), 1,
		codes.InvalidArgument, "filters: denylist line 1: binary_regex[0]: error parsing regexp")
	if n := a.hub.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after refusals", n)
	}
}

// Ten clients with 2,000 arguments_regex lines each (the cost limit raised
// to let them in) and a client without filters: every client's filters run
// in its own stream, each heavy client gets what its filters take, and the
// other client every event, none lost. That Write never runs a filter is
// broadcast's TestWriteNeverRunsSubscriberFilters.
func TestHeavyFiltersRunInTheirOwnStreams(t *testing.T) {
	a := startAPI(t, Config{Limits: Limits{FilterCost: 1 << 30}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var heavy []api.Vigil_GetEventsClient
	for range 10 {
		st, err := dial(t, a.ro).GetEvents(ctx, &api.GetEventsRequest{AllowList: heavyFilter(2000)})
		if err != nil {
			t.Fatal(err)
		}
		heavy = append(heavy, st)
	}
	plain, err := dial(t, a.ro).GetEvents(ctx, &api.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "11 subscribers", func() bool { return a.hub.Subscribers() == 11 })
	const n = 500
	for i := range n {
		args := "-l /tmp"
		if i%50 == 0 {
			args = fmt.Sprintf("--config=/etc/app%d/main.yaml", 1990+i/50)
		}
		ev := &event.Event{ProcessExec: &event.ProcessExec{Process: &event.Process{Pid: uint32(i), Arguments: args}}}
		if err := a.hub.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if ev, err := plain.Recv(); err != nil || !strings.Contains(string(ev.Json), fmt.Sprintf(`"pid":%d,`, i)) {
			t.Fatalf("the client without filters, event %d: %v, %v", i, ev, err)
		}
	}
	for _, st := range heavy {
		for i := 0; i < n; i += 50 {
			if ev, err := st.Recv(); err != nil || !strings.Contains(string(ev.Json), fmt.Sprintf(`"pid":%d,`, i)) {
				t.Fatalf("a heavy client, event %d: %v, %v", i, ev, err)
			}
		}
	}
	if d := a.hub.Dropped(); d != 0 {
		t.Errorf("%d events lost", d)
	}
}

// A request larger than the limit is refused before it is read whole.
func TestRequestSizeBounded(t *testing.T) {
	a := startAPI(t, Config{Limits: Limits{RequestBytes: 64 << 10}})
	big := strings.Repeat(`{"pid":[1]}`+"\n", 10000)
	refusals(t, openStreams(context.Background(), t, dial(t, a.ro), 1, &api.GetEventsRequest{AllowList: big}), 1,
		codes.ResourceExhausted, "larger than max")
}

// Beyond the connection limit a listener accepts no more connections until
// one closes; the admin socket has its own.
func TestConnectionsBeyondTheLimitWait(t *testing.T) {
	a := startAPI(t, Config{Limits: Limits{Connections: 2}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := grpc.NewClient("unix://"+a.ro, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	openStreams(ctx, t, api.NewVigilClient(first), 1, &api.GetEventsRequest{})
	openStreams(ctx, t, dial(t, a.ro), 1, &api.GetEventsRequest{})
	waitFor(t, "2 subscribers", func() bool { return a.hub.Subscribers() == 2 })
	third := dial(t, a.ro)
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	refusals(t, openStreams(short, t, third, 1, &api.GetEventsRequest{}), 1, codes.DeadlineExceeded, "")
	if n := a.hub.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers with 2 connections allowed, want 2", n)
	}
	admin := openStreams(ctx, t, dial(t, a.admin), 1, &api.GetEventsRequest{})
	waitFor(t, "the admin's subscriber", func() bool { return a.hub.Subscribers() == 3 })
	first.Close()
	waitFor(t, "the first connection gone", func() bool { return a.hub.Subscribers() == 2 })
	later := openStreams(ctx, t, third, 1, &api.GetEventsRequest{})
	waitFor(t, "the third connection served", func() bool { return a.hub.Subscribers() == 3 })
	publish(t, a.hub)
	served(t, admin, 1)
	served(t, later, 1)
}

// someGroup is a group of this system other than root's.
func someGroup(t *testing.T) *user.Group {
	for gid := 1; gid < 65534; gid++ {
		if g, err := user.LookupGroupId(fmt.Sprint(gid)); err == nil {
			return g
		}
	}
	t.Skip("no group besides root's")
	return nil
}

// The read-only socket is 0660 with the group named, by default with the
// group "vigil" if it exists and else root's only (0600), and 0666 only
// when asked for; the admin socket is always 0600.
func TestSocketModesAndGroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the socket a group")
	}
	g := someGroup(t)
	def, defGid := os.FileMode(0o600), "0"
	if v, err := user.LookupGroup(DefaultGroup); err == nil {
		def, defGid = 0o660, v.Gid
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		mode os.FileMode
		gid  string
	}{
		{"group " + g.Name, Config{ReadOnlyGroup: g.Name}, 0o660, g.Gid},
		{"default", Config{}, def, defGid},
		{"world", Config{ReadOnlyWorld: true}, 0o666, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startAPI(t, tc.cfg)
			for sock, want := range map[string]struct {
				mode os.FileMode
				gid  string
			}{a.admin: {0o600, "0"}, a.ro: {tc.mode, tc.gid}} {
				st, err := os.Stat(sock)
				if err != nil {
					t.Fatal(err)
				}
				sys := st.Sys().(*syscall.Stat_t)
				if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != want.mode || fmt.Sprint(sys.Gid) != want.gid || sys.Uid != 0 {
					t.Errorf("%s: %v uid %d gid %d, want a socket %v uid 0 gid %s", filepath.Base(sock), st.Mode(), sys.Uid, sys.Gid, want.mode, want.gid)
				}
			}
		})
	}
	if mode, group, _ := readOnlyAccess("", false, g.Name); mode != 0o660 || group != g.Name {
		t.Errorf("default group %s that exists: %v %q", g.Name, mode, group)
	}
	if mode, group, _ := readOnlyAccess("", false, "vigil-test-no-such-group"); mode != 0o600 || group != "" {
		t.Errorf("default group that does not exist: %v %q, want 0600 for root only", mode, group)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ReadOnlyGroup: g.Name, ReadOnlyWorld: true}, "--api-readonly-group and --api-readonly-world-accessible: give one or the other"},
		{Config{ReadOnlyGroup: "vigil-test-no-such-group"}, "--api-readonly-group: group: unknown group vigil-test-no-such-group"},
		{Config{Limits: Limits{Streams: -1}}, "--api-max-streams: -1: want a positive number"},
	} {
		tc.cfg.ReadOnlySocket = filepath.Join(dir, "ro.sock")
		if _, err := Start(tc.cfg, nil, broadcast.New()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %s", tc.cfg, err, tc.want)
		}
	}
	if _, err := net.Dial("unix", filepath.Join(dir, "ro.sock")); err == nil {
		t.Error("a refused configuration left a socket listening")
	}
}

// A policy over the agent's --policy-max-bytes is refused by its size
// before it is parsed, as a policy file would be.
func TestPolicySizeBounded(t *testing.T) {
	a := startAPI(t, Config{Limits: Limits{PolicyBytes: 1000}})
	doc := "# " + strings.Repeat("x", 2000) + "\n"
	_, err := dial(t, a.admin).AddPolicy(context.Background(), &api.AddPolicyRequest{Yaml: []byte(doc)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "--policy-max-bytes") {
		t.Fatalf("AddPolicy of %d bytes with a 1000-byte limit: %v", len(doc), err)
	}
}
