// SPDX-License-Identifier: GPL-2.0
/* The generic hook program. It is compiled once; policies configure it
 * through maps (hooks per syscall, hook configs, value sets, policy modes),
 * so loading or replacing a policy never needs clang or a new program. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "generic.h"
#include "maps.h"
#include "msg.h"
#include "ns.h"
#include "path.h"
#include "process.h"
#include "scope.h"

char LICENSE[] SEC("license") = "GPL";

/* in BTF for pkg/tracing's mirror test */
struct sock_info *unused_sock_info __attribute__((unused));
struct cred_info *unused_cred_info __attribute__((unused));
struct skb_info *unused_skb_info __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct syscall_hooks);
} syscall_hooks SEC(".maps");

/* Hooks that run at syscall exit, with the return value. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct syscall_hooks);
} syscall_exit_hooks SEC(".maps");

/* An array: its lookups are inlined, where a hash lookup cost a cache miss
 * per call. User space hands ids out round the array, so a slot is not
 * rewritten while a program may still run the hook that used it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_HOOKS);
	__type(key, __u32);
	__type(value, struct hook_config);
} hook_configs SEC(".maps");

/* Counts per hook, also of matches that post nothing (NoPost, rate
 * limited); user space zeroes a hook's when it hands the id out. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_HOOKS);
	__type(key, __u32);
	__type(value, struct hook_stat);
} hook_stats SEC(".maps");

/* When each rate-limited event was last posted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct rate_key);
	__type(value, __u64);
} rate_limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_POLICIES);
	__type(key, __u32);
	__type(value, __u32);
} policy_modes SEC(".maps");

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
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct addr_key);
	__type(value, __u8);
} addr_sets SEC(".maps");

/* Per-CPU work space, shared by every hook and policy. What a miss
 * touches comes first, next to the event's header and first argument, so
 * that it spans few pages. */
struct gscratch {
	struct msg_generic msg;
	__u64 raw[8]; /* the syscall's six arguments */
	__s64 ret;    /* the return value, at exit */
	__u8 at_exit;
	__u8 pad2[7];
	__u32 arg_off[MAX_ARGS];
	__u32 failed;  /* selectors with a false condition */
	__u32 bin_off; /* binary path in path.buf, once resolved */
	__u32 bin_len;
	__u32 bin_subj; /* whose binary that is: SUBJ_BINARY or _PARENT_ */
	__u32 ns[NS_MAX];
	__u32 ns_read; /* ns holds the task's namespaces */
	struct str_key key;
	__u8 tmp[STR_KEY_MASK + 1];
	struct path_buf path;
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

/* The open file behind fd in the current task, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Puts path p, resolved, into data at off; returns its length. */
static __always_inline __u32 put_path_of(struct gscratch *s, __u32 off,
					 const struct path *p,
					 struct task_struct *task)
{
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__s32 start;
	__u32 len;

	if (!p || !fs)
		return 0;
	start = resolve_path(&s->path, p, &fs->root);
	len = (PATH_LEN - start) & ARG_MASK;
	bpf_probe_read_kernel(&s->msg.data[off], len,
			      &s->path.buf[start & PATH_MASK]);
	return len;
}

/* Puts the path of file f into data at off; returns its length. */
static __always_inline __u32 put_file_path(struct gscratch *s, __u32 off,
					   struct file *f,
					   struct task_struct *task)
{
	return f ? put_path_of(s, off, &f->f_path, task) : 0;
}

/* Puts what selectors and events use of struct sock sk at data[off]. */
static __always_inline __u32 put_sock(struct gscratch *s, __u32 off,
				      struct sock *sk)
{
	struct sock_info *si = (void *)&s->msg.data[off & 0x3fff];

