// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: descriptor rings, submission, completion by phase bit, interrupt
 * handlers, timeouts and queue recovery.
 */

#include <linux/blkdev.h>
#include <linux/iopoll.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "dmalab.h"

#define CREATE_TRACE_POINTS
#include "dmalab_trace.h"

int dmalab_queues_init(struct dmalab_dev *dd)
{
	struct device *dev = &dd->pdev->dev;
	u32 size = 1U << dd->ring_order;
	dma_addr_t shadow_dma = 0;
	unsigned int i;

	dd->queues = devm_kcalloc(dev, dd->nr_queues, sizeof(*dd->queues),
				  GFP_KERNEL);
	if (!dd->queues)
		return -ENOMEM;
	if (dmalab_shadow_doorbell && (dd->features & DMALAB_FEAT_SHADOW_DB)) {
		dd->shadow_tails = dmam_alloc_coherent(dev, dd->nr_queues *
						       sizeof(__le32),
						       &shadow_dma, GFP_KERNEL);
		if (!dd->shadow_tails)
			return -ENOMEM;
	}

	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];

		q->dd = dd;
		q->idx = i;
		q->size = size;
		q->mask = size - 1;
		spin_lock_init(&q->lock);
		q->stop_err = -ENODEV;	/* until dmalab_queues_start() */
		init_waitqueue_head(&q->space_wq);
		if (dd->shadow_tails) {
			q->shadow = &dd->shadow_tails[i];
			q->shadow_dma = shadow_dma + i * sizeof(__le32);
		}
		q->ring = dmam_alloc_coherent(dev, size * sizeof(*q->ring),
					      &q->ring_dma, GFP_KERNEL);
		q->cpl = dmam_alloc_coherent(dev, size * sizeof(*q->cpl),
					     &q->cpl_dma, GFP_KERNEL);
		q->reqs = devm_kcalloc(dev, size, sizeof(*q->reqs),
				       GFP_KERNEL);
		if (!q->ring || !q->cpl || !q->reqs)
			return -ENOMEM;
	}
	return 0;
}

/* When a request submitted now times out (the timeout_ms parameter). */
unsigned long dmalab_deadline(void)
{
	return jiffies + msecs_to_jiffies(READ_ONCE(dmalab_timeout_ms));
}

/*
 * Run a prepared request to completion.  Returns 0 when the device completed
 * it (its status may still be an error) and the caller frees it; or a
 * negative errno: -ERESTARTSYS means the request was abandoned and must not
 * be touched; otherwise the caller frees it.
 */
int dmalab_run(struct dmalab_req *req)
{
	unsigned long deadline = dmalab_deadline();
	int ret;

	ret = dmalab_req_submit(req, deadline);
	if (ret == -ERESTARTSYS) {
		/* never submitted: still ours */
		return -EINTR;
	}
	if (ret)
		return ret;
	return dmalab_req_wait(req, deadline);
}

/* Disable the queue in the device and wait until it stopped; q->lock held. */
static int dmalab_queue_hw_reset(struct dmalab_queue *q)
{
	void __iomem *sts = q->dd->regs + DMALAB_QREG(q->idx, DMALAB_Q_STATUS);
	u32 val;
	int ret;

	dmalab_qwr(q, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
	ret = readl_poll_timeout_atomic(sts, val,
					!(val & (DMALAB_QSTS_ENABLED |
						 DMALAB_QSTS_BUSY)),
					1, 10000);
	if (ret)
		dev_err(&q->dd->pdev->dev,
			"queue %u: reset did not complete (status %#x)\n",
			q->idx, val);
	return ret;
}

/* Program and enable an empty ring; q->lock held, queue reset. */
static int dmalab_queue_hw_start(struct dmalab_queue *q)
{
	struct dmalab_dev *dd = q->dd;
	u32 sts;

	memset(q->cpl, 0, q->size * sizeof(*q->cpl));
	memset(q->ring, 0, q->size * sizeof(*q->ring));
	q->head = 0;
	q->tail = 0;
	q->retired = q->posted;	/* an empty ring holds nothing posted */
	q->phase = DMALAB_CPL_PHASE;

	dmalab_qwr(q, DMALAB_Q_RING_LO, lower_32_bits(q->ring_dma));
	dmalab_qwr(q, DMALAB_Q_RING_HI, upper_32_bits(q->ring_dma));
	dmalab_qwr(q, DMALAB_Q_CPL_LO, lower_32_bits(q->cpl_dma));
	dmalab_qwr(q, DMALAB_Q_CPL_HI, upper_32_bits(q->cpl_dma));
	dmalab_qwr(q, DMALAB_Q_RING_SIZE, q->size);
	if (q->shadow)
		WRITE_ONCE(*q->shadow, 0);
	if (dd->features & DMALAB_FEAT_SHADOW_DB) {
		/* 0 clears a shadow another driver may have left */
		dmalab_qwr(q, DMALAB_Q_SHADOW_LO, lower_32_bits(q->shadow_dma));
		dmalab_qwr(q, DMALAB_Q_SHADOW_HI, upper_32_bits(q->shadow_dma));
	}
	dmalab_qwr(q, DMALAB_Q_COAL_COUNT, dd->coal_count);
	dmalab_qwr(q, DMALAB_Q_COAL_USEC, dd->coal_usec);
	/* writel orders the ring memset before the enable */
	dmalab_qwr(q, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);

	sts = dmalab_qrd(q, DMALAB_Q_STATUS);
	if (!(sts & DMALAB_QSTS_ENABLED)) {
		dev_err(&dd->pdev->dev,
			"queue %u: not enabled (status %#x, error %#x)\n",
			q->idx, sts, dmalab_qrd(q, DMALAB_Q_ERROR));
		q->running = false;
		return -EIO;
	}
	q->running = true;
	return 0;
}

int dmalab_queues_start(struct dmalab_dev *dd)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < dd->nr_queues && !ret; i++) {
		struct dmalab_queue *q = &dd->queues[i];
		unsigned long flags;

		spin_lock_irqsave(&q->lock, flags);
		ret = dmalab_queue_hw_reset(q);
		if (!ret)
			ret = dmalab_queue_hw_start(q);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	if (ret)
		dmalab_queues_stop(dd);
	return ret;
}

