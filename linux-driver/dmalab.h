/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmalab: driver-internal definitions.
 */
#ifndef DMALAB_DRV_H
#define DMALAB_DRV_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dmalab_compat.h"
#include "dmalab_hw.h"
#include "dmalab_uapi.h"

#define DMALAB_NAME		"dmalab"
/* "dmalab<N>", NUL-terminated; trace events copy it whole */
#define DMALAB_DEV_NAME_LEN	16
/* Queue bit 31 of INTR_CAUSE is the error cause, so at most 31 queues. */
#define DMALAB_DRV_MAX_QUEUES	31
/* Entries of one SG block from the dma_pool (one page). */
#define DMALAB_SG_BLOCK_BYTES	4096
#define DMALAB_SG_PER_BLOCK	(DMALAB_SG_BLOCK_BYTES / \
				 sizeof(struct dmalab_sg_entry))
/* Largest piece of a read/write handed to one descriptor. */
#define DMALAB_RW_CHUNK		SZ_1M
/*
 * Largest reused bounce buffer of read/write with use_bounce=1: big enough
 * for few descriptors per MiB, small enough for one swiotlb mapping.
 */
#define DMALAB_BOUNCE_MAX	SZ_256K
#define DMALAB_COHERENT_MAX	SZ_4M
/* Time bound of count-based interrupt coalescing when none is given (us). */
#define DMALAB_COAL_USEC_DEFAULT	100
/* Largest op where streaming DMA is bounced (swiotlb's pool is shared). */
#define DMALAB_BOUNCED_MAX_XFER	SZ_4M

/* Async ops (ioctl or aio) one file may have in flight. */
#define DMALAB_ASYNC_MAX	1024
/* Size of the page-by-page buffer of mmap region 3. */
#define DMALAB_PAGEBUF_SIZE	SZ_2M
#define DMALAB_PAGEBUF_PGOFF	(DMALAB_MMAP_PAGEBUF >> PAGE_SHIFT)
/* Streaming buffer of DMALAB_IOC_TEST_STREAM (test only). */
#define DMALAB_TEST_BUF_SIZE	SZ_64K

/* Module parameters and the request cache (dmalab_dev.c). */
extern unsigned int dmalab_timeout_ms;
extern bool dmalab_use_bounce;
extern bool dmalab_pio_doorbell;
extern bool dmalab_shadow_doorbell;
extern unsigned int dmalab_poll_us;
extern unsigned int dmalab_spin_us;
extern unsigned int dmalab_ring_order;
extern unsigned int dmalab_max_queues;
extern int dmalab_irq_mode;
extern unsigned int dmalab_coal_count;
extern unsigned int dmalab_coal_usec;
extern unsigned int dmalab_dma_chans;
extern struct kmem_cache *dmalab_req_cache;

struct dmalab_dev;
struct dmalab_queue;
struct dmalab_dchan;

/* Software counters, updated with atomics. */
struct dmalab_swstats {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t cpl_errors;
	atomic64_t irqs;
	atomic64_t err_irqs;
	atomic64_t timeouts;
	atomic64_t queue_resets;
	atomic64_t mappings;
	atomic64_t remapped;
	/* the pin cache (dmalab_pincache.c) */
	atomic64_t pc_hits;
	atomic64_t pc_fills;
	atomic64_t pc_drops;
};

/*
 * DMA buffer of one open file, mapped to user space with mmap: coherent
 * (dma_alloc_coherent), or non-coherent (dma_alloc_pages), whose ranges
 * pass between CPU and device through explicit syncs.  Refcounted: the
 * file, each VMA and each request using it hold a reference.
 */
struct dmalab_cbuf {
	struct kref ref;
	struct dmalab_dev *dd;
	struct list_head node;		/* in dd->cbufs until freed */
	void *cpu;
	dma_addr_t dma;
	size_t size;
	/* the non-coherent buffer's pages; NULL for a coherent one */
	struct page *page;
};

enum dmalab_hbuf_kind {
	DMALAB_HB_NONE,
	DMALAB_HB_USER,		/* pinned user pages, SG mapped */
	DMALAB_HB_COHERENT,	/* part of a coherent dmalab_cbuf */
	DMALAB_HB_NONCOHERENT,	/* part of a non-coherent one, synced */
	DMALAB_HB_BOUNCE,	/* kernel buffer, dma_map_single per use */
	DMALAB_HB_RWBOUNCE,	/* the device's reused bounce buffer */
	DMALAB_HB_PAGEBUF,	/* pages of a dmalab_pbuf, SG mapped */
	DMALAB_HB_DMA,		/* bus address of a dmaengine client */
	DMALAB_HB_REGISTERED,	/* part of a dmalab_regbuf, mapped once */
};

