/* SPDX-License-Identifier: GPL-2.0 */
/* Socket tracking (TrackSock, UntrackSock, returnArgAction): a socket a
 * hook tracked belongs to the process that tracked it, and the events of
 * every hook that reads it as a sock or socket argument are that process's,
 * whichever process the kernel ran them in (a connection accepted in
 * softirq, a socket handed to a child), as in Tetragon. */
#ifndef VIGIL_SOCKTRACK_H
#define VIGIL_SOCKTRACK_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "hook.h"
#include "msg.h"
#include "process.h"

/* Tracked sockets by struct sock address. LRU: a socket freed without an
 * UntrackSock makes room for new ones instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct sock_owner);
} socktrack SEC(".maps");

/* Tracks (the current process owns it) or untracks socket sk. The owner
 * is put together in the scratch: the stack of the programs that get here
 * is near the verifier's limit on older kernels. */
static __always_inline void track_sock(struct gscratch *s, __u64 sk, __u8 act)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (!sk)
		return;
	if (act == SOCK_UNTRACK) {
		bpf_map_delete_elem(&socktrack, &sk);
		return;
	}
	if (act != SOCK_TRACK)
		return;
	s->tracked.tid = (__u32)bpf_get_current_pid_tgid();
	ident_of(task, &s->tracked.ident);
	ident_of(BPF_CORE_READ(task, real_parent), &s->tracked.parent);
	bpf_map_update_elem(&socktrack, &sk, &s->tracked, BPF_ANY);
}

/* Makes the event being read its owner's where socket sk is tracked. */
static __always_inline void sock_owned(struct gscratch *s, __u64 sk)
{
	struct sock_owner *o = sk ? bpf_map_lookup_elem(&socktrack, &sk) : NULL;

	if (!o)
		return;
	s->owner = *o;
	s->owned = 1;
}

#endif
