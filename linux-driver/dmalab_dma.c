// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: dmaengine provider.  One channel per queue for the first
 * dma_chans queues, sharing the ring with the character device.
 *
 * Capabilities: DMA_MEMCPY (one COPY descriptor of at most MAX_XFER bytes
 * between bus addresses the client mapped) and DMA_INTERRUPT (no hardware:
 * it completes once the descriptors issued before it have).  Descriptors
 * complete in cookie order from the channel's tasklet, which also puts the
 * issued descriptors on the ring as room frees up (issue_pending may be
 * called in atomic context, so it never waits for room).
 *
 * Lock order: dc->lock, then q->lock.  The completion path runs under
 * q->lock and therefore only marks a descriptor done and schedules the
 * tasklet.
 *
 * The cookie helpers below do what the kernel's private drivers/dma/
 * dmaengine.h helpers do; that header is not available to a module built
 * out of tree.
 */

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/slab.h>

#include "dmalab.h"

static struct dmalab_dchan *to_dchan(struct dma_chan *chan)
{
	return container_of(chan, struct dmalab_dchan, chan);
}

static struct dmalab_ddesc *to_ddesc(struct dma_async_tx_descriptor *tx)
{
	return container_of(tx, struct dmalab_ddesc, tx);
}

/* ---- cookies: chan->cookie and chan->completed_cookie, under dc->lock */

static void dmalab_cookie_init(struct dma_chan *chan)
{
	chan->cookie = DMA_MIN_COOKIE;
	chan->completed_cookie = DMA_MIN_COOKIE;
}

static dma_cookie_t dmalab_cookie_assign(struct dma_async_tx_descriptor *tx)
{
	struct dma_chan *chan = tx->chan;
	dma_cookie_t cookie = chan->cookie + 1;

	if (cookie < DMA_MIN_COOKIE)
		cookie = DMA_MIN_COOKIE;
	tx->cookie = cookie;
	chan->cookie = cookie;
	return cookie;
}

static void dmalab_cookie_complete(struct dma_async_tx_descriptor *tx)
{
	tx->chan->completed_cookie = tx->cookie;
	tx->cookie = 0;
}

/* Remember a failed or terminated descriptor's cookie; dc->lock held. */
static void dmalab_cookie_failed(struct dmalab_dchan *dc, dma_cookie_t cookie)
{
	dc->err_cookies[dc->err_next] = cookie;
	dc->err_next = (dc->err_next + 1) % DMALAB_DCHAN_ERR_HISTORY;
}

/* Whether the cookie is among the recent failures; dc->lock held. */
static bool dmalab_cookie_is_failed(struct dmalab_dchan *dc,
				    dma_cookie_t cookie)
{
	unsigned int i;

	for (i = 0; i < DMALAB_DCHAN_ERR_HISTORY; i++)
		if (dc->err_cookies[i] == cookie)
			return true;
	return false;
}

/* ---- descriptors ----------------------------------------------------- */

static void dmalab_ddesc_free(struct dmalab_ddesc *d)
{
	if (d->req)
		dmalab_req_free(d->req);
	kfree(d);
}

/* Completion of a descriptor's request: q->lock held, maybe in an irq. */
static void dmalab_dma_end_io(struct dmalab_req *req)
{
	struct dmalab_ddesc *d = req->end_io_data;

	/* req's results are written before done is seen by the tasklet */
	smp_store_release(&d->done, true);
	tasklet_schedule(&d->dc->tasklet);
}

/* Put issued descriptors on the ring while there is room. */
static void dmalab_dchan_push(struct dmalab_dchan *dc)
{
	struct dmalab_ddesc *d, *tmp;
	unsigned long flags;
	bool kick = false;
	int ret;

	spin_lock_irqsave(&dc->lock, flags);
	list_for_each_entry_safe(d, tmp, &dc->issued, node) {
		if (d->req) {
			ret = dmalab_req_submit_nowait(d->req);
			if (ret == -EBUSY)
				break;
			if (ret) {
				/* queue stopped: fail it, in order */
				d->result = DMA_TRANS_ABORTED;
				d->done = true;
				kick = true;
			}
		} else {
			/* DMA_INTERRUPT: done once everything before it is */
			d->done = true;
			kick = true;
		}
		list_move_tail(&d->node, &dc->active);
	}
	spin_unlock_irqrestore(&dc->lock, flags);
	if (kick)
		tasklet_schedule(&dc->tasklet);
}