/* One DMA-mapped segment of a registration, at byte @off of it. */
struct dmalab_regbuf_seg {
	dma_addr_t dma;
	u64 off;
	u32 len;
};

/*
 * A registered buffer (DMALAB_IOC_REGISTER): user pages pinned long-term
 * and mapped for the device once, so that ops on them do neither.
 * Refcounted: the registration itself (until unregistered or its file is
 * closed) and each request using it hold a reference.  The last one
 * unmaps, unpins and uncharges the pages; remove unmaps them earlier.
 */
struct dmalab_regbuf {
	struct kref ref;
	struct dmalab_dev *dd;
	struct list_head fnode;		/* in f->regbufs while registered */
	struct list_head dnode;		/* in dd->regbufs while mapped */
	struct mm_struct *mm;		/* its pinned_vm holds npages */
	u64 addr;
	u64 len;
	bool dev_reads;
	bool dev_writes;
	bool mapped;			/* dd->regbufs_lock */
	bool need_sync;			/* the mapping needs CPU syncs */
	enum dma_data_direction dir;
	struct page **pages;
	unsigned int npages;
	struct sg_table sgt;
	struct dmalab_regbuf_seg *segs;
	unsigned int nsegs;
};

/* A range an op of the file pinned per op lately (dmalab_pincache.c). */
struct dmalab_pc_seen {
	struct mm_struct *mm;	/* compared, never followed */
	u64 addr;
	u64 len;
};

#define DMALAB_PC_SEEN		8

/*
 * The pin cache of one open file: implicit registrations of the user
 * ranges its ops use again, each valid until an MMU notifier says the
 * process's mapping of it changed.
 */
struct dmalab_pincache {
	spinlock_t lock;		/* everything below */
	struct list_head entries;	/* most recently used first */
	unsigned int nentries;
	u64 bytes;
	struct dmalab_pc_seen seen[DMALAB_PC_SEEN];
	unsigned int seen_next;
	struct work_struct reap;	/* drops invalidated entries */
};

/*
 * Page-by-page buffer of one open file (mmap region 3): pages are allocated
 * on first touch, by the .fault handler or by a DMA that uses them.
 * Refcounted: the file, each VMA and each request using it hold a reference.
 */
struct dmalab_pbuf {
	struct kref ref;
	struct dmalab_dev *dd;
	struct mutex lock;		/* pages[] */
	unsigned long npages;
	struct page **pages;
};

/* One host-memory side of a request, as the device sees it. */
struct dmalab_hbuf {
	enum dmalab_hbuf_kind kind;
	enum dma_data_direction dir;
	/* DMALAB_HB_USER */
	struct page **pages;
	unsigned int npages;
	unsigned int npinned;
	struct sg_table sgt;
	bool sgt_alloc;
	bool sgt_mapped;
	/* hardware SG table: blocks from the dma_pool */
	void **blk_cpu;
	dma_addr_t *blk_dma;
	unsigned int nblk;
	/* DMALAB_HB_COHERENT, DMALAB_HB_NONCOHERENT (synced: nc_off, nc_len) */
	struct dmalab_cbuf *cbuf;
	u64 nc_off;
	size_t nc_len;
	/* DMALAB_HB_PAGEBUF (also uses pages, sgt and the SG blocks) */
	struct dmalab_pbuf *pbuf;
	/* DMALAB_HB_REGISTERED (its range: nc_off, nc_len) */
	struct dmalab_regbuf *rb;
	bool rb_synced;		/* handed to the device */
	/* DMALAB_HB_BOUNCE */
	void *bounce;
	size_t bounce_len;
	dma_addr_t bounce_dma;
	bool bounce_mapped;
	/* value for the descriptor's src/dst and whether it is an SG table */
	u64 hw_addr;
	bool hw_sg;
};

struct dmalab_file;
struct dmalab_req;
struct dmalab_aio;

/*
 * Called when the device completed a request, or it was cancelled, with
 * q->lock held, possibly in hard interrupt context.
 */
