/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmalab tracepoints: events/dmalab/ in tracefs.
 *
 *   dmalab_submit    a descriptor was put on a ring
 *   dmalab_complete  a request finished (reaped, cancelled or timed out)
 *   dmalab_error     the device's error interrupt
 *   dmalab_reset     a queue is reset
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dmalab

#if !defined(DMALAB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define DMALAB_TRACE_H

#include <linux/tracepoint.h>

#include "dmalab.h"

TRACE_EVENT(dmalab_submit,
	    TP_PROTO(struct dmalab_req *req),
	    TP_ARGS(req),
	    TP_STRUCT__entry(__array(char, dev, DMALAB_DEV_NAME_LEN)
			     __field(u32, queue)
			     __field(u32, slot)
			     __field(u64, cookie)
			     __field(u8, opcode)
			     __field(u8, flags)
			     __field(u32, len)
			     __field(u64, src)
			     __field(u64, dst)),
	    TP_fast_assign(memcpy(__entry->dev, req->dd->name, DMALAB_DEV_NAME_LEN);
			   __entry->queue = req->q->idx;
			   __entry->slot = req->slot;
			   __entry->cookie = req->cookie;
			   __entry->opcode = req->opcode;
			   __entry->flags = req->flags;
			   __entry->len = req->len;
			   __entry->src = req->src;
			   __entry->dst = req->dst;),
	    TP_printk("%s q%u slot %u cookie %#llx op %u flags %#x len %u src %#llx dst %#llx",
		      __entry->dev, __entry->queue, __entry->slot,
		      __entry->cookie, __entry->opcode, __entry->flags,
		      __entry->len, __entry->src, __entry->dst)
);

TRACE_EVENT(dmalab_complete,
	    TP_PROTO(struct dmalab_req *req),
	    TP_ARGS(req),
	    TP_STRUCT__entry(__array(char, dev, DMALAB_DEV_NAME_LEN)
			     __field(u32, queue)
			     __field(u32, slot)
			     __field(u64, cookie)
			     __field(int, err)
			     __field(u16, status)
			     __field(u32, bytes)),
	    TP_fast_assign(memcpy(__entry->dev, req->dd->name, DMALAB_DEV_NAME_LEN);
			   __entry->queue = req->q->idx;
			   __entry->slot = req->slot;
			   __entry->cookie = req->cookie;
			   __entry->err = req->err;
			   __entry->status = req->status;
			   __entry->bytes = req->bytes;),
	    TP_printk("%s q%u slot %u cookie %#llx err %d status %#x bytes %u",
		      __entry->dev, __entry->queue, __entry->slot,
		      __entry->cookie, __entry->err, __entry->status,
		      __entry->bytes)
);

TRACE_EVENT(dmalab_error,
	    TP_PROTO(struct dmalab_dev *dd, u32 code, u32 queue, u32 index,
		     u64 addr),
	    TP_ARGS(dd, code, queue, index, addr),
	    TP_STRUCT__entry(__array(char, dev, DMALAB_DEV_NAME_LEN)
			     __field(u32, code)
			     __field(u32, queue)
			     __field(u32, index)
			     __field(u64, addr)),
	    TP_fast_assign(memcpy(__entry->dev, dd->name, DMALAB_DEV_NAME_LEN);
			   __entry->code = code;
			   __entry->queue = queue;
			   __entry->index = index;
			   __entry->addr = addr;),
	    TP_printk("%s code %#x q%u slot %u addr %#llx", __entry->dev,
		      __entry->code, __entry->queue, __entry->index, __entry->addr)
);

TRACE_EVENT(dmalab_reset,
	    TP_PROTO(struct dmalab_dev *dd, u32 queue, int err),
	    TP_ARGS(dd, queue, err),
	    TP_STRUCT__entry(__array(char, dev, DMALAB_DEV_NAME_LEN)
			     __field(u32, queue)
			     __field(int, err)),
	    TP_fast_assign(memcpy(__entry->dev, dd->name, DMALAB_DEV_NAME_LEN);
			   __entry->queue = queue;
			   __entry->err = err;),
	    TP_printk("%s q%u err %d", __entry->dev, __entry->queue,
		      __entry->err)
);

#endif /* DMALAB_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dmalab_trace
#include <trace/define_trace.h>
