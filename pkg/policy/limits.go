package policy

// Limits checked by validation. Vigil's BPF side is sized for them; several
// lift Tetragon's (5 selectors per hook, 1 matchBinaries entry per selector,
// 4 numeric values per filter, 2 actions per selector).
const (
	// MaxSelectorsPerHook is the number of selectors one hook may have.
	MaxSelectorsPerHook = 16
	// MaxValuesPerSet is the number of values (strings, prefixes, numbers,
	// addresses, PIDs, ...) in one filter's value set or one list.
	MaxValuesPerSet = 10000
	// MaxBinarySelectors is the number of matchBinaries (and of
	// matchParentBinaries) entries in one selector.
	MaxBinarySelectors = 8
	// MaxArgFilters is the number of matchArgs (and of matchData and
	// matchReturnArgs) entries in one selector.
	MaxArgFilters = 16
	// MaxActionsPerSelector is the number of matchActions (and of
	// matchReturnActions) entries in one selector.
	MaxActionsPerSelector = 8
	// MaxArgs is the number of args one hook may read: the generic hook's
	// argument slots (tracing.MaxArgs; a test of pkg/compile checks them).
	MaxArgs = 5
	// MaxSyscallArgs bounds the argument index of a syscall hook.
	MaxSyscallArgs = 6
	// MaxFuncArgs bounds the argument index of a function, LSM hook or
	// USDT: the arguments any of Vigil's backends reads (a kprobe reads
	// one less: the compiler checks the backend it picks).
	MaxFuncArgs = 6
	// MaxTags is the number of tags of one hook.
	MaxTags = 16
	// MaxMessageLen is the length in bytes of a hook's message.
	MaxMessageLen = 256
	// MaxSignal is the highest signal number (SIGRTMAX).
	MaxSignal = 64
	// MaxAliasedNodes is the number of YAML nodes one stream (a file, a
	// request) may reach through aliases: each alias counts the nodes it
	// stands for, so nested aliases cannot multiply a small file into
	// gigabytes.
	MaxAliasedNodes = 50000
)
