// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: asynchronous operations.
 *
 * DMALAB_IOC_SUBMIT_ASYNC starts an op without waiting; DMALAB_IOC_WAIT
 * collects finished ones and poll() reports them.  read/write through aio
 * or io_uring (a kiocb that is not synchronous) return -EIOCBQUEUED and
 * complete through iocb->ki_complete().
 *
 * Completion: the reaping path (interrupt or poll timer) hands a finished
 * request to dmalab_async_end_io(), which queues it on dd->async_done; the
 * work item dmalab_async_work() then unpins and unmaps its buffers (which
 * may sleep) and delivers it to its file or its kiocb.
 */

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "dmalab.h"

static void dmalab_file_release(struct kref *ref)
{
	struct dmalab_file *f = container_of(ref, struct dmalab_file, ref);
	struct dmalab_dev *dd = f->dd;

	mutex_destroy(&f->lock);
	kfree(f);
	/*
	 * Give the per-CPU slabs back, so that /proc/slabinfo counts only
	 * requests really in use (the leak check after the tests reads it).
	 */
	kmem_cache_shrink(dmalab_req_cache);
	dmalab_dev_put(dd);
}

void dmalab_file_put(struct dmalab_file *f)
{
	kref_put(&f->ref, dmalab_file_release);
}

static void dmalab_aio_piece_done(struct dmalab_req *req);

/*
 * Completion of an async request: q->lock held, maybe in an interrupt.
 * A piece of an aio read or write whose buffer can be released here
 * completes here, as a block device's direct I/O does; everything else
 * is released and delivered by dmalab_async_work(), in process context.
 */
static void dmalab_async_end_io(struct dmalab_req *req)
{
	struct dmalab_dev *dd = req->dd;

	if (req->aio && dmalab_hbuf_release_atomic(dd, &req->hsrc) &&
	    dmalab_hbuf_release_atomic(dd, &req->hdst)) {
		dmalab_aio_piece_done(req);
		dmalab_req_free(req);
		return;
	}
	spin_lock(&dd->async_lock);
	list_add_tail(&req->orphan_node, &dd->async_done);
	spin_unlock(&dd->async_lock);
	queue_work(system_highpri_wq, &dd->async_work);
}

static bool dmalab_req_failed(struct dmalab_req *req)
{
	return req->err || req->status != DMALAB_STS_OK ||
	       req->bytes != req->len;
}

/* One piece of an aio read/write finished; the last one completes it. */
static void dmalab_aio_piece_done(struct dmalab_req *req)
{
	struct dmalab_aio *aio = req->aio;
	unsigned long flags;
	struct kiocb *iocb;
	long res;

	if (dmalab_req_failed(req)) {
		spin_lock_irqsave(&aio->lock, flags);
		if (req->aio_off < aio->bad_off) {
			aio->bad_off = req->aio_off;
			aio->err = req->err ? req->err : -EIO;
		}
		spin_unlock_irqrestore(&aio->lock, flags);
	}
	if (!atomic_dec_and_test(&aio->pending))
		return;

	/* Bytes before the first failed piece, or its error. */
	iocb = aio->iocb;
	if (aio->bad_off >= aio->len)
		res = aio->len;
	else if (aio->bad_off)
		res = aio->bad_off;
	else
		res = aio->err;
	if (res > 0)
		iocb->ki_pos += res;
	kfree(aio);
	iocb->ki_complete(iocb, res);
}

/*
 * After a flush of the queues: deliver every completion the reaping path
 * has queued, so that what fsync waited for has also reached its file or
 * kiocb when fsync returns.
 */
void dmalab_async_flush(struct dmalab_dev *dd)
{
	flush_work(&dd->async_work);
}

