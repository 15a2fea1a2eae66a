// SPDX-License-Identifier: GPL-2.0
/* The generic hook program. It is compiled once; policies configure it
 * through maps (hooks per syscall, hook configs, value sets, policy modes),
 * so loading or replacing a policy never needs clang or a new program. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "args.h"
#include "data.h"
#include "generic.h"
#include "hook.h"
#include "maps.h"
#include "msg.h"
#include "process.h"
#include "scope.h"
#include "selector.h"

char LICENSE[] SEC("license") = "GPL";

/* in BTF for pkg/tracing's mirror test */
struct sock_info *unused_sock_info __attribute__((unused));
struct cred_info *unused_cred_info __attribute__((unused));
struct skb_info *unused_skb_info __attribute__((unused));
struct user_ns_arg *unused_user_ns_arg __attribute__((unused));
struct bpf_prog_arg *unused_bpf_prog_arg __attribute__((unused));
struct bpf_map_arg *unused_bpf_map_arg __attribute__((unused));
struct perf_event_arg *unused_perf_event_arg __attribute__((unused));
struct module_arg *unused_module_arg __attribute__((unused));
struct msg_data *unused_msg_data __attribute__((unused));

/* The enums pkg/tracing mirrors, in BTF for its test: a constant of an
 * enum leaves no trace there, a member of the enum's type does. */
struct generic_enums {
	enum arg_type arg_type;
	enum arg_obj arg_obj;
	enum tp_kind tp_kind;
	enum subject subject;
	enum bin_flag bin_flag;
	enum pid_flag pid_flag;
	enum rate_scope rate_scope;
	enum cond_op cond_op;
	enum at_exit at_exit;
	enum msg_part msg_part;
	enum policy_mode policy_mode;
	enum cap_set cap_set;
	enum data_err data_err;
	enum data_limit data_limit;
	enum stack_flag stack_flag;
	enum sock_act sock_act;
	enum usdt_kind usdt_kind;
};
struct generic_enums *unused_generic_enums __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSCALL_LISTS);
	__type(key, __u32);
	__type(value, struct syscall_hooks);
} syscall_hooks SEC(".maps");

/* Hooks that run at syscall exit, with the return value. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSCALL_LISTS);
	__type(key, __u32);
	__type(value, struct syscall_hooks);
} syscall_exit_hooks SEC(".maps");

/* Counts per hook, also of matches that post nothing (NoPost, rate
 * limited); user space zeroes a hook's when it hands the id out. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_HOOKS);
	__type(key, __u32);
	__type(value, struct hook_stat);
} hook_stats SEC(".maps");

/* Matches per hook and selector (hook_id * MAX_SELECTORS + selector),
 * for the selectors' labels in metrics; user space zeroes a hook's when it
 * hands the id out. One counter for all CPUs, added to atomically: a
 * per-CPU one would take 512 KiB per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_HOOKS *MAX_SELECTORS);
	__type(key, __u32);
	__type(value, __u64);
} selector_hits SEC(".maps");

/* When each rate-limited event was last posted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct rate_key);
	__type(value, __u64);
} rate_limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_POLICIES);
	__type(key, __u32);
	__type(value, __u32);
} policy_modes SEC(".maps");

/* Bytes of the arguments' data that the rate limit compares. */
#define RATE_DATA_LEN 256

/* FNV-1a over the event's integer arguments, their lengths and the start
 * of the data they hold (never the scratch bytes after it, which earlier
 * events left): events that hash alike are "the same" for rate limiting. */
__noinline int args_hash(void)
{
	struct gscratch *s = scratch();
	__u32 h = 2166136261u, used;
	__u8 *p;

	if (!s)
		return 0;
	p = (__u8 *)s->msg.arg_val;
	for (int i = 0; i < sizeof(s->msg.arg_val); i++)
		h = (h ^ p[i]) * 16777619u;
	p = (__u8 *)s->msg.arg_len;
	for (int i = 0; i < sizeof(s->msg.arg_len); i++)
		h = (h ^ p[i]) * 16777619u;
	used = s->arg_off[MAX_ARGS - 1] + s->msg.arg_len[MAX_ARGS - 1];
	for (int i = 0; i < RATE_DATA_LEN && i < used; i++)
		h = (h ^ (__u8)s->msg.data[i]) * 16777619u;
	return h;
}

/* Whether this event was posted less than the rate limit ago; if not, it
 * records now as its last post. */
static __always_inline bool rate_limited(struct gscratch *s,
					 struct hook_config *cfg,
					 struct sel_action *act, int sel)
{
	struct rate_key k = {.hook_id = cfg->hook_id, .selector = sel};
	__u64 now = bpf_ktime_get_ns(), pid_tgid = bpf_get_current_pid_tgid();
	__u64 *last;

