/*
 * dmalab copy thread: the bulk of a large transfer, outside the BQL
 *
 * The engine (dmalab-core.c) checks a descriptor and maps its guest
 * memory in the main loop; only the copying of the mapped bytes comes
 * here, so that the vCPU can prepare the next descriptor meanwhile, and
 * the engine can check and map the next one while this one copies.  The
 * thread touches nothing but the segments it is given: every device
 * register, the rings, the completions and the interrupts stay with the
 * main loop, which takes the result back through a bottom half.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qemu/main-loop.h"
#include "dmalab-worker.h"

struct DmalabWorker {
    QemuThread thread;
    QemuMutex lock;
    QemuCond cond;
    QEMUBH *done_bh;
    uint32_t delay_us;  /* tests: hold each job this long before copying */

    /*
     * Under lock: the jobs handed over and not yet taken back, oldest
     * first, of which the first @copied are copied.  The thread copies
     * them in order, so that a job queued behind another starts the
     * moment the one before it ends.
     */
    struct {
        const DmalabSeg *segs;
        size_t nsegs;
    } jobs[DMALAB_WORKER_JOBS];
    unsigned first;
    unsigned count;
    unsigned begun;     /* the thread has begun these (copied or not) */
    unsigned copied;
    bool quit;
};

static void *dmalab_worker_thread(void *opaque)
{
    DmalabWorker *w = opaque;

    qemu_mutex_lock(&w->lock);
    for (;;) {
        const DmalabSeg *segs;
        size_t n;
        unsigned i;

        while (w->begun == w->count && !w->quit) {
            qemu_cond_wait(&w->cond, &w->lock);
        }
        if (w->quit) {
            break;
        }
        i = (w->first + w->begun) % DMALAB_WORKER_JOBS;
        segs = w->jobs[i].segs;
        n = w->jobs[i].nsegs;
        w->begun++;
        qemu_mutex_unlock(&w->lock);

        if (w->delay_us) {
            g_usleep(w->delay_us);
        }
        for (size_t k = 0; k < n; k++) {
            memcpy(segs[k].dst, segs[k].src, segs[k].len);
        }

        qemu_mutex_lock(&w->lock);
        w->copied++;
        qemu_cond_broadcast(&w->cond);
        /* The bytes are in place before the main loop posts completion. */
        qemu_bh_schedule(w->done_bh);
    }
    qemu_mutex_unlock(&w->lock);
    return NULL;
}

DmalabWorker *dmalab_worker_new(QEMUBHFunc *done, void *opaque,
                                MemReentrancyGuard *guard, uint32_t delay_us)
{
    DmalabWorker *w = g_new0(DmalabWorker, 1);

    w->delay_us = delay_us;
    qemu_mutex_init(&w->lock);
    qemu_cond_init(&w->cond);
    w->done_bh = qemu_bh_new_guarded(done, opaque, guard);
    qemu_thread_create(&w->thread, "dmalab-copy", dmalab_worker_thread, w,
                       QEMU_THREAD_JOINABLE);
    return w;
}

void dmalab_worker_free(DmalabWorker *w)
{
    qemu_mutex_lock(&w->lock);
    w->quit = true;
    qemu_cond_broadcast(&w->cond);
    qemu_mutex_unlock(&w->lock);
    /* A copy in progress finishes first: quit is seen only between jobs. */
    qemu_thread_join(&w->thread);
    qemu_bh_delete(w->done_bh);
    qemu_cond_destroy(&w->cond);
    qemu_mutex_destroy(&w->lock);
    g_free(w);
}

void dmalab_worker_start(DmalabWorker *w, const DmalabSeg *segs, size_t n)
{
    unsigned i;

    qemu_mutex_lock(&w->lock);
    assert(w->count < DMALAB_WORKER_JOBS);
    i = (w->first + w->count) % DMALAB_WORKER_JOBS;
    w->jobs[i].segs = segs;
    w->jobs[i].nsegs = n;
    w->count++;
    qemu_cond_broadcast(&w->cond);
    qemu_mutex_unlock(&w->lock);
}

bool dmalab_worker_take(DmalabWorker *w)
{
    bool copied;

    qemu_mutex_lock(&w->lock);
    copied = w->copied > 0;
    if (copied) {
        w->first = (w->first + 1) % DMALAB_WORKER_JOBS;
        w->count--;
        w->begun--;
        w->copied--;
    }
    qemu_mutex_unlock(&w->lock);
    return copied;
}

unsigned dmalab_worker_cancel(DmalabWorker *w)
{
    unsigned n;

    qemu_mutex_lock(&w->lock);
    n = w->count - w->begun;
    w->count = w->begun;
    qemu_mutex_unlock(&w->lock);
    return n;
}

void dmalab_worker_wait(DmalabWorker *w)
{
    qemu_mutex_lock(&w->lock);
    while (w->copied < w->count) {
        qemu_cond_wait(&w->cond, &w->lock);
    }
    qemu_mutex_unlock(&w->lock);
}