/* Process context: release the request's buffers and deliver it. */
void dmalab_async_work(struct work_struct *work)
{
	struct dmalab_dev *dd = container_of(work, struct dmalab_dev,
					     async_work);
	struct dmalab_req *req, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&dd->async_lock, flags);
	list_splice_init(&dd->async_done, &list);
	spin_unlock_irqrestore(&dd->async_lock, flags);

	/*
	 * Each request holds a reference on its file (which holds one on dd):
	 * dd may go away with the last request, so it is not used below.
	 */
	list_for_each_entry_safe(req, tmp, &list, orphan_node) {
		struct dmalab_file *f = req->file;
		bool drop;

		list_del_init(&req->orphan_node);
		/* unpin (and dirty) the pages before anyone sees the result */
		dmalab_hbuf_release(req->dd, &req->hsrc);
		dmalab_hbuf_release(req->dd, &req->hdst);

		if (req->aio) {
			dmalab_aio_piece_done(req);
			dmalab_req_free(req);
			continue;
		}

		spin_lock_irqsave(&f->alock, flags);
		drop = f->closed;
		if (drop) {
			f->inflight--;
		} else {
			list_add_tail(&req->orphan_node, &f->done);
			f->ndone++;
		}
		spin_unlock_irqrestore(&f->alock, flags);
		if (drop) {
			dmalab_req_free(req);
			dmalab_file_put(f);
		} else {
			wake_up_interruptible(&f->wq);
		}
	}
}

int dmalab_ioc_submit_async(struct dmalab_file *f, void __user *arg)
{
	struct dmalab_async __user *ua = arg;
	struct dmalab_req *req;
	struct dmalab_async a;
	unsigned long flags;
	u64 cookie;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.cookie)
		return -EINVAL;
	ret = dmalab_op_prepare(f, &a.op, &req);
	if (ret)
		return ret;

	spin_lock_irqsave(&f->alock, flags);
	if (f->inflight >= DMALAB_ASYNC_MAX) {
		spin_unlock_irqrestore(&f->alock, flags);
		ret = -EAGAIN;
		goto free_req;
	}
	f->inflight++;
	cookie = ++f->next_cookie;
	spin_unlock_irqrestore(&f->alock, flags);

	/* Tell the cookie before the op can complete. */
	if (put_user(cookie, &ua->cookie)) {
		ret = -EFAULT;
		goto undo_inflight;
	}
	kref_get(&f->ref);
	req->file = f;
	req->ucookie = cookie;
	req->user_data = a.user_data;
	req->end_io = dmalab_async_end_io;
	ret = dmalab_req_submit(req, dmalab_deadline());
	if (!ret)
		return 0;
	dmalab_file_put(f);
undo_inflight:
	spin_lock_irqsave(&f->alock, flags);
	f->inflight--;
	spin_unlock_irqrestore(&f->alock, flags);
free_req:
	dmalab_req_free(req);
	return ret;
}

/* Ready to return from DMALAB_IOC_WAIT: enough done, or all in flight. */
static bool dmalab_wait_ready(struct dmalab_file *f, u32 min)
{
	unsigned long flags;
	bool ready;

	spin_lock_irqsave(&f->alock, flags);
	ready = f->ndone >= min || f->ndone == f->inflight;
	spin_unlock_irqrestore(&f->alock, flags);
	return ready;
}

/*
 * Hand a file's completions back: on the done list again, at its head and
 * in their order, so that a WAIT whose copy to user space failed loses
 * nothing and the next WAIT returns them.
 */
static void dmalab_wait_unconsume(struct dmalab_file *f, struct list_head *list,
				  unsigned int n)
{
	unsigned long flags;

	spin_lock_irqsave(&f->alock, flags);
	list_splice(list, &f->done);
	f->ndone += n;
	spin_unlock_irqrestore(&f->alock, flags);
	/* a concurrent WAIT may have gone to sleep while they were out */
	wake_up_interruptible(&f->wq);
}

static void dmalab_wait_fill(struct dmalab_completion *c,
			     const struct dmalab_req *req)
{
	c->cookie = req->ucookie;
	c->user_data = req->user_data;
	c->error = req->err;
	c->status = req->status;
	c->bytes = req->bytes;
	c->result = req->result;
	c->queue_used = req->q->idx;
}

