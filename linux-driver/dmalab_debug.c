// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: teaching and TEST-ONLY interfaces, all CAP_SYS_ADMIN only.
 *
 *   DMALAB_IOC_DMA_ADDRS    the bus addresses a user buffer is mapped at
 *   DMALAB_IOC_TEST_STALE   TEST ONLY: DMA to a bus address already unmapped
 *   DMALAB_IOC_TEST_STREAM  TEST ONLY: a reused streaming buffer, with the
 *                           dma_sync_* calls skippable (debugfs
 *                           test_skip_sync) to show what they do
 *
 * A production driver has none of this: it exists so the tests (and
 * students) can see what the DMA API does with an IOMMU or swiotlb.
 */

#include <linux/capability.h>
#include <linux/iommu.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmalab.h"

#define DMALAB_DMA_ADDRS_MAX	4096

int dmalab_ioc_dma_addrs(struct dmalab_dev *dd, void __user *arg)
{
	struct dmalab_dma_seg *segs = NULL;
	struct dmalab_hbuf hb = { };
	struct dmalab_dma_addrs a;
	struct scatterlist *sg, *cpu_sg;
	unsigned int i, n;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.size != sizeof(a) || a.count || a.rsvd || a.write > 1)
		return -EINVAL;
	if (!a.max || a.max > DMALAB_DMA_ADDRS_MAX)
		return -EINVAL;
	if (!a.len || a.len > dd->max_xfer)
		return -EINVAL;
	if (a.uaddr != (unsigned long)a.uaddr)
		return -EFAULT;

	ret = dmalab_hbuf_user(dd, &hb, a.uaddr, a.len, a.write);
	if (ret)
		goto release;
	n = hb.sgt.nents;
	a.count = n;
	if (n > a.max) {
		ret = copy_to_user(arg, &a, sizeof(a)) ? -EFAULT : -EOVERFLOW;
		goto release;
	}
	segs = kvcalloc(n, sizeof(*segs), GFP_KERNEL);
	if (!segs) {
		ret = -ENOMEM;
		goto release;
	}
	/* CPU segments match DMA segments unless an IOMMU merged them. */
	cpu_sg = hb.sgt.sgl;
	for_each_sgtable_dma_sg(&hb.sgt, sg, i) {
		segs[i].bus = sg_dma_address(sg);
		segs[i].len = sg_dma_len(sg);
		if (i == 0 || hb.sgt.nents == hb.sgt.orig_nents)
			segs[i].phys = sg_phys(cpu_sg);
		cpu_sg = sg_next(cpu_sg);
		if (!cpu_sg)
			cpu_sg = hb.sgt.sgl;
	}
	if (copy_to_user(u64_to_user_ptr(a.segs), segs,
			 array_size(n, sizeof(*segs))) ||
	    copy_to_user(arg, &a, sizeof(a)))
		ret = -EFAULT;
release:
	kvfree(segs);
	dmalab_hbuf_release(dd, &hb);
	return ret;
}

/*
 * Is a DMA to @dma, unmapped from a buffer the driver still owns, safe?
 * Yes if the device sees physical addresses (it lands in the buffer) or an
 * IOMMU translates them (it faults, or lands in the buffer until the IOTLB
 * flush); not if it is a swiotlb slot, which someone else may use by now.
 */
static bool dmalab_stale_safe(struct dmalab_dev *dd, dma_addr_t dma,
			      void *buf)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(&dd->pdev->dev);

	if (dma == virt_to_phys(buf))
		return true;
	return dom && (dom->type & __IOMMU_DOMAIN_PAGING);
}

int dmalab_ioc_test_stale(struct dmalab_dev *dd, void __user *arg)
{
	struct device *dev = &dd->pdev->dev;
	enum dma_data_direction dir;
	struct dmalab_test_stale t;
	struct dmalab_req *req;
	struct dmalab_hbuf *hb;
	dma_addr_t dma;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&t, arg, sizeof(t)))
		return -EFAULT;
	if (!t.len || t.len > PAGE_SIZE || t.write > 1 || t.status ||
	    t.rsvd || t.bus || t.len > dd->devmem_size)
		return -EINVAL;

	req = dmalab_req_alloc(dd);
	if (!req)
		return -ENOMEM;
	/*
	 * The buffer belongs to the request (freed with it, also when the
	 * request is abandoned), so a DMA that does reach it is harmless.
	 */
	hb = t.write ? &req->hdst : &req->hsrc;
	dir = t.write ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	ret = dmalab_hbuf_bounce(dd, hb, PAGE_SIZE, t.write);
	if (ret)
		goto free_req;
	dma = dma_map_single(dev, hb->bounce, PAGE_SIZE, dir);
	if (dma_mapping_error(dev, dma)) {
		ret = -ENOMEM;
		goto free_req;
	}
	dma_unmap_single(dev, dma, PAGE_SIZE, dir);
	if (!dmalab_stale_safe(dd, dma, hb->bounce)) {
		ret = -EOPNOTSUPP;
		goto free_req;
	}

	req->q = dmalab_pick_queue(dd);
	req->len = t.len;
	if (t.write) {
		req->opcode = DMALAB_OP_D2H;
		req->src = 0;
		req->dst = dma;
	} else {
		/* writes the last bytes of device memory if it gets through */
		req->opcode = DMALAB_OP_H2D;
		req->src = dma;
		req->dst = dd->devmem_size - t.len;
	}
	ret = dmalab_run(req);
	if (ret == -ERESTARTSYS)
		return ret;
	if (!ret) {
		t.status = req->status;
		t.bus = dma;
		if (copy_to_user(arg, &t, sizeof(t)))
			ret = -EFAULT;
	}
