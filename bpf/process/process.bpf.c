// SPDX-License-Identifier: GPL-2.0
/* Process lifecycle: exec, fork and exit from BTF tracepoints, and a task
 * iterator that snapshots the processes already running at start. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "cred.h"
#include "maps.h"
#include "msg.h"
#include "ns.h"
#include "path.h"
#include "process.h"
#include "scope.h"

#define PF_KTHREAD 0x00200000

char LICENSE[] SEC("license") = "GPL";

struct scratch {
	struct msg_exec msg;
	struct path_buf path;
};

enum scratch_slot {
	SLOT_TRACEPOINT,
	SLOT_ITERATOR,
	SLOT_MAX,
};

/* Per-CPU work space; the iterator has its own slot because it can be
 * preempted by a tracepoint on the same CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Record types only sent through the ring buffer; kept in BTF so that user
 * space can check its mirrors. */
struct msg_clone *unused_msg_clone __attribute__((unused));
struct msg_exit *unused_msg_exit __attribute__((unused));

/* The enums of msg.h that pkg/tracing mirrors, in BTF for its test. */
struct msg_enums {
	enum msg_op msg_op;
	enum proc_flag proc_flag;
	enum counter counter;
	enum ns_index ns_index;
	enum cap_set cap_set;
	enum exec_priv exec_priv;
};
struct msg_enums *unused_msg_enums __attribute__((unused));

static __always_inline void put_entry(__u32 tgid, struct proc_entry *e,
				      __u64 flags)
{
	if (bpf_map_update_elem(&procs, &tgid, e, flags) && flags == BPF_ANY)
		count(COUNTER_PROCMAP_FULL);
}

/* Keeps what the process had at exec: its namespaces and capabilities. */
static __always_inline void keep_exec_state(struct proc_entry *e,
					    struct msg_process *p)
{
	__builtin_memcpy(e->ns, p->ns, sizeof(e->ns));
	e->caps[CAP_SET_EFFECTIVE] = p->cap_effective;
	e->caps[CAP_SET_INHERITABLE] = p->cap_inheritable;
	e->caps[CAP_SET_PERMITTED] = p->cap_permitted;
}

/* A forked process compares with its parent's exec; with what it has now
 * when the parent is not known yet (it forked while the agent started,
 * before the snapshot reached the parent), as the snapshot does: an empty
 * state would make every capability and namespace look changed. */
static __always_inline void inherit_exec_state(struct proc_entry *e,
					       struct task_struct *child,
					       __u32 parent_tgid)
{
	struct proc_entry *p = bpf_map_lookup_elem(&procs, &parent_tgid);
	const struct cred *cred;

	if (p) {
		__builtin_memcpy(e->ns, p->ns, sizeof(e->ns));
		__builtin_memcpy(e->caps, p->caps, sizeof(e->caps));
		return;
	}
	cred = BPF_CORE_READ(child, cred);
	e->caps[CAP_SET_EFFECTIVE] = cred_caps(cred, CAP_SET_EFFECTIVE);
	e->caps[CAP_SET_INHERITABLE] = cred_caps(cred, CAP_SET_INHERITABLE);
	e->caps[CAP_SET_PERMITTED] = cred_caps(cred, CAP_SET_PERMITTED);
	read_ns(child, e->ns);
}

static __always_inline void fill_process(struct msg_process *p,
					 struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);

	p->tid = BPF_CORE_READ(task, pid);
	READ_CRED(p, cred);
	p->auid = (__u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		p->auid = BPF_CORE_READ(task, loginuid.val);
	read_ns(task, p->ns);
	p->nspid = pid_of(task, true);
}

/* The binary's inode and links; no privilege change known. */
static __always_inline void binary_of(struct msg_process *p, struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);

	p->ino = BPF_CORE_READ(inode, i_ino);
	p->nlink = BPF_CORE_READ(inode, __i_nlink);
	p->exec_priv = 0;
}

/* How the exec of bprm raised privileges, from the credentials it gave p
 * (committed by now): a privileged exec clears personality flags
 * (per_clear); then an effective id that differs from the real one came
 * from the set-user-ID or set-group-ID bit, and permitted capabilities
 * gained over the process's before (had) from file capabilities. */
