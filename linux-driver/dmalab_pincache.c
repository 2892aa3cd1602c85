// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: the pin cache.  An op on an ordinary user buffer pins, maps,
 * unmaps and unpins every page of it (dmalab_hbuf_user()): 1,024 pages'
 * worth of work for 4 MiB of 4 KiB pages, paid again by every op, although
 * programs mostly use the same buffers again and again.  So when an op
 * uses a range of DMALAB_PC_MIN_LEN or more that an op of the same file
 * used lately, the driver registers the range itself: a dmalab_regbuf,
 * pinned long-term, mapped once and charged to the process's VmPin as an
 * explicit registration is, that later ops on any part of it use.
 *
 * The entry stays right through an MMU interval notifier on its range.
 * Whatever changes the process's mapping of it (munmap, mremap, a new
 * mapping over it, MADV_DONTNEED, mprotect, fork's write protection, exit)
 * invalidates the entry, and the next op pins the range afresh, as GPU
 * drivers keep their userptr objects and RDMA its on-demand-paging memory
 * regions.  An op given the old pages before keeps them, just as one that
 * pinned them itself would.
 *
 * Only private (or hugetlb) writable ranges are kept, the device being
 * free to write them; ranges the process's RLIMIT_MEMLOCK cannot take are
 * not: their ops pin per op as before, and see no error.
 */

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmalab.h"

/* Smaller ops gain little: pinning a few pages costs little. */
#define DMALAB_PC_MIN_LEN	SZ_64K
/* What one file may keep pinned this way. */
#define DMALAB_PC_MAX_ENTRIES	8
#define DMALAB_PC_MAX_BYTES	SZ_256M
/* Pins of a range that changed meanwhile before it is left uncached. */
#define DMALAB_PC_PIN_TRIES	3

struct dmalab_pc_entry {
	struct list_head node;		/* in f->pc.entries */
	struct mmu_interval_notifier notifier;
	unsigned long seq;		/* the notifier's, when pinned */
	struct dmalab_regbuf *rb;
	struct dmalab_file *f;
};

/*
 * Whether the process's mapping of the entry's range changed since it was
 * pinned.  Without a lock: an invalidation that begins just after the
 * check leaves the op with the pages it had, as a pin just before a
 * munmap would.
 */
static bool dmalab_pc_stale(struct dmalab_pc_entry *e)
{
	return mmu_interval_check_retry(&e->notifier, e->seq);
}

/*
 * Called by the MM before it changes the mapping of the range, possibly
 * where nothing may sleep: note it, and let the reap work drop the entry.
 */
static bool dmalab_pc_invalidate(struct mmu_interval_notifier *sub,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq)
{
	struct dmalab_pc_entry *e = container_of(sub, struct dmalab_pc_entry,
						 notifier);

	mmu_interval_set_seq(sub, cur_seq);
	schedule_work(&e->f->pc.reap);
	return true;
}

static const struct mmu_interval_notifier_ops dmalab_pc_ops = {
	.invalidate = dmalab_pc_invalidate,
};

/* Drop entries taken off the cache: no lock held, may sleep. */
static void dmalab_pc_drop(struct dmalab_dev *dd, struct list_head *list)
{
	struct dmalab_pc_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, list, node) {
		list_del(&e->node);
		/* waits for an invalidation of the range in progress */
		mmu_interval_notifier_remove(&e->notifier);
		dmalab_regbuf_put(e->rb);
		kfree(e);
		atomic64_inc(&dd->stats.pc_drops);
	}
}

/* Take @e off the cache onto @list.  pc->lock held. */
static void dmalab_pc_unlink(struct dmalab_pincache *pc,
			     struct dmalab_pc_entry *e, struct list_head *list)
{
	list_move(&e->node, list);
	pc->nentries--;
	pc->bytes -= e->rb->len;
}

static void dmalab_pc_reap(struct work_struct *work)
{
	struct dmalab_file *f = container_of(work, struct dmalab_file,
					     pc.reap);
	struct dmalab_pincache *pc = &f->pc;
	struct dmalab_pc_entry *e, *tmp;
	LIST_HEAD(dead);

	spin_lock(&pc->lock);
	list_for_each_entry_safe(e, tmp, &pc->entries, node)
		if (dmalab_pc_stale(e))
			dmalab_pc_unlink(pc, e, &dead);
	spin_unlock(&pc->lock);
	dmalab_pc_drop(f->dd, &dead);
}

void dmalab_pincache_init(struct dmalab_file *f)
{
	spin_lock_init(&f->pc.lock);
	INIT_LIST_HEAD(&f->pc.entries);
	INIT_WORK(&f->pc.reap, dmalab_pc_reap);
}

/* A valid entry of @f holding the range, with a reference; or NULL. */
static struct dmalab_regbuf *dmalab_pc_lookup(struct dmalab_pincache *pc,
					      u64 addr, size_t len)
{
	struct dmalab_regbuf *rb, *found = NULL;
	struct dmalab_pc_entry *e;

	spin_lock(&pc->lock);
	list_for_each_entry(e, &pc->entries, node) {
		rb = e->rb;
		if (rb->mm != current->mm || addr < rb->addr ||
		    addr - rb->addr >= rb->len ||
		    len > rb->len - (addr - rb->addr) || dmalab_pc_stale(e))
			continue;
		dmalab_regbuf_get(rb);
		list_move(&e->node, &pc->entries);
		found = rb;
		break;
	}
	spin_unlock(&pc->lock);
	return found;
}

/*
 * Whether an op of the file used the range lately; if not, remember it.
 * A range is kept at its second use, so that a buffer used once costs no
 * long-term pin.
 */
