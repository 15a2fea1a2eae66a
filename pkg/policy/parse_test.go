package policy

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseMultiDocument(t *testing.T) {
	policies, err := ParseFile("testdata/multi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type summary struct{ apiVersion, kind, name, namespace string }
	var got []summary
	for _, p := range policies {
		got = append(got, summary{p.GetAPIVersion(), p.GetKind(), p.GetName(), p.GetNamespace()})
	}
	want := []summary{
		{APIVersionCilium, KindTracingPolicy, "fd-install", ""},
		{APIVersionVigil, KindTracingPolicy, "connect", ""},
		{APIVersionVigil, KindTracingPolicyNamespaced, "no-ptrace", "web"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, ok := policies[2].(*TracingPolicyNamespaced); !ok {
		t.Errorf("third policy is %T, want *TracingPolicyNamespaced", policies[2])
	}
	checkFdInstall(t, policies[0].(*TracingPolicy))
	checkScopes(t, policies[1].GetSpec(), policies[2].GetSpec())
}

func checkFdInstall(t *testing.T, tp *TracingPolicy) {
	t.Helper()
	if tp.Labels["app.kubernetes.io/part-of"] != "vigil" {
		t.Errorf("labels = %v", tp.Labels)
	}
	k := tp.Spec.KProbes[0]
	if k.Call != "fd_install" || k.IsSyscall() || len(k.Args) != 2 || k.Args[1].Type != "file" {
		t.Errorf("kprobe = %+v", k)
	}
	sel := k.Selectors[0]
	wantArgs := []ArgSelector{{Index: 1, Operator: "Prefix", Values: []string{"/etc/"}}}
	if !reflect.DeepEqual(sel.MatchArgs, wantArgs) {
		t.Errorf("matchArgs = %+v", sel.MatchArgs)
	}
	wantBinaries := []BinarySelector{{Operator: "In", Values: []string{"/usr/bin/cat"}, FollowChildren: true}}
	if !reflect.DeepEqual(sel.MatchBinaries, wantBinaries) {
		t.Errorf("matchBinaries = %+v", sel.MatchBinaries)
	}
	wantActions := []ActionSelector{{Action: "Post", RateLimit: "1m", RateLimitScope: "process"}}
	if !reflect.DeepEqual(sel.MatchActions, wantActions) {
		t.Errorf("matchActions = %+v", sel.MatchActions)
	}
}

func checkScopes(t *testing.T, connect, ptrace *TracingPolicySpec) {
	t.Helper()
	if connect.HostSelector == nil || connect.PodSelector != nil {
		t.Errorf("hostSelector {} must be set and podSelector unset: %+v", connect)
	}
	wantPods := &LabelSelector{
		MatchLabels:      map[string]string{"app": "frontend"},
		MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"debug"}}},
	}
	if !reflect.DeepEqual(ptrace.PodSelector, wantPods) {
		t.Errorf("podSelector = %+v", ptrace.PodSelector)
	}
	if k := ptrace.KProbes[0]; !k.IsSyscall() || k.Selectors[0].MatchActions[0].ArgSig != 9 {
		t.Errorf("kprobe = %+v", k)
	}
}

