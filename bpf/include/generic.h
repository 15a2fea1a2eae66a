/* SPDX-License-Identifier: GPL-2.0 */
/* The generic hook: one program per attach type, configured through maps by
 * the policy compiler. pkg/tracing mirrors these structs in Go. */
#ifndef VIGIL_GENERIC_H
#define VIGIL_GENERIC_H

#include "msg.h"

#define MAX_ARGS 5
#define MAX_RESOLVE 8 /* members a resolve path follows */
#define MAX_SELECTORS 16
#define MAX_CONDS 32
#define HOOKS_PER_SYSCALL 128
#define MAX_SYSCALLS 512
/* hook lists by syscall number: x86_64's, then ia32's from COMPAT_BASE */
#define COMPAT_BASE MAX_SYSCALLS
#define SYSCALL_LISTS (2 * MAX_SYSCALLS)
#define MAX_POLICIES 1024
#define MAX_HOOKS 4096	  /* hook ids are 1..MAX_HOOKS-1 */
#define ARG_DATA_LEN 4096 /* room per argument in an event */
#define IMA_HASH_LEN 64	  /* the longest IMA hash (SHA-512) */
#define IMA_PENDING 16	  /* events waiting for their IMA hash at once */
#define ARG_MASK 4095
#define STR_KEY_LEN                                                            \
	252 /* bytes of a string that selectors compare (LPM keys hold at most \
	       256 bytes of data, set id included) */
#define STR_KEY_MASK 255
/* frames of a stack trace at most: the kernel's PERF_MAX_STACK_DEPTH */
#define MAX_STACK_DEPTH 127
#define MAX_IOVECS 8 /* iovec entries a char_iovec reads */

enum arg_type {
	ARG_NONE = 0,
	ARG_INT = 1,  /* 32-bit signed */
	ARG_UINT = 2, /* 32-bit unsigned */
	ARG_S64 = 3,
	ARG_U64 = 4,	  /* also size_t */
	ARG_STRING = 5,	  /* NUL-terminated string in user memory */
	ARG_FD = 6,	  /* file descriptor, resolved to its path */
	ARG_SOCKADDR = 7, /* struct sockaddr in user memory */
	ARG_CHAR_BUF = 8, /* user buffer, its size in another argument */
	ARG_FILE = 9,	  /* struct file *, resolved to its path */
	ARG_PATH = 10,	  /* struct path *, resolved */
	ARG_BPRM = 11,	  /* struct linux_binprm *: its file's path */
	ARG_SOCK = 12,	  /* struct sock *: a struct sock_info */
	ARG_CRED = 13,	  /* struct cred *: a struct cred_info */
	ARG_SKB = 14,	  /* struct sk_buff *: a struct skb_info */
	ARG_USER_NS = 15, /* struct user_namespace *: a struct user_ns_arg */
	/* union bpf_attr * (BPF_PROG_LOAD's): a struct bpf_prog_arg */
	ARG_BPF_ATTR = 16,
	ARG_BPF_PROG = 17,   /* struct bpf_prog *: a struct bpf_prog_arg */
	ARG_BPF_MAP = 18,    /* struct bpf_map *: a struct bpf_map_arg */
	ARG_PERF_EVENT = 19, /* struct perf_event *: a struct perf_event_arg */
	/* struct iovec * in user memory, its count in another argument: the
	 * buffers one after the other */
	ARG_CHAR_IOVEC = 20,
	ARG_MODULE = 21,    /* struct module *: a struct module_arg */
	ARG_LOAD_INFO = 22, /* struct load_info *: a struct module_arg */
	ARG_S8 = 23,	    /* 8-bit signed: the low byte, sign-extended */
	ARG_U8 = 24,	    /* 8-bit unsigned */
	ARG_S16 = 25,	    /* 16-bit signed */
	ARG_U16 = 26,	    /* 16-bit unsigned */
	/* struct sockaddr_un *: its family in the value (with
	 * SOCKADDR_UN_ABSTRACT for an abstract name), its name in data */
	ARG_SOCKADDR_UN = 27,
};

