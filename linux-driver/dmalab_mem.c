// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: host buffers of requests: pinned user pages mapped as a hardware
 * scatter-gather table, bounce buffers and the mmap-able coherent buffer.
 */

#include <linux/dmapool.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "dmalab.h"

struct dmalab_req *dmalab_req_alloc(struct dmalab_dev *dd)
{
	struct dmalab_req *req = kzalloc(sizeof(*req), GFP_KERNEL);

	if (!req)
		return NULL;
	req->dd = dd;
	init_completion(&req->done);
	INIT_LIST_HEAD(&req->orphan_node);
	return req;
}

/* Must be called in process context: unpinning may sleep. */
void dmalab_req_free(struct dmalab_req *req)
{
	if (!req)
		return;
	dmalab_hbuf_release(req->dd, &req->hsrc);
	dmalab_hbuf_release(req->dd, &req->hdst);
	kfree(req);
}

static void dmalab_hbuf_free_sg(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	unsigned int i;

	for (i = 0; i < hb->nblk; i++)
		dma_pool_free(dd->sg_pool, hb->blk_cpu[i], hb->blk_dma[i]);
	kfree(hb->blk_cpu);
	kfree(hb->blk_dma);
	hb->blk_cpu = NULL;
	hb->blk_dma = NULL;
	hb->nblk = 0;
}

/*
 * Describe the DMA-mapped segments of hb->sgt to the device.  One segment is
 * passed directly; more go into a chain of SG blocks from the dma_pool, the
 * last entry of a full block linking to the next block.
 */
static int dmalab_hbuf_build_sg(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	const unsigned int per = DMALAB_SG_PER_BLOCK;
	unsigned int n = hb->sgt.nents;
	unsigned int nblk, rem, b, e, i;
	struct dmalab_sg_entry *ent;
	struct scatterlist *sg;

	if (n == 1) {
		hb->hw_addr = sg_dma_address(hb->sgt.sgl);
		hb->hw_sg = false;
		return 0;
	}

	nblk = 1;
	for (rem = n; rem > per; rem -= per - 1)
		nblk++;
	hb->blk_cpu = kcalloc(nblk, sizeof(*hb->blk_cpu), GFP_KERNEL);
	hb->blk_dma = kcalloc(nblk, sizeof(*hb->blk_dma), GFP_KERNEL);
	if (!hb->blk_cpu || !hb->blk_dma)
		return -ENOMEM;
	for (b = 0; b < nblk; b++) {
		hb->blk_cpu[b] = dma_pool_alloc(dd->sg_pool, GFP_KERNEL,
						&hb->blk_dma[b]);
		if (!hb->blk_cpu[b])
			return -ENOMEM;
		hb->nblk++;
	}

	b = 0;
	e = 0;
	ent = hb->blk_cpu[0];
	for_each_sgtable_dma_sg(&hb->sgt, sg, i) {
		if (e == per - 1 && n - i > 1) {
			ent[e].addr = cpu_to_le64(hb->blk_dma[b + 1]);
			ent[e].len = 0;
			ent[e].flags = cpu_to_le32(DMALAB_SG_LINK);
			b++;
			e = 0;
			ent = hb->blk_cpu[b];
		}
		ent[e].addr = cpu_to_le64(sg_dma_address(sg));
		ent[e].len = cpu_to_le32(sg_dma_len(sg));
		ent[e].flags = 0;
		e++;
	}
	hb->hw_addr = hb->blk_dma[0];
	hb->hw_sg = true;
	return 0;
}

/*
 * Pin [uaddr, uaddr + len) and map it for the device (zero copy).  On error
 * the caller releases the partly set up buffer with dmalab_hbuf_release().
 */
int dmalab_hbuf_user(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		     unsigned long uaddr, size_t len, bool dev_writes)
{
	unsigned long first = uaddr & PAGE_MASK;
	unsigned int gup = dev_writes ? FOLL_WRITE : 0;
	int ret;

	if (!len || uaddr + len < uaddr)
		return -EINVAL;
	hb->kind = DMALAB_HB_USER;
	hb->dir = dev_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	hb->npages = ((uaddr + len - 1) >> PAGE_SHIFT) -
		     (uaddr >> PAGE_SHIFT) + 1;
	hb->pages = kvmalloc_array(hb->npages, sizeof(*hb->pages),
				   GFP_KERNEL);
	if (!hb->pages)
		return -ENOMEM;

	while (hb->npinned < hb->npages) {
		ret = pin_user_pages_fast(first + hb->npinned * PAGE_SIZE,
					  hb->npages - hb->npinned, gup,
					  hb->pages + hb->npinned);
		if (ret <= 0)
			return ret ? ret : -EFAULT;
		hb->npinned += ret;
	}

	ret = sg_alloc_table_from_pages(&hb->sgt, hb->pages, hb->npages,
					offset_in_page(uaddr), len, GFP_KERNEL);
	if (ret)
		return ret;
	hb->sgt_alloc = true;

	ret = dma_map_sgtable(&dd->pdev->dev, &hb->sgt, hb->dir, 0);
	if (ret)
		return ret;
	hb->sgt_mapped = true;

	return dmalab_hbuf_build_sg(dd, hb);
}