typedef void (*dmalab_end_io_t)(struct dmalab_req *req);

/*
 * One descriptor in flight.  Ownership: the submitter owns the request until
 * it is finished.  If the submitter gives up waiting (signal), it marks the
 * request abandoned and the completion path releases it from a work item.
 * A request with @end_io set (async ioctl, aio, dmaengine) is handed to
 * @end_io instead of waking a waiter.
 */
struct dmalab_req {
	struct dmalab_dev *dd;
	struct dmalab_queue *q;
	u8 opcode;
	u8 flags;
	u32 len;
	u64 src;		/* set from hbuf or devmem offset/pattern */
	u64 dst;
	struct dmalab_hbuf hsrc;
	struct dmalab_hbuf hdst;

	struct completion done;
	struct list_head orphan_node;	/* orphans, async_done, file lists */
	dmalab_end_io_t end_io;
	void *end_io_data;
	unsigned long deadline;		/* jiffies, for the watchdog */
	/* async ops: the file that collects it, the user's cookie */
	struct dmalab_file *file;
	u64 ucookie;
	u64 user_data;
	/* aio: the kiocb the request is a piece of, its offset in it */
	struct dmalab_aio *aio;
	size_t aio_off;
	bool finished;		/* under q->lock */
	bool abandoned;		/* under q->lock */
	u16 slot;
	u64 cookie;
	int err;		/* 0, -ETIMEDOUT, -ECANCELED, -ENODEV */
	u16 status;		/* DMALAB_STS_* */
	u32 bytes;
	u32 result;
};

struct dmalab_queue {
	struct dmalab_dev *dd;
	unsigned int idx;
	spinlock_t lock;		/* ring state, reqs[] */
	struct dmalab_desc *ring;
	dma_addr_t ring_dma;
	struct dmalab_cpl *cpl;
	dma_addr_t cpl_dma;
	struct dmalab_req **reqs;	/* request of each slot */
	/*
	 * The queue's shadow tail (DMALAB_FEAT_SHADOW_DB), in the device's
	 * dd->shadow_tails; NULL when Q_TAIL's written value counts.
	 */
	__le32 *shadow;
	dma_addr_t shadow_dma;
	u32 size;
	u32 mask;
	u32 head;			/* next completion to reap */
	u32 tail;			/* next free slot */
	u16 phase;			/* expected phase bit */
	bool running;
	int stop_err;			/* what submissions get while stopped */
	u64 seq;			/* cookie counter */
	/*
	 * Descriptors posted and retired (completed or cancelled), ever:
	 * the device retires a ring's descriptors in order, so a flush
	 * waits for retired to reach what posted was when it began.
	 */
	u64 posted;
	u64 retired;
	wait_queue_head_t space_wq;	/* room in the ring; retirements */
	char irq_name[32];
	/*
	 * A client above the queue engine (the dmaengine channel on this
	 * queue) that wants to hear of reaped completions: the engine calls
	 * the hook, and never the client by name.
	 */
	struct dmalab_queue_hook *hook;
};

/**
 * struct dmalab_queue_hook - what a client installs on a queue
 * @reaped:	completions of the queue were reaped (called after the
 *		queue's lock is dropped, maybe in an interrupt)
 */
struct dmalab_queue_hook {
	void (*reaped)(struct dmalab_queue_hook *hook);
};

/* A dmaengine descriptor: one device descriptor or a software interrupt. */
struct dmalab_ddesc {
	struct dma_async_tx_descriptor tx;
	struct list_head node;		/* in one of the channel's lists */
	struct dmalab_dchan *dc;
	struct dmalab_req *req;		/* NULL for DMA_INTERRUPT */
	bool done;			/* under dc->lock */
	enum dmaengine_tx_result result;
};

/* Failed descriptors whose cookies a channel remembers for tx_status. */
#define DMALAB_DCHAN_ERR_HISTORY	64

/*
 * A dmaengine channel on top of one queue.  Descriptors move from
 * @submitted (tx_submit) to @issued (issue_pending) to @active (on the
 * ring) and are completed, in cookie order, by the tasklet.
 */
