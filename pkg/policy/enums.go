package policy

import "github.com/vigil-sec/vigil/pkg/event"

// argFamily groups argument types by the filters they support.
type argFamily int

const (
	famAuto       argFamily = iota // type resolved from BTF at load: any operator
	famInt                         // integers and bit masks
	famSyscall                     // syscall numbers
	famString                      // strings and buffers
	famPath                        // file paths
	famFile                        // file paths that also have a file type
	famSock                        // sockets and packets
	famSockaddr                    // socket addresses
	famSockaddrUn                  // Unix socket addresses
	famCreds                       // credentials and capability sets
	famOpaque                      // read into events, not filterable
)

// argClass is what validation knows about an argument type.
type argClass struct {
	family argFamily
	bits   int  // integer width, for famInt and famCreds
	signed bool // integer signedness
}

// argTypes lists the argument types, in the order shown in messages.
var argTypes = []string{
	"auto", "int", "int8", "int16", "int32", "int64", "sint8", "sint16", "sint32", "sint64", "uint8", "uint16",
	"uint32", "uint64",
	"size_t", "long", "ulong", "string", "char_buf", "char_iovec", "const_buf", "data_loc",
	"fd", "file", "filename", "path", "dentry", "linux_binprm", "sock", "socket", "sockaddr",
	"sockaddr_un", "skb", "net_device", "syscall64", "capability", "kernel_cap_t",
	"cap_inheritable", "cap_permitted", "cap_effective", "cred", "nop", "bpf_attr", "bpf_cmd",
	"bpf_map", "bpf_prog", "perf_event", "user_namespace", "kiocb", "iov_iter", "load_info",
	"module",
}

var argClasses = map[string]argClass{
	"auto":            {family: famAuto, bits: 64, signed: true},
	"int":             {family: famInt, bits: 32, signed: true},
	"int8":            {family: famInt, bits: 8, signed: true},
	"int16":           {family: famInt, bits: 16, signed: true},
	"int32":           {family: famInt, bits: 32, signed: true},
	"int64":           {family: famInt, bits: 64, signed: true},
	"sint8":           {family: famInt, bits: 8, signed: true},
	"sint16":          {family: famInt, bits: 16, signed: true},
	"sint32":          {family: famInt, bits: 32, signed: true},
	"sint64":          {family: famInt, bits: 64, signed: true},
	"long":            {family: famInt, bits: 64, signed: true},
	"uint8":           {family: famInt, bits: 8},
	"uint16":          {family: famInt, bits: 16},
	"uint32":          {family: famInt, bits: 32},
	"uint64":          {family: famInt, bits: 64},
	"size_t":          {family: famInt, bits: 64},
	"ulong":           {family: famInt, bits: 64},
	"capability":      {family: famInt, bits: 32},
	"bpf_cmd":         {family: famInt, bits: 32},
	"string":          {family: famString},
	"char_buf":        {family: famString},
	"char_iovec":      {family: famString},
	"const_buf":       {family: famString},
	"data_loc":        {family: famString},
	"net_device":      {family: famString},
	"fd":              {family: famPath},
	"filename":        {family: famPath},
	"dentry":          {family: famPath},
	"linux_binprm":    {family: famPath},
	"file":            {family: famFile},
	"path":            {family: famFile},
	"sock":            {family: famSock},
	"socket":          {family: famSock},
	"skb":             {family: famSock},
	"sockaddr":        {family: famSockaddr},
	"sockaddr_un":     {family: famSockaddrUn},
	"syscall64":       {family: famSyscall, bits: 64},
	"kernel_cap_t":    {family: famCreds, bits: 64},
	"cap_inheritable": {family: famCreds, bits: 64},
	"cap_permitted":   {family: famCreds, bits: 64},
	"cap_effective":   {family: famCreds, bits: 64},
	"cred":            {family: famCreds, bits: 64},
	"nop":             {family: famOpaque},
	"bpf_attr":        {family: famOpaque},
	"bpf_map":         {family: famOpaque},
	"bpf_prog":        {family: famOpaque},
	"perf_event":      {family: famOpaque},
	"user_namespace":  {family: famOpaque},
	"kiocb":           {family: famOpaque},
	"iov_iter":        {family: famOpaque},
	"load_info":       {family: famOpaque},
	"module":          {family: famOpaque},
}

// Operators of matchArgs, matchData and matchReturnArgs.
var argOperators = []string{
	"Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix", "SubString",
	"SubStringIgnCase", "GreaterThan", "LessThan", "GT", "LT", "Mask", "InRange", "NotInRange",
	"InMap", "NotInMap", "SPort", "NotSPort", "SPortPriv", "NotSportPriv", "NotSPortPriv",
	"DPort", "NotDPort", "DPortPriv", "NotDPortPriv", "SAddr", "NotSAddr", "DAddr", "NotDAddr",
	"Protocol", "Family", "State", "CapabilitiesGained", "FileType", "NotFileType", "CelExpr",
}

