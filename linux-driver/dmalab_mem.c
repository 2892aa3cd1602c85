// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: host buffers of requests: pinned user pages mapped as a hardware
 * scatter-gather table, bounce buffers and the mmap-able coherent buffer.
 */

#include <linux/dmapool.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "dmalab.h"

struct dmalab_req *dmalab_req_alloc_gfp(struct dmalab_dev *dd, gfp_t gfp)
{
	struct dmalab_req *req = kmem_cache_zalloc(dmalab_req_cache, gfp);

	if (!req)
		return NULL;
	req->dd = dd;
	init_completion(&req->done);
	INIT_LIST_HEAD(&req->orphan_node);
	return req;
}

struct dmalab_req *dmalab_req_alloc(struct dmalab_dev *dd)
{
	return dmalab_req_alloc_gfp(dd, GFP_KERNEL);
}

/*
 * Count a streaming mapping, and whether the device sees it at another
 * address than the CPU (swiotlb bounce slot or IOMMU IOVA).
 */
void dmalab_count_mapping(struct dmalab_dev *dd, dma_addr_t dma,
			  phys_addr_t phys)
{
	atomic64_inc(&dd->stats.mappings);
	if (dma != phys)
		atomic64_inc(&dd->stats.remapped);
}

/*
 * Process context (unpinning may sleep), unless both buffers were released
 * already (dmalab_hbuf_release_atomic()).
 */