/* Hand a request back to its owner; q->lock held. */
static void dmalab_req_finish(struct dmalab_queue *q, struct dmalab_req *req)
{
	struct dmalab_dev *dd = q->dd;

	req->finished = true;
	trace_dmalab_complete(req);
	if (req->end_io) {
		req->end_io(req);
	} else if (req->abandoned) {
		spin_lock(&dd->orphan_lock);
		list_add_tail(&req->orphan_node, &dd->orphans);
		spin_unlock(&dd->orphan_lock);
		schedule_work(&dd->orphan_work);
	} else {
		complete(&req->done);
	}
}

/* Finish every outstanding request with @err; q->lock held, queue reset. */
static void dmalab_queue_cancel_all(struct dmalab_queue *q, int err)
{
	u32 i;

	for (i = q->head; i != q->tail; i = (i + 1) & q->mask) {
		struct dmalab_req *req = q->reqs[i];

		q->reqs[i] = NULL;
		if (!req)
			continue;
		req->err = err;
		dmalab_req_finish(q, req);
	}
	q->retired += (q->tail - q->head) & q->mask;
	q->head = q->tail;
	wake_up_all(&q->space_wq);
}

/**
 * dmalab_queues_halt() - stop every queue
 * @dd:		the device
 * @err:	what outstanding and later requests fail with
 *
 * Resets each queue in the device (unless it is gone), fails its
 * outstanding requests with @err and every later submission with @err until
 * dmalab_queues_start(): -ENODEV for a device going away, -EIO around a
 * function reset.
 */
void dmalab_queues_halt(struct dmalab_dev *dd, int err)
{
	unsigned int i;

	if (!dd->queues)
		return;
	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];
		unsigned long flags;

		spin_lock_irqsave(&q->lock, flags);
		q->running = false;
		q->stop_err = err;
		if (!dmalab_gone(dd))
			dmalab_queue_hw_reset(q);
		dmalab_queue_cancel_all(q, err);
		spin_unlock_irqrestore(&q->lock, flags);
		wake_up_all(&q->space_wq);
	}
}

void dmalab_queues_stop(struct dmalab_dev *dd)
{
	dmalab_queues_halt(dd, -ENODEV);
}

/*
 * The device is gone: stop the queue for good and fail its outstanding
 * requests with -ENODEV, without touching the hardware.  Waiters wake, async
 * requests go to their end_io.  Any context; idempotent.
 */
static void dmalab_queue_kill(struct dmalab_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->running = false;
	q->stop_err = -ENODEV;
	dmalab_queue_cancel_all(q, -ENODEV);
	spin_unlock_irqrestore(&q->lock, flags);
	wake_up_all(&q->space_wq);
}

/**
 * dmalab_dev_lost() - the device is gone (surprise removal, dead link)
 * @dd:		the device
 *
 * Marks it gone, so that dmalab_enter() fails every later file operation
 * with -ENODEV and nothing touches its registers any more, and fails every
 * outstanding request (char device, async, aio, dmaengine) with -ENODEV.
 * The work item then zaps the user mappings and wakes pollers.  Takes no
 * lifetime lock (callers may hold it shared) and may run in an interrupt:
 * only the queue locks, one at a time.  Remove still frees everything.
 */
