/*
 * dmalab copy thread: the interface the engine uses (dmalab-worker.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_DMALAB_WORKER_H
#define HW_MISC_DMALAB_WORKER_H

#include "block/aio.h"
#include "hw/qdev-core.h"

/* One contiguous copy the copy thread makes. */
typedef struct DmalabSeg {
    void *dst;
    const void *src;
    size_t len;
} DmalabSeg;

typedef struct DmalabWorker DmalabWorker;

/*
 * Copy threads, and the jobs they hold at once: two queues' copies at a
 * time, and the next of each ready behind it.
 */
#define DMALAB_WORKER_THREADS 2
#define DMALAB_WORKER_JOBS 4

/*
 * Threads that copy the segments of their jobs, and schedule @done (a
 * bottom half, guarded by @guard) with @opaque after each.  Jobs begin in
 * the order given, and one begins only when no job of its group copies;
 * they are taken back in the order given.  @delay_us holds each job that
 * long first (tests).
 */
DmalabWorker *dmalab_worker_new(QEMUBHFunc *done, void *opaque,
                                MemReentrancyGuard *guard, uint32_t delay_us);
/* Waits for the jobs in progress, if any, and joins the threads. */
void dmalab_worker_free(DmalabWorker *w);
/*
 * Queue a job of @group: copy @segs[0..@n) (left alone until the job is
 * taken back).  At most DMALAB_WORKER_JOBS are held at once.
 */
void dmalab_worker_start(DmalabWorker *w, const DmalabSeg *segs, size_t n,
                         unsigned group);
/* Take back the oldest job if it is copied; false if it is not yet. */
bool dmalab_worker_take(DmalabWorker *w);
/*
 * Drop the jobs no thread has begun, the newest ones; returns how many
 * (the caller releases them: not a byte of theirs was copied).
 */
unsigned dmalab_worker_cancel(DmalabWorker *w);
/* Wait until every job held has copied its last byte. */
void dmalab_worker_wait(DmalabWorker *w);

#endif /* HW_MISC_DMALAB_WORKER_H */