	if (!act->rate_limit_ms)
		return false;
	if (act->scope == SCOPE_THREAD)
		k.scope_id = (__u32)pid_tgid;
	else if (act->scope == SCOPE_PROCESS)
		k.scope_id = pid_tgid >> 32;
	k.hash = args_hash();
	last = bpf_map_lookup_elem(&rate_limits, &k);
	if (last && now - *last < (__u64)act->rate_limit_ms * 1000000)
		return true;
	bpf_map_update_elem(&rate_limits, &k, &now, BPF_ANY);
	return false;
}

static __always_inline void count_hit(__u32 hook_id, bool hit, bool acted)
{
	struct hook_stat *st = bpf_map_lookup_elem(&hook_stats, &hook_id);

	if (!st)
		return;
	if (hit)
		st->hits++;
	if (acted)
		st->actions++;
}

/* Stack traces of the events whose action asks for them, by id. User
 * space reads each with its event, then deletes it. No BPF_F_REUSE_STACKID:
 * a stack whose bucket holds another is refused (and counted), rather than
 * evicting a stack that an event not yet read refers to. Identical stacks
 * share an id. User space sets the size at load (tracing.Config). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

/* Thread and hook: the key of what a return hook keeps from its entry. */
struct stash_key {
	__u32 tid;
	__u32 hook_id;
};

/* The selector that matched at a return hook's entry, until the return.
 * LRU: an entry whose call never returns (exit_group) is recycled. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stash_key);
	__type(value, __u32);
} entry_sels SEC(".maps");

/* In entry_sels beside the selector: the entry posted no event, and the
 * return only runs the hook's returnArgAction. */
#define KEPT_QUIET 0x100

static __always_inline struct stash_key stash_key_of(__u32 hook_id)
{
	struct stash_key k = {.tid = (__u32)bpf_get_current_pid_tgid(),
			      .hook_id = hook_id};

	return k;
}

/* Counts a match of selector sel of the hook. */
static __always_inline void count_selector(struct hook_config *cfg, int sel)
{
	__u32 k = cfg->hook_id * MAX_SELECTORS + (sel & (MAX_SELECTORS - 1));
	__u64 *n = bpf_map_lookup_elem(&selector_hits, &k);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The actions of selector sel: signal and Override (not in monitor mode).
 * Returns the Override error, or 0. */
static __always_inline int act_on(struct gscratch *s, struct hook_config *cfg,
				  struct sel_action *act, int sel, bool run)
{
	__u32 *mode = bpf_map_lookup_elem(&policy_modes, &cfg->policy_id);
	int ret = 0;

	s->msg.monitor = mode && *mode == MODE_MONITOR;
	s->msg.sig = act->sig;
	if (!run)
		return 0;
	/* no enforcement: monitor mode tracks sockets too */
	if (act->sock_act)
		track_sock(s, s->obj[act->sock_slot & SLOT_MASK],
			   act->sock_act);
	if (act->sig && !s->msg.monitor)
		bpf_send_signal(act->sig);
	if (!s->msg.monitor) {
		ret = act->override;
		s->set_arg = act->set_arg;
		s->set_value = act->set_value;
	}
	count_hit(cfg->hook_id, true,
		  ret || (!s->msg.monitor && (act->sig || act->set_arg)));
	count_selector(cfg, sel);
	return ret;
}

/* A return hook's matchReturnActions, once its matchReturnArgs held: the
 * signal (not in monitor mode), and whether to post. */
static __always_inline bool act_at_return(struct gscratch *s,
					  struct hook_config *cfg, int sel)
{
	struct sel_action act = cfg->ret_actions[sel & (MAX_SELECTORS - 1)];

	act_on(s, cfg, &act, sel, false);
	if (act.sig && !s->msg.monitor) {
		bpf_send_signal(act.sig);
		count_hit(cfg->hook_id, false, true);
	}
	return act.post && !rate_limited(s, cfg, &act, sel);
}

static __always_inline struct sel_action action_of(struct hook_config *cfg,
						   int sel)
{
	struct sel_action act = {.post = 1};

	if (cfg->n_selectors)
		act = cfg->actions[sel & (MAX_SELECTORS - 1)];
	return act;
}

/* Posts the event of selector sel from what the scratch holds; one that
 * asks for stack traces (enum stack_flag) or an IMA hash is left pending,
 * for the program to post with them (post_stacks). */
static __always_inline void post(struct gscratch *s, struct hook_config *cfg,
				 struct task_struct *task, __u32 nr, int sel,
				 __u8 part, __u8 stacks, __u8 ima)
{
	__u32 size;

	s->msg.ret = s->ret;
	s->msg.has_ret = s->at_exit;
	s->msg.part = part;
	s->msg.hdr.op = MSG_OP_GENERIC;
	s->msg.hdr.ktime = bpf_ktime_get_ns();
	ident_of(task, &s->msg.ident);
	ident_of(BPF_CORE_READ(task, real_parent), &s->msg.parent);
	s->msg.owner_tid = 0;
	if (s->owned) {
		s->msg.ident = s->owner.ident;
		s->msg.parent = s->owner.parent;
		s->msg.owner_tid = s->owner.tid;
	}
	s->msg.hook_id = cfg->hook_id;
	s->msg.policy_id = cfg->policy_id;
	s->msg.tid = (__u32)bpf_get_current_pid_tgid();
	s->msg.syscall = nr;
	s->msg.selector = sel;
	/* before the record, named by its ktime, tid and hook_id */
	send_all_data(s);
	size = offsetof(struct msg_generic, data) +
	       ((s->arg_off[MAX_ARGS - 1] + s->msg.arg_len[MAX_ARGS - 1]) &
		0x3fff);
	s->msg.hdr.size = size;
	s->msg.stacks = stacks;
	s->msg.kernel_stack = 0;
	s->msg.user_stack = 0;
	s->msg.ima_algo = 0;
	s->ima = ima;
	if (stacks || ima)
		s->pending = 1;
	else
		output(&s->msg, size);
}

/* Events that wait for the IMA hash of their LSM hook's file, by thread:
 * the hook's program keeps its event here with its verdict, and the
 * hook's sleepable program, which the kernel runs next (it was attached
 * first), hashes the file, posts the event and returns the verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IMA_PENDING);
	__type(key, __u64);
	__type(value, struct msg_generic);
} ima_pending SEC(".maps");

/* Keeps the pending event for its IMA hash; posts it without one where
 * there is no room. Returns whether it was kept. */
static __always_inline bool keep_for_ima(struct gscratch *s, int verdict)
{
	__u64 id = bpf_get_current_pid_tgid();

	s->msg.verdict = verdict;
	if (!bpf_map_update_elem(&ima_pending, &id, &s->msg, BPF_ANY))
		return true;
	count(COUNTER_IMA_FULL);
	return false;
}

/* A stack id of the current context, or the helper's error, counted. */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
	long id = bpf_get_stackid(ctx, &stack_traces, flags);

	if (id < 0)
		count(COUNTER_STACK_FAILED);
	return id;
}

