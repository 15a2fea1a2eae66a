/* SPDX-License-Identifier: GPL-2.0 */
/* Reading a struct cred: the process records (process.bpf.c), the cred
 * arguments of hooks (args.h) and the capability selectors (selector.h)
 * read it the same way. */
#ifndef VIGIL_CRED_H
#define VIGIL_CRED_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

#include "msg.h"

/* Fills dst's uid, gid, euid, egid, suid, sgid, fsuid and fsgid and its
 * cap_permitted, cap_effective and cap_inheritable from struct cred c:
 * dst is a struct msg_process or a struct cred_info, which name these
 * fields alike. kernel_cap_t is 64 bits in every layout the kernel has
 * used. */
#define READ_CRED(dst, c)                                                      \
	do {                                                                   \
		(dst)->uid = BPF_CORE_READ(c, uid.val);                        \
		(dst)->gid = BPF_CORE_READ(c, gid.val);                        \
		(dst)->euid = BPF_CORE_READ(c, euid.val);                      \
		(dst)->egid = BPF_CORE_READ(c, egid.val);                      \
		(dst)->suid = BPF_CORE_READ(c, suid.val);                      \
		(dst)->sgid = BPF_CORE_READ(c, sgid.val);                      \
		(dst)->fsuid = BPF_CORE_READ(c, fsuid.val);                    \
		(dst)->fsgid = BPF_CORE_READ(c, fsgid.val);                    \
		bpf_probe_read_kernel(&(dst)->cap_permitted, 8,                \
				      &(c)->cap_permitted);                    \
		bpf_probe_read_kernel(&(dst)->cap_effective, 8,                \
				      &(c)->cap_effective);                    \
		bpf_probe_read_kernel(&(dst)->cap_inheritable, 8,              \
				      &(c)->cap_inheritable);                  \
	} while (0)

/* The capability set which (enum cap_set) of struct cred c. */
static __always_inline __u64 cred_caps(const struct cred *c, __s64 which)
{
	const void *set = &c->cap_effective;
	__u64 caps = 0;

	if (which == CAP_SET_INHERITABLE)
		set = &c->cap_inheritable;
	else if (which == CAP_SET_PERMITTED)
		set = &c->cap_permitted;
	bpf_probe_read_kernel(&caps, sizeof(caps), set);
	return caps;
}

#endif
