package event

import (
	"encoding/json"
	"testing"
)

// TestStackTraceJSON: frames as Tetragon's exported events show them (its
// documentation's sample): 64-bit numbers as strings, no empty fields,
// the two stacks under kernel_stack_trace and user_stack_trace.
func TestStackTraceJSON(t *testing.T) {
	const tetragon = `{"kernel_stack_trace":[{"address":"18446744072119856613","offset":"5","symbol":"kfree_skb_reason"}],` +
		`"user_stack_trace":[{"address":"140498967885099","offset":"1209643","symbol":"__connect","module":"/usr/lib/x86_64-linux-gnu/libc.so.6"},` +
		`{"offset":"106855","module":"/usr/lib/x86_64-linux-gnu/libcurl.so.4.7.0"}]}`
	var st StackTraces
	if err := json.Unmarshal([]byte(tetragon), &st); err != nil {
		t.Fatal(err)
	}
	if st.KernelStackTrace[0].Address != 18446744072119856613 || st.UserStackTrace[0].Offset != 1209643 {
		t.Errorf("decoded %+v %+v", st.KernelStackTrace[0], st.UserStackTrace[0])
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != tetragon {
		t.Errorf("encoded\n%s\nwant\n%s", b, tetragon)
	}
	k, _ := json.Marshal(&ProcessKprobe{StackTraces: StackTraces{UserStackTraceError: "x"}})
	var m map[string]any
	_ = json.Unmarshal(k, &m)
	if _, ok := m["kernel_stack_trace"]; ok || m["user_stack_trace_error"] != "x" {
		t.Errorf("process_kprobe: %s", k)
	}
}
