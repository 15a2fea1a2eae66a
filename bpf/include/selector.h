/* SPDX-License-Identifier: GPL-2.0 */
/* Selector evaluation of the generic hook: a hook's conditions (struct
 * cond, grouped by selector) against its arguments as read into the
 * scratch (args.h), the process (pid, binary, namespaces, capabilities) and
 * the return value, with the value sets of the policies in maps. */
#ifndef VIGIL_SELECTOR_H
#define VIGIL_SELECTOR_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "cred.h"
#include "generic.h"
#include "hook.h"
#include "ns.h"
#include "path.h"
#include "process.h"
#include "scope.h"

/* The value sets of conditions, by set id: strings (exact values with
 * their NUL, prefixes, postfixes reversed), integers, and CIDRs. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct str_key);
	__type(value, __u8);
} str_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct int_key);
	__type(value, __u8);
} int_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct substr_key);
	__type(value, char[SUBSTR_LEN]);
} substrs SEC(".maps");

/* matchBinaries verdicts by process image and set (struct bin_key),
 * so that only the first check after an exec walks the path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct bin_key);
	__type(value, struct bin_match);
} bin_matches SEC(".maps");

/* The bytes of a SubStringIgnCase argument, lowercased. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[ARG_DATA_LEN]);
} folded SEC(".maps");

/* Linux 6.17's; on a kernel without it the loader poisons the call and
 * makes its address 0, which ksym_exists tests so that the call never runs
 * (user space refuses SubString there). libbpf's bpf_ksym_exists, which
 * older bpf_helpers.h lack. The number iterator (Linux 6.4) is called only
 * where bpf_strnstr is. */
extern int bpf_strnstr(const char *s1__ign, const char *s2__ign,
		       size_t len) __weak __ksym;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start,
			    int end) __weak __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __weak __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __weak __ksym;
#define ksym_exists(sym) (!!(sym))

/* c lowercased as the kernel's tolower does (bpf_strncasestr's, which
 * Tetragon calls): ASCII and Latin-1 capitals. */
static __always_inline __u8 lower(__u8 c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7))
		return c + ('a' - 'A');
	return c;
}

/* The len (at most ARG_DATA_LEN) bytes at data lowercased, in the
 * per-CPU buffer. */
static __always_inline char *fold(__u8 *data, __u32 len)
{
	struct bpf_iter_num it;
	__u32 zero = 0;
	char *buf;
	int *i;

	buf = bpf_map_lookup_elem(&folded, &zero);
	if (!buf)
		return NULL;
	bpf_iter_num_new(&it, 0, len);
	while ((i = bpf_iter_num_next(&it)))
		buf[*i & (ARG_DATA_LEN - 1)] =
		    lower(data[*i & (ARG_DATA_LEN - 1)]);
	bpf_iter_num_destroy(&it);
	return buf;
}

/* Whether the len bytes at data hold one of c's substrings; lowercased
 * first if c says so. */
static __always_inline bool has_substr(struct cond *c, void *data, __u32 len)
{
	struct substr_key k = {.set_id = c->set_id};

	if (!ksym_exists(bpf_strnstr))
		return false;
	if (c->v2) {
		len = len < ARG_DATA_LEN ? len : ARG_DATA_LEN;
		data = fold(data, len);
		if (!data)
			return false;
	}
	for (int i = 0; i < MAX_SUBSTRS; i++) {
		char *sub;

		if (i >= c->v1)
			break;
		k.idx = i;
		sub = bpf_map_lookup_elem(&substrs, &k);
		if (sub && bpf_strnstr(data, sub, len) >= 0)
			return true;
	}
	return false;
}

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct addr_key);
	__type(value, __u8);
} addr_sets SEC(".maps");

/* The identity sets: objects that conditions on file arguments name by
 * path, as (device, inode), which user space keeps up to date. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct obj_key);
	__type(value, __u8);
} obj_ids SEC(".maps");

/* Whether the object of dentry, or with walk one of its ancestors up to its
 * file system's root (PATH_MAX_DEPTH at most), is in identity set set_id.
 * Global, so that the walk is verified once. */
