// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: the character device /dev/dmalabN: read/write of device memory,
 * ioctls and mmap.
 */

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/splice.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmalab.h"

/*
 * Take the device for one file operation: returns false (and the caller
 * fails with -ENODEV) once the device is being removed or was found lost.
 */
bool dmalab_enter(struct dmalab_dev *dd)
{
	down_read(&dd->lifetime);
	if (dd->dead || dmalab_gone(dd)) {
		up_read(&dd->lifetime);
		return false;
	}
	return true;
}

void dmalab_leave(struct dmalab_dev *dd)
{
	up_read(&dd->lifetime);
}

/*
 * dmalab_enter() for mmap, which runs under the mm's mmap_lock, and for
 * io_uring's polling, which must not block.  The ioctls hold the lifetime
 * lock while they copy from user space, which may fault and take
 * mmap_lock: waiting for the lifetime lock here would close a cycle
 * (lockdep reports it on the debug kernel, and with remove waiting to
 * write it is a deadlock).  The lock is only tried: it is taken for
 * writing by remove alone, and then the answer is no device.
 */
static bool dmalab_try_enter(struct dmalab_dev *dd)
{
	if (!down_read_trylock(&dd->lifetime))
		return false;
	if (dd->dead || dmalab_gone(dd)) {
		up_read(&dd->lifetime);
		return false;
	}
	return true;
}

