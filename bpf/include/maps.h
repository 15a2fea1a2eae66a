/* SPDX-License-Identifier: GPL-2.0 */
/* Maps every Vigil program shares: the one ring buffer (so that a process's
 * exec reaches user space before the events it causes) and the loss
 * counters. User space loads them once and hands them to every object. */
#ifndef VIGIL_MAPS_H
#define VIGIL_MAPS_H

#include "msg.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* Wake the reader only once a sixteenth of the ring is filled: one wakeup
 * per record costs the traced workload a context switch each time. The
 * reader also polls on a short timer, which bounds the latency. */
#define WAKEUP_DIVISOR 16

static __always_inline __u64 wakeup_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 ring = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	return avail >= ring / WAKEUP_DIVISOR ? BPF_RB_FORCE_WAKEUP
					      : BPF_RB_NO_WAKEUP;
}

static __always_inline void output(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&events, data, size, wakeup_flags()))
		count(COUNTER_RINGBUF_FULL);
}

#endif