free_req:
	dmalab_req_free(req);
	return ret;
}

/* The streaming buffer of DMALAB_IOC_TEST_STREAM; dd->test_lock held. */
static int dmalab_test_buf_get(struct dmalab_dev *dd)
{
	struct device *dev = &dd->pdev->dev;

	if (dd->test_buf)
		return 0;
	dd->test_buf = kzalloc(DMALAB_TEST_BUF_SIZE, GFP_KERNEL);
	if (!dd->test_buf)
		return -ENOMEM;
	dd->test_dma = dma_map_single(dev, dd->test_buf, DMALAB_TEST_BUF_SIZE,
				      DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, dd->test_dma)) {
		kfree(dd->test_buf);
		dd->test_buf = NULL;
		return -ENOMEM;
	}
	dmalab_count_mapping(dd, dd->test_dma, virt_to_phys(dd->test_buf));
	return 0;
}

/* On remove, once the queues are stopped. */
void dmalab_test_buf_free(struct dmalab_dev *dd)
{
	if (!dd->test_buf)
		return;
	dma_unmap_single(&dd->pdev->dev, dd->test_dma, DMALAB_TEST_BUF_SIZE,
			 DMA_BIDIRECTIONAL);
	kfree(dd->test_buf);
	dd->test_buf = NULL;
}

int dmalab_ioc_test_stream(struct dmalab_dev *dd, void __user *arg)
{
	struct device *dev = &dd->pdev->dev;
	void __user *ubuf;
	struct dmalab_test_stream t;
	struct dmalab_req *req;
	bool skip;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&t, arg, sizeof(t)))
		return -EFAULT;
	if (!t.len || t.len > DMALAB_TEST_BUF_SIZE || t.len > dd->max_xfer ||
	    t.write > 1 || t.status || t.rsvd)
		return -EINVAL;
	if (t.devmem >= dd->devmem_size || t.len > dd->devmem_size - t.devmem)
		return -EINVAL;
	if (t.uaddr != (unsigned long)t.uaddr)
		return -EFAULT;
	ubuf = u64_to_user_ptr(t.uaddr);

	req = dmalab_req_alloc(dd);
	if (!req)
		return -ENOMEM;
	mutex_lock(&dd->test_lock);
	ret = dmalab_test_buf_get(dd);
	if (ret)
		goto unlock;
	skip = READ_ONCE(dd->test_skip_sync);
	req->q = dmalab_pick_queue(dd);
	req->len = t.len;
	req->hsrc.kind = DMALAB_HB_DMA;
	req->hdst.kind = DMALAB_HB_DMA;
	if (t.write) {
		if (copy_from_user(dd->test_buf, ubuf, t.len)) {
			ret = -EFAULT;
			goto unlock;
		}
		/* hand the CPU's writes to the device (swiotlb: copy in) */
		if (!skip)
			dma_sync_single_for_device(dev, dd->test_dma, t.len,
						   DMA_TO_DEVICE);
		req->opcode = DMALAB_OP_H2D;
		req->src = dd->test_dma;
		req->dst = t.devmem;
	} else {
		req->opcode = DMALAB_OP_D2H;
		req->src = t.devmem;
		req->dst = dd->test_dma;
	}
	ret = dmalab_run(req);
	if (ret == -ERESTARTSYS) {
		/* abandoned: the buffer stays mapped until remove */
		mutex_unlock(&dd->test_lock);
		return ret;
	}
	if (ret)
		goto unlock;
	t.status = req->status;
	if (!t.write && req->status == DMALAB_STS_OK) {
		/* take the device's writes back (swiotlb: copy out) */
		if (!skip)
			dma_sync_single_for_cpu(dev, dd->test_dma, t.len,
						DMA_FROM_DEVICE);
		if (copy_to_user(ubuf, dd->test_buf, t.len))
			ret = -EFAULT;
	}
	if (!ret && copy_to_user(arg, &t, sizeof(t)))
		ret = -EFAULT;
unlock:
	mutex_unlock(&dd->test_lock);
	dmalab_req_free(req);
	return ret;
}