__noinline int obj_in_set(__u64 dentry, __u32 set_id, __u32 walk)
{
	struct dentry *d = (struct dentry *)dentry, *parent;
	struct obj_key k = {.set_id = set_id};

	if (!d)
		return 0;
	k.dev = BPF_CORE_READ(d, d_sb, s_dev);
	for (int j = 0; j < PATH_MAX_DEPTH; j++) {
		struct inode *inode = BPF_CORE_READ(d, d_inode);

		if (!inode)
			return 0;
		k.ino = BPF_CORE_READ(inode, i_ino);
		if (bpf_map_lookup_elem(&obj_ids, &k))
			return 1;
		parent = BPF_CORE_READ(d, d_parent);
		if (!walk || parent == d)
			return 0;
		d = parent;
	}
	return 0;
}

/* Whether value is in integer set set_id. */
static __always_inline bool in_int_set(__u32 set_id, __s64 value)
{
	struct int_key k = {.set_id = set_id, .value = value};

	return bpf_map_lookup_elem(&int_sets, &k) != NULL;
}

/* A condition's integer set: inline in v1 and v2 when it has at most two
 * values (set_id 0), which spares a map lookup; otherwise in int_sets. */
static __always_inline bool in_ints(struct cond *c, __s64 value)
{
	if (!c->set_id)
		return value == c->v1 || value == c->v2;
	return in_int_set(c->set_id, value);
}

/* Puts the n bytes at s->tmp + 8 into s->key.data reversed, eight at a
 * time: word w of the key is the eight bytes ending 8w bytes before the
 * string's end, byte-swapped (the eight bytes before s->tmp + 8 are
 * room for the last word's overhang, past the key's prefix). One byte at
 * a time, the verifier walked 251 iterations at every postfix lookup. */
static __always_inline void reverse_key(struct gscratch *s, __u32 n)
{
	__u8 *data = s->key.data;

	for (int w = 0; w < STR_KEY_LEN / 8; w++) {
		if (8 * w >= n)
			return;
		*(__u64 *)(data + 8 * w) = __builtin_bswap64(
		    *(__u64 *)(s->tmp + ((n - 8 * w) & STR_KEY_MASK)));
	}
	if (n > STR_KEY_LEN / 8 * 8) /* the key's last four bytes */
		*(__u32 *)(data + STR_KEY_LEN / 8 * 8) =
		    (__u32)__builtin_bswap64(
			*(__u64 *)(s->tmp +
				   ((n - STR_KEY_LEN / 8 * 8) & STR_KEY_MASK)));
}

/* Matches the len bytes at src (kernel memory) against a string set:
 * exact (the key ends with its NUL), prefix, or postfix (reversed). */
static __always_inline bool in_str_set(struct gscratch *s, __u8 op,
				       __u32 set_id, void *src, __u32 len)
{
	__u32 n = len < STR_KEY_LEN - 1 ? len : STR_KEY_LEN - 1;
	struct str_key *k = &s->key;

	k->set_id = set_id;
	n &= STR_KEY_MASK;
	if (op == COND_POSTFIX) {
		bpf_probe_read_kernel(s->tmp + 8, n, src + len - n);
		reverse_key(s, n);
		k->prefixlen = 32 + 8 * n;
	} else {
		bpf_probe_read_kernel(k->data, n, src);
		k->prefixlen = 32 + 8 * n;
		if (len < STR_KEY_LEN) {
			/* the whole string: its NUL lets exact values match */
			k->data[n] = 0;
			k->prefixlen += 8;
		}
	}
	return bpf_map_lookup_elem(&str_sets, k) != NULL;
}

/* Whether address addr of family is in a CIDR set. */
static __always_inline bool in_addr_set(__u32 set_id, __u16 family, __u8 *addr)
{
	struct addr_key k = {.set_id = set_id, .family = family};

	if (family == 2 /* AF_INET */) {
		__builtin_memcpy(k.addr, addr, 4);
		k.prefixlen = 32 + 8 + 32;
	} else if (family == 10 /* AF_INET6 */) {
		__builtin_memcpy(k.addr, addr, 16);
		k.prefixlen = 32 + 8 + 128;
	} else {
		return false;
	}
	return bpf_map_lookup_elem(&addr_sets, &k) != NULL;
}