#define UNIX_PATH_LEN 108	     /* sizeof sockaddr_un's sun_path */
#define UNIX_ABSTRACT_LEN 107	     /* an abstract name: after its NUL */
#define SOCKADDR_UN_ABSTRACT 0x10000 /* in a sockaddr_un slot's value */

/* What a slot's argument points to when it is not the object its type
 * reads (hook_config.arg_obj): the reader first goes from it to that
 * object, and selectors see the object as its type says. */
enum arg_obj {
	OBJ_SELF = 0,	    /* the object itself */
	OBJ_SOCKET = 1,	    /* struct socket *: its sk (ARG_SOCK) */
	OBJ_KIOCB = 2,	    /* struct kiocb *: its ki_filp (ARG_FILE) */
	OBJ_NET_DEVICE = 3, /* struct net_device *: its name (ARG_STRING) */
	/* struct dentry *: its path up to its file system's root, not
	 * through mounts (ARG_PATH) */
	OBJ_DENTRY = 4,
	OBJ_CAPS = 5, /* kernel_cap_t *: its 64 bits (ARG_U64) */
	/* struct iov_iter *: its user buffer (ARG_CHAR_BUF), as Tetragon
	 * reads it: a ubuf's, or an iovec array's first; none where the
	 * kernel has no iter_type (before 5.14) */
	OBJ_IOV_ITER = 6,
};

/* A struct user_namespace argument as events see it. */
struct user_ns_arg {
	__s32 level; /* 0: the initial user namespace */
	__u32 uid;   /* its owner */
	__u32 gid;
	__u32 inum;
};

#define BPF_NAME_LEN 16 /* the kernel's BPF_OBJ_NAME_LEN */

/* A BPF program being loaded (union bpf_attr) or loaded (struct
 * bpf_prog), as events see it. */
struct bpf_prog_arg {
	__u32 prog_type;
	__u32 insn_cnt;
	char name[BPF_NAME_LEN];
};

#define KSYM_LEN 128 /* bytes of a kprobe's function name, as Tetragon's */

/* A struct perf_event argument as events see it: its attributes' type,
 * config, and for a kprobe its function and offset. */
struct perf_event_arg {
	char kprobe_func[KSYM_LEN];
	__u32 type;
	__u32 pad;
	__u64 config;
	__u64 probe_offset;
};

/* A kernel module argument as events see it: its name and taint flags,
 * and for a struct load_info whether its signature checked out. */
struct module_arg {
	char name[56]; /* MODULE_NAME_LEN */
	__u64 taints;
	__u8 sig_ok;
	__u8 pad[7];
};

/* A struct bpf_map argument as events see it. */
struct bpf_map_arg {
	__u32 map_type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	char name[BPF_NAME_LEN];
};

/* A struct sk_buff argument as events and selectors see it: its IP and
 * TCP/UDP headers. */
