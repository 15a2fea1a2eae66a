package tracing

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The selector table: for each argument type and operator, a case that
// must match and one that must not.

// one is a hook of a single slot and a single condition on it.
func one(name string, s slot, c cnd, want int32) selSpec {
	return selSpec{name: name, slots: []slot{s}, conds: []cnd{c}, want: want}
}

// yesNo is the usual pair of cases: the condition holds on yes, and not on
// no.
func yesNo(name string, yes, no slot, c cnd) []selSpec {
	return []selSpec{one(name+"/match", yes, c, 0), one(name+"/no match", no, c, -1)}
}

// intSpecs cover the integer operators on each integer type: values in
// v1 and v2 or in a set of more, bounds, masks, ranges, negation, and how
// each type reads its register.
func intSpecs() []selSpec {
	var specs []selSpec
	for _, typ := range []struct {
		name string
		typ  uint8
	}{{"int", ArgInt}, {"uint", ArgUint}, {"s64", ArgS64}, {"u64", ArgU64}} {
		v := func(x uint64) slot { return slot{typ: typ.typ, raw: x} }
		for _, c := range []struct {
			name    string
			c       cnd
			yes, no uint64
		}{
			{"eq two values", cnd{op: CondEq, ints: []int64{3, 7}}, 7, 5},
			{"eq one value", cnd{op: CondEq, ints: []int64{3}}, 3, 7},
			{"eq set of four", cnd{op: CondEq, ints: []int64{3, 7, 11, 1000}}, 1000, 5},
			{"gt", cnd{op: CondGT, v1: 10}, 11, 10},
			{"lt", cnd{op: CondLT, v1: 10}, 9, 10},
			{"mask", cnd{op: CondMask, v1: 0x4}, 0x6, 0x3},
			{"inrange low bound", cnd{op: CondInRange, v1: 10, v2: 20}, 10, 9},
			{"inrange high bound", cnd{op: CondInRange, v1: 10, v2: 20}, 20, 21},
			{"not eq", cnd{op: CondEq, ints: []int64{3, 7}, neg: true}, 5, 7},
			{"not eq set", cnd{op: CondEq, ints: []int64{3, 7, 11}, neg: true}, 5, 11},
			{"not gt", cnd{op: CondGT, v1: 10, neg: true}, 10, 11},
			{"not inrange", cnd{op: CondInRange, v1: 10, v2: 20, neg: true}, 21, 15},
		} {
			specs = append(specs, yesNo(typ.name+"/"+c.name, v(c.yes), v(c.no), c.c)...)
		}
	}
	return append(append(specs, signSpecs()...), capsGainedSpecs()...)
}

// capsGainedSpecs: CondCapsGained matches when slot V1's set has a bit the
// subject's lacks (the old set in slot 0, the new in slot 1).
func capsGainedSpecs() []selSpec {
	gained := func(name string, old, new uint64, want int32) selSpec {
		return selSpec{name: "caps gained/" + name, slots: []slot{{typ: ArgU64, raw: old}, {typ: ArgU64, raw: new}},
			conds: []cnd{{subj: 0, op: CondCapsGained, v1: 1}}, want: want}
	}
	return []selSpec{
		gained("one gained", 0b0011, 0b0111, 0),
		gained("one dropped", 0b0111, 0b0011, -1),
		gained("same set", 0b0101, 0b0101, -1),
		gained("one dropped, another gained", 0b0011, 0b0110, 0),
	}
}

