package policy

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// hook is what selector validation needs to know about one hook.
type hook struct {
	kind      string // "kprobe", "fentry", "tracepoint", "uprobe", "usdt", "LSM hook"
	generic   bool   // a selectors macro, checked without a hook
	args      []KProbeArg
	data      []KProbeArg
	ret       bool // the hook reads the return value (return: true)
	returnArg *KProbeArg
	// positional is true where a filter's index that no args[].index
	// equals names the args entry at that position (tracepoints, as
	// Tetragon rewrites their filters' indexes).
	positional bool
	// byPosition: the filters are matchData's, whose index is a position
	// in data (Tetragon's); args holds the data entries
	byPosition bool
	// maxIndex bounds args[].index (0: unbounded); maxWhy says why.
	maxIndex int
	maxWhy   string
}

var hookPhrases = map[string]string{
	"kprobe": "a kprobe", "fentry": "an fentry", "tracepoint": "a tracepoint",
	"uprobe": "a uprobe", "usdt": "a USDT", "LSM hook": "an LSM hook",
}

// phrase names the hook kind with its article, for messages.
func (h *hook) phrase() string { return hookPhrases[h.kind] }

// lookup returns the declared argument that filters and actions call idx.
func (h *hook) lookup(idx uint32) *KProbeArg {
	if h.byPosition {
		if int(idx) < len(h.args) {
			return &h.args[idx]
		}
		return nil
	}
	for i := range h.args {
		if h.args[i].Index == idx {
			return &h.args[i]
		}
	}
	if h.positional && int(idx) < len(h.args) {
		return &h.args[idx]
	}
	return nil
}

// undeclared explains why idx names no argument of h.
func (h *hook) undeclared(idx uint32) string {
	if h.byPosition {
		return fmt.Sprintf("%d is not a position in data: matchData names data entries by position, and %d are declared", idx, len(h.args))
	}
	if h.positional {
		return fmt.Sprintf("%d is neither the index of an args entry nor a position in args: a tracepoint filter names the args entry of that field index, else the entry at that position, and %d are declared", idx, len(h.args))
	}
	if len(h.args) == 0 {
		return fmt.Sprintf("%d does not refer to a declared argument: the hook declares no args", idx)
	}
	indexes := make([]string, len(h.args))
	for i, a := range h.args {
		indexes[i] = fmt.Sprint(a.Index)
	}
	return fmt.Sprintf("%d does not refer to a declared argument (declared: %s)", idx, strings.Join(indexes, ", "))
}

func (v *validator) validateHooks(p path) {
	s := v.spec
	for i := range s.KProbes {
		v.kprobe(&s.KProbes[i], p.child("kprobes").at(i), "kprobe")
	}
	for i := range s.Fentries {
		v.kprobe(&s.Fentries[i], p.child("fentries").at(i), "fentry")
	}
	for i := range s.Tracepoints {
		v.tracepoint(&s.Tracepoints[i], p.child("tracepoints").at(i))
	}
	for i := range s.UProbes {
		v.uprobe(&s.UProbes[i], p.child("uprobes").at(i))
	}
	for i := range s.Usdts {
		v.usdt(&s.Usdts[i], p.child("usdts").at(i))
	}
	for i := range s.LsmHooks {
		v.lsmHook(&s.LsmHooks[i], p.child("lsmhooks").at(i))
	}
}

func (v *validator) kprobe(k *KProbeSpec, p path, kind string) {
	if k.Call == "" {
		v.errorf(p.child("call"), "must not be empty")
	} else {
		v.symbolOrList(p.child("call"), k.Call)
	}
	h := &hook{kind: kind, args: k.Args, data: k.Data, ret: k.Return, returnArg: k.ReturnArg}
	h.maxIndex, h.maxWhy = MaxFuncArgs, "a function"
	if v.spec.HooksSyscalls(k) {
		h.maxIndex, h.maxWhy = MaxSyscallArgs, "a syscall"
	}
	v.returnSpec(k, h, p)
	v.hookBody(h, p, k.Message, k.Tags, k.Selectors)
}

func (v *validator) returnSpec(k *KProbeSpec, h *hook, p path) {
	if k.Return && k.ReturnArg == nil {
		v.errorf(p, "return: true needs returnArg (the type of the return value)")
	}
	if k.ReturnArg != nil {
		v.arg(&hook{kind: h.kind}, k.ReturnArg, p.child("returnArg"))
	}
	if k.ReturnArgAction == "" {
		return
	}
	if v.enum(p.child("returnArgAction"), "returnArgAction", k.ReturnArgAction, returnArgActions) && !k.Return {
		v.errorf(p.child("returnArgAction"), "returnArgAction needs return: true")
	}
}