/* Posts the event run_hook left pending, with the stack traces its action
 * asks for: here, in the program, as the stack helpers need its context
 * (run_hook is a function of its own, verified once for every program
 * type, and cannot take it). An LSM hook's event that waits for its IMA
 * hash is kept, with the hook's verdict, for the hook's sleepable program
 * (ima_pending): post_stacks then returns true. */
static __always_inline bool post_stacks(void *ctx, int verdict)
{
	struct gscratch *s = scratch();
	__u32 size;

	if (!s || !s->pending)
		return false;
	s->pending = 0;
	if (s->msg.stacks & STACK_KERNEL)
		s->msg.kernel_stack = stack_id(ctx, 0);
	if (s->msg.stacks & STACK_USER)
		s->msg.user_stack = stack_id(ctx, BPF_F_USER_STACK);
	if (s->ima && keep_for_ima(s, verdict))
		return true;
	size = s->msg.hdr.size;
	if (size <= sizeof(s->msg))
		output(&s->msg, size);
	return false;
}

/* A return hook's entry: its selectors without the return-value
 * conditions, its actions, its rate limit, and for an event to post, its
 * arguments posted now (PART_ENTRY) and the selector kept for the return
 * (enum select_phase). Returns the Override error, or 0. */
static __always_inline int enter_hook(struct gscratch *s,
				      struct hook_config *cfg,
				      struct task_struct *task, __u32 nr)
{
	struct stash_key k = stash_key_of(cfg->hook_id);
	struct sel_action act = {};
	bool quiet = false;
	int sel, ret = 0;
	__u32 kept;

	s->ret = 0; /* a returnCopy buffer is read at the return */
	read_args(s, cfg, 0xff);
	sel = select(s, cfg, PHASE_ENTRY, 0);
	if (sel >= 0) {
		changes_seen(cfg->hook_id, sel);
		act = action_of(cfg, sel);
		ret = act_on(s, cfg, &act, sel, true);
		quiet = !act.post || rate_limited(s, cfg, &act, sel);
	}
	/* a returnArgAction runs at the return even with no event */
	if (sel < 0 || (quiet && !cfg->ret_sock_act)) {
		bpf_map_delete_elem(&entry_sels, &k);
		return ret;
	}
	kept = sel | (quiet ? KEPT_QUIET : 0);
	if (bpf_map_update_elem(&entry_sels, &k, &kept, BPF_ANY)) {
		count(COUNTER_RETURN_FULL);
		return ret;
	}
	if (!quiet)
		post(s, cfg, task, nr, sel, PART_ENTRY, act.stacks, 0);
	return ret;
}

/* At a return hook's return: the selector that matched at its entry, or
 * -1 (the entry did not match, or ran before the hook was installed). */
static __always_inline int entry_sel(__u32 hook_id)
{
	struct stash_key k = stash_key_of(hook_id);
	__u32 *kept = bpf_map_lookup_elem(&entry_sels, &k);
	int sel;

	if (!kept)
		return -1;
	sel = *kept;
	bpf_map_delete_elem(&entry_sels, &k);
	return sel;
}

/* A return hook's return: the return value, the buffers read at return
 * (returnCopy), and the return-value conditions of the entry's selector.
 * It posts PART_RETURN, which user space joins to the entry's event, or
 * where those conditions fail PART_DROPPED, with no arguments. */
