package policy

import (
	"fmt"
	"strings"
	"testing"
)

// header starts every document of specCases; spec bodies start on line 6.
const header = "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n"

// specCases are malformed specs, each with the exact error text.
var specCases = []struct {
	name, spec, want string
}{
	{
		name: "NUL inside a string value",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: ["/etc/\0shadow"]}
`,
		want: `t.yaml:12: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: the string holds a NUL byte before its end: the kernel's strings end at their first NUL, so it could never match`,
	},
	{
		name: "final NUL on a prefix",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: ["/etc/shadow\0"]}
`,
		want: `t.yaml:12: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "/etc/shadow\x00" ends with a NUL byte, which only Equal and NotEqual can compare`,
	},
	{
		name: "list among string values",
		spec: `  lists:
  - {name: files, values: [sys_openat]}
  kprobes:
  - call: sys_openat
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: ["list:files"]}
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "list:files": lists apply to InMap and NotInMap on integer and syscall64 arguments, not to string values (Tetragon would compare the literal text)`,
	},
	{
		name: "unknown operator",
		spec: `  kprobes:
  - call: fd_install
    syscall: false
    args:
    - index: 0
      type: int
    selectors:
    - matchArgs:
      - index: 0
        operator: Equals
        values: ["3"]
`,
		want: `t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].operator: unknown operator "Equals" (did you mean "Equal"?)`,
	},
	{
		name: "unknown field in action",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - index: 1
      type: string
    selectors:
    - matchActions:
      - action: Post
        rateLimt: 1m
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchActions[0]: unknown field "rateLimt" (did you mean "rateLimit"?)`,
	},
	{
		name: "unknown hook kind",
		spec: `  kprobe:
  - call: sys_openat
`,
		want: `t.yaml:6: spec: unknown field "kprobe" (did you mean "kprobes"?)`,
	},
	{
		name: "string for integer",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - index: zero
      type: string
`,
		want: `t.yaml:9: spec.kprobes[0].args[0].index: expected a non-negative integer, got string "zero"`,
	},
	{
		name: "mapping for list",
		spec: `  kprobes:
  - call: sys_openat
    args:
      index: 0
      type: string
`,
		want: `t.yaml:9: spec.kprobes[0].args: expected a list, got a mapping`,
	},
	{
		name: "negative index",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - index: -1
      type: string
`,
		want: `t.yaml:9: spec.kprobes[0].args[0].index: expected a non-negative integer, got -1`,
	},
	{
		name: "unknown argument type",
		spec: `  kprobes:
  - call: fd_install
    syscall: false
    args:
    - index: 1
      type: filee
`,
		want: `t.yaml:11: spec.kprobes[0].args[0].type: unknown argument type "filee" (did you mean "file"?)`,
	},
	{
		name: "missing call",
		spec: `  kprobes:
  - syscall: false
    args:
    - index: 1
      type: file
`,
		want: `t.yaml:7: spec.kprobes[0]: missing required field "call"`,
	},
	{
		name: "undeclared matchArgs index",
		spec: `  kprobes:
  - call: fd_install
    syscall: false
    args:
    - index: 0
      type: int
    - index: 1
      type: file
    selectors:
    - matchArgs:
      - index: 2
        operator: Prefix
        values: ["/etc/"]
`,
		want: `t.yaml:16: spec.kprobes[0].selectors[0].matchArgs[0].index: 2 does not refer to a declared argument (declared: 0, 1)`,
	},
	{
		name: "tracepoint position out of range",
		spec: `  tracepoints:
  - subsystem: raw_syscalls
    event: sys_enter
    args:
    - index: 4
      type: uint64
    selectors:
    - matchArgs:
      - index: 5
        operator: Equal
        values: ["59"]
`,
		want: `t.yaml:14: spec.tracepoints[0].selectors[0].matchArgs[0].index: 5 is neither the index of an args entry nor a position in args: a tracepoint filter names the args entry of that field index, else the entry at that position, and 1 are declared`,
	},
	{
		name: "Prefix on int",
		spec: `  kprobes:
  - call: sys_close
    args:
    - index: 0
      type: int
    selectors:
    - matchArgs:
      - index: 0
        operator: Prefix
        values: ["3"]
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchArgs[0].operator: operator Prefix does not apply to argument type int (valid: Equal, NotEqual, GreaterThan, LessThan, GT, LT, Mask, InRange, NotInRange, InMap, NotInMap)`,
	},
	{
		name: "DAddr on file",
		spec: `  kprobes:
  - call: fd_install
    syscall: false
    args:
    - index: 1
      type: file
    selectors:
    - matchArgs:
      - index: 1
        operator: DAddr
        values: ["10.0.0.0/8"]
`,
		want: `t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].operator: operator DAddr does not apply to argument type file (valid: Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix, FileType, NotFileType)`,
	},
	{
		name: "CapabilitiesGained without args",
		spec: `  kprobes:
  - call: security_capset
    syscall: false
    args:
    - {index: 1, type: cap_effective, resolve: cap_effective}
    - {index: 2, type: cap_effective}
    selectors:
    - matchArgs:
      - {index: 1, operator: CapabilitiesGained}
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchArgs[0].args: operator CapabilitiesGained compares two capability sets: give their positions in args, the old set then the new (for example [0, 1])`,
	},
	{
		name: "CapabilitiesGained on a cred",
		spec: `  kprobes:
  - call: commit_creds
    syscall: false
    args:
    - {index: 0, type: cred}
    - {index: 0, type: cap_effective}
    selectors:
    - matchArgs:
      - {args: [0, 1], operator: CapabilitiesGained}
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchArgs[0].args[0]: args[0] is of type "cred": CapabilitiesGained compares capability sets (kernel_cap_t, cap_inheritable, cap_permitted, cap_effective)`,
	},
	{
		name: "CapabilitiesGained with values",
		spec: `  kprobes:
  - call: security_capset
    syscall: false
    args:
    - {index: 1, type: cap_effective, resolve: cap_effective}
    - {index: 2, type: cap_effective}
    selectors:
    - matchArgs:
      - {args: [0, 1], operator: CapabilitiesGained, values: [CAP_SYS_ADMIN]}
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchArgs[0].values: operator CapabilitiesGained takes no values: it matches when the second set has a capability the first lacks`,
	},
	{
		name: "two positions for Equal",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {args: [1, 0], operator: Equal, values: [/etc/shadow]}
`,
		want: `t.yaml:13: spec.kprobes[0].selectors[0].matchArgs[0].args: operator Equal applies to one argument, got 2 positions (only CapabilitiesGained compares two)`,
	},
	{
		name: "DAddr on sockaddr",
		spec: `  lsmhooks:
  - hook: socket_connect
    args:
    - index: 1
      type: sockaddr
    selectors:
    - matchArgs:
      - index: 1
        operator: DAddr
        values: ["10.0.0.0/8"]
`,
		want: `t.yaml:14: spec.lsmhooks[0].selectors[0].matchArgs[0].operator: operator DAddr does not apply to argument type sockaddr (valid: SAddr, NotSAddr, SPort, NotSPort, SPortPriv, NotSportPriv, NotSPortPriv, Family)`,
	},
	{
		name: "bad CIDRs",
		spec: `  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
    - matchArgs:
      - index: 0
        operator: NotDAddr
        values:
        - 10.0.0.0/8
        - 10.0.0.0/33
        - fd00::/8
        - fd00::/129
        - 300.1.1.1
`,
		want: `t.yaml:18: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: "10.0.0.0/33" is not an IP address or CIDR
t.yaml:20: spec.kprobes[0].selectors[0].matchArgs[0].values[3]: "fd00::/129" is not an IP address or CIDR
t.yaml:21: spec.kprobes[0].selectors[0].matchArgs[0].values[4]: "300.1.1.1" is not an IP address or CIDR`,
	},
	{
		name: "bad ports",
		spec: `  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
    - matchArgs:
      - index: 0
        operator: DPort
        values: ["443", "8000:8080", "70000", "http", "90:80"]
`,
		want: `t.yaml:16: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: "70000" is not a port number (0-65535)
t.yaml:16: spec.kprobes[0].selectors[0].matchArgs[0].values[3]: "http" is not a port number (0-65535)
t.yaml:16: spec.kprobes[0].selectors[0].matchArgs[0].values[4]: "90:80" is an empty range: 90 is greater than 80`,
	},
	{
		name: "bad ranges",
		spec: `  kprobes:
  - call: sys_setuid
    args:
    - index: 0
      type: uint32
    selectors:
    - matchArgs:
      - index: 0
        operator: InRange
        values: ["5", "9:3", "0:x"]
`,
		want: `t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "5" is not a range (want "low:high")
t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: "9:3" is an empty range: 9 is greater than 3
t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: in range "0:x": "x" is not an integer`,
	},
	{
		name: "bad integers",
		spec: `  kprobes:
  - call: sys_setuid
    args:
    - index: 0
      type: uint8
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values: ["abc", "300", "-1", "0xff"]
`,
		want: `t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "abc" is not an integer
t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: "300" is out of range for uint8
t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: "-1" is out of range for uint8`,
	},
	{
		name: "Signal without argSig",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: Signal
`,
		want: `t.yaml:10: spec.kprobes[0].selectors[0].matchActions[0]: action Signal needs argSig (a signal number, 1-64)`,
	},
	{
		name: "Override without argError",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: Override
`,
		want: `t.yaml:10: spec.kprobes[0].selectors[0].matchActions[0]: action Override needs argError (the error to return, e.g. -1 for -EPERM)`,
	},
	{
		name: "bad rateLimit",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: Post
        rateLimit: 5x
`,
		want: `t.yaml:11: spec.kprobes[0].selectors[0].matchActions[0].rateLimit: "5x" is not a rate limit (want a positive number of seconds, optionally with suffix s, m or h, e.g. "10s" or "1m")`,
	},
	{
		name: "misspelt rateLimitScope",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: Post
        rateLimit: "10s"
        rateLimitScope: proces
`,
		want: `t.yaml:12: spec.kprobes[0].selectors[0].matchActions[0].rateLimitScope: unknown rateLimitScope "proces" (did you mean "process"?)`,
	},
	{
		name: "rateLimit on Sigkill",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: Sigkill
        rateLimit: 1m
`,
		want: `t.yaml:11: spec.kprobes[0].selectors[0].matchActions[0].rateLimit: rateLimit applies only to action Post, not Sigkill`,
	},
	{
		name: "unknown action",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: SigKill
`,
		want: `t.yaml:10: spec.kprobes[0].selectors[0].matchActions[0].action: unknown action "SigKill" (did you mean "Sigkill"?)`,
	},
	{
		name: "undefined list",
		spec: `  lists:
  - name: dups
    type: syscalls
    values: [sys_dup, sys_dup2]
  kprobes:
  - call: "list:dupz"
`,
		want: `t.yaml:11: spec.kprobes[0].call: list "dupz" is not defined in spec.lists (did you mean "dups"?)`,
	},
	{
		name: "NotifyEnforcer without enforcers",
		spec: `  kprobes:
  - call: sys_ptrace
    selectors:
    - matchActions:
      - action: NotifyEnforcer
        argSig: 9
`,
		want: `t.yaml:10: spec.kprobes[0].selectors[0].matchActions[0].action: action NotifyEnforcer needs spec.enforcers`,
	},
	{
		name: "Override on tracepoint",
		spec: `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    selectors:
    - matchActions:
      - action: Override
        argError: -1
`,
		want: `t.yaml:11: spec.tracepoints[0].selectors[0].matchActions[0].action: Override is not possible on a tracepoint: it cannot change a return value`,
	},
	{
		name: "imaHash on kprobe",
		spec: `  kprobes:
  - call: sys_execve
    selectors:
    - matchActions:
      - action: Post
        imaHash: true
`,
		want: `t.yaml:11: spec.kprobes[0].selectors[0].matchActions[0].imaHash: imaHash is only available on lsmhooks`,
	},
	{
		name: "LSM hook with security_ prefix",
		spec: `  lsmhooks:
  - hook: security_file_open
    args:
    - index: 0
      type: file
`,
		want: `t.yaml:7: spec.lsmhooks[0].hook: LSM hook names have no "security_" prefix (did you mean "file_open"?)`,
	},
	{
		name: "relative binary",
		spec: `  kprobes:
  - call: sys_execve
    selectors:
    - matchBinaries:
      - operator: In
        values: ["/usr/bin/curl", "bash"]
`,
		want: `t.yaml:11: spec.kprobes[0].selectors[0].matchBinaries[0].values[1]: "bash" is not an absolute path (In and NotIn compare the full path of the executable)`,
	},
	{
		name: "misspelt capability and namespace",
		spec: `  kprobes:
  - call: sys_execve
    selectors:
    - matchCapabilities:
      - operator: In
        values: ["CAP_SYS_ADMN"]
      matchNamespaces:
      - namespace: Mount
        operator: In
        values: ["host_ns"]
`,
		want: `t.yaml:11: spec.kprobes[0].selectors[0].matchCapabilities[0].values[0]: unknown capability "CAP_SYS_ADMN" (did you mean "CAP_SYS_ADMIN"?)
t.yaml:13: spec.kprobes[0].selectors[0].matchNamespaces[0].namespace: unknown namespace "Mount" (did you mean "Mnt"?)`,
	},
	{
		name: "syscall arg index out of range",
		spec: `  kprobes:
  - call: sys_openat
    args:
    - index: 6
      type: int
`,
		want: `t.yaml:9: spec.kprobes[0].args[0].index: 6 is out of range: Vigil reads the first 6 arguments of a syscall (indexes 0-5)`,
	},
	{
		name: "sizeArgIndex on int",
		spec: `  kprobes:
  - call: sys_write
    args:
    - index: 0
      type: int
      sizeArgIndex: 3
`,
		want: `t.yaml:11: spec.kprobes[0].args[0].sizeArgIndex: sizeArgIndex applies only to char_buf and char_iovec arguments`,
	},
	{
		name: "duplicate field",
		spec: `  kprobes:
  - call: sys_write
    call: sys_read
`,
		want: `t.yaml:8: spec.kprobes[0]: duplicate field "call"`,
	},
	{
		name: "matchReturnArgs without return",
		spec: `  kprobes:
  - call: sys_openat
    returnArg:
      index: 0
      type: int
    selectors:
    - matchReturnArgs:
      - operator: LT
        values: ["0"]
`,
		want: `t.yaml:12: spec.kprobes[0].selectors[0].matchReturnArgs: matchReturnArgs needs return: true on the hook`,
	},
	{
		name: "unknown protocol",
		spec: `  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
    - matchArgs:
      - index: 0
        operator: Protocol
        values: ["IPPROTO_TPC"]
`,
		want: `t.yaml:16: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: unknown protocol "IPPROTO_TPC" (did you mean "IPPROTO_TCP"?)`,
	},
	{
		name: "GT with two values",
		spec: `  kprobes:
  - call: sys_setuid
    args:
    - index: 0
      type: int
    selectors:
    - matchArgs:
      - index: 0
        operator: GT
        values: ["1", "2"]
`,
		want: `t.yaml:15: spec.kprobes[0].selectors[0].matchArgs[0].values: operator GT takes exactly one value, got 2`,
	},
	{
		name: "hostSelector with labels",
		spec: `  hostSelector:
    matchLabels:
      role: db
  kprobes:
  - call: sys_setuid
`,
		want: `t.yaml:6: spec.hostSelector: hostSelector must be null (no host processes) or {} (all host processes)`,
	},
	{
		name: "matchWorkloads hostSelector with labels",
		spec: `  kprobes:
  - call: sys_setuid
    selectors:
    - matchWorkloads: {hostSelector: {matchLabels: {role: db}}}
`,
		want: `t.yaml:9: spec.kprobes[0].selectors[0].matchWorkloads.hostSelector: hostSelector must be null (no host processes) or {} (all host processes)`,
	},
	{
		name: "containerSelector by image",
		spec: `  containerSelector:
    matchLabels:
      image: nginx
  kprobes:
  - call: sys_setuid
`,
		want: `t.yaml:8: spec.containerSelector.matchLabels.image: unsupported key "image": containers can only be selected by "name"`,
	},
	{
		name: "misspelt option",
		spec: `  options:
  - name: disable-kprobe-mult
    value: "1"
  kprobes:
  - call: sys_setuid
`,
		want: `t.yaml:7: spec.options[0].name: unknown option "disable-kprobe-mult" (did you mean "disable-kprobe-multi"?)`,
	},
	{
		name: "string for boolean",
		spec: `  kprobes:
  - call: sys_setuid
    syscall: "true"
`,
		want: `t.yaml:8: spec.kprobes[0].syscall: expected a boolean, got string "true"`,
	},
	{
		name: "empty spec",
		spec: `  loader: false
`,
		want: `t.yaml:5: spec: the policy does nothing: it has no kprobes, fentries, tracepoints, uprobes, usdts or lsmhooks, and loader is not set`,
	},
	{
		name: "GetUrl with a bad URL",
		spec: `  kprobes:
  - call: sys_setuid
    selectors:
    - matchActions:
      - action: GetUrl
        argUrl: "ftp://example.com/x"
`,
		want: `t.yaml:11: spec.kprobes[0].selectors[0].matchActions[0].argUrl: "ftp://example.com/x" is not an http or https URL`,
	},
	{
		name: "TrackSock on a non-socket argument",
		spec: `  kprobes:
  - call: sys_close
    args:
    - index: 0
      type: int
    selectors:
    - matchActions:
      - action: TrackSock
        argSock: 0
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchActions[0].argSock: args[0] has type int, not sock or socket`,
	},
	{
		name: "argSock past the arguments",
		spec: `  kprobes:
  - call: tcp_close
    args:
    - index: 1
      type: sock
    selectors:
    - matchActions:
      - action: UntrackSock
        argSock: 1
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].matchActions[0].argSock: 1 is past the hook's args (1 of them): argSock is a position in args, counted from 0`,
	},
	{
		name: "unexpanded template variable",
		spec: `  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
    - matchArgs:
      - index: 0
        operator: DAddr
        values: ["${CIDR}"]
`,
		want: `t.yaml:16: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: unexpanded template variable ${CIDR}: substitute it before loading the policy`,
	},
	{
		name: "several errors in one document",
		spec: `  kprobes:
  - call: "bad name"
    message: "x"
    args:
    - index: 0
      type: int
    selectors:
    - matchPIDs:
      - operator: Within
        values: [1]
      matchArgs:
      - index: 0
        operator: Equal
        values: ["one"]
      matchActions:
      - action: Signal
        argSig: 99
`,
		want: `t.yaml:7: spec.kprobes[0].call: "bad name" is not a kernel function name
t.yaml:14: spec.kprobes[0].selectors[0].matchPIDs[0].operator: unknown operator "Within" (valid: In, NotIn)
t.yaml:19: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "one" is not an integer
t.yaml:22: spec.kprobes[0].selectors[0].matchActions[0].argSig: 99 is not a signal number (1-64)`,
	},
	{
		name: "fentry with bad call and string index",
		spec: `  fentries:
  - call: "do_sys_open"
    syscall: false
    args:
    - index: 0
      type: int
    - index: 1
      type: string
      maxData: true
      returnCopy: true
`,
		want: `t.yaml:14: spec.fentries[0].args[1].maxData: maxData applies only to char_buf, char_iovec and iov_iter arguments
t.yaml:15: spec.fentries[0].args[1].returnCopy: returnCopy applies only to char_buf and char_iovec arguments`,
	},
	{
		name: "uprobe without symbols",
		spec: `  uprobes:
  - path: "bin/bash"
`,
		want: `t.yaml:7: spec.uprobes[0].path: "bin/bash" is not an absolute path
t.yaml:7: spec.uprobes[0]: a uprobe needs exactly one of symbols, offsets (in the file) or addrs (virtual addresses)`,
	},
	{
		name: "usdt with bad provider and Set on arg 3",
		spec: `  usdts:
  - path: /usr/bin/app
    provider: "my-app"
    name: probe1
    args:
    - index: 0
      type: int32
    selectors:
    - matchActions:
      - action: Set
        argIndex: 3
        argValue: 1
`,
		want: `t.yaml:8: spec.usdts[0].provider: "my-app" is not a valid USDT provider name
t.yaml:16: spec.usdts[0].selectors[0].matchActions[0].argIndex: 3 does not refer to a declared argument (declared: 0)`,
	},
	{
		name: "list type misspelt",
		spec: `  lists:
  - name: dups
    type: syscall
    values: [sys_dup]
  - name: gen
    type: generated_ftrace
  kprobes:
  - call: "list:dups"
`,
		want: `t.yaml:8: spec.lists[0].type: unknown list type "syscall" (did you mean "syscalls"?)
t.yaml:10: spec.lists[1]: a generated_ftrace list needs a pattern`,
	},
	{
		name: "label selector operator",
		spec: `  podSelector:
    matchExpressions:
    - key: app
      operator: Exist
    - key: tier
      operator: In
  kprobes:
  - call: sys_setuid
`,
		want: `t.yaml:9: spec.podSelector.matchExpressions[0].operator: unknown operator "Exist" (did you mean "Exists"?)
t.yaml:10: spec.podSelector.matchExpressions[1]: operator In needs at least one value`,
	},
	{
		name: "matchNamespaces value",
		spec: `  kprobes:
  - call: sys_setuid
    selectors:
    - matchNamespaces:
      - namespace: Pid
        operator: NotIn
        values: ["host", "4026531836"]
`,
		want: `t.yaml:12: spec.kprobes[0].selectors[0].matchNamespaces[0].values[0]: "host" is not a namespace inode number or "host_ns"`,
	},
	{
		name: "return without returnArg",
		spec: `  kprobes:
  - call: sys_openat
    return: true
    returnArgAction: Track
`,
		want: `t.yaml:7: spec.kprobes[0]: return: true needs returnArg (the type of the return value)
t.yaml:9: spec.kprobes[0].returnArgAction: unknown returnArgAction "Track" (valid: Post, TrackSock, UntrackSock)`,
	},
	{
		name: "undefined macro",
		spec: `  selectorsMacros:
    curl:
      matchBinaries:
      - operator: In
        values: [/usr/bin/curl]
  kprobes:
  - call: sys_connect
    selectors:
    - macros: [crul]
`,
		want: `t.yaml:14: spec.kprobes[0].selectors[0].macros[0]: macro "crul" is not defined in spec.selectorsMacros (did you mean "curl"?)`,
	},
}