// signSpecs check how each type reads a register whose value has its
// upper bits set: 32-, 16- and 8-bit ints ignore the bits above them, the
// signed ones sign-extend.
func signSpecs() []selSpec {
	minus2 := cnd{op: CondEq, ints: []int64{-2}}
	return []selSpec{
		one("int/32-bit -2 with garbage above", slot{typ: ArgInt, raw: 0x1_ffff_fffe}, minus2, 0),
		one("int/negative lt 0", slot{typ: ArgInt, raw: 0xffff_fffb}, cnd{op: CondLT, v1: 0}, 0),
		one("uint/-2 is 4294967294", slot{typ: ArgUint, raw: 0xffff_fffe}, minus2, -1),
		one("uint/high bit gt 0", slot{typ: ArgUint, raw: 0xffff_fffb}, cnd{op: CondGT, v1: 0}, 0),
		one("uint/garbage above ignored", slot{typ: ArgUint, raw: 0x7_0000_0005}, cnd{op: CondEq, ints: []int64{5}}, 0),
		one("s64/-2", slot{typ: ArgS64, raw: 0xffff_ffff_ffff_fffe}, minus2, 0),
		one("s64/32-bit -2 is not -2", slot{typ: ArgS64, raw: 0xffff_fffe}, minus2, -1),
		one("s8/-2 with garbage above", slot{typ: ArgS8, raw: 0x12_34fe}, minus2, 0),
		one("u8/low byte only", slot{typ: ArgU8, raw: 0x12_34fe}, cnd{op: CondEq, ints: []int64{0xfe}}, 0),
		one("u8/-2 is 254", slot{typ: ArgU8, raw: 0xfe}, minus2, -1),
		one("s16/-2 with garbage above", slot{typ: ArgS16, raw: 0x7_fffe}, minus2, 0),
		one("u16/low half only", slot{typ: ArgU16, raw: 0x7_9d9c}, cnd{op: CondEq, ints: []int64{0x9d9c}}, 0),
		one("u16/-2 is 65534", slot{typ: ArgU16, raw: 0xfffe}, minus2, -1),
	}
}

// strCase is a string-like argument type and how to give it a value.
type strCase struct {
	name  string
	value string
	slots []slot
}

// stringSpecs cover the string operators (exact, prefix, postfix, in sets
// of several values, negated) on every type compared as a string: user
// strings and buffers read by read_arg, a real descriptor resolved to its
// path, and the paths of kernel objects given as read.
func stringSpecs(t *testing.T) []selSpec {
	var specs []selSpec
	for _, sc := range stringCases(t) {
		specs = append(specs, stringOps(sc)...)
	}
	return append(specs, longStringSpecs()...)
}

func stringCases(t *testing.T) []strCase {
	const path = "/etc/vigil/secret.conf"
	fd := openFile(t)
	buf := []byte(path + "trailing bytes beyond the size")
	return []strCase{
		{"string", path, []slot{{typ: ArgString, mem: cstr(path)}}},
		{"char_buf", path, []slot{{typ: ArgCharBuf, mem: buf, sizeSlot: 1}, {typ: ArgU64, raw: uint64(len(path))}}},
		{"fd", fd.path, []slot{{typ: ArgFd, raw: uint64(fd.fd)}}},
		{"file", path, []slot{{typ: ArgFile, given: []byte(path)}}},
		{"path", path, []slot{{typ: ArgPath, given: []byte(path)}}},
		{"linux_binprm", path, []slot{{typ: ArgBprm, given: []byte(path)}}},
	}
}

// stringOps are the cases of one string-like argument whose value is v.
func stringOps(sc strCase) []selSpec {
	v, half := sc.value, len(sc.value)/2
	spec := func(name string, c cnd, want int32) selSpec {
		return selSpec{name: sc.name + "/" + name, slots: sc.slots, conds: []cnd{c}, want: want}
	}
	return []selSpec{
		spec("eq", cnd{op: CondEq, strs: []string{v}}, 0),
		spec("eq in a set of three", cnd{op: CondEq, strs: []string{"/bin/sh", v, "/etc/shadow"}}, 0),
		spec("eq is not prefix", cnd{op: CondEq, strs: []string{v[:len(v)-1]}}, -1),
		spec("eq is not a longer value", cnd{op: CondEq, strs: []string{v + "x"}}, -1),
		spec("prefix", cnd{op: CondPrefix, strs: []string{v[:half]}}, 0),
		spec("prefix whole value", cnd{op: CondPrefix, strs: []string{v}}, 0),
		spec("prefix in a set of three", cnd{op: CondPrefix, strs: []string{"/usr/", v[:half], "/proc/"}}, 0),
		spec("prefix no", cnd{op: CondPrefix, strs: []string{v[:half] + "\x01", "/usr/"}}, -1),
		spec("postfix", cnd{op: CondPostfix, strs: []string{v[half:]}}, 0),
		spec("postfix in a set of three", cnd{op: CondPostfix, strs: []string{".yaml", v[half:], ".so"}}, 0),
		spec("postfix no", cnd{op: CondPostfix, strs: []string{"\x01" + v[half:], ".yaml"}}, -1),
		spec("not eq", cnd{op: CondEq, strs: []string{v}, neg: true}, -1),
		spec("not prefix", cnd{op: CondPrefix, strs: []string{"/usr/"}, neg: true}, 0),
		spec("not postfix", cnd{op: CondPostfix, strs: []string{v[half:]}, neg: true}, -1),
	}
}

