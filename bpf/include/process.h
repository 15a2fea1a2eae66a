/* SPDX-License-Identifier: GPL-2.0 */
/* The in-kernel process map: tgid -> exec identity of the running image and
 * of its parent, so that every hook can name a process and its parent without
 * asking user space. */
#ifndef VIGIL_PROCESS_H
#define VIGIL_PROCESS_H

#include "msg.h"

#define PROC_MAP_ENTRIES 65536

struct proc_entry {
	struct exec_ident ident;
	struct exec_ident parent;
	__u32 flags;
	__u32 pad;
	/* at exec, for matchNamespaceChanges and matchCapabilityChanges */
	__u32 ns[NS_MAX];
	__u64 caps[3]; /* indexed by enum cap_set (generic.h) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROC_MAP_ENTRIES);
	__type(key, __u32);
	__type(value, struct proc_entry);
} procs SEC(".maps");

static __always_inline void leader_ident(struct task_struct *task,
					 struct exec_ident *id)
{
	id->pid = BPF_CORE_READ(task, tgid);
	id->ktime = BPF_CORE_READ(task, group_leader, start_time);
}

/* The exec identity of tgid from the process map, or one derived from the
 * task's start time when the map does not know it. */
static __always_inline void ident_of(struct task_struct *task,
				     struct exec_ident *id)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct proc_entry *e = bpf_map_lookup_elem(&procs, &tgid);

	if (e)
		*id = e->ident;
	else
		leader_ident(task, id);
}

#endif