	__builtin_memset(si, 0, sizeof(*si));
	if (!sk)
		return 0;
	si->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	si->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	si->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	si->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	si->type = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
	si->protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	si->mark = BPF_CORE_READ(sk, sk_mark);
	si->priority = BPF_CORE_READ(sk, sk_priority);
	if (si->family == 2 /* AF_INET */) {
		bpf_core_read(si->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(si->daddr, 4, &sk->__sk_common.skc_daddr);
	} else if (bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		bpf_core_read(si->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(si->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	return sizeof(*si);
}

/* Puts the headers of struct sk_buff skb at data[off]. */
static __always_inline __u32 put_skb(struct gscratch *s, __u32 off,
				     struct sk_buff *skb)
{
	struct skb_info *si = (void *)&s->msg.data[off & 0x3fff];
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	struct iphdr ip = {};
	struct ipv6hdr ip6 = {};
	__u16 ports[2] = {};

	__builtin_memset(si, 0, sizeof(*si));
	if (!skb)
		return 0;
	si->hash = BPF_CORE_READ(skb, hash);
	si->len = BPF_CORE_READ(skb, len);
	si->priority = BPF_CORE_READ(skb, priority);
	si->mark = BPF_CORE_READ(skb, mark);
	if (!head || nh == (__u16)~0U)
		return sizeof(*si);
	bpf_probe_read_kernel(&ip, sizeof(ip), head + nh);
	if (ip.version == 4) {
		si->family = 2; /* AF_INET */
		si->protocol = ip.protocol;
		__builtin_memcpy(si->saddr, &ip.saddr, 4);
		__builtin_memcpy(si->daddr, &ip.daddr, 4);
		if (th == (__u16)~0U || th == nh)
			th = nh + ip.ihl * 4;
	} else if (ip.version == 6) {
		bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh);
		si->family = 10; /* AF_INET6 */
		si->protocol = ip6.nexthdr;
		__builtin_memcpy(si->saddr, &ip6.saddr, 16);
		__builtin_memcpy(si->daddr, &ip6.daddr, 16);
		if (th == (__u16)~0U || th == nh)
			th = nh + sizeof(ip6);
	}
	if (si->protocol == 6 /* TCP */ || si->protocol == 17 /* UDP */) {
		bpf_probe_read_kernel(ports, sizeof(ports), head + th);
		si->sport = bpf_ntohs(ports[0]);
		si->dport = bpf_ntohs(ports[1]);
	}
	return sizeof(*si);
}

/* Puts the ids and capabilities of struct cred c at data[off]. */
static __always_inline __u32 put_cred(struct gscratch *s, __u32 off,
				      const struct cred *c)
{
	struct cred_info *ci = (void *)&s->msg.data[off & 0x3fff];

	if (!c)
		return 0;
	ci->uid = BPF_CORE_READ(c, uid.val);
	ci->gid = BPF_CORE_READ(c, gid.val);
	ci->euid = BPF_CORE_READ(c, euid.val);
	ci->egid = BPF_CORE_READ(c, egid.val);
	ci->suid = BPF_CORE_READ(c, suid.val);
	ci->sgid = BPF_CORE_READ(c, sgid.val);
	ci->fsuid = BPF_CORE_READ(c, fsuid.val);
	ci->fsgid = BPF_CORE_READ(c, fsgid.val);
	/* kernel_cap_t is 64 bits in every layout the kernel has used */
	bpf_probe_read_kernel(&ci->cap_permitted, 8, &c->cap_permitted);
	bpf_probe_read_kernel(&ci->cap_effective, 8, &c->cap_effective);
	bpf_probe_read_kernel(&ci->cap_inheritable, 8, &c->cap_inheritable);
	return sizeof(*ci);
}

/* Reads argument slot i into the event at data offset off; returns the
 * bytes it put in data. Global functions are verified once, not once per
 * call site, which keeps the loops that call them within budget. */
__noinline int read_arg(__u32 hook_id, __u32 i, __u32 off)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gscratch *s = scratch();
	__u64 raw, size;
	long n;

	if (!cfg || !s)
		return 0;
	off &= 0x3fff;
	i &= 7; /* callers keep i < MAX_ARGS */
	raw = s->raw[cfg->arg_index[i] & 7];
	switch (cfg->arg_type[i]) {
	case ARG_INT:
		s->msg.arg_val[i] = (__s32)raw;
		return 0;
	case ARG_UINT:
		s->msg.arg_val[i] = (__u32)raw;
		return 0;
	case ARG_S64:
	case ARG_U64:
		s->msg.arg_val[i] = raw;
		return 0;
	case ARG_STRING:
		if (cfg->kernel_mem & (1 << i))
			n = bpf_probe_read_kernel_str(
			    &s->msg.data[off], ARG_DATA_LEN, (void *)raw);
		else
			n = bpf_probe_read_user_str(&s->msg.data[off],
						    ARG_DATA_LEN, (void *)raw);
		return n > 0 ? (n - 1) & ARG_MASK : 0;
	case ARG_FILE:
		return put_file_path(s, off, (struct file *)raw, task);
	case ARG_PATH:
		return put_path_of(s, off, (struct path *)raw, task);
	case ARG_BPRM:
		return put_file_path(
		    s, off, BPF_CORE_READ((struct linux_binprm *)raw, file),
		    task);
	case ARG_FD:
		s->msg.arg_val[i] = (__s32)raw;
		return put_file_path(s, off, fd_file(task, (__u32)raw), task);
	case ARG_SOCKADDR:
		if (bpf_probe_read_user(&s->msg.data[off], 28, (void *)raw))
			return 0;
		return 28;
	case ARG_SOCK:
		return put_sock(s, off, (struct sock *)raw);
	case ARG_CRED:
		return put_cred(s, off, (const struct cred *)raw);
	case ARG_SKB:
		return put_skb(s, off, (struct sk_buff *)raw);
	case ARG_CHAR_BUF:
		/* the size slot's raw value: that slot may not be read yet */
		size = s->raw[cfg->arg_index[cfg->arg_size[i] & 7] & 7];
		if (cfg->ret_copy & (1 << i))
			size = s->ret < 0	      ? 0
			       : (__u64)s->ret < size ? s->ret
						      : size;
		if (size > cfg->max_data)
			size = cfg->max_data;
		size &= ARG_MASK;
		s->msg.arg_val[i] = size;
		if (bpf_probe_read_user(&s->msg.data[off], size, (void *)raw))
			return 0;
		return size;
	}
	return 0;
}

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
		bpf_probe_read_kernel(s->tmp, n, src + len - n);
		for (int i = 0; i < STR_KEY_LEN - 1; i++) {
			if (i >= n)
				break;
			k->data[i] = s->tmp[(n - 1 - i) & STR_KEY_MASK];
		}
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

/* Resolves the executable path of the task (SUBJ_BINARY) or its parent
 * (SUBJ_PARENT_BINARY) into s->path, once per event and subject. */
static __always_inline void resolve_binary(struct gscratch *s,
					   struct task_struct *task, __u32 subj)
{
	struct file *exe;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__s32 start;

	if (s->bin_len && s->bin_subj == subj)
		return;
	if (subj == SUBJ_PARENT_BINARY)
		task = BPF_CORE_READ(task, real_parent);
	exe = BPF_CORE_READ(task, mm, exe_file);
	s->bin_len = 0;
	if (!exe || !fs)
		return;
	start = resolve_path(&s->path, &exe->f_path, &fs->root);
	s->bin_off = start & PATH_MASK;
	s->bin_len = (PATH_LEN - start) & PATH_MASK;
	s->bin_subj = subj;
}

/* The task's capability set (enum cap_set). kernel_cap_t is 64 bits in
 * every layout the kernel has used. */
static __always_inline __u64 caps_of(struct task_struct *task, __s64 which)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	const void *set = &cred->cap_effective;
	__u64 caps = 0;

	if (which == CAP_SET_INHERITABLE)
		set = &cred->cap_inheritable;
	else if (which == CAP_SET_PERMITTED)
		set = &cred->cap_permitted;
	bpf_probe_read_kernel(&caps, sizeof(caps), set);
	return caps;
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

static __always_inline bool eval_arg(struct gscratch *s, struct cond *c,
				     __u8 type, __u8 i)
{
	__s64 v = s->msg.arg_val[i];
	__u8 *data = (__u8 *)&s->msg.data[s->arg_off[i] & 0x3fff];
	__u32 len = s->msg.arg_len[i];
	bool str = type == ARG_STRING || type == ARG_FD ||
		   type == ARG_CHAR_BUF ||
		   (type >= ARG_FILE && type <= ARG_BPRM);

	if (type == ARG_SOCKADDR || type == ARG_SOCK || type == ARG_SKB)
		return eval_net(c, type, data, len);
	switch (c->op) {
	case COND_EQ:
	case COND_PREFIX:
	case COND_POSTFIX:
		if (str)
			return in_str_set(s, c->op, c->set_id, data, len);
		return eval_int(c, v);
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
 * verified once. It leaves s->path holding that ancestor's path. */
__noinline int ancestor_binary_in(__u32 hook_id, __u32 i, __u32 depth)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gscratch *s = scratch();
	struct cond *c;

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
	s->bin_len = 0;
	resolve_binary(s, task, SUBJ_BINARY);
	s->bin_subj = 0; /* not the current task's: resolve_binary redoes it */
	return in_str_set(s, c->op, c->set_id,
			  &s->path.buf[s->bin_off & PATH_MASK], s->bin_len);
}

/* matchBinaries with followChildren: 1 when the process or one of its
 * ancestors runs a binary of condition i's set. */
__noinline int lineage_matches(__u32 hook_id, __u32 i)
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
		r = lineage_matches(hook_id, i) == 1;
	} else if (c->subject == SUBJ_BINARY ||
		   c->subject == SUBJ_PARENT_BINARY) {
		resolve_binary(s, task, c->subject);
		r = in_str_set(s, c->op, c->set_id,
			       &s->path.buf[s->bin_off & PATH_MASK],
			       s->bin_len);
	} else if (c->subject == SUBJ_NS) {
		r = ns_matches(s, c, task);
	} else if (c->subject == SUBJ_CAPS) {
		r = (caps_of(task, c->v2) & c->v1) != 0;
	} else if (c->subject == SUBJ_CAPS_CHANGED) {
		r = caps_changed(c, task);
	} else if (c->subject == SUBJ_NS_CHANGED) {
		r = ns_changed(s, c, task);
	} else if (c->subject == SUBJ_RET) {
		r = eval_int(c, s->ret);
	} else if (c->subject < MAX_ARGS) {
		r = eval_arg(s, c, cfg->arg_type[c->subject], c->subject);
	} else {
		r = false;
	}
	return r != (bool)c->negate;
}

/* Returns the first selector whose conditions all hold, or -1. */
static __always_inline int select(struct gscratch *s, struct hook_config *cfg)
{
	s->failed = 0;
	s->bin_len = 0;
	s->ns_read = 0;
	for (int i = 0; i < MAX_CONDS; i++) {
		struct cond *c = &cfg->conds[i];
		__u32 bit;

		if (i >= cfg->n_conds)
			break;
		bit = 1u << (c->selector & 31);
		if (s->failed & bit)
			continue; /* this selector already failed */
		if (!eval_cond(cfg->hook_id, i))
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

static __always_inline void read_args(struct gscratch *s,
				      struct hook_config *cfg)
{
	__u32 off = 0;

	for (int i = 0; i < MAX_ARGS; i++) {
		__u32 len = 0;

		s->arg_off[i] = off;
		if (i < cfg->n_args)
			len = read_arg(cfg->hook_id, i, off) & ARG_MASK;
		s->msg.arg_len[i] = len;
		off = (off + len) & 0x3fff;
	}
}

/* FNV-1a over the event's integer arguments and the start of its data:
 * events that hash alike are "the same" for rate limiting. */
__noinline int args_hash(void)
{
	struct gscratch *s = scratch();
	__u32 h = 2166136261u;
	__u8 *p;

	if (!s)
		return 0;
	p = (__u8 *)s->msg.arg_val;
	for (int i = 0; i < sizeof(s->msg.arg_val); i++)
		h = (h ^ p[i]) * 16777619u;
	for (int i = 0; i < 64; i++)
		h = (h ^ (__u8)s->msg.data[i]) * 16777619u;
	return h;
}

/* Whether this event was posted less than the rate limit ago; if not, it
 * records now as its last post. */
static __always_inline bool rate_limited(struct gscratch *s,
					 struct hook_config *cfg,
					 struct sel_action *act, int sel)
{
	struct rate_key k = {.hook_id = cfg->hook_id, .selector = sel};
	__u64 now = bpf_ktime_get_ns(), pid_tgid = bpf_get_current_pid_tgid();
	__u64 *last;

	if (!act->rate_limit_ms)
		return false;
	if (act->scope == SCOPE_THREAD)
		k.scope_id = (__u32)pid_tgid;
	else if (act->scope == SCOPE_PROCESS)
		k.scope_id = pid_tgid >> 32;
	k.hash = args_hash();
	last = bpf_map_lookup_elem(&rate_limits, &k);
	if (last && now - *last < (__u64)act->rate_limit_ms * 1000000)
		return true;
	bpf_map_update_elem(&rate_limits, &k, &now, BPF_ANY);
	return false;
}

static __always_inline void count_hit(__u32 hook_id, bool acted)
{
	struct hook_stat *st = bpf_map_lookup_elem(&hook_stats, &hook_id);

	if (!st)
		return;
	st->hits++;
	if (acted)
		st->actions++;
}

/* Runs one hook on the current syscall: reads its arguments, evaluates its
 * selectors, acts, and posts the event. */
__noinline int run_hook(__u32 hook_id, __u32 nr)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sel_action act = {.post = 1};
	struct gscratch *s = scratch();
	__u32 *mode, size;
	int sel, ret = 0;

	if (!cfg || !s)
		return 0;
	if (cfg->scoped && !in_scope(task, cfg->policy_id))
		return 0;
	if (cfg->at_exit == AT_EXIT_INT)
		s->ret = (__s32)s->ret; /* a 32-bit int, in a 64-bit register */
	read_args(s, cfg);
	sel = select(s, cfg);
	if (sel < 0)
		return 0;
	if (cfg->n_selectors)
		act = cfg->actions[sel & (MAX_SELECTORS - 1)];
	mode = bpf_map_lookup_elem(&policy_modes, &cfg->policy_id);
	s->msg.monitor = mode && *mode == MODE_MONITOR;
	s->msg.sig = act.sig;
	if (act.sig && !s->msg.monitor)
		bpf_send_signal(act.sig);
	if (!s->msg.monitor)
		ret = act.override;
	count_hit(hook_id, ret || (act.sig && !s->msg.monitor));
	if (!act.post || rate_limited(s, cfg, &act, sel))
		return ret;
	s->msg.ret = s->ret;
	s->msg.has_ret = s->at_exit;
	s->msg.hdr.op = MSG_OP_GENERIC;
	s->msg.hdr.ktime = bpf_ktime_get_ns();
	ident_of(task, &s->msg.ident);
	ident_of(BPF_CORE_READ(task, real_parent), &s->msg.parent);
	s->msg.hook_id = hook_id;
	s->msg.policy_id = cfg->policy_id;
	s->msg.tid = (__u32)bpf_get_current_pid_tgid();
	s->msg.syscall = nr;
	s->msg.selector = sel;
	size = offsetof(struct msg_generic, data) +
	       ((s->arg_off[MAX_ARGS - 1] + s->msg.arg_len[MAX_ARGS - 1]) &
		0x3fff);
	s->msg.hdr.size = size;
	output(&s->msg, size);
	return ret;
}

/* The syscall's arguments, from the user's saved registers: r10 to di are
 * adjacent in pt_regs (the ptrace ABI), so one read copies all six. */
static __always_inline void syscall_regs(struct gscratch *s,
					 struct pt_regs *regs)
{
	__u64 r[8]; /* r10 r9 r8 ax cx dx si di */

	if (bpf_probe_read_kernel(r, sizeof(r), &regs->r10))
		__builtin_memset(r, 0, sizeof(r));
	s->raw[0] = r[7];
	s->raw[1] = r[6];
	s->raw[2] = r[5];
	s->raw[3] = r[0];
	s->raw[4] = r[2];
	s->raw[5] = r[1];
}

/* Runs the hooks of a syscall list. regs is the tracepoint's trusted
 * pointer to the user's saved registers: plain loads, no helper calls. */
static __always_inline void run_hooks(struct syscall_hooks *sh,
				      struct pt_regs *regs, __u32 nr,
				      bool at_exit, __s64 ret)
{
	struct gscratch *s = scratch();

	if (!s)
		return;
	s->raw[0] = regs->di;
	s->raw[1] = regs->si;
	s->raw[2] = regs->dx;
	s->raw[3] = regs->r10;
	s->raw[4] = regs->r8;
	s->raw[5] = regs->r9;
	s->at_exit = at_exit;
	s->ret = ret;
	for (int i = 0; i < HOOKS_PER_SYSCALL; i++) {
		if (!sh->hook_ids[i])
			break;
		run_hook(sh->hook_ids[i], nr);
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(generic_sys_enter, struct pt_regs *regs, long id)
{
	__u32 nr = id;
	struct syscall_hooks *sh = bpf_map_lookup_elem(&syscall_hooks, &nr);

	if (sh && sh->hook_ids[0])
		run_hooks(sh, regs, nr, false, 0);
	return 0;
}

/* At exit the saved user registers still hold the syscall's arguments,
 * and orig_ax its number. */
SEC("tp_btf/sys_exit")
int BPF_PROG(generic_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 nr = regs->orig_ax;
	struct syscall_hooks *sh =
	    bpf_map_lookup_elem(&syscall_exit_hooks, &nr);

	if (sh && sh->hook_ids[0])
		run_hooks(sh, regs, nr, true, ret);
	return 0;
}

/* Hooks with a program of their own (kprobe, fentry, LSM): user space loads
 * one copy per hook with these constants set, which the verifier sees as
 * known values (so reads of absent arguments are dead code). */
volatile const __u32 cfg_hook_id = 0;
volatile const __u32 cfg_nargs = 0;   /* fentry, LSM: the function's */
volatile const __u32 cfg_syscall = 0; /* a syscall wrapper: args in regs */

/* Tracepoint hooks: where each slot's field lies in the record and how to
 * read it (enum tp_kind), set per hook copy from the event's format. */
volatile const __u16 cfg_tp_off[MAX_ARGS] = {};
volatile const __u8 cfg_tp_kind[MAX_ARGS] = {};

static __always_inline __u64 tp_field(void *ctx, int i)
{
	__u32 off = cfg_tp_off[i], loc = 0;
	__u64 v = 0;

	switch (cfg_tp_kind[i]) {
	case TP_U8:
		bpf_probe_read_kernel(&v, 1, ctx + off);
		return v;
	case TP_U16:
		bpf_probe_read_kernel(&v, 2, ctx + off);
		return v;
	case TP_U32:
		bpf_probe_read_kernel(&v, 4, ctx + off);
		return v;
	case TP_U64:
		bpf_probe_read_kernel(&v, 8, ctx + off);
		return v;
	case TP_ARRAY:
		return (__u64)(ctx + off);
	case TP_DATA_LOC:
		bpf_probe_read_kernel(&loc, 4, ctx + off);
		return (__u64)(ctx + (loc & 0xffff));
	}
	return 0;
}

SEC("tracepoint")
int generic_tracepoint(void *ctx)
{
	struct gscratch *s = scratch();

	if (!s)
		return 0;
	for (int i = 0; i < MAX_ARGS; i++)
		s->raw[i] = tp_field(ctx, i);
	s->at_exit = 0;
	run_hook(cfg_hook_id, 0);
	return 0;
}

/* A kprobe's arguments: a syscall wrapper's from the user's registers. */
static __always_inline void kprobe_args(struct gscratch *s, struct pt_regs *ctx)
{
	if (cfg_syscall) {
		syscall_regs(s, (struct pt_regs *)PT_REGS_PARM1_CORE(ctx));
		return;
	}
	s->raw[0] = PT_REGS_PARM1_CORE(ctx);
	s->raw[1] = PT_REGS_PARM2_CORE(ctx);
	s->raw[2] = PT_REGS_PARM3_CORE(ctx);
	s->raw[3] = PT_REGS_PARM4_CORE(ctx);
	s->raw[4] = PT_REGS_PARM5_CORE(ctx);
}

/* Entry arguments of return hooks, by thread and hook, until the return. */
struct stash_key {
	__u32 tid;
	__u32 hook_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stash_key);
	__type(value, __u64[8]);
} ret_stash SEC(".maps");

volatile const __u32 cfg_stash = 0; /* kprobe: keep the args for kretprobe */

SEC("kprobe")
int generic_kprobe(struct pt_regs *ctx)
{
	struct stash_key k = {.tid = (__u32)bpf_get_current_pid_tgid(),
			      .hook_id = cfg_hook_id};
	struct gscratch *s = scratch();

	if (!s)
		return 0;
	kprobe_args(s, ctx);
	if (cfg_stash) {
		bpf_map_update_elem(&ret_stash, &k, s->raw, BPF_ANY);
		return 0;
	}
	s->at_exit = 0;
	run_hook(cfg_hook_id, 0);
	return 0;
}

/* A return hook on the kprobe backend: the arguments the entry kprobe
 * kept, and the return value. */
SEC("kretprobe")
int generic_kretprobe(struct pt_regs *ctx)
{
	struct stash_key k = {.tid = (__u32)bpf_get_current_pid_tgid(),
			      .hook_id = cfg_hook_id};
	struct gscratch *s = scratch();
	__u64 *raw = bpf_map_lookup_elem(&ret_stash, &k);

	if (!s || !raw)
		return 0;
	__builtin_memcpy(s->raw, raw, sizeof(s->raw));
	bpf_map_delete_elem(&ret_stash, &k);
	s->at_exit = 1;
	s->ret = PT_REGS_RC_CORE(ctx);
	run_hook(cfg_hook_id, 0);
	return 0;
}

/* Override on the kprobe backend: the function returns the error without
 * running. A program of its own: bpf_override_return is refused at load
 * where the kernel lacks it. */
SEC("kprobe")
int generic_kprobe_override(struct pt_regs *ctx)
{
	struct gscratch *s = scratch();
	int ret;

	if (!s)
		return 0;
	kprobe_args(s, ctx);
	s->at_exit = 0;
	ret = run_hook(cfg_hook_id, 0);
	if (ret)
		bpf_override_return(ctx, ret);
	return 0;
}

/* Copies the BTF-typed arguments of a trampoline program. */
static __always_inline void ctx_args(struct gscratch *s, __u64 *ctx)
{
	if (cfg_syscall) {
		syscall_regs(s, (struct pt_regs *)ctx[0]);
		return;
	}
	if (cfg_nargs > 0)
		s->raw[0] = ctx[0];
	if (cfg_nargs > 1)
		s->raw[1] = ctx[1];
	if (cfg_nargs > 2)
		s->raw[2] = ctx[2];
	if (cfg_nargs > 3)
		s->raw[3] = ctx[3];
	if (cfg_nargs > 4)
		s->raw[4] = ctx[4];
	if (cfg_nargs > 5)
		s->raw[5] = ctx[5];
}

/* Runs the hook on a program whose context is the arguments: fentry,
 * fmod_ret, raw tracepoints. Returns the Override error, or 0. */
static __always_inline int ctx_hook(__u64 *ctx)
{
	struct gscratch *s = scratch();

	if (!s)
		return 0;
	ctx_args(s, ctx);
	s->at_exit = 0;
	return run_hook(cfg_hook_id, 0);
}

SEC("fentry")
int generic_fentry(__u64 *ctx)
{
	ctx_hook(ctx);
	return 0;
}

/* A raw tracepoint: its arguments are TP_PROTO's. */
SEC("raw_tp")
int generic_raw_tp(__u64 *ctx)
{
	ctx_hook(ctx);
	return 0;
}

/* The return value of a trampoline program's function, after its args
 * (the verifier refuses ctx reads at computed offsets). */
static __always_inline __s64 ctx_ret(__u64 *ctx)
{
	__s64 ret = 0;

	bpf_probe_read_kernel(&ret, sizeof(ret),
			      (void *)ctx + 8 * (cfg_nargs & 15));
	return ret;
}

SEC("fexit")
int generic_fexit(__u64 *ctx)
{
	struct gscratch *s = scratch();

	if (!s)
		return 0;
	ctx_args(s, ctx);
	s->at_exit = 1;
	s->ret = ctx_ret(ctx);
	run_hook(cfg_hook_id, 0);
	return 0;
}

/* Override on the fentry backend: a nonzero return skips the function,
 * which returns that error. */
SEC("fmod_ret")
int generic_fmod_ret(__u64 *ctx)
{
	return ctx_hook(ctx);
}

/* An LSM hook can deny: the matching selector's Override error is the
 * hook's verdict. A verdict of an earlier BPF LSM program stands. */
/* An LSM program may only return 0 or an error (newer verifiers check). */
static __always_inline int lsm_verdict(long r)
{
	if (r < -4095 || r > 0)
		return 0;
	return r;
}

SEC("lsm")
int generic_lsm(__u64 *ctx)
{
	struct gscratch *s = scratch();
	int prev = 0;

	if (!s)
		return 0;
	/* the verdict so far follows the arguments: an int, read as one (a
	 * wider read loses the verifier's bound on what the program returns) */
	bpf_probe_read_kernel(&prev, sizeof(prev),
			      (void *)ctx + 8 * (cfg_nargs & 15));
	if (prev)
		return lsm_verdict(prev);
	ctx_args(s, ctx);
	s->at_exit = 0;
	return lsm_verdict(run_hook(cfg_hook_id, 0));
}
