/*
 * QTest: migrating a dmalab device with work in flight, and savevm/loadvm
 *
 * Queue 0 is stalled (a test-only fault) with descriptors already rung, so
 * the work is pending when the machine migrates or is saved.  Then the
 * stall is lifted, on the destination or after loading the snapshot: the
 * engine must find the ring, the doorbell and device memory as they were,
 * finish the work and write completions that the test checks byte for
 * byte.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "dmalab-qtest-compat.h"
#include "hw/misc/dmalab_hw.h"

QEMU_BUILD_BUG_ON(sizeof(struct dmalab_desc) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_cpl) != 32);

#define DMALAB_DEVFN        QPCI_DEVFN(4, 0)
#define RING_SIZE           8
/* Long enough for the device's copy thread (DMALAB_WORKER_MIN or more). */
#define XFER_LEN            (320 * 1024 + 5)
#define DEVMEM_OFF          4096
#define TIMEOUT_US          (10 * 1000 * 1000)

typedef struct Side {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
} Side;

static void side_attach(Side *side, QGuestAllocator *alloc)
{
    side->bus = qpci_new_pc(side->qts, alloc);
    side->dev = qpci_device_find(side->bus, DMALAB_DEVFN);
    g_assert(side->dev);
}

static void side_free(Side *side)
{
    g_free(side->dev);
    qpci_free_pc(side->bus);
    qtest_quit(side->qts);
}

static void wait_migration_completed(QTestState *qts)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *status = qdict_get_try_str(ret, "status");
        bool done = status && !strcmp(status, "completed");

        g_assert(!status || strcmp(status, "failed"));
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(1000);
    }
}

static void put_desc(QTestState *qts, uint64_t ring, uint32_t slot,
                     uint8_t op, uint64_t src, uint64_t dst)
{
    struct dmalab_desc d = {
        .opcode = op,
        .flags = DMALAB_DESC_IRQ,
        .len = cpu_to_le32(XFER_LEN),
        .src = cpu_to_le64(src),
        .dst = cpu_to_le64(dst),
        .cookie = cpu_to_le64(0x5eed0000 + slot),
    };

    qtest_memwrite(qts, ring + slot * sizeof(d), &d, sizeof(d));
}

static void check_cpl(QTestState *qts, uint64_t cpl_base, uint32_t slot)
{
    struct dmalab_cpl cpl;

    qtest_memread(qts, cpl_base + slot * sizeof(cpl), &cpl, sizeof(cpl));
    g_assert_cmphex(le16_to_cpu(cpl.flags) & DMALAB_CPL_PHASE, ==,
                    DMALAB_CPL_PHASE);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_OK);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, XFER_LEN);
    g_assert_cmphex(le64_to_cpu(cpl.cookie), ==, 0x5eed0000 + slot);
}

/* Guest memory of the test: the rings and both host buffers. */
typedef struct Work {
    uint64_t ring, cpl, hsrc, hdst;
    uint64_t shadow;     /* queue 0's shadow tail, 0 = none */
    uint8_t *data;
} Work;

/*
 * Ring queue 0's doorbell at @tail: with a shadow tail, the tail goes to
 * memory and the value written is one the device must ignore.
 */
static void ring_tail(QTestState *qts, QPCIDevice *dev, QPCIBar regs,
                      const Work *w, uint32_t tail)
{
    if (w->shadow) {
        qtest_writel(qts, w->shadow, tail);
        tail = 0xdead;
    }
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_TAIL), tail);
}

/*
 * Set up queue 0 (stalled by the stall-queues=1 property, or its first copy
 * held by x-copy-delay-us) and ring an H2D of random data into device
 * memory and a D2H back into another buffer; check that they are pending.
 */
