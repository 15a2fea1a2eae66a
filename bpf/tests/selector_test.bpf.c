// SPDX-License-Identifier: GPL-2.0
/* A test program for the generic hook's selector code, built from the
 * same headers as the hook programs. User space puts a hook config and
 * its value sets in the maps, and a case (the arguments as a backend
 * would leave them, or as read_arg would have read them) in sel_cases,
 * then runs this program with BPF_PROG_TEST_RUN: it checks the hook's
 * prefilter, reads the arguments, evaluates the selectors and leaves the
 * outcome in sel_results
 * (pkg/tracing/selector_test.go). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "args.h"
#include "generic.h"
#include "hook.h"
#include "selector.h"

char LICENSE[] SEC("license") = "GPL";

#define CASE_DATA_LEN 256

/* One case: the hook to evaluate and its arguments. */
struct sel_case {
	__u32 hook_id;
	__u32 given;  /* bit i: slot i's bytes are data[i], not read_arg's */
	__u64 raw[8]; /* the raw argument values, as a backend leaves them */
	__s64 ret;    /* the return value, for hooks at exit */
	__u8 at_exit;
	__u8 pad[7];
	__u16 len[MAX_ARGS]; /* bytes of data[i] in a given slot */
	__u16 pad2[3];
	__u8 data[MAX_ARGS][CASE_DATA_LEN];
};

/* What the selectors made of a case, and how long that took. */
struct sel_result {
	__s32 selector;		 /* the first selector that holds, or -1 */
	__u32 failed;		 /* bit i: selector i had a false condition */
	__u64 read_ns;		 /* reading the arguments */
	__u64 select_ns;	 /* evaluating the selectors */
	__s64 arg_val[MAX_ARGS]; /* the arguments as the selectors saw them */
	__u16 arg_len[MAX_ARGS];
	__u16 pad[3];
	__u32 quick; /* the hook's prefilter let the case through */
	__u32 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sel_case);
} sel_cases SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sel_result);
} sel_results SEC(".maps");

/* Puts given slot i's bytes at data[off]; returns their length. */
static __always_inline __u32 put_given(struct gscratch *s, __u32 off,
				       struct sel_case *c, int i)
{
	__u32 len = c->len[i & 7] & (CASE_DATA_LEN - 1);

	bpf_probe_read_kernel(&s->msg.data[off & 0x3fff], len, c->data[i & 7]);
	return len;
}

/* read_args (args.h), but a given slot's bytes are the case's. */
static __always_inline void
read_case(struct gscratch *s, struct hook_config *cfg, struct sel_case *c)
{
	__u32 off = 0;

	for (int i = 0; i < MAX_ARGS; i++) {
		__u32 len = 0;

		s->arg_off[i] = off;
		s->msg.arg_val[i] = 0;
		if (i < cfg->n_args && (c->given & (1 << i)))
			len = put_given(s, off, c, i);
		else if (i < cfg->n_args)
			len = read_arg(cfg->hook_id, i, off) & ARG_MASK;
		s->msg.arg_len[i] = len;
		off = (off + len) & 0x3fff;
	}
}

SEC("raw_tp")
int selector_test(void *ctx)
{
	__u32 zero = 0;
	struct sel_case *c = bpf_map_lookup_elem(&sel_cases, &zero);
	struct sel_result *r = bpf_map_lookup_elem(&sel_results, &zero);
	struct gscratch *s = scratch();
	struct hook_config *cfg;
	__u64 t0, t1;

	if (!c || !r || !s)
		return 0;
	cfg = bpf_map_lookup_elem(&hook_configs, &c->hook_id);
	if (!cfg)
		return 0;
	__builtin_memcpy(s->raw, c->raw, sizeof(s->raw));
	s->at_exit = c->at_exit;
	s->ret = c->ret;
	r->quick = quick_pass(c->hook_id);
	t0 = bpf_ktime_get_ns();
	read_ret(s, cfg);
	read_case(s, cfg, c);
	t1 = bpf_ktime_get_ns();
	r->selector = select(s, cfg, PHASE_ALL, 0);
	r->select_ns = bpf_ktime_get_ns() - t1;
	r->read_ns = t1 - t0;
	r->failed = s->failed;
	__builtin_memcpy(r->arg_val, s->msg.arg_val, sizeof(r->arg_val));
	__builtin_memcpy(r->arg_len, s->msg.arg_len, sizeof(r->arg_len));
	return 1;
}