void dmalab_dev_lost(struct dmalab_dev *dd)
{
	unsigned int i;

	if (test_and_set_bit(DMALAB_ST_GONE, &dd->state))
		return;
	dev_err(&dd->pdev->dev,
		"%s: device lost (ID register reads all-ones), failing all I/O with ENODEV\n",
		dd->name);
	if (dd->queues) {
		for (i = 0; i < dd->nr_queues; i++)
			dmalab_queue_kill(&dd->queues[i]);
	}
	schedule_work(&dd->lost_work);
}

/**
 * dmalab_check_gone() - whether the device is gone
 * @dd:		the device
 *
 * A present device never reads all-ones from DMALAB_REG_ID (it reads
 * DMALAB_ID_MAGIC): if it does, the device has been removed or its link is
 * down, and dmalab_dev_lost() handles the loss.  For the paths that notice
 * trouble (timeouts, a queue reset, all-ones interrupt causes, the
 * watchdog, remove).  Any context.
 *
 * Return: true if the device is (now known to be) gone.
 */
bool dmalab_check_gone(struct dmalab_dev *dd)
{
	if (dmalab_gone(dd))
		return true;
	/* in a function reset or in D3hot the BARs do not decode: no loss */
	if (test_bit(DMALAB_ST_OFFLINE, &dd->state))
		return false;
	if (dmalab_rd(dd, DMALAB_REG_ID) != ~0u)
		return false;
	dmalab_dev_lost(dd);
	return true;
}

/* Process context: the rest of dmalab_dev_lost(). */
void dmalab_lost_work(struct work_struct *work)
{
	struct dmalab_dev *dd = container_of(work, struct dmalab_dev,
					     lost_work);
	struct dmalab_file *f;

	/*
	 * User mappings are left in place until unbind or remove: the
	 * function is still on the bus, so its BAR and the coherent memory
	 * stay valid, as after a real surprise removal where reads return
	 * all-ones.  Zapping the PAT-tracked PFN mappings from this work
	 * item could race with the owner's own munmap or exit, and in this
	 * kernel the loser of that race WARNs in untrack_pfn().
	 */
	/* poll() reports EPOLLHUP | EPOLLERR */
	mutex_lock(&dd->files_lock);
	list_for_each_entry(f, &dd->files, node)
		wake_up_interruptible(&f->wq);
	mutex_unlock(&dd->files_lock);
}

/*
 * Reset a queue: stop it, fail its outstanding requests with @err and start
 * it again with an empty ring.  If the device is gone, fail them with
 * -ENODEV instead and leave the queue stopped.
 */
int dmalab_queue_recover(struct dmalab_queue *q, int err)
{
	struct dmalab_dev *dd = q->dd;
	unsigned long flags;
	int ret;

	if (dmalab_check_gone(dd)) {
		/* dmalab_dev_lost() may still be on its way to this queue */
		dmalab_queue_kill(q);
		return -ENODEV;
	}
	trace_dmalab_reset(q->dd, q->idx, err);
	spin_lock_irqsave(&q->lock, flags);
	ret = dmalab_queue_hw_reset(q);
	dmalab_queue_cancel_all(q, err);
	if (q->running && !ret)
		ret = dmalab_queue_hw_start(q);
	else if (!q->running)
		ret = q->stop_err;
	spin_unlock_irqrestore(&q->lock, flags);
	wake_up_all(&q->space_wq);
	atomic64_inc(&dd->stats.queue_resets);
	/* a queue that does not reset may sit on a device that went away */
	if (ret && dmalab_check_gone(dd))
		ret = -ENODEV;
	return ret;
}

struct dmalab_queue *dmalab_pick_queue(struct dmalab_dev *dd)
{
	unsigned int n = atomic_inc_return(&dd->next_queue);

	return &dd->queues[n % dd->nr_queues];
}