static void start_stalled_work(QTestState *qts, QPCIDevice *dev,
                               QPCIBar regs, QGuestAllocator *alloc,
                               Work *w)
{
    w->data = g_malloc(XFER_LEN);
    for (size_t i = 0; i < XFER_LEN; i++) {
        w->data[i] = g_test_rand_int();
    }
    w->ring = guest_alloc(alloc, RING_SIZE * sizeof(struct dmalab_desc));
    w->cpl = guest_alloc(alloc, RING_SIZE * sizeof(struct dmalab_cpl));
    w->hsrc = guest_alloc(alloc, XFER_LEN);
    w->hdst = guest_alloc(alloc, XFER_LEN);
    qtest_memset(qts, w->cpl, 0, RING_SIZE * sizeof(struct dmalab_cpl));
    qtest_memset(qts, w->hdst, 0, XFER_LEN);
    qtest_memwrite(qts, w->hsrc, w->data, XFER_LEN);

    qpci_io_writel(dev, regs, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_RING_LO), w->ring);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_RING_HI),
                   w->ring >> 32);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_CPL_LO), w->cpl);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_CPL_HI), w->cpl >> 32);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_RING_SIZE), RING_SIZE);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_SHADOW_LO), w->shadow);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_SHADOW_HI),
                   w->shadow >> 32);
    qpci_io_writel(dev, regs, DMALAB_QREG(0, DMALAB_Q_CTRL),
                   DMALAB_QCTRL_ENABLE);

    /* Host -> device memory, then device memory -> another host buffer. */
    put_desc(qts, w->ring, 0, DMALAB_OP_H2D, w->hsrc, DEVMEM_OFF);
    put_desc(qts, w->ring, 1, DMALAB_OP_D2H, DEVMEM_OFF, w->hdst);
    ring_tail(qts, dev, regs, w, 2);
    qtest_clock_step(qts, 1000 * 1000);
    g_assert_cmpuint(qpci_io_readl(dev, regs, DMALAB_QREG(0, DMALAB_Q_HEAD)),
                     ==, 0);
    g_assert_cmphex(qpci_io_readl(dev, regs,
                                  DMALAB_QREG(0, DMALAB_Q_STATUS)) &
                    DMALAB_QSTS_BUSY, ==, DMALAB_QSTS_BUSY);
}

/* Lift the stall; the work finishes with the right completions and data. */
static void finish_work(QTestState *qts, QPCIDevice *dev, QPCIBar regs,
                        const Work *w)
{
    g_autofree uint8_t *back = g_malloc(XFER_LEN);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    qpci_io_writel(dev, regs, DMALAB_REG_DBG_STALL, 0);
    while (qpci_io_readl(dev, regs, DMALAB_QREG(0, DMALAB_Q_HEAD)) != 2) {
        g_assert(g_get_monotonic_time() < deadline);
        qtest_clock_step(qts, 1000);
    }
    check_cpl(qts, w->cpl, 0);
    check_cpl(qts, w->cpl, 1);
    qtest_memread(qts, w->hdst, back, XFER_LEN);
    g_assert(memcmp(back, w->data, XFER_LEN) == 0);
}

/*
 * Migrate with the work pending: held by a stalled queue, or (@opaque
 * "copy-thread") with its first copy held in the copy thread, which the
 * source finishes when it stops the VM, or (@opaque "shadow") held by a
 * stalled queue whose tail is a shadow in memory, rung through the
 * device's ioeventfd; the destination takes that queue's next doorbell
 * from the shadow too.
 */