static __always_inline void return_hook(struct gscratch *s,
					struct hook_config *cfg,
					struct task_struct *task, __u32 nr)
{
	int only = entry_sel(cfg->hook_id), sel;
	struct sel_action act;

	if (only < 0)
		return;
	read_ret(s, cfg);
	if (cfg->ret_sock_act)
		track_sock(s, s->ret, cfg->ret_sock_act);
	if (only & KEPT_QUIET)
		return; /* no event: NoPost, or rate limited */
	read_args(s, cfg, cfg->ret_copy);
	sel = select(s, cfg, PHASE_EXIT, only);
	if (sel < 0) {
		read_args(s, cfg, 0);
		post(s, cfg, task, nr, only, PART_DROPPED, 0, 0);
		return;
	}
	if (cfg->ret_acts & (1 << (sel & (MAX_SELECTORS - 1)))) {
		if (!act_at_return(s, cfg, sel)) {
			read_args(s, cfg, 0);
			post(s, cfg, task, nr, sel, PART_DROPPED, 0, 0);
			return;
		}
	} else {
		act = action_of(cfg, sel);
		act_on(s, cfg, &act, sel, false);
	}
	post(s, cfg, task, nr, sel, PART_RETURN, 0, 0);
}

/* Whether a hook on the opened file skips the call that returned fd
 * (enum open_exit). */
static __always_inline bool skip_open(struct gscratch *s,
				      struct hook_config *cfg,
				      struct task_struct *task, __s64 fd)
{
	struct file *f;

	if (fd < 0)
		return true;
	if (!(cfg->open_exit & OPEN_EXIT_SKIP_OPATH))
		return false;
	f = fd_file(s, task, fd);
	return f && (BPF_CORE_READ(f, f_mode) & FMODE_PATH);
}

/* A whole hook's selector, or -1. The conditions on the process come
 * first, so that a miss on the process reads no argument; for a hook on
 * an opened file, the arguments: the hooks of one open share its path
 * (shared_path), and most opens miss on it, while each process condition
 * costs a verdict lookup. */
static __always_inline int select_whole(struct gscratch *s,
					struct hook_config *cfg)
{
	if (cfg->open_exit) {
		read_ret(s, cfg);
		read_args(s, cfg, 0xff);
		if (select(s, cfg, PHASE_ARGS_FIRST, 0) < 0)
			return -1;
		return select(s, cfg, PHASE_PROCESS_LAST, 0);
	}
	if (select(s, cfg, PHASE_PROCESS, 0) < 0)
		return -1;
	read_ret(s, cfg);
	read_args(s, cfg, 0xff);
	return select(s, cfg, PHASE_ARGS, 0);
}

/* Runs one hook on the current call: reads its arguments, evaluates its
 * selectors, acts, and posts the event. A return hook runs twice: see
 * enum select_phase. */
__noinline int run_hook(__u32 hook_id, __u32 nr)
{
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &hook_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sel_action act;
	struct gscratch *s = scratch();
	int sel, ret;

	if (!cfg || !s)
		return 0;
	if (cfg->scoped && !in_scope(task, cfg->policy_id))
		return 0;
	s->compat = nr >= COMPAT_BASE;
	if (cfg->at_exit && !s->at_exit)
		return enter_hook(s, cfg, task, nr);
	if (cfg->at_exit) {
		return_hook(s, cfg, task, nr);
		return 0;
	}
	if (cfg->open_exit && skip_open(s, cfg, task, s->raw[RAW_RET]))
		return 0;
	sel = select_whole(s, cfg);
	if (sel < 0)
		return 0;
	changes_seen(cfg->hook_id, sel);
	act = action_of(cfg, sel);
	ret = act_on(s, cfg, &act, sel, true);
	if (act.post && !rate_limited(s, cfg, &act, sel))
		post(s, cfg, task, nr, sel, PART_WHOLE, act.stacks, act.ima);
	return ret;
}

/* The syscall's arguments, from the user's saved registers at an address
 * that is no trusted pointer (a syscall wrapper's argument): r10 to di are
 * adjacent in pt_regs (the ptrace ABI), so one read copies all six, into
 * s->raw itself, then put in order. */
static __always_inline void syscall_regs(struct gscratch *s,
					 struct pt_regs *regs)
{
	__u64 *r = s->raw; /* read as r10 r9 r8 ax cx dx si di */
	__u64 r10, r9, r8;

	if (bpf_probe_read_kernel(r, sizeof(s->raw), &regs->r10)) {
		clear_raw(s);
		return;
	}
	r10 = r[0];
	r9 = r[1];
	r8 = r[2];
	r[0] = r[7];
	r[1] = r[6];
	r[2] = r[5];
	r[3] = r10;
	r[4] = r8;
	r[5] = r9;
	r[RAW_RET] = 0;
	r[RAW_CONST] = 0;
}

/* An x86_64 syscall's arguments, from the user's saved registers. regs
 * is a trusted pointer (a tracepoint's argument, or bpf_task_pt_regs's):
 * plain loads, no helper calls. */
