package tracing

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestMirrorsMatchBTF checks every Go mirror against the C struct of the
// same name in the compiled object's BTF: size, and each field's name,
// offset and size, in order.
func TestMirrorsMatchBTF(t *testing.T) {
	spec, err := loadProcess()
	if err != nil {
		t.Fatal(err)
	}
	mirrors := map[string]any{
		"exec_ident":   ExecIdent{},
		"msg_header":   Header{},
		"msg_process":  Process{},
		"msg_clone":    Clone{},
		"msg_exit":     Exit{},
		"scope_key":    ScopeKey{},
		"scope_mask":   ScopeMask{},
		"pod_key":      podKey{},
		"cgroup_scope": cgroupScope{},
	}
	for name, mirror := range mirrors {
		var st *btf.Struct
		if err := spec.Types.TypeByName(name, &st); err != nil {
			t.Errorf("struct %s: %v", name, err)
			continue
		}
		compare(t, name, st, reflect.TypeOf(mirror))
	}
	generic, err := loadGeneric()
	if err != nil {
		t.Fatal(err)
	}
	genericMirrors := map[string]any{
		"hook_config":    HookConfig{},
		"cond":           Cond{},
		"sel_action":     SelAction{},
		"syscall_hooks":  syscallHooks{},
		"str_key":        StrKey{},
		"int_key":        IntKey{},
		"substr_key":     SubstrKey{},
		"addr_key":       AddrKey{},
		"rate_key":       rateKey{},
		"sock_info":      SockInfo{},
		"cred_info":      CredInfo{},
		"skb_info":       SkbInfo{},
		"user_ns_arg":    UserNsArg{},
		"bpf_prog_arg":   BpfProgArg{},
		"bpf_map_arg":    BpfMapArg{},
		"perf_event_arg": PerfEventArg{},
		"module_arg":     ModuleArg{},
		"hook_stat":      HookStat{},
	}
	for name, mirror := range genericMirrors {
		var st *btf.Struct
		if err := generic.Types.TypeByName(name, &st); err != nil {
			t.Errorf("struct %s: %v", name, err)
			continue
		}
		compare(t, name, st, reflect.TypeOf(mirror))
	}
	var msg *btf.Struct
	if err := generic.Types.TypeByName("msg_generic", &msg); err != nil {
		t.Fatal(err)
	}
	last := msg.Members[len(msg.Members)-1]
	compare(t, "msg_generic (without data)", &btf.Struct{Size: last.Offset.Bytes(), Members: msg.Members[:len(msg.Members)-1]},
		reflect.TypeOf(msgGenericHead{}))
	var data *btf.Struct
	if err := generic.Types.TypeByName("msg_data", &data); err != nil {
		t.Fatal(err)
	}
	last = data.Members[len(data.Members)-1]
	compare(t, "msg_data (without data)", &btf.Struct{Size: last.Offset.Bytes(), Members: data.Members[:len(data.Members)-1]},
		reflect.TypeOf(msgDataHead{}))
	var exec *btf.Struct
	if err := spec.Types.TypeByName("msg_exec", &exec); err != nil {
		t.Fatal(err)
	}
	compare(t, "msg_exec (without data)", &btf.Struct{Size: exec.Members[2].Offset.Bytes(), Members: exec.Members[:2]},
		reflect.TypeOf(msgExecHead{}))
}

func compare(t *testing.T, name string, st *btf.Struct, gt reflect.Type) {
	t.Helper()
	if uintptr(st.Size) != gt.Size() {
		t.Errorf("%s: C size %d, Go %s size %d", name, st.Size, gt, gt.Size())
	}
	if len(st.Members) != gt.NumField() {
		t.Errorf("%s: C has %d fields, Go %s has %d", name, len(st.Members), gt, gt.NumField())
		return
	}
	for i, m := range st.Members {
		f := gt.Field(i)
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			t.Fatal(err)
		}
		if normalize(m.Name) != normalize(f.Name) || uintptr(m.Offset.Bytes()) != f.Offset || uintptr(size) != f.Type.Size() {
			t.Errorf("%s field %d: C %s at %d (%d bytes), Go %s at %d (%d bytes)",
				name, i, m.Name, m.Offset.Bytes(), size, f.Name, f.Offset, f.Type.Size())
		}
	}
}

// normalize maps cgroup_id and CgroupID to the same name.
func normalize(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