static void test_migrate_in_flight(gconstpointer opaque)
{
    bool copy_thread = opaque && !strcmp(opaque, "copy-thread");
    bool shadow = opaque && !strcmp(opaque, "shadow");
    g_autofree char *args = g_strdup_printf(
        "-machine q35 -nodefaults -device dmalab,addr=04.0,%s",
        copy_thread ? "x-copy-delay-us=1000000" : "stall-queues=1");
    g_autofree char *uri = g_strdup_printf("unix:%s/dmalab-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    QGuestAllocator alloc;
    Side src, dst;
    QPCIBar regs;
    Work w;

    src.qts = qtest_initf("%s", args);
    pc_alloc_init(&alloc, src.qts, ALLOC_NO_FLAGS);
    side_attach(&src, &alloc);
    qpci_device_enable(src.dev);
    regs = qpci_iomap(src.dev, DMALAB_BAR_REGS, NULL);
    w.shadow = shadow ? guest_alloc(&alloc, 4) : 0;
    start_stalled_work(src.qts, src.dev, regs, &alloc, &w);

    dst.qts = qtest_initf("%s -incoming %s", args, uri);
    qtest_qmp_assert_success(src.qts,
                             "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    wait_migration_completed(src.qts);
    qtest_qmp_eventwait(dst.qts, "RESUME");

    /* The destination has the same BAR addresses: config space migrated. */
    side_attach(&dst, NULL);
    g_assert_cmpuint(qpci_io_readl(dst.dev, regs,
                                   DMALAB_QREG(0, DMALAB_Q_TAIL)), ==, 2);
    g_assert_cmphex(qpci_io_readl(dst.dev, regs,
                                  DMALAB_QREG(0, DMALAB_Q_RING_LO)), ==,
                    (uint32_t)w.ring);
    finish_work(dst.qts, dst.dev, regs, &w);
    if (shadow) {
        g_autofree uint8_t *back = g_malloc(XFER_LEN);
        gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

        g_assert_cmphex(qpci_io_readl(dst.dev, regs,
                                      DMALAB_QREG(0, DMALAB_Q_SHADOW_LO)), ==,
                        (uint32_t)w.shadow);
        qtest_memset(dst.qts, w.hdst, 0, XFER_LEN);
        put_desc(dst.qts, w.ring, 2, DMALAB_OP_D2H, DEVMEM_OFF, w.hdst);
        ring_tail(dst.qts, dst.dev, regs, &w, 3);
        while (qpci_io_readl(dst.dev, regs,
                             DMALAB_QREG(0, DMALAB_Q_HEAD)) != 3) {
            g_assert(g_get_monotonic_time() < deadline);
            qtest_clock_step(dst.qts, 1000);
        }
        check_cpl(dst.qts, w.cpl, 2);
        qtest_memread(dst.qts, w.hdst, back, XFER_LEN);
        g_assert(memcmp(back, w.data, XFER_LEN) == 0);
        g_assert_cmpuint(qpci_io_readl(dst.dev, regs, DMALAB_REG_ERR_COUNT),
                         ==, 0);
    }

    g_free(w.data);
    side_free(&dst);
    g_free(src.dev);
    qpci_free_pc(src.bus);
    alloc_destroy(&alloc);
    qtest_quit(src.qts);
}

/* Wait for a block job to conclude without error, then dismiss it. */
static void wait_job(QTestState *qts, const char *id)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-jobs' }");
        QList *jobs = qdict_get_qlist(rsp, "return");
        QListEntry *e;
        bool done = false;

        QLIST_FOREACH_ENTRY(jobs, e) {
            QDict *job = qobject_to(QDict, qlist_entry_obj(e));

            if (!strcmp(qdict_get_str(job, "id"), id) &&
                !strcmp(qdict_get_str(job, "status"), "concluded")) {
                if (qdict_haskey(job, "error")) {
                    g_error("job %s: %s", id, qdict_get_str(job, "error"));
                }
                done = true;
            }
        }
        qobject_unref(rsp);
        if (done) {
            break;
        }
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(1000);
    }
    qtest_qmp_assert_success(qts, "{ 'execute': 'job-dismiss',"
                             "  'arguments': { 'id': %s } }", id);
}

/*
 * savevm/loadvm: save the machine with the work pending, let the work
 * finish and scribble over its results, load the snapshot: the work is
 * pending again, and finishes again byte for byte.
 */
