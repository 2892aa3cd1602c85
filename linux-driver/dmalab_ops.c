// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: a user's op made into a request.  DMALAB_IOC_SUBMIT, _BATCH and
 * _ASYNC describe each side of an op as a user buffer, a registered one,
 * device memory, the file's coherent, non-coherent or page buffer; this
 * file checks an op and builds the request whose buffers are pinned and
 * mapped (or were, once, at registration), below the
 * clients that submit it (the character device, async I/O, the test
 * ioctls) and above the buffers and the queue engine.
 */

#include <linux/overflow.h>
#include <linux/slab.h>

#include "dmalab.h"

static bool dmalab_kind_is_host(u32 kind)
{
	return kind == DMALAB_BUF_USER || kind == DMALAB_BUF_COHERENT ||
	       kind == DMALAB_BUF_PAGEBUF || kind == DMALAB_BUF_NONCOHERENT ||
	       kind == DMALAB_BUF_REGISTERED;
}

/* The file's page buffer, created on first use; NULL without memory. */
struct dmalab_pbuf *dmalab_file_pbuf(struct dmalab_file *f)
{
	struct dmalab_pbuf *pb;

	mutex_lock(&f->lock);
	if (!f->pbuf)
		f->pbuf = dmalab_pbuf_alloc(f->dd);
	pb = f->pbuf;
	if (pb)
		dmalab_pbuf_get(pb);
	mutex_unlock(&f->lock);
	return pb;
}

/*
 * Set up one side of an op.  *hw receives the value of the descriptor field,
 * *sg whether it is an SG table.
 */
static int dmalab_op_side(struct dmalab_file *f, const struct dmalab_op *op,
			  const struct dmalab_buf *b, struct dmalab_hbuf *hb,
			  bool dev_writes, u64 *hw, bool *sg)
{
	struct dmalab_dev *dd = f->dd;
	int ret;

	*sg = false;
	switch (b->kind) {
	case DMALAB_BUF_NONE:
		if (b->addr)
			return -EINVAL;
		*hw = 0;
		return 0;
	case DMALAB_BUF_DEVMEM:
		if (!(op->flags & DMALAB_OPF_NO_CHECK) &&
		    (b->addr >= dd->devmem_size ||
		     op->len > dd->devmem_size - b->addr))
			return -EINVAL;
		*hw = b->addr;
		return 0;
	case DMALAB_BUF_USER: {
		struct dmalab_regbuf *rb;

		if (b->addr != (unsigned long)b->addr)
			return -EFAULT;
		rb = dmalab_pincache_get(f, b->addr, op->len, dev_writes);
		if (rb)
			ret = dmalab_hbuf_registered(dd, hb, rb, b->addr,
						     op->len, dev_writes);
		else
			ret = dmalab_hbuf_user(dd, hb, b->addr, op->len,
					       dev_writes);
		break;
	}
	case DMALAB_BUF_REGISTERED: {
		struct dmalab_regbuf *rb = dmalab_regbuf_find(f, b->addr, op->len);

		if (!rb)
			return -EINVAL;
		ret = dmalab_hbuf_registered(dd, hb, rb, b->addr, op->len,
					     dev_writes);
		break;
	}
	case DMALAB_BUF_COHERENT:
		mutex_lock(&f->lock);
		ret = dmalab_hbuf_coherent(hb, f->cbuf, b->addr, op->len,
					   dev_writes);
		mutex_unlock(&f->lock);
		break;
	case DMALAB_BUF_NONCOHERENT:
		mutex_lock(&f->lock);
		ret = dmalab_hbuf_coherent(hb, f->ncbuf, b->addr, op->len,
					   dev_writes);
		mutex_unlock(&f->lock);
		break;
	case DMALAB_BUF_PAGEBUF: {
		struct dmalab_pbuf *pb = dmalab_file_pbuf(f);

		if (!pb)
			return -ENOMEM;
		ret = dmalab_hbuf_pagebuf(dd, hb, pb, b->addr, op->len,
					  dev_writes);
		dmalab_pbuf_put(pb);
		break;
	}
	default:
		return -EINVAL;
	}
	if (ret)
		return ret;
	*hw = hb->hw_addr;
	*sg = hb->hw_sg;
	return 0;
}

/* Check an op from user space and turn it into a request. */
int dmalab_op_prepare(struct dmalab_file *f, struct dmalab_op *op,
		      struct dmalab_req **reqp)
{
	struct dmalab_dev *dd = f->dd;
	u32 want_src, want_dst;
	struct dmalab_req *req;
	bool sg;
	int ret;