/* Resolves the executable path of task, the binary of subject subj
 * (SUBJ_BINARY, or SUBJ_PARENT_BINARY with task the parent), into
 * s->path, once per event and subject. */
static __always_inline void resolve_binary(struct gscratch *s,
					   struct task_struct *task,
					   struct file *exe, __u32 subj)
{
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__s32 start;

	if (s->bin_len && s->bin_subj == subj)
		return;
	s->bin_len = 0;
	if (!exe || !fs)
		return;
	s->fpath_ok = 0; /* the buffer is the binary's now */
	start = resolve_path(&s->path, 0, &exe->f_path, &fs->root);
	s->bin_off = start & PATH_MASK;
	s->bin_len = (PATH_LEN - start) & PATH_MASK;
	s->bin_subj = subj;
}

/* Whether task's executable is in condition c's string set, from
 * bin_matches when this image was checked against the set before. */
static __always_inline bool binary_in(struct gscratch *s, struct cond *c,
				      struct task_struct *task, __u32 subj)
{
	struct bin_key *k = &s->bin_key;
	struct bin_match *m = &s->bin_match, *seen;
	struct proc_entry *e;

	/* state in the scratch, not on the stack: this is inlined in
	 * eval_cond, on the deepest call chain (followChildren) */
	m->exe = (__u64)BPF_CORE_READ(task, mm, exe_file);
	k->tgid = BPF_CORE_READ(task, tgid);
	k->set_id = c->set_id;
	k->op = c->op;
	k->pad = 0;
	k->ktime = 0; /* 0: the process map does not know the image */
	e = bpf_map_lookup_elem(&procs, &k->tgid);
	if (e) {
		k->ktime = e->ident.ktime;
		seen = bpf_map_lookup_elem(&bin_matches, k);
		if (seen && seen->exe == m->exe)
			return seen->in;
	}
	resolve_binary(s, task, (struct file *)m->exe, subj);
	m->in = in_str_set(s, c->op, c->set_id,
			   &s->path.buf[s->bin_off & PATH_MASK], s->bin_len);
	if (k->ktime && m->exe)
		bpf_map_update_elem(&bin_matches, k, m, BPF_ANY);
	return m->in;
}

/* The task's capability set which (enum cap_set). */
static __always_inline __u64 caps_of(struct task_struct *task, __s64 which)
{
	return cred_caps(BPF_CORE_READ(task, cred), which);
}

/* matchCapabilityChanges: whether a capability of the mask v1 in set v2
 * differs from the process's at exec. */
static __always_inline bool caps_changed(struct cond *c,
					 struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct proc_entry *e = bpf_map_lookup_elem(&procs, &tgid);
	__u64 then;

	if (!e)
		return false;
	then = e->caps[CAP_SET_EFFECTIVE];
	if (c->v2 == CAP_SET_INHERITABLE)
		then = e->caps[CAP_SET_INHERITABLE];
	else if (c->v2 == CAP_SET_PERMITTED)
		then = e->caps[CAP_SET_PERMITTED];
	return ((caps_of(task, c->v2) ^ then) & c->v1) != 0;
}

/* matchNamespaceChanges: whether a namespace of the mask v1 differs from
 * the process's at exec. */
static __always_inline bool ns_changed(struct gscratch *s, struct cond *c,
				       struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct proc_entry *e = bpf_map_lookup_elem(&procs, &tgid);

	if (!e)
		return false;
	if (!s->ns_read) {
		read_ns(task, s->ns);
		s->ns_read = 1;
	}
	for (int k = 0; k < NS_MAX; k++)
		if ((c->v1 & (1 << k)) && s->ns[k] != e->ns[k])
			return true;
	return false;
}

/* matchNamespaces: whether the task's namespace v2 is in the set. */
static __always_inline bool ns_matches(struct gscratch *s, struct cond *c,
				       struct task_struct *task)
{
	__u32 kind = c->v2;

	if (kind >= NS_MAX)
		return false;
	if (!s->ns_read) {
		read_ns(task, s->ns);
		s->ns_read = 1;
	}
	return in_ints(c, s->ns[kind]);
}