/* Reap completions by phase bit; returns how many were reaped. */
unsigned int dmalab_queue_reap(struct dmalab_queue *q)
{
	struct dmalab_dev *dd = q->dd;
	unsigned long flags;
	unsigned int n = 0;

	spin_lock_irqsave(&q->lock, flags);
	while (q->head != q->tail) {
		struct dmalab_cpl *cpl = &q->cpl[q->head];
		struct dmalab_req *req;
		u16 cflags = le16_to_cpu(READ_ONCE(cpl->flags));

		if ((cflags & DMALAB_CPL_PHASE) != q->phase)
			break;
		/* Read the rest of the entry only after its phase bit. */
		dma_rmb();

		req = q->reqs[q->head];
		q->reqs[q->head] = NULL;
		if (req) {
			req->status = le16_to_cpu(cpl->status);
			req->bytes = le32_to_cpu(cpl->bytes);
			req->result = le32_to_cpu(cpl->result);
			req->err = 0;
			if (le64_to_cpu(cpl->cookie) != req->cookie ||
			    le16_to_cpu(cpl->index) != q->head) {
				dev_err_ratelimited(&dd->pdev->dev,
						    "queue %u: completion %u for wrong descriptor (cookie %#llx index %u)\n",
						    q->idx, q->head,
						    le64_to_cpu(cpl->cookie),
						    le16_to_cpu(cpl->index));
				req->err = -EIO;
			}
			if (req->status != DMALAB_STS_OK)
				atomic64_inc(&dd->stats.cpl_errors);
			dmalab_req_finish(q, req);
		}
		n++;
		q->retired++;
		q->head = (q->head + 1) & q->mask;
		if (!q->head)
			q->phase ^= DMALAB_CPL_PHASE;
	}
	spin_unlock_irqrestore(&q->lock, flags);

	if (n) {
		struct dmalab_queue_hook *hook = READ_ONCE(q->hook);

		atomic64_add(n, &dd->stats.completed);
		wake_up_all(&q->space_wq);

		if (hook)
			hook->reaped(hook);
	}
	return n;
}

/* Reap every queue; true if any still has requests outstanding. */
static bool dmalab_reap_all(struct dmalab_dev *dd)
{
	bool busy = false;
	unsigned int i;

	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];

		dmalab_queue_reap(q);
		if (READ_ONCE(q->head) != READ_ONCE(q->tail))
			busy = true;
	}
	return busy;
}

/*
 * Polling mode (poll_us > 0): an hrtimer reaps the queues every poll_us
 * while requests are outstanding; descriptors ask for no interrupt.
 */
enum hrtimer_restart dmalab_poll_timer_fn(struct hrtimer *t)
{
	struct dmalab_dev *dd = container_of(t, struct dmalab_dev, poll_timer);

	enum hrtimer_restart ret = HRTIMER_NORESTART;

	if (!dmalab_reap_all(dd) || READ_ONCE(dd->dead) || dmalab_gone(dd))
		return HRTIMER_NORESTART;
	/*
	 * A submitter may have started the timer while this callback ran
	 * (dmalab_poll_kick); forwarding a queued timer is a bug, so leave
	 * that arming in place.  The lock orders the check against kicks.
	 */
	spin_lock(&dd->poll_lock);
	if (!hrtimer_is_queued(t)) {
		hrtimer_forward_now(t, ns_to_ktime((u64)dmalab_poll_us *
						   NSEC_PER_USEC));
		ret = HRTIMER_RESTART;
	}
	spin_unlock(&dd->poll_lock);
	return ret;
}

/* Start polling after a submission (polling mode only). */
void dmalab_poll_kick(struct dmalab_dev *dd)
{
	unsigned long flags;

	if (!dmalab_poll_us || READ_ONCE(dd->dead) || dmalab_gone(dd))
		return;
	/*
	 * Also when the callback is running and about to stop: a timer
	 * started meanwhile stays queued.
	 */
	spin_lock_irqsave(&dd->poll_lock, flags);
	if (!hrtimer_is_queued(&dd->poll_timer))
		hrtimer_start(&dd->poll_timer,
			      ns_to_ktime((u64)dmalab_poll_us * NSEC_PER_USEC),
			      HRTIMER_MODE_REL);
	spin_unlock_irqrestore(&dd->poll_lock, flags);
}

/* Watchdog period: a quarter of the timeout, at least 10 ms. */
static unsigned long dmalab_watchdog_period(void)
{
	return msecs_to_jiffies(max(READ_ONCE(dmalab_timeout_ms) / 4, 10U));
}

/*
 * Reset queues whose oldest request has no waiter (async ioctl, aio,
 * dmaengine) and is past its deadline.  A waiting submitter handles the
 * timeout of its own request in dmalab_req_wait().  While requests are
 * outstanding it also checks, each period, that the device is still there.
 */
