package compile

import (
	"encoding/binary"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// TestEveryArgTypeRenders: each argument type the compiler can produce has
// its own typed field in events.
func TestEveryArgTypeRenders(t *testing.T) {
	types := map[int]bool{}
	for _, m := range []map[string]int{syscallArgTypes, funcArgTypes} {
		for _, typ := range m {
			types[typ] = true
		}
	}
	for typ := range types {
		a := renderArg(typ, 1, []byte("/x"))
		if a.BytesArg != nil && typ != tracing.ArgCharBuf && typ != tracing.ArgCharIovec && typ != tracing.ArgNone { // nop: never rendered
			t.Errorf("argument type %d renders as raw bytes", typ)
		}
	}
}

func TestSockRenders(t *testing.T) {
	si := tracing.SockInfo{Family: 2, Type: 1, Protocol: 6, Sport: 40000, Dport: 443, State: 2,
		Saddr: [16]byte{10, 0, 0, 1}, Daddr: [16]byte{127, 0, 0, 1}}
	b, err := binary.Append(nil, binary.NativeEndian, &si)
	if err != nil {
		t.Fatal(err)
	}
	got := renderArg(tracing.ArgSock, 0, b).SockArg
	want := event.SockArg{Family: "AF_INET", Type: "SOCK_STREAM", Protocol: "IPPROTO_TCP", Saddr: "10.0.0.1",
		Daddr: "127.0.0.1", Sport: 40000, Dport: 443, State: "TCP_SYN_SENT"}
	if got == nil || *got != want {
		t.Errorf("sock_arg = %+v, want %+v", got, want)
	}
}

func TestCredAndCapabilityRender(t *testing.T) {
	ci := tracing.CredInfo{UID: 1, GID: 2, EUID: 3, EGID: 4, SUID: 5, SGID: 6, FSUID: 7, FSGID: 8,
		CapEffective: 1<<21 | 1<<7}
	b, err := binary.Append(nil, binary.NativeEndian, &ci)
	if err != nil {
		t.Fatal(err)
	}
	c := renderArg(tracing.ArgCred, 0, b).ProcessCredentialsArg
	if c == nil || c.UID != 1 || c.FSGID != 8 || len(c.Caps.Effective) != 2 || c.Caps.Effective[0] != "CAP_SETUID" ||
		c.Caps.Effective[1] != "CAP_SYS_ADMIN" || len(c.Caps.Permitted) != 0 {
		t.Errorf("process_credentials_arg = %+v caps %+v", c, c.Caps)
	}
	h := &Hook{Args: []HookArg{{Type: tracing.ArgInt, As: "capability"}}}
	g := &tracing.Generic{}
	g.ArgVal[0] = 21
	ev := h.Event(g)
	if ca := ev.Args[0].CapabilityArg; ca == nil || ca.Value != 21 || ca.Name != "CAP_SYS_ADMIN" {
		t.Errorf("capability_arg = %+v", ca)
	}
}

// A nop argument holds a place: it is not in events.
func TestNopArgumentIsLeftOut(t *testing.T) {
	h := &Hook{Args: []HookArg{{Type: tracing.ArgNone}, {Type: tracing.ArgInt, Label: "second"}}}
	g := &tracing.Generic{}
	g.ArgVal[1] = 7
	ev := h.Event(g)
	if len(ev.Args) != 1 || ev.Args[0].Label != "second" || *ev.Args[0].IntArg != 7 {
		t.Errorf("args = %+v, want only the second", ev.Args)
	}
}

// A char_buf shows as bytes_arg when whole, else as Tetragon's
// truncated_bytes_arg with its size, and why when the limit is not all.
func TestCharBufSaysWhenCut(t *testing.T) {
	h := &Hook{Args: []HookArg{{Type: tracing.ArgCharBuf}}}
	for _, c := range []struct {
		name       string
		size       int64
		data       string
		err        uint8
		truncated  bool
		incomplete string
	}{
		{"whole", 3, "abc", tracing.DataOK, false, ""},
		{"empty", 0, "", tracing.DataOK, false, ""},
		{"cut at the limit", 5000, "abc", tracing.DataOK, true, ""},
		{"ring buffer full", 5000, "abc", tracing.DataRingbufFull, true, event.IncompleteRingBuffer},
		{"fault", 10, "", tracing.DataFault, true, event.IncompleteFault},
		{"dropped", 5000, "abc", tracing.DataDropped, true, event.IncompleteDropped},
	} {
		g := &tracing.Generic{}
		g.ArgVal[0], g.Args[0], g.DataErr[0] = c.size, []byte(c.data), c.err
		a := h.Event(g).Args[0]
		tb := a.TruncatedBytesArg
		switch {
		case !c.truncated && (tb != nil || string(a.BytesArg) != c.data):
			t.Errorf("%s: %+v, want bytes_arg %q", c.name, a, c.data)
		case c.truncated && (tb == nil || a.BytesArg != nil || string(tb.BytesArg) != c.data ||
			tb.OrigSize != uint64(c.size) || tb.Incomplete != c.incomplete):
			t.Errorf("%s: %+v (%+v), want truncated_bytes_arg %q of %d, incomplete %q", c.name, a, tb, c.data, c.size, c.incomplete)
		}
	}
}