/* The comparisons that apply to any integer. */
static __always_inline bool eval_int(struct cond *c, __s64 v)
{
	switch (c->op) {
	case COND_EQ:
		return in_ints(c, v);
	case COND_GT:
		return v > c->v1;
	case COND_LT:
		return v < c->v1;
	case COND_MASK:
		return (v & c->v1) != 0;
	case COND_INRANGE:
		return v >= c->v1 && v <= c->v2;
	}
	return false;
}

/* The network fields of a sock or sockaddr argument. */
struct net_view {
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 protocol;
	__u8 state;
	__u8 *saddr;
	__u8 *daddr;
};

/* The network fields of an argument's data: a struct skb_info (ARG_SKB),
 * a struct sock_info (ARG_SOCK) or a struct sockaddr; false when the data
 * is too short for it. */
static __always_inline bool view_net(__u8 type, __u8 *data, __u32 len,
				     struct net_view *v)
{
	struct sock_info *si = (void *)data;
	struct skb_info *ki = (void *)data;

	if (type == ARG_SKB) {
		if (len < sizeof(*ki))
			return false;
		v->family = ki->family;
		v->sport = ki->sport;
		v->dport = ki->dport;
		v->protocol = ki->protocol;
		v->state = 0;
		v->saddr = ki->saddr;
		v->daddr = ki->daddr;
		return true;
	}
	if (type == ARG_SOCK) {
		if (len < sizeof(*si))
			return false;
		v->family = si->family;
		v->sport = si->sport;
		v->dport = si->dport;
		v->protocol = si->protocol;
		v->state = si->state;
		v->saddr = si->saddr;
		v->daddr = si->daddr;
		return true;
	}
	if (len < 4)
		return false;
	v->family = *(__u16 *)data;
	v->sport = v->dport = bpf_ntohs(*(__u16 *)(data + 2));
	v->saddr = v->daddr = data + (v->family == 10 ? 8 : 4);
	v->protocol = 0;
	v->state = 0;
	return true;
}

/* Evaluates a network condition on a sockaddr, sock or skb argument. */
static __always_inline bool eval_net(struct cond *c, __u8 type, __u8 *data,
				     __u32 len)
{
	struct net_view v;

	if (!view_net(type, data, len, &v))
		return false;
	switch (c->op) {
	case COND_SPORT:
		return in_ints(c, v.sport);
	case COND_DPORT:
		return in_ints(c, v.dport);
	case COND_SPORT_PRIV:
		return v.sport < 1024;
	case COND_DPORT_PRIV:
		return v.dport < 1024;
	case COND_SADDR:
		return in_addr_set(c->set_id, v.family, v.saddr);
	case COND_DADDR:
		return in_addr_set(c->set_id, v.family, v.daddr);
	case COND_FAMILY:
		return in_ints(c, v.family);
	case COND_PROTOCOL:
		return in_ints(c, v.protocol);
	case COND_STATE:
		return in_ints(c, v.state);
	}
	return false;
}

#define S_IFMT 00170000

/* FileType: whether the type of slot i's file (S_IFMT of its inode's
 * mode) is in c's set. */
static __always_inline bool file_type_in(struct gscratch *s, struct cond *c,
					 __u8 i)
{
	struct dentry *d = (struct dentry *)s->obj[i & SLOT_MASK];
	__u16 mode;

	if (!d)
		return false;
	mode = BPF_CORE_READ(d, d_inode, i_mode);
	return in_ints(c, mode & S_IFMT);
}

/* Evaluates condition c on argument slot i, of type type: strings and
 * paths against string sets, network arguments by their fields, the rest
 * as integers. */