static void test_savevm_in_flight(void)
{
    g_autofree char *img = g_strdup_printf("%s/dmalab-savevm-%d.qcow2",
                                           g_get_tmp_dir(), getpid());
    QGuestAllocator alloc;
    QTestState *qts;
    Side side;
    QPCIBar regs;
    Work w;

    g_assert(g_file_set_contents(img, "", 0, NULL));
    qts = qtest_initf("-machine q35 -nodefaults "
                      "-device dmalab,addr=04.0,stall-queues=1 "
                      "-blockdev driver=file,filename=%s,node-name=file0",
                      img);
    qtest_qmp_assert_success(qts, "{ 'execute': 'blockdev-create',"
                             "  'arguments': { 'job-id': 'create',"
                             "    'options': { 'driver': 'qcow2',"
                             "      'file': 'file0', 'size': %d } } }",
                             64 * 1024 * 1024);
    wait_job(qts, "create");
    qtest_qmp_assert_success(qts, "{ 'execute': 'blockdev-add',"
                             "  'arguments': { 'driver': 'qcow2',"
                             "    'node-name': 'disk0', 'file': 'file0' } }");

    side.qts = qts;
    pc_alloc_init(&alloc, qts, ALLOC_NO_FLAGS);
    side_attach(&side, &alloc);
    qpci_device_enable(side.dev);
    regs = qpci_iomap(side.dev, DMALAB_BAR_REGS, NULL);
    w.shadow = 0;
    start_stalled_work(qts, side.dev, regs, &alloc, &w);

    qtest_qmp_assert_success(qts, "{ 'execute': 'snapshot-save',"
                             "  'arguments': { 'job-id': 'save',"
                             "    'tag': 'in-flight', 'vmstate': 'disk0',"
                             "    'devices': [ 'disk0' ] } }");
    wait_job(qts, "save");

    finish_work(qts, side.dev, regs, &w);
    qtest_memset(qts, w.hdst, 0xee, XFER_LEN);
    qtest_memset(qts, w.cpl, 0xee, RING_SIZE * sizeof(struct dmalab_cpl));
    qpci_io_writel(side.dev, regs, DMALAB_QREG(0, DMALAB_Q_CTRL), 0);

    qtest_qmp_assert_success(qts, "{ 'execute': 'snapshot-load',"
                             "  'arguments': { 'job-id': 'load',"
                             "    'tag': 'in-flight', 'vmstate': 'disk0',"
                             "    'devices': [ 'disk0' ] } }");
    wait_job(qts, "load");

    /* As saved: stalled, nothing done, the results not yet written. */
    g_assert_cmpuint(qpci_io_readl(side.dev, regs,
                                   DMALAB_QREG(0, DMALAB_Q_HEAD)), ==, 0);
    g_assert_cmpuint(qpci_io_readl(side.dev, regs,
                                   DMALAB_QREG(0, DMALAB_Q_TAIL)), ==, 2);
    g_assert_cmpuint(qpci_io_readl(side.dev, regs, DMALAB_REG_DBG_STALL),
                     ==, 1);
    g_assert_cmphex(qtest_readb(qts, w.hdst), ==, 0);
    finish_work(qts, side.dev, regs, &w);

    g_free(w.data);
    g_free(side.dev);
    qpci_free_pc(side.bus);
    alloc_destroy(&alloc);
    qtest_quit(qts);
    unlink(img);
}

/* ---- Every state a guest can reach migrates ------------------------- */

#define ALL_QUEUES          DMALAB_MAX_QUEUES

static const uint32_t global_regs[] = {
    DMALAB_REG_CTRL, DMALAB_REG_STATUS, DMALAB_REG_INTR_CAUSE,
    DMALAB_REG_INTR_MASK, DMALAB_REG_ERR_QUEUE, DMALAB_REG_ERR_INDEX,
    DMALAB_REG_ERR_CODE, DMALAB_REG_ERR_ADDR_LO, DMALAB_REG_ERR_ADDR_HI,
    DMALAB_REG_ERR_COUNT, DMALAB_REG_STAT_BYTES_LO, DMALAB_REG_STAT_BYTES_HI,
    DMALAB_REG_STAT_DESCS_LO, DMALAB_REG_STAT_DESCS_HI,
    DMALAB_REG_STAT_ERRORS_LO, DMALAB_REG_STAT_ERRORS_HI,
    DMALAB_REG_STAT_IRQS_LO, DMALAB_REG_STAT_IRQS_HI,
    DMALAB_REG_DBG_FAIL_NTH, DMALAB_REG_DBG_FAIL_STATUS,
    DMALAB_REG_DBG_IRQ_MODE, DMALAB_REG_DBG_IRQ_COUNT,
    DMALAB_REG_DBG_IRQ_DELAY_US, DMALAB_REG_DBG_STALL,
    DMALAB_REG_DBG_CORRUPT_NTH, DMALAB_REG_DBG_CORRUPT_OFFSET,
    DMALAB_REG_DBG_LAST_ADDR_LO, DMALAB_REG_DBG_LAST_ADDR_HI,
};