static __always_inline void exec_privileges(struct msg_process *p,
					    struct linux_binprm *bprm,
					    __u64 had, bool known)
{
	if (!BPF_CORE_READ(bprm, per_clear))
		return;
	if (p->euid != p->uid) {
		p->exec_priv |= EXEC_SETUID;
		if (p->uid != 0 && p->euid == 0)
			p->exec_priv |= EXEC_SETUID_ROOT;
	}
	if (p->egid != p->gid) {
		p->exec_priv |= EXEC_SETGID;
		if (p->gid != 0 && p->egid == 0)
			p->exec_priv |= EXEC_SETGID_ROOT;
	}
	if (known && p->euid == p->uid && (p->cap_permitted & ~had))
		p->exec_priv |= EXEC_FILE_CAPS;
}

static __always_inline struct scratch *scratch_slot(__u32 slot)
{
	return bpf_map_lookup_elem(&scratch, &slot);
}

static __always_inline struct path_buf *walk_buf(__u32 slot)
{
	struct scratch *s = scratch_slot(slot);

	return s ? &s->path : NULL;
}

/* Resolves path into data at pos; returns its length. */
static __always_inline __u32 put_path(struct scratch *s, __u32 slot, __u32 pos,
				      const struct path *path,
				      const struct path *root, __u32 trunc_flag)
{
	__s32 off = resolve_path(&s->path, slot, path, root);
	__u32 len = (PATH_LEN - off) & PATH_MASK;

	if (s->path.trunc)
		s->msg.proc.flags |= trunc_flag;
	bpf_probe_read_kernel(&s->msg.data[pos], len,
			      &s->path.buf[off & PATH_MASK]);
	return len;
}

/* Copies the new image's argv area (NUL separated) into data at pos. */
static __always_inline __u32 put_args(struct scratch *s, __u32 pos,
				      struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end - start;

	if (end <= start)
		return 0;
	if (len > ARGS_LEN) {
		len = ARGS_LEN;
		s->msg.proc.flags |= PROC_TRUNC_ARGS;
	}
	len &= PATH_MASK;
	if (bpf_probe_read_user(&s->msg.data[pos], len, (void *)start)) {
		s->msg.proc.flags |= PROC_ERROR_ARGS;
		return 0;
	}
	return len;
}

/* Sets the cgroup id and puts the cgroup's name into data at pos. */
static __always_inline __u32 put_cgroup(struct scratch *s, __u32 pos,
					struct task_struct *task)
{
	struct cgroup *cg = task_cgroup(task);
	long n;

	s->msg.proc.cgroup_id = BPF_CORE_READ(cg, kn, id);
	n = bpf_probe_read_kernel_str(&s->msg.data[pos], CGROUP_NAME_LEN,
				      BPF_CORE_READ(cg, kn, name));
	return n > 0 ? (n - 1) & NAME_MASK : 0;
}

/* Fills binary, argv (when with_args), cwd and cgroup name; returns the
 * record size. */
static __always_inline __u32 put_strings(struct scratch *s, __u32 slot,
					 struct task_struct *task,
					 struct file *exe, bool with_args)
{
	struct msg_process *p = &s->msg.proc;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 b = 0, a = 0, c = 0, g;

	if (exe && fs)
		b = put_path(s, slot, 0, &exe->f_path, &fs->root,
			     PROC_TRUNC_BINARY) &
		    PATH_MASK;
	if (with_args)
		a = put_args(s, b, task) & PATH_MASK;
	if (fs)
		c = put_path(s, slot, b + a, &fs->pwd, &fs->root,
			     PROC_TRUNC_CWD) &
		    PATH_MASK;
	else
		p->flags |= PROC_NO_CWD;
	g = put_cgroup(s, b + a + c, task);
	p->binary_len = b;
	p->args_len = a;
	p->cwd_len = c;
	p->cgroup_len = g;
	return offsetof(struct msg_exec, data) + b + a + c + g;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct scratch *s = scratch_slot(SLOT_TRACEPOINT);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct file *file = BPF_CORE_READ(bprm, file);
	struct proc_entry e = {}, *old;
	__u32 size, clone = 0;
	__u64 had = 0;