void dmalab_watchdog_fn(struct work_struct *work)
{
	struct dmalab_dev *dd = container_of(to_delayed_work(work),
					     struct dmalab_dev, watchdog);
	bool busy = false;
	unsigned int i;

	if (dmalab_check_gone(dd))
		return;
	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];
		struct dmalab_req *req;
		unsigned long flags;
		bool stuck = false;

		dmalab_queue_reap(q);
		spin_lock_irqsave(&q->lock, flags);
		if (q->head != q->tail) {
			busy = true;
			req = q->reqs[q->head];
			stuck = req && req->end_io &&
				time_after(jiffies, req->deadline);
		}
		spin_unlock_irqrestore(&q->lock, flags);
		if (stuck && dmalab_check_gone(dd))
			return;
		if (stuck) {
			atomic64_inc(&dd->stats.timeouts);
			dev_err(&dd->pdev->dev,
				"queue %u: async descriptor timed out, resetting queue\n",
				q->idx);
			dmalab_queue_recover(q, -ETIMEDOUT);
		}
	}
	if (busy && !READ_ONCE(dd->dead) && !dmalab_gone(dd))
		schedule_delayed_work(&dd->watchdog, dmalab_watchdog_period());
}

static bool dmalab_queue_has_space(struct dmalab_queue *q)
{
	return ((READ_ONCE(q->tail) + 1) & q->mask) != READ_ONCE(q->head) ||
	       !READ_ONCE(q->running);
}

/*
 * Doorbells under a plug.  A submitter that posts many descriptors in one
 * go (io_uring and libaio submit a batch of requests under the block
 * layer's plug; SUBMIT_BATCH and the aio path start one of their own)
 * rings each queue's doorbell once, when the plug is flushed: at its end,
 * or as soon as the task sleeps (for a completion, for room in a ring).
 * One doorbell write is one exit to the device model per batch instead of
 * one per descriptor, as blk-mq's commit_rqs does for NVMe.
 */
struct dmalab_plug {
	struct blk_plug_cb cb;		/* cb.data: the device */
	unsigned long pending;		/* queues posted to, not rung */
	bool held;			/* took a device reference */
};