/* Point a read/write request at @hb and device memory offset @off. */
static void dmalab_rw_setup(struct dmalab_req *req, bool write,
			    struct dmalab_hbuf *hb, u64 off)
{
	if (write) {
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
}

/*
 * Run a read/write request: 0 if the device moved every byte; -ERESTARTSYS
 * if it was abandoned and must not be touched; else an errno, the caller
 * still owning the request.
 */
static int dmalab_rw_run(struct dmalab_dev *dd, struct dmalab_req *req,
			 bool write, u64 off)
{
	int ret = dmalab_run(req);

	if (ret)
		return ret;
	if (req->status != DMALAB_STS_OK || req->bytes != req->len) {
		dev_dbg(&dd->pdev->dev,
			"%s at %#llx len %u: status %#x, %u bytes\n",
			write ? "write" : "read", off, req->len, req->status,
			req->bytes);
		return -EIO;
	}
	return 0;
}

/*
 * One piece of a read or write, one descriptor, with a buffer mapped for
 * it alone: the user's pinned pages, or with @bounce a kernel buffer.
 */
static int dmalab_rw_chunk_map(struct dmalab_dev *dd, bool write,
			       char __user *ubuf, u64 off, size_t len,
			       bool bounce)
{
	struct dmalab_req *req = dmalab_req_alloc(dd);
	struct dmalab_hbuf *hb;
	int ret;

	if (!req)
		return -ENOMEM;
	req->q = dmalab_pick_queue(dd);
	req->len = len;
	hb = write ? &req->hsrc : &req->hdst;

	if (bounce) {
		ret = dmalab_hbuf_bounce(dd, hb, len, !write);
		if (!ret && write && copy_from_user(hb->bounce, ubuf, len))
			ret = -EFAULT;
		if (!ret)
			ret = dmalab_hbuf_bounce_map(dd, hb);
	} else {
		ret = dmalab_hbuf_user(dd, hb, (unsigned long)ubuf, len,
				       !write);
	}
	if (ret)
		goto out;

	dmalab_rw_setup(req, write, hb, off);
	ret = dmalab_rw_run(dd, req, write, off);
	if (ret == -ERESTARTSYS)
		return ret;
	if (!ret && bounce && !write) {
		dmalab_hbuf_bounce_unmap(dd, hb);
		if (copy_to_user(ubuf, hb->bounce, len))
			ret = -EFAULT;
	}
out:
	dmalab_req_free(req);
	return ret;
}

/*
 * One piece of a read or write (use_bounce=1) through the device's reused
 * bounce buffer, at most dd->bounce_size bytes.  It stays mapped: each use
 * hands it between CPU and device with dma_sync_single_*(), which under
 * swiotlb copy between the buffer and its bounce slot.
 */
static int dmalab_rw_chunk_bounce(struct dmalab_dev *dd, bool write,
				  char __user *ubuf, u64 off, size_t len)
{
	struct device *dev = &dd->pdev->dev;
	struct dmalab_req *req;
	struct dmalab_hbuf *hb;
	int ret;

	ret = mutex_lock_interruptible(&dd->bounce_lock);
	if (ret)
		return ret;
	if (dd->bounce_busy) {
		/*
		 * An abandoned transfer's DMA may still write the buffer:
		 * use one of our own rather than wait for a device that
		 * may never complete it.
		 */
		mutex_unlock(&dd->bounce_lock);
		return dmalab_rw_chunk_map(dd, write, ubuf, off, len, true);
	}

	req = dmalab_req_alloc(dd);
	if (!req) {
		ret = -ENOMEM;
		goto unlock;
	}
	req->q = dmalab_pick_queue(dd);
	req->len = len;
	hb = write ? &req->hsrc : &req->hdst;
	dmalab_hbuf_rwbounce(dd, hb, len, !write);

	if (write) {
		/*
		 * Take the buffer back from the device (the last transfer
		 * may have been an H2D it read) before the CPU writes it.
		 * TO_DEVICE: nothing of the device's is to be copied back,
		 * the CPU overwrites what it syncs.
		 */
		dma_sync_single_for_cpu(dev, dd->bounce_dma, len,
					DMA_TO_DEVICE);
		if (copy_from_user(dd->bounce_cpu, ubuf, len)) {
			ret = -EFAULT;
			goto out;
		}
		/*
		 * Give the CPU's writes to the device before the H2D reads
		 * them: swiotlb copies them into the bounce slot, a
		 * non-coherent CPU writes back its cache.
		 */
		dma_sync_single_for_device(dev, dd->bounce_dma, len,
					   DMA_TO_DEVICE);
	} else {
		/*
		 * The last D2H gave the buffer to the CPU: give it back
		 * before the device writes it, so that no dirty cache line
		 * is written back over the device's data later.
		 */
		dma_sync_single_for_device(dev, dd->bounce_dma, len,
					   DMA_FROM_DEVICE);
	}

	dmalab_rw_setup(req, write, hb, off);
	ret = dmalab_rw_run(dd, req, write, off);
	if (ret == -ERESTARTSYS) {
		/*
		 * Abandoned: the device may still write the buffer.  Keep it
		 * from the next transfers until the request is freed after
		 * its completion (dmalab_hbuf_release() clears the flag; it
		 * waits for bounce_lock, so it cannot clear it before us).
		 */
		dd->bounce_busy = true;
		mutex_unlock(&dd->bounce_lock);
		return ret;
	}
	if (!ret && !write) {
		/*
		 * The D2H completed: take its data from the device before
		 * reading it (swiotlb copies it out of the bounce slot, a
		 * non-coherent CPU drops stale cache lines).
		 */
		dma_sync_single_for_cpu(dev, dd->bounce_dma, len,
					DMA_FROM_DEVICE);
		if (copy_to_user(ubuf, dd->bounce_cpu, len))
			ret = -EFAULT;
	}
out:
	/* the request is ours: the buffer goes back with bounce_lock */
	memset(hb, 0, sizeof(*hb));
	dmalab_req_free(req);
unlock:
	mutex_unlock(&dd->bounce_lock);
	return ret;
}

/*
 * One piece of a read or write: one descriptor.  O_DIRECT asks for the
 * caller's pages even where use_bounce=1 copies through the bounce buffer.
 */
static int dmalab_rw_chunk(struct dmalab_dev *dd, bool write, bool direct,
			   char __user *ubuf, u64 off, size_t len)
{
	if (dd->bounce_size && !direct)
		return dmalab_rw_chunk_bounce(dd, write, ubuf, off, len);
	return dmalab_rw_chunk_map(dd, write, ubuf, off, len, false);
}

struct dmalab_rw_sync {
	struct dmalab_dev *dd;
	bool write;
	bool direct;
};

/* One chunk of a synchronous read or write, waited for. */
static int dmalab_rw_sync_chunk(void *ctx, char __user *ubuf, loff_t off,
				size_t done, size_t len)
{
	struct dmalab_rw_sync *rw = ctx;

	/* a signal ends the transfer between chunks, with what moved */
	if (done && signal_pending(current))
		return -EINTR;
	return dmalab_rw_chunk(rw->dd, rw->write, rw->direct, ubuf, off, len);
}

/* Synchronous read/write: one descriptor per chunk, waiting for each. */
static ssize_t dmalab_rw(struct dmalab_dev *dd, struct iov_iter *it,
			 loff_t *ppos, bool write, bool direct)
{
	struct dmalab_rw_sync rw = { .dd = dd, .write = write,
				     .direct = direct };
	loff_t pos = *ppos;
	ssize_t count;
	size_t done;
	int ret;

	count = dmalab_rw_span(dd, pos, iov_iter_count(it), write);
	if (count <= 0)
		return count;

	done = dmalab_rw_walk(dd, it, pos, count, dmalab_rw_sync_chunk, &rw,
			      &ret);
	if (done) {
		*ppos = pos + done;
		return done;
	}
	return ret;
}

/*
 * One piece of a read or write of kernel memory: no user pages to pin, so
 * the data goes through a bounce buffer of the request's own.  Returns
 * the bytes moved to or from @it (fewer than @len when a pipe fills), or
 * an errno; -ERESTARTSYS when the request was abandoned.
 */
static ssize_t dmalab_rw_chunk_kernel(struct dmalab_dev *dd, bool write,
				      struct iov_iter *it, u64 off, size_t len)
{
	struct dmalab_req *req = dmalab_req_alloc(dd);
	struct dmalab_hbuf *hb;
	ssize_t ret;

