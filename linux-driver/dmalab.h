/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmalab: driver-internal definitions.
 */
#ifndef DMALAB_DRV_H
#define DMALAB_DRV_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

#define DMALAB_NAME		"dmalab"
/* Queue bit 31 of INTR_CAUSE is the error cause, so at most 31 queues. */
#define DMALAB_DRV_MAX_QUEUES	31
/* Entries of one SG block from the dma_pool (one page). */
#define DMALAB_SG_BLOCK_BYTES	4096
#define DMALAB_SG_PER_BLOCK	(DMALAB_SG_BLOCK_BYTES / \
				 sizeof(struct dmalab_sg_entry))
/* Largest piece of a read/write handed to one descriptor. */
#define DMALAB_RW_CHUNK		SZ_1M
/* Bounce buffer size for read/write with use_bounce=1. */
#define DMALAB_BOUNCE_CHUNK	SZ_64K
#define DMALAB_COHERENT_MAX	SZ_4M

/* Module parameters (dmalab_main.c). */
extern unsigned int dmalab_timeout_ms;
extern bool dmalab_use_bounce;

struct dmalab_dev;
struct dmalab_queue;

/* Software counters, updated with atomics. */
struct dmalab_swstats {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t cpl_errors;
	atomic64_t irqs;
	atomic64_t err_irqs;
	atomic64_t timeouts;
	atomic64_t queue_resets;
};

/*
 * DMA-coherent buffer of one open file, mapped to user space with mmap.
 * Refcounted: the file, each VMA and each request using it hold a reference.
 */
struct dmalab_cbuf {
	struct kref ref;
	struct dmalab_dev *dd;
	void *cpu;
	dma_addr_t dma;
	size_t size;
};

enum dmalab_hbuf_kind {
	DMALAB_HB_NONE,
	DMALAB_HB_USER,		/* pinned user pages, SG mapped */
	DMALAB_HB_COHERENT,	/* part of a dmalab_cbuf */
	DMALAB_HB_BOUNCE,	/* kernel buffer, dma_map_single */
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
	/* DMALAB_HB_COHERENT */
	struct dmalab_cbuf *cbuf;
	/* DMALAB_HB_BOUNCE */
	void *bounce;
	size_t bounce_len;
	dma_addr_t bounce_dma;
	bool bounce_mapped;
	/* value for the descriptor's src/dst and whether it is an SG table */
	u64 hw_addr;
	bool hw_sg;
};

/*
 * One descriptor in flight.  Ownership: the submitter owns the request until
 * it is finished.  If the submitter gives up waiting (signal), it marks the
 * request abandoned and the completion path releases it from a work item.
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
	struct list_head orphan_node;
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
	struct mutex recover_lock;	/* serializes queue resets */
	struct dmalab_desc *ring;
	dma_addr_t ring_dma;
	struct dmalab_cpl *cpl;
	dma_addr_t cpl_dma;
	struct dmalab_req **reqs;	/* request of each slot */
	u32 size;
	u32 mask;
	u32 head;			/* next completion to reap */
	u32 tail;			/* next free slot */
	u16 phase;			/* expected phase bit */
	bool running;
	u64 seq;			/* cookie counter */
	wait_queue_head_t space_wq;
	char irq_name[32];
};

/* A debugfs file backed by one register of the device's debug block. */
struct dmalab_dbgreg {
	struct dmalab_dev *dd;
	u32 reg;
};

#define DMALAB_NR_DBGREGS	8

struct dmalab_dev {
	struct kref ref;
	struct pci_dev *pdev;
	void __iomem *regs;
	void __iomem *pio;
	int id;
	char name[16];
	struct miscdevice misc;
	bool misc_registered;

	/* held shared by every file operation, exclusive by remove */
	struct rw_semaphore lifetime;
	bool dead;

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

	struct dmalab_swstats stats;
	struct dentry *debugfs;
	struct dmalab_dbgreg dbgregs[DMALAB_NR_DBGREGS];
};

/* An open file. */
struct dmalab_file {
	struct dmalab_dev *dd;
	struct file *file;
	struct list_head node;		/* in dd->files */
	struct mutex lock;		/* cbuf */
	struct dmalab_cbuf *cbuf;
};

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

u64 dmalab_rd64(struct dmalab_dev *dd, u32 lo, u32 hi);
const char *dmalab_irq_mode_str(struct dmalab_dev *dd);
void dmalab_dev_put(struct dmalab_dev *dd);
void dmalab_dev_get(struct dmalab_dev *dd);

/* dmalab_queue.c */
int dmalab_queues_init(struct dmalab_dev *dd);
void dmalab_queues_stop(struct dmalab_dev *dd);
void dmalab_queues_free(struct dmalab_dev *dd);
int dmalab_queues_start(struct dmalab_dev *dd);
void dmalab_queue_reap(struct dmalab_queue *q);
int dmalab_queue_recover(struct dmalab_queue *q, int err);
struct dmalab_queue *dmalab_pick_queue(struct dmalab_dev *dd);
int dmalab_req_submit(struct dmalab_req *req, unsigned long deadline);
int dmalab_req_wait(struct dmalab_req *req, unsigned long deadline);
bool dmalab_req_abandon(struct dmalab_req *req);
void dmalab_orphan_work(struct work_struct *work);
irqreturn_t dmalab_queue_irq(int irq, void *data);
irqreturn_t dmalab_err_irq(int irq, void *data);
irqreturn_t dmalab_shared_irq(int irq, void *data);

/* dmalab_mem.c */
struct dmalab_req *dmalab_req_alloc(struct dmalab_dev *dd);
void dmalab_req_free(struct dmalab_req *req);
int dmalab_hbuf_user(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		     unsigned long uaddr, size_t len, bool dev_writes);
int dmalab_hbuf_bounce(struct dmalab_dev *dd, struct dmalab_hbuf *hb,
		       size_t len, bool dev_writes);
int dmalab_hbuf_bounce_map(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
void dmalab_hbuf_bounce_unmap(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
int dmalab_hbuf_coherent(struct dmalab_hbuf *hb, struct dmalab_cbuf *cbuf,
			 u64 off, size_t len);
void dmalab_hbuf_release(struct dmalab_dev *dd, struct dmalab_hbuf *hb);
struct dmalab_cbuf *dmalab_cbuf_alloc(struct dmalab_dev *dd, size_t size);
void dmalab_cbuf_get(struct dmalab_cbuf *cb);
void dmalab_cbuf_put(struct dmalab_cbuf *cb);

/* dmalab_chardev.c */
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