struct skb_info {
	__u32 hash;
	__u32 len;
	__u32 priority;
	__u32 mark;
	__u16 family;
	__u16 protocol; /* the IP header's */
	__u16 sport;	/* host order */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* A struct cred argument as events see it. */
struct cred_info {
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 suid;
	__u32 sgid;
	__u32 fsuid;
	__u32 fsgid;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_inheritable;
};

/* A struct sock argument as events and selectors see it. */
struct sock_info {
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 sport; /* host order */
	__u16 dport; /* host order */
	__u8 state;
	__u8 pad;
	__u32 mark;
	__u32 priority;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* How a tracepoint hook reads a slot's field from the record. */
enum tp_kind {
	TP_NONE = 0,
	TP_U8 = 1,
	TP_U16 = 2,
	TP_U32 = 3,
	TP_U64 = 4,
	TP_ARRAY = 5,	 /* an array in the record: its address */
	TP_DATA_LOC = 6, /* __data_loc: the address of the data it locates */
};

/* What a condition looks at: an argument slot, or one of these. */
enum subject {
	SUBJ_PID = 0x80,	   /* the process's tgid */
	SUBJ_BINARY = 0x81,	   /* the process's executable path */
	SUBJ_RET = 0x82,	   /* the syscall's return value (exit hooks) */
	SUBJ_PARENT_BINARY = 0x83, /* the parent's executable path */
	SUBJ_NS = 0x84,		   /* namespace v2 (enum ns_index)'s inode */
	SUBJ_CAPS = 0x85, /* capabilities v2 (enum cap_set) & v1 != 0 */
	/* since exec: a namespace of the mask v1 (bits by enum ns_index) */
	SUBJ_NS_CHANGED = 0x86,
	/* since exec: a capability of the mask v1 in set v2 */
	SUBJ_CAPS_CHANGED = 0x87,
	/* in scope id v1 (scope.h): a selector's matchWorkloads */
	SUBJ_WORKLOAD = 0x88,
};

/* matchBinaries flag, in cond.v1: the process or an ancestor (up to
 * PID_MAX_DEPTH generations). */
enum bin_flag {
	BIN_FOLLOW_CHILDREN = 1,
};

/* matchPIDs flags, in cond.v1. */
enum pid_flag {
	PID_FOLLOW_FORKS = 1,
	PID_NAMESPACE = 2,
};

#define PID_MAX_DEPTH 16 /* ancestors followForks looks at */

enum rate_scope {
	SCOPE_THREAD = 0,
	SCOPE_PROCESS = 1,
	SCOPE_GLOBAL = 2,
};

enum cond_op {
	COND_EQ = 1,	  /* value in the set (strings: exact; ints: any) */
	COND_PREFIX = 2,  /* string starts with a value of the set */
	COND_POSTFIX = 3, /* string ends with a value of the set */
	COND_GT = 4,	  /* signed greater than v1 */
	COND_LT = 5,	  /* signed less than v1 */
	COND_MASK = 6,	  /* value & v1 != 0 */
	COND_INRANGE = 7, /* v1 <= value <= v2 (signed) */
	/* network arguments: a sockaddr's one port and address count as both
	 * source and destination */
	COND_SPORT = 8,
	COND_SADDR = 9, /* in the CIDR set */
	COND_FAMILY = 10,
	COND_DPORT = 11,
	COND_DADDR = 12, /* in the CIDR set */
	COND_PROTOCOL = 13,
	COND_STATE = 14,
	COND_SPORT_PRIV = 15, /* below 1024 */
	COND_DPORT_PRIV = 16,
	/* a file argument's type (its inode's S_IFMT bits) in the set */
	COND_FILETYPE = 17,
	/* capabilities in slot v1's set that are not in this slot's: the
	 * second argument of CapabilitiesGained gained some over the first */
	COND_CAPS_GAINED = 18,
	/* a string argument holds a value of the condition's substrings
	 * (set_id, v1 of them: substr_key), through bpf_strnstr; v2 set:
	 * letters in either case (SubStringIgnCase; the values lowercased) */
	COND_SUBSTR = 19,
};

/* cond.v1 of a COND_EQ or COND_PREFIX condition on a file argument: the
 * file also matches by identity (obj_ids), for COND_PREFIX through any of
 * its ancestors, so that another path to the same object does too. */
#define COND_OBJ_IDENTITY 1

struct cond {
	__u8 selector;
	__u8 subject;
	__u8 op;
	__u8 negate;
	__u32 set_id;
	__s64 v1;
	__s64 v2;
};

/* The stack traces an event carries (sel_action.stacks, msg_generic.stacks):
 * ids in the stack_traces map, which user space reads and then frees. */
enum stack_flag {
	STACK_KERNEL = 1,
	STACK_USER = 2,
};

/* TrackSock and UntrackSock (sel_action.sock_act,
 * hook_config.ret_sock_act): a tracked socket's events are its owner's, the
 * process that tracked it (socktrack.h). */
enum sock_act {
	SOCK_TRACK = 1,
	SOCK_UNTRACK = 2,
};

/* The process (and thread) a tracked socket belongs to. */
struct sock_owner {
	struct exec_ident ident;
	struct exec_ident parent;
	__u32 tid;
	__u32 pad;
};

struct sel_action {
	__u8 post;   /* send an event */
	__u8 sig;    /* signal to send the process, 0 for none */
	__u8 scope;  /* rate limit scope */
	__u8 stacks; /* enum stack_flag: stack traces the event carries */
	__u32 rate_limit_ms; /* post the same event at most once per this */
	__s32 override;	     /* error to return instead (LSM), 0 for none */
	__u8 sock_act;	     /* enum sock_act on the socket of slot sock_slot */
	__u8 sock_slot;
	/* imaHash: the event carries the IMA hash of the LSM hook's file */
	__u8 ima;
	/* Set: 1 + the USDT argument whose memory set_value is written to
	 * (generic_usdt_set); 0 for none */
	__u8 set_arg;
	__u32 set_value;
};

/* hook_config.at_exit: the hook runs at return; for AT_EXIT_INT the
 * function returns a 32-bit int, sign-extended before use. */
enum at_exit {
	AT_EXIT_LONG = 1,
	AT_EXIT_INT = 2,
};

/* Which conditions select evaluates. A return hook (at_exit set) runs
 * twice, as in Tetragon: at the call's entry every condition but those on
 * the return value (matchArgs, the process filters), and its actions run
 * there, before the call; at the return only the return-value conditions
 * (matchReturnArgs) of the selector that matched at entry. */
enum select_phase {
	PHASE_ALL = 0,
	PHASE_ENTRY = 1,
	PHASE_EXIT = 2,
	/* a whole hook in two steps: the conditions on the process (binary,
	 * pid, namespaces, capabilities, workload), before any argument is
	 * read, then those on the arguments and the return value */
	PHASE_PROCESS = 3,
	PHASE_ARGS = 4,
	/* the same two steps the other way round, for a hook on an opened
	 * file whose path the hooks of one open share (args.h) */
	PHASE_ARGS_FIRST = 5,
	PHASE_PROCESS_LAST = 6,
};

/* One member of an argument's resolve path: its offset from the value so
 * far, and how many bytes to load from there to make the next value (8: a
 * pointer; 1, 2, 4 or 8 at the end: an integer), or 0 to take the address
 * itself (an embedded struct or array). */
struct resolve_step {
	__u32 off;
	__u8 load;
	__u8 pad[3];
};

/* Where a USDT argument is at the probe (hook_config.usdt), as its SDT
 * note says: libbpf's and Tetragon's reading of the x86-64 argument specs. */
enum usdt_kind {
	USDT_NONE = 0,
	USDT_CONST = 1, /* "4@$5": val */
	USDT_REG = 2,	/* "8@%rdi": the register at pt_regs offset reg */
	USDT_DEREF = 3, /* "-4@-8(%rbp)": memory at the register + val */
	USDT_SIB = 4,	/* "8@4(%rax,%rbx,8)": reg + (index << scale) + val */
};

#define MAX_USDT_ARGS 6 /* raw[0] to raw[5] */

struct usdt_arg {
	__s64 val;
	__u16 reg;   /* offsetof(struct pt_regs, the register) */
	__u16 index; /* USDT_SIB: the index register's */
	__u8 kind;   /* enum usdt_kind */
	__u8 scale;  /* USDT_SIB: log2 of the scale */
	__u8 shift;  /* 64 - 8 * its size in bytes */
	__u8 sig;    /* signed: sign-extended from its size */
};

#define QUICK_VALS 8

enum quick_kind {
	QUICK_NONE = 0,
	QUICK_INT = 1, /* the register as the slot's integer type reads it */
	QUICK_STR = 2, /* the first bytes of the user string it points to */
};

/* A prefilter of a syscall hook (run_list): one condition that every
 * selector of the hook requires, on one syscall register, checked before
 * the hook runs, so that most misses read no argument and walk no
 * selector. The hook can only match when the register's value (QUICK_INT)
 * or the first bytes of its string, up to the NUL, masked (QUICK_STR), is
 * one of vals. User space sets it only where that is exact (see
 * tracing.quickFilter). */
struct quick {
	__u8 kind; /* enum quick_kind */
	__u8 reg;  /* s->raw index */
	__u8 type; /* QUICK_INT: the slot's enum arg_type */
	__u8 n;	   /* vals used, at most QUICK_VALS */
	__u32 pad;
	__u64 mask; /* QUICK_STR: the bytes compared, 1 to 7 */
	__u64 vals[QUICK_VALS];
};

/* hook_config.open_exit: a hook on the file being opened, served at the
 * open syscalls' exit, skips the calls the kernel opened no file for: a
 * failed call always (the LSM hook never ran), an O_PATH descriptor
 * unless the hook is fd_install's. */
enum open_exit {
	OPEN_EXIT_FILE = 1,
	OPEN_EXIT_SKIP_OPATH = 2,
};

struct hook_config {
	__u32 hook_id;
	__u32 policy_id;
	__u8 n_args;
	__u8 n_conds;
	__u8 n_selectors;
	__u8 at_exit; /* runs at return, with the return value (AT_EXIT_*) */
	__u8 arg_type[MAX_ARGS];
	__u8 arg_index[MAX_ARGS]; /* syscall argument number */
	__u8 arg_size[MAX_ARGS];  /* char_buf: slot holding the size */
	__u8 kernel_mem;	  /* bit i: slot i points to kernel memory */
	__u8 ret_copy; /* bit i: slot i's buffer is read at return, ret bytes */
	__u8 scoped;   /* only processes in the policy's pod scope (scope.h) */
	/* bit i: slot i is a maxData char_buf, read up to max_data bytes: the
	 * event holds the first ARG_MASK, data records (struct msg_data) the
	 * rest */
	__u8 max_data_args;
	/* what a slot of index RAW_CONST reads: a value the hook knows, such
	 * as file_permission's mask where a syscall serves it */
	__u8 arg_const;
	__u8 open_exit; /* enum open_exit */
	/* returnArgAction: enum sock_act on the returned socket, once the
	 * entry's selectors matched (even with NoPost) */
	__u8 ret_sock_act;
	/* bit i: slot i starts at the current task, not an argument (a data
	 * entry of source current_task); its resolve path goes on from it */
	__u8 from_task;
	__u8 pad[1];	/* conds stay 8-byte aligned without implicit padding */
	__u32 max_data; /* maxData char_bufs: bytes read at most */
	struct sel_action actions[MAX_SELECTORS];
	struct cond conds[MAX_CONDS];
	__u8 n_resolve[MAX_ARGS]; /* steps of each slot's resolve path */
	__u8 arg_obj[MAX_ARGS];	  /* what each slot points to (enum arg_obj) */
	__u8 pad2[6];
	struct resolve_step resolve[MAX_ARGS][MAX_RESOLVE];
	/* bit s: selector s has matchReturnActions, in ret_actions, which
	 * run at the return once its matchReturnArgs hold */
	__u32 ret_acts;
	struct sel_action ret_actions[MAX_SELECTORS];
	/* bit s: selector s has matchCapabilityChanges (caps_changes),
	 * matchNamespaceChanges (ns_changes) */
	__u16 caps_changes;
	__u16 ns_changes;
	/* a USDT hook's arguments: where raw[i] comes from (generic_usdt) */
	struct usdt_arg usdt[MAX_USDT_ARGS];
	struct quick quick;
};

/* Per hook and CPU: selector matches, and enforcement actions taken. */
struct hook_stat {
	__u64 hits;
	__u64 actions;
};

struct syscall_hooks {
	__u32 hook_ids[HOOKS_PER_SYSCALL]; /* 0 ends the list */
};

/* Keys of the value sets. */
struct str_key {
	__u32 prefixlen; /* LPM: 32 bits of set_id, then the bytes */
	__u32 set_id;
	__u8 data[STR_KEY_LEN];
};

/* A key of the identity sets: an object a policy names by path, as the
 * kernel knows it (its superblock's dev_t and inode number), in the string
 * set of the condition that names it. */
struct obj_key {
	__u32 set_id;
	__u32 dev;
	__u64 ino;
};

#define SUBSTR_LEN 128	/* bytes of a SubString value, its NUL included */
#define MAX_SUBSTRS 100 /* values of one SubString condition: Tetragon's */

/* A key of the substrings: the condition's set and the value's place. */
struct substr_key {
	__u32 set_id;
	__u32 idx;
};

struct int_key {
	__u32 set_id;
	__u32 pad;
	__s64 value;
};

struct rate_key {
	__u32 hook_id;
	__u32 selector;
	__u32 scope_id; /* tid, tgid or 0 */
	__u32 hash;	/* of the event's arguments */
};

struct addr_key {
	__u32 prefixlen; /* LPM: set_id, family, then address bits */
	__u32 set_id;
	__u8 family;
	__u8 addr[16];
	__u8 pad[3];
};

enum policy_mode {
	MODE_ENFORCE = 0,
	MODE_MONITOR = 1,
};

/* Which part of an event a generic record is. A return hook's event comes
 * in two: its entry's record, with the arguments read there, then its
 * return's, with the return value and the buffers read at return; user
 * space joins them (by thread and hook). */
enum msg_part {
	PART_WHOLE = 0,
	PART_ENTRY = 1,
	PART_RETURN = 2,
	PART_DROPPED = 3, /* the return filters failed: no event */
};

struct msg_generic {
	struct msg_header hdr;
	struct exec_ident ident;
	struct exec_ident parent;
	__u32 hook_id;
	__u32 policy_id;
	__u32 tid;
	__u32 syscall;
	__u8 selector;
	__u8 sig; /* signal sent (or, in monitor mode, that would be) */
	__u8 monitor;
	__u8 has_ret;
	__u8 part;   /* enum msg_part */
	__u8 stacks; /* enum stack_flag: the stack ids collected */
	/* ima_hash's enum hash_algo, or bpf_ima_file_hash's error; 0: none */
	__s8 ima_algo;
	__u8 pad2;
	/* ids in stack_traces, or bpf_get_stackid's negative error */
	__s32 kernel_stack;
	__s32 user_stack;
	__s64 ret;
	/* integers; a char_buf's size (ret_copy: the bytes returned) */
	__s64 arg_val[MAX_ARGS];
	__u16 arg_len[MAX_ARGS]; /* bytes of each argument in data */
	/* enum data_err: why a char_buf's bytes are short */
	__u8 data_err[MAX_ARGS];
	__u8 pad3;
	/* bytes of each maxData char_buf sent in data records (struct
	 * msg_data), after its arg_len bytes in data */
	__u32 data_len[MAX_ARGS];
	/* a tracked socket's owner thread (socktrack.h): ident and parent
	 * are then its owner's; 0 for none */
	__u32 owner_tid;
	/* an LSM hook's verdict, kept with the event while it waits for its
	 * IMA hash (generic_lsm_ima_*) */
	__s32 verdict;
	char ima_hash[IMA_HASH_LEN];
	__u32 pad4;
	char data[MAX_ARGS * ARG_DATA_LEN];
};

/* Why a char_buf holds fewer bytes than it should (msg_generic.data_err). */
enum data_err {
	DATA_OK = 0,
	DATA_RINGBUF_FULL = 1, /* a data record could not be reserved */
	DATA_FAULT = 2,	       /* the buffer's memory could not be read */
};

/* Data records: a maxData char_buf beyond the event's ARG_MASK bytes, in
 * chunks read straight from the buffer into ring buffer reservations, up
 * to DATA_MAX bytes in all (Tetragon's limit: ten of its 32,736-byte data
 * events). They precede their event in the ring buffer. */
enum data_limit {
	DATA_MAX = 327360,
	DATA_CHUNK_LEN = 4096,
};
#define DATA_CHUNKS                                                            \
	((DATA_MAX - ARG_MASK + DATA_CHUNK_LEN - 1) / DATA_CHUNK_LEN)

/* One chunk of an argument: its event is the msg_generic of the same
 * hdr.ktime, tid and hook_id. */
struct msg_data {
	struct msg_header hdr; /* op MSG_OP_DATA; size: up to data[len] */
	__u32 tid;
	__u32 hook_id;
	__u32 offset; /* of data[0] in the argument's bytes */
	__u32 total;  /* bytes of the argument to come in data records */
	__u16 len;    /* bytes in data */
	__u8 slot;    /* the argument slot */
	__u8 pad[5];
	char data[DATA_CHUNK_LEN];
};

#endif