func TestMalformedSpecs(t *testing.T) {
	for _, tc := range specCases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, header+tc.spec, tc.want)
		})
	}
}

// docCases are malformed documents, each with the exact error text.
var docCases = []struct {
	name, doc, want string
}{
	{
		name: "two policies of the same name",
		doc:  header + "  loader: true\n---\n" + header + "  loader: true\n",
		want: `t.yaml:8: metadata.name: a second policy named "t" in this file (the first is at line 1): each would replace the other`,
	},
	{
		name: "unsupported apiVersion",
		doc:  "apiVersion: cilium.io/v1aplha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n  loader: true\n",
		want: `t.yaml:1: apiVersion: unsupported apiVersion "cilium.io/v1aplha1" (did you mean "cilium.io/v1alpha1"?)`,
	},
	{
		name: "unknown kind",
		doc:  "apiVersion: vigil.dev/v1alpha1\nkind: TracingPolice\nmetadata:\n  name: t\nspec:\n  loader: true\n",
		want: `t.yaml:2: kind: unsupported kind "TracingPolice" (did you mean "TracingPolicy"?)`,
	},
	{
		name: "missing kind",
		doc:  "apiVersion: cilium.io/v1alpha1\nmetadata:\n  name: t\n",
		want: `t.yaml:1: missing required field "kind"`,
	},
	{
		name: "namespaced without namespace",
		doc:  "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicyNamespaced\nmetadata:\n  name: t\nspec:\n  loader: true\n",
		want: `t.yaml:3: metadata.namespace: required for kind TracingPolicyNamespaced (outside a cluster there is no current namespace to default to)`,
	},
	{
		name: "namespaced with hostSelector",
		doc:  "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicyNamespaced\nmetadata:\n  name: t\n  namespace: web\nspec:\n  hostSelector: {}\n  loader: true\n",
		want: `t.yaml:7: spec.hostSelector: a TracingPolicyNamespaced applies to pods only and cannot have a hostSelector`,
	},
	{
		name: "cluster policy with namespace",
		doc:  "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\n  namespace: web\nspec:\n  loader: true\n",
		want: `t.yaml:5: metadata.namespace: a TracingPolicy is cluster-scoped and has no namespace (use kind TracingPolicyNamespaced)`,
	},
	{
		name: "invalid name and missing spec",
		doc:  "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: Sys_Mount\n",
		want: `t.yaml:1: missing required field "spec"`,
	},
	{
		name: "invalid name",
		doc:  "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: Sys_Mount\nspec:\n  loader: true\n",
		want: `t.yaml:4: metadata.name: "Sys_Mount" is not a valid name (lower-case letters, digits, '-' and '.', at most 253 characters)`,
	},
	{
		name: "YAML syntax error",
		doc:  "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\n spec: x\n",
		want: `t.yaml:4: invalid YAML: did not find expected key`,
	},
	{
		name: "not a mapping",
		doc:  "- a\n- b\n",
		want: `t.yaml:1: document is not a mapping but a list`,
	},
	{
		name: "no documents",
		doc:  "# nothing here\n---\n",
		want: `t.yaml: no policy documents`,
	},
	{
		name: "too many selectors",
		doc:  header + "  kprobes:\n  - call: sys_setuid\n    selectors:\n" + strings.Repeat("    - matchActions: [{action: Post}]\n", MaxSelectorsPerHook+1),
		want: `t.yaml:8: spec.kprobes[0].selectors: 17 selectors exceed the limit of 16 per hook`,
	},
	{
		name: "too many values",
		doc:  header + "  kprobes:\n  - call: sys_openat\n    args: [{index: 1, type: string}]\n    selectors:\n    - matchArgs:\n      - index: 1\n        operator: Prefix\n        values:\n" + manyValues(MaxValuesPerSet+1),
		want: `t.yaml:13: spec.kprobes[0].selectors[0].matchArgs[0].values: 10001 values exceed the limit of 10000 per set`,
	},
	{
		name: "too many matchBinaries",
		doc:  header + "  kprobes:\n  - call: sys_setuid\n    selectors:\n    - matchBinaries:\n" + strings.Repeat("      - {operator: In, values: [/bin/sh]}\n", MaxBinarySelectors+1),
		want: `t.yaml:9: spec.kprobes[0].selectors[0].matchBinaries: 9 entries exceed the limit of 8 per selector`,
	},
	{
		name: "errors in two documents",
		doc:  header + "  kprobes:\n  - call: sys_setuid\n---\n" + header + "  kprobes:\n  - call: sys_setuid\n    syscal: true\n---\n" + header + "  tracepoint: []\n",
		want: `t.yaml:16: spec.kprobes[0]: unknown field "syscal" (did you mean "syscall"?)
t.yaml:23: spec: unknown field "tracepoint" (did you mean "tracepoints"?)`,
	},
}

func manyValues(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "        - /p%d/\n", i)
	}
	return b.String()
}

func TestMalformedDocuments(t *testing.T) {
	for _, tc := range docCases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, tc.doc, tc.want)
		})
	}
}

// checkError parses doc as t.yaml and compares the error text with want.
func checkError(t *testing.T, doc, want string) {
	t.Helper()
	policies, err := Parse([]byte(doc), "t.yaml")
	if err == nil {
		t.Fatalf("parsed %d policies, want error:\n%s", len(policies), want)
	}
	if policies != nil {
		t.Errorf("got policies with an error")
	}
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