static void dmalab_unplug(struct blk_plug_cb *cb, bool from_schedule)
{
	struct dmalab_plug *p = container_of(cb, struct dmalab_plug, cb);
	struct dmalab_dev *dd = cb->data;
	unsigned long flags;
	unsigned int i;

	/*
	 * The submitter's file operation may have ended, and remove may be
	 * waiting for it to: the lifetime lock cannot be taken here (nor
	 * slept on: this may run from schedule()).  remove waits for
	 * dd->plugs to drain before the queues go, and a queue it stopped
	 * is not running: ring only running queues, under their lock.
	 */
	for_each_set_bit(i, &p->pending, dd->nr_queues) {
		struct dmalab_queue *q = &dd->queues[i];

		spin_lock_irqsave(&q->lock, flags);
		if (q->running && !dmalab_gone(dd))
			dmalab_doorbell(q, q->tail);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	if (p->held) {
		if (atomic_dec_and_test(&dd->plugs))
			wake_up_all(&dd->plug_wq);
		dmalab_dev_put(dd);
	}
	kfree(p);
}

/*
 * Under a plug: note that @q's doorbell is due and return true; else
 * false, and the caller rings it now.  q->lock held.
 */
static bool dmalab_plug_defer(struct dmalab_queue *q)
{
	struct blk_plug_cb *cb;
	struct dmalab_plug *p;

	if (!current->plug || in_interrupt())
		return false;
	cb = blk_check_plugged(dmalab_unplug, q->dd, sizeof(*p));
	if (!cb)
		return false;
	p = container_of(cb, struct dmalab_plug, cb);
	if (!p->held) {
		dmalab_dev_get(q->dd);
		atomic_inc(&q->dd->plugs);
		p->held = true;
	}
	__set_bit(q->idx, &p->pending);
	return true;
}

/*
 * Write the request's descriptor and ring the doorbell: now, or with
 * @may_defer when the submitter's plug is flushed.  Only a submitter that
 * sleeps while it waits may defer (its sleep flushes the plug); dmaengine
 * clients may spin for completion.  q->lock held.
 */
static void dmalab_ring_post(struct dmalab_queue *q, struct dmalab_req *req,
			     bool may_defer)
{
	struct dmalab_desc *d;
	u32 slot;

	slot = q->tail;
	req->slot = slot;
	req->cookie = (u64)q->idx << 56 | (q->seq++ & GENMASK_ULL(55, 0));
	req->finished = false;
	req->abandoned = false;
	req->deadline = dmalab_deadline();

	d = &q->ring[slot];
	d->opcode = req->opcode;
	d->flags = req->flags | (dmalab_poll_us ? 0 : DMALAB_DESC_IRQ);
	d->rsvd = 0;
	d->len = cpu_to_le32(req->len);
	d->src = cpu_to_le64(req->src);
	d->dst = cpu_to_le64(req->dst);
	d->cookie = cpu_to_le64(req->cookie);
	q->reqs[slot] = req;
	q->tail = (slot + 1) & q->mask;
	q->posted++;
	trace_dmalab_submit(req);

	/* Descriptor (and SG tables) visible before the doorbell. */
	dma_wmb();
	if (!may_defer || !dmalab_plug_defer(q))
		dmalab_doorbell(q, q->tail);
}

/*
 * After a submission: count it, start polling and the watchdog.  It takes
 * no request: once the queue's lock is dropped, an asynchronous request
 * may already be complete and freed (KASAN caught a read of one here).
 */
static void dmalab_submitted(struct dmalab_dev *dd, bool async)
{
	atomic64_inc(&dd->stats.submitted);
	dmalab_poll_kick(dd);
	if (async && !delayed_work_pending(&dd->watchdog))
		schedule_delayed_work(&dd->watchdog, dmalab_watchdog_period());
}

/**
 * dmalab_req_submit() - put a request on its queue and ring the doorbell
 * @req:	the prepared request; req->q chosen
 * @deadline:	jiffies until which to wait for room in the ring
 *
 * Waits (interruptibly, until @deadline) while the ring is full.  On
 * success the request belongs to the queue until dmalab_req_wait() returns
 * (or, with req->end_io, until that is called).
 *
 * Return: 0, -ENODEV (queue stopped; -EIO during a function reset),
 * -ETIMEDOUT or -ERESTARTSYS.
 */
int dmalab_req_submit(struct dmalab_req *req, unsigned long deadline)
{
	struct dmalab_queue *q = req->q;
	unsigned long flags;
	bool async;
	long left;

	for (;;) {
		spin_lock_irqsave(&q->lock, flags);
		if (!q->running) {
			int err = q->stop_err;

			spin_unlock_irqrestore(&q->lock, flags);
			return err;
		}
		if (((q->tail + 1) & q->mask) != q->head)
			break;
		spin_unlock_irqrestore(&q->lock, flags);

		left = (long)(deadline - jiffies);
		if (left <= 0)
			return -ETIMEDOUT;
		left = wait_event_interruptible_timeout
				(q->space_wq, dmalab_queue_has_space(q), left);
		if (left < 0)
			return left;
		if (!left) {
			/* Completions without an interrupt? */
			dmalab_queue_reap(q);
		}
	}
	async = req->end_io;
	dmalab_ring_post(q, req, true);
	spin_unlock_irqrestore(&q->lock, flags);
	dmalab_submitted(q->dd, async);
	return 0;
}

/**
 * dmalab_req_submit_nowait() - submit without sleeping (dmaengine)
 * @req:	the prepared request, with req->end_io set
 *
 * Return: 0, -EBUSY if the ring is full, -ENODEV if the queue is stopped
 * (-EIO during a function reset).
 */
int dmalab_req_submit_nowait(struct dmalab_req *req)
{
	struct dmalab_queue *q = req->q;
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&q->lock, flags);
	if (!q->running)
		ret = q->stop_err;
	else if (((q->tail + 1) & q->mask) == q->head)
		ret = -EBUSY;
	else
		dmalab_ring_post(q, req, false);
	spin_unlock_irqrestore(&q->lock, flags);
	if (!ret)
		dmalab_submitted(q->dd, true);
	return ret;
}

/*
 * Give a submitted request to the completion path, which frees it when the
 * device completes it.  Returns false if it already finished: the caller
 * still owns it.
 */
bool dmalab_req_abandon(struct dmalab_req *req)
{
	struct dmalab_queue *q = req->q;
	unsigned long flags;
	bool finished;

	spin_lock_irqsave(&q->lock, flags);
	finished = req->finished;
	if (!finished)
		req->abandoned = true;
	spin_unlock_irqrestore(&q->lock, flags);
	return !finished;
}

/* Transfers short enough that their waiter polls before it sleeps. */
#define DMALAB_SPIN_MAX_LEN	SZ_64K

/*
 * Is a completion waiting at @q's head?  A peek without the lock, so only
 * a hint: dmalab_queue_reap() decides under it.
 */
static bool dmalab_queue_cpl_waiting(struct dmalab_queue *q)
{
	u32 head = READ_ONCE(q->head);
	u16 cflags = le16_to_cpu(READ_ONCE(q->cpl[head].flags));

	return (cflags & DMALAB_CPL_PHASE) == READ_ONCE(q->phase);
}

/*
 * Hybrid polling, for a transfer short enough to be done in microseconds:
 * sooner than its interrupt, the wake-up and the switch back to the waiter
 * would bring the news.  Poll the queue for up to spin_us before sleeping;
 * the interrupt still comes, and finds the request finished.
 */