static bool dmalab_pc_seen(struct dmalab_pincache *pc, u64 addr, size_t len)
{
	struct dmalab_pc_seen *s;
	unsigned int i;
	bool seen = false;

	spin_lock(&pc->lock);
	for (i = 0; i < DMALAB_PC_SEEN; i++) {
		s = &pc->seen[i];
		if (s->mm == current->mm && s->addr == addr && s->len == len) {
			s->mm = NULL;
			seen = true;
			break;
		}
	}
	if (!seen) {
		s = &pc->seen[pc->seen_next++ % DMALAB_PC_SEEN];
		*s = (struct dmalab_pc_seen){
			.mm = current->mm, .addr = addr, .len = len,
		};
	}
	spin_unlock(&pc->lock);
	return seen;
}

/* Keep the range: a new entry, with a reference for the caller; or NULL. */
static struct dmalab_regbuf *dmalab_pc_fill(struct dmalab_file *f, u64 addr,
					    size_t len)
{
	struct dmalab_pincache *pc = &f->pc;
	struct dmalab_pc_entry *e, *old;
	struct dmalab_regbuf *rb;
	LIST_HEAD(evicted);
	int tries;

	/* the rule of a registration the device writes */
	if (dmalab_regbuf_check_vmas(current->mm, addr, addr + len))
		return NULL;
	e = kzalloc_obj(*e, GFP_KERNEL);
	if (!e)
		return NULL;
	e->f = f;
	/* watched before it is pinned: no change can slip in between */
	if (mmu_interval_notifier_insert(&e->notifier, current->mm, addr, len,
					 &dmalab_pc_ops)) {
		kfree(e);
		return NULL;
	}
	/*
	 * The pin itself can change the mapping (a write pin replaces the
	 * zero page or a COW page), and so can the process meanwhile: pin
	 * again until a pin saw no change, as hmm_range_fault() users do.
	 */
	for (tries = 0; tries < DMALAB_PC_PIN_TRIES; tries++) {
		e->seq = mmu_interval_read_begin(&e->notifier);
		rb = dmalab_regbuf_create(f->dd, addr, len,
					  DMALAB_REGF_DEV_READS |
					  DMALAB_REGF_DEV_WRITES);
		if (IS_ERR(rb) || !dmalab_pc_stale(e))
			break;
		dmalab_regbuf_put(rb);
		rb = ERR_PTR(-EAGAIN);
	}
	if (IS_ERR(rb)) {
		mmu_interval_notifier_remove(&e->notifier);
		kfree(e);
		return NULL;
	}
	e->rb = rb;
	dmalab_regbuf_get(rb);

	spin_lock(&pc->lock);
	list_add(&e->node, &pc->entries);
	pc->nentries++;
	pc->bytes += len;
	while (pc->nentries > DMALAB_PC_MAX_ENTRIES ||
	       pc->bytes > DMALAB_PC_MAX_BYTES) {
		old = list_last_entry(&pc->entries, struct dmalab_pc_entry,
				      node);
		dmalab_pc_unlink(pc, old, &evicted);
	}
	spin_unlock(&pc->lock);
	atomic64_inc(&f->dd->stats.pc_fills);
	dmalab_pc_drop(f->dd, &evicted);
	return rb;
}

/**
 * dmalab_pincache_get() - the cached registration for an op's user range
 * @f:		the file of the op
 * @addr:	user address of the range
 * @len:	bytes, at least 1
 * @dev_writes:	the device writes the range
 *
 * Process context, no lock held.  NULL tells the caller to pin per op:
 * the range is small, not used lately, not cacheable, or the cache is off
 * (entries made before it was turned off wait for close or invalidation);
 * or the device writes it unaligned where the mapping needs syncs, which a
 * registration refuses (dmalab_hbuf_registered()) and a per-op pin does not.
 *
 * Return: a registration holding the range, with a reference, or NULL.
 */
struct dmalab_regbuf *dmalab_pincache_get(struct dmalab_file *f, u64 addr,
					  size_t len, bool dev_writes)
{
	struct dmalab_dev *dd = f->dd;
	struct dmalab_regbuf *rb;

	if (!READ_ONCE(dd->pin_cache) || len < DMALAB_PC_MIN_LEN ||
	    len > DMALAB_REG_MAX_LEN || !current->mm ||
	    !access_ok(u64_to_user_ptr(addr), len))
		return NULL;
	rb = dmalab_pc_lookup(&f->pc, addr, len);
	if (rb)
		atomic64_inc(&dd->stats.pc_hits);
	else if (dmalab_pc_seen(&f->pc, addr, len))
		rb = dmalab_pc_fill(f, addr, len);
	if (rb && dev_writes && rb->need_sync &&
	    !IS_ALIGNED(addr | len, dma_get_cache_alignment())) {
		dmalab_regbuf_put(rb);
		rb = NULL;
	}
	return rb;
}

/* The file is closed: drop every entry, then wait for the reap work. */
void dmalab_pincache_release(struct dmalab_file *f)
{
	struct dmalab_pincache *pc = &f->pc;
	struct dmalab_pc_entry *e, *tmp;
	LIST_HEAD(all);

	spin_lock(&pc->lock);
	list_for_each_entry_safe(e, tmp, &pc->entries, node)
		dmalab_pc_unlink(pc, e, &all);
	spin_unlock(&pc->lock);
	dmalab_pc_drop(f->dd, &all);
	/* no notifier is left to queue it again */
	cancel_work_sync(&pc->reap);
}
