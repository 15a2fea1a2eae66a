/* SPDX-License-Identifier: GPL-2.0 */
/* What the parts of the generic hook share: the hook configs, which user
 * space writes, and the per-CPU work space in which a hook's arguments are
 * read (args.h) and its selectors evaluated (selector.h). */
#ifndef VIGIL_HOOK_H
#define VIGIL_HOOK_H

#include "generic.h"
#include "msg.h"
#include "path.h"

#define SLOT_MASK 7 /* bounds a slot index for the verifier: 8 > MAX_ARGS */

/* An array: its lookups are inlined, where a hash lookup cost a cache miss
 * per call. User space hands ids out round the array, so a slot is not
 * rewritten while a program may still run the hook that used it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_HOOKS);
	__type(key, __u32);
	__type(value, struct hook_config);
} hook_configs SEC(".maps");

/* A process image and a string set: the key of a matchBinaries verdict
 * (bin_matches, selector.h). The image is named by its exec identity in
 * the process map, which an exec renews; set ids are never reused while
 * the programs are loaded. */
struct bin_key {
	__u64 ktime; /* proc_entry.ident.ktime */
	__u32 tgid;
	__u32 set_id;
	__u32 op;
	__u32 pad; /* 0, or BIN_KEY_LINEAGE: followChildren's verdict */
};

#define BIN_KEY_LINEAGE 1

/* The verdict; exe, the mm's exe_file when checked, guards the window of
 * an exec before the process map learns of it. */
struct bin_match {
	__u64 exe;
	__u64 in;
};

/* Per-CPU work space, shared by every hook and policy. What a miss
 * touches comes first, next to the event's header and first argument, so
 * that it spans few pages. */
struct gscratch {
	struct msg_generic msg;
	/* the raw arguments: clear_raw, then the backend's; at a syscall's
	 * exit raw[RAW_RET] is its return value, for a slot that reads what
	 * it returned (a descriptor) */
	__u64 raw[8];
	__s64 ret; /* the return value, at exit */
	__u8 at_exit;
	__u8 pending; /* msg waits for its stack traces (generic.bpf.c) */
	__u8 owned;   /* a sock argument is tracked: owner is its owner */
	__u8 compat;  /* the hook runs on an ia32 syscall */
	__u8 ima;     /* the pending msg waits for its file's IMA hash */
	/* the hooks of one syscall's list share a descriptor's file, a
	 * file's path (args.h) and a string's first bytes (quick_pass):
	 * set while run_list runs them; fd_ok while fd_file is the file of
	 * descriptor fd, fpath_ok while path holds the path fpath resolved
	 * against fpath_root */
	__u8 share_path;
	__u8 fpath_ok;
	__u8 fd_ok;
	__u8 head_ok; /* head: the first bytes of the string at head_src */
	/* a matched Set (enforce mode): sel_action's, for generic_usdt_set */
	__u8 set_arg;
	__u32 set_value;
	__u32 arg_off[MAX_ARGS];
	/* a file argument's dentry, for identity conditions (selector.h) */
	__u64 obj[SLOT_MASK + 1]; /* by slot; 8 so that slot & SLOT_MASK fits */
	__u32 failed;		  /* selectors with a false condition */
	__u32 bin_off;		  /* binary path in path.buf, once resolved */
	__u32 bin_len;
	__u32 bin_subj; /* whose binary that is: SUBJ_BINARY or _PARENT_ */
	__u32 ns[NS_MAX];
	__u32 ns_read; /* ns holds the task's namespaces */
	/* maxData char_bufs (data.h): where each one's bytes after the
	 * event's go on, how many of them to send, and bit i: slot i's buffer
	 * was read as kernel memory (read_buf) */
	__u64 data_src[MAX_ARGS];
	__u32 data_want[MAX_ARGS];
	__u32 data_kmem;
	struct bin_key bin_key;
	struct bin_match bin_match;
	struct str_key key;
	__u8 tmp[STR_KEY_MASK + 1 + 8]; /* + 8: see reverse_key */
	struct path_buf path;
	const struct path *fpath;
	const struct path *fpath_root;
	struct file *fd_file;
	__u64 fd;
	__u64 head_src;
	__u64 head;
	struct sock_owner owner;
	struct sock_owner tracked; /* the owner TrackSock records */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gscratch);
} gscratch SEC(".maps");

static __always_inline struct gscratch *scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&gscratch, &zero);
}

/* The generic programs resolve paths in their scratch (slot is 0). */
static __always_inline struct path_buf *walk_buf(__u32 slot)
{
	struct gscratch *s = scratch();

	return s ? &s->path : NULL;
}

#define RAW_RET 6
#define RAW_CONST 7 /* reads hook_config.arg_const (read_arg) */

/* Zeroes the raw argument values at a hook's entry, before its backend
 * fills the slots it has (a raw syscall six, a kprobe or tracepoint five,
 * a trampoline its function's): read_arg reads raw[arg_index & 7], and a
 * slot the backend left alone must read 0, not what the previous hook on
 * this CPU put there. */
static __always_inline void clear_raw(struct gscratch *s)
{
	__builtin_memset(s->raw, 0, sizeof(s->raw));
}

/* An integer argument's value from its raw register, as its type reads
 * it: the bits of its size, sign-extended for the signed types. */
static __always_inline __s64 int_of(__u8 type, __u64 raw)
{
	switch (type) {
	case ARG_INT:
		return (__s32)raw;
	case ARG_UINT:
		return (__u32)raw;
	case ARG_S8:
		return (__s8)raw;
	case ARG_U8:
		return (__u8)raw;
	case ARG_S16:
		return (__s16)raw;
	case ARG_U16:
		return (__u16)raw;
	}
	return raw;
}

#endif
