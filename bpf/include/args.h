/* SPDX-License-Identifier: GPL-2.0 */
/* The generic hook's argument readers: each argument slot of a hook, read
 * from the raw values its backend left in the scratch (hook.h), into the
 * event's data, where selectors (selector.h) look at it. */
#ifndef VIGIL_ARGS_H
#define VIGIL_ARGS_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "cred.h"
#include "generic.h"
#include "hook.h"
#include "path.h"
#include "socktrack.h"

/* struct file's f_mode: an O_PATH file (include/linux/fs.h, 5.10 to 6.18) */
#define FMODE_PATH 0x4000

/* The open file behind fd in the current task, or NULL. The hooks of
 * one syscall's list look it up once (gscratch.share_path). */
static __always_inline struct file *fd_file(struct gscratch *s,
					    struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;

	if (s->fd_ok && s->fd == fd)
		return s->fd_file;
	fdt = BPF_CORE_READ(task, files, fdt);
	fds = BPF_CORE_READ(fdt, fd);
	if (fd < BPF_CORE_READ(fdt, max_fds))
		bpf_core_read(&f, sizeof(f), &fds[fd]);
	s->fd = fd;
	s->fd_file = f;
	s->fd_ok = s->share_path;
	return f;
}

/* Resolves path p against root into s->path, or finds it there: the
 * hooks of one syscall's list (the open-syscall-exit fallback's file_open
 * hooks, each on the descriptor the call returned) resolve the file once,
 * while no binary's path took the buffer (resolve_binary). Within one
 * list, on one task, the same struct path (an open file's f_path) and
 * root are the same path; a path made on the stack (shareable false) is
 * not. */
static __always_inline __s32 shared_path(struct gscratch *s,
					 const struct path *p,
					 const struct path *root,
					 bool shareable)
{
	if (shareable && s->fpath_ok && s->fpath == p && s->fpath_root == root)
		return s->path.off;
	s->fpath = p;
	s->fpath_root = root;
	s->fpath_ok = shareable && s->share_path;
	return resolve_path(&s->path, 0, p, root);
}

/* Puts path p, resolved, into data at off; returns its length. */
static __always_inline __u32 put_path_of(struct gscratch *s, __u32 off,
					 const struct path *p,
					 struct task_struct *task,
					 bool shareable)
{
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__s32 start;
	__u32 len;

	if (!p || !fs)
		return 0;
	start = shared_path(s, p, &fs->root, shareable);
	len = (PATH_LEN - start) & ARG_MASK;
	bpf_probe_read_kernel(&s->msg.data[off], len,
			      &s->path.buf[start & PATH_MASK]);
	return len;
}

/* Puts slot i's path p into data at off, and keeps its dentry for the
 * identity conditions; returns the path's length. */
static __always_inline __u32 put_obj_path(struct gscratch *s, __u32 i,
					  __u32 off, const struct path *p,
					  struct task_struct *task,
					  bool shareable)
{
	if (!p)
		return 0;
	s->obj[i & SLOT_MASK] = (__u64)BPF_CORE_READ(p, dentry);
	return put_path_of(s, off, p, task, shareable);
}

/* The path of the file an argument of type type points to, or NULL. */
static __always_inline const struct path *
file_path_of(struct gscratch *s, __u8 type, __u64 raw, struct task_struct *task)
{
	struct file *f = NULL;

	if (type == ARG_PATH)
		return (const struct path *)raw;
	if (type == ARG_FILE)
		f = (struct file *)raw;
	else if (type == ARG_BPRM)
		f = BPF_CORE_READ((struct linux_binprm *)raw, file);
	else if (type == ARG_FD)
		f = fd_file(s, task, (__u32)raw);
	return f ? &f->f_path : NULL;
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
	READ_CRED(ci, c);
	return sizeof(*ci);
}

/* Puts what events show of struct user_namespace ns at data[off]. */
static __always_inline __u32 put_user_ns(struct gscratch *s, __u32 off,
					 struct user_namespace *ns)
{
	struct user_ns_arg *u = (void *)&s->msg.data[off & 0x3fff];