	if (!req)
		return -ENOMEM;
	req->q = dmalab_pick_queue(dd);
	req->len = len;
	hb = write ? &req->hsrc : &req->hdst;

	ret = dmalab_hbuf_bounce(dd, hb, len, !write);
	if (!ret && write && copy_from_iter(hb->bounce, len, it) != len)
		ret = -EFAULT;
	if (!ret)
		ret = dmalab_hbuf_bounce_map(dd, hb);
	if (ret)
		goto out;

	dmalab_rw_setup(req, write, hb, off);
	ret = dmalab_rw_run(dd, req, write, off);
	if (ret == -ERESTARTSYS)
		return ret;
	if (!ret) {
		ret = len;
		if (!write) {
			dmalab_hbuf_bounce_unmap(dd, hb);
			ret = copy_to_iter(hb->bounce, len, it);
		}
	}
out:
	dmalab_req_free(req);
	return ret;
}

/*
 * A read or write of kernel memory: splice and sendfile (a pipe's pages),
 * io_uring's fixed buffers.  Synchronous, one bounced descriptor per chunk.
 */
static ssize_t dmalab_rw_kernel(struct dmalab_dev *dd, struct iov_iter *it,
				loff_t *ppos, bool write)
{
	loff_t pos = *ppos;
	ssize_t count, ret = 0;
	size_t done = 0;

	count = dmalab_rw_span(dd, pos, iov_iter_count(it), write);
	if (count <= 0)
		return count;

	while (done < count) {
		size_t len = min_t(size_t, count - done, dd->rw_chunk);

		/* a signal ends the transfer between chunks, with what moved */
		if (done && signal_pending(current))
			break;
		ret = dmalab_rw_chunk_kernel(dd, write, it, pos + done, len);
		if (ret <= 0)
			break;
		done += ret;
		if (ret < len)
			break;
	}
	if (done) {
		*ppos = pos + done;
		return done;
	}
	return ret;
}

/*
 * O_DIRECT's rules, a disk's: the file offset, the length and each
 * buffer's address and length are multiples of DMALAB_DIO_ALIGN.
 */
static bool dmalab_dio_aligned(struct kiocb *iocb, struct iov_iter *it)
{
	return !((iocb->ki_pos | iov_iter_alignment(it)) &
		 (DMALAB_DIO_ALIGN - 1));
}

static ssize_t dmalab_rw_iter(struct kiocb *iocb, struct iov_iter *it,
			      bool write)
{
	struct dmalab_file *f = iocb->ki_filp->private_data;
	struct dmalab_dev *dd = f->dd;
	ssize_t ret;

	bool direct = iocb->ki_flags & IOCB_DIRECT;
	bool user = user_backed_iter(it);

	if (iocb->ki_pos < 0)
		return -EINVAL;
	if (direct && !dmalab_dio_aligned(iocb, it))
		return -EINVAL;
	if (!iov_iter_count(it))
		return 0;
	/*
	 * A synchronous transfer of user memory always waits for the
	 * device: RWF_NOWAIT gets EAGAIN.  One of kernel memory (io_uring's
	 * fixed buffers) waits too, even when asked not to: io_uring would
	 * answer EAGAIN by waiting for poll() to say the file is ready, and
	 * poll() reports async ioctl completions, never that.
	 */
	if (is_sync_kiocb(iocb) && user && (iocb->ki_flags & IOCB_NOWAIT))
		return -EAGAIN;
	if (!dmalab_enter(dd))
		return -ENODEV;
	/*
	 * aio and io_uring stay zero copy even with use_bounce=1: the one
	 * reused bounce buffer carries one transfer at a time, and would
	 * turn their submission into a synchronous wait.
	 */
	if (!user)
		ret = dmalab_rw_kernel(dd, it, &iocb->ki_pos, write);
	else if (is_sync_kiocb(iocb))
		ret = dmalab_rw(dd, it, &iocb->ki_pos, write, direct);
	else
		ret = dmalab_aio_rw(f, iocb, it, write);
	dmalab_leave(dd);
	return ret;
}

static ssize_t dmalab_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return dmalab_rw_iter(iocb, to, false);
}