struct dmalab_dchan {
	struct dma_chan chan;
	struct dmalab_queue *q;
	struct dmalab_queue_hook hook;	/* installed on q */
	spinlock_t lock;		/* lists, cookies, done flags */
	struct list_head allocated;	/* prepared, not submitted */
	struct list_head submitted;
	struct list_head issued;
	struct list_head active;
	struct tasklet_struct tasklet;
	/*
	 * Cookies of the last descriptors that failed or were terminated,
	 * so that tx_status reports DMA_ERROR for them rather than the
	 * DMA_COMPLETE their place in the cookie order implies (a client
	 * that polls instead of using callback_result would otherwise take
	 * a lost copy for a done one).
	 */
	dma_cookie_t err_cookies[DMALAB_DCHAN_ERR_HISTORY];
	unsigned int err_next;
};

/* A debugfs file backed by one register of the device's debug block. */
struct dmalab_dbgreg {
	struct dmalab_dev *dd;
	u32 reg;
};

#define DMALAB_NR_DBGREGS	9

/* Bits of dmalab_dev.state. */
#define DMALAB_ST_GONE		0	/* device lost: reads return all-ones */
#define DMALAB_ST_OFFLINE	1	/* in a reset or D3hot: all-ones expected */

struct dmalab_dev {
	struct kref ref;
	struct pci_dev *pdev;
	void __iomem *regs;
	void __iomem *pio;		/* BAR4, I/O ports, if the device has it */
	bool pio_doorbell;		/* doorbells through pio */
	__le32 *shadow_tails;		/* one per queue, or NULL */
	spinlock_t pio_lock;		/* PIO_QSEL, then PIO_TAIL */
	void __iomem *devmem;		/* BAR2, write-combining */
	int id;
	char name[DMALAB_DEV_NAME_LEN];
	struct miscdevice misc;
	bool misc_registered;

	/* held shared by every file operation, exclusive by remove */
	struct rw_semaphore lifetime;
	bool dead;
	/*
	 * Plugs holding deferred doorbells of this device (dmalab_unplug):
	 * remove waits for them, since they touch the queues, which go
	 * with the device's managed memory.
	 */
	atomic_t plugs;
	wait_queue_head_t plug_wq;
	/*
	 * DMALAB_ST_GONE: the device was found lost (DMALAB_REG_ID read
	 * all-ones).  Set without the lifetime lock (the paths that find it
	 * may hold it shared, or run in an interrupt), once, by
	 * dmalab_dev_lost(); checked by dmalab_enter() like dead.
	 */
	unsigned long state;
	struct work_struct lost_work;	/* zaps mappings, wakes pollers */

	/* open files, for zapping their mappings on remove */
	struct mutex files_lock;
	struct list_head files;

	u32 hw_version;
	u32 features;
	u32 cap;
	u32 max_xfer;
	u64 devmem_size;
	resource_size_t devmem_phys;
	unsigned int dma_bits;
	unsigned int nr_queues;
	unsigned int ring_order;
	u32 coal_count;
	u32 coal_usec;
	unsigned int rw_chunk;
	int irq_mode;			/* DMALAB_IRQ_* */
	unsigned int nr_vecs;
	bool irq_requested[DMALAB_DRV_MAX_QUEUES + 1];

	struct dmalab_queue *queues;
	atomic_t next_queue;
	struct dma_pool *sg_pool;

	spinlock_t orphan_lock;		/* orphans */
	struct list_head orphans;
	struct work_struct orphan_work;

	/* async completions waiting for process context (unpinning) */
	spinlock_t async_lock;		/* async_done */
	struct list_head async_done;
	struct work_struct async_work;

	/* reaps in polling mode; restarts stuck queues */
	struct hrtimer poll_timer;
	spinlock_t poll_lock;		/* arming poll_timer */
	struct delayed_work watchdog;

	/* dmaengine provider */
	struct dma_device dma;
	struct dmalab_dchan *dchans;
	unsigned int nr_dchans;
	bool dma_registered;

	/* coherent buffers: their memory is freed at remove at the latest */
	struct mutex cbufs_lock;	/* cbufs, cbuf->cpu */
	struct list_head cbufs;

	/* registrations still mapped: remove unmaps them */
	struct mutex regbufs_lock;	/* regbufs, regbuf->mapped */
	struct list_head regbufs;
	/* new pin cache entries are made (sysfs pin_cache) */
	bool pin_cache;

	/* mappings of mmap region 3 of all files */
	atomic_t pbuf_maps;