static __always_inline bool eval_arg(struct gscratch *s, struct cond *c,
				     __u8 type, __u8 i)
{
	__s64 v = s->msg.arg_val[i];
	__u8 *data = (__u8 *)&s->msg.data[s->arg_off[i] & 0x3fff];
	__u32 len = s->msg.arg_len[i];
	bool str = type == ARG_STRING || type == ARG_FD ||
		   type == ARG_CHAR_BUF || type == ARG_CHAR_IOVEC ||
		   type == ARG_SOCKADDR_UN ||
		   (type >= ARG_FILE && type <= ARG_BPRM);

	if (type == ARG_SOCKADDR || type == ARG_SOCK || type == ARG_SKB)
		return eval_net(c, type, data, len);
	if (type == ARG_SOCKADDR_UN && c->op == COND_FAMILY)
		return in_ints(c, v & 0xffff);
	if (c->op == COND_FILETYPE)
		return file_type_in(s, c, i);
	if (c->op == COND_CAPS_GAINED) {
		if (c->v1 < 0 || c->v1 >= MAX_ARGS)
			return false;
		return (s->msg.arg_val[c->v1 & SLOT_MASK] & ~v) != 0;
	}
	switch (c->op) {
	case COND_SUBSTR:
		return str && has_substr(c, data, len);
	case COND_EQ:
	case COND_PREFIX:
	case COND_POSTFIX:
		if (!str)
			return eval_int(c, v);
		if (in_str_set(s, c->op, c->set_id, data, len))
			return true;
		/* another path to an object the condition names */
		return (c->v1 & COND_OBJ_IDENTITY) && c->op != COND_POSTFIX &&
		       obj_in_set(s->obj[i & SLOT_MASK], c->set_id,
				  c->op == COND_PREFIX);
	}
	return eval_int(c, v);
}

/* matchPIDs: the process is in the set, or with followForks (v1 bit 0)
 * one of its ancestors is; with isNamespacePID (v1 bit 1) the ids are those
 * of each process's pid namespace. */
static __always_inline bool pid_matches(struct cond *c,
					struct task_struct *task)
{
	bool follow = c->v1 & PID_FOLLOW_FORKS, ns = c->v1 & PID_NAMESPACE;

	for (int i = 0; i < PID_MAX_DEPTH; i++) {
		__u32 pid = pid_of(task, ns);

		if (in_int_set(c->set_id, pid))
			return true;
		if (!follow || pid <= 1)
			return false;
		task = BPF_CORE_READ(task, real_parent);
	}
	return false;
}

/* Whether the executable of the current task's depth-th ancestor (0: the
 * task) is in condition i's string set: 1 if it is, 0 if not, -1 when the
 * task has no such ancestor. Global, so a walk up the ancestors is
 * verified once. */
__noinline int ancestor_binary_in(__u32 hook_id, __u32 i, __u32 depth)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gscratch *s = scratch();
	struct cond *c;
	int r;

	if (!cfg || !s)
		return -1;
	c = &cfg->conds[i & (MAX_CONDS - 1)];
	for (int d = 0; d < PID_MAX_DEPTH; d++) {
		if (d >= depth)
			break;
		task = BPF_CORE_READ(task, real_parent);
	}
	if (!task || BPF_CORE_READ(task, tgid) == 0)
		return -1;
	/* the path itself, not bin_matches: binary_in's state would take
	 * this deepest call chain's stack over 512 bytes on older kernels */
	s->bin_len = 0;
	resolve_binary(s, task, BPF_CORE_READ(task, mm, exe_file), SUBJ_BINARY);
	r = in_str_set(s, c->op, c->set_id,
		       &s->path.buf[s->bin_off & PATH_MASK], s->bin_len);
	s->bin_len = 0; /* not the current task's: resolve_binary redoes it */
	return r;
}

/* matchBinaries with followChildren: 1 when the process or one of its
 * ancestors runs a binary of condition i's set. Inline in eval_cond: a
 * frame less on the walk's call chain, the deepest. */
static __always_inline int lineage_matches(__u32 hook_id, __u32 i)
{
	for (int d = 0; d < PID_MAX_DEPTH; d++) {
		int r = ancestor_binary_in(hook_id, i, d);

		if (r > 0)
			return 1;
		if (r < 0)
			return 0;
	}
	return 0;
}

/* The walk of lineage_matches resolves a path per ancestor, so its
 * verdict is kept in bin_matches for the process image (bin_key.pad
 * BIN_KEY_LINEAGE): the lineage an image was first checked under stays
 * its own when an ancestor exits and it is reparented. lineage_seen puts
 * the key in s->bin_key (the walk uses neither it nor s->bin_match) and
 * returns the kept verdict, or -1; lineage_keep keeps a new one. Both
 * stay off the walk's call chain, whose stack is the deepest. */
static __always_inline int lineage_seen(struct gscratch *s, struct cond *c,
					struct task_struct *task)
{
	struct bin_key *k = &s->bin_key;
	struct bin_match *seen;
	struct proc_entry *e;