var tracefsName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func (v *validator) tracepoint(t *TracepointSpec, p path) {
	v.name(p.child("subsystem"), t.Subsystem, tracefsName, "tracepoint subsystem")
	v.name(p.child("event"), t.Event, tracefsName, "tracepoint event")
	h := &hook{kind: "tracepoint", args: t.Args, positional: true}
	v.hookBody(h, p, t.Message, t.Tags, t.Selectors)
}

func (v *validator) uprobe(u *UProbeSpec, p path) {
	v.absolute(p.child("path"), u.Path)
	// as in Tetragon: one way to place the probes, and a reference
	// counter for each or none
	lists := 0
	for _, n := range []int{len(u.Symbols), len(u.Offsets), len(u.Addrs)} {
		if n > 0 {
			lists++
		}
	}
	if lists != 1 {
		v.errorf(p, "a uprobe needs exactly one of symbols, offsets (in the file) or addrs (virtual addresses)")
	}
	if n := len(u.Symbols) + len(u.Offsets) + len(u.Addrs); lists == 1 && len(u.RefCtrOffsets) > 0 && len(u.RefCtrOffsets) != n {
		v.errorf(p.child("refCtrOffsets"), "%d refCtrOffsets for %d probes: give one per probe", len(u.RefCtrOffsets), n)
	}
	for i, s := range u.Symbols {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			v.errorf(p.child("symbols").at(i), "%q is not a symbol name", s)
		}
	}
	v.limit(p.child("binaryDigests"), len(u.BinaryDigests), MaxDigests, "digests", "uprobe")
	for i, d := range u.BinaryDigests {
		v.digest(p.child("binaryDigests").at(i), d)
	}
	h := &hook{kind: "uprobe", args: u.Args, maxIndex: MaxFuncArgs, maxWhy: "a function", ret: u.Return, returnArg: u.ReturnArg}
	v.returnSpec(&KProbeSpec{Return: u.Return, ReturnArg: u.ReturnArg}, h, p)
	v.hookBody(h, p, u.Message, u.Tags, u.Selectors)
}

func (v *validator) usdt(u *UsdtSpec, p path) {
	v.absolute(p.child("path"), u.Path)
	v.name(p.child("provider"), u.Provider, identifier, "USDT provider")
	v.name(p.child("name"), u.Name, identifier, "USDT")
	h := &hook{kind: "usdt", args: u.Args, maxIndex: MaxFuncArgs, maxWhy: "a USDT"}
	v.hookBody(h, p, u.Message, u.Tags, u.Selectors)
}

func (v *validator) lsmHook(l *LsmHookSpec, p path) {
	switch {
	case strings.HasPrefix(l.Hook, "security_"):
		v.errorf(p.child("hook"), "LSM hook names have no \"security_\" prefix (did you mean %q?)", strings.TrimPrefix(l.Hook, "security_"))
	default:
		v.name(p.child("hook"), l.Hook, identifier, "LSM hook")
	}
	h := &hook{kind: "LSM hook", args: l.Args, maxIndex: MaxFuncArgs, maxWhy: "an LSM hook"}
	v.hookBody(h, p, l.Message, l.Tags, l.Selectors)
}

// name checks that s matches re; what says what s names.
func (v *validator) name(p path, s string, re *regexp.Regexp, what string) {
	if !re.MatchString(s) {
		v.errorf(p, "%q is not a valid %s name", s, what)
	}
}

// MaxDigests bounds a uprobe's binaryDigests.
const MaxDigests = 64