/* Result of a finished descriptor for its callback. */
static enum dmaengine_tx_result dmalab_ddesc_result(struct dmalab_ddesc *d)
{
	struct dmalab_req *req = d->req;

	if (!req || d->result != DMA_TRANS_NOERROR)
		return d->result;
	if (req->err)
		return DMA_TRANS_ABORTED;
	switch (req->status) {
	case DMALAB_STS_OK:
		return DMA_TRANS_NOERROR;
	case DMALAB_STS_DMA_READ:
		return DMA_TRANS_READ_FAILED;
	case DMALAB_STS_DMA_WRITE:
		return DMA_TRANS_WRITE_FAILED;
	default:
		return DMA_TRANS_ABORTED;
	}
}

/* Complete finished descriptors in cookie order, then issue more. */
static void dmalab_dchan_tasklet(struct tasklet_struct *t)
{
	struct dmalab_dchan *dc = from_tasklet(dc, t, tasklet);
	struct dmalab_ddesc *d, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&dc->lock, flags);
	list_for_each_entry_safe(d, tmp, &dc->active, node) {
		/* pairs with smp_store_release() in dmalab_dma_end_io() */
		if (!smp_load_acquire(&d->done))
			break;
		d->result = dmalab_ddesc_result(d);
		if (d->result != DMA_TRANS_NOERROR)
			dmalab_cookie_failed(dc, d->tx.cookie);
		dmalab_cookie_complete(&d->tx);
		list_move_tail(&d->node, &list);
	}
	spin_unlock_irqrestore(&dc->lock, flags);

	list_for_each_entry_safe(d, tmp, &list, node) {
		struct dma_async_tx_descriptor *tx = &d->tx;
		struct dmaengine_result res = { .result = d->result };

		list_del(&d->node);
		dma_descriptor_unmap(tx);
		if (tx->callback_result)
			tx->callback_result(tx->callback_param, &res);
		else if (tx->callback)
			tx->callback(tx->callback_param);
		dma_run_dependencies(tx);
		dmalab_ddesc_free(d);
	}
	dmalab_dchan_push(dc);
}

static dma_cookie_t dmalab_tx_submit(struct dma_async_tx_descriptor *tx)
{
	struct dmalab_ddesc *d = to_ddesc(tx);
	struct dmalab_dchan *dc = d->dc;
	unsigned long flags;
	dma_cookie_t cookie;

	spin_lock_irqsave(&dc->lock, flags);
	cookie = dmalab_cookie_assign(tx);
	list_move_tail(&d->node, &dc->submitted);
	spin_unlock_irqrestore(&dc->lock, flags);
	return cookie;
}

static struct dmalab_ddesc *dmalab_ddesc_alloc(struct dmalab_dchan *dc,
					       unsigned long flags)
{
	struct dmalab_ddesc *d = kzalloc_obj(*d, GFP_NOWAIT);
	unsigned long lflags;

	if (!d)
		return NULL;
	d->dc = dc;
	d->result = DMA_TRANS_NOERROR;
	dma_async_tx_descriptor_init(&d->tx, &dc->chan);
	d->tx.flags = flags;
	d->tx.tx_submit = dmalab_tx_submit;
	spin_lock_irqsave(&dc->lock, lflags);
	list_add_tail(&d->node, &dc->allocated);
	spin_unlock_irqrestore(&dc->lock, lflags);
	return d;
}

static struct dma_async_tx_descriptor *
dmalab_prep_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		   size_t len, unsigned long flags)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	struct dmalab_dev *dd = dc->q->dd;
	struct dmalab_ddesc *d;
	struct dmalab_req *req;

	if (!len || len > dd->max_xfer || dmalab_gone(dd))
		return NULL;
	req = dmalab_req_alloc_gfp(dd, GFP_NOWAIT);
	if (!req)
		return NULL;
	req->q = dc->q;
	req->opcode = DMALAB_OP_COPY;
	req->len = len;
	req->src = src;
	req->dst = dst;
	req->hsrc.kind = DMALAB_HB_DMA;
	req->hdst.kind = DMALAB_HB_DMA;
	req->end_io = dmalab_dma_end_io;
	d = dmalab_ddesc_alloc(dc, flags);
	if (!d) {
		dmalab_req_free(req);
		return NULL;
	}
	req->end_io_data = d;
	d->req = req;
	return &d->tx;
}