	k->tgid = BPF_CORE_READ(task, tgid);
	k->set_id = c->set_id;
	k->op = c->op;
	k->pad = BIN_KEY_LINEAGE;
	k->ktime = 0;
	s->bin_match.exe = (__u64)BPF_CORE_READ(task, mm, exe_file);
	e = bpf_map_lookup_elem(&procs, &k->tgid);
	if (!e)
		return -1;
	k->ktime = e->ident.ktime;
	seen = bpf_map_lookup_elem(&bin_matches, k);
	if (seen && seen->exe == s->bin_match.exe)
		return seen->in;
	return -1;
}

static __always_inline void lineage_keep(int in)
{
	struct gscratch *s = scratch();

	if (!s || !s->bin_key.ktime || !s->bin_match.exe)
		return;
	s->bin_match.in = in;
	bpf_map_update_elem(&bin_matches, &s->bin_key, &s->bin_match, BPF_ANY);
}

/* Evaluates condition i of a hook: 1 when it holds. */
__noinline int eval_cond(__u32 hook_id, __u32 i)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gscratch *s = scratch();
	struct cond *c;
	bool r;

	if (!cfg || !s)
		return 0;
	c = &cfg->conds[i & (MAX_CONDS - 1)]; /* callers keep i < MAX_CONDS */
	if (c->subject == SUBJ_PID) {
		r = pid_matches(c, task);
	} else if (c->subject == SUBJ_BINARY && (c->v1 & BIN_FOLLOW_CHILDREN)) {
		int kept = lineage_seen(s, c, task);

		if (kept < 0) {
			kept = lineage_matches(hook_id, i) == 1;
			lineage_keep(kept);
		}
		r = kept;
	} else if (c->subject == SUBJ_BINARY ||
		   c->subject == SUBJ_PARENT_BINARY) {
		if (c->subject == SUBJ_PARENT_BINARY)
			task = BPF_CORE_READ(task, real_parent);
		r = binary_in(s, c, task, c->subject);
	} else if (c->subject == SUBJ_NS) {
		r = ns_matches(s, c, task);
	} else if (c->subject == SUBJ_CAPS) {
		r = (caps_of(task, c->v2) & c->v1) != 0;
	} else if (c->subject == SUBJ_CAPS_CHANGED) {
		r = caps_changed(c, task);
	} else if (c->subject == SUBJ_NS_CHANGED) {
		r = ns_changed(s, c, task);
	} else if (c->subject == SUBJ_WORKLOAD) {
		r = in_scope(task, c->v1);
	} else if (c->subject == SUBJ_RET) {
		r = eval_int(c, s->ret);
	} else if (c->subject < MAX_ARGS) {
		r = eval_arg(s, c, cfg->arg_type[c->subject], c->subject);
	} else {
		r = false;
	}
	return r != (bool)c->negate;
}

/* matchCapabilityChanges and matchNamespaceChanges report a change once,
 * as in Tetragon: when selector sel of hook hook_id, which has one of
 * them, matched, the process's capabilities (namespaces) at exec become
 * its current ones. The hook's caps_changes and ns_changes say which
 * selectors have them (no loop over the conditions: the verifier walked
 * it at each caller's state). */
__noinline int changes_seen(__u32 hook_id, __u32 sel)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 seen, tgid;
	struct proc_entry *e;

	if (!cfg)
		return 0;
	seen = ((cfg->caps_changes >> (sel & 15)) & 1) |
	       (((cfg->ns_changes >> (sel & 15)) & 1) << 1);
	if (!seen)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	e = bpf_map_lookup_elem(&procs, &tgid);
	if (!e)
		return 0;
	if (seen & 2)
		read_ns(task, e->ns);
	if (seen & 1) {
		e->caps[CAP_SET_EFFECTIVE] = caps_of(task, CAP_SET_EFFECTIVE);
		e->caps[CAP_SET_INHERITABLE] =
		    caps_of(task, CAP_SET_INHERITABLE);
		e->caps[CAP_SET_PERMITTED] = caps_of(task, CAP_SET_PERMITTED);
	}
	return 0;
}