static ssize_t dmalab_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return dmalab_rw_iter(iocb, from, true);
}

/*
 * io_uring's polled completion (IORING_SETUP_IOPOLL, which asks for
 * O_DIRECT): io_uring calls this while it waits, instead of sleeping until
 * an interrupt.  Any completion found is delivered as the interrupt would
 * (ki_complete()), so @iocb itself, which may be complete and gone, is not
 * touched.  Never blocks: with the device going away there is nothing to
 * poll, and removal completes whatever was in flight.
 */
static int dmalab_iopoll(struct kiocb *iocb, struct io_comp_batch *iob,
			 unsigned int flags)
{
	struct dmalab_file *f = iocb->ki_filp->private_data;
	struct dmalab_dev *dd = f->dd;
	int found;

	if (!dmalab_try_enter(dd))
		return 0;
	found = dmalab_poll_completions(dd);
	dmalab_leave(dd);
	return found;
}

/* fsync and fdatasync: a flush of every operation submitted before. */
static int dmalab_fsync(struct file *file, loff_t start, loff_t end,
			int datasync)
{
	struct dmalab_file *f = file->private_data;
	struct dmalab_dev *dd = f->dd;
	int ret;

	if (!dmalab_enter(dd))
		return -ENODEV;
	ret = dmalab_queues_flush(dd);
	if (!ret)
		dmalab_async_flush(dd);
	dmalab_leave(dd);
	return ret;
}

static loff_t dmalab_llseek(struct file *file, loff_t offset, int whence)
{
	struct dmalab_file *f = file->private_data;

	return fixed_size_llseek(file, offset, whence, f->dd->devmem_size);
}

/* ---- ioctls ---------------------------------------------------------- */

