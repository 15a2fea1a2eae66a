/* SPDX-License-Identifier: GPL-2.0 */
/* Data records: the bytes of a maxData char_buf beyond the ARG_MASK that
 * its event holds, sent once the event is to be posted and before it. Each
 * chunk is read straight from the buffer into its ring buffer reservation,
 * so no scratch holds more than one event. pkg/tracing joins them to their
 * event again. */
#ifndef VIGIL_DATA_H
#define VIGIL_DATA_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "args.h"
#include "generic.h"
#include "hook.h"
#include "maps.h"
#include "msg.h"

/* Sends the chunk of slot i's data at off, counted from the end of the
 * event's part. Returns its length, or -1 when the ring buffer had no
 * room or the buffer's memory could not be read: the event's data_err
 * says which, and no later chunk is sent. */
__noinline int send_chunk(__u32 i, __u32 off)
{
	struct gscratch *s = scratch();
	struct msg_data *m;
	__u32 len;
	void *src;
	long err;

	if (!s)
		return -1;
	i &= 7; /* callers keep i < MAX_ARGS */
	len = s->data_want[i] - off;
	if (len > DATA_CHUNK_LEN)
		len = DATA_CHUNK_LEN;
	m = bpf_ringbuf_reserve(&events, sizeof(*m), 0);
	if (!m) {
		s->msg.data_err[i] = DATA_RINGBUF_FULL;
		count(COUNTER_DATA_FULL);
		return -1;
	}
	src = (void *)(s->data_src[i] + off);
	err = read_buf(m->data, len, src, s->data_kmem & (1 << i));
	if (err < 0) {
		bpf_ringbuf_discard(m, BPF_RB_NO_WAKEUP);
		s->msg.data_err[i] = DATA_FAULT;
		return -1;
	}
	__builtin_memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.op = MSG_OP_DATA;
	m->hdr.size = offsetof(struct msg_data, data) + len;
	m->hdr.ktime = s->msg.hdr.ktime;
	m->tid = s->msg.tid;
	m->hook_id = s->msg.hook_id;
	m->offset = s->msg.arg_len[i] + off;
	m->total = s->data_want[i];
	m->len = len;
	m->slot = i;
	__builtin_memset(m->pad, 0, sizeof(m->pad));
	bpf_ringbuf_submit(m, wakeup_flags(m->hdr.size));
	return len;
}

/* Sends slot i's bytes after the event's part in data records, in at most
 * DATA_CHUNKS chunks, and puts in the event how many went out. */
__noinline int send_data(__u32 i)
{
	struct gscratch *s = scratch();
	__u32 off = 0, want;

	if (!s)
		return 0;
	i &= 7; /* callers keep i < MAX_ARGS */
	want = s->data_want[i];
	for (int n = 0; n < DATA_CHUNKS && off < want; n++) {
		int len = send_chunk(i, off);

		if (len <= 0)
			break;
		off += len;
	}
	s->msg.data_len[i] = off;
	return 0;
}

/* Sends the data records of every maxData char_buf of the event in the
 * scratch, whose ktime, tid and hook_id name them. */
static __always_inline void send_all_data(struct gscratch *s)
{
	for (int i = 0; i < MAX_ARGS; i++)
		if (s->data_want[i])
			send_data(i);
}

#endif