static __always_inline void native_regs(struct gscratch *s,
					struct pt_regs *regs)
{
	s->raw[0] = regs->di;
	s->raw[1] = regs->si;
	s->raw[2] = regs->dx;
	s->raw[3] = regs->r10;
	s->raw[4] = regs->r8;
	s->raw[5] = regs->r9;
}

/* Runs the hooks of a syscall list, its arguments in s->raw. */
static __always_inline void run_list(void *ctx, struct gscratch *s,
				     struct syscall_hooks *sh, __u32 nr,
				     bool at_exit, __s64 ret)
{
	s->raw[RAW_RET] = ret;
	s->at_exit = at_exit;
	s->ret = ret;
	s->fpath_ok = 0;
	s->fd_ok = 0;
	s->head_ok = 0;
	s->share_path = 1;
	for (int i = 0; i < HOOKS_PER_SYSCALL; i++) {
		if (!sh->hook_ids[i])
			break;
		if (!quick_pass(sh->hook_ids[i]))
			continue;
		run_hook(sh->hook_ids[i], nr);
		post_stacks(ctx, 0);
	}
	s->share_path = 0;
	s->fpath_ok = 0;
	s->fd_ok = 0;
	s->head_ok = 0;
}

/* Runs the hooks of a syscall list. regs is the tracepoint's trusted
 * pointer to the user's saved registers: plain loads, no helper calls. */
static __always_inline void run_hooks(void *ctx, struct syscall_hooks *sh,
				      struct pt_regs *regs, __u32 nr,
				      bool at_exit, __s64 ret)
{
	struct gscratch *s = scratch();

	if (!s)
		return;
	clear_raw(s);
	if (nr >= COMPAT_BASE) {
		/* the ia32 ABI: ebx, ecx, edx, esi, edi, ebp */
		s->raw[0] = (__u32)regs->bx;
		s->raw[1] = (__u32)regs->cx;
		s->raw[2] = (__u32)regs->dx;
		s->raw[3] = (__u32)regs->si;
		s->raw[4] = (__u32)regs->di;
		s->raw[5] = (__u32)regs->bp;
	} else {
		native_regs(s, regs);
	}
	run_list(ctx, s, sh, nr, at_exit, ret);
}

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

/* Which x86_64 syscalls' hooks their own syscalls/sys_{enter,exit}_NAME
 * tracepoints run (the programs below): the raw tracepoint's programs
 * leave those lists alone. The kernel's per-syscall tracepoints skip ia32
 * syscalls, whose lists only the raw tracepoint serves. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u32); /* SERVED_ENTER | SERVED_EXIT */
} per_syscall SEC(".maps");

#define SERVED_ENTER 1
#define SERVED_EXIT 2

/* The hook list of syscall id in lists, and its number there: an ia32
 * syscall's (a 32-bit process's, or int 0x80's: TS_COMPAT) from
 * COMPAT_BASE. The task's flag is read only when id has hooks in either
 * ABI: an unhooked syscall pays three array lookups. */
static __always_inline struct syscall_hooks *
list_of(void *lists, long id, __u32 served_bit, __u32 *nr)
{
	__u32 native = id, compat = COMPAT_BASE + (__u32)id;
	struct syscall_hooks *sh64, *sh32;
	struct task_struct *task;
	__u32 *served;

	if (id < 0 || id >= MAX_SYSCALLS)
		return NULL;
	sh64 = bpf_map_lookup_elem(lists, &native);
	sh32 = bpf_map_lookup_elem(lists, &compat);
	served = bpf_map_lookup_elem(&per_syscall, &native);
	if (served && (*served & served_bit))
		sh64 = NULL; /* its own tracepoint runs it */
	if ((!sh64 || !sh64->hook_ids[0]) && (!sh32 || !sh32->hook_ids[0]))
		return NULL;
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) {
		*nr = compat;
		return sh32 && sh32->hook_ids[0] ? sh32 : NULL;
	}
	*nr = native;
	return sh64 && sh64->hook_ids[0] ? sh64 : NULL;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(generic_sys_enter, struct pt_regs *regs, long id)
{
	__u32 nr;
	struct syscall_hooks *sh =
	    list_of(&syscall_hooks, id, SERVED_ENTER, &nr);

	if (sh)
		run_hooks(ctx, sh, regs, nr, false, 0);
	return 0;
}

/* At exit the saved user registers still hold the syscall's arguments,
 * and orig_ax its number. */
SEC("tp_btf/sys_exit")
int BPF_PROG(generic_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 nr;
	struct syscall_hooks *sh =
	    list_of(&syscall_exit_hooks, regs->orig_ax, SERVED_EXIT, &nr);

	if (sh)
		run_hooks(ctx, sh, regs, nr, true, ret);
	return 0;
}

/* The record of a syscalls/sys_enter_NAME or sys_exit_NAME tracepoint:
 * the common fields, then the syscall's number (then its arguments, or
 * its return value, which sys_exit_NAME's program reads). */
