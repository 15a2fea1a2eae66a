/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel-side path resolution: walks dentries and mounts up to the task's
 * root, the way d_path does, without bpf_d_path (which tracepoints lack). */
#ifndef VIGIL_PATH_H
#define VIGIL_PATH_H

#include "msg.h"

#define PATH_MAX_DEPTH 64

/* The walk keeps its state here, in map memory, rather than in registers
 * or on the stack: the verifier then sees the same state on every
 * iteration and can prune, which keeps the loop within its instruction
 * budget on 5.10, and walk_path's frame stays small enough for the
 * deepest call chains (512 bytes in all on 5.10 and 6.1). */
struct path_buf {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	struct dentry *parent;	  /* the step's: dentry's parent */
	struct dentry *mnt_root;  /* vfsmnt's root */
	struct mount *mnt_parent; /* vfsmnt's parent mount */
	struct qstr name;	  /* dentry's name */
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
	__u32 len;

	if (pb->off != PATH_LEN)
		return 1;
	bpf_core_read(&pb->name, sizeof(pb->name), &dentry->d_name);
	len = pb->name.len & NAME_MASK;
	if (len == 1)
		return 1; /* "/" */
	pb->off = PATH_LEN - len - 1;
	pb->buf[pb->off & PATH_MASK] = '/';
	bpf_probe_read_kernel(&pb->buf[PATH_LEN - len], len, pb->name.name);
	return 1;
}

/* One step of the walk: returns 1 when the walk is over. */
static __always_inline int path_step(struct path_buf *pb)
{
	struct dentry *dentry = pb->dentry;
	struct vfsmount *vfsmnt = pb->vfsmnt;
	struct mount *mnt = real_mount(vfsmnt);
	__s32 off = pb->off;
	__u32 len;

	if (dentry == pb->root_dentry && vfsmnt == pb->root_mnt)
		return 1;
	bpf_core_read(&pb->mnt_root, sizeof(pb->mnt_root), &vfsmnt->mnt_root);
	bpf_core_read(&pb->parent, sizeof(pb->parent), &dentry->d_parent);
	if (dentry == pb->mnt_root || dentry == pb->parent) {
		bpf_core_read(&pb->mnt_parent, sizeof(pb->mnt_parent),
			      &mnt->mnt_parent);
		/* outside the task's root, or at the namespace's root */
		if (dentry != pb->mnt_root || pb->mnt_parent == mnt)
			return pseudo_name(pb, dentry);
		bpf_core_read(&pb->dentry, sizeof(pb->dentry),
			      &mnt->mnt_mountpoint);
		mnt = pb->mnt_parent;
		pb->vfsmnt = &mnt->mnt;
		return 0;
	}
	bpf_core_read(&pb->name, sizeof(pb->name), &dentry->d_name);
	len = pb->name.len & NAME_MASK;
	if ((__s32)len + 1 > off) {
		pb->trunc = 1;
		return 1;
	}
	off -= len + 1;
	pb->buf[off & PATH_MASK] = '/';
	bpf_probe_read_kernel(&pb->buf[(off + 1) & PATH_MASK], len,
			      pb->name.name);
	pb->off = off;
	pb->dentry = pb->parent;
	return 0;
}

/* The path_buf of a walk, by slot: each object that includes this file
 * defines it over its own scratch map. */
static __always_inline struct path_buf *walk_buf(__u32 slot);

/* Walks slot's path_buf up to its root. Global, so that the walk is
 * verified once, not at each resolution a program makes. */
__noinline int walk_path(__u32 slot)
{
	struct path_buf *pb = walk_buf(slot);

	if (!pb)
		return 0;
	for (int i = 0; i < PATH_MAX_DEPTH; i++) {
		/* no address in pb hoisted out of the loop: they would
		 * be spilled, and the frame would grow */
		barrier_var(pb);
		if (path_step(pb))
			return 0;
	}
	pb->trunc = 1;
	return 0;
}

/* Resolves path relative to root into pb, slot's path_buf. The path ends
 * at PATH_LEN and starts at the returned offset; pb->trunc says whether
 * components were dropped. */
static __always_inline __s32 resolve_path(struct path_buf *pb, __u32 slot,
					  const struct path *path,
					  const struct path *root)
{
	pb->dentry = BPF_CORE_READ(path, dentry);
	pb->vfsmnt = BPF_CORE_READ(path, mnt);
	pb->root_dentry = BPF_CORE_READ(root, dentry);
	pb->root_mnt = BPF_CORE_READ(root, mnt);
	pb->off = PATH_LEN;
	pb->trunc = 0;
	walk_path(slot);
	if (pb->off == PATH_LEN) {
		pb->off = PATH_LEN - 1;
		pb->buf[PATH_LEN - 1] = '/';
	}
	return pb->off;
}

#endif