void dmalab_req_free(struct dmalab_req *req)
{
	if (!req)
		return;
	dmalab_hbuf_release(req->dd, &req->hsrc);
	dmalab_hbuf_release(req->dd, &req->hdst);
	kmem_cache_free(dmalab_req_cache, req);
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
 * The device's SG table of a buffer being written: a chain of blocks from
 * the dma_pool, the last entry of a full block linking to the next block.
 */
struct dmalab_sg_writer {
	struct dmalab_hbuf *hb;
	unsigned int left;	/* entries still to add */
	unsigned int b;		/* current block */
	unsigned int e;		/* next entry in it */
};

/* Allocate the blocks for @n segments (n >= 2) and start writing them. */
static int dmalab_sg_begin(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			   unsigned int n, struct dmalab_sg_writer *w)
{
	const unsigned int per = DMALAB_SG_PER_BLOCK;
	unsigned int nblk, rem, b;

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
	hb->hw_addr = hb->blk_dma[0];
	hb->hw_sg = true;
	*w = (struct dmalab_sg_writer){ .hb = hb, .left = n };
	return 0;
}

/* Add the next of the segments dmalab_sg_begin() was told of. */
static void dmalab_sg_add(struct dmalab_sg_writer *w, dma_addr_t addr,
			  u32 len)
{
	struct dmalab_hbuf *hb = w->hb;
	struct dmalab_sg_entry *ent = hb->blk_cpu[w->b];

	if (w->e == DMALAB_SG_PER_BLOCK - 1 && w->left > 1) {
		ent[w->e].addr = cpu_to_le64(hb->blk_dma[w->b + 1]);
		ent[w->e].len = 0;
		ent[w->e].flags = cpu_to_le32(DMALAB_SG_LINK);
		w->b++;
		w->e = 0;
		ent = hb->blk_cpu[w->b];
	}
	ent[w->e].addr = cpu_to_le64(addr);
	ent[w->e].len = cpu_to_le32(len);
	ent[w->e].flags = 0;
	w->e++;
	w->left--;
}

/*
 * Describe the DMA-mapped segments of hb->sgt to the device.  One segment is
 * passed directly; more go into a chain of SG blocks.
 */
static int dmalab_hbuf_build_sg(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	struct dmalab_sg_writer w;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	if (hb->sgt.nents == 1) {
		hb->hw_addr = sg_dma_address(hb->sgt.sgl);
		hb->hw_sg = false;
		return 0;
	}
	ret = dmalab_sg_begin(dd, hb, hb->sgt.nents, &w);
	if (ret)
		return ret;
	for_each_sgtable_dma_sg(&hb->sgt, sg, i)
		dmalab_sg_add(&w, sg_dma_address(sg), sg_dma_len(sg));
	return 0;
}

/*
 * Map hb->pages[0 .. npages) from byte @offset of the first page for @len
 * bytes: an SG table whose segments are at most dd->max_seg bytes, so that
 * no single streaming mapping exceeds what swiotlb can bounce at once.
 */
static int dmalab_hbuf_map_pages(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
				 unsigned int offset, size_t len)
{
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	ret = sg_alloc_table_from_pages_segment(&hb->sgt, hb->pages,
						hb->npages, offset, len,
						dd->max_seg, GFP_KERNEL);
	if (ret)
		return ret;
	hb->sgt_alloc = true;

	ret = dma_map_sgtable(&dd->pdev->dev, &hb->sgt, hb->dir, 0);
	if (ret)
		return ret;
	hb->sgt_mapped = true;

	/* Without an IOMMU the DMA segments match the CPU segments. */
	atomic64_inc(&dd->stats.mappings);
	for_each_sgtable_dma_sg(&hb->sgt, sg, i) {
		if (hb->sgt.nents != hb->sgt.orig_nents ||
		    sg_dma_address(sg) != sg_phys(sg)) {
			atomic64_inc(&dd->stats.remapped);
			break;
		}
	}
	return dmalab_hbuf_build_sg(dd, hb);
}

/**
 * dmalab_iter_seg() - the user address and length of an iterator's segment
 * @it:		the iterator
 * @ubuf:	out: the user address of the current segment
 * @len:	out: bytes of the current segment
 *
 * Return: 0, or -EINVAL for iterators over kernel memory (io_uring fixed
 * buffers, splice), which have no user pages to pin: read/write send them
 * through a bounce buffer before they come here.
 */
static int dmalab_iter_seg(struct iov_iter *it, char __user **ubuf, size_t *len)
{
	if (iter_is_ubuf(it)) {
		*len = iov_iter_count(it);
		*ubuf = it->ubuf + it->iov_offset;
		return 0;
	}
	if (iter_is_iovec(it)) {
		*len = min(iov_iter_count(it),
			   iter_iov(it)->iov_len - it->iov_offset);
		*ubuf = iter_iov(it)->iov_base + it->iov_offset;
		return 0;
	}
	return -EINVAL;
}

/**
 * dmalab_rw_span() - the bytes of device memory a read or write may move
 * @dd:		the device
 * @pos:	device-memory offset of the first byte
 * @count:	bytes asked for
 * @write:	a write
 *
 * Return: @count shortened at the end of device memory; 0 for a read at
 * or past the end (end of file), -ENOSPC for such a write (a full disk).
 */
ssize_t dmalab_rw_span(struct dmalab_dev *dd, loff_t pos, size_t count,
		       bool write)
{
	if ((u64)pos >= dd->devmem_size)
		return write ? -ENOSPC : 0;
	return min_t(u64, count, dd->devmem_size - pos);
}

/**
 * dmalab_rw_walk() - cut a read or write into chunks the device moves
 * @dd:		the device
 * @it:		the user buffers
 * @pos:	device-memory offset of the first byte
 * @count:	bytes to move, within device memory
 * @chunk_fn:	moves (or submits) one chunk: @ctx, its user address, its
 *		device-memory offset, the bytes before it, its length; 0 or
 *		a negative errno, which ends the walk
 * @ctx:	passed to @chunk_fn
 * @err:	out: the error that ended the walk early, or 0
 *
 * The one loop of the read/write paths, synchronous and asynchronous:
 * each segment of @it is cut into chunks of at most dd->rw_chunk bytes,
 * and the iterator advances past every chunk @chunk_fn took.
 *
 * Return: the bytes of the chunks @chunk_fn took.
 */
size_t dmalab_rw_walk(struct dmalab_dev *dd, struct iov_iter *it, loff_t pos,
		      size_t count, dmalab_chunk_fn chunk_fn, void *ctx,
		      int *err)
{
	size_t done = 0;

	*err = 0;
	while (done < count) {
		char __user *ubuf;
		size_t seg, chunk;

		*err = dmalab_iter_seg(it, &ubuf, &seg);
		if (*err)
			break;
		chunk = min3(count - done, seg, (size_t)dd->rw_chunk);
		if (!chunk) {
			/* an empty segment: step over it */
			iov_iter_advance(it, 0);
			if (!iov_iter_count(it))
				break;
			continue;
		}
		*err = chunk_fn(ctx, ubuf, pos + done, done, chunk);
		if (*err)
			break;
		iov_iter_advance(it, chunk);
		done += chunk;
	}
	return done;
}

/**
 * dmalab_hbuf_user() - pin a user buffer and map it for the device
 * @dd:		the device
 * @hb:		host buffer to set up (zeroed)
 * @uaddr:	user address
 * @len:	bytes, at least 1
 * @dev_writes:	the device writes the buffer (DMA_FROM_DEVICE)
 *
 * Pins [uaddr, uaddr + len) and maps it for the device (zero copy).  On
 * error the caller releases the partly set up buffer with
 * dmalab_hbuf_release().
 *
 * Return: 0 or a negative errno.
 */
int dmalab_hbuf_user(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		     unsigned long uaddr, size_t len, bool dev_writes)
{
	unsigned long first = uaddr & PAGE_MASK;
	unsigned int gup = dev_writes ? FOLL_WRITE : 0;
	int ret;

	if (!len || uaddr + len < uaddr)
		return -EINVAL;
	/*
	 * Outside user space is a bad address, whatever GUP would say of it
	 * (6.12 answers EOVERFLOW for a range ending at 2^64, 6.1 EFAULT).
	 */
	if (!access_ok((void __user *)uaddr, len))
		return -EFAULT;
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

	return dmalab_hbuf_map_pages(dd, hb, offset_in_page(uaddr), len);
}

/**
 * dmalab_hbuf_pagebuf() - map part of a page buffer for the device
 * @dd:		the device
 * @hb:		host buffer to set up (zeroed)
 * @pb:		the file's page buffer
 * @off:	byte offset in it
 * @len:	bytes, at least 1
 * @dev_writes:	the device writes the buffer
 *
 * Allocates the pages not touched yet.  The request holds a reference on
 * @pb, which keeps the pages.  On error the caller releases @hb.
 *
 * Return: 0 or a negative errno.
 */
int dmalab_hbuf_pagebuf(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			struct dmalab_pbuf *pb, u64 off, size_t len,
			bool dev_writes)
{
	u64 size = (u64)pb->npages << PAGE_SHIFT;
	unsigned long first;
	unsigned int i;

	if (!len || off >= size || len > size - off)
		return -EINVAL;
	dmalab_pbuf_get(pb);
	hb->kind = DMALAB_HB_PAGEBUF;
	hb->pbuf = pb;
	hb->dir = dev_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	first = off >> PAGE_SHIFT;
	hb->npages = ((off + len - 1) >> PAGE_SHIFT) - first + 1;
	hb->pages = kvmalloc_array(hb->npages, sizeof(*hb->pages),
				   GFP_KERNEL);
	if (!hb->pages)
		return -ENOMEM;
	for (i = 0; i < hb->npages; i++) {
		hb->pages[i] = dmalab_pbuf_page(pb, first + i);
		if (!hb->pages[i])
			return -ENOMEM;
	}
	return dmalab_hbuf_map_pages(dd, hb, offset_in_page(off), len);
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

/*
 * Map a per-transfer bounce buffer for the device (after filling it, for
 * writes).  read/write use it only while the reused buffer is busy.
 */
int dmalab_hbuf_bounce_map(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	struct device *dev = &dd->pdev->dev;

	hb->bounce_dma = dma_map_single(dev, hb->bounce, hb->bounce_len,
					hb->dir);
	if (dma_mapping_error(dev, hb->bounce_dma))
		return -ENOMEM;
	dmalab_count_mapping(dd, hb->bounce_dma, virt_to_phys(hb->bounce));
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

/**
 * dmalab_bounce_init() - allocate and map read/write's reused bounce buffer
 * @dd:		the device, its DMA mask and dd->max_seg set
 *
 * Maps it once, DMA_BIDIRECTIONAL since reads and writes share it, for
 * the device's lifetime: each transfer then only hands it over with
 * dma_sync_single_*() instead of mapping and unmapping it.  One mapping
 * must fit what swiotlb bounces at once, dma_max_mapping_size(), which
 * dd->max_seg respects.
 *
 * Return: 0 or -ENOMEM.
 */
int dmalab_bounce_init(struct dmalab_dev *dd)
{
	struct device *dev = &dd->pdev->dev;
	size_t size = min_t(size_t, DMALAB_BOUNCE_MAX, dd->max_seg);
	unsigned int order = ilog2(size >> PAGE_SHIFT);
	struct page *page;
	dma_addr_t dma;

	/* fragmented memory: a smaller buffer only means more descriptors */
	for (;;) {
		page = alloc_pages(GFP_KERNEL | __GFP_ZERO |
				   (order ? __GFP_NOWARN : 0), order);
		if (page || !order)
			break;
		order--;
	}
	if (!page)
		return -ENOMEM;
	dma = dma_map_page(dev, page, 0, PAGE_SIZE << order,
			   DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, dma)) {
		__free_pages(page, order);
		return -ENOMEM;
	}
	dd->bounce_page = page;
	dd->bounce_cpu = page_address(page);
	dd->bounce_dma = dma;
	dd->bounce_size = PAGE_SIZE << order;
	return 0;
}

/*
 * Remove (or a failed probe): the device no longer does DMA and its
 * interrupts are freed, so no transfer uses the buffer any more; abandoned
 * ones were freed by the orphan work already.
 */
void dmalab_bounce_free(struct dmalab_dev *dd)
{
	if (!dd->bounce_size)
		return;
	dma_unmap_page(&dd->pdev->dev, dd->bounce_dma, dd->bounce_size,
		       DMA_BIDIRECTIONAL);
	__free_pages(dd->bounce_page, get_order(dd->bounce_size));
	dd->bounce_page = NULL;
	dd->bounce_cpu = NULL;
	dd->bounce_size = 0;
}

/**
 * dmalab_hbuf_rwbounce() - lend the reused bounce buffer to a request
 * @dd:		the device; dd->bounce_lock held, dd->bounce_busy clear
 * @hb:		host buffer to set up (zeroed)
 * @len:	bytes, at most dd->bounce_size
 * @dev_writes:	the device writes the buffer
 *
 * The caller syncs the buffer.  While it owns the request it takes the
 * buffer back with memset(hb, 0, ...) before freeing the request; only an
 * abandoned request is freed with the buffer still lent, and its release
 * clears dd->bounce_busy.
 */
void dmalab_hbuf_rwbounce(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			  size_t len, bool dev_writes)
{
	hb->kind = DMALAB_HB_RWBOUNCE;
	hb->dir = dev_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	hb->bounce = dd->bounce_cpu;
	hb->bounce_len = len;
	hb->bounce_dma = dd->bounce_dma;
	hb->hw_addr = dd->bounce_dma;
	hb->hw_sg = false;
	/*
	 * Each transfer through the mapping counts as one, as on the paths
	 * that map per transfer: the counters then tell how many transfers
	 * were bounced (swiotlb) or translated (IOMMU).
	 */
	dmalab_count_mapping(dd, dd->bounce_dma, page_to_phys(dd->bounce_page));
}

/**
 * dmalab_hbuf_coherent() - part of a file's coherent or non-coherent buffer
 * @hb:		the side of the request
 * @cbuf:	the buffer (NULL: none was mapped yet)
 * @off:	offset of the part
 * @len:	its length
 * @dev_writes:	whether the device writes it
 *
 * A coherent buffer needs nothing more: the CPU and the device see the
 * same bytes at all times.  A non-coherent one is handed to the device
 * here (dma_sync_single_for_device: caches written back, and for a range
 * the device writes, no dirty line left to be evicted over its data) and
 * back to the CPU when the request ends (dmalab_hbuf_release).  A range
 * the device writes must cover whole lines of dma_get_cache_alignment():
 * invalidating a partial line would drop what the CPU wrote beside it.
 *
 * Return: 0 or -EINVAL.
 */
int dmalab_hbuf_coherent(struct dmalab_hbuf *hb, struct dmalab_cbuf *cbuf,
			 u64 off, size_t len, bool dev_writes)
{
	struct dmalab_dev *dd;

	if (!cbuf || off > cbuf->size || len > cbuf->size - off)
		return -EINVAL;
	dd = cbuf->dd;
	if (cbuf->page && dev_writes &&
	    !IS_ALIGNED(off | len, dma_get_cache_alignment()))
		return -EINVAL;
	dmalab_cbuf_get(cbuf);
	hb->kind = cbuf->page ? DMALAB_HB_NONCOHERENT : DMALAB_HB_COHERENT;
	hb->cbuf = cbuf;
	hb->hw_addr = cbuf->dma + off;
	hb->hw_sg = false;
	if (cbuf->page) {
		hb->dir = dev_writes ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
		hb->nc_off = off;
		hb->nc_len = len;
		dma_sync_single_for_device(&dd->pdev->dev, cbuf->dma + off, len,
					   hb->dir);
	}
	return 0;
}

/* The first segment of a registration that holds byte @off of it. */
static unsigned int dmalab_regbuf_seg_at(const struct dmalab_regbuf *rb, u64 off)
{
	unsigned int lo = 0, hi = rb->nsegs - 1, mid;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (rb->segs[mid].off <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * Sync the part of a registration a request uses, for the device or for
 * the CPU, segment by segment.  A mapping that needs no sync (coherent,
 * not bounced) skips it all.  @for_cpu: after remove the mapping is gone
 * (dmalab_regbufs_unmap()), and nothing is left to sync.
 */
static void dmalab_hbuf_reg_sync(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
				 bool for_cpu)
{
	struct dmalab_regbuf *rb = hb->rb;
	u64 off = hb->nc_off, end = hb->nc_off + hb->nc_len;
	struct device *dev = &dd->pdev->dev;
	unsigned int i;

	if (!rb->need_sync)
		return;
	i = dmalab_regbuf_seg_at(rb, off);
	mutex_lock(&dd->regbufs_lock);
	for (; rb->mapped && i < rb->nsegs && rb->segs[i].off < end; i++) {
		const struct dmalab_regbuf_seg *s = &rb->segs[i];
		u64 from = max(off, s->off);
		u64 to = min(end, s->off + s->len);
		dma_addr_t dma = s->dma + (from - s->off);

		if (for_cpu)
			dma_sync_single_for_cpu(dev, dma, to - from, rb->dir);
		else
			dma_sync_single_for_device(dev, dma, to - from,
						   rb->dir);
	}
	mutex_unlock(&dd->regbufs_lock);
}

/**
 * dmalab_hbuf_registered() - part of a registration as one side of a request
 * @dd:		the device
 * @hb:		host buffer to set up (zeroed)
 * @rb:		the registration, whose reference @hb takes over
 * @addr:	user address of the range, inside @rb
 * @len:	bytes, at least 1
 * @dev_writes:	the device writes the range
 *
 * No pinning or mapping: the device's segments of the range are those of
 * the registration, cut to the range.  On error the caller releases @hb.
 *
 * Return: 0, -EACCES if the registration does not allow what the request
 * does, -EINVAL for a written range that is not aligned where the mapping
 * needs syncs, or -ENOMEM.
 */
int dmalab_hbuf_registered(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			   struct dmalab_regbuf *rb, u64 addr, size_t len,
			   bool dev_writes)
{
	u64 off = addr - rb->addr, end = off + len, from, to;
	const struct dmalab_regbuf_seg *seg;
	unsigned int first, i, n;
	struct dmalab_sg_writer w;
	int ret;

	hb->kind = DMALAB_HB_REGISTERED;
	hb->rb = rb;
	hb->dir = rb->dir;
	hb->nc_off = off;
	hb->nc_len = len;
	if (dev_writes ? !rb->dev_writes : !rb->dev_reads)
		return -EACCES;
	if (dev_writes && rb->need_sync &&
	    !IS_ALIGNED(addr | len, dma_get_cache_alignment()))
		return -EINVAL;

	first = dmalab_regbuf_seg_at(rb, off);
	seg = &rb->segs[first];
	for (n = 0; first + n < rb->nsegs && seg[n].off < end;)
		n++;
	if (n == 1) {
		hb->hw_addr = seg->dma + (off - seg->off);
		hb->hw_sg = false;
	} else {
		ret = dmalab_sg_begin(dd, hb, n, &w);
		if (ret)
			return ret;
		for (i = 0; i < n; i++) {
			from = max(off, seg[i].off);
			to = min(end, seg[i].off + seg[i].len);
			dmalab_sg_add(&w, seg[i].dma + (from - seg[i].off),
				      to - from);
		}
	}
	dmalab_hbuf_reg_sync(dd, hb, false);
	hb->rb_synced = true;
	return 0;
}

/* The end of a request on a non-coherent buffer: the CPU's turn again. */
static void dmalab_hbuf_sync_for_cpu(struct dmalab_dev *dd,
				     struct dmalab_hbuf *hb)
{
	struct dmalab_cbuf *cb = hb->cbuf;

	/* after remove the memory is gone (dmalab_cbufs_free_dma) */
	mutex_lock(&dd->cbufs_lock);
	if (cb->cpu)
		dma_sync_single_for_cpu(&dd->pdev->dev, cb->dma + hb->nc_off,
					hb->nc_len, hb->dir);
	mutex_unlock(&dd->cbufs_lock);
}

/* Unmap pinned user pages and unpin them, dirtying them if @dirty. */
static void dmalab_hbuf_user_release(struct dmalab_dev *dd,
				     struct dmalab_hbuf *hb, bool dirty)
{
	dmalab_hbuf_free_sg(dd, hb);
	if (hb->sgt_mapped)
		dma_unmap_sgtable(&dd->pdev->dev, &hb->sgt, hb->dir, 0);
	if (hb->sgt_alloc)
		sg_free_table(&hb->sgt);
	if (hb->npinned && dirty)
		unpin_user_pages_dirty_lock(hb->pages, hb->npinned, true);
	else if (hb->npinned)
		unpin_user_pages(hb->pages, hb->npinned);
	kvfree(hb->pages);
}

/**
 * dmalab_hbuf_dirty_early() - dirty the pinned pages the device will write
 * @hb:		a DMALAB_HB_USER buffer for DMA_FROM_DEVICE
 *
 * Process context, at submission: marking a page dirty may sleep, and a
 * buffer whose pages are all still dirty when the transfer ends can be
 * released where sleeping is not allowed (dmalab_hbuf_release_atomic()),
 * as the block layer does for a direct read (bio_set_pages_dirty()).
 */
void dmalab_hbuf_dirty_early(struct dmalab_hbuf *hb)
{
	unsigned int i;

	for (i = 0; i < hb->npinned; i++)
		set_page_dirty_lock(hb->pages[i]);
}

/**
 * dmalab_hbuf_release_atomic() - release a buffer without sleeping
 * @dd:		the device
 * @hb:		host buffer
 *
 * Possible for no buffer, and for pinned user pages that need no dirtying:
 * the device read them, or they were dirtied at submission and nothing
 * (writeback) cleaned them since.  Callable in an interrupt.
 *
 * Return: true if @hb was released; false if it needs dmalab_hbuf_release().
 */
bool dmalab_hbuf_release_atomic(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	unsigned int i;

	if (hb->kind == DMALAB_HB_NONE)
		return true;
	if (hb->kind != DMALAB_HB_USER)
		return false;
	if (hb->dir == DMA_FROM_DEVICE) {
		for (i = 0; i < hb->npinned; i++)
			if (!PageDirty(hb->pages[i]))
				return false;
	}
	dmalab_hbuf_user_release(dd, hb, false);
	memset(hb, 0, sizeof(*hb));
	return true;
}

void dmalab_hbuf_release(struct dmalab_dev *dd, struct dmalab_hbuf *hb)
{
	switch (hb->kind) {
	case DMALAB_HB_USER:
		dmalab_hbuf_user_release(dd, hb, hb->dir == DMA_FROM_DEVICE);
		break;
	case DMALAB_HB_PAGEBUF:
		dmalab_hbuf_free_sg(dd, hb);
		if (hb->sgt_mapped)
			dma_unmap_sgtable(&dd->pdev->dev, &hb->sgt, hb->dir, 0);
		if (hb->sgt_alloc)
			sg_free_table(&hb->sgt);
		kvfree(hb->pages);
		dmalab_pbuf_put(hb->pbuf);
		break;
	case DMALAB_HB_NONCOHERENT:
		dmalab_hbuf_sync_for_cpu(dd, hb);
		dmalab_cbuf_put(hb->cbuf);
		break;
	case DMALAB_HB_REGISTERED:
		dmalab_hbuf_free_sg(dd, hb);
		if (hb->rb_synced)
			dmalab_hbuf_reg_sync(dd, hb, true);
		dmalab_regbuf_put(hb->rb);
		break;
	case DMALAB_HB_COHERENT:
		dmalab_cbuf_put(hb->cbuf);
		break;
	case DMALAB_HB_BOUNCE:
		dmalab_hbuf_bounce_unmap(dd, hb);
		kfree(hb->bounce);
		break;
	case DMALAB_HB_RWBOUNCE:
		/*
		 * Only an abandoned request gets here (from the orphan work),
		 * once the device completed it or its queue was reset: no DMA
		 * to the buffer is left, transfers may use it again.
		 */
		mutex_lock(&dd->bounce_lock);
		dd->bounce_busy = false;
		mutex_unlock(&dd->bounce_lock);
		break;
	case DMALAB_HB_NONE:
	case DMALAB_HB_DMA:
		break;
	}
	memset(hb, 0, sizeof(*hb));
}

/* Free the memory of a buffer (its cbufs_lock held). */
static void dmalab_cbuf_free_mem(struct dmalab_cbuf *cb)
{
	struct device *dev = &cb->dd->pdev->dev;

	if (cb->page)
		dma_free_pages(dev, cb->size, cb->page, cb->dma,
			       DMA_BIDIRECTIONAL);
	else
		dma_free_coherent(dev, cb->size, cb->cpu, cb->dma);
	cb->cpu = NULL;
}

/**
 * dmalab_cbuf_alloc() - a file's mmap-able DMA buffer
 * @dd:		the device
 * @size:	bytes
 * @noncoherent: pages from dma_alloc_pages() (the device's view of them
 *		kept right by syncs) instead of dma_alloc_coherent() memory
 *
 * Return: the buffer, with one reference, or NULL without memory.
 */
struct dmalab_cbuf *dmalab_cbuf_alloc(struct dmalab_dev *dd, size_t size,
				      bool noncoherent)
{
	struct dmalab_cbuf *cb = kzalloc_obj(*cb, GFP_KERNEL);

	if (!cb)
		return NULL;
	if (noncoherent) {
		cb->page = dma_alloc_pages(&dd->pdev->dev, size, &cb->dma,
					   DMA_BIDIRECTIONAL, GFP_KERNEL);
		cb->cpu = cb->page ? page_address(cb->page) : NULL;
	} else {
		cb->cpu = dma_alloc_coherent(&dd->pdev->dev, size, &cb->dma,
					     GFP_KERNEL);
	}
	if (!cb->cpu) {
		kfree(cb);
		return NULL;
	}
	kref_init(&cb->ref);
	cb->size = size;
	cb->dd = dd;
	dmalab_dev_get(dd);
	mutex_lock(&dd->cbufs_lock);
	list_add_tail(&cb->node, &dd->cbufs);
	mutex_unlock(&dd->cbufs_lock);
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

	mutex_lock(&dd->cbufs_lock);
	if (cb->cpu) {
		list_del(&cb->node);
		dmalab_cbuf_free_mem(cb);
	}
	mutex_unlock(&dd->cbufs_lock);
	kfree(cb);
	dmalab_dev_put(dd);
}

/*
 * Remove: free the memory of every coherent buffer while the device (and
 * its IOMMU domain) still exists.  Their mappings are zapped and the
 * queues stopped; the structures live on until their last reference.
 */
void dmalab_cbufs_free_dma(struct dmalab_dev *dd)
{
	struct dmalab_cbuf *cb, *tmp;

	mutex_lock(&dd->cbufs_lock);
	list_for_each_entry_safe(cb, tmp, &dd->cbufs, node) {
		list_del(&cb->node);
		dmalab_cbuf_free_mem(cb);
	}
	mutex_unlock(&dd->cbufs_lock);
}

void dmalab_cbuf_put(struct dmalab_cbuf *cb)
{
	if (cb)
		kref_put(&cb->ref, dmalab_cbuf_release);
}

/* ---- page buffer (mmap region 3) ------------------------------------- */

struct dmalab_pbuf *dmalab_pbuf_alloc(struct dmalab_dev *dd)
{
	struct dmalab_pbuf *pb = kzalloc_obj(*pb, GFP_KERNEL);

	if (!pb)
		return NULL;
	pb->npages = DMALAB_PAGEBUF_SIZE >> PAGE_SHIFT;
	pb->pages = kvcalloc(pb->npages, sizeof(*pb->pages), GFP_KERNEL);
	if (!pb->pages) {
		kfree(pb);
		return NULL;
	}
	kref_init(&pb->ref);
	mutex_init(&pb->lock);
	pb->dd = dd;
	return pb;
}

void dmalab_pbuf_get(struct dmalab_pbuf *pb)
{
	kref_get(&pb->ref);
}

static void dmalab_pbuf_release(struct kref *ref)
{
	struct dmalab_pbuf *pb = container_of(ref, struct dmalab_pbuf, ref);
	unsigned long i;

	for (i = 0; i < pb->npages; i++) {
		if (pb->pages[i])
			put_page(pb->pages[i]);
	}
	kvfree(pb->pages);
	mutex_destroy(&pb->lock);
	kfree(pb);
}

void dmalab_pbuf_put(struct dmalab_pbuf *pb)
{
	if (pb)
		kref_put(&pb->ref, dmalab_pbuf_release);
}

/**
 * dmalab_pbuf_page() - page @idx of a page buffer, allocated on first use
 * @pb:		the page buffer
 * @idx:	page index, below pb->npages
 *
 * Return: the page (the buffer keeps its reference) or NULL without memory.
 */
struct page *dmalab_pbuf_page(struct dmalab_pbuf *pb, unsigned long idx)
{
	struct page *page;

	if (idx >= pb->npages)
		return NULL;
	mutex_lock(&pb->lock);
	page = pb->pages[idx];
	if (!page) {
		page = alloc_page(GFP_HIGHUSER | __GFP_ZERO);
		pb->pages[idx] = page;
	}
	mutex_unlock(&pb->lock);
	return page;
}