static struct dma_async_tx_descriptor *
dmalab_prep_interrupt(struct dma_chan *chan, unsigned long flags)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	struct dmalab_ddesc *d;

	if (dmalab_gone(dc->q->dd))
		return NULL;
	d = dmalab_ddesc_alloc(dc, flags);
	return d ? &d->tx : NULL;
}

static void dmalab_issue_pending(struct dma_chan *chan)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	unsigned long flags;

	spin_lock_irqsave(&dc->lock, flags);
	list_splice_tail_init(&dc->submitted, &dc->issued);
	spin_unlock_irqrestore(&dc->lock, flags);
	dmalab_dchan_push(dc);
}

static enum dma_status dmalab_tx_status(struct dma_chan *chan,
					dma_cookie_t cookie,
					struct dma_tx_state *txstate)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	dma_cookie_t used, complete;
	enum dma_status status;
	unsigned long flags;

	spin_lock_irqsave(&dc->lock, flags);
	used = chan->cookie;
	complete = chan->completed_cookie;
	status = dma_async_is_complete(cookie, complete, used);
	if (status == DMA_COMPLETE && dmalab_cookie_is_failed(dc, cookie))
		status = DMA_ERROR;
	spin_unlock_irqrestore(&dc->lock, flags);
	dma_set_tx_state(txstate, complete, used, 0);
	return status;
}

static int dmalab_alloc_chan_resources(struct dma_chan *chan)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	unsigned long flags;

	spin_lock_irqsave(&dc->lock, flags);
	dmalab_cookie_init(chan);
	memset(dc->err_cookies, 0, sizeof(dc->err_cookies));
	dc->err_next = 0;
	spin_unlock_irqrestore(&dc->lock, flags);
	return 0;
}

/* Drop descriptors not on the hardware yet, without callbacks. */
static int dmalab_terminate_all(struct dma_chan *chan)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	struct dmalab_ddesc *d, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&dc->lock, flags);
	list_splice_tail_init(&dc->submitted, &list);
	list_splice_tail_init(&dc->issued, &list);
	list_for_each_entry(d, &list, node)
		dmalab_cookie_failed(dc, d->tx.cookie);
	spin_unlock_irqrestore(&dc->lock, flags);
	list_for_each_entry_safe(d, tmp, &list, node) {
		list_del(&d->node);
		dma_descriptor_unmap(&d->tx);
		dmalab_ddesc_free(d);
	}
	return 0;
}

/*
 * Wait until the descriptors on the hardware have completed and their
 * callbacks ran; after the timeout the queue is reset, which finishes them.
 */
static void dmalab_synchronize(struct dma_chan *chan)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	unsigned long deadline = dmalab_deadline();
	unsigned long flags;
	bool empty;

	for (;;) {
		spin_lock_irqsave(&dc->lock, flags);
		empty = list_empty(&dc->active);
		spin_unlock_irqrestore(&dc->lock, flags);
		if (empty)
			break;
		if (time_after(jiffies, deadline)) {
			if (!dmalab_check_gone(dc->q->dd))
				dev_err(&dc->q->dd->pdev->dev,
					"dma channel %d: descriptors stuck, resetting queue %u\n",
					chan->chan_id, dc->q->idx);
			/* with the device gone: fails them with -ENODEV */
			dmalab_queue_recover(dc->q, -ETIMEDOUT);
			deadline = dmalab_deadline();
		}
		usleep_range(200, 1000);
	}
	tasklet_kill(&dc->tasklet);
}