// longStringSpecs: selectors compare at most StrKeyLen-1 bytes, the first
// ones for exact values and prefixes, the last ones for postfixes.
func longStringSpecs() []selSpec {
	long := "/" + strings.Repeat("abcdefghij", 40) + "/end"
	s := slot{typ: ArgString, mem: cstr(long)}
	return []selSpec{
		one("string/long: prefix", s, cnd{op: CondPrefix, strs: []string{long[:200]}}, 0),
		one("string/long: postfix", s, cnd{op: CondPostfix, strs: []string{long[len(long)-200:]}}, 0),
		one("string/long: postfix no", s, cnd{op: CondPostfix, strs: []string{"x/end"}}, -1),
		// the key's last bytes, past its last whole word of eight
		one("string/long: postfix of every byte compared", s, cnd{op: CondPostfix, strs: []string{long[len(long)-(StrKeyLen-1):]}}, 0),
		one("string/long: postfix differs in the first byte compared", s, cnd{op: CondPostfix, strs: []string{"X" + long[len(long)-(StrKeyLen-2):]}}, -1),
		one("string/long: eq on its first bytes", s, cnd{op: CondEq, strs: []string{long[:StrKeyLen-1]}}, -1),
	}
}

// openedFile is a file the test holds open, and its path.
type openedFile struct {
	fd   int
	path string
}

func openFile(t *testing.T) openedFile {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "secret.conf")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return openedFile{int(f.Fd()), p}
}

func cstr(s string) []byte { return append([]byte(s), 0) }

// netView is a network argument: what view_net sees in it.
type netView struct {
	name           string
	typ            uint8
	family         uint16
	sport, dport   uint16
	protocol       uint16
	state          uint8
	saddr, daddr   netip.Addr
	sameAddrsPorts bool // a sockaddr: one port and address, both source and destination
}

func netViews() []netView {
	v4s, v4d := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.7")
	v6s, v6d := netip.MustParseAddr("fd00::1:2:3"), netip.MustParseAddr("2001:db8::7")
	return []netView{
		{name: "sockaddr v4", typ: ArgSockaddr, family: 2, sport: 443, dport: 443, saddr: v4d, daddr: v4d, sameAddrsPorts: true},
		{name: "sockaddr v6", typ: ArgSockaddr, family: 10, sport: 8443, dport: 8443, saddr: v6d, daddr: v6d, sameAddrsPorts: true},
		{name: "sock v4", typ: ArgSock, family: 2, sport: 40000, dport: 443, protocol: 6, state: 1, saddr: v4s, daddr: v4d},
		{name: "sock v6", typ: ArgSock, family: 10, sport: 22, dport: 51000, protocol: 17, state: 7, saddr: v6s, daddr: v6d},
		{name: "skb v4", typ: ArgSkb, family: 2, sport: 53, dport: 33000, protocol: 17, saddr: v4s, daddr: v4d},
		{name: "skb v6", typ: ArgSkb, family: 10, sport: 40001, dport: 80, protocol: 6, saddr: v6s, daddr: v6d},
	}
}

// slot is the argument as the hook gets it: a sockaddr in this process's
// memory, or the sock_info or skb_info read_arg makes of a kernel object.
func (v netView) slot() slot {
	var s, d [16]byte
	copy(s[:], v.saddr.AsSlice())
	copy(d[:], v.daddr.AsSlice())
	switch v.typ {
	case ArgSock:
		return slot{typ: ArgSock, given: appendStruct(SockInfo{Family: v.family, Protocol: v.protocol,
			Sport: v.sport, Dport: v.dport, State: v.state, Saddr: s, Daddr: d})}
	case ArgSkb:
		return slot{typ: ArgSkb, given: appendStruct(SkbInfo{Family: v.family, Protocol: v.protocol,
			Sport: v.sport, Dport: v.dport, Saddr: s, Daddr: d})}
	}
	sa := make([]byte, 28) // read_arg reads sizeof(struct sockaddr_in6)
	binary.NativeEndian.PutUint16(sa, v.family)
	binary.BigEndian.PutUint16(sa[2:], v.dport)
	if v.family == 2 {
		copy(sa[4:], v.daddr.AsSlice())
	} else {
		copy(sa[8:], v.daddr.AsSlice())
	}
	return slot{typ: ArgSockaddr, mem: sa}
}