	if (!ns)
		return 0;
	u->level = BPF_CORE_READ(ns, level);
	u->uid = BPF_CORE_READ(ns, owner.val);
	u->gid = BPF_CORE_READ(ns, group.val);
	u->inum = BPF_CORE_READ(ns, ns.inum);
	return sizeof(*u);
}

/* Puts what events show of a BPF program at data[off]: one being loaded
 * (union bpf_attr, ARG_BPF_ATTR) or loaded (struct bpf_prog). */
static __always_inline __u32 put_bpf_prog(struct gscratch *s, __u32 off,
					  __u8 type, __u64 raw)
{
	struct bpf_prog_arg *b = (void *)&s->msg.data[off & 0x3fff];
	union bpf_attr *attr = (union bpf_attr *)raw;
	struct bpf_prog *prog = (struct bpf_prog *)raw;
	struct bpf_prog_aux *aux;

	__builtin_memset(b, 0, sizeof(*b));
	if (!raw)
		return 0;
	if (type == ARG_BPF_ATTR) {
		b->prog_type = BPF_CORE_READ(attr, prog_type);
		b->insn_cnt = BPF_CORE_READ(attr, insn_cnt);
		bpf_core_read(b->name, BPF_NAME_LEN, &attr->prog_name);
	} else {
		b->prog_type = BPF_CORE_READ(prog, type);
		b->insn_cnt = BPF_CORE_READ(prog, len);
		aux = BPF_CORE_READ(prog, aux);
		if (aux)
			bpf_core_read(b->name, BPF_NAME_LEN, &aux->name);
	}
	return sizeof(*b);
}

/* Puts what events show of struct bpf_map m at data[off]. */
static __always_inline __u32 put_bpf_map(struct gscratch *s, __u32 off,
					 struct bpf_map *m)
{
	struct bpf_map_arg *b = (void *)&s->msg.data[off & 0x3fff];

	__builtin_memset(b, 0, sizeof(*b));
	if (!m)
		return 0;
	b->map_type = BPF_CORE_READ(m, map_type);
	b->key_size = BPF_CORE_READ(m, key_size);
	b->value_size = BPF_CORE_READ(m, value_size);
	b->max_entries = BPF_CORE_READ(m, max_entries);
	bpf_core_read(b->name, BPF_NAME_LEN, &m->name);
	return sizeof(*b);
}

/* struct load_info is internal to the kernel's module loader: the fields
 * read, relocated against the kernel's BTF. */
struct load_info___vigil {
	const char *name;
	struct module *mod;
	bool sig_ok;
} __attribute__((preserve_access_index));

/* Puts what events show of a kernel module at data[off]: of struct
 * module raw (ARG_MODULE) or struct load_info raw (ARG_LOAD_INFO), the
 * name, the module's taint flags and, for a load_info, whether its
 * signature checked out (where the kernel checks signatures). */
static __always_inline __u32 put_module(struct gscratch *s, __u32 off,
					__u8 type, __u64 raw)
{
	struct module_arg *m = (void *)&s->msg.data[off & 0x3fff];
	struct load_info___vigil *info = (void *)raw;
	struct module *mod = (void *)raw;
	const char *name;

	__builtin_memset(m, 0, sizeof(*m));
	if (!raw)
		return 0;
	if (type == ARG_MODULE) {
		bpf_core_read_str(m->name, sizeof(m->name), &mod->name);
		m->taints = BPF_CORE_READ(mod, taints);
		return sizeof(*m);
	}
	if (!bpf_core_type_exists(struct load_info___vigil))
		return 0;
	name = BPF_CORE_READ(info, name);
	bpf_probe_read_kernel_str(m->name, sizeof(m->name), name);
	mod = BPF_CORE_READ(info, mod);
	if (mod)
		m->taints = BPF_CORE_READ(mod, taints);
	if (bpf_core_field_exists(info->sig_ok))
		m->sig_ok = BPF_CORE_READ(info, sig_ok);
	return sizeof(*m);
}

