package policy

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
		if a.BytesArg != nil && typ != tracing.ArgCharBuf {
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
