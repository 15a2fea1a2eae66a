/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel-side path resolution: walks dentries and mounts up to the task's
 * root, the way d_path does, without bpf_d_path (which tracepoints lack). */
#ifndef VIGIL_PATH_H
#define VIGIL_PATH_H

#include "msg.h"

#define PATH_MAX_DEPTH 64

/* The walk keeps its state here, in map memory, rather than in registers:
 * the verifier then sees the same state on every iteration and can prune,
 * which keeps the loop within its instruction budget on 5.10. */
struct path_buf {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__s32 off;
	__u32 trunc;
	/* a full path plus the overshoot of one masked name write */
	char buf[PATH_LEN + 1 + NAME_MASK + 1];
};

static __always_inline struct mount *real_mount(struct vfsmount *mnt)
{
	return (struct mount *)((void *)mnt -
				bpf_core_field_offset(struct mount, mnt));
}

/* At a root: files of internal mounts (memfd, anonymous inodes) have no
 * path, only their dentry's name, which d_path shows after a '/'. */
static __always_inline int pseudo_name(struct path_buf *pb,
				       struct dentry *dentry)
{
	struct qstr name;
	__u32 len;

	if (pb->off != PATH_LEN)
		return 1;
	bpf_core_read(&name, sizeof(name), &dentry->d_name);
	len = name.len & NAME_MASK;
	if (len == 1)
		return 1; /* "/" */
	pb->off = PATH_LEN - len - 1;
	pb->buf[pb->off & PATH_MASK] = '/';
	bpf_probe_read_kernel(&pb->buf[PATH_LEN - len], len, name.name);
	return 1;
}

/* One step of the walk: returns 1 when the walk is over. */
static __always_inline int path_step(struct path_buf *pb)
{
	struct dentry *dentry = pb->dentry, *parent, *mnt_root;
	struct vfsmount *vfsmnt = pb->vfsmnt;
	struct mount *mnt = real_mount(vfsmnt), *mnt_parent;
	struct qstr name;
	__s32 off = pb->off;
	__u32 len;

	if (dentry == pb->root_dentry && vfsmnt == pb->root_mnt)
		return 1;
	mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root || dentry == parent) {
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		/* outside the task's root, or at the namespace's root */
		if (dentry != mnt_root || mnt_parent == mnt)
			return pseudo_name(pb, dentry);
		pb->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		pb->vfsmnt = &mnt_parent->mnt;
		return 0;
	}
	bpf_core_read(&name, sizeof(name), &dentry->d_name);
	len = name.len & NAME_MASK;
	if ((__s32)len + 1 > off) {
		pb->trunc = 1;
		return 1;
	}
	off -= len + 1;
	pb->buf[off & PATH_MASK] = '/';
	bpf_probe_read_kernel(&pb->buf[(off + 1) & PATH_MASK], len, name.name);
	pb->off = off;
	pb->dentry = parent;
	return 0;
}

/* Resolves path relative to root into pb. The path ends at PATH_LEN and
 * starts at the returned offset; pb->trunc says whether components were
 * dropped. */
static __always_inline __s32 resolve_path(struct path_buf *pb,
					  const struct path *path,
					  const struct path *root)
{
	int i;

	pb->dentry = BPF_CORE_READ(path, dentry);
	pb->vfsmnt = BPF_CORE_READ(path, mnt);
	pb->root_dentry = BPF_CORE_READ(root, dentry);
	pb->root_mnt = BPF_CORE_READ(root, mnt);
	pb->off = PATH_LEN;
	pb->trunc = 0;
	for (i = 0; i < PATH_MAX_DEPTH; i++) {
		if (path_step(pb))
			break;
	}
	if (i == PATH_MAX_DEPTH)
		pb->trunc = 1;
	if (pb->off == PATH_LEN) {
		pb->off = PATH_LEN - 1;
		pb->buf[PATH_LEN - 1] = '/';
	}
	return pb->off;
}

#endif