struct syscall_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* Runs the hook list of the x86_64 syscall whose own tracepoint fired,
 * its arguments from the task's saved registers (at exit they still hold
 * them). The record of sys_enter_NAME is read only up to the number: a
 * syscall without arguments has no more. */
static __always_inline void run_own(void *ctx, void *lists, __s64 ret,
				    bool at_exit)
{
	struct syscall_record *rec = ctx;
	__u32 nr = rec->nr;
	struct syscall_hooks *sh;
	struct gscratch *s;

	if (nr >= MAX_SYSCALLS)
		return;
	sh = bpf_map_lookup_elem(lists, &nr);
	if (!sh || !sh->hook_ids[0])
		return;
	s = scratch();
	if (!s)
		return;
	native_regs(
	    s, (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()));
	run_list(ctx, s, sh, nr, at_exit, ret);
}

SEC("tracepoint")
int generic_syscall_enter(void *ctx)
{
	run_own(ctx, &syscall_hooks, 0, false);
	return 0;
}

SEC("tracepoint")
int generic_syscall_exit(struct syscall_record *ctx)
{
	run_own(ctx, &syscall_exit_hooks, ctx->ret, true);
	return 0;
}

/* Hooks with a program of their own (kprobe, fentry, LSM): user space loads
 * one copy per hook with these constants set, which the verifier sees as
 * known values (so reads of absent arguments are dead code). */
volatile const __u32 cfg_hook_id = 0;
volatile const __u32 cfg_nargs = 0;   /* fentry, LSM: the function's */
volatile const __u32 cfg_syscall = 0; /* a syscall wrapper: args in regs */

/* Tracepoint hooks: where each slot's field lies in the record and how to
 * read it (enum tp_kind), set per hook copy from the event's format. */
volatile const __u16 cfg_tp_off[MAX_ARGS] = {};
volatile const __u8 cfg_tp_kind[MAX_ARGS] = {};

static __always_inline __u64 tp_field(void *ctx, int i)
{
	__u32 off = cfg_tp_off[i], loc = 0;
	__u64 v = 0;

	switch (cfg_tp_kind[i]) {
	case TP_U8:
		bpf_probe_read_kernel(&v, 1, ctx + off);
		return v;
	case TP_U16:
		bpf_probe_read_kernel(&v, 2, ctx + off);
		return v;
	case TP_U32:
		bpf_probe_read_kernel(&v, 4, ctx + off);
		return v;
	case TP_U64:
		bpf_probe_read_kernel(&v, 8, ctx + off);
		return v;
	case TP_ARRAY:
		return (__u64)(ctx + off);
	case TP_DATA_LOC:
		bpf_probe_read_kernel(&loc, 4, ctx + off);
		return (__u64)(ctx + (loc & 0xffff));
	}
	return 0;
}

SEC("tracepoint")
int generic_tracepoint(void *ctx)
{
	struct gscratch *s = scratch();

	if (!s)
		return 0;
	clear_raw(s);
	for (int i = 0; i < MAX_ARGS; i++)
		s->raw[i] = tp_field(ctx, i);
	s->at_exit = 0;
	run_hook(cfg_hook_id, 0);
	post_stacks(ctx, 0);
	return 0;
}

/* A kprobe's arguments: a syscall wrapper's from the user's registers. */
static __always_inline void kprobe_args(struct gscratch *s, struct pt_regs *ctx)
{
	clear_raw(s);
	if (cfg_syscall) {
		syscall_regs(s, (struct pt_regs *)PT_REGS_PARM1_CORE(ctx));
		return;
	}
	s->raw[0] = PT_REGS_PARM1_CORE(ctx);
	s->raw[1] = PT_REGS_PARM2_CORE(ctx);
	s->raw[2] = PT_REGS_PARM3_CORE(ctx);
	s->raw[3] = PT_REGS_PARM4_CORE(ctx);
	s->raw[4] = PT_REGS_PARM5_CORE(ctx);
}

/* Entry arguments of return hooks, by thread and hook, until the return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stash_key);
	__type(value, __u64[8]);
} ret_stash SEC(".maps");

volatile const __u32 cfg_stash = 0; /* kprobe: keep the args for kretprobe */

/* Hook hook_id at the function's entry, the arguments kept for a kretprobe
 * where cfg_stash says; returns the Override error, or 0. */
static __always_inline int kprobe_entry(struct pt_regs *ctx, __u32 hook_id)
{
	struct stash_key k = {.tid = (__u32)bpf_get_current_pid_tgid(),
			      .hook_id = hook_id};
	struct gscratch *s = scratch();
	int ret;

	if (!s)
		return 0;
	kprobe_args(s, ctx);
	if (cfg_stash && bpf_map_update_elem(&ret_stash, &k, s->raw, BPF_ANY))
		count(COUNTER_RETURN_FULL);
	s->at_exit = 0;
	ret = run_hook(hook_id, 0);
	post_stacks(ctx, 0);
	return ret;
}

SEC("kprobe")
int generic_kprobe(struct pt_regs *ctx)
{
	kprobe_entry(ctx, cfg_hook_id);
	return 0;
}