static void dmalab_req_spin(struct dmalab_req *req)
{
	unsigned int spin_us = READ_ONCE(dmalab_spin_us);
	u64 end;

	if (!spin_us || dmalab_poll_us || req->len > DMALAB_SPIN_MAX_LEN)
		return;
	end = ktime_get_ns() + (u64)spin_us * NSEC_PER_USEC;
	while (!completion_done(&req->done)) {
		if (dmalab_queue_cpl_waiting(req->q))
			dmalab_queue_reap(req->q);
		if (need_resched() || signal_pending(current) ||
		    ktime_get_ns() > end)
			break;
		cpu_relax();
	}
}

/*
 * Polled completion (io_uring's IOPOLL): reap every queue of @dd with a
 * completion waiting, without waiting for its interrupt.  Returns how
 * many completions were reaped.  The interrupt still comes, and finds
 * them gone: a submitter that waits for ring space, and so cannot poll,
 * still wakes.
 */
unsigned int dmalab_poll_completions(struct dmalab_dev *dd)
{
	unsigned int i, found = 0;

	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];

		if (dmalab_queue_cpl_waiting(q))
			found += dmalab_queue_reap(q);
	}
	return found;
}

/*
 * Wait for a submitted request until @deadline.
 *
 * Returns req->err once the request finished: the caller owns it again and
 * reads its status.  On timeout the queue is reset (which finishes the
 * request) and -ETIMEDOUT is returned; the caller owns the request.  On a
 * signal the request is abandoned to the completion path, which frees it,
 * and -ERESTARTSYS is returned: the caller must not touch it any more.
 */
int dmalab_req_wait(struct dmalab_req *req, unsigned long deadline)
{
	struct dmalab_queue *q = req->q;
	struct dmalab_dev *dd = q->dd;
	unsigned long flags;
	long left = (long)(deadline - jiffies);
	bool finished;

	if (left < 1)
		left = 1;
	dmalab_req_spin(req);
	left = wait_for_completion_interruptible_timeout(&req->done, left);
	if (left > 0)
		return req->err;

	if (!left) {
		dmalab_queue_reap(q);
		spin_lock_irqsave(&q->lock, flags);
		finished = req->finished;
		spin_unlock_irqrestore(&q->lock, flags);
		if (finished) {
			dev_warn_ratelimited(&dd->pdev->dev,
					     "queue %u: completion without interrupt\n",
					     q->idx);
			return req->err;
		}
		/* a lost device is reported once, not as a timeout */
		if (!dmalab_check_gone(dd)) {
			atomic64_inc(&dd->stats.timeouts);
			dev_err(&dd->pdev->dev,
				"queue %u: descriptor %u timed out, resetting queue\n",
				q->idx, req->slot);
		}
		/* finishes the request, with -ENODEV if the device is gone */
		dmalab_queue_recover(q, -ETIMEDOUT);
		spin_lock_irqsave(&q->lock, flags);
		finished = req->finished;
		spin_unlock_irqrestore(&q->lock, flags);
		WARN_ON(!finished);
		return req->err ? req->err : -ETIMEDOUT;
	}

	if (dmalab_req_abandon(req))
		return -ERESTARTSYS;
	return req->err;
}

/* Has @q retired its first @target descriptors? */
static bool dmalab_queue_retired(struct dmalab_queue *q, u64 target)
{
	unsigned long flags;
	bool done;

	spin_lock_irqsave(&q->lock, flags);
	done = q->retired >= target;
	spin_unlock_irqrestore(&q->lock, flags);
	return done;
}

/**
 * dmalab_queues_flush() - wait for every descriptor posted so far
 * @dd:		the device
 *
 * fsync's meaning for the device, as a disk's flush: it returns once each
 * descriptor that was on a ring when it was called has completed, failed
 * or been cancelled.  Later submissions do not hold it up.  A queue whose
 * descriptors stay out past the device's deadline (a lost interrupt is
 * reaped here; a stalled device is not) fails the flush.
 *
 * Return: 0, -EIO, or -ERESTARTSYS on a signal.
 */
int dmalab_queues_flush(struct dmalab_dev *dd)
{
	unsigned int i;

	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];
		unsigned long deadline = dmalab_deadline();
		unsigned long flags;
		long left;
		u64 target;

		spin_lock_irqsave(&q->lock, flags);
		target = q->posted;
		spin_unlock_irqrestore(&q->lock, flags);
		for (;;) {
			left = (long)(deadline - jiffies);
			if (left <= 0)
				left = 1;
			left = wait_event_interruptible_timeout
					(q->space_wq,
					 dmalab_queue_retired(q, target), left);
			if (left < 0)
				return left;
			if (left)
				break;
			/* completions without an interrupt? */
			dmalab_queue_reap(q);
			if (dmalab_queue_retired(q, target))
				break;
			if (time_after_eq(jiffies, deadline)) {
				dev_warn_ratelimited(&dd->pdev->dev,
						     "queue %u: flush timed out\n",
						     q->idx);
				return -EIO;
			}
		}
	}
	return 0;
}