static int dmalab_ioc_info(struct dmalab_dev *dd, void __user *arg)
{
	struct dmalab_info info;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	if (info.size != sizeof(info) || memchr_inv(info.rsvd, 0,
						    sizeof(info.rsvd)))
		return -EINVAL;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.api_version = DMALAB_UAPI_VERSION;
	info.hw_version = dd->hw_version;
	info.features = dd->features;
	info.num_queues = dd->nr_queues;
	info.dma_bits = dd->dma_bits;
	info.irq_mode = dd->irq_mode;
	info.num_vectors = dd->nr_vecs;
	info.ring_size = 1U << dd->ring_order;
	info.max_xfer = dd->max_xfer;
	info.max_batch = DMALAB_MAX_BATCH;
	info.coherent_max = DMALAB_COHERENT_MAX;
	info.devmem_size = dd->devmem_size;
	info.pagebuf_size = DMALAB_PAGEBUF_SIZE;
	info.async_max = DMALAB_ASYNC_MAX;
	info.noncoherent_max = DMALAB_COHERENT_MAX;
	info.dma_align = dma_get_cache_alignment();
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * The ioctls that write an op's results back check first that they can:
 * once the device has run the op, a failed copy would lose its result.
 * The probe writes back the bytes just read, so it changes nothing.
 */
static int dmalab_results_writable(void __user *uptr, const void *copy,
				   size_t len)
{
	return copy_to_user(uptr, copy, len) ? -EFAULT : 0;
}

static int dmalab_ioc_submit(struct dmalab_file *f, void __user *arg)
{
	struct dmalab_req *req;
	struct dmalab_op op;
	int ret;

	if (copy_from_user(&op, arg, sizeof(op)))
		return -EFAULT;
	ret = dmalab_results_writable(arg, &op, sizeof(op));
	if (ret)
		return ret;
	ret = dmalab_op_prepare(f, &op, &req);
	if (ret)
		return ret;
	ret = dmalab_run(req);
	if (ret == -ERESTARTSYS)
		return ret;
	if (!ret) {
		dmalab_op_result(&op, req);
		if (copy_to_user(arg, &op, sizeof(op)))
			ret = -EFAULT;
	}
	dmalab_req_free(req);
	return ret;
}

static int dmalab_ioc_batch(struct dmalab_file *f, void __user *arg)
{
	unsigned long deadline = dmalab_deadline();
	struct dmalab_req **reqs = NULL;
	struct dmalab_op *ops = NULL;
	struct dmalab_batch batch;
	struct blk_plug plug;
	unsigned int i, nsub = 0;
	int ret = 0, wret;

	if (copy_from_user(&batch, arg, sizeof(batch)))
		return -EFAULT;
	if (batch.size != sizeof(batch) || batch.flags || batch.completed ||
	    batch.rsvd[0] || batch.rsvd[1])
		return -EINVAL;
	if (!batch.count || batch.count > DMALAB_MAX_BATCH)
		return -EINVAL;

	ops = memdup_user(u64_to_user_ptr(batch.ops),
			  array_size(batch.count, sizeof(*ops)));
	if (IS_ERR(ops))
		return PTR_ERR(ops);
	ret = dmalab_results_writable(u64_to_user_ptr(batch.ops), ops,
				      array_size(batch.count, sizeof(*ops)));
	if (!ret)
		ret = dmalab_results_writable(arg, &batch, sizeof(batch));
	if (!ret && dmalab_ops_writes_overlap(ops, batch.count))
		ret = -EINVAL;
	if (ret)
		goto out;
	reqs = kcalloc(batch.count, sizeof(*reqs), GFP_KERNEL);
	if (!reqs) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < batch.count; i++) {
		ret = dmalab_op_prepare(f, &ops[i], &reqs[i]);
		if (ret)
			goto out;
	}

	/* one doorbell per queue for the whole batch (dmalab_plug_defer) */
	blk_start_plug(&plug);
	for (nsub = 0; nsub < batch.count; nsub++) {
		ret = dmalab_req_submit(reqs[nsub], deadline);
		if (ret)
			break;
	}
	blk_finish_plug(&plug);
	if (ret == -ERESTARTSYS)
		ret = -EINTR;

	/* Wait for everything submitted, even after an error. */
	batch.completed = 0;
	for (i = 0; i < nsub; i++) {
		if (ret == -ERESTARTSYS) {
			/* interrupted: leave the rest to the completion path */
			if (dmalab_req_abandon(reqs[i]))
				reqs[i] = NULL;
			continue;
		}
		wret = dmalab_req_wait(reqs[i], deadline);
		if (wret == -ERESTARTSYS) {
			/* abandoned; abandon the rest too */
			reqs[i] = NULL;
			ret = -ERESTARTSYS;
			continue;
		}
		if (wret && !ret)
			ret = wret;
		if (!wret) {
			dmalab_op_result(&ops[i], reqs[i]);
			if (reqs[i]->status == DMALAB_STS_OK)
				batch.completed++;
		}
	}
	if (ret)
		goto out;

	if (copy_to_user(u64_to_user_ptr(batch.ops), ops,
			 array_size(batch.count, sizeof(*ops))) ||
	    copy_to_user(arg, &batch, sizeof(batch)))
		ret = -EFAULT;
out:
	if (reqs) {
		for (i = 0; i < batch.count; i++)
			dmalab_req_free(reqs[i]);
	}
	kfree(reqs);
	kfree(ops);
	return ret;
}