func TestParseAllSpecFields(t *testing.T) {
	doc := `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: all
  annotations: {description: "every hook kind"}
spec:
  loader: true
  options: [{name: policy-mode, value: monitor}, {name: disable-kprobe-multi, value: "1"}]
  lists: [{name: dups, type: syscalls, values: [sys_dup, sys_dup2]}, {name: ksys, type: generated_ftrace, pattern: "^ksys_"}]
  enforcers: [{calls: ["list:dups"]}]
  selectorsMacros:
    curl: {matchBinaries: [{operator: Postfix, values: [/curl]}]}
  nodeSelector: {matchLabels: {gpu: "true"}}
  kprobes:
  - call: "list:dups"
    message: "dup called"
    tags: [fd]
    ignore: {callNotFound: true}
    return: true
    args: [{index: 0, type: int, label: fd}]
    returnArg: {index: 0, type: int}
    selectors:
    - macros: [curl]
      matchReturnArgs: [{index: 0, operator: LT, values: ["0"]}]
      matchReturnActions: [{action: Post}]
      matchActions: [{action: NotifyEnforcer, argError: -1}]
  fentries:
  - call: security_file_open
    syscall: false
    args: [{index: 0, type: file}]
    selectors: [{matchArgs: [{index: 0, operator: FileType, values: [reg]}]}]
  tracepoints:
  - subsystem: raw_syscalls
    event: sys_enter
    raw: false
    args: [{index: 4, type: syscall64}]
    selectors: [{matchArgs: [{index: 0, operator: InMap, values: ["list:dups", "59"]}]}]
  uprobes:
  - path: /usr/lib/libc.so.6
    symbols: [malloc, free]
    refCtrOffsets: [0, 4]
    args: [{index: 0, type: size_t}]
    selectors: [{matchPIDs: [{operator: NotIn, values: [1], isNamespacePID: true, followForks: true}]}]
  usdts:
  - path: /usr/bin/app
    provider: app
    name: request
    args: [{index: 0, type: int32}]
    selectors: [{matchActions: [{action: Set, argIndex: 0, argValue: 32}]}]
  lsmhooks:
  - hook: bprm_check_security
    args: [{index: 0, type: linux_binprm, resolve: "mm.owner.comm"}]
    selectors:
    - matchNamespaces: [{namespace: Mnt, operator: In, values: [host_ns, "4026531840"]}]
      matchNamespaceChanges: [{operator: In, values: [Mnt]}]
      matchCapabilities: [{type: Permitted, operator: In, values: [CAP_SYS_ADMIN]}]
      matchCapabilityChanges: [{operator: In, isNamespaceCapability: true, values: [CAP_BPF]}]
      matchParentBinaries: [{operator: NotIn, values: [/usr/sbin/sshd]}]
      matchActions: [{action: Override, argError: -1}, {action: Post, imaHash: true, kernelStackTrace: true}]
`
	policies, err := Parse([]byte(doc), "all.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := policies[0].GetSpec()
	if *s.Lists[1].Pattern != "^ksys_" || s.UProbes[0].RefCtrOffsets[1] != 4 || s.Usdts[0].Selectors[0].MatchActions[0].ArgValue != 32 {
		t.Errorf("spec = %+v", s)
	}
	if s.KProbes[0].Selectors[0].MatchActions[0].ArgError != -1 || !s.KProbes[0].Ignore.CallNotFound {
		t.Errorf("kprobe = %+v", s.KProbes[0])
	}
}

func TestErrorsAs(t *testing.T) {
	_, err := Parse([]byte("apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: x}\nspec: {kprobes: [{call: sys_read, args: [{index: 0, type: filee}]}]}\n"), "x.yaml")
	var list ErrorList
	var one *Error
	if !errors.As(err, &list) || !errors.As(err, &one) {
		t.Fatalf("errors.As failed on %v", err)
	}
	want := Error{Source: "x.yaml", Line: 4, Path: "spec.kprobes[0].args[0].type", Msg: `unknown argument type "filee" (did you mean "file"?)`}
	if *one != want || len(list) != 1 {
		t.Errorf("got %+v, want %+v", *one, want)
	}
}

func TestParseFileMissing(t *testing.T) {
	if _, err := ParseFile("testdata/does-not-exist.yaml"); err == nil {
		t.Fatal("no error for a missing file")
	}
}

func TestNearest(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"Equals", "Equal", true},
		{"equal", "Equal", true},
		{"Eqaul", "Equal", true},
		{"Xyzzy", "", false},
		{"In", "In", true},
	} {
		s, ok := nearest(tc.got, []string{"Equal", "NotEqual", "In", "NotIn"})
		if ok != tc.ok || (ok && s != tc.want) {
			t.Errorf("nearest(%q) = %q, %v; want %q, %v", tc.got, s, ok, tc.want, tc.ok)
		}
	}
}