static const uint32_t queue_regs[] = {
    DMALAB_Q_RING_LO, DMALAB_Q_RING_HI, DMALAB_Q_RING_SIZE, DMALAB_Q_TAIL,
    DMALAB_Q_HEAD, DMALAB_Q_CTRL, DMALAB_Q_CPL_LO, DMALAB_Q_CPL_HI,
    DMALAB_Q_COAL_COUNT, DMALAB_Q_COAL_USEC, DMALAB_Q_STATUS, DMALAB_Q_ERROR,
    DMALAB_Q_SHADOW_LO, DMALAB_Q_SHADOW_HI,
};

#define NREGS (ARRAY_SIZE(global_regs) + ALL_QUEUES * ARRAY_SIZE(queue_regs))

/* Every guest-visible register, in one fixed order. */
static void snapshot_regs(QPCIDevice *dev, QPCIBar regs, uint32_t *out)
{
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(global_regs); i++) {
        out[n++] = qpci_io_readl(dev, regs, global_regs[i]);
    }
    for (uint32_t q = 0; q < ALL_QUEUES; q++) {
        for (size_t i = 0; i < ARRAY_SIZE(queue_regs); i++) {
            out[n++] = qpci_io_readl(dev, regs, DMALAB_QREG(q, queue_regs[i]));
        }
    }
    g_assert_cmpuint(n, ==, NREGS);
}

static const char *reg_name(size_t n, char *buf, size_t len)
{
    if (n < ARRAY_SIZE(global_regs)) {
        snprintf(buf, len, "register 0x%x", global_regs[n]);
    } else {
        n -= ARRAY_SIZE(global_regs);
        snprintf(buf, len, "queue %zu register 0x%x",
                 n / ARRAY_SIZE(queue_regs),
                 queue_regs[n % ARRAY_SIZE(queue_regs)]);
    }
    return buf;
}

/*
 * Migrate @src to a new QEMU started with @args; @src is freed and
 * replaced by the destination.  Fails the test unless the destination
 * loads the state and the registers read the same on both sides.
 */
static void migrate_and_compare(Side *side, QPCIBar regs, const char *args)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/dmalab-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    g_autofree uint32_t *before = g_new(uint32_t, NREGS);
    g_autofree uint32_t *after = g_new(uint32_t, NREGS);
    Side dst;
    char name[64];

    snapshot_regs(side->dev, regs, before);
    dst.qts = qtest_initf("%s -incoming %s", args, uri);
    qtest_qmp_assert_success(side->qts,
                             "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    wait_migration_completed(side->qts);
    qtest_qmp_eventwait(dst.qts, "RESUME");
    side_free(side);
    side_attach(&dst, NULL);
    *side = dst;

    snapshot_regs(side->dev, regs, after);
    for (size_t i = 0; i < NREGS; i++) {
        if (before[i] != after[i]) {
            g_test_message("%s differs", reg_name(i, name, sizeof(name)));
            g_assert_cmphex(after[i], ==, before[i]);
        }
    }
}