static int dmalab_ioc_stats(struct dmalab_dev *dd, void __user *arg)
{
	struct dmalab_swstats *s = &dd->stats;
	struct dmalab_stats st;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	if (st.size != sizeof(st) || st.rsvd0 ||
	    memchr_inv(st.rsvd, 0, sizeof(st.rsvd)))
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	st.hw_bytes = dmalab_rd64(dd, DMALAB_REG_STAT_BYTES_LO,
				  DMALAB_REG_STAT_BYTES_HI);
	st.hw_descs = dmalab_rd64(dd, DMALAB_REG_STAT_DESCS_LO,
				  DMALAB_REG_STAT_DESCS_HI);
	st.hw_errors = dmalab_rd64(dd, DMALAB_REG_STAT_ERRORS_LO,
				   DMALAB_REG_STAT_ERRORS_HI);
	st.hw_irqs = dmalab_rd64(dd, DMALAB_REG_STAT_IRQS_LO,
				 DMALAB_REG_STAT_IRQS_HI);
	st.hw_err_count = dmalab_rd(dd, DMALAB_REG_ERR_COUNT);
	st.submitted = atomic64_read(&s->submitted);
	st.completed = atomic64_read(&s->completed);
	st.cpl_errors = atomic64_read(&s->cpl_errors);
	st.irqs = atomic64_read(&s->irqs);
	st.err_irqs = atomic64_read(&s->err_irqs);
	st.timeouts = atomic64_read(&s->timeouts);
	st.queue_resets = atomic64_read(&s->queue_resets);
	st.mappings = atomic64_read(&s->mappings);
	st.remapped = atomic64_read(&s->remapped);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static int dmalab_ioc_queue_reset(struct dmalab_dev *dd, void __user *arg)
{
	struct dmalab_queue_reset qr;

	if (copy_from_user(&qr, arg, sizeof(qr)))
		return -EFAULT;
	if (qr.rsvd || qr.queue >= dd->nr_queues)
		return -EINVAL;
	return dmalab_queue_recover(&dd->queues[qr.queue], -ECANCELED);
}

static long dmalab_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct dmalab_file *f = file->private_data;
	struct dmalab_dev *dd = f->dd;
	void __user *uarg = (void __user *)arg;
	long ret;

	if (!dmalab_enter(dd))
		return -ENODEV;
	switch (cmd) {
	case DMALAB_IOC_INFO:
		ret = dmalab_ioc_info(dd, uarg);
		break;
	case DMALAB_IOC_SUBMIT:
		ret = dmalab_ioc_submit(f, uarg);
		break;
	case DMALAB_IOC_SUBMIT_BATCH:
		ret = dmalab_ioc_batch(f, uarg);
		break;
	case DMALAB_IOC_STATS:
		ret = dmalab_ioc_stats(dd, uarg);
		break;
	case DMALAB_IOC_QUEUE_RESET:
		ret = dmalab_ioc_queue_reset(dd, uarg);
		break;
	case DMALAB_IOC_SUBMIT_ASYNC:
		ret = dmalab_ioc_submit_async(f, uarg);
		break;
	case DMALAB_IOC_WAIT:
		ret = dmalab_ioc_wait(f, uarg);
		break;
	case DMALAB_IOC_REGISTER:
		ret = dmalab_ioc_register(f, uarg);
		break;
	case DMALAB_IOC_UNREGISTER:
		ret = dmalab_ioc_unregister(f, uarg);
		break;
	case DMALAB_IOC_DMA_ADDRS:
		ret = dmalab_ioc_dma_addrs(dd, uarg);
		break;
	case DMALAB_IOC_TEST_STALE:
		ret = dmalab_ioc_test_stale(dd, uarg);
		break;
	case DMALAB_IOC_TEST_STREAM:
		ret = dmalab_ioc_test_stream(dd, uarg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	dmalab_leave(dd);
	return ret;
}

/* ---- mmap ------------------------------------------------------------ */

static void dmalab_cbuf_vm_open(struct vm_area_struct *vma)
{
	dmalab_cbuf_get(vma->vm_private_data);
}

static void dmalab_cbuf_vm_close(struct vm_area_struct *vma)
{
	dmalab_cbuf_put(vma->vm_private_data);
}

static const struct vm_operations_struct dmalab_cbuf_vm_ops = {
	.open = dmalab_cbuf_vm_open,
	.close = dmalab_cbuf_vm_close,
};

/*
 * The file's coherent or non-coherent buffer, allocated by the first mmap
 * with the length of the mapping; f->lock held.
 */
static struct dmalab_cbuf *dmalab_file_cbuf(struct dmalab_file *f,
					    size_t len, bool noncoherent)
{
	struct dmalab_cbuf **slot = noncoherent ? &f->ncbuf : &f->cbuf;

	if (*slot)
		return len > (*slot)->size ? ERR_PTR(-EINVAL) : *slot;
	if (len > DMALAB_COHERENT_MAX)
		return ERR_PTR(-EINVAL);
	*slot = dmalab_cbuf_alloc(f->dd, len, noncoherent);
	return *slot ?: ERR_PTR(-ENOMEM);
}

/*
 * mmap of one of the file's DMA buffers.  The coherent one goes through
 * dma_mmap_coherent(), which knows how its memory was allocated.  The
 * non-coherent one is mapped the way the classic chapter maps RAM:
 * remap_pfn_range() of its one block of pages.  That mapping is VM_IO |
 * VM_PFNMAP: its PTEs hold page frame numbers the core mm does not
 * refcount, so nothing may pin them (get_user_pages refuses).  Either way
 * the VMA keeps the buffer alive itself (vm_ops).
 */
static int dmalab_mmap_cbuf(struct dmalab_file *f, struct vm_area_struct *vma,
			    bool noncoherent)
{
	size_t len = vma->vm_end - vma->vm_start;
	struct dmalab_cbuf *cb;
	int ret;

	mutex_lock(&f->lock);
	cb = dmalab_file_cbuf(f, len, noncoherent);
	if (IS_ERR(cb)) {
		ret = PTR_ERR(cb);
		goto out;
	}
	if (noncoherent) {
		ret = remap_pfn_range(vma, vma->vm_start, page_to_pfn(cb->page),
				      len, vma->vm_page_prot);
	} else {
		/* dma_mmap_coherent() takes vm_pgoff as the offset in it */
		vma->vm_pgoff = 0;
		/* behind an IOMMU it maps pages, not a PFN range */
		vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
		ret = dma_mmap_coherent(&f->dd->pdev->dev, vma, cb->cpu,
					cb->dma, cb->size);
	}
	if (ret)
		goto out;
	dmalab_cbuf_get(cb);
	vma->vm_private_data = cb;
	vma->vm_ops = &dmalab_cbuf_vm_ops;
out:
	mutex_unlock(&f->lock);
	return ret;
}

static void dmalab_pbuf_vm_open(struct vm_area_struct *vma)
{
	struct dmalab_pbuf *pb = vma->vm_private_data;

	dmalab_pbuf_get(pb);
	atomic_inc(&pb->dd->pbuf_maps);
}

static void dmalab_pbuf_vm_close(struct vm_area_struct *vma)
{
	struct dmalab_pbuf *pb = vma->vm_private_data;

	atomic_dec(&pb->dd->pbuf_maps);
	dmalab_pbuf_put(pb);
}

/* A first touch of a page of the page buffer: allocate it and map it. */
static vm_fault_t dmalab_pbuf_fault(struct vm_fault *vmf)
{
	struct dmalab_pbuf *pb = vmf->vma->vm_private_data;
	unsigned long idx = vmf->pgoff - DMALAB_PAGEBUF_PGOFF;
	struct page *page;

	if (vmf->pgoff < DMALAB_PAGEBUF_PGOFF || idx >= pb->npages)
		return VM_FAULT_SIGBUS;
	/* no lifetime lock under mmap_lock: the flag alone */
	if (dmalab_gone(pb->dd))
		return VM_FAULT_SIGBUS;
	page = dmalab_pbuf_page(pb, idx);
	if (!page)
		return VM_FAULT_OOM;
	/* the mapping's reference; the buffer keeps its own */
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct dmalab_pbuf_vm_ops = {
	.open = dmalab_pbuf_vm_open,
	.close = dmalab_pbuf_vm_close,
	.fault = dmalab_pbuf_fault,
};

static int dmalab_mmap_pagebuf(struct dmalab_file *f,
			       struct vm_area_struct *vma)
{
	unsigned long npages = vma_pages(vma);
	unsigned long first = vma->vm_pgoff - DMALAB_PAGEBUF_PGOFF;
	struct dmalab_pbuf *pb;

	if (vma->vm_pgoff < DMALAB_PAGEBUF_PGOFF ||
	    first >= DMALAB_PAGEBUF_SIZE >> PAGE_SHIFT ||
	    npages > (DMALAB_PAGEBUF_SIZE >> PAGE_SHIFT) - first)
		return -EINVAL;
	pb = dmalab_file_pbuf(f);
	if (!pb)
		return -ENOMEM;
	/* the VMA keeps the reference dmalab_file_pbuf() took */
	vma->vm_private_data = pb;
	vma->vm_ops = &dmalab_pbuf_vm_ops;
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	atomic_inc(&f->dd->pbuf_maps);
	return 0;
}

static int dmalab_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct dmalab_file *f = file->private_data;
	struct dmalab_dev *dd = f->dd;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	int ret;

	/* (offset + length overflowing is refused by do_mmap: EOVERFLOW) */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (!dmalab_try_enter(dd))
		return -ENODEV;
	if (off < DMALAB_MMAP_COHERENT) {
		vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
		/* checks vm_pgoff and the length against the region */
		ret = vm_iomap_memory(vma, dd->devmem_phys, dd->devmem_size);
	} else if (off == DMALAB_MMAP_COHERENT) {
		ret = dmalab_mmap_cbuf(f, vma, false);
	} else if (off == DMALAB_MMAP_NONCOHERENT) {
		ret = dmalab_mmap_cbuf(f, vma, true);
	} else if (off >= DMALAB_MMAP_PAGEBUF && off < DMALAB_MMAP_NONCOHERENT) {
		ret = dmalab_mmap_pagebuf(f, vma);
	} else {
		ret = -EINVAL;
	}
	dmalab_leave(dd);
	return ret;
}

/* ---- open/release ---------------------------------------------------- */

static int dmalab_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct dmalab_dev *dd = container_of(misc, struct dmalab_dev, misc);
	struct dmalab_file *f;

	f = kzalloc_obj(*f, GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	if (!dmalab_enter(dd)) {
		kfree(f);
		return -ENODEV;
	}
	dmalab_dev_get(dd);
	kref_init(&f->ref);
	f->dd = dd;
	f->file = file;
	mutex_init(&f->lock);
	spin_lock_init(&f->alock);
	INIT_LIST_HEAD(&f->done);
	INIT_LIST_HEAD(&f->regbufs);
	dmalab_pincache_init(f);
	init_waitqueue_head(&f->wq);
	mutex_lock(&dd->files_lock);
	list_add_tail(&f->node, &dd->files);
	mutex_unlock(&dd->files_lock);
	dmalab_leave(dd);

	file->private_data = f;
	/*
	 * Async kiocbs (io_uring) are queued without blocking: io_uring then
	 * issues reads directly instead of waiting for POLLIN, which here
	 * means "async ioctl completions ready".
	 */
	file->f_mode |= FMODE_NOWAIT;
	/* read/write already DMA to and from the caller's pages */
	file->f_mode |= FMODE_CAN_ODIRECT;
	return 0;
}

static int dmalab_release(struct inode *inode, struct file *file)
{
	struct dmalab_file *f = file->private_data;
	struct dmalab_dev *dd = f->dd;

	mutex_lock(&dd->files_lock);
	list_del(&f->node);
	mutex_unlock(&dd->files_lock);
	dmalab_async_release(f);
	dmalab_cbuf_put(f->cbuf);
	f->cbuf = NULL;
	dmalab_cbuf_put(f->ncbuf);
	f->ncbuf = NULL;
	dmalab_pbuf_put(f->pbuf);
	f->pbuf = NULL;
	dmalab_regbufs_release(f);
	dmalab_pincache_release(f);
	dmalab_file_put(f);
	return 0;
}

static __poll_t dmalab_poll(struct file *file, poll_table *wait)
{
	struct dmalab_file *f = file->private_data;

	return dmalab_async_poll(f, file, wait);
}

static const struct file_operations dmalab_fops = {
	.owner = THIS_MODULE,
	.open = dmalab_open,
	.release = dmalab_release,
	.read_iter = dmalab_read_iter,
	.write_iter = dmalab_write_iter,
	.splice_read = copy_splice_read,
	.splice_write = iter_file_splice_write,
	.fsync = dmalab_fsync,
	.poll = dmalab_poll,
	.iopoll = dmalab_iopoll,
	.llseek = dmalab_llseek,
	.unlocked_ioctl = dmalab_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = dmalab_mmap,
};

int dmalab_chardev_register(struct dmalab_dev *dd)
{
	int ret;

	/* a bounced chunk fills the bounce buffer at most (<= max_seg) */
	dd->rw_chunk = min_t(u32, dd->max_xfer,
			     dd->bounce_size ? dd->bounce_size :
					       DMALAB_RW_CHUNK);
	dd->misc.minor = MISC_DYNAMIC_MINOR;
	dd->misc.name = dd->name;
	dd->misc.fops = &dmalab_fops;
	dd->misc.parent = &dd->pdev->dev;
	dd->misc.mode = 0600;
	ret = misc_register(&dd->misc);
	if (ret) {
		dev_err(&dd->pdev->dev, "misc_register failed (%d)\n", ret);
		return ret;
	}
	dd->misc_registered = true;
	return 0;
}

void dmalab_chardev_unregister(struct dmalab_dev *dd)
{
	if (dd->misc_registered)
		misc_deregister(&dd->misc);
	dd->misc_registered = false;
}

/* The device is gone: remove every user mapping of its files. */
void dmalab_chardev_zap(struct dmalab_dev *dd)
{
	struct dmalab_file *f;

	mutex_lock(&dd->files_lock);
	list_for_each_entry(f, &dd->files, node)
		unmap_mapping_range(f->file->f_mapping, 0, 0, 1);
	mutex_unlock(&dd->files_lock);
}
