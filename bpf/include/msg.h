/* SPDX-License-Identifier: GPL-2.0 */
/* Records sent from the kernel to user space. pkg/tracing mirrors each
 * struct in Go and checks the mirror against this object's BTF. */
#ifndef VIGIL_MSG_H
#define VIGIL_MSG_H

enum msg_op {
	MSG_OP_EXEC = 1,
	MSG_OP_CLONE = 2,
	MSG_OP_EXIT = 3,
	MSG_OP_SNAPSHOT = 4,
	MSG_OP_GENERIC = 5,
	MSG_OP_DATA = 6, /* a chunk of a hook record's argument (generic.h) */
};

/* Process flags, shared by the process map and the exec record. */
enum proc_flag {
	PROC_EXECVE = 1 << 0, /* image came from an execve seen live */
	PROC_CLONE = 1 << 1,  /* the entry was created by fork, no exec since */
	PROC_PROCFS = 1 << 2, /* found running at agent start (snapshot) */
	PROC_TRUNC_ARGS = 1 << 3,
	PROC_TRUNC_BINARY = 1 << 4,
	PROC_TRUNC_CWD = 1 << 5,
	PROC_NO_CWD = 1 << 6,
	PROC_ERROR_ARGS = 1 << 7,
};

/* Loss and error counters, one slot each in a per-CPU array. */
enum counter {
	COUNTER_RINGBUF_FULL = 0, /* a record could not be reserved */
	COUNTER_PROCMAP_FULL = 1, /* the process map refused an entry */
	COUNTER_SCOPE_FULL = 2,	  /* the pod scope map refused a cgroup */
	/* a return hook's entry match could not be kept for its return */
	COUNTER_RETURN_FULL = 3,
	/* a data record could not be reserved: its event says so */
	COUNTER_DATA_FULL = 4,
	/* bpf_get_stackid failed: the stack map was full, or no stack */
	COUNTER_STACK_FAILED = 5,
	/* an event that waits for its IMA hash found no room to wait: it went
	 * out without the hash */
	COUNTER_IMA_FULL = 6,
	COUNTER_MAX = 7,
};

enum ns_index {
	NS_UTS,
	NS_IPC,
	NS_MNT,
	NS_PID,
	NS_PID_FOR_CHILDREN,
	NS_NET,
	NS_TIME,
	NS_TIME_FOR_CHILDREN,
	NS_CGROUP,
	NS_USER,
	NS_MAX,
};

#define PATH_LEN 4095 /* longest path kept, in bytes */
#define PATH_MASK 4095
#define NAME_MASK 255
#define ARGS_LEN 4095 /* longest argv area kept, in bytes */
#define CGROUP_NAME_LEN 256
/* binary, args and cwd each below 4096, then the cgroup name */
#define DATA_LEN (3 * 4096 + CGROUP_NAME_LEN)

/* Identity of one process image: tgid and the monotonic ns time of its
 * exec (or fork, or start for processes found at start-up). */
struct exec_ident {
	__u32 pid;
	__u32 pad;
	__u64 ktime;
};

/* Capability sets: of proc_entry.caps, and of SUBJ_CAPS conditions. */
enum cap_set {
	CAP_SET_EFFECTIVE = 0,
	CAP_SET_INHERITABLE = 1,
	CAP_SET_PERMITTED = 2,
};

struct msg_header {
	__u8 op;
	__u8 pad[3];
	__u32 size;  /* bytes in the record, header included */
	__u64 ktime; /* when it happened, CLOCK_MONOTONIC ns */
};

struct msg_process {
	struct exec_ident ident;
	struct exec_ident parent;
	__u32 tid;
	__u32 flags;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 suid;
	__u32 sgid;
	__u32 fsuid;
	__u32 fsgid;
	__u32 auid;
	__u32 nspid; /* the pid in the process's own pid namespace */
	__u64 cgroup_id;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_inheritable;
	__u32 ns[NS_MAX];
	__u16 binary_len;
	__u16 args_len;
	__u16 cwd_len;
	__u16 cgroup_len;
	__u64 ino;	 /* the binary's inode */
	__u32 nlink;	 /* its links: 0 for a deleted or memory-only file */
	__u32 exec_priv; /* enum exec_priv: how the exec raised privileges */
};

/* How an exec raised privileges (msg_process.exec_priv), as Tetragon's
 * binary_properties tell: set-user-ID or set-group-ID (to root), file
 * capabilities. */
enum exec_priv {
	EXEC_SETUID = 1 << 0,
	EXEC_SETGID = 1 << 1,
	EXEC_SETUID_ROOT = 1 << 2,
	EXEC_SETGID_ROOT = 1 << 3,
	EXEC_FILE_CAPS = 1 << 4,
};

/* Exec and snapshot records: the process, then its strings back to back
 * in data: binary path, argv (NUL separated), cwd, cgroup name. */
struct msg_exec {
	struct msg_header hdr;
	struct msg_process proc;
	char data[DATA_LEN];
};

struct msg_clone {
	struct msg_header hdr;
	struct exec_ident ident;
	struct exec_ident parent;
	__u32 tid;
	__u32 pad;
};

struct msg_exit {
	struct msg_header hdr;
	struct exec_ident ident;
	__u32 tid;
	__u32 code; /* wait status: exit code << 8 | signal */
};

#endif