/* The kprobes of many functions through one kprobe_multi link (Linux
 * 5.18): one program, verified once, each function's hook id its attach
 * cookie. */
SEC("kprobe.multi")
int generic_kprobe_multi(struct pt_regs *ctx)
{
	kprobe_entry(ctx, (__u32)bpf_get_attach_cookie(ctx));
	return 0;
}

/* A return hook on the kprobe backend: the arguments the entry kprobe
 * kept, and the return value. */
SEC("kretprobe")
int generic_kretprobe(struct pt_regs *ctx)
{
	struct stash_key k = {.tid = (__u32)bpf_get_current_pid_tgid(),
			      .hook_id = cfg_hook_id};
	struct gscratch *s = scratch();
	__u64 *raw = bpf_map_lookup_elem(&ret_stash, &k);

	if (!s || !raw)
		return 0;
	__builtin_memcpy(s->raw, raw, sizeof(s->raw));
	bpf_map_delete_elem(&ret_stash, &k);
	s->at_exit = 1;
	s->ret = PT_REGS_RC_CORE(ctx);
	s->raw[RAW_RET] = s->ret; /* for a returnArg object */
	run_hook(cfg_hook_id, 0);
	post_stacks(ctx, 0);
	return 0;
}

/* Override on the kprobe backend: the function returns the error without
 * running (a return hook's kretprobe still sees it return). A program of
 * its own: bpf_override_return is refused at load where the kernel lacks
 * it. */
SEC("kprobe")
int generic_kprobe_override(struct pt_regs *ctx)
{
	int ret = kprobe_entry(ctx, cfg_hook_id);

	if (ret)
		bpf_override_return(ctx, ret);
	return 0;
}

/* A USDT argument, read where its SDT note says it is at the probe. */
static __always_inline __u64 usdt_arg(struct pt_regs *ctx, struct usdt_arg *a)
{
	__u64 v = 0, idx = 0;

	switch (a->kind) {
	case USDT_CONST:
		v = a->val;
		break;
	case USDT_REG:
		bpf_probe_read_kernel(&v, sizeof(v),
				      (void *)ctx + (a->reg & 0xff));
		break;
	case USDT_DEREF:
	case USDT_SIB:
		bpf_probe_read_kernel(&v, sizeof(v),
				      (void *)ctx + (a->reg & 0xff));
		if (a->kind == USDT_SIB) {
			bpf_probe_read_kernel(&idx, sizeof(idx),
					      (void *)ctx + (a->index & 0xff));
			v += idx << (a->scale & 3);
		}
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(v + a->val)))
			return 0;
		break;
	default:
		return 0;
	}
	v <<= a->shift & 63;
	if (a->sig)
		return (__s64)v >> (a->shift & 63);
	return v >> (a->shift & 63);
}

/* A USDT probe (a uprobe at an SDT note's place): its arguments where the
 * note says they are, then the hook. Returns the hook's config. */
static __always_inline struct hook_config *usdt_hook(struct pt_regs *ctx)
{
	__u32 id = cfg_hook_id;
	struct hook_config *cfg = bpf_map_lookup_elem(&hook_configs, &id);
	struct gscratch *s = scratch();

	if (!s || !cfg)
		return NULL;
	clear_raw(s);
	for (int i = 0; i < MAX_USDT_ARGS; i++)
		s->raw[i] = usdt_arg(ctx, &cfg->usdt[i]);
	s->at_exit = 0;
	s->set_arg = 0;
	run_hook(id, 0);
	post_stacks(ctx, 0);
	return cfg;
}

SEC("uprobe")
int generic_usdt(struct pt_regs *ctx)
{
	usdt_hook(ctx);
	return 0;
}

/* A USDT probe whose selectors may Set an argument: the hook, then a
 * matched Set's 32 bits written where the argument is in the process's
 * memory (the compiler refuses Set on any other). A program of its own:
 * the kernel warns about each program that may write a process's memory,
 * and lockdown refuses them. */
SEC("uprobe")
int generic_usdt_set(struct pt_regs *ctx)
{
	struct hook_config *cfg = usdt_hook(ctx);
	struct gscratch *s = scratch();
	struct usdt_arg *a;
	__u32 i;
	__u64 at;

	if (!cfg || !s || !s->set_arg || s->set_arg > MAX_USDT_ARGS)
		return 0;
	i = s->set_arg - 1;
	if (i >= MAX_USDT_ARGS)
		return 0;
	a = &cfg->usdt[i];
	if (a->kind != USDT_DEREF ||
	    bpf_probe_read_kernel(&at, sizeof(at),
				  (void *)ctx + (a->reg & 0xff)))
		return 0;
	bpf_probe_write_user((void *)(at + a->val), &s->set_value,
			     sizeof(s->set_value));
	return 0;
}