/* What a condition is on, as bits of the kinds select_conds evaluates. */
enum cond_class {
	CLASS_PROCESS = 1,
	CLASS_ARGS = 2,
	CLASS_RET = 4,
};

static __always_inline __u32 cond_class(struct cond *c)
{
	if (c->subject == SUBJ_RET)
		return CLASS_RET;
	return c->subject < MAX_ARGS ? CLASS_ARGS : CLASS_PROCESS;
}

/* The kinds of condition select evaluates in phase (enum select_phase). */
static __always_inline __u32 phase_classes(int phase)
{
	switch (phase) {
	case PHASE_ENTRY:
		return CLASS_PROCESS | CLASS_ARGS;
	case PHASE_EXIT:
		return CLASS_RET;
	case PHASE_PROCESS:
	case PHASE_PROCESS_LAST:
		return CLASS_PROCESS;
	case PHASE_ARGS:
	case PHASE_ARGS_FIRST:
		return CLASS_ARGS | CLASS_RET;
	}
	return CLASS_PROCESS | CLASS_ARGS | CLASS_RET;
}

/* Whether hook hook_id can match the call whose arguments are in the
 * scratch: false when its prefilter (struct quick) rules a match out.
 * Global, so that it is verified once, not in each hook list's loop. */
__noinline int quick_pass(__u32 hook_id)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct gscratch *s = scratch();
	struct quick *q;
	__u64 v;

	if (!cfg || !s || cfg->quick.kind == QUICK_NONE)
		return 1;
	q = &cfg->quick;
	v = s->raw[q->reg & 7];
	if (q->kind == QUICK_STR) {
		__u64 head = 0;

		/* up to 7 bytes and the NUL: the rest stays 0; read once for
		 * the hooks of one syscall's list (gscratch.share_path) */
		if (s->head_ok && s->head_src == v) {
			head = s->head;
		} else {
			if (bpf_probe_read_user_str(&head, sizeof(head),
						    (void *)v) < 0)
				return 1;
			s->head_src = v;
			s->head = head;
			s->head_ok = s->share_path;
		}
		v = head & q->mask;
	} else {
		v = int_of(q->type, v);
	}
	for (int i = 0; i < QUICK_VALS; i++) {
		if (i >= q->n)
			break;
		if (q->vals[i] == v)
			return 1;
	}
	return 0;
}

/* The loops of select: evaluates the conditions of the kinds in classes
 * (enum cond_class) and returns the first selector whose conditions all
 * hold, or -1. Global, so that they are verified once, not at each of
 * select's callers; classes is a mask, not the phase, so that no branch
 * splits the verifier's walk of the loop by phase. */
__noinline int select_conds(__u32 hook_id, __u32 classes)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct gscratch *s = scratch();

	if (!cfg || !s)
		return -1;
	for (int i = 0; i < MAX_CONDS; i++) {
		struct cond *c = &cfg->conds[i];
		__u32 bit;

		if (i >= cfg->n_conds)
			break;
		bit = 1u << (c->selector & 31);
		if ((s->failed & bit) || !(cond_class(c) & classes))
			continue; /* this selector already failed, or not now */
		if (!eval_cond(hook_id, i))
			s->failed |= bit;
	}
	if (!cfg->n_selectors)
		return 0;
	for (int i = 0; i < MAX_SELECTORS; i++) {
		if (i >= cfg->n_selectors)
			break;
		if (!(s->failed & (1u << i)))
			return i;
	}
	return -1;
}

/* Returns the first selector whose conditions all hold, or -1; in
 * PHASE_EXIT only selector only is a candidate. PHASE_ARGS goes on from
 * the selectors PHASE_PROCESS left: a miss on the process alone costs no
 * argument read (a path resolved, a string copied); PHASE_PROCESS_LAST
 * from those PHASE_ARGS_FIRST left. */
static __always_inline int select(struct gscratch *s, struct hook_config *cfg,
				  int phase, __u32 only)
{
	if (phase != PHASE_ARGS && phase != PHASE_PROCESS_LAST) {
		s->failed = phase == PHASE_EXIT ? ~(1u << (only & 31)) : 0;
		s->bin_len = 0;
		s->ns_read = 0;
	}
	return select_conds(cfg->hook_id, phase_classes(phase));
}

#endif