/* Puts what events show of struct perf_event e at data[off]: its
 * attributes, and the kprobe function name their caller gave (config1, a
 * user pointer while the event is created). */
static __always_inline __u32 put_perf_event(struct gscratch *s, __u32 off,
					    struct perf_event *e)
{
	struct perf_event_arg *p = (void *)&s->msg.data[off & 0x3fff];
	__u64 func;

	__builtin_memset(p, 0, sizeof(*p));
	if (!e)
		return 0;
	func = BPF_CORE_READ(e, attr.kprobe_func);
	if (func)
		bpf_probe_read_user_str(p->kprobe_func, KSYM_LEN, (void *)func);
	p->type = BPF_CORE_READ(e, attr.type);
	p->config = BPF_CORE_READ(e, attr.config);
	p->probe_offset = BPF_CORE_READ(e, attr.probe_offset);
	return sizeof(*p);
}

/* The user buffer of struct iov_iter raw, as Tetragon reads it, its size
 * put in slot i's integer value (which a char_buf's is): a ubuf's, or the
 * first of an iovec array; none before 5.14, whose iov_iter has no
 * iter_type. */
static __always_inline __u64 iov_iter_buf(struct gscratch *s, __u32 i,
					  __u64 raw)
{
	struct iov_iter *it = (struct iov_iter *)raw;
	const struct kvec *kv;
	__u8 type;

	s->msg.arg_val[i] = 0;
	if (!raw || !bpf_core_field_exists(it->iter_type))
		return 0;
	type = BPF_CORE_READ(it, iter_type);
	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    type == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		s->msg.arg_val[i] = BPF_CORE_READ(it, count);
		return (__u64)BPF_CORE_READ(it, ubuf);
	}
	if (bpf_core_enum_value_exists(enum iter_type, ITER_IOVEC) &&
	    type == bpf_core_enum_value(enum iter_type, ITER_IOVEC)) {
		kv = BPF_CORE_READ(it, kvec);
		s->msg.arg_val[i] = BPF_CORE_READ(kv, iov_len);
		return (__u64)BPF_CORE_READ(kv, iov_base);
	}
	return 0;
}

/* From what a slot's argument points to, to the object its type reads
 * (enum arg_obj); 0 where a pointer on the way is NULL or unreadable. */
static __always_inline __u64 arg_object(__u8 obj, __u64 raw)
{
	__u64 v = 0;

	if (!raw)
		return 0;
	switch (obj) {
	case OBJ_SOCKET:
		return (__u64)BPF_CORE_READ((struct socket *)raw, sk);
	case OBJ_KIOCB:
		return (__u64)BPF_CORE_READ((struct kiocb *)raw, ki_filp);
	case OBJ_NET_DEVICE:
		return (__u64) & ((struct net_device *)raw)->name;
	case OBJ_CAPS:
		/* kernel_cap_t: a __u64 (6.3 on), or two __u32 words, the
		 * low one first */
		bpf_probe_read_kernel(&v, sizeof(v), (void *)raw);
		return v;
	}
	return raw;
}

/* Follows slot i's resolve path (hook_config.resolve) from the kernel
 * pointer raw: the value of the member it names, or 0 where a pointer on
 * the way is NULL or unreadable. */
static __always_inline __u64 resolve(struct hook_config *cfg, __u32 i,
				     __u64 raw)
{
	for (int k = 0; k < MAX_RESOLVE; k++) {
		struct resolve_step *st;
		__u64 v = 0;
		long err = 0;

		if (k >= cfg->n_resolve[i])
			break;
		if (!raw)
			return 0;
		st = &cfg->resolve[i][k];
		raw += st->off;
		switch (st->load) {
		case 1:
			err = bpf_probe_read_kernel(&v, 1, (void *)raw);
			break;
		case 2:
			err = bpf_probe_read_kernel(&v, 2, (void *)raw);
			break;
		case 4:
			err = bpf_probe_read_kernel(&v, 4, (void *)raw);
			break;
		case 8:
			err = bpf_probe_read_kernel(&v, 8, (void *)raw);
			break;
		default:
			continue;
		}
		raw = err ? 0 : v;
	}
	return raw;
}