var (
	intOperators    = []string{"Equal", "NotEqual", "GreaterThan", "LessThan", "GT", "LT", "Mask", "InRange", "NotInRange", "InMap", "NotInMap"}
	stringOperators = []string{"Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix", "SubString", "SubStringIgnCase"}
	pathOperators   = []string{"Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix"}
	sockOperators   = []string{"SAddr", "NotSAddr", "DAddr", "NotDAddr", "SPort", "NotSPort", "SPortPriv", "NotSportPriv", "NotSPortPriv", "DPort", "NotDPort", "DPortPriv", "NotDPortPriv", "Protocol", "Family", "State"}
)

// familyOperators lists the operators each family supports, besides
// CelExpr, which applies to every argument.
var familyOperators = map[argFamily][]string{
	famAuto:       argOperators,
	famInt:        intOperators,
	famSyscall:    {"Equal", "NotEqual", "InMap", "NotInMap"},
	famString:     stringOperators,
	famPath:       pathOperators,
	famFile:       append(append([]string{}, pathOperators...), "FileType", "NotFileType"),
	famSock:       sockOperators,
	famSockaddr:   {"SAddr", "NotSAddr", "SPort", "NotSPort", "SPortPriv", "NotSportPriv", "NotSPortPriv", "Family"},
	famSockaddrUn: {"Equal", "NotEqual", "Prefix", "NotPrefix", "Family"},
	famCreds:      append(append([]string{}, intOperators...), "CapabilitiesGained"),
	famOpaque:     nil,
}

var (
	inNotIn          = []string{"In", "NotIn"}
	binaryOperators  = []string{"In", "NotIn", "Prefix", "NotPrefix", "Postfix", "NotPostfix"}
	NamespaceTypes   = []string{"Uts", "Ipc", "Mnt", "Pid", "PidForChildren", "Net", "Time", "TimeForChildren", "Cgroup", "User"}
	capabilityTypes  = []string{"Effective", "Inheritable", "Permitted"}
	labelOperators   = []string{"In", "NotIn", "Exists", "DoesNotExist"}
	listTypes        = []string{"syscalls", "generated_syscalls", "generated_ftrace"}
	rateLimitScopes  = []string{"thread", "process", "global"}
	returnArgActions = []string{"Post", "TrackSock", "UntrackSock"}
	policyModes      = []string{"enforce", "monitor"}
	// FileTypes are FileType's values and their S_IF* modes, Tetragon's
	// aliases included.
	FileTypes = map[string]int64{"reg": 0o100000, "regular": 0o100000, "dir": 0o40000, "lnk": 0o120000,
		"link": 0o120000, "sock": 0o140000, "socket": 0o140000, "chr": 0o20000, "char": 0o20000,
		"blk": 0o60000, "block": 0o60000, "fifo": 0o10000, "pipe": 0o10000}
	optionNames    = []string{"disable-kprobe-multi", "disable-uprobe-multi", "policy-mode"}
	postOnlyFields = []string{"rateLimit", "rateLimitScope", "kernelStackTrace", "userStackTrace", "imaHash"}
)

// Actions of matchActions and matchReturnActions.
var actions = []string{
	"Post", "NoPost", "Sigkill", "Signal", "Override", "GetUrl", "DnsLookup", "TrackSock", "UntrackSock", "NotifyEnforcer",
	"CleanupEnforcerNotification", "Set",
}

// capabilities are the Linux capability names, by number.
var capabilities = event.CapabilityNames

// NetValues are the symbolic values each of the Protocol, Family and
// State operators takes, with their numbers.
var NetValues = map[string]map[string]int{"Protocol": protocols, "Family": families, "State": tcpStates}

// Symbolic values of the Protocol, Family and State operators, with the
// numbers they stand for; numbers up to the given maximum are accepted too.
var (
	protocols = map[string]int{
		"IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_IGMP": 2, "IPPROTO_TCP": 6,
		"IPPROTO_UDP": 17, "IPPROTO_IPV6": 41, "IPPROTO_GRE": 47, "IPPROTO_ESP": 50,
		"IPPROTO_AH": 51, "IPPROTO_ICMPV6": 58, "IPPROTO_SCTP": 132, "IPPROTO_UDPLITE": 136,
		"IPPROTO_RAW": 255, "IPPROTO_MPTCP": 262,
	}
	families = map[string]int{
		"AF_UNSPEC": 0, "AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_AX25": 3, "AF_IPX": 4,
		"AF_APPLETALK": 5, "AF_X25": 9, "AF_INET6": 10, "AF_KEY": 15, "AF_NETLINK": 16,
		"AF_PACKET": 17, "AF_RDS": 21, "AF_LLC": 26, "AF_IB": 27, "AF_MPLS": 28, "AF_CAN": 29,
		"AF_TIPC": 30, "AF_BLUETOOTH": 31, "AF_ALG": 38, "AF_VSOCK": 40, "AF_KCM": 41,
		"AF_QIPCRTR": 42, "AF_SMC": 43, "AF_XDP": 44, "AF_MCTP": 45,
	}
	tcpStates = map[string]int{
		"TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
		"TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
		"TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11, "TCP_NEW_SYN_RECV": 12,
	}
)