/* Start a q35 machine with one dmalab of 31 queues, its BARs mapped. */
static QPCIBar start_side(Side *side, QGuestAllocator *alloc,
                          const char *args)
{
    QPCIBar regs;

    side->qts = qtest_initf("%s", args);
    pc_alloc_init(alloc, side->qts, ALLOC_NO_FLAGS);
    side_attach(side, alloc);
    qpci_device_enable(side->dev);
    regs = qpci_iomap(side->dev, DMALAB_BAR_REGS, NULL);
    return regs;
}

#define MIG_ARGS "-machine q35 -nodefaults -device dmalab,addr=04.0,queues=31"

/* RING_SIZE takes any value while the queue is off (spec 4.6). */
static void test_migrate_any_ring_size(void)
{
    QGuestAllocator alloc;
    QPCIBar regs;
    Side side;

    regs = start_side(&side, &alloc, MIG_ARGS);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(13, DMALAB_Q_RING_SIZE),
                   0x6415fa1d);
    migrate_and_compare(&side, regs, MIG_ARGS);
    g_assert_cmphex(qpci_io_readl(side.dev, regs,
                                  DMALAB_QREG(13, DMALAB_Q_RING_SIZE)), ==,
                    0x6415fa1d);
    side_free(&side);
    alloc_destroy(&alloc);
}

/* Disabling keeps HEAD and TAIL (spec 6.2), even beyond a new size. */
static void test_migrate_disabled_keeps_tail(void)
{
    QGuestAllocator alloc;
    uint64_t ring, cpl;
    QPCIBar regs;
    Side side;

    regs = start_side(&side, &alloc, MIG_ARGS);
    ring = guest_alloc(&alloc, 8 * sizeof(struct dmalab_desc));
    cpl = guest_alloc(&alloc, 8 * sizeof(struct dmalab_cpl));
    qpci_io_writel(side.dev, regs, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    qpci_io_writel(side.dev, regs, DMALAB_REG_DBG_STALL, 1u << 2);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_RING_LO), ring);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_RING_HI),
                   ring >> 32);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_CPL_LO), cpl);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_CPL_HI),
                   cpl >> 32);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_RING_SIZE), 8);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_CTRL),
                   DMALAB_QCTRL_ENABLE);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_TAIL), 5);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_CTRL), 0);
    qpci_io_writel(side.dev, regs, DMALAB_QREG(2, DMALAB_Q_RING_SIZE), 4);
    g_assert_cmpuint(qpci_io_readl(side.dev, regs,
                                   DMALAB_QREG(2, DMALAB_Q_TAIL)), ==, 5);
    migrate_and_compare(&side, regs, MIG_ARGS);
    g_assert_cmpuint(qpci_io_readl(side.dev, regs,
                                   DMALAB_QREG(2, DMALAB_Q_TAIL)), ==, 5);
    side_free(&side);
    alloc_destroy(&alloc);
}

/* A value a register is likely to be given: valid, boundary or random. */
static uint32_t random_value(uint32_t valid)
{
    static const uint32_t edges[] = {
        0, 1, 2, 3, 4096, 4097, 0x7fffffff, 0x80000000, UINT32_MAX,
    };

    switch (g_test_rand_int_range(0, 3)) {
    case 0:
        return valid;
    case 1:
        return edges[g_test_rand_int_range(0, ARRAY_SIZE(edges))];
    default:
        return g_test_rand_int();
    }
}

/* Bytes of each queue's ring and completion ring in the random test. */
#define RING_BYTES          (16 * 32)