int dmalab_hbuf_bounce(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		       size_t len, bool dev_writes)
{
	hb->kind = DMALAB_HB_BOUNCE;
	hb->dir = dev_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	hb->bounce = kmalloc(len, GFP_KERNEL);
	if (!hb->bounce)
		return -ENOMEM;
	hb->bounce_len = len;
	return 0;
}

/* Map the bounce buffer for the device (after filling it, for writes). */
int dmalab_hbuf_bounce_map(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	struct device *dev = &dd->pdev->dev;

	hb->bounce_dma = dma_map_single(dev, hb->bounce, hb->bounce_len,
					hb->dir);
	if (dma_mapping_error(dev, hb->bounce_dma))
		return -ENOMEM;
	hb->bounce_mapped = true;
	hb->hw_addr = hb->bounce_dma;
	hb->hw_sg = false;
	return 0;
}

/* Give the bounce buffer back to the CPU (before reading it, for reads). */
void dmalab_hbuf_bounce_unmap(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	if (!hb->bounce_mapped)
		return;
	dma_unmap_single(&dd->pdev->dev, hb->bounce_dma, hb->bounce_len,
			 hb->dir);
	hb->bounce_mapped = false;
}

int dmalab_hbuf_coherent(struct dmalab_hbuf *hb, struct dmalab_cbuf *cbuf,
			 u64 off, size_t len)
{
	if (!cbuf || off > cbuf->size || len > cbuf->size - off)
		return -EINVAL;
	dmalab_cbuf_get(cbuf);
	hb->kind = DMALAB_HB_COHERENT;
	hb->cbuf = cbuf;
	hb->hw_addr = cbuf->dma + off;
	hb->hw_sg = false;
	return 0;
}

void dmalab_hbuf_release(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	switch (hb->kind) {
	case DMALAB_HB_USER:
		dmalab_hbuf_free_sg(dd, hb);
		if (hb->sgt_mapped)
			dma_unmap_sgtable(&dd->pdev->dev, &hb->sgt, hb->dir, 0);
		if (hb->sgt_alloc)
			sg_free_table(&hb->sgt);
		if (hb->npinned)
			unpin_user_pages_dirty_lock(hb->pages, hb->npinned,
						    hb->dir == DMA_FROM_DEVICE);
		kvfree(hb->pages);
		break;
	case DMALAB_HB_COHERENT:
		dmalab_cbuf_put(hb->cbuf);
		break;
	case DMALAB_HB_BOUNCE:
		dmalab_hbuf_bounce_unmap(dd, hb);
		kfree(hb->bounce);
		break;
	case DMALAB_HB_NONE:
		break;
	}
	memset(hb, 0, sizeof(*hb));
}

struct dmalab_cbuf *dmalab_cbuf_alloc(struct dmalab_dev *dd, size_t size)
{
	struct dmalab_cbuf *cb = kzalloc(sizeof(*cb), GFP_KERNEL);

	if (!cb)
		return NULL;
	cb->cpu = dma_alloc_coherent(&dd->pdev->dev, size, &cb->dma,
				     GFP_KERNEL);
	if (!cb->cpu) {
		kfree(cb);
		return NULL;
	}
	kref_init(&cb->ref);
	cb->size = size;
	cb->dd = dd;
	dmalab_dev_get(dd);
	return cb;
}

void dmalab_cbuf_get(struct dmalab_cbuf *cb)
{
	kref_get(&cb->ref);
}

static void dmalab_cbuf_release(struct kref *ref)
{
	struct dmalab_cbuf *cb = container_of(ref, struct dmalab_cbuf, ref);
	struct dmalab_dev *dd = cb->dd;

	dma_free_coherent(&dd->pdev->dev, cb->size, cb->cpu, cb->dma);
	kfree(cb);
	dmalab_dev_put(dd);
}

void dmalab_cbuf_put(struct dmalab_cbuf *cb)
{
	if (cb)
		kref_put(&cb->ref, dmalab_cbuf_release);
}