/* Reads n bytes of a buffer at src into dst: user memory, or for a kernel
 * function's argument (kernel) kernel memory, else user memory (a __user
 * pointer); a syscall's argument is never read as kernel memory. Returns
 * 0, 1 when read as kernel memory, or an error. */
static __always_inline long read_buf(void *dst, __u32 n, const void *src,
				     bool kernel)
{
	if (kernel && !bpf_probe_read_kernel(dst, n, src))
		return 1;
	return bpf_probe_read_user(dst, n, src);
}

/* read_buf for at most ARG_MASK bytes, the size bounded again right before
 * each read: 5.10's verifier forgets the bounds of a register the compiler
 * spilled to the stack. */
static __always_inline long read_arg_buf(void *dst, __u32 n, const void *src,
					 bool kernel)
{
	__u64 len = n;

	if (kernel) {
		asm volatile("%[len] &= %[mask]"
			     : [len] "+r"(len)
			     : [mask] "i"(ARG_MASK));
		if (!bpf_probe_read_kernel(dst, len, src))
			return 1;
	}
	asm volatile("%[len] &= %[mask]"
		     : [len] "+r"(len)
		     : [mask] "i"(ARG_MASK));
	return bpf_probe_read_user(dst, len, src);
}

/* Reads char_buf slot i at address raw: its first ARG_MASK bytes into the
 * event at data offset off (where selectors see them); for a maxData slot,
 * what follows, up to cfg->max_data bytes in all, is left to send_data
 * (data.h) once the event is to be posted. arg_val is the buffer's size
 * (at return, the bytes returned), which events show when bytes are cut. */
static __always_inline __u32 read_char_buf(struct gscratch *s,
					   struct hook_config *cfg, __u32 i,
					   __u32 off, __u64 raw)
{
	/* the size slot's raw value: that slot may not be read yet */
	__u64 size = s->raw[cfg->arg_index[cfg->arg_size[i] & 7] & 7];
	__u64 max = cfg->max_data < DATA_MAX ? cfg->max_data : DATA_MAX;
	__u64 n, all;
	long err;

	/* an iov_iter's size is its own (iov_iter_buf) */
	if (cfg->arg_obj[i] == OBJ_IOV_ITER)
		size = s->msg.arg_val[i];
	if (cfg->ret_copy & (1 << i))
		size = s->ret < 0 ? 0 : (__u64)s->ret < size ? s->ret : size;
	s->msg.arg_val[i] = size;
	n = (size < ARG_MASK ? size : ARG_MASK) & ARG_MASK;
	err = read_arg_buf(&s->msg.data[off], n, (void *)raw,
			   cfg->kernel_mem & (1 << i));
	if (err < 0) {
		s->msg.data_err[i] = DATA_FAULT;
		return 0;
	}
	all = size < max ? size : max;
	if ((cfg->max_data_args & (1 << i)) && all > n) {
		s->data_src[i] = raw + n;
		s->data_want[i] = all - n;
		/* the rest is where the start was */
		if (err == 1)
			s->data_kmem |= 1 << i;
	}
	return n;
}

/* Reads a char_iovec: the buffers of the first iovecs (an ia32 process's
 * are 8 bytes) of the array at raw, their count in the size slot, one after
 * the other, up to ARG_MASK bytes (with returnCopy, up to those returned),
 * as Tetragon reads them. The value is the bytes read. */
