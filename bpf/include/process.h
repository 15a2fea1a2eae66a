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
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROC_MAP_ENTRIES);
	__type(key, __u32);
	__type(value, struct proc_entry);
} procs SEC(".maps");

#endif