// netSpecs cover the network operators on every network view.
func netSpecs() []selSpec {
	var specs []selSpec
	for _, v := range netViews() {
		for _, c := range netConds(v) {
			specs = append(specs, one(v.name+"/"+c.name, v.slot(), c.c, c.want))
		}
	}
	return specs
}

type netCond struct {
	name string
	c    cnd
	want int32
}

// netConds are the cases of one view, each holding or not by the view's
// fields.
func netConds(v netView) []netCond {
	other := map[uint16]int64{2: 10, 10: 2}[v.family]
	conds := []netCond{
		{"family", cnd{op: CondFamily, ints: []int64{int64(v.family)}}, 0},
		{"family no", cnd{op: CondFamily, ints: []int64{other}}, -1},
		{"protocol", cnd{op: CondProtocol, ints: []int64{int64(v.protocol)}}, 0},
		{"protocol no", cnd{op: CondProtocol, ints: []int64{int64(v.protocol) + 1}}, -1},
		{"state", cnd{op: CondState, ints: []int64{int64(v.state)}}, 0},
		{"state in a set of three", cnd{op: CondState, ints: []int64{11, int64(v.state), 12}}, 0},
		{"state no", cnd{op: CondState, ints: []int64{int64(v.state) + 1}}, -1},
	}
	conds = append(conds, portConds("sport", CondSPort, CondSPortPriv, v.sport)...)
	conds = append(conds, portConds("dport", CondDPort, CondDPortPriv, v.dport)...)
	conds = append(conds, addrConds("saddr", CondSAddr, v.saddr)...)
	return append(conds, addrConds("daddr", CondDAddr, v.daddr)...)
}

func portConds(name string, op, priv uint8, port uint16) []netCond {
	p := int64(port)
	privWant := map[bool]int32{true: 0, false: -1}[port < 1024]
	return []netCond{
		{name, cnd{op: op, ints: []int64{p}}, 0},
		{name + " of two", cnd{op: op, ints: []int64{1, p}}, 0},
		{name + " in a set of three", cnd{op: op, ints: []int64{1, 2, p}}, 0},
		{name + " no", cnd{op: op, ints: []int64{p + 1}}, -1},
		{name + " not in a set of three", cnd{op: op, ints: []int64{1, 2, p + 1}}, -1},
		{"not " + name, cnd{op: op, ints: []int64{p}, neg: true}, -1},
		{"not " + name + " no", cnd{op: op, ints: []int64{p + 1}, neg: true}, 0},
		{name + " privileged", cnd{op: priv}, privWant},
		{"not " + name + " privileged", cnd{op: priv, neg: true}, -1 - privWant},
	}
}

// addrConds: a CIDR that holds the address, a host route, one that does
// not (the bit after the prefix flipped), and one of the other family.
func addrConds(name string, op uint8, a netip.Addr) []netCond {
	bits := 8
	if a.Is6() {
		bits = 16
	}
	in := netip.PrefixFrom(a, bits).Masked()
	flipped, _ := netip.AddrFromSlice(flipBit(a.AsSlice(), bits))
	out := netip.PrefixFrom(flipped, bits+1).Masked()
	otherFamily := "0.0.0.0/0"
	if a.Is4() {
		otherFamily = "::/0"
	}
	return []netCond{
		{name + " in " + in.String(), cnd{op: op, cidrs: []string{in.String()}}, 0},
		{name + " host route", cnd{op: op, cidrs: []string{netip.PrefixFrom(a, a.BitLen()).String()}}, 0},
		{name + " in a set of three", cnd{op: op, cidrs: []string{otherFamily, out.String(), in.String()}}, 0},
		{name + " not in " + out.String(), cnd{op: op, cidrs: []string{out.String()}}, -1},
		{name + " not in the other family's " + otherFamily, cnd{op: op, cidrs: []string{otherFamily}}, -1},
		{"not " + name + " in " + in.String(), cnd{op: op, cidrs: []string{in.String()}, neg: true}, -1},
	}
}