// digestHexLen is the length in hex digits of each digest binaryDigests
// takes (Tetragon's), and 0 for a build ID, whose length varies.
var digestHexLen = map[string]int{"sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128, "build-id": 0}

// digest checks a binaryDigests entry: "<type>:<hex digest>".
func (v *validator) digest(p path, d string) {
	algo, hexDigest, _ := strings.Cut(d, ":")
	n, ok := digestHexLen[algo]
	_, err := hex.DecodeString(hexDigest)
	switch {
	case !ok:
		v.errorf(p, "%q: want <type>:<hex digest>, the type one of sha1, sha256, sha384, sha512 or build-id", d)
	case err != nil || hexDigest == "":
		v.errorf(p, "%q: the digest is not hexadecimal bytes", d)
	case n != 0 && len(hexDigest) != n:
		v.errorf(p, "%q: a %s digest has %d hex digits, not %d", d, algo, n, len(hexDigest))
	case len(hexDigest) > 128:
		v.errorf(p, "%q: a build ID of %d bytes exceeds the limit of 64", d, len(hexDigest)/2)
	}
}

func (v *validator) absolute(p path, file string) {
	if !strings.HasPrefix(file, "/") {
		v.errorf(p, "%q is not an absolute path", file)
	}
}

// hookBody checks what all hook kinds share.
func (v *validator) hookBody(h *hook, p path, message string, tags []string, selectors []KProbeSelector) {
	if len(message) > MaxMessageLen {
		v.errorf(p.child("message"), "%d bytes exceed the limit of %d", len(message), MaxMessageLen)
	}
	v.limit(p.child("tags"), len(tags), MaxTags, "tags", "hook")
	v.argList(h, h.args, p.child("args"))
	v.argList(h, h.data, p.child("data"))
	for i := range h.data {
		v.dataSource(&h.data[i], p.child("data").at(i))
	}
	v.limit(p.child("selectors"), len(selectors), MaxSelectorsPerHook, "selectors", "hook")
	for i := range selectors {
		v.selector(h, &selectors[i], p.child("selectors").at(i))
	}
}

func (v *validator) argList(h *hook, args []KProbeArg, p path) {
	v.limit(p, len(args), MaxArgs, "args", "hook")
	for i := range args {
		v.arg(h, &args[i], p.at(i))
	}
}

var memberPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?)*$`)

// arg checks one args, data or returnArg entry.
func (v *validator) arg(h *hook, a *KProbeArg, p path) {
	if h.maxIndex > 0 && int(a.Index) >= h.maxIndex {
		v.errorf(p.child("index"), "%d is out of range: Vigil reads the first %d arguments of %s (indexes 0-%d)", a.Index, h.maxIndex, h.maxWhy, h.maxIndex-1)
	}
	if a.Type != "" && !v.enum(p.child("type"), "argument type", a.Type, argTypes) {
		return
	}
	if a.Resolve != "" && !memberPath.MatchString(a.Resolve) {
		v.errorf(p.child("resolve"), "%q is not a member path (names separated by dots, e.g. \"mm.owner.comm\")", a.Resolve)
	}
	switch {
	case a.BTFType != "" && a.Resolve == "":
		v.errorf(p.child("btfType"), "btfType is the struct that resolve starts from: give resolve too (e.g. btfType: sockaddr_in, resolve: sin_port)")
	case a.BTFTypeModule != "" && a.BTFType == "":
		v.errorf(p.child("btfTypeModule"), "btfTypeModule is the module whose BTF defines btfType: give btfType too")
	}
	v.bufferOptions(h, a, p)
}

// dataSource checks what a data entry reads from, as Tetragon does: a
// source, current_task or pt_regs, and a resolve path.
func (v *validator) dataSource(a *KProbeArg, p path) {
	if a.Source != "current_task" && a.Source != "pt_regs" {
		v.errorf(p.child("source"), "%q is not a data source (use \"current_task\" or \"pt_regs\")", a.Source)
	}
	if a.Resolve == "" {
		v.errorf(p.child("resolve"), "a data entry needs resolve: the member of the source to read (e.g. \"comm\")")
	}
}

// bufferOptions checks the options that only buffers take.
func (v *validator) bufferOptions(h *hook, a *KProbeArg, p path) {
	buffer := a.Type == "char_buf" || a.Type == "char_iovec"
	if a.SizeArgIndex > 0 && !buffer {
		v.errorf(p.child("sizeArgIndex"), "sizeArgIndex applies only to char_buf and char_iovec arguments")
	} else if h.maxIndex > 0 && int(a.SizeArgIndex) > h.maxIndex {
		v.errorf(p.child("sizeArgIndex"), "%d is out of range: Vigil reads the first %d arguments of %s (sizeArgIndex counts from 1)", a.SizeArgIndex, h.maxIndex, h.maxWhy)
	}
	if a.ReturnCopy && !buffer {
		v.errorf(p.child("returnCopy"), "returnCopy applies only to char_buf and char_iovec arguments")
	}
	if a.MaxData && !buffer && a.Type != "iov_iter" {
		v.errorf(p.child("maxData"), "maxData applies only to char_buf, char_iovec and iov_iter arguments")
	}
}