static void dmalab_free_chan_resources(struct dma_chan *chan)
{
	struct dmalab_dchan *dc = to_dchan(chan);
	struct dmalab_ddesc *d, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	dmalab_terminate_all(chan);
	dmalab_synchronize(chan);
	/* prepared but never submitted */
	spin_lock_irqsave(&dc->lock, flags);
	list_splice_init(&dc->allocated, &list);
	spin_unlock_irqrestore(&dc->lock, flags);
	list_for_each_entry_safe(d, tmp, &list, node) {
		list_del(&d->node);
		dma_descriptor_unmap(&d->tx);
		dmalab_ddesc_free(d);
	}
}

/* Completions were reaped on the channel's queue: complete, issue more. */
static void dmalab_dchan_reaped(struct dmalab_queue_hook *hook)
{
	struct dmalab_dchan *dc = container_of(hook, struct dmalab_dchan,
					       hook);

	tasklet_schedule(&dc->tasklet);
}

/**
 * dmalab_dma_register() - register the dmaengine provider
 * @dd:		the device, its queues running
 * @nr:		channels wanted (one per queue, the first @nr queues)
 *
 * Return: 0 (also with no channels) or a negative errno.
 */
int dmalab_dma_register(struct dmalab_dev *dd, unsigned int nr)
{
	struct dma_device *dma = &dd->dma;
	unsigned int i;
	int ret;

	nr = min(nr, dd->nr_queues);
	if (!nr)
		return 0;
	dd->dchans = devm_kcalloc(&dd->pdev->dev, nr, sizeof(*dd->dchans),
				  GFP_KERNEL);
	if (!dd->dchans)
		return -ENOMEM;

	dma->dev = &dd->pdev->dev;
	INIT_LIST_HEAD(&dma->channels);
	dma_cap_zero(dma->cap_mask);
	dma_cap_set(DMA_MEMCPY, dma->cap_mask);
	dma_cap_set(DMA_INTERRUPT, dma->cap_mask);
	/* only for clients that ask for a channel of their own */
	dma_cap_set(DMA_PRIVATE, dma->cap_mask);
	dma->copy_align = DMAENGINE_ALIGN_1_BYTE;
	dma->directions = BIT(DMA_MEM_TO_MEM);
	dma->residue_granularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
	dma->device_alloc_chan_resources = dmalab_alloc_chan_resources;
	dma->device_free_chan_resources = dmalab_free_chan_resources;
	dma->device_prep_dma_memcpy = dmalab_prep_memcpy;
	dma->device_prep_dma_interrupt = dmalab_prep_interrupt;
	dma->device_issue_pending = dmalab_issue_pending;
	dma->device_tx_status = dmalab_tx_status;
	dma->device_terminate_all = dmalab_terminate_all;
	dma->device_synchronize = dmalab_synchronize;

	for (i = 0; i < nr; i++) {
		struct dmalab_dchan *dc = &dd->dchans[i];

		dc->q = &dd->queues[i];
		spin_lock_init(&dc->lock);
		INIT_LIST_HEAD(&dc->allocated);
		INIT_LIST_HEAD(&dc->submitted);
		INIT_LIST_HEAD(&dc->issued);
		INIT_LIST_HEAD(&dc->active);
		tasklet_setup(&dc->tasklet, dmalab_dchan_tasklet);
		dc->hook.reaped = dmalab_dchan_reaped;
		dc->chan.device = dma;
		dmalab_cookie_init(&dc->chan);
		list_add_tail(&dc->chan.device_node, &dma->channels);
	}
	dd->nr_dchans = nr;

	ret = dma_async_device_register(dma);
	if (ret) {
		dev_err(&dd->pdev->dev, "dmaengine registration failed (%d)\n",
			ret);
		dd->nr_dchans = 0;
		return ret;
	}
	/* the reaping path kicks channels from now on */
	for (i = 0; i < nr; i++)
		WRITE_ONCE(dd->queues[i].hook, &dd->dchans[i].hook);
	dd->dma_registered = true;
	return 0;
}

/* Before the queues stop: no client may hold a channel any more. */
void dmalab_dma_unregister(struct dmalab_dev *dd)
{
	unsigned int i;

	if (!dd->dma_registered)
		return;
	dma_async_device_unregister(&dd->dma);
	dd->dma_registered = false;
	for (i = 0; i < dd->nr_dchans; i++) {
		WRITE_ONCE(dd->queues[i].hook, NULL);
		tasklet_kill(&dd->dchans[i].tasklet);
	}
}
