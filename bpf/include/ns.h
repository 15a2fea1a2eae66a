/* SPDX-License-Identifier: GPL-2.0 */
/* A task's namespaces, as inode numbers indexed by enum ns_index (msg.h). */
#ifndef VIGIL_NS_H
#define VIGIL_NS_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

#include "msg.h"

static __always_inline void read_ns(struct task_struct *task, __u32 *ns)
{
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct pid_namespace *pidns;

	if (!nsp)
		return;
	ns[NS_UTS] = BPF_CORE_READ(nsp, uts_ns, ns.inum);
	ns[NS_IPC] = BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	ns[NS_MNT] = BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	ns[NS_PID_FOR_CHILDREN] =
	    BPF_CORE_READ(nsp, pid_ns_for_children, ns.inum);
	ns[NS_NET] = BPF_CORE_READ(nsp, net_ns, ns.inum);
	if (bpf_core_field_exists(nsp->time_ns)) {
		ns[NS_TIME] = BPF_CORE_READ(nsp, time_ns, ns.inum);
		ns[NS_TIME_FOR_CHILDREN] =
		    BPF_CORE_READ(nsp, time_ns_for_children, ns.inum);
	}
	ns[NS_CGROUP] = BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	ns[NS_USER] = BPF_CORE_READ(task, cred, user_ns, ns.inum);
	bpf_core_read(&pidns, sizeof(pidns), &pid->numbers[level & 31].ns);
	ns[NS_PID] = BPF_CORE_READ(pidns, ns.inum);
}

/* The task's process id, in its own pid namespace when ns is set (a
 * container's pid). */
static __always_inline __u32 pid_of(struct task_struct *task, bool ns)
{
	struct pid *pid;
	unsigned int level;
	struct upid up;

	if (!ns)
		return BPF_CORE_READ(task, tgid);
	pid = BPF_CORE_READ(task, group_leader, thread_pid);
	level = BPF_CORE_READ(pid, level);
	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

#endif
