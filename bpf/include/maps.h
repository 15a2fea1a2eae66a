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

/* Wake the reader once the unread data reaches a sixteenth of the ring,
 * with the one record that takes it past that mark. One wakeup per record
 * would cost the traced workload a context switch each time, and each
 * forced wakeup is an interrupt (a VM exit under a hypervisor): a reader
 * that is awake needs none, and one that sleeps went to sleep with the
 * ring empty (its poll sees any data). The reader also polls on a short
 * timer, which bounds the latency below the mark. */
#define WAKEUP_DIVISOR 16

static __always_inline __u64 wakeup_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 mark =
	    bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / WAKEUP_DIVISOR;

	return avail < mark && avail + size >= mark ? BPF_RB_FORCE_WAKEUP
						    : BPF_RB_NO_WAKEUP;
}

static __always_inline void output(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&events, data, size, wakeup_flags(size)))
		count(COUNTER_RINGBUF_FULL);
}

#endif
