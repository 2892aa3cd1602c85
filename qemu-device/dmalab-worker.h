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
 * A thread that copies the segments of one job at a time, then schedules
 * @done (a bottom half, guarded by @guard) with @opaque.  @delay_us holds
 * each job that long first (tests).
 */
DmalabWorker *dmalab_worker_new(QEMUBHFunc *done, void *opaque,
                                MemReentrancyGuard *guard, uint32_t delay_us);
/* Waits for the job in progress, if any, and joins the thread. */
void dmalab_worker_free(DmalabWorker *w);
/* Copy @segs[0..@n) (left alone until @done runs or a wait returns). */
void dmalab_worker_start(DmalabWorker *w, const DmalabSeg *segs, size_t n);
/* Wait until the job in progress, if any, has copied its last byte. */
void dmalab_worker_wait(DmalabWorker *w);

#endif /* HW_MISC_DMALAB_WORKER_H */