// flipBit is b with bit n (from the most significant) flipped.
func flipBit(b []byte, n int) []byte {
	b[n/8] ^= 0x80 >> (n % 8)
	return b
}

// subjectSpecs cover the conditions on the process and the return value:
// the program runs in the test's own process, so its pid, binary,
// namespaces and capabilities are what the conditions see.
func subjectSpecs(t *testing.T) []selSpec {
	specs := retSpecs()
	specs = append(specs, pidSpecs()...)
	specs = append(specs, binarySpecs(t)...)
	return append(specs, nsCapsSpecs(t)...)
}

// retSpecs: the return value, at exit, a long or an int sign-extended.
func retSpecs() []selSpec {
	ret := func(name string, atExit uint8, r int64, c cnd, want int32) selSpec {
		c.subj = SubjRet
		return selSpec{name: "ret/" + name, atExit: atExit, ret: r, conds: []cnd{c}, want: want}
	}
	const int32Minus13 = 0xffff_fff3 // -13 in the low half of a register
	return []selSpec{
		ret("eq", AtExitLong, -13, cnd{op: CondEq, ints: []int64{-13}}, 0),
		ret("eq no", AtExitLong, -2, cnd{op: CondEq, ints: []int64{-13}}, -1),
		ret("lt 0", AtExitLong, -13, cnd{op: CondLT, v1: 0}, 0),
		ret("gt 0 no", AtExitLong, -13, cnd{op: CondGT, v1: 0}, -1),
		ret("int sign-extended", AtExitInt, int32Minus13, cnd{op: CondEq, ints: []int64{-13}}, 0),
		ret("long not sign-extended", AtExitLong, int32Minus13, cnd{op: CondEq, ints: []int64{-13}}, -1),
		ret("inrange", AtExitLong, 4096, cnd{op: CondInRange, v1: 1, v2: 4096}, 0),
	}
}

// pidSpecs: matchPIDs, of the process or with followForks an ancestor.
func pidSpecs() []selSpec {
	pid, ppid := int64(os.Getpid()), int64(os.Getppid())
	c := func(pids []int64, flags int64, neg bool) cnd {
		return cnd{subj: SubjPid, op: CondEq, ints: pids, inSet: true, v1: flags, neg: neg}
	}
	spec := func(name string, c cnd, want int32) selSpec {
		return selSpec{name: "pid/" + name, conds: []cnd{c}, want: want}
	}
	return []selSpec{
		spec("in", c([]int64{1, pid}, 0, false), 0),
		spec("not in", c([]int64{1, pid + 1000000}, 0, false), -1),
		spec("negated", c([]int64{pid}, 0, true), -1),
		spec("parent without followForks", c([]int64{ppid}, 0, false), -1),
		spec("parent with followForks", c([]int64{ppid}, PidFollowForks, false), 0),
	}
}

// binarySpecs: matchBinaries on the test binary and its parent's.
func binarySpecs(t *testing.T) []selSpec {
	exe := readlink(t, "/proc/self/exe")
	parent := readlink(t, fmt.Sprintf("/proc/%d/exe", os.Getppid()))
	spec := func(name string, c cnd, want int32) selSpec {
		if c.subj == 0 {
			c.subj = SubjBinary
		}
		return selSpec{name: "binary/" + name, conds: []cnd{c}, want: want}
	}
	return []selSpec{
		spec("eq", cnd{op: CondEq, strs: []string{"/bin/true", exe}}, 0),
		spec("eq no", cnd{op: CondEq, strs: []string{"/bin/true"}}, -1),
		spec("prefix", cnd{op: CondPrefix, strs: []string{filepath.Dir(exe) + "/"}}, 0),
		spec("postfix", cnd{op: CondPostfix, strs: []string{".test"}}, 0),
		spec("not postfix", cnd{op: CondPostfix, strs: []string{".test"}, neg: true}, -1),
		spec("parent's", cnd{subj: SubjParentBinary, op: CondEq, strs: []string{parent}}, 0),
		spec("parent's no", cnd{subj: SubjParentBinary, op: CondEq, strs: []string{exe + "x"}}, -1),
		spec("parent's without followChildren", cnd{op: CondEq, strs: []string{parent}}, -1),
		spec("parent's with followChildren", cnd{op: CondEq, strs: []string{parent}, v1: BinFollowChildren}, 0),
	}
}