	/*
	 * use_bounce=1: the bounce buffer of read/write, one streaming
	 * mapping from probe to remove, used by one transfer at a time.
	 * A transfer holds bounce_lock from its first sync to its last; an
	 * abandoned one leaves bounce_busy set until its request is freed,
	 * since the device may still write the buffer.
	 */
	struct mutex bounce_lock;	/* use of the buffer, bounce_busy */
	struct page *bounce_page;
	void *bounce_cpu;
	dma_addr_t bounce_dma;
	size_t bounce_size;		/* 0: no bounce buffer */
	bool bounce_busy;

	/* TEST-ONLY: DMALAB_IOC_TEST_STREAM's buffer and sync knob */
	struct mutex test_lock;		/* test_buf */
	void *test_buf;
	dma_addr_t test_dma;
	bool test_skip_sync;

	struct dmalab_swstats stats;
	struct dentry *debugfs;
	struct dmalab_dbgreg dbgregs[DMALAB_NR_DBGREGS];
	unsigned int max_seg;		/* largest streaming mapping */
};

/*
 * An open file.  Refcounted: the open file and each async op in flight hold
 * a reference.
 */
struct dmalab_file {
	struct kref ref;
	struct dmalab_dev *dd;
	struct file *file;
	struct list_head node;		/* in dd->files */
	struct mutex lock;		/* cbuf, ncbuf, pbuf, regbufs */
	struct dmalab_cbuf *cbuf;
	struct dmalab_cbuf *ncbuf;
	struct dmalab_pbuf *pbuf;
	struct list_head regbufs;	/* struct dmalab_regbuf.fnode */
	unsigned int nregbufs;
	struct dmalab_pincache pc;
	/* async ops */
	spinlock_t alock;		/* everything below */
	struct list_head done;		/* completed, not collected */
	unsigned int inflight;		/* submitted, not collected */
	unsigned int ndone;
	bool closed;
	u64 next_cookie;
	wait_queue_head_t wq;
};

/* An asynchronous read/write (aio, io_uring): one or more requests. */
struct dmalab_aio {
	struct kiocb *iocb;
	atomic_t pending;
	size_t len;
	size_t bad_off;		/* offset of the first failed piece */
	int err;
	spinlock_t lock;	/* bad_off, err */
};

/* The device was found lost: nothing may touch its registers any more. */
static inline bool dmalab_gone(struct dmalab_dev *dd)
{
	return test_bit(DMALAB_ST_GONE, &dd->state);
}

static inline u32 dmalab_rd(struct dmalab_dev *dd, u32 reg)
{
	return readl(dd->regs + reg);
}

static inline void dmalab_wr(struct dmalab_dev *dd, u32 reg, u32 val)
{
	writel(val, dd->regs + reg);
}

static inline u32 dmalab_qrd(struct dmalab_queue *q, u32 reg)
{
	return dmalab_rd(q->dd, DMALAB_QREG(q->idx, reg));
}

static inline void dmalab_qwr(struct dmalab_queue *q, u32 reg, u32 val)
{
	dmalab_wr(q->dd, DMALAB_QREG(q->idx, reg), val);
}

/*
 * Ring queue q's doorbell with its new tail.  Through MMIO it is one
 * write of the queue's Q_TAIL.  Through the port BAR, iowrite32() on the
 * pci_iomap() cookie becomes outl(): the port mirror has one TAIL for the
 * queue PIO_QSEL selects, so the pair is written under dd->pio_lock.
 */
static inline void dmalab_doorbell(struct dmalab_queue *q, u32 tail)
{
	struct dmalab_dev *dd = q->dd;
	unsigned long flags;

	/*
	 * With a shadow tail the device reads the tail from memory, and the
	 * value written below does not count: the device may take Q_TAIL
	 * as an ioeventfd.  The callers' dma_wmb() put the descriptors
	 * before this store; writel() and iowrite32() order it before the
	 * doorbell.
	 */
	if (q->shadow)
		WRITE_ONCE(*q->shadow, cpu_to_le32(tail));
	if (!dd->pio_doorbell) {
		dmalab_qwr(q, DMALAB_Q_TAIL, tail);
		return;
	}
	spin_lock_irqsave(&dd->pio_lock, flags);
	iowrite32(q->idx, dd->pio + DMALAB_PIO_QSEL);
	iowrite32(tail, dd->pio + DMALAB_PIO_TAIL);
	spin_unlock_irqrestore(&dd->pio_lock, flags);
}