	if (!s)
		return 0;
	e.ident.pid = tgid;
	e.ident.ktime = bpf_ktime_get_ns();
	e.flags = PROC_EXECVE;
	old = bpf_map_lookup_elem(&procs, &tgid);
	if (old) {
		e.parent = old->parent;
		clone = old->flags & PROC_CLONE;
		had = old->caps[CAP_SET_PERMITTED];
	} else {
		ident_of(BPF_CORE_READ(task, real_parent), &e.parent);
	}
	s->msg.hdr.op = MSG_OP_EXEC;
	s->msg.hdr.ktime = e.ident.ktime;
	s->msg.proc.ident = e.ident;
	s->msg.proc.parent = e.parent;
	s->msg.proc.flags = e.flags | clone;
	fill_process(&s->msg.proc, task);
	binary_of(&s->msg.proc, file);
	exec_privileges(&s->msg.proc, bprm, had, old != NULL);
	keep_exec_state(&e, &s->msg.proc);
	put_entry(tgid, &e, BPF_ANY);
	size = put_strings(s, SLOT_TRACEPOINT, task, file, true);
	s->msg.hdr.size = size;
	output(&s->msg, size);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	struct msg_clone m = {};
	struct proc_entry e = {};

	if (BPF_CORE_READ(child, pid) != tgid)
		return 0; /* a new thread, not a new process */
	e.ident.pid = tgid;
	e.ident.ktime = bpf_ktime_get_ns();
	e.flags = PROC_CLONE;
	ident_of(parent, &e.parent);
	inherit_exec_state(&e, child, BPF_CORE_READ(parent, tgid));
	put_entry(tgid, &e, BPF_ANY);

	m.hdr.op = MSG_OP_CLONE;
	m.hdr.size = sizeof(m);
	m.hdr.ktime = e.ident.ktime;
	m.ident = e.ident;
	m.parent = e.parent;
	m.tid = tgid;
	output(&m, sizeof(m));
	return 0;
}

/* Processes whose exit was reported, by tgid and leader start time. */
struct exit_key {
	__u32 tgid;
	__u32 pad;
	__u64 start;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct exit_key);
	__type(value, __u8);
} exits SEC(".maps");

/* Several threads of a process can see its live count at 0: the first to
 * claim the exit reports it, whether or not the process map knows it. */
static __always_inline bool first_exit(struct task_struct *task, __u32 tgid)
{
	struct exit_key k = {.tgid = tgid,
			     .start =
				 BPF_CORE_READ(task, group_leader, start_time)};
	__u8 one = 1;

	return bpf_map_update_elem(&exits, &k, &one, BPF_NOEXIST) == 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct msg_exit m = {};
	struct proc_entry *e;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads of the process still run */
	if (!first_exit(task, tgid))
		return 0;
	e = bpf_map_lookup_elem(&procs, &tgid);
	if (e) {
		m.ident = e->ident;
		bpf_map_delete_elem(&procs, &tgid);
	} else {
		leader_ident(task, &m.ident);
	}
	m.hdr.op = MSG_OP_EXIT;
	m.hdr.size = sizeof(m);
	m.hdr.ktime = bpf_ktime_get_ns();
	m.tid = BPF_CORE_READ(task, pid);
	m.code = BPF_CORE_READ(task, exit_code);
	output(&m, sizeof(m));
	return 0;
}

/* Visits every process once at start; processes the map already knows from
 * an exec or fork were seen live by the tracepoints and are skipped. Records go
 * to the iterator's seq file, not the ring buffer, so a large snapshot cannot
 * cause loss. */