static __always_inline __u32 read_char_iovec(struct gscratch *s,
					     struct hook_config *cfg, __u32 i,
					     __u32 off, __u64 raw)
{
	__u64 cnt = s->raw[cfg->arg_index[cfg->arg_size[i] & 7] & 7];
	__u64 left = ARG_MASK, stride = s->compat ? 8 : 16, base, n;
	__u32 total = 0;

	if (cfg->ret_copy & (1 << i))
		left = s->ret < 0 ? 0 : (__u64)s->ret < left ? s->ret : left;
	for (int j = 0; j < MAX_IOVECS; j++) {
		if (j >= cnt || !left)
			break;
		if (bpf_probe_read_user(s->tmp, 16, (void *)(raw + stride * j)))
			break;
		base = s->compat ? *(__u32 *)s->tmp : *(__u64 *)s->tmp;
		n = s->compat ? *(__u32 *)(s->tmp + 4) : *(__u64 *)(s->tmp + 8);
		n = (n < left ? n : left) & ARG_MASK;
		if (bpf_probe_read_user(&s->msg.data[(off + total) & 0x3fff], n,
					(void *)base)) {
			s->msg.data_err[i] = DATA_FAULT;
			break;
		}
		total = (total + n) & ARG_MASK;
		left -= n;
	}
	s->msg.arg_val[i] = total;
	return total;
}

/* Reads a struct sockaddr_un at raw, as Tetragon does: its family in slot
 * i's value and its name in the event at data offset off: a path name up
 * to its NUL, or the UNIX_ABSTRACT_LEN bytes after an abstract name's
 * leading NUL (they may hold NULs), marked by SOCKADDR_UN_ABSTRACT in the
 * value. Returns the bytes put in data. */
static __always_inline __u32 read_sockaddr_un(struct gscratch *s,
					      struct hook_config *cfg, __u32 i,
					      __u32 off, __u64 raw)
{
	bool kernel = cfg->kernel_mem & (1 << i);
	__u16 family = 0;
	char first = 0;
	long n;

	if (read_buf(&family, sizeof(family), (void *)raw, kernel) < 0 ||
	    read_buf(&first, 1, (void *)(raw + 2), kernel) < 0)
		return 0;
	s->msg.arg_val[i & SLOT_MASK] = family;
	if (first) {
		if (kernel)
			n = bpf_probe_read_kernel_str(&s->msg.data[off],
						      UNIX_PATH_LEN,
						      (void *)(raw + 2));
		else
			n = bpf_probe_read_user_str(&s->msg.data[off],
						    UNIX_PATH_LEN,
						    (void *)(raw + 2));
		return n > 0 ? (n - 1) & ARG_MASK : 0;
	}
	if (read_buf(&s->msg.data[off], UNIX_ABSTRACT_LEN, (void *)(raw + 3),
		     kernel) < 0)
		return 0;
	s->msg.arg_val[i & SLOT_MASK] = family | SOCKADDR_UN_ABSTRACT;
	return UNIX_ABSTRACT_LEN;
}

/* Reads argument slot i into the event at data offset off; returns the
 * bytes it put in data. Global functions are verified once, not once per
 * call site, which keeps the loops that call them within budget. */