// nsCapsSpecs: namespaces and capabilities of the test's process.
func nsCapsSpecs(t *testing.T) []selSpec {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	ns := func(inos []int64, want int32) selSpec {
		c := cnd{subj: SubjNs, op: CondEq, ints: inos, inSet: true, v2: NsNet}
		return selSpec{name: fmt.Sprintf("namespace/net in %v", inos), conds: []cnd{c}, want: want}
	}
	const capSysAdmin = 1 << 21
	capsSpec := func(name string, set int64) selSpec {
		c := cnd{subj: SubjCaps, v1: capSysAdmin, v2: set}
		want := int32(-1)
		if procCaps(t, name)&capSysAdmin != 0 {
			want = 0
		}
		return selSpec{name: "caps/CAP_SYS_ADMIN in " + name, conds: []cnd{c}, want: want}
	}
	specs := []selSpec{
		ns([]int64{int64(st.Ino)}, 0),
		ns([]int64{1, 2}, -1),
		capsSpec("CapEff", CapSetEffective),
		capsSpec("CapPrm", CapSetPermitted),
		capsSpec("CapInh", CapSetInheritable),
	}
	return append(specs, changeSpecs(t, uint32(st.Ino))...)
}

// changeSpecs: matchCapabilityChanges and matchNamespaceChanges, against
// what the process map says the process had at exec.
func changeSpecs(t *testing.T, netns uint32) []selSpec {
	const capSysAdmin = 1 << 21
	eff := procCaps(t, "CapEff")
	atExec := func(caps uint64, net uint32) *procEntry {
		p := &procEntry{}
		p.Caps[CapSetEffective], p.Ns[NsNet], p.Ns[NsUts] = caps, net, 1
		return p
	}
	caps := cnd{subj: SubjCapsChanged, v1: capSysAdmin, v2: CapSetEffective}
	nsNet := cnd{subj: SubjNsChanged, v1: 1 << NsNet}
	spec := func(name string, c cnd, p *procEntry, want int32) selSpec {
		return selSpec{name: name, conds: []cnd{c}, proc: p, want: want}
	}
	return []selSpec{
		spec("caps changed/CAP_SYS_ADMIN since exec", caps, atExec(eff^capSysAdmin, netns), 0),
		spec("caps changed/none since exec", caps, atExec(eff, netns), -1),
		spec("caps changed/another one only", caps, atExec(eff^1, netns), -1),
		spec("caps changed/no process entry", caps, nil, -1),
		spec("namespace changed/net since exec", nsNet, atExec(eff, netns+1), 0),
		spec("namespace changed/net unchanged, uts (not in the mask) changed", nsNet, atExec(eff, netns), -1),
		spec("namespace changed/net or uts", cnd{subj: SubjNsChanged, v1: 1<<NsNet | 1<<NsUts},
			atExec(eff, netns), 0),
	}
}

// procCaps is the capability set field (CapEff, ...) of the test's
// process, from /proc/self/status.
func procCaps(t *testing.T, field string) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

func readlink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// selectionSpecs cover how conditions make selectors: all of a selector's
// conditions hold, the first selector that holds wins, a hook without
// selectors matches every call, and a slot reads the raw argument its
// index names.
func selectionSpecs() []selSpec {
	seven := slot{typ: ArgInt, raw: 7}
	is := func(sel uint8, v int64) cnd { return cnd{sel: sel, op: CondEq, ints: []int64{v}} }
	two := func(name string, conds []cnd, want int32) selSpec {
		return selSpec{name: name, slots: []slot{seven}, conds: conds, want: want}
	}
	return []selSpec{
		two("and: both hold", []cnd{is(0, 7), {op: CondGT, v1: 5}}, 0),
		two("and: one fails", []cnd{is(0, 7), {op: CondGT, v1: 8}}, -1),
		two("or: the second selector", []cnd{is(0, 8), is(1, 7)}, 1),
		two("or: the first of two that hold", []cnd{is(0, 7), is(1, 7)}, 0),
		two("or: the sixteenth selector", sixteenth(), 15),
		{name: "no selectors", slots: []slot{seven}, noSel: true, want: 0},
		{name: "argument index: slot 0 reads raw 3", slots: []slot{seven}, indexes: []uint8{3},
			conds: []cnd{is(0, 7)}, want: 0},
		{name: "two slots", slots: []slot{{typ: ArgInt, raw: 1}, {typ: ArgString, mem: cstr("/tmp/x")}},
			conds: []cnd{is(0, 1), {subj: 1, op: CondPrefix, strs: []string{"/tmp/"}}}, want: 0},
	}
}