SEC("iter/task")
int snapshot(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct proc_entry e = {}, *old;
	struct scratch *s;
	__u32 tgid, size;

	if (!task)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	if (BPF_CORE_READ(task, pid) != tgid ||
	    BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;
	old = bpf_map_lookup_elem(&procs, &tgid);
	/* a snapshot entry is this iteration's own: the seq file may show an
	 * object again when its first record did not fit */
	if (old && !(old->flags & PROC_PROCFS))
		return 0;
	s = scratch_slot(SLOT_ITERATOR);
	if (!s)
		return 0;
	leader_ident(task, &e.ident);
	ident_of(BPF_CORE_READ(task, real_parent), &e.parent);
	e.flags = PROC_PROCFS;
	s->msg.hdr.op = MSG_OP_SNAPSHOT;
	s->msg.hdr.ktime = e.ident.ktime;
	s->msg.proc.ident = e.ident;
	s->msg.proc.parent = e.parent;
	s->msg.proc.flags = e.flags;
	fill_process(&s->msg.proc, task);
	binary_of(&s->msg.proc, BPF_CORE_READ(task, mm, exe_file));
	keep_exec_state(&e, &s->msg.proc);
	put_entry(tgid, &e, BPF_NOEXIST);
	size = put_strings(s, SLOT_ITERATOR, task,
			   BPF_CORE_READ(task, mm, exe_file), false);
	s->msg.hdr.size = size;
	bpf_seq_write(ctx->meta->seq, &s->msg, size);
	return 0;
}

/* Work space for a new cgroup's scope entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgroup_scope);
} scope_scratch SEC(".maps");

static __always_inline bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whether the new cgroup's name (in scope_scratch) holds a pod UID at
 * off; copies it into the entry's pod, with '-' separators (the systemd
 * cgroup driver writes them as '_'). Global, so that it is verified once,
 * not at each offset pod_uid tries. */
__noinline int uid_at(__u32 off)
{
	__u32 zero = 0;
	struct cgroup_scope *v = bpf_map_lookup_elem(&scope_scratch, &zero);

	if (!v)
		return 0;
	for (int j = 0; j < POD_UID_LEN; j++) {
		char c = v->name[(off + j) & (SCOPE_NAME_LEN - 1)];

		if (j == 8 || j == 13 || j == 18 || j == 23) {
			if (c != '-' && c != '_')
				return 0;
			c = '-';
		} else if (!is_hex(c)) {
			return 0;
		}
		v->pod.uid[j] = c;
	}
	return 1;
}

/* Finds "pod<UID>" in v's name, as the kubelet names a pod's cgroup with
 * either cgroup driver (kubepods-besteffort-pod<UID>.slice, pod<UID>). */
static __always_inline bool pod_uid(struct cgroup_scope *v)
{
	const char *name = v->name;

	for (int i = 0; i + 3 + POD_UID_LEN <= SCOPE_NAME_LEN; i++) {
		if (!name[i])
			return false;
		if (name[i] == 'p' && name[i + 1] == 'o' &&
		    name[i + 2] == 'd' && uid_at(i + 3))
			return true;
	}
	return false;
}

/* Whether processes are placed by this cgroup's hierarchy: cgroup v2, or
 * v1's memory controller (see task_cgroup). */
static __always_inline bool scoped_hierarchy(struct cgroup *cg)
{
	int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_root *root = BPF_CORE_READ(cg, root);

	return BPF_CORE_READ(root, hierarchy_id) == 0 ||
	       (BPF_CORE_READ(root, subsys_mask) & (1u << (mem & 31)));
}

/* A new cgroup of a pod (named after it, or below one) starts with the
 * policies that apply to the whole pod, before any process runs in it. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cg, const char *path)
{
	__u32 zero = 0;
	struct cgroup_scope *v = bpf_map_lookup_elem(&scope_scratch, &zero);
	struct cgroup_scope *parent;
	struct scope_key k;
	struct scope_mask *m;

	if (!v || !scoped_hierarchy(cg))
		return 0;
	__builtin_memset(v, 0, sizeof(*v));
	bpf_probe_read_kernel_str(v->name, sizeof(v->name),
				  BPF_CORE_READ(cg, kn, name));
	scope_key_of(BPF_CORE_READ(cg, self.parent, cgroup), &k);
	parent = bpf_map_lookup_elem(&cgroup_scopes, &k);
	if (parent)
		v->pod = parent->pod;
	else if (!pod_uid(v))
		return 0;
	m = bpf_map_lookup_elem(&pod_scopes, &v->pod);
	if (m)
		v->mask = *m;
	scope_key_of(cg, &k);
	if (bpf_map_update_elem(&cgroup_scopes, &k, v, BPF_ANY))
		count(COUNTER_SCOPE_FULL);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(on_cgroup_rmdir, struct cgroup *cg, const char *path)
{
	struct scope_key k;

	scope_key_of(cg, &k);
	bpf_map_delete_elem(&cgroup_scopes, &k);
	return 0;
}