__noinline int read_arg(__u32 hook_id, __u32 i, __u32 off)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gscratch *s = scratch();
	struct path dp = {};
	const struct path *p;
	__u64 raw;
	long n;

	if (!cfg || !s)
		return 0;
	off &= 0x3fff;
	if (i >= MAX_ARGS)
		return 0;
	raw = s->raw[cfg->arg_index[i] & 7];
	if (cfg->arg_index[i] == RAW_CONST)
		raw = cfg->arg_const;
	if (cfg->from_task & (1 << i))
		raw = (__u64)task;
	if (cfg->n_resolve[i])
		raw = resolve(cfg, i, raw);
	if (cfg->arg_obj[i] == OBJ_IOV_ITER)
		raw = iov_iter_buf(s, i, raw);
	raw = arg_object(cfg->arg_obj[i], raw);
	switch (cfg->arg_type[i]) {
	case ARG_INT:
	case ARG_UINT:
	case ARG_S8:
	case ARG_U8:
	case ARG_S16:
	case ARG_U16:
	case ARG_S64:
	case ARG_U64:
		s->msg.arg_val[i] = int_of(cfg->arg_type[i], raw);
		return 0;
	case ARG_STRING:
		if (cfg->kernel_mem & (1 << i))
			n = bpf_probe_read_kernel_str(
			    &s->msg.data[off], ARG_DATA_LEN, (void *)raw);
		else
			n = bpf_probe_read_user_str(&s->msg.data[off],
						    ARG_DATA_LEN, (void *)raw);
		return n > 0 ? (n - 1) & ARG_MASK : 0;
	case ARG_FD:
		s->msg.arg_val[i] = (__s32)raw;
		/* fall through */
	case ARG_FILE:
	case ARG_PATH:
	case ARG_BPRM:
		if (cfg->arg_obj[i] == OBJ_DENTRY) {
			/* no mount: the walk stops at the dentry's file
			 * system's root, as Tetragon's does */
			dp.dentry = (struct dentry *)raw;
			p = raw ? &dp : NULL;
		} else {
			p = file_path_of(s, cfg->arg_type[i], raw, task);
		}
		return put_obj_path(s, i, off, p, task, p != &dp);
	case ARG_SOCKADDR:
		/* a kernel function's (security_socket_connect) is the copy
		 * move_addr_to_kernel made */
		if (cfg->kernel_mem & (1 << i))
			n = bpf_probe_read_kernel(&s->msg.data[off], 28,
						  (void *)raw);
		else
			n = bpf_probe_read_user(&s->msg.data[off], 28,
						(void *)raw);
		return n ? 0 : 28;
	case ARG_SOCK:
		s->obj[i & SLOT_MASK] = raw; /* for TrackSock and UntrackSock */
		sock_owned(s, raw);
		return put_sock(s, off, (struct sock *)raw);
	case ARG_CRED:
		return put_cred(s, off, (const struct cred *)raw);
	case ARG_SKB:
		return put_skb(s, off, (struct sk_buff *)raw);
	case ARG_USER_NS:
		return put_user_ns(s, off, (struct user_namespace *)raw);
	case ARG_BPF_ATTR:
	case ARG_BPF_PROG:
		return put_bpf_prog(s, off, cfg->arg_type[i], raw);
	case ARG_BPF_MAP:
		return put_bpf_map(s, off, (struct bpf_map *)raw);
	case ARG_PERF_EVENT:
		return put_perf_event(s, off, (struct perf_event *)raw);
	case ARG_MODULE:
	case ARG_LOAD_INFO:
		return put_module(s, off, cfg->arg_type[i], raw);
	case ARG_SOCKADDR_UN:
		return read_sockaddr_un(s, cfg, i, off, raw);
	case ARG_CHAR_BUF:
		return read_char_buf(s, cfg, i, off, raw);
	case ARG_CHAR_IOVEC:
		return read_char_iovec(s, cfg, i, off, raw);
	}
	return 0;
}

/* The return value as the hook's function returns it: a 32-bit int
 * (AT_EXIT_INT) is sign-extended from the 64-bit register. */
static __always_inline void read_ret(struct gscratch *s,
				     struct hook_config *cfg)
{
	if (cfg->at_exit == AT_EXIT_INT)
		s->ret = (__s32)s->ret;
}

/* Reads the hook's argument slots of the mask (bit i: slot i) into the
 * event, back to back; the others are left empty. A slot's integer value
 * starts at 0: strings and objects set none, and the rate limit hashes
 * them all; no slot has data records until read_char_buf says so. */
static __always_inline void read_args(struct gscratch *s,
				      struct hook_config *cfg, __u8 mask)
{
	__u32 off = 0;

	s->data_kmem = 0;
	s->owned = 0;
	for (int i = 0; i < MAX_ARGS; i++) {
		__u32 len = 0;

		s->arg_off[i] = off;
		s->obj[i] = 0;
		s->msg.arg_val[i] = 0;
		s->msg.data_err[i] = DATA_OK;
		s->msg.data_len[i] = 0;
		s->data_want[i] = 0;
		if (i < cfg->n_args && (mask & (1 << i)))
			len = read_arg(cfg->hook_id, i, off) & ARG_MASK;
		s->msg.arg_len[i] = len;
		off = (off + len) & 0x3fff;
	}
}

#endif
