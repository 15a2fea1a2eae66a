/* SPDX-License-Identifier: GPL-2.0 */
/* Pod scope: which policies apply to the processes of which cgroup. The
 * kernel marks a pod's cgroups when they are created (the pod UID is in the
 * name of its cgroup, and its containers' cgroups are children of it), so a
 * new pod's first process is already in scope; user space says which
 * policies each pod, container and the host are in the scope of. */
#ifndef VIGIL_SCOPE_H
#define VIGIL_SCOPE_H

#include "maps.h"

#define SCOPE_POLICIES 1024 /* policy ids, as MAX_POLICIES */
#define SCOPE_WORDS (SCOPE_POLICIES / 64)
#define SCOPE_CGROUPS 8192
#define SCOPE_PODS 4096
#define POD_UID_LEN 36
#define SCOPE_NAME_LEN 128

/* A cgroup: its kernfs id and its hierarchy (0 for cgroup v2). */
struct scope_key {
	__u64 id;
	__u32 hierarchy;
	__u32 pad;
};

/* Bit n: policy id n applies. */
struct scope_mask {
	__u64 bits[SCOPE_WORDS];
};

struct pod_key {
	char uid[POD_UID_LEN]; /* with '-' separators */
};

/* A cgroup of a pod: its pod, its name (a container's cgroup is named
 * after the container id) and the policies its processes are in scope of. */
struct cgroup_scope {
	struct scope_mask mask;
	struct pod_key pod;
	__u32 pad;
	char name[SCOPE_NAME_LEN];
};

/* The cgroups of pods; a cgroup not in it holds host processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCOPE_CGROUPS);
	__type(key, struct scope_key);
	__type(value, struct cgroup_scope);
} cgroup_scopes SEC(".maps");

/* Pod UID -> the policies that apply to all its containers: a new cgroup of
 * the pod starts with these. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCOPE_PODS);
	__type(key, struct pod_key);
	__type(value, struct scope_mask);
} pod_scopes SEC(".maps");

/* The policies that apply to host processes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scope_mask);
} host_scope SEC(".maps");

/* The task's cgroup: its cgroup v2 leaf, or its memory controller's v1
 * cgroup when it sits at the v2 root (v1 or hybrid hosts). */
static __always_inline struct cgroup *task_cgroup(struct task_struct *task)
{
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	struct cgroup *cg = BPF_CORE_READ(cset, dfl_cgrp);
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css;

	if (BPF_CORE_READ(cg, level) != 0)
		return cg;
	bpf_core_read(&css, sizeof(css), &cset->subsys[id & 15]);
	return css ? BPF_CORE_READ(css, cgroup) : cg;
}

static __always_inline void scope_key_of(struct cgroup *cg, struct scope_key *k)
{
	k->id = BPF_CORE_READ(cg, kn, id);
	k->hierarchy = BPF_CORE_READ(cg, root, hierarchy_id);
	k->pad = 0;
}

/* Whether policy applies to the current task. */
static __always_inline bool in_scope(struct task_struct *task, __u32 policy)
{
	struct scope_key k;
	struct cgroup_scope *c;
	struct scope_mask *m;
	__u32 zero = 0;

	scope_key_of(task_cgroup(task), &k);
	c = bpf_map_lookup_elem(&cgroup_scopes, &k);
	m = c ? &c->mask : bpf_map_lookup_elem(&host_scope, &zero);
	if (!m)
		return false;
	return (m->bits[(policy / 64) & (SCOPE_WORDS - 1)] >> (policy % 64)) &
	       1;
}

#endif