int dmalab_ioc_wait(struct dmalab_file *f, void __user *arg)
{
	struct dmalab_completion *cpls;
	struct dmalab_req *req, *tmp;
	struct dmalab_wait w;
	unsigned long flags;
	unsigned int n = 0;
	LIST_HEAD(list);
	long left;
	int ret = 0;

	if (copy_from_user(&w, arg, sizeof(w)))
		return -EFAULT;
	if (w.size != sizeof(w) || w.count || w.inflight || w.rsvd[0] ||
	    w.rsvd[1])
		return -EINVAL;
	if (w.max > DMALAB_WAIT_MAX)
		return -E2BIG;
	if (!w.max || w.min > w.max || w.timeout_ms > 600000)
		return -EINVAL;
	cpls = kvcalloc(w.max, sizeof(*cpls), GFP_KERNEL);
	if (!cpls)
		return -ENOMEM;

	if (w.min) {
		left = wait_event_interruptible_timeout
			(f->wq, dmalab_wait_ready(f, w.min),
			 msecs_to_jiffies(w.timeout_ms));
		if (left < 0) {
			ret = left;
			goto out;
		}
	}

	/* Take them off the list; they still count as in flight. */
	spin_lock_irqsave(&f->alock, flags);
	list_for_each_entry_safe(req, tmp, &f->done, orphan_node) {
		if (n == w.max)
			break;
		dmalab_wait_fill(&cpls[n++], req);
		list_move_tail(&req->orphan_node, &list);
	}
	f->ndone -= n;
	w.inflight = f->inflight - n;
	spin_unlock_irqrestore(&f->alock, flags);

	/*
	 * Consume them only once user space has them: a failed copy (a
	 * read-only array or header) puts every one of them back.
	 */
	w.count = n;
	if ((n && copy_to_user(u64_to_user_ptr(w.cpls), cpls,
			       array_size(n, sizeof(*cpls)))) ||
	    copy_to_user(arg, &w, sizeof(w))) {
		dmalab_wait_unconsume(f, &list, n);
		ret = -EFAULT;
		goto out;
	}

	spin_lock_irqsave(&f->alock, flags);
	f->inflight -= n;
	spin_unlock_irqrestore(&f->alock, flags);
	list_for_each_entry_safe(req, tmp, &list, orphan_node) {
		list_del(&req->orphan_node);
		dmalab_req_free(req);
		dmalab_file_put(f);
	}
	if (!n && w.min && w.inflight)
		ret = -ETIMEDOUT;
out:
	kvfree(cpls);
	return ret;
}

__poll_t dmalab_async_poll(struct dmalab_file *f, struct file *file,
			   poll_table *wait)
{
	unsigned long flags;
	__poll_t mask = 0;

	poll_wait(file, &f->wq, wait);
	spin_lock_irqsave(&f->alock, flags);
	if (f->ndone)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (f->inflight < DMALAB_ASYNC_MAX)
		mask |= EPOLLOUT | EPOLLWRNORM;
	spin_unlock_irqrestore(&f->alock, flags);
	if (READ_ONCE(f->dd->dead) || dmalab_gone(f->dd))
		mask |= EPOLLHUP | EPOLLERR;
	return mask;
}

/* The file is closed: drop uncollected completions, orphan the rest. */
void dmalab_async_release(struct dmalab_file *f)
{
	struct dmalab_req *req, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&f->alock, flags);
	f->closed = true;
	list_splice_init(&f->done, &list);
	f->inflight -= f->ndone;
	f->ndone = 0;
	spin_unlock_irqrestore(&f->alock, flags);

	list_for_each_entry_safe(req, tmp, &list, orphan_node) {
		list_del(&req->orphan_node);
		dmalab_req_free(req);
		dmalab_file_put(f);
	}
}

static void dmalab_aio_put(struct dmalab_aio *aio, struct dmalab_req *req)
{
	/* a dummy piece that never failed drops the submitter's bias */
	req->err = 0;
	req->status = DMALAB_STS_OK;
	req->bytes = 0;
	req->len = 0;
	req->aio = aio;
	dmalab_aio_piece_done(req);
}

struct dmalab_rw_async {
	struct dmalab_dev *dd;
	struct dmalab_aio *aio;
	unsigned long deadline;
	bool write;
};

