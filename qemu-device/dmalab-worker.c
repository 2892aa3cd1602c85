/*
 * dmalab copy thread: the bulk of a large transfer, outside the BQL
 *
 * The engine (dmalab-core.c) checks a descriptor and maps its guest
 * memory in the main loop; only the copying of the mapped bytes comes
 * here, so that the vCPU can prepare the next descriptor meanwhile, and
 * the engine can check and map the next one while this one copies.  The
 * threads touch nothing but the segments they are given: every device
 * register, the rings, the completions and the interrupts stay with the
 * main loop, which takes the results back through a bottom half.
 *
 * Jobs are begun in the order given, each by the first thread free, but
 * never while a job of the same group (the engine's queue) copies: one
 * queue's copies stay one after the other, different queues' overlap.
 * They are taken back in the order given too.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qemu/main-loop.h"
#include "dmalab-worker.h"
#include "trace.h"
#ifdef CONFIG_LINUX
#include <sys/resource.h>
#endif

struct DmalabWorker {
    QemuThread threads[DMALAB_WORKER_THREADS];
    QemuMutex lock;
    QemuCond cond;
    QEMUBH *done_bh;
    uint32_t delay_us;  /* tests: hold each job this long before copying */

    /*
     * Under lock: the jobs handed over and not yet taken back, oldest
     * first, of which the first @begun are begun (copied or not).  A job
     * queued behind another starts the moment a thread is free for it.
     */
    struct {
        const DmalabSeg *segs;
        size_t nsegs;
        unsigned group;
        bool copied;
    } jobs[DMALAB_WORKER_JOBS];
    unsigned first;
    unsigned count;
    unsigned begun;
    bool quit;
};

static unsigned dmalab_worker_slot(DmalabWorker *w, unsigned i)
{
    return (w->first + i) % DMALAB_WORKER_JOBS;
}

/* Under lock: whether the next job can begin (a job and its group free). */
static bool dmalab_worker_next_ready(DmalabWorker *w)
{
    unsigned next;

    if (w->begun == w->count) {
        return false;
    }
    next = dmalab_worker_slot(w, w->begun);
    for (unsigned i = 0; i < w->begun; i++) {
        unsigned k = dmalab_worker_slot(w, i);

        if (!w->jobs[k].copied && w->jobs[k].group == w->jobs[next].group) {
            return false;
        }
    }
    return true;
}

/* Under lock: whether a job is being copied. */
static bool dmalab_worker_copying(DmalabWorker *w)
{
    for (unsigned i = 0; i < w->begun; i++) {
        if (!w->jobs[dmalab_worker_slot(w, i)].copied) {
            return true;
        }
    }
    return false;
}

/*
 * A thread's loop.  A @spare thread only ever makes a second copy beside
 * one in progress: a job alone goes to the first thread, which runs at
 * the normal priority, so that it never waits on a spare's low priority.
 */
static void dmalab_worker_run(DmalabWorker *w, bool spare)
{
    qemu_mutex_lock(&w->lock);
    for (;;) {
        const DmalabSeg *segs;
        size_t n;
        unsigned i;

        while (!(dmalab_worker_next_ready(w) &&
                 (!spare || dmalab_worker_copying(w))) && !w->quit) {
            qemu_cond_wait(&w->cond, &w->lock);
        }
        if (w->quit) {
            break;
        }
        /* the slot stays this job's until it is copied and taken back */
        i = dmalab_worker_slot(w, w->begun);
        segs = w->jobs[i].segs;
        n = w->jobs[i].nsegs;
        w->begun++;
        trace_dmalab_copy_begin(w->jobs[i].group, spare);
        qemu_mutex_unlock(&w->lock);

        if (w->delay_us) {
            g_usleep(w->delay_us);
        }
        for (size_t k = 0; k < n; k++) {
            memcpy(segs[k].dst, segs[k].src, segs[k].len);
        }

        qemu_mutex_lock(&w->lock);
        trace_dmalab_copy_end(w->jobs[i].group);
        w->jobs[i].copied = true;
        qemu_cond_broadcast(&w->cond);
        /* The bytes are in place before the main loop posts completion. */
        qemu_bh_schedule(w->done_bh);
    }
    qemu_mutex_unlock(&w->lock);
}

static void *dmalab_worker_thread(void *opaque)
{
    dmalab_worker_run(opaque, false);
    return NULL;
}

/*
 * The threads after the first copy at the lowest priority, on host CPU
 * time nothing else wants: while the guest waits for its copies they run
 * at full speed; while the vCPUs are busy, a host with few CPUs gives
 * them to the vCPUs first, not to a second copy.  Linux keeps a nice value
 * per thread; where the sandbox forbids it the thread stays as it is.
 */
static void *dmalab_worker_spare_thread(void *opaque)
{
#ifdef CONFIG_LINUX
    if (setpriority(PRIO_PROCESS, qemu_get_thread_id(), 19) < 0) {
        /* keep the default priority */
    }
#endif
    dmalab_worker_run(opaque, true);
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
    for (unsigned i = 0; i < DMALAB_WORKER_THREADS; i++) {
        qemu_thread_create(&w->threads[i], "dmalab-copy",
                           i ? dmalab_worker_spare_thread :
                               dmalab_worker_thread,
                           w, QEMU_THREAD_JOINABLE);
    }
    return w;
}

void dmalab_worker_free(DmalabWorker *w)
{
    qemu_mutex_lock(&w->lock);
    w->quit = true;
    qemu_cond_broadcast(&w->cond);
    qemu_mutex_unlock(&w->lock);
    /* A copy in progress finishes first: quit is seen only between jobs. */
    for (unsigned i = 0; i < DMALAB_WORKER_THREADS; i++) {
        qemu_thread_join(&w->threads[i]);
    }
    qemu_bh_delete(w->done_bh);
    qemu_cond_destroy(&w->cond);
    qemu_mutex_destroy(&w->lock);
    g_free(w);
}

void dmalab_worker_start(DmalabWorker *w, const DmalabSeg *segs, size_t n,
                         unsigned group)
{
    unsigned i;

    qemu_mutex_lock(&w->lock);
    assert(w->count < DMALAB_WORKER_JOBS);
    i = dmalab_worker_slot(w, w->count);
    w->jobs[i].segs = segs;
    w->jobs[i].nsegs = n;
    w->jobs[i].group = group;
    w->jobs[i].copied = false;
    w->count++;
    qemu_cond_broadcast(&w->cond);
    qemu_mutex_unlock(&w->lock);
}

bool dmalab_worker_take(DmalabWorker *w)
{
    bool copied;

    qemu_mutex_lock(&w->lock);
    copied = w->begun > 0 && w->jobs[w->first].copied;
    if (copied) {
        w->first = dmalab_worker_slot(w, 1);
        w->count--;
        w->begun--;
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

/* Under lock: whether every job held is copied. */
static bool dmalab_worker_all_copied(DmalabWorker *w)
{
    for (unsigned i = 0; i < w->count; i++) {
        if (!w->jobs[dmalab_worker_slot(w, i)].copied) {
            return false;
        }
    }
    return true;
}

void dmalab_worker_wait(DmalabWorker *w)
{
    qemu_mutex_lock(&w->lock);
    while (!dmalab_worker_all_copied(w)) {
        qemu_cond_wait(&w->cond, &w->lock);
    }
    qemu_mutex_unlock(&w->lock);
}
