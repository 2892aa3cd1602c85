// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: registered buffers.  DMALAB_IOC_REGISTER pins a range of the
 * caller's memory for as long as the registration lasts and maps it for
 * the device once, as io_uring's fixed buffers and RDMA's memory regions
 * do: an op on it (DMALAB_BUF_REGISTERED) then costs no pinning, SG table
 * or mapping, which for a 4 MiB op from 4 KiB pages is 1,024 pages' worth
 * of work per op.  The pages are charged to the process's pinned_vm
 * (VmPin), and against RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK.
 *
 * This file owns the registration: its pages, its mapping, its charge and
 * its lifetime.  dmalab_hbuf_registered() in dmalab_mem.c makes part of it
 * one side of a request.
 */

#include <linux/capability.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmalab.h"

/* Charge @npages to @mm's pinned_vm, within RLIMIT_MEMLOCK. */
static int dmalab_regbuf_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	u64 pinned = atomic64_add_return(npages, &mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

/**
 * dmalab_regbuf_check_vmas() - may the device write [start, end) long-term
 * @mm:		the process
 * @start:	first user address
 * @end:	first address after the range
 *
 * A page the device writes must be written back if it is ever reclaimed:
 * the pages are dirtied when they are unpinned.  A shared file mapping
 * could meanwhile be cleaned by writeback, losing the device's later
 * writes, so such a range is refused where the device may write.  Newer
 * kernels refuse a long-term writable pin of it in GUP already; this
 * gives every kernel the same rule and errno.  The pin that follows runs
 * after mmap_lock is dropped: a process that remaps the range meanwhile
 * can slip a shared mapping past this check on a kernel whose GUP does
 * not refuse it, which harms only its own data.  The pin cache asks the
 * same before it keeps a range.
 *
 * Return: 0; -EFAULT for a hole or memory the process may not write (as
 * the write pin itself would answer); -EOPNOTSUPP for a shared mapping.
 */
int dmalab_regbuf_check_vmas(struct mm_struct *mm, u64 start, u64 end)
{
	struct vm_area_struct *vma;
	u64 addr = start;
	int ret = 0;

	mmap_read_lock(mm);
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			ret = -EFAULT;
			break;
		}
		if ((vma->vm_flags & VM_SHARED) && !is_vm_hugetlb_page(vma)) {
			ret = -EOPNOTSUPP;
			break;
		}
		if (!(vma->vm_flags & VM_WRITE)) {
			ret = -EFAULT;
			break;
		}
		addr = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

/* Pin rb->pages for the registration's life. */
static int dmalab_regbuf_pin(struct dmalab_regbuf *rb)
{
	unsigned int gup = FOLL_LONGTERM | (rb->dev_writes ? FOLL_WRITE : 0);
	unsigned long first = rb->addr & PAGE_MASK;
	unsigned int done = 0;
	int ret;

	rb->pages = kvmalloc_array(rb->npages, sizeof(*rb->pages), GFP_KERNEL);
	if (!rb->pages)
		return -ENOMEM;
	while (done < rb->npages) {
		ret = pin_user_pages_fast(first + (unsigned long)done *
					  PAGE_SIZE, rb->npages - done, gup,
					  rb->pages + done);
		if (ret <= 0) {
			unpin_user_pages(rb->pages, done);
			return ret ? ret : -EFAULT;
		}
		done += ret;
	}
	return 0;
}

/* Map the pinned pages once and note the device's segments. */
static int dmalab_regbuf_map(struct dmalab_dev *dd, struct dmalab_regbuf *rb)
{
	struct device *dev = &dd->pdev->dev;
	struct scatterlist *sg;
	unsigned int i;
	u64 off = 0;
	int ret;

	ret = sg_alloc_table_from_pages_segment(&rb->sgt, rb->pages,
						rb->npages,
						offset_in_page(rb->addr),
						rb->len, dd->max_seg,
						GFP_KERNEL);
	if (ret)
		return ret;
	ret = dma_map_sgtable(dev, &rb->sgt, rb->dir, 0);
	if (ret)
		goto free_table;
	rb->segs = kvmalloc_array(rb->sgt.nents, sizeof(*rb->segs), GFP_KERNEL);
	if (!rb->segs) {
		ret = -ENOMEM;
		goto unmap;
	}
	for_each_sgtable_dma_sg(&rb->sgt, sg, i) {
		rb->segs[i].dma = sg_dma_address(sg);
		rb->segs[i].off = off;
		rb->segs[i].len = sg_dma_len(sg);
		off += sg_dma_len(sg);
		if (dma_need_sync(dev, sg_dma_address(sg)))
			rb->need_sync = true;
	}
	rb->nsegs = rb->sgt.nents;
	atomic64_inc(&dd->stats.mappings);
	return 0;

unmap:
	dma_unmap_sgtable(dev, &rb->sgt, rb->dir, 0);
free_table:
	sg_free_table(&rb->sgt);
	return ret;
}

static void dmalab_regbuf_release(struct kref *ref)
{
	struct dmalab_regbuf *rb = container_of(ref, struct dmalab_regbuf, ref);
	struct dmalab_dev *dd = rb->dd;

	mutex_lock(&dd->regbufs_lock);
	if (rb->mapped) {
		list_del(&rb->dnode);
		dma_unmap_sgtable(&dd->pdev->dev, &rb->sgt, rb->dir, 0);
		rb->mapped = false;
	}
	mutex_unlock(&dd->regbufs_lock);
	sg_free_table(&rb->sgt);
	kvfree(rb->segs);
	unpin_user_pages_dirty_lock(rb->pages, rb->npages, rb->dev_writes);
	kvfree(rb->pages);
	atomic64_sub(rb->npages, &rb->mm->pinned_vm);
	mmdrop(rb->mm);
	kfree(rb);
	dmalab_dev_put(dd);
}

void dmalab_regbuf_get(struct dmalab_regbuf *rb)
{
	kref_get(&rb->ref);
}

void dmalab_regbuf_put(struct dmalab_regbuf *rb)
{
	if (rb)
		kref_put(&rb->ref, dmalab_regbuf_release);
}

/*
 * Whether @f may take a registration of [addr, addr + len): 0, -ENOSPC
 * when it holds its maximum, -EEXIST when the range meets one of its
 * registrations.  f->lock held.
 */
static int dmalab_regbuf_room(struct dmalab_file *f, u64 addr, u64 len)
{
	struct dmalab_regbuf *rb;

	if (f->nregbufs >= DMALAB_REG_MAX)
		return -ENOSPC;
	list_for_each_entry(rb, &f->regbufs, fnode)
		if (addr < rb->addr + rb->len && rb->addr < addr + len)
			return -EEXIST;
	return 0;
}

/**
 * dmalab_regbuf_create() - check, charge, pin and map a new registration
 * @dd:		the device
 * @addr:	user address of the range, in current->mm
 * @len:	bytes, at least 1, within user space
 * @flags:	DMALAB_REGF_*, at least one
 *
 * Called without the file's lock: pinning takes mmap_lock, which mmap
 * takes before the file's lock (dmalab_mmap_cbuf()).
 *
 * Return: the registration with one reference, or an ERR_PTR().
 */
struct dmalab_regbuf *dmalab_regbuf_create(struct dmalab_dev *dd, u64 addr,
					   u64 len, u32 flags)
{
	bool dev_writes = flags & DMALAB_REGF_DEV_WRITES;
	struct dmalab_regbuf *rb;
	int ret;

	if (dev_writes) {
		ret = dmalab_regbuf_check_vmas(current->mm, addr, addr + len);
		if (ret)
			return ERR_PTR(ret);
	}
	rb = kzalloc_obj(*rb, GFP_KERNEL);
	if (!rb)
		return ERR_PTR(-ENOMEM);
	rb->addr = addr;
	rb->len = len;
	rb->dev_reads = flags & DMALAB_REGF_DEV_READS;
	rb->dev_writes = dev_writes;
	if (!rb->dev_reads)
		rb->dir = DMA_FROM_DEVICE;
	else
		rb->dir = dev_writes ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
	rb->npages = ((addr + len - 1) >> PAGE_SHIFT) - (addr >> PAGE_SHIFT) + 1;
	ret = dmalab_regbuf_charge(current->mm, rb->npages);
	if (ret)
		goto free;
	ret = dmalab_regbuf_pin(rb);
	if (ret)
		goto uncharge;
	ret = dmalab_regbuf_map(dd, rb);
	if (ret)
		goto unpin;

	kref_init(&rb->ref);
	rb->dd = dd;
	dmalab_dev_get(dd);
	rb->mm = current->mm;
	mmgrab(rb->mm);
	mutex_lock(&dd->regbufs_lock);
	rb->mapped = true;
	list_add_tail(&rb->dnode, &dd->regbufs);
	mutex_unlock(&dd->regbufs_lock);
	return rb;

unpin:
	unpin_user_pages(rb->pages, rb->npages);
uncharge:
	kvfree(rb->pages);
	atomic64_sub(rb->npages, &current->mm->pinned_vm);
free:
	kfree(rb);
	return ERR_PTR(ret);
}

int dmalab_ioc_register(struct dmalab_file *f, void __user *arg)
{
	struct dmalab_regbuf *rb;
	struct dmalab_register r;
	u64 end;
	int ret;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.size != sizeof(r) || r.rsvd || !r.flags ||
	    r.flags & ~DMALAB_REGF_VALID)
		return -EINVAL;
	if (!r.len || r.len > DMALAB_REG_MAX_LEN ||
	    check_add_overflow(r.addr, r.len, &end))
		return -EINVAL;
	if (r.addr != (unsigned long)r.addr ||
	    !access_ok(u64_to_user_ptr(r.addr), r.len))
		return -EFAULT;

	/* checked before the work, and again when it is done */
	mutex_lock(&f->lock);
	ret = dmalab_regbuf_room(f, r.addr, r.len);
	mutex_unlock(&f->lock);
	if (ret)
		return ret;
	rb = dmalab_regbuf_create(f->dd, r.addr, r.len, r.flags);
	if (IS_ERR(rb))
		return PTR_ERR(rb);
	mutex_lock(&f->lock);
	ret = dmalab_regbuf_room(f, r.addr, r.len);
	if (!ret) {
		list_add_tail(&rb->fnode, &f->regbufs);
		f->nregbufs++;
	}
	mutex_unlock(&f->lock);
	if (ret)
		dmalab_regbuf_put(rb);
	return ret;
}