/* One chunk of an asynchronous read or write: submitted, not waited for. */
static int dmalab_rw_async_chunk(void *ctx, char __user *ubuf, loff_t off,
				 size_t done, size_t len)
{
	struct dmalab_rw_async *rw = ctx;
	struct dmalab_dev *dd = rw->dd;
	struct dmalab_req *req;
	struct dmalab_hbuf *hb;
	int ret;

	req = dmalab_req_alloc(dd);
	if (!req)
		return -ENOMEM;
	req->q = dmalab_pick_queue(dd);
	req->len = len;
	hb = rw->write ? &req->hsrc : &req->hdst;
	ret = dmalab_hbuf_user(dd, hb, (unsigned long)ubuf, len, !rw->write);
	if (ret) {
		dmalab_req_free(req);
		return ret;
	}
	if (!rw->write)
		dmalab_hbuf_dirty_early(hb);
	if (rw->write) {
		req->opcode = DMALAB_OP_H2D;
		req->flags = hb->hw_sg ? DMALAB_DESC_SRC_SG : 0;
		req->src = hb->hw_addr;
		req->dst = off;
	} else {
		req->opcode = DMALAB_OP_D2H;
		req->flags = hb->hw_sg ? DMALAB_DESC_DST_SG : 0;
		req->src = off;
		req->dst = hb->hw_addr;
	}
	req->aio = rw->aio;
	req->aio_off = done;
	req->end_io = dmalab_async_end_io;
	atomic_inc(&rw->aio->pending);
	ret = dmalab_req_submit(req, rw->deadline);
	if (ret) {
		atomic_dec(&rw->aio->pending);
		dmalab_req_free(req);
	}
	return ret;
}

/**
 * dmalab_aio_rw() - start an asynchronous read or write
 * @f:		the file
 * @iocb:	the kiocb, not synchronous
 * @it:		user buffers
 * @write:	write (H2D) or read (D2H)
 *
 * Submits one request per chunk, without waiting, and returns
 * -EIOCBQUEUED; the last piece to finish calls iocb->ki_complete().
 * Called inside dmalab_enter().
 *
 * Return: -EIOCBQUEUED, 0 at the end of device memory, or an error if
 * nothing could be submitted.
 */
ssize_t dmalab_aio_rw(struct dmalab_file *f, struct kiocb *iocb,
		      struct iov_iter *it, bool write)
{
	struct dmalab_dev *dd = f->dd;
	struct dmalab_rw_async rw = {
		.dd = dd,
		.deadline = dmalab_deadline(),
		.write = write,
	};
	struct dmalab_req dummy = { .dd = dd };
	loff_t pos = iocb->ki_pos;
	struct blk_plug plug;
	size_t count, done;
	struct dmalab_aio *aio;
	ssize_t span;
	int ret;

	span = dmalab_rw_span(dd, pos, iov_iter_count(it), write);
	if (span <= 0)
		return span;
	count = span;

	aio = kzalloc_obj(*aio, GFP_KERNEL);
	if (!aio)
		return -ENOMEM;
	aio->iocb = iocb;
	spin_lock_init(&aio->lock);
	/* the submitter's bias: no completion before all are submitted */
	atomic_set(&aio->pending, 1);
	aio->len = count;
	aio->bad_off = count;
	rw.aio = aio;

	/* the pieces ring their queues' doorbells once (dmalab_plug_defer) */
	blk_start_plug(&plug);
	done = dmalab_rw_walk(dd, it, pos, count, dmalab_rw_async_chunk, &rw,
			      &ret);
	blk_finish_plug(&plug);
	if (!done) {
		kfree(aio);
		return ret == -ERESTARTSYS ? -EINTR : ret;
	}
	/* Only what was submitted counts; the bias keeps it from completing. */
	/* pieces may complete in an interrupt (dmalab_async_end_io) */
	spin_lock_irq(&aio->lock);
	aio->len = done;
	if (aio->bad_off > done)
		aio->bad_off = done;
	spin_unlock_irq(&aio->lock);
	dmalab_aio_put(aio, &dummy);
	return -EIOCBQUEUED;
}