// sixteenth: fifteen selectors that fail, then one that holds.
func sixteenth() []cnd {
	var conds []cnd
	for i := range uint8(15) {
		conds = append(conds, cnd{sel: i, op: CondEq, ints: []int64{8}})
	}
	return append(conds, cnd{sel: 15, op: CondEq, ints: []int64{7}})
}

// prefilterSpecs: a hook's prefilter (Quick) turns away calls that no
// selector can match, from the register or the first bytes of its string,
// and lets every match through (check asserts that in every group).
func prefilterSpecs() []selSpec {
	str := func(s string) slot { return slot{typ: ArgString, mem: cstr(s)} }
	eq := func(sel uint8, v ...string) cnd { return cnd{sel: sel, op: CondEq, strs: v} }
	prefix := func(sel uint8, v ...string) cnd { return cnd{sel: sel, op: CondPrefix, strs: v} }
	spec := func(name string, s slot, conds []cnd, want int32) selSpec {
		return selSpec{name: name, slots: []slot{s}, conds: conds, want: want, rejected: want < 0}
	}
	return []selSpec{
		spec("int eq: no", slot{typ: ArgInt, raw: 5}, []cnd{{op: CondEq, ints: []int64{3, 7}}}, -1),
		spec("int eq set of five: no", slot{typ: ArgU64, raw: 5}, []cnd{{op: CondEq, ints: []int64{1, 2, 3, 4, 6}}}, -1),
		spec("int eq set of five: yes", slot{typ: ArgU64, raw: 6}, []cnd{{op: CondEq, ints: []int64{1, 2, 3, 4, 6}}}, 0),
		spec("int read as its type: -5", slot{typ: ArgInt, raw: 0xffff_ffff_ffff_fffb}, []cnd{{op: CondEq, ints: []int64{-5}}}, 0),
		spec("u16 read as its type", slot{typ: ArgU16, raw: 0xdead_0007}, []cnd{{op: CondEq, ints: []int64{7}}}, 0),
		spec("prefix: no", str("/etc/vigil/secret.conf"), []cnd{prefix(0, "/usr/", "/opt/")}, -1),
		spec("prefix: yes", str("/usr/lib/x"), []cnd{prefix(0, "/usr/", "/opt/")}, 0),
		spec("prefix of one byte: no", str("etc"), []cnd{prefix(0, "/")}, -1),
		spec("prefix of one byte: yes", str("/"), []cnd{prefix(0, "/")}, 0),
		{name: "prefix longer than the head: only the head is compared", slots: []slot{str("/etc/vigil/other")},
			conds: []cnd{prefix(0, "/etc/vigil/secret")}, want: -1},
		spec("short eq: yes", str("/a"), []cnd{eq(0, "/a")}, 0),
		spec("short eq: a longer string", str("/ab"), []cnd{eq(0, "/a")}, -1),
		spec("eq: a shorter string", str("/etc"), []cnd{eq(0, "/etc/passwd")}, -1),
		spec("eq and prefix in two selectors: the second", str("/etc/shadow"),
			[]cnd{prefix(0, "/usr/"), eq(1, "/etc/shadow")}, 1),
		spec("eq and prefix in two selectors: no", str("/opt/x"),
			[]cnd{prefix(0, "/usr/"), eq(1, "/etc/shadow")}, -1),
		{name: "a condition of two: the integer", slots: []slot{{typ: ArgInt, raw: 2}, str("/tmp/x")},
			conds: []cnd{{op: CondEq, ints: []int64{1}}, {subj: 1, op: CondPrefix, strs: []string{"/tmp/"}}},
			want:  -1, rejected: true},
	}
}