void dmalab_orphan_work(struct work_struct *work)
{
	struct dmalab_dev *dd = container_of(work, struct dmalab_dev,
					     orphan_work);
	struct dmalab_req *req, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&dd->orphan_lock, flags);
	list_splice_init(&dd->orphans, &list);
	spin_unlock_irqrestore(&dd->orphan_lock, flags);

	list_for_each_entry_safe(req, tmp, &list, orphan_node) {
		list_del(&req->orphan_node);
		dmalab_req_free(req);
	}
}

static void dmalab_handle_error(struct dmalab_dev *dd)
{
	u32 sts = dmalab_rd(dd, DMALAB_REG_STATUS);

	if (sts == ~0u && dmalab_check_gone(dd))
		return;
	atomic64_inc(&dd->stats.err_irqs);
	if (!(sts & DMALAB_STATUS_ERROR))
		return;
	trace_dmalab_error(dd, dmalab_rd(dd, DMALAB_REG_ERR_CODE),
			   dmalab_rd(dd, DMALAB_REG_ERR_QUEUE),
			   dmalab_rd(dd, DMALAB_REG_ERR_INDEX),
			   dmalab_rd64(dd, DMALAB_REG_ERR_ADDR_LO,
				       DMALAB_REG_ERR_ADDR_HI));
	dev_dbg_ratelimited(&dd->pdev->dev,
			    "error %#x on queue %u slot %u addr %#llx (count %u)\n",
			    dmalab_rd(dd, DMALAB_REG_ERR_CODE),
			    dmalab_rd(dd, DMALAB_REG_ERR_QUEUE),
			    dmalab_rd(dd, DMALAB_REG_ERR_INDEX),
			    (u64)dmalab_rd(dd, DMALAB_REG_ERR_ADDR_HI) << 32 |
			    dmalab_rd(dd, DMALAB_REG_ERR_ADDR_LO),
			    dmalab_rd(dd, DMALAB_REG_ERR_COUNT));
	dmalab_wr(dd, DMALAB_REG_ERR_CLEAR, 1);
}

/* MSI-X vector of one queue. */
irqreturn_t dmalab_queue_irq(int irq, void *data)
{
	struct dmalab_queue *q = data;

	if (dmalab_gone(q->dd))
		return IRQ_NONE;
	/* Clear the cause first: a later completion sets it again. */
	dmalab_wr(q->dd, DMALAB_REG_INTR_CAUSE, DMALAB_INTR_QUEUE(q->idx));
	atomic64_inc(&q->dd->stats.irqs);
	dmalab_queue_reap(q);
	return IRQ_HANDLED;
}

/* MSI-X error vector. */
irqreturn_t dmalab_err_irq(int irq, void *data)
{
	struct dmalab_dev *dd = data;

	if (dmalab_gone(dd))
		return IRQ_NONE;
	dmalab_wr(dd, DMALAB_REG_INTR_CAUSE, DMALAB_INTR_ERROR);
	dmalab_handle_error(dd);
	return IRQ_HANDLED;
}

/* The single MSI vector or the (possibly shared) INTx line. */
irqreturn_t dmalab_shared_irq(int irq, void *data)
{
	struct dmalab_dev *dd = data;
	unsigned long qbits;
	unsigned int i;
	u32 cause;

	if (dmalab_gone(dd))
		return IRQ_NONE;
	cause = dmalab_rd(dd, DMALAB_REG_INTR_CAUSE);
	if (cause == ~0u) {
		/* no cause has every bit: the device may be gone */
		dmalab_check_gone(dd);
		return IRQ_NONE;
	}
	if (!cause)
		return IRQ_NONE;
	/* Acknowledge before handling, so nothing that follows is lost. */
	dmalab_wr(dd, DMALAB_REG_INTR_CAUSE, cause);

	if (cause & DMALAB_INTR_ERROR)
		dmalab_handle_error(dd);
	qbits = cause & GENMASK(dd->nr_queues - 1, 0);
	if (qbits)
		atomic64_inc(&dd->stats.irqs);
	for_each_set_bit(i, &qbits, dd->nr_queues)
		dmalab_queue_reap(&dd->queues[i]);
	return IRQ_HANDLED;
}