	if (op->flags & ~DMALAB_OPF_VALID || op->rsvd || op->src.rsvd ||
	    op->dst.rsvd || op->status || op->bytes || op->result ||
	    op->queue_used)
		return -EINVAL;
	if (!op->len || op->len > dd->max_xfer)
		return -EINVAL;
	if (op->queue != DMALAB_QUEUE_ANY && op->queue >= dd->nr_queues)
		return -EINVAL;
	if (op->opcode != DMALAB_UOP_FILL && op->pattern)
		return -EINVAL;

	switch (op->opcode) {
	case DMALAB_UOP_H2D:
		want_src = DMALAB_BUF_USER;
		want_dst = DMALAB_BUF_DEVMEM;
		break;
	case DMALAB_UOP_D2H:
		want_src = DMALAB_BUF_DEVMEM;
		want_dst = DMALAB_BUF_USER;
		break;
	case DMALAB_UOP_COPY:
		want_src = DMALAB_BUF_USER;
		want_dst = DMALAB_BUF_USER;
		break;
	case DMALAB_UOP_FILL:
		want_src = DMALAB_BUF_NONE;
		want_dst = DMALAB_BUF_USER;
		break;
	case DMALAB_UOP_CRC32C:
		want_src = DMALAB_BUF_USER;
		want_dst = DMALAB_BUF_NONE;
		break;
	default:
		return -EINVAL;
	}
	/* USER stands for any host buffer here. */
	if (want_src == DMALAB_BUF_USER ? !dmalab_kind_is_host(op->src.kind) :
					  op->src.kind != want_src)
		return -EINVAL;
	if (want_dst == DMALAB_BUF_USER ? !dmalab_kind_is_host(op->dst.kind) :
					  op->dst.kind != want_dst)
		return -EINVAL;

	req = dmalab_req_alloc(dd);
	if (!req)
		return -ENOMEM;
	req->opcode = op->opcode;
	req->len = op->len;
	req->q = op->queue == DMALAB_QUEUE_ANY ? dmalab_pick_queue(dd) :
						 &dd->queues[op->queue];

	ret = dmalab_op_side(f, op, &op->src, &req->hsrc, false, &req->src,
			     &sg);
	if (ret)
		goto fail;
	if (sg)
		req->flags |= DMALAB_DESC_SRC_SG;
	ret = dmalab_op_side(f, op, &op->dst, &req->hdst, true, &req->dst,
			     &sg);
	if (ret)
		goto fail;
	if (sg)
		req->flags |= DMALAB_DESC_DST_SG;
	if (op->opcode == DMALAB_UOP_FILL)
		req->src = op->pattern;
	*reqp = req;
	return 0;

fail:
	dmalab_req_free(req);
	return ret;
}

/*
 * The first and last DMALAB_WRITE_GRAIN block an op has the device write
 * through a mapping that syncs (user memory, the page buffer, the
 * non-coherent buffer); false when it writes none.  The end saturates: a
 * range that wraps fails later anyway.
 */
static bool dmalab_op_write_blocks(const struct dmalab_op *op, u64 *first,
				   u64 *last)
{
	u64 end;

	if (op->dst.kind != DMALAB_BUF_USER &&
	    op->dst.kind != DMALAB_BUF_REGISTERED &&
	    op->dst.kind != DMALAB_BUF_PAGEBUF &&
	    op->dst.kind != DMALAB_BUF_NONCOHERENT)
		return false;
	if (!op->len)
		return false;
	if (check_add_overflow(op->dst.addr, (u64)op->len - 1, &end))
		end = U64_MAX;
	*first = op->dst.addr / DMALAB_WRITE_GRAIN;
	*last = end / DMALAB_WRITE_GRAIN;
	return true;
}

/*
 * Whether two ops of a batch have the device write into one block of the
 * same host buffer (see struct dmalab_batch).  A batch has at most
 * DMALAB_MAX_BATCH ops: comparing every pair (32,640 at most) is cheap
 * next to pinning their pages, and needs no allocation that could fail.
 */
bool dmalab_ops_writes_overlap(const struct dmalab_op *ops, unsigned int n)
{
	u64 a0, a1, b0, b1;
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		if (!dmalab_op_write_blocks(&ops[i], &a0, &a1))
			continue;
		for (j = i + 1; j < n; j++) {
			if (ops[j].dst.kind != ops[i].dst.kind ||
			    !dmalab_op_write_blocks(&ops[j], &b0, &b1))
				continue;
			if (a0 <= b1 && b0 <= a1)
				return true;
		}
	}
	return false;
}

void dmalab_op_result(struct dmalab_op *op, struct dmalab_req *req)
{
	op->status = req->status;
	op->bytes = req->bytes;
	op->result = req->result;
	op->queue_used = req->q->idx;
}