int dmalab_ioc_unregister(struct dmalab_file *f, void __user *arg)
{
	struct dmalab_regbuf *rb, *found = NULL;
	struct dmalab_register r;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.size != sizeof(r) || r.flags || r.len || r.rsvd)
		return -EINVAL;

	mutex_lock(&f->lock);
	list_for_each_entry(rb, &f->regbufs, fnode) {
		if (rb->addr == r.addr) {
			found = rb;
			list_del(&rb->fnode);
			f->nregbufs--;
			break;
		}
	}
	mutex_unlock(&f->lock);
	if (!found)
		return -ENOENT;
	/* ops in flight hold their own references */
	dmalab_regbuf_put(found);
	return 0;
}

/**
 * dmalab_regbuf_find() - the registration of @f that holds a range
 * @f:		the file
 * @addr:	user address of the range
 * @len:	bytes, at least 1
 *
 * Return: the registration with a reference for the caller, or NULL.
 */
struct dmalab_regbuf *dmalab_regbuf_find(struct dmalab_file *f, u64 addr,
					 size_t len)
{
	struct dmalab_regbuf *rb, *found = NULL;

	mutex_lock(&f->lock);
	list_for_each_entry(rb, &f->regbufs, fnode) {
		if (addr >= rb->addr && addr - rb->addr < rb->len &&
		    len <= rb->len - (addr - rb->addr)) {
			kref_get(&rb->ref);
			found = rb;
			break;
		}
	}
	mutex_unlock(&f->lock);
	return found;
}

/* The file is closed: end its registrations (outside f->lock, as above). */
void dmalab_regbufs_release(struct dmalab_file *f)
{
	struct dmalab_regbuf *rb, *tmp;
	LIST_HEAD(list);

	mutex_lock(&f->lock);
	list_splice_init(&f->regbufs, &list);
	f->nregbufs = 0;
	mutex_unlock(&f->lock);
	list_for_each_entry_safe(rb, tmp, &list, fnode) {
		list_del(&rb->fnode);
		dmalab_regbuf_put(rb);
	}
}

/*
 * Remove: unmap every registration while the device (and its IOMMU
 * domain) still exists, DMA being stopped.  The pages stay pinned until
 * the last reference goes.
 */
void dmalab_regbufs_unmap(struct dmalab_dev *dd)
{
	struct dmalab_regbuf *rb, *tmp;

	mutex_lock(&dd->regbufs_lock);
	list_for_each_entry_safe(rb, tmp, &dd->regbufs, dnode) {
		list_del(&rb->dnode);
		dma_unmap_sgtable(&dd->pdev->dev, &rb->sgt, rb->dir, 0);
		rb->mapped = false;
	}
	mutex_unlock(&dd->regbufs_lock);
}