/* dmalab_dev.c: the floor every other file builds on */
u64 dmalab_rd64(struct dmalab_dev *dd, u32 lo, u32 hi);
const char *dmalab_irq_mode_str(struct dmalab_dev *dd);
struct dmalab_dev *dmalab_dev_alloc(struct pci_dev *pdev);
void dmalab_dev_put(struct dmalab_dev *dd);
void dmalab_dev_get(struct dmalab_dev *dd);
void dmalab_dev_exit(void);

/* dmalab_queue.c */
int dmalab_queues_init(struct dmalab_dev *dd);
void dmalab_queues_stop(struct dmalab_dev *dd);
void dmalab_queues_free(struct dmalab_dev *dd);
int dmalab_queues_start(struct dmalab_dev *dd);
unsigned int dmalab_queue_reap(struct dmalab_queue *q);
unsigned int dmalab_poll_completions(struct dmalab_dev *dd);
int dmalab_queue_recover(struct dmalab_queue *q, int err);
void dmalab_queues_halt(struct dmalab_dev *dd, int err);
int dmalab_queues_flush(struct dmalab_dev *dd);
bool dmalab_check_gone(struct dmalab_dev *dd);
void dmalab_dev_lost(struct dmalab_dev *dd);
void dmalab_lost_work(struct work_struct *work);
struct dmalab_queue *dmalab_pick_queue(struct dmalab_dev *dd);
int dmalab_req_submit(struct dmalab_req *req, unsigned long deadline);
int dmalab_req_submit_nowait(struct dmalab_req *req);
void dmalab_poll_kick(struct dmalab_dev *dd);
enum hrtimer_restart dmalab_poll_timer_fn(struct hrtimer *t);
void dmalab_watchdog_fn(struct work_struct *work);
int dmalab_req_wait(struct dmalab_req *req, unsigned long deadline);
bool dmalab_req_abandon(struct dmalab_req *req);
void dmalab_orphan_work(struct work_struct *work);
irqreturn_t dmalab_queue_irq(int irq, void *data);
irqreturn_t dmalab_err_irq(int irq, void *data);
irqreturn_t dmalab_shared_irq(int irq, void *data);

/* dmalab_mem.c */
struct dmalab_req *dmalab_req_alloc(struct dmalab_dev *dd);
struct dmalab_req *dmalab_req_alloc_gfp(struct dmalab_dev *dd, gfp_t gfp);
void dmalab_count_mapping(struct dmalab_dev *dd, dma_addr_t dma,
			  phys_addr_t phys);