/* One random guest action on queue @q, with rings at @ring and @cpl. */
static void random_queue_action(QPCIDevice *dev, QPCIBar regs, uint32_t q,
                                uint64_t ring, uint64_t cpl)
{
    uint32_t size = 1u << g_test_rand_int_range(DMALAB_RING_ORDER_MIN, 5);

    switch (g_test_rand_int_range(0, 10)) {
    case 0:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_RING_LO),
                       random_value(ring));
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_RING_HI),
                       random_value(ring >> 32));
        break;
    case 1:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_CPL_LO),
                       random_value(cpl));
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_CPL_HI),
                       random_value(cpl >> 32));
        break;
    case 2:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_RING_SIZE),
                       random_value(size));
        if (!g_test_rand_int_range(0, 3)) {
            /* a shadow tail, which the device then reads at a doorbell */
            qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_SHADOW_LO),
                           random_value(cpl + RING_BYTES - 4));
            qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_SHADOW_HI),
                           random_value(0));
        }
        break;
    case 3:
    case 4:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_TAIL),
                       random_value(g_test_rand_int_range(0, 16)));
        break;
    case 5:
    case 6:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_CTRL),
                       DMALAB_QCTRL_ENABLE);
        break;
    case 7:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_CTRL), 0);
        break;
    case 8:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_CTRL),
                       random_value(DMALAB_QCTRL_RESET));
        break;
    default:
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_COAL_COUNT),
                       random_value(4));
        qpci_io_writel(dev, regs, DMALAB_QREG(q, DMALAB_Q_COAL_USEC),
                       random_value(100));
        break;
    }
}

/*
 * Seeded (run with --seed to repeat a failure): each round drives every
 * queue through random register writes, enables and disables, lets the
 * engine run on whatever the rings hold, then migrates the machine to a
 * new QEMU, which must load it and read the same in every register.  The
 * rounds chain: each destination is the next round's source.
 */
static void test_migrate_random_states(void)
{
    enum { ROUNDS = 24, ACTIONS = 48 };
    uint64_t ring[ALL_QUEUES], cpl[ALL_QUEUES];
    QGuestAllocator alloc;
    QPCIBar regs;
    Side side;

    regs = start_side(&side, &alloc, MIG_ARGS);
    for (uint32_t q = 0; q < ALL_QUEUES; q++) {
        ring[q] = guest_alloc(&alloc, RING_BYTES);
        cpl[q] = guest_alloc(&alloc, RING_BYTES);
        qtest_memset(side.qts, ring[q], 0, RING_BYTES);
    }
    for (int round = 0; round < ROUNDS; round++) {
        qpci_io_writel(side.dev, regs, DMALAB_REG_CTRL,
                       g_test_rand_int_range(0, 8) ? DMALAB_CTRL_ENABLE : 0);
        qpci_io_writel(side.dev, regs, DMALAB_REG_DBG_STALL,
                       g_test_rand_int());
        for (int i = 0; i < ACTIONS; i++) {
            uint32_t q = g_test_rand_int_range(0, ALL_QUEUES);

            random_queue_action(side.dev, regs, q, ring[q], cpl[q]);
        }
        if (!g_test_rand_int_range(0, 4)) {
            qpci_io_writel(side.dev, regs, DMALAB_REG_INTR_MASK,
                           g_test_rand_int());
        }
        /* QEMU 10 refuses a step of zero: "could not advance time". */
        qtest_clock_step(side.qts, g_test_rand_int_range(1, 200) * 1000);
        /*
         * Hold the engine still, so that both sides are read alike; the
         * nanosecond step runs whatever the stall left due.
         */
        qpci_io_writel(side.dev, regs, DMALAB_REG_DBG_STALL, UINT32_MAX);
        qtest_clock_step(side.qts, 1);
        migrate_and_compare(&side, regs, MIG_ARGS);
    }
    side_free(&side);
    alloc_destroy(&alloc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_data_func("/dmalab/migration/in-flight", NULL,
                        test_migrate_in_flight);
    qtest_add_data_func("/dmalab/migration/copy-thread-in-flight",
                        "copy-thread", test_migrate_in_flight);
    qtest_add_data_func("/dmalab/migration/shadow-doorbell", "shadow",
                        test_migrate_in_flight);
    qtest_add_func("/dmalab/migration/savevm", test_savevm_in_flight);
    qtest_add_func("/dmalab/migration/any-ring-size",
                   test_migrate_any_ring_size);
    qtest_add_func("/dmalab/migration/disabled-keeps-tail",
                   test_migrate_disabled_keeps_tail);
    qtest_add_func("/dmalab/migration/random-states",
                   test_migrate_random_states);
    return g_test_run();
}