/* Copies the BTF-typed arguments of a trampoline program. */
static __always_inline void ctx_args(struct gscratch *s, __u64 *ctx)
{
	clear_raw(s);
	if (cfg_syscall) {
		syscall_regs(s, (struct pt_regs *)ctx[0]);
		return;
	}
	if (cfg_nargs > 0)
		s->raw[0] = ctx[0];
	if (cfg_nargs > 1)
		s->raw[1] = ctx[1];
	if (cfg_nargs > 2)
		s->raw[2] = ctx[2];
	if (cfg_nargs > 3)
		s->raw[3] = ctx[3];
	if (cfg_nargs > 4)
		s->raw[4] = ctx[4];
	if (cfg_nargs > 5)
		s->raw[5] = ctx[5];
}

/* Runs the hook on a program whose context is the arguments: fentry,
 * fmod_ret, raw tracepoints. Returns the Override error, or 0. */
static __always_inline int ctx_hook(__u64 *ctx)
{
	struct gscratch *s = scratch();
	int ret;

	if (!s)
		return 0;
	ctx_args(s, ctx);
	s->at_exit = 0;
	ret = run_hook(cfg_hook_id, 0);
	post_stacks(ctx, 0);
	return ret;
}

SEC("fentry")
int generic_fentry(__u64 *ctx)
{
	ctx_hook(ctx);
	return 0;
}

/* A raw tracepoint: its arguments are TP_PROTO's. */
SEC("raw_tp")
int generic_raw_tp(__u64 *ctx)
{
	ctx_hook(ctx);
	return 0;
}

/* The return value of a trampoline program's function, after its args
 * (the verifier refuses ctx reads at computed offsets). */
static __always_inline __s64 ctx_ret(__u64 *ctx)
{
	__s64 ret = 0;

	bpf_probe_read_kernel(&ret, sizeof(ret),
			      (void *)ctx + 8 * (cfg_nargs & 15));
	return ret;
}

SEC("fexit")
int generic_fexit(__u64 *ctx)
{
	struct gscratch *s = scratch();

	if (!s)
		return 0;
	ctx_args(s, ctx);
	s->at_exit = 1;
	s->ret = ctx_ret(ctx);
	s->raw[RAW_RET] = s->ret; /* for a returnArg object */
	run_hook(cfg_hook_id, 0);
	post_stacks(ctx, 0);
	return 0;
}

/* Override on the fentry backend: a nonzero return skips the function,
 * which returns that error. */
SEC("fmod_ret")
int generic_fmod_ret(__u64 *ctx)
{
	return ctx_hook(ctx);
}

/* An LSM hook can deny: the matching selector's Override error is the
 * hook's verdict. A verdict of an earlier BPF LSM program stands. */
/* An LSM program may only return 0 or an error (newer verifiers check). */
static __always_inline int lsm_verdict(long r)
{
	if (r < -4095 || r > 0)
		return 0;
	return r;
}

SEC("lsm")
int generic_lsm(__u64 *ctx)
{
	struct gscratch *s = scratch();
	int prev = 0, ret;

	if (!s)
		return 0;
	/* the verdict so far follows the arguments: an int, read as one (a
	 * wider read loses the verifier's bound on what the program returns) */
	bpf_probe_read_kernel(&prev, sizeof(prev),
			      (void *)ctx + 8 * (cfg_nargs & 15));
	if (prev)
		return lsm_verdict(prev);
	ctx_args(s, ctx);
	s->at_exit = 0;
	ret = lsm_verdict(run_hook(cfg_hook_id, 0));
	if (post_stacks(ctx, ret))
		return 0; /* the hook's sleepable program returns the verdict */
	return ret;
}

/* An event kept for its IMA hash longer than this is a call's whose
 * sleepable program did not run (it was being attached or detached): it
 * goes out without the hash, and its verdict went with its call. */
#define IMA_STALE_NS 1000000000ULL

/* imaHash: the event the hook's program kept for this thread in
 * ima_pending, posted with the IMA hash of file, and the hook's verdict.
 * The program runs right after the hook's own (the kernel runs the
 * programs of a hook newest first, and this one is attached first);
 * it may sleep while IMA reads the file, which is why the event waits in
 * a map of its own and not in the per-CPU scratch. */
static __always_inline int post_hashed(struct file *file)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct msg_generic *m = bpf_map_lookup_elem(&ima_pending, &id);
	int verdict;
	__u32 size;

	if (!m || m->hook_id != cfg_hook_id)
		return 0;
	verdict = m->verdict;
	if (bpf_ktime_get_ns() - m->hdr.ktime < IMA_STALE_NS)
		m->ima_algo =
		    bpf_ima_file_hash(file, m->ima_hash, sizeof(m->ima_hash));
	else
		verdict = 0;
	size = m->hdr.size;
	if (size <= sizeof(*m))
		output(m, size);
	bpf_map_delete_elem(&ima_pending, &id);
	return lsm_verdict(verdict);
}

SEC("lsm.s")
int BPF_PROG(generic_lsm_ima_file, struct file *file)
{
	return post_hashed(file);
}

SEC("lsm.s")
int BPF_PROG(generic_lsm_ima_bprm, struct linux_binprm *bprm)
{
	return post_hashed(bprm->file);
}