void dmalab_req_free(struct dmalab_req *req);
int dmalab_hbuf_user(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		     unsigned long uaddr, size_t len, bool dev_writes);
int dmalab_hbuf_bounce(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		       size_t len, bool dev_writes);
int dmalab_hbuf_bounce_map(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
void dmalab_hbuf_bounce_unmap(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
int dmalab_bounce_init(struct dmalab_dev *dd);
void dmalab_bounce_free(struct dmalab_dev *dd);
void dmalab_hbuf_rwbounce(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			  size_t len, bool dev_writes);
int dmalab_hbuf_coherent(struct dmalab_hbuf *hb, struct dmalab_cbuf *cbuf,
			 u64 off, size_t len, bool dev_writes);
void dmalab_hbuf_release(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
void dmalab_hbuf_dirty_early(struct dmalab_hbuf *hb);
bool dmalab_hbuf_release_atomic(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
struct dmalab_cbuf *dmalab_cbuf_alloc(struct dmalab_dev *dd, size_t size,
				      bool noncoherent);
void dmalab_cbuf_get(struct dmalab_cbuf *cb);
void dmalab_cbuf_put(struct dmalab_cbuf *cb);
void dmalab_cbufs_free_dma(struct dmalab_dev *dd);
int dmalab_hbuf_pagebuf(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			struct dmalab_pbuf *pb, u64 off, size_t len,
			bool dev_writes);
int dmalab_hbuf_registered(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
			   struct dmalab_regbuf *rb, u64 addr, size_t len,
			   bool dev_writes);
struct dmalab_pbuf *dmalab_pbuf_alloc(struct dmalab_dev *dd);
void dmalab_pbuf_get(struct dmalab_pbuf *pb);
void dmalab_pbuf_put(struct dmalab_pbuf *pb);
struct page *dmalab_pbuf_page(struct dmalab_pbuf *pb, unsigned long idx);

/* dmalab_regbuf.c: registered buffers */
int dmalab_ioc_register(struct dmalab_file *f, void __user *arg);
int dmalab_ioc_unregister(struct dmalab_file *f, void __user *arg);
struct dmalab_regbuf *dmalab_regbuf_find(struct dmalab_file *f, u64 addr,
					 size_t len);
int dmalab_regbuf_check_vmas(struct mm_struct *mm, u64 start, u64 end);
struct dmalab_regbuf *dmalab_regbuf_create(struct dmalab_dev *dd, u64 addr,
					   u64 len, u32 flags);
void dmalab_regbuf_get(struct dmalab_regbuf *rb);
void dmalab_regbuf_put(struct dmalab_regbuf *rb);
void dmalab_regbufs_release(struct dmalab_file *f);
void dmalab_regbufs_unmap(struct dmalab_dev *dd);

/* dmalab_pincache.c: the pin cache of ordinary user buffers */
void dmalab_pincache_init(struct dmalab_file *f);
struct dmalab_regbuf *dmalab_pincache_get(struct dmalab_file *f, u64 addr,
					  size_t len, bool dev_writes);
void dmalab_pincache_release(struct dmalab_file *f);

/* dmalab_async.c */
int dmalab_ioc_submit_async(struct dmalab_file *f, void __user *arg);
int dmalab_ioc_wait(struct dmalab_file *f, void __user *arg);
__poll_t dmalab_async_poll(struct dmalab_file *f, struct file *file,
			   poll_table *wait);
void dmalab_async_release(struct dmalab_file *f);
void dmalab_async_work(struct work_struct *work);
void dmalab_async_flush(struct dmalab_dev *dd);
void dmalab_file_put(struct dmalab_file *f);
ssize_t dmalab_aio_rw(struct dmalab_file *f, struct kiocb *iocb,
		      struct iov_iter *it, bool write);

/* dmalab_dma.c */
int dmalab_dma_register(struct dmalab_dev *dd, unsigned int nr);
void dmalab_dma_unregister(struct dmalab_dev *dd);

/* dmalab_debug.c: teaching and TEST-ONLY interfaces, CAP_SYS_ADMIN */
int dmalab_ioc_dma_addrs(struct dmalab_dev *dd, void __user *arg);
int dmalab_ioc_test_stale(struct dmalab_dev *dd, void __user *arg);
int dmalab_ioc_test_stream(struct dmalab_dev *dd, void __user *arg);
void dmalab_test_buf_free(struct dmalab_dev *dd);

/* dmalab_ops.c: a user's op made into a request */
int dmalab_op_prepare(struct dmalab_file *f, struct dmalab_op *op,
		      struct dmalab_req **reqp);
bool dmalab_ops_writes_overlap(const struct dmalab_op *ops, unsigned int n);
void dmalab_op_result(struct dmalab_op *op, struct dmalab_req *req);
struct dmalab_pbuf *dmalab_file_pbuf(struct dmalab_file *f);

/* dmalab_queue.c, dmalab_chardev.c */
unsigned long dmalab_deadline(void);
int dmalab_run(struct dmalab_req *req);
bool dmalab_enter(struct dmalab_dev *dd);
void dmalab_leave(struct dmalab_dev *dd);
typedef int (*dmalab_chunk_fn)(void *ctx, char __user *ubuf, loff_t off,
			       size_t done, size_t len);
ssize_t dmalab_rw_span(struct dmalab_dev *dd, loff_t pos, size_t count,
		       bool write);
size_t dmalab_rw_walk(struct dmalab_dev *dd, struct iov_iter *it, loff_t pos,
		      size_t count, dmalab_chunk_fn chunk_fn, void *ctx,
		      int *err);
int dmalab_chardev_register(struct dmalab_dev *dd);
void dmalab_chardev_unregister(struct dmalab_dev *dd);
void dmalab_chardev_zap(struct dmalab_dev *dd);

/* dmalab_sysfs.c */
extern const struct attribute_group *dmalab_dev_groups[];
void dmalab_debugfs_init(void);
void dmalab_debugfs_exit(void);
void dmalab_debugfs_add(struct dmalab_dev *dd);
void dmalab_debugfs_remove(struct dmalab_dev *dd);

#endif /* DMALAB_DRV_H */
