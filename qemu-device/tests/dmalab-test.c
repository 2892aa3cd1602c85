/*
 * QTest cases for the dmalab PCI DMA engine
 *
 * Each test boots a q35 machine with no guest kernel, programs the device
 * through its registers, places descriptors in guest memory and checks
 * every byte the engine moved.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/wait.h>
#include "qemu/bswap.h"
#include "qemu/crc32c.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "hw/pci/pci_regs.h"
#include "dmalab-qtest-compat.h"
#include "hw/misc/dmalab_hw.h"

QEMU_BUILD_BUG_ON(sizeof(struct dmalab_desc) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_cpl) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_sg_entry) != 16);

#define DMALAB_DEVFN        QPCI_DEVFN(4, 0)
#define GUARD_BYTE          0xa5
#define GUARD_LEN           64
#define TIMEOUT_US          (5 * 1000 * 1000)
#define MIB                 (1024 * 1024)
/* Long enough for the device's copy thread (DMALAB_WORKER_MIN or more). */
#define COPY_THREAD_LEN     (512 * 1024)

/*
 * q35 routes INTA# of slot 4 to PIRQE, which the ICH9 wires to IOAPIC
 * input 16 + 4.
 */
#define DMALAB_Q35_GSI      20

/* Nothing is mapped here: DMA to it fails. */
#define UNMAPPED_ADDR       0x7f0000000000ull

typedef struct DmalabRing {
    uint64_t ring;
    uint64_t cpl;
    uint64_t shadow;     /* the queue's shadow tail, 0 = none */
    uint32_t size;
    uint32_t tail;
    bool phase;          /* phase of the completion for slot tail */
} DmalabRing;

typedef struct Dmalab {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar regs;
    QPCIBar devmem;
    QPCIBar pio;
    QGuestAllocator alloc;
    DmalabRing q[DMALAB_MAX_QUEUES];
    uint64_t seq;
} Dmalab;

/* A posted descriptor: where its completion appears and what it holds. */
typedef struct Ticket {
    uint32_t queue;
    uint32_t slot;
    bool phase;
    uint64_t cookie;
} Ticket;

static uint32_t rd(Dmalab *d, uint32_t reg)
{
    return qpci_io_readl(d->dev, d->regs, reg);
}

static void wr(Dmalab *d, uint32_t reg, uint32_t val)
{
    qpci_io_writel(d->dev, d->regs, reg, val);
}

static uint32_t qrd(Dmalab *d, uint32_t q, uint32_t reg)
{
    return rd(d, DMALAB_QREG(q, reg));
}

static void qwr(Dmalab *d, uint32_t q, uint32_t reg, uint32_t val)
{
    wr(d, DMALAB_QREG(q, reg), val);
}

static uint64_t rd64(Dmalab *d, uint32_t reg_lo)
{
    uint64_t lo = rd(d, reg_lo);

    return lo | ((uint64_t)rd(d, reg_lo + 4) << 32);
}

/* Enable the device and map its BARs (again after a reset or an FLR). */
static void dmalab_map(Dmalab *d)
{
    qpci_device_enable(d->dev);
    d->regs = qpci_iomap(d->dev, DMALAB_BAR_REGS, NULL);
    d->devmem = qpci_iomap(d->dev, DMALAB_BAR_DEVMEM, NULL);
    d->pio = qpci_iomap(d->dev, DMALAB_BAR_PIO, NULL);
}

static void dmalab_start_machine(Dmalab *d, const char *machine,
                                 const char *extra)
{
    memset(d, 0, sizeof(*d));
    d->qts = qtest_initf("-machine %s -nodefaults "
                         "-device dmalab,addr=04.0%s%s", machine,
                         extra ? "," : "", extra ? extra : "");
    pc_alloc_init(&d->alloc, d->qts, ALLOC_NO_FLAGS);
    d->bus = qpci_new_pc(d->qts, &d->alloc);
    d->dev = qpci_device_find(d->bus, DMALAB_DEVFN);
    g_assert(d->dev);
    dmalab_map(d);
}

static void dmalab_start(Dmalab *d, const char *extra)
{
    dmalab_start_machine(d, "q35", extra);
}

static void dmalab_stop(Dmalab *d)
{
    g_free(d->dev);
    qpci_free_pc(d->bus);
    alloc_destroy(&d->alloc);
    qtest_quit(d->qts);
}

/* The device and QEMU still answer. */
static void check_alive(Dmalab *d)
{
    QDict *rsp;

    g_assert_cmphex(rd(d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    rsp = qtest_qmp(d->qts, "{'execute': 'query-status'}");
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

/* Program queue @qi's registers for its (already allocated) rings. */
static void queue_program(Dmalab *d, uint32_t qi)
{
    DmalabRing *r = &d->q[qi];

    qtest_memset(d->qts, r->cpl, 0, r->size * sizeof(struct dmalab_cpl));
    qwr(d, qi, DMALAB_Q_RING_LO, r->ring);
    qwr(d, qi, DMALAB_Q_RING_HI, r->ring >> 32);
    qwr(d, qi, DMALAB_Q_CPL_LO, r->cpl);
    qwr(d, qi, DMALAB_Q_CPL_HI, r->cpl >> 32);
    qwr(d, qi, DMALAB_Q_RING_SIZE, r->size);
    qwr(d, qi, DMALAB_Q_SHADOW_LO, r->shadow);
    qwr(d, qi, DMALAB_Q_SHADOW_HI, r->shadow >> 32);
    qwr(d, qi, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
    g_assert_cmphex(qrd(d, qi, DMALAB_Q_STATUS) & DMALAB_QSTS_ENABLED, ==,
                    DMALAB_QSTS_ENABLED);
    r->tail = 0;
    r->phase = true;
}

/* Enable the device and queue @qi with a ring of @size entries. */
static void setup_queue(Dmalab *d, uint32_t qi, uint32_t size)
{
    DmalabRing *r = &d->q[qi];

    wr(d, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    g_assert_cmphex(rd(d, DMALAB_REG_STATUS) & DMALAB_STATUS_READY, ==,
                    DMALAB_STATUS_READY);
    r->size = size;
    r->ring = guest_alloc(&d->alloc, size * sizeof(struct dmalab_desc));
    r->cpl = guest_alloc(&d->alloc, size * sizeof(struct dmalab_cpl));
    queue_program(d, qi);
}

static void dmalab_setup_queue(Dmalab *d, uint32_t size)
{
    setup_queue(d, 0, size);
}

/* Write a descriptor into the next free slot of queue @qi (no doorbell). */
static Ticket post_desc(Dmalab *d, uint32_t qi, struct dmalab_desc *desc)
{
    DmalabRing *r = &d->q[qi];
    Ticket t = {
        .queue = qi,
        .slot = r->tail,
        .phase = r->phase,
        .cookie = 0xc00c1e0000000000ull + d->seq++,
    };

    desc->cookie = cpu_to_le64(t.cookie);
    qtest_memwrite(d->qts, r->ring + t.slot * sizeof(*desc), desc,
                   sizeof(*desc));
    r->tail = (r->tail + 1) & (r->size - 1);
    if (r->tail == 0) {
        r->phase = !r->phase;
    }
    return t;
}

static Ticket post(Dmalab *d, uint32_t qi, uint8_t op, uint8_t flags,
                   uint32_t len, uint64_t src, uint64_t dst)
{
    struct dmalab_desc desc = {
        .opcode = op,
        .flags = flags,
        .len = cpu_to_le32(len),
        .src = cpu_to_le64(src),
        .dst = cpu_to_le64(dst),
    };

    return post_desc(d, qi, &desc);
}

/* With a shadow tail, the tail goes to memory first, as a driver does. */
static void doorbell(Dmalab *d, uint32_t qi)
{
    DmalabRing *r = &d->q[qi];

    if (r->shadow) {
        qtest_writel(d->qts, r->shadow, r->tail);
    }
    qwr(d, qi, DMALAB_Q_TAIL, r->tail);
}

/* Has the completion for @t been written?  Fills @cpl if so. */
static bool cpl_ready(Dmalab *d, const Ticket *t, struct dmalab_cpl *cpl)
{
    uint64_t addr = d->q[t->queue].cpl + t->slot * sizeof(*cpl);

    qtest_memread(d->qts, addr, cpl, sizeof(*cpl));
    return !!(le16_to_cpu(cpl->flags) & DMALAB_CPL_PHASE) == t->phase;
}

static struct dmalab_cpl wait_cpl(Dmalab *d, const Ticket *t)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    struct dmalab_cpl cpl;

    while (!cpl_ready(d, t, &cpl)) {
        g_assert(g_get_monotonic_time() < deadline);
        qtest_clock_step(d->qts, 1000);
    }
    g_assert_cmphex(le64_to_cpu(cpl.cookie), ==, t->cookie);
    g_assert_cmpuint(le16_to_cpu(cpl.index), ==, t->slot);
    return cpl;
}

/* Check that the completion for @t does not appear while time passes. */
static void assert_no_cpl(Dmalab *d, const Ticket *t)
{
    struct dmalab_cpl cpl;

    for (int i = 0; i < 10; i++) {
        g_assert(!cpl_ready(d, t, &cpl));
        qtest_clock_step(d->qts, 100 * 1000);
    }
}

/* Place one descriptor, ring the doorbell and wait for its completion. */
static struct dmalab_cpl run_q(Dmalab *d, uint32_t qi, uint8_t op,
                               uint8_t flags, uint32_t len, uint64_t src,
                               uint64_t dst)
{
    Ticket t = post(d, qi, op, flags, len, src, dst);

    doorbell(d, qi);
    return wait_cpl(d, &t);
}

static struct dmalab_cpl dmalab_run(Dmalab *d, uint8_t op, uint8_t flags,
                                    uint32_t len, uint64_t src, uint64_t dst)
{
    return run_q(d, 0, op, flags, len, src, dst);
}

static void assert_ok(const struct dmalab_cpl *cpl, uint32_t len)
{
    g_assert_cmphex(le16_to_cpu(cpl->status), ==, DMALAB_STS_OK);
    g_assert_cmpuint(le32_to_cpu(cpl->bytes), ==, len);
}

/*
 * The last error was @sts: the error log shows it, the error cause is
 * raised, and the device still answers.  Clears the log and the cause.
 */
static void expect_error_logged(Dmalab *d, uint32_t sts)
{
    g_assert_cmphex(rd(d, DMALAB_REG_ERR_CODE), ==, sts);
    g_assert_cmpuint(rd(d, DMALAB_REG_ERR_COUNT), >=, 1);
    g_assert_cmphex(rd(d, DMALAB_REG_STATUS) & DMALAB_STATUS_ERROR, ==,
                    DMALAB_STATUS_ERROR);
    g_assert_cmphex(rd(d, DMALAB_REG_INTR_CAUSE) & DMALAB_INTR_ERROR, ==,
                    DMALAB_INTR_ERROR);
    wr(d, DMALAB_REG_INTR_CAUSE, DMALAB_INTR_ERROR);
    wr(d, DMALAB_REG_ERR_CLEAR, 1);
    check_alive(d);
}

static void expect_error(Dmalab *d, const struct dmalab_cpl *cpl, uint32_t sts)
{
    g_assert_cmphex(le16_to_cpu(cpl->status), ==, sts);
    expect_error_logged(d, sts);
}

/* A guest buffer of @len bytes with guard bytes on both sides. */
static uint64_t guarded_alloc(Dmalab *d, size_t len, const uint8_t *fill)
{
    uint64_t base = guest_alloc(&d->alloc, len + 2 * GUARD_LEN);

    qtest_memset(d->qts, base, GUARD_BYTE, len + 2 * GUARD_LEN);
    if (fill) {
        qtest_memwrite(d->qts, base + GUARD_LEN, fill, len);
    }
    return base + GUARD_LEN;
}

static void check_guards(Dmalab *d, uint64_t addr, size_t len)
{
    uint8_t g[GUARD_LEN];

    qtest_memread(d->qts, addr - GUARD_LEN, g, GUARD_LEN);
    for (int i = 0; i < GUARD_LEN; i++) {
        g_assert_cmphex(g[i], ==, GUARD_BYTE);
    }
    qtest_memread(d->qts, addr + len, g, GUARD_LEN);
    for (int i = 0; i < GUARD_LEN; i++) {
        g_assert_cmphex(g[i], ==, GUARD_BYTE);
    }
}

/* The guest buffer at @addr holds exactly @expect. */
static void check_mem(Dmalab *d, uint64_t addr, const uint8_t *expect,
                      size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    qtest_memread(d->qts, addr, buf, len);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != expect[i]) {
            g_test_message("byte %zu of %zu differs", i, len);
            g_assert_cmphex(buf[i], ==, expect[i]);
        }
    }
}

/* The guest buffer at @addr still holds only guard bytes. */
static void check_untouched(Dmalab *d, uint64_t addr, size_t len)
{
    g_autofree uint8_t *g = g_malloc(len);

    memset(g, GUARD_BYTE, len);
    check_mem(d, addr, g, len);
}

static uint8_t *random_bytes(size_t len)
{
    uint8_t *buf = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        buf[i] = g_test_rand_int();
    }
    return buf;
}

static uint32_t ref_crc32c(const uint8_t *buf, size_t len)
{
    /* QEMU's crc32c() applies the final inversion itself. */
    return crc32c(0xffffffff, buf, len);
}

/* ---- Registers -------------------------------------------------------- */

static const uint32_t zero_after_reset[] = {
    DMALAB_REG_CTRL, DMALAB_REG_STATUS, DMALAB_REG_INTR_CAUSE,
    DMALAB_REG_INTR_MASK, DMALAB_REG_ERR_QUEUE, DMALAB_REG_ERR_INDEX,
    DMALAB_REG_ERR_CODE, DMALAB_REG_ERR_ADDR_LO, DMALAB_REG_ERR_ADDR_HI,
    DMALAB_REG_ERR_COUNT, DMALAB_REG_STAT_BYTES_LO, DMALAB_REG_STAT_BYTES_HI,
    DMALAB_REG_STAT_DESCS_LO, DMALAB_REG_STAT_DESCS_HI,
    DMALAB_REG_STAT_ERRORS_LO, DMALAB_REG_STAT_ERRORS_HI,
    DMALAB_REG_STAT_IRQS_LO, DMALAB_REG_STAT_IRQS_HI,
};

static const uint32_t queue_regs[] = {
    DMALAB_Q_RING_LO, DMALAB_Q_RING_HI, DMALAB_Q_RING_SIZE, DMALAB_Q_TAIL,
    DMALAB_Q_HEAD, DMALAB_Q_CTRL, DMALAB_Q_CPL_LO, DMALAB_Q_CPL_HI,
    DMALAB_Q_COAL_COUNT, DMALAB_Q_COAL_USEC, DMALAB_Q_STATUS, DMALAB_Q_ERROR,
    DMALAB_Q_SHADOW_LO, DMALAB_Q_SHADOW_HI,
};

/* Every resettable global and queue register holds its reset value. */
static void check_reset_regs(Dmalab *d, unsigned nq)
{
    for (size_t i = 0; i < ARRAY_SIZE(zero_after_reset); i++) {
        g_test_message("register 0x%x", zero_after_reset[i]);
        g_assert_cmphex(rd(d, zero_after_reset[i]), ==, 0);
    }
    for (unsigned q = 0; q < nq; q++) {
        for (size_t i = 0; i < ARRAY_SIZE(queue_regs); i++) {
            g_test_message("queue %u register 0x%x", q, queue_regs[i]);
            g_assert_cmphex(qrd(d, q, queue_regs[i]), ==, 0);
        }
    }
    g_assert_cmphex(qpci_io_readl(d->dev, d->pio, DMALAB_PIO_QSEL), ==, 0);
    g_assert_cmphex(qpci_io_readl(d->dev, d->pio, DMALAB_PIO_DOORBELLS), ==,
                    0);
}

static void test_id_registers(void)
{
    Dmalab d;
    uint32_t cap;

    dmalab_start(&d, "queues=6,devmem-size=2M,dma-bits=40");
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_VENDOR_ID), ==,
                    DMALAB_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_DEVICE_ID), ==,
                    DMALAB_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_CLASS_DEVICE), ==,
                    DMALAB_PCI_CLASS);
    g_assert_cmphex(qpci_config_readb(d.dev, PCI_REVISION_ID), ==,
                    DMALAB_PCI_REVISION);
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_SUBSYSTEM_VENDOR_ID), ==,
                    DMALAB_PCI_SUBSYS_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_SUBSYSTEM_ID), ==,
                    DMALAB_PCI_SUBSYS_ID);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    g_assert_cmphex(rd(&d, DMALAB_REG_VERSION), ==, DMALAB_VERSION);
    cap = rd(&d, DMALAB_REG_CAP);
    g_assert_cmpuint(DMALAB_CAP_NUM_QUEUES(cap), ==, 6);
    g_assert_cmpuint(DMALAB_CAP_DMA_BITS(cap), ==, 40);
    g_assert_cmpuint(DMALAB_CAP_RING_ORDER_MAX(cap), ==,
                     DMALAB_RING_ORDER_MAX);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_LO), ==, 2 * MIB);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_HI), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, 0);
    /* The port I/O mirror shows the same identity. */
    g_assert_cmphex(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_ID), ==,
                    DMALAB_ID_MAGIC);
    g_assert_cmphex(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_VERSION), ==,
                    DMALAB_VERSION);
    dmalab_stop(&d);
}

/* Every global and queue register reads its reset value after power-on. */
static void test_reset_values(void)
{
    Dmalab d;
    uint32_t cap;

    dmalab_start(&d, NULL);
    cap = rd(&d, DMALAB_REG_CAP);
    g_assert_cmpuint(DMALAB_CAP_NUM_QUEUES(cap), ==, 4);
    g_assert_cmpuint(DMALAB_CAP_DMA_BITS(cap), ==, 64);
    g_assert_cmphex(rd(&d, DMALAB_REG_FEATURES), ==,
                    DMALAB_FEAT_MSIX | DMALAB_FEAT_MSI | DMALAB_FEAT_SG |
                    DMALAB_FEAT_CRC32C | DMALAB_FEAT_FILL |
                    DMALAB_FEAT_COALESCE | DMALAB_FEAT_DEBUG |
                    DMALAB_FEAT_SHADOW_DB);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_LO), ==, MIB);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_HI), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_MAX_XFER), ==, 64 * MIB);
    check_reset_regs(&d, 4);
    /* Queues beyond CAP.NUM_QUEUES read as zero. */
    g_assert_cmphex(qrd(&d, 4, DMALAB_Q_STATUS), ==, 0);
    g_assert_cmphex(qrd(&d, 31, DMALAB_Q_RING_SIZE), ==, 0);
    /* The debug block starts disarmed (the property defaults). */
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_FAIL_NTH), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_FAIL_STATUS), ==,
                    DMALAB_STS_INJECTED);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_IRQ_MODE), ==,
                    DMALAB_DBG_IRQ_NORMAL);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_IRQ_COUNT), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_IRQ_DELAY_US), ==, 1000);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_STALL), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_CORRUPT_NTH), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_CORRUPT_OFFSET), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_LAST_ADDR_LO), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_LAST_ADDR_HI), ==, 0);
    /* Writes to read-only registers change nothing. */
    wr(&d, DMALAB_REG_ID, 0);
    wr(&d, DMALAB_REG_CAP, 0);
    wr(&d, DMALAB_REG_STAT_BYTES_LO, 5);
    qwr(&d, 0, DMALAB_Q_HEAD, 3);
    qwr(&d, 0, DMALAB_Q_STATUS, 7);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    g_assert_cmphex(rd(&d, DMALAB_REG_CAP), ==, cap);
    check_reset_regs(&d, 4);
    dmalab_stop(&d);
}

/* Only 32-bit accesses reach the registers; other widths are rejected. */
static void test_access_width(void)
{
    static const uint32_t probe[] = {
        DMALAB_REG_ID, DMALAB_REG_VERSION, DMALAB_REG_CAP,
        DMALAB_REG_INTR_MASK, DMALAB_QREG(0, DMALAB_Q_RING_LO),
    };
    Dmalab d;

    dmalab_start(&d, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(probe); i++) {
        g_test_message("register 0x%x", probe[i]);
        g_assert_cmphex(qpci_io_readb(d.dev, d.regs, probe[i]), ==, 0xff);
        g_assert_cmphex(qpci_io_readb(d.dev, d.regs, probe[i] + 1), ==, 0xff);
        g_assert_cmphex(qpci_io_readw(d.dev, d.regs, probe[i]), ==, 0xffff);
        g_assert_cmphex(qpci_io_readw(d.dev, d.regs, probe[i] + 2), ==,
                        0xffff);
        g_assert_cmphex(qpci_io_readq(d.dev, d.regs, probe[i]), ==,
                        UINT64_MAX);
    }

    /* Writes of odd widths are ignored. */
    qpci_io_writeb(d.dev, d.regs, DMALAB_REG_INTR_MASK, 0xff);
    qpci_io_writew(d.dev, d.regs, DMALAB_REG_INTR_MASK, 0xffff);
    qpci_io_writew(d.dev, d.regs, DMALAB_REG_INTR_MASK + 2, 0xffff);
    qpci_io_writeq(d.dev, d.regs, DMALAB_REG_INTR_MASK, UINT64_MAX);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_MASK), ==, 0);
    qpci_io_writeb(d.dev, d.regs, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    qpci_io_writeq(d.dev, d.regs, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    g_assert_cmphex(rd(&d, DMALAB_REG_CTRL), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, 0);
    qpci_io_writeq(d.dev, d.regs, DMALAB_QREG(0, DMALAB_Q_RING_LO),
                   0x0000001200001000ull);
    qpci_io_writew(d.dev, d.regs, DMALAB_QREG(0, DMALAB_Q_RING_SIZE), 8);
    qpci_io_writeb(d.dev, d.regs, DMALAB_QREG(0, DMALAB_Q_CTRL),
                   DMALAB_QCTRL_ENABLE);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_RING_LO), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_RING_HI), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_RING_SIZE), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, 0);

    /* 32-bit accesses work as usual afterwards. */
    wr(&d, DMALAB_REG_INTR_MASK, 0x80000003);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_MASK), ==, 0x80000003);
    check_alive(&d);
    dmalab_stop(&d);
}

/* ---- Opcodes ---------------------------------------------------------- */

#define DEVMEM_OFF      (4096 + 3)
#define OP_DEVMEM       "devmem-size=4M"

/* Fill device memory around [off, off + len) with guard bytes. */
static void devmem_guard(Dmalab *d, uint64_t off, size_t len)
{
    g_autofree uint8_t *g = g_malloc(len + 2 * GUARD_LEN);

    memset(g, GUARD_BYTE, len + 2 * GUARD_LEN);
    qpci_memwrite(d->dev, d->devmem, off - GUARD_LEN, g, len + 2 * GUARD_LEN);
}

static void devmem_check(Dmalab *d, uint64_t off, const uint8_t *expect,
                         size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len + 2 * GUARD_LEN);

    qpci_memread(d->dev, d->devmem, off - GUARD_LEN, buf, len + 2 * GUARD_LEN);
    for (size_t i = 0; i < GUARD_LEN; i++) {
        g_assert_cmphex(buf[i], ==, GUARD_BYTE);
        g_assert_cmphex(buf[GUARD_LEN + len + i], ==, GUARD_BYTE);
    }
    g_assert(memcmp(buf + GUARD_LEN, expect, len) == 0);
}

static void test_op_h2d(const void *opaque)
{
    size_t len = GPOINTER_TO_SIZE(opaque);
    g_autofree uint8_t *data = random_bytes(len);
    struct dmalab_cpl cpl;
    uint64_t src;
    Dmalab d;

    dmalab_start(&d, OP_DEVMEM);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, len, data);
    devmem_guard(&d, DEVMEM_OFF, len);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, len, src, DEVMEM_OFF);
    assert_ok(&cpl, len);
    devmem_check(&d, DEVMEM_OFF, data, len);
    check_mem(&d, src, data, len);
    check_guards(&d, src, len);
    dmalab_stop(&d);
}

static void test_op_d2h(const void *opaque)
{
    size_t len = GPOINTER_TO_SIZE(opaque);
    g_autofree uint8_t *data = random_bytes(len);
    struct dmalab_cpl cpl;
    uint64_t dst;
    Dmalab d;

    dmalab_start(&d, OP_DEVMEM);
    dmalab_setup_queue(&d, 8);
    dst = guarded_alloc(&d, len, NULL);
    devmem_guard(&d, DEVMEM_OFF, len);
    qpci_memwrite(d.dev, d.devmem, DEVMEM_OFF, data, len);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, len, DEVMEM_OFF, dst);
    assert_ok(&cpl, len);
    check_mem(&d, dst, data, len);
    check_guards(&d, dst, len);
    devmem_check(&d, DEVMEM_OFF, data, len);
    dmalab_stop(&d);
}

static void test_op_copy(const void *opaque)
{
    size_t len = GPOINTER_TO_SIZE(opaque);
    g_autofree uint8_t *data = random_bytes(len);
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, len, data);
    dst = guarded_alloc(&d, len, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, len, src, dst);
    assert_ok(&cpl, len);
    check_mem(&d, dst, data, len);
    check_mem(&d, src, data, len);
    check_guards(&d, src, len);
    check_guards(&d, dst, len);
    dmalab_stop(&d);
}

static void test_op_fill(const void *opaque)
{
    size_t len = GPOINTER_TO_SIZE(opaque);
    const uint64_t pattern = 0x0123456789abcdefull;
    g_autofree uint8_t *expect = g_malloc(len);
    uint64_t le = cpu_to_le64(pattern);
    struct dmalab_cpl cpl;
    uint64_t dst;
    Dmalab d;

    for (size_t i = 0; i < len; i++) {
        expect[i] = ((uint8_t *)&le)[i % 8];
    }
    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    dst = guarded_alloc(&d, len, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, len, pattern, dst);
    assert_ok(&cpl, len);
    check_mem(&d, dst, expect, len);
    check_guards(&d, dst, len);
    dmalab_stop(&d);
}

static void test_op_crc32c(const void *opaque)
{
    size_t len = GPOINTER_TO_SIZE(opaque);
    g_autofree uint8_t *data = random_bytes(len);
    struct dmalab_cpl cpl;
    uint64_t src;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, len, data);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, len, src, 0);
    assert_ok(&cpl, len);
    g_assert_cmphex(le32_to_cpu(cpl.result), ==, ref_crc32c(data, len));
    check_mem(&d, src, data, len);
    check_guards(&d, src, len);
    dmalab_stop(&d);
}

/* The standard check value: CRC32C("123456789") = 0xe3069283. */
static void test_op_crc32c_known(void)
{
    static const uint8_t digits[] = "123456789";
    struct dmalab_cpl cpl;
    uint64_t src;
    Dmalab d;

    g_assert_cmphex(ref_crc32c(digits, 9), ==, 0xe3069283);
    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, 9, digits);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, 9, src, 0);
    assert_ok(&cpl, 9);
    g_assert_cmphex(le32_to_cpu(cpl.result), ==, 0xe3069283);
    dmalab_stop(&d);
}

/* Host -> device memory -> host, one descriptor each way. */
static void roundtrip(size_t len)
{
    Dmalab d;
    g_autofree uint8_t *data = random_bytes(len);
    g_autofree uint8_t *back = g_malloc(len);
    g_autofree uint8_t *devmem = g_malloc(len);
    uint64_t src, dst, devoff = 4096 + 3;
    struct dmalab_cpl cpl;

    dmalab_start(&d, "devmem-size=4M");
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, len, data);
    dst = guarded_alloc(&d, len, NULL);

    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, len, src, devoff);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_OK);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, len);
    /* The CPU's view of device memory shows what the engine wrote. */
    qpci_memread(d.dev, d.devmem, devoff, devmem, len);
    g_assert(memcmp(devmem, data, len) == 0);

    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, len, devoff, dst);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_OK);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, len);
    qtest_memread(d.qts, dst, back, len);
    g_assert(memcmp(back, data, len) == 0);
    check_guards(&d, src, len);
    check_guards(&d, dst, len);
    dmalab_stop(&d);
}

static void test_roundtrip_1(void)
{
    roundtrip(1);
}

static void test_roundtrip_4097(void)
{
    roundtrip(4097);
}

static void test_roundtrip_1m1(void)
{
    roundtrip(1024 * 1024 + 1);
}

/* ---- Scatter-gather --------------------------------------------------- */

typedef struct Frag {
    uint64_t addr;
    uint32_t len;
} Frag;

typedef struct SgList {
    Frag frag[128];
    int n;
    uint64_t table;      /* first table, what the descriptor points to */
} SgList;

/*
 * Cut @len bytes into guarded fragments of odd sizes (derived from @seed)
 * and describe them with two SG tables: the first holds @split entries and
 * then a DMALAB_SG_LINK entry to the second, which holds the rest.
 * @data (may be NULL) is scattered into the fragments.
 */
static void sg_build(Dmalab *d, SgList *sg, uint32_t len, uint32_t seed,
                     int split, const uint8_t *data)
{
    struct dmalab_sg_entry ent[128];
    uint32_t done = 0;
    uint64_t t2;

    sg->n = 0;
    while (done < len) {
        uint32_t n = ((seed + sg->n * 97) % 509) | 1;

        n = MIN(n, len - done);
        g_assert(sg->n < ARRAY_SIZE(sg->frag));
        sg->frag[sg->n].len = n;
        sg->frag[sg->n].addr = guarded_alloc(d, n, data ? data + done : NULL);
        done += n;
        sg->n++;
    }
    g_assert_cmpint(sg->n, >, split);
    for (int i = 0; i < sg->n; i++) {
        ent[i].addr = cpu_to_le64(sg->frag[i].addr);
        ent[i].len = cpu_to_le32(sg->frag[i].len);
        ent[i].flags = 0;
    }
    sg->table = guest_alloc(&d->alloc, (split + 1) * sizeof(ent[0]));
    t2 = guest_alloc(&d->alloc, (sg->n - split) * sizeof(ent[0]));
    qtest_memwrite(d->qts, sg->table, ent, split * sizeof(ent[0]));
    qtest_memwrite(d->qts, t2, ent + split,
                   (sg->n - split) * sizeof(ent[0]));
    ent[0].addr = cpu_to_le64(t2);
    ent[0].len = 0;
    ent[0].flags = cpu_to_le32(DMALAB_SG_LINK);
    qtest_memwrite(d->qts, sg->table + split * sizeof(ent[0]), ent,
                   sizeof(ent[0]));
}

/* The fragments hold @expect (in order) and their guards are intact. */
static void sg_check(Dmalab *d, const SgList *sg, const uint8_t *expect)
{
    size_t off = 0;

    for (int i = 0; i < sg->n; i++) {
        check_mem(d, sg->frag[i].addr, expect + off, sg->frag[i].len);
        check_guards(d, sg->frag[i].addr, sg->frag[i].len);
        off += sg->frag[i].len;
    }
}

/* COPY from one linked SG list to another with different fragments. */
static void test_sg_copy(void)
{
    const uint32_t len = 11111;
    g_autofree uint8_t *data = random_bytes(len);
    SgList *src = g_new0(SgList, 1);
    SgList *dst = g_new0(SgList, 1);
    struct dmalab_cpl cpl;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    sg_build(&d, src, len, 13, 17, data);
    sg_build(&d, dst, len, 301, 29, NULL);
    g_test_message("%d source and %d destination fragments", src->n, dst->n);
    g_assert_cmpint(src->n, >=, 24);
    g_assert_cmpint(dst->n, >=, 24);
    cpl = dmalab_run(&d, DMALAB_OP_COPY,
                     DMALAB_DESC_SRC_SG | DMALAB_DESC_DST_SG, len,
                     src->table, dst->table);
    assert_ok(&cpl, len);
    sg_check(&d, dst, data);
    sg_check(&d, src, data);
    g_free(src);
    g_free(dst);
    dmalab_stop(&d);
}

/* SG lists with H2D, D2H, FILL, CRC32C and mixed with flat buffers. */
static void test_sg_ops(void)
{
    const uint32_t len = 9000;
    const uint64_t pattern = 0xfeedfacecafebeefull;
    uint64_t le = cpu_to_le64(pattern);
    g_autofree uint8_t *data = random_bytes(len);
    g_autofree uint8_t *fill = g_malloc(len);
    SgList *sa = g_new0(SgList, 1);
    SgList *sb = g_new0(SgList, 1);
    SgList *sc = g_new0(SgList, 1);
    struct dmalab_cpl cpl;
    uint64_t flat;
    Dmalab d;

    for (uint32_t i = 0; i < len; i++) {
        fill[i] = ((uint8_t *)&le)[i % 8];
    }
    dmalab_start(&d, OP_DEVMEM);
    dmalab_setup_queue(&d, 8);
    sg_build(&d, sa, len, 7, 10, data);
    sg_build(&d, sb, len, 55, 20, NULL);
    sg_build(&d, sc, len, 123, 5, NULL);
    flat = guarded_alloc(&d, len, NULL);

    /* SG -> device memory -> SG */
    devmem_guard(&d, DEVMEM_OFF, len);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, DMALAB_DESC_SRC_SG, len, sa->table,
                     DEVMEM_OFF);
    assert_ok(&cpl, len);
    devmem_check(&d, DEVMEM_OFF, data, len);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, DMALAB_DESC_DST_SG, len, DEVMEM_OFF,
                     sb->table);
    assert_ok(&cpl, len);
    sg_check(&d, sb, data);

    /* CRC32C over an SG list */
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, DMALAB_DESC_SRC_SG, len,
                     sa->table, 0);
    assert_ok(&cpl, len);
    g_assert_cmphex(le32_to_cpu(cpl.result), ==, ref_crc32c(data, len));

    /* FILL into an SG list: the pattern runs on across fragments. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_DST_SG, len, pattern,
                     sc->table);
    assert_ok(&cpl, len);
    sg_check(&d, sc, fill);

    /* SG -> flat and flat -> SG */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_SRC_SG, len, sb->table,
                     flat);
    assert_ok(&cpl, len);
    check_mem(&d, flat, data, len);
    check_guards(&d, flat, len);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_DST_SG, len, flat,
                     sc->table);
    assert_ok(&cpl, len);
    sg_check(&d, sc, data);
    g_free(sa);
    g_free(sb);
    g_free(sc);
    dmalab_stop(&d);
}

/* A table whose only entry links to itself ends with SG_LOOP. */
static void test_sg_loop(void)
{
    struct dmalab_sg_entry ent[2];
    struct dmalab_cpl cpl;
    uint64_t table, buf, dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    dst = guarded_alloc(&d, 4096, NULL);
    table = guest_alloc(&d.alloc, sizeof(ent));
    ent[0].addr = cpu_to_le64(table);
    ent[0].len = 0;
    ent[0].flags = cpu_to_le32(DMALAB_SG_LINK);
    qtest_memwrite(d.qts, table, ent, sizeof(ent[0]));
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_SRC_SG, 4096, table,
                     dst);
    expect_error(&d, &cpl, DMALAB_STS_SG_LOOP);
    check_untouched(&d, dst, 4096);

    /* A loop through a data entry moves data, but still ends. */
    buf = guarded_alloc(&d, 16, NULL);
    ent[0].addr = cpu_to_le64(buf);
    ent[0].len = cpu_to_le32(16);
    ent[0].flags = 0;
    ent[1].addr = cpu_to_le64(table);
    ent[1].len = 0;
    ent[1].flags = cpu_to_le32(DMALAB_SG_LINK);
    qtest_memwrite(d.qts, table, ent, sizeof(ent));
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_DST_SG, 4 * MIB, 0,
                     table);
    expect_error(&d, &cpl, DMALAB_STS_SG_LOOP);
    check_guards(&d, buf, 16);

    /* The queue goes on working. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, dst);
    assert_ok(&cpl, 64);
    dmalab_stop(&d);
}

/* A table that ends before len is covered completes with SG_SHORT. */
static void test_sg_short(void)
{
    struct dmalab_sg_entry ent[4];
    g_autofree uint8_t *data = random_bytes(300);
    struct dmalab_cpl cpl;
    uint64_t table, dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    dst = guarded_alloc(&d, 400, NULL);
    table = guest_alloc(&d.alloc, sizeof(ent));
    for (int i = 0; i < 3; i++) {
        ent[i].addr = cpu_to_le64(guarded_alloc(&d, 100, data + i * 100));
        ent[i].len = cpu_to_le32(100);
        ent[i].flags = 0;
    }
    /* The table ends here: a zero-length entry without DMALAB_SG_LINK. */
    memset(&ent[3], 0, sizeof(ent[3]));
    qtest_memwrite(d.qts, table, ent, sizeof(ent));
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_SRC_SG, 400, table, dst);
    expect_error(&d, &cpl, DMALAB_STS_SG_SHORT);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), <=, 300);
    check_guards(&d, dst, 400);

    /* Exactly covered, the same table works. */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_SRC_SG, 300, table, dst);
    assert_ok(&cpl, 300);
    check_mem(&d, dst, data, 300);
    dmalab_stop(&d);
}

/* An SG entry with undefined flag bits is rejected. */
static void test_sg_bad_flags(void)
{
    struct dmalab_sg_entry ent;
    struct dmalab_cpl cpl;
    uint64_t table, src, dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, 64, NULL);
    dst = guarded_alloc(&d, 64, NULL);
    table = guest_alloc(&d.alloc, sizeof(ent));
    ent.addr = cpu_to_le64(src);
    ent.len = cpu_to_le32(64);
    ent.flags = cpu_to_le32(0x80);
    qtest_memwrite(d.qts, table, &ent, sizeof(ent));
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_SRC_SG, 64, table, dst);
    expect_error(&d, &cpl, DMALAB_STS_BAD_FLAGS);
    check_untouched(&d, dst, 64);
    dmalab_stop(&d);
}

/* ---- Chains ----------------------------------------------------------- */

/* CRC32C and COPY spread over chained descriptors. */
static void test_chain_ok(void)
{
    static const uint32_t part[] = { 1000, 2001, 3003, 1 };
    const uint32_t total = 1000 + 2001 + 3003 + 1;
    g_autofree uint8_t *data = random_bytes(total);
    uint64_t src[ARRAY_SIZE(part)], dst[ARRAY_SIZE(part)];
    Ticket t[ARRAY_SIZE(part)];
    struct dmalab_cpl cpl;
    uint32_t off = 0;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 16);
    for (size_t i = 0; i < ARRAY_SIZE(part); i++) {
        src[i] = guarded_alloc(&d, part[i], data + off);
        dst[i] = guarded_alloc(&d, part[i], NULL);
        off += part[i];
    }

    /* One CRC over all parts: the last link reports it. */
    for (size_t i = 0; i < ARRAY_SIZE(part); i++) {
        bool last = i == ARRAY_SIZE(part) - 1;

        t[i] = post(&d, 0, DMALAB_OP_CRC32C, last ? 0 : DMALAB_DESC_CHAIN,
                    part[i], src[i], 0);
    }
    doorbell(&d, 0);
    for (size_t i = 0; i < ARRAY_SIZE(part); i++) {
        cpl = wait_cpl(&d, &t[i]);
        assert_ok(&cpl, part[i]);
    }
    g_assert_cmphex(le32_to_cpu(cpl.result), ==, ref_crc32c(data, total));

    /* A COPY chain moves every part. */
    for (size_t i = 0; i < ARRAY_SIZE(part); i++) {
        bool last = i == ARRAY_SIZE(part) - 1;

        t[i] = post(&d, 0, DMALAB_OP_COPY, last ? 0 : DMALAB_DESC_CHAIN,
                    part[i], src[i], dst[i]);
    }
    doorbell(&d, 0);
    off = 0;
    for (size_t i = 0; i < ARRAY_SIZE(part); i++) {
        cpl = wait_cpl(&d, &t[i]);
        assert_ok(&cpl, part[i]);
        check_mem(&d, dst[i], data + off, part[i]);
        check_guards(&d, dst[i], part[i]);
        off += part[i];
    }

    /* A new chain starts a new CRC. */
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, part[1], src[1], 0);
    assert_ok(&cpl, part[1]);
    g_assert_cmphex(le32_to_cpu(cpl.result), ==,
                    ref_crc32c(data + part[0], part[1]));
    dmalab_stop(&d);
}

/* A failing link aborts the rest of its chain, and only that chain. */
static void test_chain_abort(void)
{
    g_autofree uint8_t *data = random_bytes(512);
    uint64_t src, dst[5];
    Ticket t[5];
    struct dmalab_cpl cpl;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 16);
    src = guarded_alloc(&d, 512, data);
    for (int i = 0; i < 5; i++) {
        dst[i] = guarded_alloc(&d, 512, NULL);
    }
    t[0] = post(&d, 0, DMALAB_OP_COPY, DMALAB_DESC_CHAIN, 512, src, dst[0]);
    t[1] = post(&d, 0, DMALAB_OP_COPY, DMALAB_DESC_CHAIN, 512, src,
                UNMAPPED_ADDR);
    t[2] = post(&d, 0, DMALAB_OP_COPY, DMALAB_DESC_CHAIN, 512, src, dst[2]);
    t[3] = post(&d, 0, DMALAB_OP_COPY, 0, 512, src, dst[3]);
    t[4] = post(&d, 0, DMALAB_OP_COPY, 0, 512, src, dst[4]);
    doorbell(&d, 0);

    cpl = wait_cpl(&d, &t[0]);
    assert_ok(&cpl, 512);
    check_mem(&d, dst[0], data, 512);
    cpl = wait_cpl(&d, &t[1]);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_DMA_WRITE);
    for (int i = 2; i < 4; i++) {
        cpl = wait_cpl(&d, &t[i]);
        g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_ABORTED);
        g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, 0);
        check_untouched(&d, dst[i], 512);
    }
    /* The descriptor after the chain runs normally. */
    cpl = wait_cpl(&d, &t[4]);
    assert_ok(&cpl, 512);
    check_mem(&d, dst[4], data, 512);
    expect_error_logged(&d, DMALAB_STS_DMA_WRITE);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 0);
    dmalab_stop(&d);
}

/* ---- Queues ----------------------------------------------------------- */

/* Four queues with work at once: every transfer lands where it should. */
static void test_queues_parallel(void)
{
    enum { NQ = 4, PER = 6 };
    uint8_t *data[NQ][PER];
    uint64_t src[NQ][PER], dst[NQ][PER];
    uint32_t len[NQ][PER];
    Ticket t[NQ][PER];
    struct dmalab_cpl cpl;
    Dmalab d;

    dmalab_start(&d, "queues=4");
    for (int q = 0; q < NQ; q++) {
        setup_queue(&d, q, 8);
    }
    for (int q = 0; q < NQ; q++) {
        for (int i = 0; i < PER; i++) {
            len[q][i] = 1 + (q * 7919 + i * 104729) % 70000;
            data[q][i] = random_bytes(len[q][i]);
            src[q][i] = guarded_alloc(&d, len[q][i], data[q][i]);
            dst[q][i] = guarded_alloc(&d, len[q][i], NULL);
            t[q][i] = post(&d, q, DMALAB_OP_COPY, DMALAB_DESC_IRQ, len[q][i],
                           src[q][i], dst[q][i]);
        }
    }
    for (int q = 0; q < NQ; q++) {
        doorbell(&d, q);
    }
    for (int q = 0; q < NQ; q++) {
        for (int i = 0; i < PER; i++) {
            cpl = wait_cpl(&d, &t[q][i]);
            assert_ok(&cpl, len[q][i]);
            check_mem(&d, dst[q][i], data[q][i], len[q][i]);
            check_guards(&d, dst[q][i], len[q][i]);
            g_free(data[q][i]);
        }
        g_assert_cmpuint(qrd(&d, q, DMALAB_Q_HEAD), ==, PER);
        g_assert_cmphex(qrd(&d, q, DMALAB_Q_STATUS), ==, DMALAB_QSTS_ENABLED);
    }
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, 0xf);
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_DESCS_LO), ==, NQ * PER);
    dmalab_stop(&d);
}

/* A ring of 2 entries wraps many times; the phase flips each time. */
static void test_ring_size_2(void)
{
    struct dmalab_cpl cpl;
    uint64_t dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 2);
    dst = guarded_alloc(&d, 8, NULL);
    for (uint64_t i = 0; i < 9; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, i, dst);
        assert_ok(&cpl, 8);
        g_assert_cmpuint(le16_to_cpu(cpl.flags) & DMALAB_CPL_PHASE, ==,
                         ((i / 2) & 1) ? 0 : DMALAB_CPL_PHASE);
        g_assert_cmpuint(qtest_readq(d.qts, dst), ==, i);
    }
    dmalab_stop(&d);
}

/* The largest ring, filled to capacity (size - 1), then wrapped. */
static void test_ring_size_max(void)
{
    const uint32_t size = 1u << DMALAB_RING_ORDER_MAX;
    g_autofree uint64_t *out = g_new(uint64_t, size);
    g_autofree struct dmalab_cpl *cpls = g_new(struct dmalab_cpl, size);
    struct dmalab_cpl cpl;
    Ticket t, first;
    uint64_t dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, size);
    dst = guarded_alloc(&d, size * 8, NULL);
    first = post(&d, 0, DMALAB_OP_FILL, 0, 8, 0x1000, dst);
    t = first;
    for (uint32_t i = 1; i < size - 1; i++) {
        t = post(&d, 0, DMALAB_OP_FILL, 0, 8, 0x1000 + i, dst + i * 8);
    }
    doorbell(&d, 0);
    cpl = wait_cpl(&d, &t);
    assert_ok(&cpl, 8);
    cpl = wait_cpl(&d, &first);
    assert_ok(&cpl, 8);
    qtest_memread(d.qts, d.q[0].cpl, cpls, size * sizeof(*cpls));
    qtest_memread(d.qts, dst, out, size * 8);
    for (uint32_t i = 0; i < size - 1; i++) {
        g_assert_cmphex(le16_to_cpu(cpls[i].status), ==, DMALAB_STS_OK);
        g_assert_cmphex(le16_to_cpu(cpls[i].flags), ==, DMALAB_CPL_PHASE);
        g_assert_cmpuint(le16_to_cpu(cpls[i].index), ==, i);
        g_assert_cmphex(le64_to_cpu(out[i]), ==, 0x1000 + i);
    }
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, size - 1);
    /* Wrap: the last slot, then slot 0 again with the phase flipped. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x77, dst);
    g_assert_cmpuint(le16_to_cpu(cpl.index), ==, size - 1);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x78, dst);
    g_assert_cmpuint(le16_to_cpu(cpl.index), ==, 0);
    g_assert_cmphex(le16_to_cpu(cpl.flags) & DMALAB_CPL_PHASE, ==, 0);
    g_assert_cmpuint(qtest_readq(d.qts, dst), ==, 0x78);
    check_guards(&d, dst, size * 8);
    dmalab_stop(&d);
}

/* ---- Interrupts ------------------------------------------------------- */

/* A completion with DMALAB_DESC_IRQ signals queue 0's MSI-X vector. */
static void test_msix_queue_vector(void)
{
    Dmalab d;
    uint64_t buf;

    dmalab_start(&d, "queues=2");
    qpci_msix_enable(d.dev);
    g_assert_cmpuint(qpci_msix_table_size(d.dev), ==, DMALAB_MSIX_TABLE_SIZE);
    dmalab_setup_queue(&d, 4);
    buf = guest_alloc(&d.alloc, 64);
    g_assert(qpci_msix_masked(d.dev, 0));
    g_assert(!qpci_msix_pending(d.dev, 0));
    dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 64, 0x1122334455667788,
               buf);
    g_assert(qpci_msix_pending(d.dev, 0));
    g_assert(!qpci_msix_pending(d.dev, 1));
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, DMALAB_INTR_QUEUE(0));
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* Point MSI-X vector @v at guest memory @addr and unmask it. */
static void msix_route(Dmalab *d, unsigned v, uint64_t addr, uint32_t data)
{
    uint64_t off = d->dev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;
    QPCIBar bar = d->dev->msix_table_bar;

    qpci_io_writel(d->dev, bar, off + PCI_MSIX_ENTRY_LOWER_ADDR, addr);
    qpci_io_writel(d->dev, bar, off + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
    qpci_io_writel(d->dev, bar, off + PCI_MSIX_ENTRY_DATA, data);
    qpci_io_writel(d->dev, bar, off + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

/*
 * Vector q for queue q, vector num_queues for errors: first seen as pending
 * bits with the vectors masked, then as messages written to memory.
 */
static void test_msix_per_queue(void)
{
    enum { NQ = 4 };
    uint32_t msg[NQ + 1];
    struct dmalab_cpl cpl;
    uint64_t buf, sink;
    Dmalab d;

    dmalab_start(&d, "queues=4");
    qpci_msix_enable(d.dev);
    g_assert_cmpuint(qpci_msix_table_size(d.dev), ==, DMALAB_MSIX_TABLE_SIZE);
    buf = guest_alloc(&d.alloc, 64);
    for (int q = 0; q < NQ; q++) {
        setup_queue(&d, q, 4);
    }
    for (int q = 0; q < NQ; q++) {
        cpl = run_q(&d, q, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, q, buf);
        assert_ok(&cpl, 8);
        for (int v = 0; v <= NQ; v++) {
            g_assert_cmpint(qpci_msix_pending(d.dev, v), ==, v <= q);
        }
        g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==,
                        (1u << (q + 1)) - 1);
    }
    cpl = run_q(&d, 2, 0x66, 0, 8, 0, buf);
    g_assert(qpci_msix_pending(d.dev, DMALAB_MSIX_ERR_VECTOR(NQ)));
    expect_error(&d, &cpl, DMALAB_STS_BAD_OPCODE);
    wr(&d, DMALAB_REG_INTR_CAUSE, UINT32_MAX);

    /* Unmasked vectors: each message lands in its own word. */
    sink = guest_alloc(&d.alloc, 4096);
    for (int v = 0; v <= NQ; v++) {
        /* Unmasking sends what is pending; each run clears the sink. */
        msix_route(&d, v, sink + 64 * v, 0x100 + v);
    }
    for (int q = 0; q < NQ; q++) {
        qtest_memset(d.qts, sink, 0, 4096);
        cpl = run_q(&d, q, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, q, buf);
        assert_ok(&cpl, 8);
        for (int v = 0; v <= NQ; v++) {
            msg[v] = qtest_readl(d.qts, sink + 64 * v);
            g_assert_cmphex(msg[v], ==, v == q ? 0x100 + v : 0);
        }
        /* A descriptor without DMALAB_DESC_IRQ sends nothing. */
        qtest_memset(d.qts, sink, 0, 4096);
        cpl = run_q(&d, q, DMALAB_OP_FILL, 0, 8, q, buf);
        assert_ok(&cpl, 8);
        g_assert_cmphex(qtest_readl(d.qts, sink + 64 * q), ==, 0);
    }
    qtest_memset(d.qts, sink, 0, 4096);
    cpl = run_q(&d, 1, DMALAB_OP_COPY, 0, 8, UNMAPPED_ADDR, buf);
    expect_error(&d, &cpl, DMALAB_STS_DMA_READ);
    for (int v = 0; v <= NQ; v++) {
        g_assert_cmphex(qtest_readl(d.qts, sink + 64 * v), ==,
                        v == NQ ? 0x100 + NQ : 0);
    }
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* With msix=off the device signals through its single MSI vector. */
static void test_msi(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf, sink;
    uint16_t flags;
    uint8_t cap;
    Dmalab d;

    dmalab_start(&d, "msix=off");
    g_assert_cmphex(qpci_find_capability(d.dev, PCI_CAP_ID_MSIX, 0), ==, 0);
    cap = qpci_find_capability(d.dev, PCI_CAP_ID_MSI, 0);
    g_assert_cmphex(cap, !=, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_FEATURES) &
                    (DMALAB_FEAT_MSI | DMALAB_FEAT_MSIX), ==, DMALAB_FEAT_MSI);
    flags = qpci_config_readw(d.dev, cap + PCI_MSI_FLAGS);
    g_assert(flags & PCI_MSI_FLAGS_64BIT);

    sink = guest_alloc(&d.alloc, 4096);
    buf = guest_alloc(&d.alloc, 64);
    qtest_memset(d.qts, sink, 0, 4096);
    qpci_config_writel(d.dev, cap + PCI_MSI_ADDRESS_LO, sink);
    qpci_config_writel(d.dev, cap + PCI_MSI_ADDRESS_HI, sink >> 32);
    qpci_config_writew(d.dev, cap + PCI_MSI_DATA_64, 0x4321);
    qpci_config_writew(d.dev, cap + PCI_MSI_FLAGS,
                       flags | PCI_MSI_FLAGS_ENABLE);

    dmalab_setup_queue(&d, 4);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 1, buf);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readl(d.qts, sink), ==, 0);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 1, buf);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readl(d.qts, sink), ==, 0x4321);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, DMALAB_INTR_QUEUE(0));
    wr(&d, DMALAB_REG_INTR_CAUSE, DMALAB_INTR_QUEUE(0));
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, 0);

    /* Errors use the same vector; INTR_CAUSE tells them apart. */
    qtest_writel(d.qts, sink, 0);
    cpl = dmalab_run(&d, 0xee, 0, 8, 1, buf);
    g_assert_cmphex(qtest_readl(d.qts, sink), ==, 0x4321);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, DMALAB_INTR_ERROR);
    expect_error(&d, &cpl, DMALAB_STS_BAD_OPCODE);
    dmalab_stop(&d);
}

static bool intx(Dmalab *d)
{
    return qtest_get_irq(d->qts, DMALAB_Q35_GSI);
}

/* With msix=off,msi=off the device uses INTA#, level triggered. */
static void test_intx(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "msix=off,msi=off");
    qtest_irq_intercept_in(d.qts, "ioapic");
    g_assert_cmphex(qpci_find_capability(d.dev, PCI_CAP_ID_MSIX, 0), ==, 0);
    g_assert_cmphex(qpci_find_capability(d.dev, PCI_CAP_ID_MSI, 0), ==, 0);
    g_assert_cmphex(qpci_config_readb(d.dev, PCI_INTERRUPT_PIN), ==, 1);
    g_assert_cmphex(rd(&d, DMALAB_REG_FEATURES) &
                    (DMALAB_FEAT_MSI | DMALAB_FEAT_MSIX), ==, 0);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 4);
    g_assert(!intx(&d));

    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 1, buf);
    assert_ok(&cpl, 8);
    g_assert(!intx(&d));
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 1, buf);
    assert_ok(&cpl, 8);
    g_assert(intx(&d));
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, DMALAB_INTR_QUEUE(0));
    /* Writing 0 clears nothing; writing 1 deasserts. */
    wr(&d, DMALAB_REG_INTR_CAUSE, 0);
    g_assert(intx(&d));
    wr(&d, DMALAB_REG_INTR_CAUSE, DMALAB_INTR_QUEUE(0));
    g_assert(!intx(&d));
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, 0);

    /* Masked: the cause is latched but the line stays low until unmasked. */
    wr(&d, DMALAB_REG_INTR_MASK, DMALAB_INTR_QUEUE(0));
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 1, buf);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, DMALAB_INTR_QUEUE(0));
    g_assert(!intx(&d));
    wr(&d, DMALAB_REG_INTR_MASK, 0);
    g_assert(intx(&d));
    wr(&d, DMALAB_REG_INTR_MASK, DMALAB_INTR_QUEUE(0));
    g_assert(!intx(&d));
    wr(&d, DMALAB_REG_INTR_MASK, 0);
    g_assert(intx(&d));
    wr(&d, DMALAB_REG_INTR_CAUSE, DMALAB_INTR_QUEUE(0));
    g_assert(!intx(&d));

    /* An error asserts the line too, until its cause is cleared. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 0, 1, buf);
    g_assert(intx(&d));
    expect_error(&d, &cpl, DMALAB_STS_BAD_LEN);
    g_assert(!intx(&d));
    dmalab_stop(&d);
}

/* INTR_MASK holds back an MSI-X interrupt; unmasking delivers it. */
static void test_intr_mask_msix(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=2");
    qpci_msix_enable(d.dev);
    buf = guest_alloc(&d.alloc, 64);
    setup_queue(&d, 0, 4);
    setup_queue(&d, 1, 4);
    wr(&d, DMALAB_REG_INTR_MASK, DMALAB_INTR_QUEUE(1) | DMALAB_INTR_ERROR);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_MASK), ==,
                    DMALAB_INTR_QUEUE(1) | DMALAB_INTR_ERROR);
    cpl = run_q(&d, 1, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    assert_ok(&cpl, 8);
    cpl = run_q(&d, 0, 0x42, 0, 8, 0, buf);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_BAD_OPCODE);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==,
                    DMALAB_INTR_QUEUE(1) | DMALAB_INTR_ERROR);
    g_assert(!qpci_msix_pending(d.dev, 1));
    g_assert(!qpci_msix_pending(d.dev, 2));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 0);
    /* Queue 0 is not masked. */
    cpl = run_q(&d, 0, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    g_assert(qpci_msix_pending(d.dev, 0));
    /* Unmasking delivers what was held back. */
    wr(&d, DMALAB_REG_INTR_MASK, DMALAB_INTR_ERROR);
    g_assert(qpci_msix_pending(d.dev, 1));
    g_assert(!qpci_msix_pending(d.dev, 2));
    wr(&d, DMALAB_REG_INTR_MASK, 0);
    g_assert(qpci_msix_pending(d.dev, 2));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 3);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* COAL_COUNT=N: one interrupt per N completions. */
static void test_coalesce_count(void)
{
    const uint32_t n = 4;
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=1");
    qpci_msix_enable(d.dev);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 16);
    qwr(&d, 0, DMALAB_Q_COAL_COUNT, n);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_COAL_COUNT), ==, n);
    for (uint32_t i = 1; i <= 3 * n; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, i, buf);
        assert_ok(&cpl, 8);
        g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, i / n);
        g_assert_cmpint(qpci_msix_pending(d.dev, 0), ==, i >= n);
        g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==,
                        i >= n ? DMALAB_INTR_QUEUE(0) : 0);
    }
    /* Completions without DMALAB_DESC_IRQ do not count. */
    for (uint32_t i = 0; i < 2 * n; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, i, buf);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 3);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* COAL_USEC: the interrupt comes after the time even with fewer completions. */
static void test_coalesce_usec(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=1");
    qpci_msix_enable(d.dev);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 16);
    qwr(&d, 0, DMALAB_Q_COAL_COUNT, 8);
    qwr(&d, 0, DMALAB_Q_COAL_USEC, 1000);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_COAL_USEC), ==, 1000);
    for (int i = 0; i < 3; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, i, buf);
        assert_ok(&cpl, 8);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 0);
    g_assert(!qpci_msix_pending(d.dev, 0));
    qtest_clock_step(d.qts, 500 * 1000);
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 0);
    qtest_clock_step(d.qts, 600 * 1000);
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 1);
    g_assert(qpci_msix_pending(d.dev, 0));
    /* Nothing more without new completions. */
    qtest_clock_step(d.qts, 5 * 1000 * 1000);
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 1);
    /* The count still fires early when reached. */
    for (int i = 0; i < 8; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, i, buf);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 2);
    qtest_clock_step(d.qts, 2 * 1000 * 1000);
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 2);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* ---- Fault injection -------------------------------------------------- */

/* fail-nth: the Nth descriptor completes with the chosen status. */
static void test_fault_fail_nth(const void *opaque)
{
    bool prop = GPOINTER_TO_INT(opaque);
    g_autofree uint8_t *data = random_bytes(256);
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start(&d, prop ? "fail-nth=3,fail-status=5" : NULL);
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_FAIL_NTH, 3);
        wr(&d, DMALAB_REG_DBG_FAIL_STATUS, DMALAB_STS_DMA_READ);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_FAIL_NTH), ==, 3);
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_FAIL_STATUS), ==,
                     DMALAB_STS_DMA_READ);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, 256, data);
    for (int i = 1; i <= 5; i++) {
        dst = guarded_alloc(&d, 256, NULL);
        cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 256, src, dst);
        if (i == 3) {
            expect_error(&d, &cpl, DMALAB_STS_DMA_READ);
            check_untouched(&d, dst, 256);
        } else {
            assert_ok(&cpl, 256);
            check_mem(&d, dst, data, 256);
        }
    }
    /* It fires once: the counter is used up. */
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_FAIL_NTH), ==, 0);

    /* The default status of an injected failure. */
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_FAIL_STATUS, DMALAB_STS_INJECTED);
        wr(&d, DMALAB_REG_DBG_FAIL_NTH, 1);
        cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 256, src, dst);
        expect_error(&d, &cpl, DMALAB_STS_INJECTED);
    }
    dmalab_stop(&d);
}

/* Interrupt fault: the interrupt is lost, its cause still latched. */
static void test_fault_irq_drop(const void *opaque)
{
    bool prop = GPOINTER_TO_INT(opaque);
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, prop ? "queues=1,irq-fault=1,irq-fault-count=2"
                          : "queues=1");
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_IRQ_MODE, DMALAB_DBG_IRQ_DROP);
        wr(&d, DMALAB_REG_DBG_IRQ_COUNT, 2);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_MODE), ==, DMALAB_DBG_IRQ_DROP);
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_COUNT), ==, 2);
    qpci_msix_enable(d.dev);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 8);
    for (int i = 0; i < 2; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
        assert_ok(&cpl, 8);
        g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==,
                        DMALAB_INTR_QUEUE(0));
        g_assert(!qpci_msix_pending(d.dev, 0));
        g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 0);
    }
    /* After the count the fault is disarmed. */
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_MODE), ==,
                     DMALAB_DBG_IRQ_NORMAL);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    g_assert(qpci_msix_pending(d.dev, 0));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 1);

    /* Count 0: every interrupt, errors included, until disarmed. */
    wr(&d, DMALAB_REG_DBG_IRQ_COUNT, 0);
    wr(&d, DMALAB_REG_DBG_IRQ_MODE, DMALAB_DBG_IRQ_DROP);
    for (int i = 0; i < 5; i++) {
        cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    }
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 0, 0, buf);
    g_assert(!qpci_msix_pending(d.dev, DMALAB_MSIX_ERR_VECTOR(1)));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 1);
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_MODE), ==, DMALAB_DBG_IRQ_DROP);
    expect_error(&d, &cpl, DMALAB_STS_BAD_LEN);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* Interrupt fault: the interrupt arrives IRQ_DELAY_US late. */
static void test_fault_irq_delay(const void *opaque)
{
    bool prop = GPOINTER_TO_INT(opaque);
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, prop ? "queues=1,irq-fault=2,irq-fault-count=1,"
                            "irq-delay-us=500" : "queues=1");
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_IRQ_MODE, DMALAB_DBG_IRQ_DELAY);
        wr(&d, DMALAB_REG_DBG_IRQ_COUNT, 1);
        wr(&d, DMALAB_REG_DBG_IRQ_DELAY_US, 500);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_MODE), ==,
                     DMALAB_DBG_IRQ_DELAY);
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_DELAY_US), ==, 500);
    qpci_msix_enable(d.dev);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    assert_ok(&cpl, 8);
    g_assert(!qpci_msix_pending(d.dev, 0));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 0);
    qtest_clock_step(d.qts, 400 * 1000);
    g_assert(!qpci_msix_pending(d.dev, 0));
    qtest_clock_step(d.qts, 200 * 1000);
    g_assert(qpci_msix_pending(d.dev, 0));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 1);
    /* Only one was delayed; the next is on time. */
    wr(&d, DMALAB_REG_INTR_CAUSE, UINT32_MAX);
    cpl = dmalab_run(&d, 0x99, 0, 8, 0, buf);
    g_assert(qpci_msix_pending(d.dev, DMALAB_MSIX_ERR_VECTOR(1)));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 2);
    expect_error(&d, &cpl, DMALAB_STS_BAD_OPCODE);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* Interrupt fault: the interrupt is delivered twice. */
static void test_fault_irq_dup(const void *opaque)
{
    bool prop = GPOINTER_TO_INT(opaque);
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, prop ? "queues=1,irq-fault=3,irq-fault-count=1"
                          : "queues=1");
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_IRQ_MODE, DMALAB_DBG_IRQ_DUP);
        wr(&d, DMALAB_REG_DBG_IRQ_COUNT, 1);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_IRQ_MODE), ==, DMALAB_DBG_IRQ_DUP);
    qpci_msix_enable(d.dev);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    assert_ok(&cpl, 8);
    g_assert(qpci_msix_pending(d.dev, 0));
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 2);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 0, buf);
    g_assert_cmpuint(rd(&d, DMALAB_REG_STAT_IRQS_LO), ==, 3);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* stall-queues: a stalled queue makes no progress until released. */
static void test_fault_stall(const void *opaque)
{
    bool prop = GPOINTER_TO_INT(opaque);
    g_autofree uint8_t *data = random_bytes(4096);
    struct dmalab_cpl cpl;
    uint64_t src, dst0, dst1;
    Ticket t0, t1;
    Dmalab d;

    dmalab_start(&d, prop ? "queues=2,stall-queues=1" : "queues=2");
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_STALL, 1);
    }
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_STALL), ==, 1);
    setup_queue(&d, 0, 8);
    setup_queue(&d, 1, 8);
    src = guarded_alloc(&d, 4096, data);
    dst0 = guarded_alloc(&d, 4096, NULL);
    dst1 = guarded_alloc(&d, 4096, NULL);
    t0 = post(&d, 0, DMALAB_OP_COPY, 0, 4096, src, dst0);
    t1 = post(&d, 1, DMALAB_OP_COPY, 0, 4096, src, dst1);
    doorbell(&d, 0);
    doorbell(&d, 1);
    /* Queue 1 is served, queue 0 is not. */
    cpl = wait_cpl(&d, &t1);
    assert_ok(&cpl, 4096);
    assert_no_cpl(&d, &t0);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==,
                    DMALAB_QSTS_ENABLED | DMALAB_QSTS_BUSY);
    check_untouched(&d, dst0, 4096);
    /* Released, it catches up. */
    wr(&d, DMALAB_REG_DBG_STALL, 0);
    cpl = wait_cpl(&d, &t0);
    assert_ok(&cpl, 4096);
    check_mem(&d, dst0, data, 4096);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, DMALAB_QSTS_ENABLED);
    dmalab_stop(&d);
}

/* QMP system_reset; waits until it has happened. */
static void system_reset(Dmalab *d)
{
    qtest_qmp_assert_success(d->qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(d->qts, "RESET");
}

/* DBG_DEAD: the device reads as removed until a system reset. */
static void test_fault_dead(void)
{
    static const uint32_t regs[] = {
        DMALAB_REG_ID, DMALAB_REG_VERSION, DMALAB_REG_CAP, DMALAB_REG_CTRL,
        DMALAB_REG_STATUS, DMALAB_REG_INTR_CAUSE, DMALAB_REG_ERR_CODE,
        DMALAB_REG_STAT_DESCS_LO, DMALAB_REG_DBG_STALL,
        DMALAB_QREG(0, DMALAB_Q_HEAD), DMALAB_QREG(0, DMALAB_Q_STATUS),
        DMALAB_QREG(3, DMALAB_Q_RING_SIZE),
    };
    struct dmalab_cpl cpl;
    uint64_t buf;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, NULL);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0, buf);
    assert_ok(&cpl, 8);
    wr(&d, DMALAB_REG_DBG_DEAD, 0x1234);
    check_alive(&d);
    wr(&d, DMALAB_REG_DBG_DEAD, DMALAB_DBG_DEAD_MAGIC);
    for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
        g_assert_cmphex(rd(&d, regs[i]), ==, UINT32_MAX);
    }
    g_assert_cmphex(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_ID), ==,
                    UINT32_MAX);
    /* The engine does nothing either. */
    t = post(&d, 0, DMALAB_OP_FILL, 0, 8, 1, buf);
    doorbell(&d, 0);
    assert_no_cpl(&d, &t);
    /* Writes are lost, and time alone does not bring it back. */
    wr(&d, DMALAB_REG_DBG_DEAD, 0);
    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_RESET);
    qtest_clock_step(d.qts, 10 * 1000 * 1000);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, UINT32_MAX);
    /* Config space still answers, as on a bus with the device gone... */
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_VENDOR_ID), ==,
                    DMALAB_PCI_VENDOR_ID);
    system_reset(&d);
    dmalab_map(&d);
    check_alive(&d);
    check_reset_regs(&d, 4);
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x55, buf);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x55);
    dmalab_stop(&d);
}

/* corrupt-nth: exactly one byte of the Nth transfer differs. */
static void test_fault_corrupt(const void *opaque)
{
    bool prop = GPOINTER_TO_INT(opaque);
    const uint32_t len = 4096, off = 1000;
    g_autofree uint8_t *data = random_bytes(len);
    g_autofree uint8_t *got = g_malloc(len);
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start(&d, prop ? "corrupt-nth=2,corrupt-offset=1000" : NULL);
    if (!prop) {
        wr(&d, DMALAB_REG_DBG_CORRUPT_NTH, 2);
        wr(&d, DMALAB_REG_DBG_CORRUPT_OFFSET, off);
    }
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_CORRUPT_NTH), ==, 2);
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_CORRUPT_OFFSET), ==, off);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, len, data);
    for (int i = 1; i <= 3; i++) {
        dst = guarded_alloc(&d, len, NULL);
        cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, len, src, dst);
        /* The corruption is silent: the completion says OK. */
        assert_ok(&cpl, len);
        qtest_memread(d.qts, dst, got, len);
        for (uint32_t b = 0; b < len; b++) {
            if (i == 2 && b == off) {
                g_assert_cmphex(got[b], !=, data[b]);
            } else {
                g_assert_cmphex(got[b], ==, data[b]);
            }
        }
        check_guards(&d, dst, len);
    }
    check_mem(&d, src, data, len);
    g_assert_cmpuint(rd(&d, DMALAB_REG_DBG_CORRUPT_NTH), ==, 0);
    dmalab_stop(&d);
}

/* DBG_LAST_ADDR follows the engine's host data accesses. */
static void test_fault_last_addr(void)
{
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, 100, NULL);
    dst = guarded_alloc(&d, 100, NULL);
    g_assert_cmphex(rd64(&d, DMALAB_REG_DBG_LAST_ADDR_LO), ==, 0);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, 100, src, 0);
    assert_ok(&cpl, 100);
    g_assert_cmphex(rd64(&d, DMALAB_REG_DBG_LAST_ADDR_LO), ==, src);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, 100, 0, dst);
    assert_ok(&cpl, 100);
    g_assert_cmphex(rd64(&d, DMALAB_REG_DBG_LAST_ADDR_LO), ==, dst);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, 92, src + 8, 0);
    assert_ok(&cpl, 92);
    g_assert_cmphex(rd64(&d, DMALAB_REG_DBG_LAST_ADDR_LO), ==, src + 8);
    /* A failed access shows where it went. */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 100, src, UNMAPPED_ADDR + 0x40);
    expect_error(&d, &cpl, DMALAB_STS_DMA_WRITE);
    g_assert_cmphex(rd64(&d, DMALAB_REG_DBG_LAST_ADDR_LO), ==,
                    UNMAPPED_ADDR + 0x40);
    dmalab_stop(&d);
}

/* ---- Reset ------------------------------------------------------------ */

/* Make registers non-default so that a reset has something to undo. */
static void dirty_registers(Dmalab *d)
{
    struct dmalab_cpl cpl;
    uint64_t buf = guest_alloc(&d->alloc, 64);

    d->q[1].shadow = guest_alloc(&d->alloc, 4);
    setup_queue(d, 1, 4);
    qwr(d, 1, DMALAB_Q_COAL_COUNT, 3);
    qwr(d, 1, DMALAB_Q_COAL_USEC, 77);
    wr(d, DMALAB_REG_INTR_MASK, 0x2);
    cpl = run_q(d, 1, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 1, buf);
    assert_ok(&cpl, 8);
    cpl = run_q(d, 1, 0x55, 0, 8, 1, buf);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_BAD_OPCODE);
    g_assert_cmpuint(rd(d, DMALAB_REG_ERR_COUNT), ==, 1);
    g_assert_cmpuint(rd(d, DMALAB_REG_STAT_DESCS_LO), !=, 0);
    /* A port doorbell that changes nothing, counted all the same. */
    qpci_io_writel(d->dev, d->pio, DMALAB_PIO_QSEL, 1);
    qpci_io_writel(d->dev, d->pio, DMALAB_PIO_TAIL, d->q[1].tail);
    g_assert_cmpuint(qpci_io_readl(d->dev, d->pio, DMALAB_PIO_DOORBELLS), ==,
                     1);
}

/* CTRL.RESET with a stalled queue: RESETTING for a while, then clean. */
static void test_reset_ctrl_stalled(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, NULL);
    buf = guarded_alloc(&d, 64, NULL);
    dmalab_setup_queue(&d, 8);
    dirty_registers(&d);
    wr(&d, DMALAB_REG_DBG_STALL, 1);
    t = post(&d, 0, DMALAB_OP_FILL, 0, 64, 0, buf);
    doorbell(&d, 0);
    assert_no_cpl(&d, &t);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS) & DMALAB_QSTS_BUSY, ==,
                    DMALAB_QSTS_BUSY);

    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_RESET);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, DMALAB_STATUS_RESETTING);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, DMALAB_STATUS_RESETTING);
    wr(&d, DMALAB_REG_DBG_STALL, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, DMALAB_STATUS_RESETTING);
    qtest_clock_step(d.qts, 1000 * 1000);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, 0);
    check_reset_regs(&d, 4);
    /* The stalled descriptor was dropped, never run. */
    g_assert(!cpl_ready(&d, &t, &cpl));
    check_untouched(&d, buf, 64);

    /* The device works again. */
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, buf);
    assert_ok(&cpl, 64);
    check_guards(&d, buf, 64);
    dmalab_stop(&d);
}

/* CTRL.RESET while throttled work is in flight. */
static void test_reset_ctrl_inflight(void)
{
    g_autofree uint8_t *data = random_bytes(4096);
    uint64_t src, dst[4];
    struct dmalab_cpl cpl;
    Ticket t[4];
    Dmalab d;

    dmalab_start(&d, "bandwidth=1000000");
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, 4096, data);
    for (int i = 0; i < 4; i++) {
        dst[i] = guarded_alloc(&d, 4096, NULL);
        t[i] = post(&d, 0, DMALAB_OP_COPY, DMALAB_DESC_IRQ, 4096, src, dst[i]);
    }
    doorbell(&d, 0);
    cpl = wait_cpl(&d, &t[0]);
    assert_ok(&cpl, 4096);
    g_assert(!cpl_ready(&d, &t[1], &cpl));

    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_RESET);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, DMALAB_STATUS_RESETTING);
    qtest_clock_step(d.qts, 100 * 1000 * 1000);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, 0);
    check_reset_regs(&d, 4);
    for (int i = 1; i < 4; i++) {
        g_assert(!cpl_ready(&d, &t[i], &cpl));
        check_untouched(&d, dst[i], 4096);
    }
    check_mem(&d, dst[0], data, 4096);

    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 4096, src, dst[2]);
    assert_ok(&cpl, 4096);
    check_mem(&d, dst[2], data, 4096);
    dmalab_stop(&d);
}

/* Q_CTRL.RESET resets one queue and leaves the others alone. */
static void test_reset_queue(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=2");
    buf = guest_alloc(&d.alloc, 64);
    setup_queue(&d, 0, 8);
    setup_queue(&d, 1, 8);
    for (int i = 0; i < 3; i++) {
        run_q(&d, 0, DMALAB_OP_FILL, 0, 8, i, buf);
        run_q(&d, 1, DMALAB_OP_FILL, 0, 8, i, buf);
    }
    cpl = run_q(&d, 0, DMALAB_OP_FILL, 0x80, 8, 0, buf);
    expect_error(&d, &cpl, DMALAB_STS_BAD_FLAGS);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_ERROR), ==, DMALAB_STS_BAD_FLAGS);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, 4);

    qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_CTRL), ==, 0);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, 0);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_ERROR), ==, 0);
    /* Queue 1 is untouched. */
    g_assert_cmphex(qrd(&d, 1, DMALAB_Q_STATUS), ==, DMALAB_QSTS_ENABLED);
    g_assert_cmpuint(qrd(&d, 1, DMALAB_Q_HEAD), ==, 3);
    cpl = run_q(&d, 1, DMALAB_OP_FILL, 0, 8, 0x11, buf);
    assert_ok(&cpl, 8);

    /* Queue 0 starts over at slot 0. */
    queue_program(&d, 0);
    cpl = run_q(&d, 0, DMALAB_OP_FILL, 0, 8, 0x22, buf);
    assert_ok(&cpl, 8);
    g_assert_cmpuint(le16_to_cpu(cpl.index), ==, 0);
    g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x22);
    dmalab_stop(&d);
}

/*
 * After a function reset of a device started with stall-queues=4 and then
 * dirtied: the command register and the BARs are cleared, every register
 * is back at its reset value, the debug block is armed again from the
 * properties, and a queue set up anew moves data (a fill of @pattern).
 */
static void check_function_reset(Dmalab *d, uint64_t buf, uint8_t pattern)
{
    struct dmalab_cpl cpl;

    g_assert_cmphex(qpci_config_readw(d->dev, PCI_COMMAND) &
                    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), ==, 0);
    dmalab_map(d);
    check_alive(d);
    check_reset_regs(d, 4);
    g_assert_cmphex(rd(d, DMALAB_REG_DBG_STALL), ==, 4);
    g_assert_cmphex(rd(d, DMALAB_REG_DBG_FAIL_NTH), ==, 0);

    dmalab_setup_queue(d, 8);
    cpl = dmalab_run(d, DMALAB_OP_FILL, 0, 8, pattern, buf);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readq(d->qts, buf), ==, pattern);
}

/* PCIe function-level reset: everything back to reset values. */
static void test_reset_flr(void)
{
    uint64_t buf;
    uint16_t ctl;
    uint8_t exp;
    Dmalab d;

    dmalab_start(&d, "stall-queues=4");
    exp = qpci_find_capability(d.dev, PCI_CAP_ID_EXP, 0);
    g_assert_cmphex(exp, !=, 0);
    g_assert(qpci_config_readl(d.dev, exp + PCI_EXP_DEVCAP) &
             PCI_EXP_DEVCAP_FLR);
    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 8);
    dirty_registers(&d);
    wr(&d, DMALAB_REG_DBG_STALL, 1);
    wr(&d, DMALAB_REG_DBG_FAIL_NTH, 9);
    wr(&d, DMALAB_REG_DBG_DEAD, DMALAB_DBG_DEAD_MAGIC);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, UINT32_MAX);

    ctl = qpci_config_readw(d.dev, exp + PCI_EXP_DEVCTL);
    qpci_config_writew(d.dev, exp + PCI_EXP_DEVCTL,
                       ctl | PCI_EXP_DEVCTL_BCR_FLR);
    check_function_reset(&d, buf, 0x33);
    dmalab_stop(&d);
}

/*
 * PCI power management: D3hot takes the function offline, and the way back
 * to D0 resets it (NoSoftReset clear), the function reset of a conventional
 * PCI device.  D1 and D2 are not supported and not entered.
 */
static void pm_reset_on(const char *machine)
{
    uint16_t pmc, csr;
    uint64_t buf;
    uint8_t pm;
    Dmalab d;

    dmalab_start_machine(&d, machine, "stall-queues=4");
    pm = qpci_find_capability(d.dev, PCI_CAP_ID_PM, 0);
    g_assert_cmphex(pm, !=, 0);
    pmc = qpci_config_readw(d.dev, pm + PCI_PM_PMC);
    g_assert_cmphex(pmc & PCI_PM_CAP_VER_MASK, ==, 3);
    g_assert_cmphex(pmc & (PCI_PM_CAP_D1 | PCI_PM_CAP_D2), ==, 0);
    csr = qpci_config_readw(d.dev, pm + PCI_PM_CTRL);
    g_assert_cmphex(csr & PCI_PM_CTRL_STATE_MASK, ==, 0);
    g_assert_cmphex(csr & PCI_PM_CTRL_NO_SOFT_RESET, ==, 0);

    buf = guest_alloc(&d.alloc, 64);
    dmalab_setup_queue(&d, 8);
    dirty_registers(&d);
    wr(&d, DMALAB_REG_DBG_STALL, 1);

    /* D1 is refused: the function stays in D0 and keeps its state. */
    qpci_config_writew(d.dev, pm + PCI_PM_CTRL, csr | 1);
    g_assert_cmphex(qpci_config_readw(d.dev, pm + PCI_PM_CTRL) &
                    PCI_PM_CTRL_STATE_MASK, ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_DBG_STALL), ==, 1);

    /* D3hot: no register answers; the configuration space still does. */
    qpci_config_writew(d.dev, pm + PCI_PM_CTRL, csr | 3);
    g_assert_cmphex(qpci_config_readw(d.dev, pm + PCI_PM_CTRL) &
                    PCI_PM_CTRL_STATE_MASK, ==, 3);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, UINT32_MAX);
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_VENDOR_ID), ==,
                    DMALAB_PCI_VENDOR_ID);

    /* D0 again: a reset, like FLR. */
    qpci_config_writew(d.dev, pm + PCI_PM_CTRL, csr);
    g_assert_cmphex(qpci_config_readw(d.dev, pm + PCI_PM_CTRL) &
                    PCI_PM_CTRL_STATE_MASK, ==, 0);
    check_function_reset(&d, buf, 0x44);
    dmalab_stop(&d);
}

static void test_reset_pm_q35(void)
{
    pm_reset_on("q35");
}

static void test_reset_pm_pc(void)
{
    pm_reset_on("pc");
}

/* ---- Statistics and error log ----------------------------------------- */

static void test_stats(void)
{
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start(&d, "queues=2");
    qpci_msix_enable(d.dev);
    setup_queue(&d, 0, 8);
    setup_queue(&d, 1, 8);
    src = guest_alloc(&d.alloc, 70000);
    dst = guest_alloc(&d.alloc, 70000);
    cpl = run_q(&d, 0, DMALAB_OP_COPY, DMALAB_DESC_IRQ, 70000, src, dst);
    assert_ok(&cpl, 70000);
    cpl = run_q(&d, 1, DMALAB_OP_FILL, 0, 333, 0, dst);
    assert_ok(&cpl, 333);
    cpl = run_q(&d, 1, DMALAB_OP_CRC32C, DMALAB_DESC_IRQ, 4097, src, 0);
    assert_ok(&cpl, 4097);
    cpl = run_q(&d, 0, DMALAB_OP_COPY, 0, 64, src, UNMAPPED_ADDR);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_DMA_WRITE);
    cpl = run_q(&d, 0, DMALAB_OP_COPY, 0, 0, src, dst);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_BAD_LEN);

    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_BYTES_LO), ==,
                     70000 + 333 + 4097);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_DESCS_LO), ==, 5);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_ERRORS_LO), ==, 2);
    /* Two completion interrupts and two error interrupts. */
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_IRQS_LO), ==, 4);

    wr(&d, DMALAB_REG_STATS_CLEAR, 1);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_BYTES_LO), ==, 0);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_DESCS_LO), ==, 0);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_ERRORS_LO), ==, 0);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_IRQS_LO), ==, 0);
    /* The error log is separate. */
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 2);

    /* Counting resumes from zero. */
    cpl = run_q(&d, 0, DMALAB_OP_FILL, 0, 10, 0, dst);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_BYTES_LO), ==, 10);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_DESCS_LO), ==, 1);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

static void test_error_log(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=3");
    buf = guest_alloc(&d.alloc, 64);
    setup_queue(&d, 0, 8);
    setup_queue(&d, 2, 8);
    run_q(&d, 2, DMALAB_OP_FILL, 0, 8, 0, buf);
    run_q(&d, 2, DMALAB_OP_FILL, 0, 8, 0, buf);
    /* An H2D beyond device memory: the log shows the devmem offset. */
    cpl = run_q(&d, 2, DMALAB_OP_H2D, 0, 16, buf, MIB - 8);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_DEVMEM_RANGE);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_QUEUE), ==, 2);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_INDEX), ==, 2);
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_CODE), ==, DMALAB_STS_DEVMEM_RANGE);
    g_assert_cmphex(rd64(&d, DMALAB_REG_ERR_ADDR_LO), ==, MIB - 8);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 1);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS) & DMALAB_STATUS_ERROR, ==,
                    DMALAB_STATUS_ERROR);
    g_assert_cmphex(qrd(&d, 2, DMALAB_Q_ERROR), ==, DMALAB_STS_DEVMEM_RANGE);

    /* The most recent error wins; the count goes on. */
    cpl = run_q(&d, 0, DMALAB_OP_COPY, 0, 8, UNMAPPED_ADDR + 8, buf);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_DMA_READ);
    g_assert_cmphex(le64_to_cpu(cpl.err_addr), ==, UNMAPPED_ADDR + 8);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_QUEUE), ==, 0);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_INDEX), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_CODE), ==, DMALAB_STS_DMA_READ);
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_ADDR_LO), ==,
                    (uint32_t)(UNMAPPED_ADDR + 8));
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_ADDR_HI), ==,
                    (UNMAPPED_ADDR + 8) >> 32);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 2);

    wr(&d, DMALAB_REG_ERR_CLEAR, 0);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_QUEUE), ==, 0);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_INDEX), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_CODE), ==, 0);
    g_assert_cmphex(rd64(&d, DMALAB_REG_ERR_ADDR_LO), ==, 0);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS) & DMALAB_STATUS_ERROR, ==, 0);
    /* ERR_CLEAR leaves the interrupt cause to INTR_CAUSE. */
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==, DMALAB_INTR_ERROR);
    dmalab_stop(&d);
}

/* ---- Bad input -------------------------------------------------------- */

/* An unknown opcode completes with a status and raises the error cause. */
static void test_bad_opcode(void)
{
    static const uint8_t ops[] = { 0x00, 0x06, 0x7f, 0xff };
    Dmalab d;
    struct dmalab_cpl cpl;
    uint64_t buf;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 4);
    buf = guarded_alloc(&d, 16, NULL);
    cpl = dmalab_run(&d, 0x7f, 0, 16, 0, 0);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_BAD_OPCODE);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_CODE), ==, DMALAB_STS_BAD_OPCODE);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 1);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE) & DMALAB_INTR_ERROR, ==,
                    DMALAB_INTR_ERROR);
    expect_error_logged(&d, DMALAB_STS_BAD_OPCODE);
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        cpl = dmalab_run(&d, ops[i], 0, 16, 0, buf);
        expect_error(&d, &cpl, DMALAB_STS_BAD_OPCODE);
    }
    check_untouched(&d, buf, 16);
    /* The queue goes on working after the error. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0,
                     guest_alloc(&d.alloc, 8));
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_OK);
    dmalab_stop(&d);
}

/* Zero length and anything above MAX_XFER. */
static void test_bad_len(void)
{
    struct dmalab_cpl cpl;
    uint32_t max;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    max = rd(&d, DMALAB_REG_MAX_XFER);
    buf = guarded_alloc(&d, 64, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 0, 0, buf);
    expect_error(&d, &cpl, DMALAB_STS_BAD_LEN);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, max + 1, 0, buf);
    expect_error(&d, &cpl, DMALAB_STS_BAD_LEN);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, UINT32_MAX, buf, buf);
    expect_error(&d, &cpl, DMALAB_STS_BAD_LEN);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, 0, buf, 0);
    expect_error(&d, &cpl, DMALAB_STS_BAD_LEN);
    check_untouched(&d, buf, 64);
    g_assert_cmpuint(rd64(&d, DMALAB_REG_STAT_BYTES_LO), ==, 0);
    dmalab_stop(&d);
}

/* Undefined flags, reserved bits, and SG flags an opcode cannot use. */
static void test_bad_flags(void)
{
    static const struct {
        uint8_t op;
        uint8_t flags;
        uint16_t rsvd;
    } bad[] = {
        { DMALAB_OP_COPY, 0x20, 0 },
        { DMALAB_OP_COPY, 0x80, 0 },
        { DMALAB_OP_COPY, 0, 1 },
        { DMALAB_OP_COPY, 0, 0x8000 },
        { DMALAB_OP_H2D, DMALAB_DESC_DST_SG, 0 },
        { DMALAB_OP_D2H, DMALAB_DESC_SRC_SG, 0 },
        { DMALAB_OP_FILL, DMALAB_DESC_SRC_SG, 0 },
        { DMALAB_OP_CRC32C, DMALAB_DESC_DST_SG, 0 },
    };
    struct dmalab_cpl cpl;
    uint64_t buf;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    buf = guarded_alloc(&d, 64, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct dmalab_desc desc = {
            .opcode = bad[i].op,
            .flags = bad[i].flags,
            .rsvd = cpu_to_le16(bad[i].rsvd),
            .len = cpu_to_le32(64),
            .src = cpu_to_le64(bad[i].op == DMALAB_OP_D2H ? 0 : buf),
            .dst = cpu_to_le64(bad[i].op == DMALAB_OP_H2D ? 0 : buf),
        };

        g_test_message("case %zu", i);
        t = post_desc(&d, 0, &desc);
        doorbell(&d, 0);
        cpl = wait_cpl(&d, &t);
        expect_error(&d, &cpl, DMALAB_STS_BAD_FLAGS);
    }
    check_untouched(&d, buf, 64);
    dmalab_stop(&d);
}

/* Device-memory offsets out of range, in either direction. */
static void test_bad_devmem_range(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "devmem-size=64K");
    dmalab_setup_queue(&d, 8);
    buf = guarded_alloc(&d, 64, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, 64, buf, 64 * 1024 - 63);
    expect_error(&d, &cpl, DMALAB_STS_DEVMEM_RANGE);
    g_assert_cmphex(le64_to_cpu(cpl.err_addr), ==, 64 * 1024 - 63);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, 64, 64 * 1024, buf);
    expect_error(&d, &cpl, DMALAB_STS_DEVMEM_RANGE);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, 64, UINT64_MAX - 8, buf);
    expect_error(&d, &cpl, DMALAB_STS_DEVMEM_RANGE);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, 64, buf, 1ull << 40);
    expect_error(&d, &cpl, DMALAB_STS_DEVMEM_RANGE);
    check_untouched(&d, buf, 64);
    /* The last 64 bytes are in range. */
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, 64, buf, 64 * 1024 - 64);
    assert_ok(&cpl, 64);
    dmalab_stop(&d);
}

/* Host addresses where nothing is mapped: DMA_READ / DMA_WRITE. */
static void test_bad_dma(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "dma-bits=64");
    dmalab_setup_queue(&d, 8);
    buf = guarded_alloc(&d, 64, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 64, UNMAPPED_ADDR, buf);
    expect_error(&d, &cpl, DMALAB_STS_DMA_READ);
    g_assert_cmphex(le64_to_cpu(cpl.err_addr), ==, UNMAPPED_ADDR);
    check_untouched(&d, buf, 64);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 64, buf, UNMAPPED_ADDR);
    expect_error(&d, &cpl, DMALAB_STS_DMA_WRITE);
    g_assert_cmphex(le64_to_cpu(cpl.err_addr), ==, UNMAPPED_ADDR);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, 64, UNMAPPED_ADDR, 0);
    expect_error(&d, &cpl, DMALAB_STS_DMA_READ);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, 64, 0, UNMAPPED_ADDR);
    expect_error(&d, &cpl, DMALAB_STS_DMA_WRITE);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, UNMAPPED_ADDR);
    expect_error(&d, &cpl, DMALAB_STS_DMA_WRITE);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, 64, UNMAPPED_ADDR, 0);
    expect_error(&d, &cpl, DMALAB_STS_DMA_READ);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, DMALAB_DESC_SRC_SG, 64,
                     UNMAPPED_ADDR, buf);
    expect_error(&d, &cpl, DMALAB_STS_DMA_READ);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, buf);
    assert_ok(&cpl, 64);
    dmalab_stop(&d);
}

/* A ring or completion ring in unmapped space halts the queue. */
static void test_bad_ring_dma(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=2");
    buf = guest_alloc(&d.alloc, 64);
    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    qwr(&d, 0, DMALAB_Q_RING_LO, (uint32_t)UNMAPPED_ADDR);
    qwr(&d, 0, DMALAB_Q_RING_HI, UNMAPPED_ADDR >> 32);
    qwr(&d, 0, DMALAB_Q_CPL_LO, buf);
    qwr(&d, 0, DMALAB_Q_RING_SIZE, 4);
    qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
    qwr(&d, 0, DMALAB_Q_TAIL, 1);
    qtest_clock_step(d.qts, 1000);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS) & DMALAB_QSTS_HALTED, ==,
                    DMALAB_QSTS_HALTED);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_ERROR), ==, DMALAB_STS_DMA_READ);
    g_assert_cmphex(rd64(&d, DMALAB_REG_ERR_ADDR_LO), ==, UNMAPPED_ADDR);
    expect_error_logged(&d, DMALAB_STS_DMA_READ);

    setup_queue(&d, 1, 4);
    qwr(&d, 1, DMALAB_Q_CTRL, 0);
    qwr(&d, 1, DMALAB_Q_CPL_LO, (uint32_t)UNMAPPED_ADDR);
    qwr(&d, 1, DMALAB_Q_CPL_HI, UNMAPPED_ADDR >> 32);
    qwr(&d, 1, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
    post(&d, 1, DMALAB_OP_FILL, 0, 8, 0, buf);
    doorbell(&d, 1);
    qtest_clock_step(d.qts, 1000);
    g_assert_cmphex(qrd(&d, 1, DMALAB_Q_STATUS) & DMALAB_QSTS_HALTED, ==,
                    DMALAB_QSTS_HALTED);
    g_assert_cmphex(qrd(&d, 1, DMALAB_Q_ERROR), ==, DMALAB_STS_DMA_WRITE);
    expect_error_logged(&d, DMALAB_STS_DMA_WRITE);

    /* A queue reset and a good ring bring it back. */
    qwr(&d, 1, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    queue_program(&d, 1);
    cpl = run_q(&d, 1, DMALAB_OP_FILL, 0, 8, 0, buf);
    assert_ok(&cpl, 8);
    dmalab_stop(&d);
}

/* Ring configurations the device refuses: the queue stays disabled. */
static void test_bad_ring_config(void)
{
    static const struct {
        uint32_t size;
        uint32_t ring_off;
        uint32_t cpl_off;
    } bad[] = {
        { 0, 0, 0 },
        { 1, 0, 0 },
        { 3, 0, 0 },
        { 24, 0, 0 },
        { 8192, 0, 0 },
        { 0x80000000u, 0, 0 },
        { 8, 8, 0 },
        { 8, 0, 16 },
        { 8, 1, 0 },
    };
    struct dmalab_cpl cpl;
    uint64_t ring, cpls;
    Dmalab d;

    dmalab_start(&d, NULL);
    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    ring = guest_alloc(&d.alloc, 8 * 32 + 4096);
    cpls = guest_alloc(&d.alloc, 8 * 32 + 4096);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        g_test_message("case %zu", i);
        qwr(&d, 0, DMALAB_Q_RING_LO, ring + bad[i].ring_off);
        qwr(&d, 0, DMALAB_Q_CPL_LO, cpls + bad[i].cpl_off);
        qwr(&d, 0, DMALAB_Q_RING_SIZE, bad[i].size);
        qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
        g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, 0);
        g_assert_cmphex(qrd(&d, 0, DMALAB_Q_CTRL), ==, 0);
        g_assert_cmphex(qrd(&d, 0, DMALAB_Q_ERROR), ==,
                        DMALAB_STS_RING_CONFIG);
        g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_QUEUE), ==, 0);
        expect_error_logged(&d, DMALAB_STS_RING_CONFIG);
        /* A doorbell on the disabled queue does nothing but complain. */
        qwr(&d, 0, DMALAB_Q_TAIL, 1);
        expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);
    }
    /* The same queue with a good configuration works. */
    d.q[0].ring = ring;
    d.q[0].cpl = cpls;
    d.q[0].size = 8;
    queue_program(&d, 0);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0, ring + 1024);
    assert_ok(&cpl, 8);
    dmalab_stop(&d);
}

/* A doorbell beyond the ring is refused and changes nothing. */
static void test_bad_doorbell(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    buf = guest_alloc(&d.alloc, 64);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0, buf);
    assert_ok(&cpl, 8);
    qwr(&d, 0, DMALAB_Q_TAIL, 8);
    expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 1);
    qwr(&d, 0, DMALAB_Q_TAIL, UINT32_MAX);
    expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 1);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, 1);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, DMALAB_QSTS_ENABLED);
    /* A doorbell of an absent queue is ignored. */
    qwr(&d, 9, DMALAB_Q_TAIL, 1);
    check_alive(&d);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0, buf);
    assert_ok(&cpl, 8);
    dmalab_stop(&d);
}

/* Ring registers of an enabled queue are read-only: BUSY. */
static void test_bad_busy(void)
{
    static const uint32_t cfg[] = {
        DMALAB_Q_RING_LO, DMALAB_Q_RING_HI, DMALAB_Q_RING_SIZE,
        DMALAB_Q_CPL_LO, DMALAB_Q_CPL_HI,
    };
    uint32_t before[ARRAY_SIZE(cfg)];
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    buf = guest_alloc(&d.alloc, 64);
    for (size_t i = 0; i < ARRAY_SIZE(cfg); i++) {
        before[i] = qrd(&d, 0, cfg[i]);
        qwr(&d, 0, cfg[i], 0x40);
        expect_error_logged(&d, DMALAB_STS_BUSY);
    }
    for (size_t i = 0; i < ARRAY_SIZE(cfg); i++) {
        g_assert_cmphex(qrd(&d, 0, cfg[i]), ==, before[i]);
    }
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_ERROR), ==, DMALAB_STS_BUSY);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0, buf);
    assert_ok(&cpl, 8);
    /* Disabled, the queue accepts them again. */
    qwr(&d, 0, DMALAB_Q_CTRL, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, 0);
    qwr(&d, 0, DMALAB_Q_RING_SIZE, 4);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_RING_SIZE), ==, 4);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 0);
    dmalab_stop(&d);
}

static uint64_t bar_addr(Dmalab *d, int bar)
{
    uint32_t lo = qpci_config_readl(d->dev, PCI_BASE_ADDRESS_0 + 4 * bar);
    uint64_t addr = lo & PCI_BASE_ADDRESS_MEM_MASK;

    if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64) {
        addr |= (uint64_t)qpci_config_readl(d->dev,
                                            PCI_BASE_ADDRESS_0 +
                                            4 * (bar + 1)) << 32;
    }
    return addr;
}

/* DMA aimed at the device's own BARs is refused: SELF_DMA. */
static void test_bad_self_dma(void)
{
    struct dmalab_cpl cpl;
    uint64_t regs, msix, devmem, buf;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    buf = guarded_alloc(&d, 64, NULL);
    qpci_iomap(d.dev, DMALAB_BAR_MSIX, NULL);
    regs = bar_addr(&d, DMALAB_BAR_REGS);
    msix = bar_addr(&d, DMALAB_BAR_MSIX);
    devmem = bar_addr(&d, DMALAB_BAR_DEVMEM);
    g_assert_cmphex(regs, ==, d.regs.addr);
    g_assert_cmphex(devmem, ==, d.devmem.addr);

    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 64, regs, buf);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 4, buf,
                     regs + DMALAB_QREG(0, DMALAB_Q_TAIL));
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, devmem + 128);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, 64, devmem, 0);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 16, msix, buf);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    /* Straddling the start of a BAR counts too. */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 32, regs - 16, buf);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    check_untouched(&d, buf, 64);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, DMALAB_QSTS_ENABLED);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_MASK), ==, 0);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, buf);
    assert_ok(&cpl, 64);
    dmalab_stop(&d);
}

/* With dma-bits=32, addresses at or above 4 GiB are refused. */
static void test_bad_addr_width(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "dma-bits=32");
    g_assert_cmpuint(DMALAB_CAP_DMA_BITS(rd(&d, DMALAB_REG_CAP)), ==, 32);
    dmalab_setup_queue(&d, 8);
    buf = guarded_alloc(&d, 64, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 64, 1ull << 32, buf);
    expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 64, buf, UNMAPPED_ADDR);
    expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);
    /* The last byte counts: a range crossing 4 GiB is refused. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, 0xffffffe0);
    expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, 0, 64, UINT64_MAX - 63, 0);
    expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);
    check_untouched(&d, buf, 64);

    /* A ring beyond dma-bits cannot be enabled. */
    qwr(&d, 1, DMALAB_Q_RING_LO, 0);
    qwr(&d, 1, DMALAB_Q_RING_HI, 1);
    qwr(&d, 1, DMALAB_Q_CPL_LO, buf & ~0xfffull);
    qwr(&d, 1, DMALAB_Q_RING_SIZE, 4);
    qwr(&d, 1, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
    g_assert_cmphex(qrd(&d, 1, DMALAB_Q_STATUS), ==, 0);
    expect_error_logged(&d, DMALAB_STS_RING_CONFIG);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, buf);
    assert_ok(&cpl, 64);
    dmalab_stop(&d);
}

/* ---- Address-space edges --------------------------------------------- */

/*
 * One COPY-free probe of a host range: CRC32C reads @len bytes at @addr
 * (directly or through a one-entry SG table) and writes nothing.
 */
static uint32_t probe_read(Dmalab *d, uint64_t addr, uint32_t len, bool sg)
{
    struct dmalab_sg_entry ent = {
        .addr = cpu_to_le64(addr),
        .len = cpu_to_le32(len),
        .flags = cpu_to_le32(DMALAB_SG_END),
    };
    struct dmalab_cpl cpl;
    uint64_t table;
    uint32_t sts;

    if (!sg) {
        cpl = dmalab_run(d, DMALAB_OP_CRC32C, 0, len, addr, 0);
    } else {
        table = guest_alloc(&d->alloc, sizeof(ent));
        qtest_memwrite(d->qts, table, &ent, sizeof(ent));
        cpl = dmalab_run(d, DMALAB_OP_CRC32C, DMALAB_DESC_SRC_SG, len, table,
                         0);
    }
    sts = le16_to_cpu(cpl.status);
    if (sts != DMALAB_STS_OK) {
        expect_error(d, &cpl, sts);
    }
    return sts;
}

/* Can queue 1 be enabled with its rings at @ring and @cpl? */
static bool ring_enables(Dmalab *d, uint64_t ring, uint64_t cpl)
{
    bool on;

    qwr(d, 1, DMALAB_Q_RING_LO, ring);
    qwr(d, 1, DMALAB_Q_RING_HI, ring >> 32);
    qwr(d, 1, DMALAB_Q_CPL_LO, cpl);
    qwr(d, 1, DMALAB_Q_CPL_HI, cpl >> 32);
    qwr(d, 1, DMALAB_Q_RING_SIZE, 4);
    qwr(d, 1, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
    on = qrd(d, 1, DMALAB_Q_STATUS) & DMALAB_QSTS_ENABLED;
    if (!on) {
        expect_error_logged(d, DMALAB_STS_RING_CONFIG);
    }
    qwr(d, 1, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    return on;
}

/*
 * The last address the engine may emit, 2^64 - 1 or 2^dma-bits - 1: a
 * range whose last byte is that address passes the width check (and then
 * reaches the bus), a range one byte further is refused with ADDR_WIDTH.
 * Checked for descriptors (source and destination), SG entries, SG
 * tables, descriptor rings and completion rings.  Nothing is mapped just
 * below 2^64 or 2^40, so the bus refuses what the width check let
 * through (DMA_READ, DMA_WRITE); with dma-bits=27 the limit is the end of
 * the machine's 128 MiB of RAM, and the last bytes move.
 */
static void test_edge_limit(const void *opaque)
{
    unsigned bits = GPOINTER_TO_UINT(opaque);
    /* 2^bits, computed so that 2^64 wraps to 0 and top - n is right */
    uint64_t top = bits == 64 ? 0 : 1ull << bits;
    bool ram_below = bits == 27;
    uint32_t read_sts = ram_below ? DMALAB_STS_OK : DMALAB_STS_DMA_READ;
    uint32_t write_sts = ram_below ? DMALAB_STS_OK : DMALAB_STS_DMA_WRITE;
    g_autofree char *props = g_strdup_printf("queues=2,dma-bits=%u", bits);
    struct dmalab_sg_entry ent = {
        .len = cpu_to_le32(64),
        .flags = cpu_to_le32(DMALAB_SG_END),
    };
    struct dmalab_cpl cpl;
    uint64_t mem;
    Dmalab d;

    dmalab_start(&d, props);
    dmalab_setup_queue(&d, 16);
    mem = guest_alloc(&d.alloc, 4096);

    g_test_message("descriptor source");
    g_assert_cmphex(probe_read(&d, top - 64, 64, false), ==, read_sts);
    g_assert_cmphex(probe_read(&d, top - 63, 64, false), ==,
                    DMALAB_STS_ADDR_WIDTH);
    g_assert_cmphex(probe_read(&d, top - 1, 1, false), ==, read_sts);
    g_assert_cmphex(probe_read(&d, top - 1, 2, false), ==,
                    DMALAB_STS_ADDR_WIDTH);

    g_test_message("descriptor destination");
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x0123456789abcdefull,
                     top - 8);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, write_sts);
    if (ram_below) {
        g_assert_cmphex(qtest_readq(d.qts, top - 8), ==,
                        0x0123456789abcdefull);
    } else {
        expect_error(&d, &cpl, write_sts);
    }
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0, top - 7);
    expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);

    g_test_message("SG entry");
    g_assert_cmphex(probe_read(&d, top - 64, 64, true), ==, read_sts);
    g_assert_cmphex(probe_read(&d, top - 63, 64, true), ==,
                    DMALAB_STS_ADDR_WIDTH);

    g_test_message("SG table");
    ent.addr = cpu_to_le64(mem);
    if (ram_below) {
        qtest_memwrite(d.qts, top - 16, &ent, sizeof(ent));
    }
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, DMALAB_DESC_SRC_SG, 64, top - 16,
                     0);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, read_sts);
    if (!ram_below) {
        expect_error(&d, &cpl, read_sts);
        g_assert_cmphex(le64_to_cpu(cpl.err_addr), ==, top - 16);
    }
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, DMALAB_DESC_SRC_SG, 64, top - 15,
                     0);
    expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);
    if (ram_below) {
        /* A table whose next entry would lie beyond the limit. */
        ent.len = cpu_to_le32(32);
        ent.flags = 0;
        qtest_memwrite(d.qts, top - 16, &ent, sizeof(ent));
        cpl = dmalab_run(&d, DMALAB_OP_CRC32C, DMALAB_DESC_SRC_SG, 64,
                         top - 16, 0);
        expect_error(&d, &cpl, DMALAB_STS_ADDR_WIDTH);
        g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, 32);
    }

    g_test_message("rings of 4 entries (128 bytes)");
    g_assert(ring_enables(&d, top - 128, mem));
    g_assert(!ring_enables(&d, top - 96, mem));
    g_assert(ring_enables(&d, mem, top - 128));
    g_assert(!ring_enables(&d, mem, top - 96));
    check_alive(&d);
    dmalab_stop(&d);
}

/*
 * A BAR just below the top of the address space: a range reaching 2^64
 * still overlaps it and is refused with SELF_DMA, and device memory keeps
 * its bytes.  (QEMU maps no BAR whose last byte is 2^64 - 1, so the page
 * above the BAR is empty.)
 */
static void test_edge_self_dma_top(void)
{
    const uint64_t top_bar = 0xffffffffffffe000ull;
    g_autofree uint8_t *data = random_bytes(8192);
    g_autofree uint8_t *devmem = g_malloc(4096);
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start(&d, "devmem-size=4096");
    dmalab_setup_queue(&d, 16);
    src = guarded_alloc(&d, 8192, data);
    dst = guarded_alloc(&d, 8192, NULL);
    qpci_config_writel(d.dev, PCI_BASE_ADDRESS_2, (uint32_t)top_bar);
    qpci_config_writel(d.dev, PCI_BASE_ADDRESS_3, top_bar >> 32);
    g_assert_cmphex(bar_addr(&d, DMALAB_BAR_DEVMEM), ==, top_bar);
    qtest_memset(d.qts, top_bar, 0x5a, 4096);
    memset(devmem, 0x5a, 4096);

    /* Into [BAR, 2^64): the case whose end wraps to 0. */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 8192, src, top_bar);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, 0);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 8192, top_bar, dst);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 4096, src, top_bar);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    /* Straddling the BAR's first byte from below. */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 16, src, top_bar - 8);
    expect_error(&d, &cpl, DMALAB_STS_SELF_DMA);
    /* The empty page above the BAR is not the device: a bus error. */
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 4096, src, top_bar + 4096);
    expect_error(&d, &cpl, DMALAB_STS_DMA_WRITE);

    check_mem(&d, top_bar, devmem, 4096);
    check_untouched(&d, dst, 8192);
    cpl = dmalab_run(&d, DMALAB_OP_COPY, 0, 8192, src, dst);
    assert_ok(&cpl, 8192);
    check_mem(&d, dst, data, 8192);
    dmalab_stop(&d);
}

/* ---- Interrupts that change the function ------------------------------ */

#define Q35_MMCONFIG_BASE   0xb0000000ull

/*
 * Turn on q35's MMCONFIG window (firmware would) and return the address
 * of the device's configuration space in it.
 */
static uint64_t enable_mmconfig(Dmalab *d)
{
    QPCIDevice *mch = qpci_device_find(d->bus, QPCI_DEVFN(0, 0));
    uint64_t cfg = Q35_MMCONFIG_BASE + ((uint64_t)DMALAB_DEVFN << 12);

    g_assert(mch);
    qpci_config_writel(mch, 0x64, 0);              /* PCIEXBAR, high */
    qpci_config_writel(mch, 0x60, Q35_MMCONFIG_BASE | 1); /* 256 MiB, on */
    g_free(mch);
    g_assert_cmphex(qtest_readw(d->qts, cfg + PCI_VENDOR_ID), ==,
                    DMALAB_PCI_VENDOR_ID);
    return cfg;
}

/*
 * The error vector is aimed at the device's own configuration space: at
 * the PCIe Device Control register with the FLR bit, or at the PMCSR with
 * D3hot.  A bad descriptor then changes the function from inside the
 * engine's pass.  The pass must stop there: no further descriptor runs,
 * and after the function reset the queue reads as reset (RING_SIZE, HEAD
 * and TAIL 0), not as the rest of the pass left it.
 */
static void test_reset_from_own_msix(const void *opaque)
{
    bool d3hot = GPOINTER_TO_INT(opaque);
    struct dmalab_cpl cpl;
    uint64_t cfg, buf;
    uint8_t cap;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, NULL);
    cfg = enable_mmconfig(&d);
    buf = guarded_alloc(&d, 64, NULL);
    qpci_msix_enable(d.dev);
    if (d3hot) {
        cap = qpci_find_capability(d.dev, PCI_CAP_ID_PM, 0);
        msix_route(&d, DMALAB_MSIX_ERR_VECTOR(4), cfg + cap + PCI_PM_CTRL,
                   3);
    } else {
        uint16_t ctl;

        cap = qpci_find_capability(d.dev, PCI_CAP_ID_EXP, 0);
        ctl = qpci_config_readw(d.dev, cap + PCI_EXP_DEVCTL);
        msix_route(&d, DMALAB_MSIX_ERR_VECTOR(4), cfg + cap + PCI_EXP_DEVCTL,
                   ctl | PCI_EXP_DEVCTL_BCR_FLR);
    }
    g_assert_cmphex(cap, !=, 0);
    dmalab_setup_queue(&d, 8);
    post(&d, 0, 0x33, DMALAB_DESC_IRQ, 8, 0, buf);
    t = post(&d, 0, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 64, 0x1111, buf);
    doorbell(&d, 0);
    qtest_clock_step(d.qts, 1000 * 1000);

    /* The pass stopped at the bad descriptor. */
    check_untouched(&d, buf, 64);
    g_assert(!cpl_ready(&d, &t, &cpl));
    if (d3hot) {
        g_assert_cmphex(qpci_config_readw(d.dev, cap + PCI_PM_CTRL) &
                        PCI_PM_CTRL_STATE_MASK, ==, 3);
        g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, UINT32_MAX);
        /* Back to D0: the function reset of the PM capability. */
        qpci_config_writew(d.dev, cap + PCI_PM_CTRL, 0);
    }
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_COMMAND) &
                    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), ==, 0);
    dmalab_map(&d);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_RING_SIZE), ==, 0);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, 0);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 0);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, 0);
    check_reset_regs(&d, 4);

    /* And it works again from scratch. */
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0x2222, buf);
    assert_ok(&cpl, 64);
    g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x2222);
    dmalab_stop(&d);
}

/*
 * Wait until the trace file @path holds @event.  The copy threads run in
 * real time, outside the qtest clock: poll for up to 20 s.
 */
static void wait_for_trace(const char *path, const char *event)
{
    g_autofree char *log = NULL;

    for (int i = 0; i < 20000; i++) {
        g_free(log);
        log = NULL;
        if (g_file_get_contents(path, &log, NULL, NULL) &&
            strstr(log, event)) {
            return;
        }
        g_usleep(1000);
    }
    g_assert(log && strstr(log, event));
}

/*
 * The copy thread, with each copy held in flight for a while
 * (x-copy-delay-us), and a second descriptor looked ahead behind it.
 * Whatever stops the device meanwhile (a queue disabled, CTRL.RESET, bus
 * mastering off, an FLR) returns only once the copy is over: device memory
 * holds every byte the moment it returns, the descriptor looked ahead has
 * moved none, and neither completes, ever.  Stopping the VM completes both
 * instead, before the VM's memory could be saved.  The device works on
 * afterwards.  The stop comes once the first copy has begun (traced): a
 * stop drops a job not yet begun, which is the descriptor looked ahead's
 * part.
 */
typedef enum {
    COPY_STOP_QUEUE_DISABLE,
    COPY_STOP_DEVICE_RESET,
    COPY_STOP_BUS_MASTER,
    COPY_STOP_FLR,
    COPY_STOP_VM,
} CopyStop;

static void test_copy_thread_stop(gconstpointer opaque)
{
    CopyStop how = GPOINTER_TO_INT(opaque);
    const uint32_t len = COPY_THREAD_LEN;
    g_autofree char *path = g_strdup_printf("%s/dmalab-stop-%d.log",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *machine = g_strdup_printf(
        "q35 -trace enable=dmalab_copy_begin -D %s", path);
    g_autofree uint8_t *pattern = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    g_autofree uint8_t *zero = g_malloc0(len);
    struct dmalab_cpl cpl;
    uint64_t buf, small;
    uint16_t cmd;
    uint8_t exp;
    Ticket t, t2;
    Dmalab d;

    dmalab_start_machine(&d, machine, "x-copy-delay-us=300000");
    dmalab_setup_queue(&d, 8);
    buf = guest_alloc(&d.alloc, len);
    small = guest_alloc(&d.alloc, 64);
    for (uint32_t i = 0; i < len; i++) {
        pattern[i] = i * 7 + (i >> 12) + 3;
    }
    qtest_memwrite(d.qts, buf, pattern, len);
    t = post(&d, 0, DMALAB_OP_H2D, 0, len, buf, 0);
    t2 = post(&d, 0, DMALAB_OP_H2D, 0, len, buf, len);
    doorbell(&d, 0);
    wait_for_trace(path, "dmalab_copy_begin queue 0:");
    unlink(path);
    /* A few round trips: the engine has looked the second one ahead too. */
    for (int i = 0; i < 4; i++) {
        g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    }
    g_assert(!cpl_ready(&d, &t, &cpl));
    g_assert(!cpl_ready(&d, &t2, &cpl));

    cmd = qpci_config_readw(d.dev, PCI_COMMAND);
    switch (how) {
    case COPY_STOP_QUEUE_DISABLE:
        qwr(&d, 0, DMALAB_Q_CTRL, 0);
        break;
    case COPY_STOP_DEVICE_RESET:
        wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_RESET);
        break;
    case COPY_STOP_BUS_MASTER:
        qpci_config_writew(d.dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
        break;
    case COPY_STOP_FLR:
        exp = qpci_find_capability(d.dev, PCI_CAP_ID_EXP, 0);
        qpci_config_writew(d.dev, exp + PCI_EXP_DEVCTL,
                           qpci_config_readw(d.dev, exp + PCI_EXP_DEVCTL) |
                           PCI_EXP_DEVCTL_BCR_FLR);
        dmalab_map(&d); /* the FLR cleared memory decoding */
        break;
    case COPY_STOP_VM:
        qtest_qmp_assert_success(d.qts, "{'execute': 'stop'}");
        /* completed before the stop returned, with the VM stopped */
        g_assert(cpl_ready(&d, &t, &cpl));
        assert_ok(&cpl, len);
        g_assert(cpl_ready(&d, &t2, &cpl));
        assert_ok(&cpl, len);
        qtest_qmp_assert_success(d.qts, "{'execute': 'cont'}");
        break;
    }

    qpci_memread(d.dev, d.devmem, 0, got, len);
    g_assert(memcmp(got, pattern, len) == 0);
    qpci_memread(d.dev, d.devmem, len, got, len);
    g_assert(memcmp(got, how == COPY_STOP_VM ? pattern : zero, len) == 0);
    if (how != COPY_STOP_VM) {
        assert_no_cpl(&d, &t);
        assert_no_cpl(&d, &t2);
    }

    /* And on it goes. */
    if (how == COPY_STOP_BUS_MASTER) {
        qpci_config_writew(d.dev, PCI_COMMAND, cmd);
    }
    if (how == COPY_STOP_DEVICE_RESET) {
        qtest_clock_step(d.qts, 100 * 1000);
        g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, 0);
    }
    if (how != COPY_STOP_VM) {
        qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
        dmalab_setup_queue(&d, 8);
    }
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0x5a, small);
    assert_ok(&cpl, 64);
    g_assert_cmphex(qtest_readq(d.qts, small), ==, 0x5a);
    check_alive(&d);
    dmalab_stop(&d);
}

/* Bus mastering off: the queue halts with BUS_MASTER. */
static void test_bad_bus_master(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    uint16_t cmd;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 8);
    buf = guarded_alloc(&d, 64, NULL);
    cmd = qpci_config_readw(d.dev, PCI_COMMAND);
    qpci_config_writew(d.dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    t = post(&d, 0, DMALAB_OP_FILL, 0, 64, 0, buf);
    doorbell(&d, 0);
    qtest_clock_step(d.qts, 1000);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==,
                    DMALAB_QSTS_ENABLED | DMALAB_QSTS_BUSY |
                    DMALAB_QSTS_HALTED);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_ERROR), ==, DMALAB_STS_BUS_MASTER);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_HEAD), ==, 0);
    expect_error_logged(&d, DMALAB_STS_BUS_MASTER);
    check_untouched(&d, buf, 64);

    /* Mastering back on: the halted queue still waits for a reset. */
    qpci_config_writew(d.dev, PCI_COMMAND, cmd);
    qtest_clock_step(d.qts, 100 * 1000);
    g_assert(!cpl_ready(&d, &t, &cpl));
    qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    queue_program(&d, 0);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 64, 0, buf);
    assert_ok(&cpl, 64);
    dmalab_stop(&d);
}

/* ---- Throttled model, port I/O ---------------------------------------- */

/* bandwidth=1000000: 4096 bytes take 4.096 ms of virtual time. */
static void test_throttle(void)
{
    g_autofree uint8_t *data = random_bytes(4096);
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, "bandwidth=1000000");
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, 4096, data);
    dst = guarded_alloc(&d, 4096, NULL);
    t = post(&d, 0, DMALAB_OP_COPY, 0, 4096, src, dst);
    doorbell(&d, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    for (int i = 0; i < 40; i++) {
        g_assert(!cpl_ready(&d, &t, &cpl));
        qtest_clock_step(d.qts, 100 * 1000);
    }
    g_assert(!cpl_ready(&d, &t, &cpl));
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==,
                    DMALAB_QSTS_ENABLED | DMALAB_QSTS_BUSY);
    check_untouched(&d, dst, 4096);
    qtest_clock_step(d.qts, 200 * 1000);
    g_assert(cpl_ready(&d, &t, &cpl));
    assert_ok(&cpl, 4096);
    check_mem(&d, dst, data, 4096);
    dmalab_stop(&d);
}

/* The port I/O doorbell works like the MMIO one. */
static void test_pio_doorbell(void)
{
    struct dmalab_cpl cpl;
    uint64_t buf;
    Ticket t;
    Dmalab d;

    dmalab_start(&d, "queues=3");
    buf = guest_alloc(&d.alloc, 64);
    setup_queue(&d, 0, 8);
    setup_queue(&d, 2, 8);
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_QSEL, 2);
    g_assert_cmpuint(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_QSEL), ==, 2);
    for (uint64_t i = 0; i < 10; i++) {
        t = post(&d, 2, DMALAB_OP_FILL, 0, 8, 0x100 + i, buf);
        qpci_io_writel(d.dev, d.pio, DMALAB_PIO_TAIL, d.q[2].tail);
        g_assert_cmpuint(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_TAIL), ==,
                         d.q[2].tail);
        g_assert_cmpuint(qrd(&d, 2, DMALAB_Q_TAIL), ==, d.q[2].tail);
        cpl = wait_cpl(&d, &t);
        assert_ok(&cpl, 8);
        g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x100 + i);
        g_assert_cmpuint(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_DOORBELLS),
                         ==, i + 1);
    }
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 0);
    /* Beyond the ring, and a queue that does not exist. */
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_TAIL, 8);
    expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_QSEL, 3);
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_TAIL, 1);
    expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);
    /* MMIO and port doorbells mix. */
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_QSEL, 0);
    t = post(&d, 0, DMALAB_OP_FILL, 0, 8, 0x55, buf);
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_TAIL, d.q[0].tail);
    cpl = wait_cpl(&d, &t);
    assert_ok(&cpl, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x56, buf);
    assert_ok(&cpl, 8);
    /* Every port doorbell counts, refused ones too; MMIO ones do not. */
    g_assert_cmpuint(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_DOORBELLS), ==,
                     13);
    /* The count is read-only. */
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_DOORBELLS, 0);
    g_assert_cmpuint(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_DOORBELLS), ==,
                     13);
    dmalab_stop(&d);
}

/* Whether the trace log holds a line with this event and these arguments. */
static bool trace_has(const char *log, const char *line)
{
    bool found = strstr(log, line) != NULL;

    if (!found) {
        g_test_message("trace lacks \"%s\"", line);
    }
    return found;
}

/*
 * The trace events, with their arguments: one H2D, traced with the log
 * backend into a file, shows its doorbell, its descriptor as read, the
 * DMA read of its source and its completion.
 */
static void test_trace_events(void)
{
    g_autofree char *path = g_strdup_printf("%s/dmalab-trace-%d.log",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *machine = g_strdup_printf(
        "q35 -trace enable=dmalab_doorbell -trace enable=dmalab_desc "
        "-trace enable=dmalab_dma_read -trace enable=dmalab_cpl -D %s",
        path);
    g_autofree char *log = NULL;
    g_autofree char *desc = NULL, *dma = NULL;
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start_machine(&d, machine, NULL);
    buf = guarded_alloc(&d, 4096, NULL);
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, 4096, buf, 0x300);
    assert_ok(&cpl, 4096);
    dmalab_stop(&d);    /* QEMU flushes its log as it exits */

    g_assert(g_file_get_contents(path, &log, NULL, NULL));
    unlink(path);
    desc = g_strdup_printf("dmalab_desc queue 0 slot 0 op 0x%x flags 0x0 "
                           "len 4096 src 0x%" PRIx64 " dst 0x300",
                           DMALAB_OP_H2D, buf);
    dma = g_strdup_printf("dmalab_dma_read addr 0x%" PRIx64 " len 4096", buf);
    g_assert(trace_has(log, "dmalab_doorbell queue 0 tail 1"));
    g_assert(trace_has(log, desc));
    g_assert(trace_has(log, dma));
    g_assert(trace_has(log, "dmalab_cpl queue 0 slot 0 status 0x0 "
                       "bytes 4096 phase 1"));
}

/*
 * The copy thread looks ahead: it is handed each large descriptor while
 * the one before it still copies (the trace shows slot 1 started before
 * slot 0 ended, and slot 2 before slot 1), and still copies them in ring
 * order: an H2D, a D2H of what it stored, and an H2D of what that read
 * each see their predecessor's bytes, and complete in ring order.
 */
static void test_copy_thread_lookahead(void)
{
    const uint32_t len = COPY_THREAD_LEN;
    g_autofree char *path = g_strdup_printf("%s/dmalab-lookahead-%d.log",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *machine = g_strdup_printf(
        "q35 -trace enable=dmalab_job_start -trace enable=dmalab_job_end "
        "-D %s", path);
    g_autofree uint8_t *pattern = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    g_autofree char *log = NULL;
    struct dmalab_cpl cpl;
    uint64_t buf1, buf2;
    const char *start1, *end0, *start2, *end1;
    Ticket t[3];
    Dmalab d;

    dmalab_start_machine(&d, machine, "x-copy-delay-us=200000");
    dmalab_setup_queue(&d, 8);
    buf1 = guest_alloc(&d.alloc, len);
    buf2 = guest_alloc(&d.alloc, len);
    for (uint32_t i = 0; i < len; i++) {
        pattern[i] = i * 13 + (i >> 10) + 1;
    }
    qtest_memwrite(d.qts, buf1, pattern, len);
    qtest_memset(d.qts, buf2, 0, len);
    t[0] = post(&d, 0, DMALAB_OP_H2D, 0, len, buf1, 0);
    t[1] = post(&d, 0, DMALAB_OP_D2H, 0, len, 0, buf2);
    t[2] = post(&d, 0, DMALAB_OP_H2D, 0, len, buf2, len);
    doorbell(&d, 0);
    for (int i = 0; i < 3; i++) {
        cpl = wait_cpl(&d, &t[i]);
        assert_ok(&cpl, len);
        for (int j = i + 1; j < 3; j++) {
            g_assert(!cpl_ready(&d, &t[j], &cpl));
        }
    }
    qtest_memread(d.qts, buf2, got, len);
    g_assert(memcmp(got, pattern, len) == 0);
    qpci_memread(d.dev, d.devmem, len, got, len);
    g_assert(memcmp(got, pattern, len) == 0);
    check_alive(&d);
    dmalab_stop(&d);    /* QEMU flushes its log as it exits */

    g_assert(g_file_get_contents(path, &log, NULL, NULL));
    unlink(path);
    start1 = strstr(log, "dmalab_job_start queue 0 slot 1:");
    end0 = strstr(log, "dmalab_job_end queue 0 slot 0 completed 1");
    start2 = strstr(log, "dmalab_job_start queue 0 slot 2:");
    end1 = strstr(log, "dmalab_job_end queue 0 slot 1 completed 1");
    g_assert(start1 && end0 && start2 && end1);
    g_assert(start1 < end0);
    g_assert(start2 < end1);
}

/*
 * A large copy that finds the copy threads full waits for room there; it
 * never runs in place, under the global lock.  Queues 0 to 3 fill the
 * four places (each job held 200 ms) and queue 4 waits.  Queue 0's second
 * descriptor, which reaches its head once the first is done, waits behind
 * it: queue 4 takes the first free place.  The two threads copy two
 * queues' descriptors at once: queue 1's begins while queue 0's is held.
 * Each lands in its own part of device memory, and all six went through
 * the threads.  Queue 0's second comes last, when queue 4 already waits:
 * it cannot be looked ahead either.
 */
static void test_copy_thread_wait(void)
{
    const uint32_t len = COPY_THREAD_LEN;
    static const uint32_t queue_of[6] = { 0, 1, 2, 3, 4, 0 };
    g_autofree char *path = g_strdup_printf("%s/dmalab-wait-%d.log",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *machine = g_strdup_printf(
        "q35 -trace enable=dmalab_job_* -trace enable=dmalab_copy_* -D %s",
        path);
    g_autofree uint8_t *pattern = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    g_autofree char *log = NULL;
    g_auto(GStrv) lines = NULL;
    struct dmalab_cpl cpl;
    uint64_t buf[6];
    const char *wait4, *end0, *start4, *start01, *end1, *begin1, *copied0;
    unsigned starts = 0;
    Ticket t[6];
    Dmalab d;

    dmalab_start_machine(&d, machine,
                         "x-copy-delay-us=200000,devmem-size=4M,queues=5");
    for (uint32_t qi = 0; qi < 5; qi++) {
        setup_queue(&d, qi, 8);
    }
    for (int i = 0; i < 6; i++) {
        buf[i] = guest_alloc(&d.alloc, len);
        for (uint32_t j = 0; j < len; j++) {
            pattern[j] = j * 7 + (j >> 9) + i * 61 + 1;
        }
        qtest_memwrite(d.qts, buf[i], pattern, len);
    }
    /* the heads first: queue 0's second may not be looked ahead of them */
    for (int i = 0; i < 6; i++) {
        t[i] = post(&d, queue_of[i], DMALAB_OP_H2D, 0, len, buf[i], i * len);
        doorbell(&d, queue_of[i]);
    }
    for (int i = 0; i < 6; i++) {
        cpl = wait_cpl(&d, &t[i]);
        assert_ok(&cpl, len);
    }
    for (int i = 0; i < 6; i++) {
        qtest_memread(d.qts, buf[i], pattern, len);
        qpci_memread(d.dev, d.devmem, i * len, got, len);
        g_assert(memcmp(got, pattern, len) == 0);
    }
    check_alive(&d);
    dmalab_stop(&d);    /* QEMU flushes its log as it exits */

    g_assert(g_file_get_contents(path, &log, NULL, NULL));
    unlink(path);
    lines = g_strsplit(log, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        starts += !!strstr(lines[i], "dmalab_job_start ");
    }
    g_assert_cmpuint(starts, ==, 6);
    wait4 = strstr(log, "dmalab_job_wait queue 4 slot 0 ");
    end0 = strstr(log, "dmalab_job_end queue 0 slot 0 completed 1");
    end1 = strstr(log, "dmalab_job_end queue 1 slot 0 completed 1");
    start4 = strstr(log, "dmalab_job_start queue 4 slot 0:");
    start01 = strstr(log, "dmalab_job_start queue 0 slot 1:");
    begin1 = strstr(log, "dmalab_copy_begin queue 1:");
    copied0 = strstr(log, "dmalab_copy_end queue 0:");
    g_assert(wait4 && end0 && end1 && start4 && start01);
    g_assert(wait4 < end0);
    g_assert(end0 < start4);
    g_assert(start4 < start01);
    /* two copies at once: queue 1's began while queue 0's was held */
    g_assert(begin1 && copied0);
    g_assert(begin1 < copied0);
}

/* ---- Shadow tails ------------------------------------------------------ */

/*
 * Wait until the error log counts @n errors.  A doorbell that arrives as
 * an ioeventfd is served by the main loop after the write returns, so
 * what it logs shows up a little later than a register write's would.
 */
static void wait_err_count(Dmalab *d, uint32_t n)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (rd(d, DMALAB_REG_ERR_COUNT) < n) {
        g_assert(g_get_monotonic_time() < deadline);
        qtest_clock_step(d->qts, 1000);
    }
}

/*
 * With a shadow tail the device takes the tail from memory and ignores the
 * value written: three descriptors run on a doorbell whose value lies
 * beyond the ring, through Q_TAIL and through the port.  With ioeventfd=on
 * the Q_TAIL writes reach the device through its ioeventfd (under qtest,
 * as under TCG, QEMU's memory core signals it), never as a register write;
 * with ioeventfd=off as register writes.  The trace log tells which.
 */
static void test_shadow_doorbell(gconstpointer opaque)
{
    const char *ioeventfd = opaque;
    bool fd = !strcmp(ioeventfd, "on");
    g_autofree char *path = g_strdup_printf("%s/dmalab-shadow-%s-%d.log",
                                            g_get_tmp_dir(), ioeventfd,
                                            getpid());
    g_autofree char *machine = g_strdup_printf(
        "q35 -trace enable=dmalab_doorbell -trace enable=dmalab_doorbell_fd "
        "-trace enable=dmalab_shadow_tail -D %s", path);
    g_autofree char *extra = g_strdup_printf("ioeventfd=%s", ioeventfd);
    g_autofree char *log = NULL;
    struct dmalab_cpl cpl;
    uint64_t buf, shadow;
    Ticket t[3];
    Dmalab d;

    dmalab_start_machine(&d, machine, extra);
    g_assert_cmphex(rd(&d, DMALAB_REG_FEATURES) & DMALAB_FEAT_SHADOW_DB, ==,
                    DMALAB_FEAT_SHADOW_DB);
    buf = guarded_alloc(&d, 64, NULL);
    shadow = guest_alloc(&d.alloc, 4);
    d.q[0].shadow = shadow;
    dmalab_setup_queue(&d, 8);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_SHADOW_LO), ==, (uint32_t)shadow);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_SHADOW_HI), ==, shadow >> 32);

    for (unsigned i = 0; i < 3; i++) {
        t[i] = post(&d, 0, DMALAB_OP_FILL, 0, 8, 0x5100 + i, buf + 8 * i);
    }
    qtest_writel(d.qts, shadow, 3);
    qwr(&d, 0, DMALAB_Q_TAIL, 0xdead);
    for (unsigned i = 0; i < 3; i++) {
        cpl = wait_cpl(&d, &t[i]);
        assert_ok(&cpl, 8);
        g_assert_cmphex(qtest_readq(d.qts, buf + 8 * i), ==, 0x5100 + i);
    }
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 3);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 0);

    /* The port's doorbell reads the shadow too. */
    t[0] = post(&d, 0, DMALAB_OP_FILL, 0, 8, 0x5200, buf + 24);
    qtest_writel(d.qts, shadow, d.q[0].tail);
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_QSEL, 0);
    qpci_io_writel(d.dev, d.pio, DMALAB_PIO_TAIL, 0xbeef);
    cpl = wait_cpl(&d, &t[0]);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readq(d.qts, buf + 24), ==, 0x5200);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 0);

    /* A shadow tail beyond the ring is a bad doorbell; the queue goes on. */
    qtest_writel(d.qts, shadow, 8);
    qwr(&d, 0, DMALAB_Q_TAIL, 0);
    wait_err_count(&d, 1);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_INDEX), ==, 8);
    expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);
    g_assert_cmpuint(qrd(&d, 0, DMALAB_Q_TAIL), ==, 4);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x5300, buf + 32);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readq(d.qts, buf + 32), ==, 0x5300);
    check_guards(&d, buf, 64);
    dmalab_stop(&d);

    g_assert(g_file_get_contents(path, &log, NULL, NULL));
    unlink(path);
    g_assert(trace_has(log, "dmalab_shadow_tail queue 0 shadow tail 3"));
    g_assert(trace_has(log, "dmalab_doorbell queue 0 tail 48879"));
    if (fd) {
        g_assert(trace_has(log, "dmalab_doorbell_fd queue 0"));
        g_assert(!strstr(log, "dmalab_doorbell queue 0 tail 57005"));
    } else {
        g_assert(trace_has(log, "dmalab_doorbell queue 0 tail 57005"));
        g_assert(!strstr(log, "dmalab_doorbell_fd"));
    }
}

/*
 * The shadow tail's address is checked at enable, like the rings', and is
 * as read-only while the queue runs.  A shadow the device cannot read, or
 * bus mastering off, halts the queue at the doorbell.
 */
static void test_shadow_bad(void)
{
    static const uint64_t bad[] = {
        2,                      /* misaligned */
        1ull << 40,             /* beyond dma-bits=40 */
        UINT64_MAX - 3,         /* far beyond */
    };
    /* Below 2^40, where nothing is mapped. */
    const uint64_t unmapped = 0xf000000000ull;
    struct dmalab_cpl cpl;
    uint64_t buf, shadow;
    uint16_t cmd;
    Dmalab d;

    dmalab_start(&d, "dma-bits=40");
    buf = guest_alloc(&d.alloc, 64);
    shadow = guest_alloc(&d.alloc, 4);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        g_test_message("shadow 0x%" PRIx64, shadow + bad[i]);
        d.q[0].shadow = bad[i] == 2 ? shadow + 2 : bad[i];
        wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
        d.q[0].size = 8;
        d.q[0].ring = guest_alloc(&d.alloc, 8 * sizeof(struct dmalab_desc));
        d.q[0].cpl = guest_alloc(&d.alloc, 8 * sizeof(struct dmalab_cpl));
        qwr(&d, 0, DMALAB_Q_RING_LO, d.q[0].ring);
        qwr(&d, 0, DMALAB_Q_CPL_LO, d.q[0].cpl);
        qwr(&d, 0, DMALAB_Q_RING_SIZE, 8);
        qwr(&d, 0, DMALAB_Q_SHADOW_LO, d.q[0].shadow);
        qwr(&d, 0, DMALAB_Q_SHADOW_HI, d.q[0].shadow >> 32);
        qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
        g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS), ==, 0);
        g_assert_cmphex(rd64(&d, DMALAB_REG_ERR_ADDR_LO), ==, d.q[0].shadow);
        expect_error_logged(&d, DMALAB_STS_RING_CONFIG);
    }

    /* A good shadow: the queue runs, and its shadow is read-only now. */
    d.q[0].shadow = shadow;
    queue_program(&d, 0);
    qwr(&d, 0, DMALAB_Q_SHADOW_LO, 0x40);
    expect_error_logged(&d, DMALAB_STS_BUSY);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_SHADOW_LO), ==, (uint32_t)shadow);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x11, buf);
    assert_ok(&cpl, 8);

    /* Bus mastering off: the doorbell cannot read the shadow. */
    cmd = qpci_config_readw(d.dev, PCI_COMMAND);
    qpci_config_writew(d.dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    post(&d, 0, DMALAB_OP_FILL, 0, 8, 0x12, buf);
    doorbell(&d, 0);
    wait_err_count(&d, 1);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS) & DMALAB_QSTS_HALTED, ==,
                    DMALAB_QSTS_HALTED);
    g_assert_cmphex(rd64(&d, DMALAB_REG_ERR_ADDR_LO), ==, shadow);
    expect_error_logged(&d, DMALAB_STS_BUS_MASTER);
    g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x11);
    qpci_config_writew(d.dev, PCI_COMMAND, cmd);

    /* A shadow where nothing is mapped: a DMA read error, queue halted. */
    qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    d.q[0].shadow = unmapped;
    queue_program(&d, 0);
    qwr(&d, 0, DMALAB_Q_TAIL, 1);
    wait_err_count(&d, 1);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_STATUS) & DMALAB_QSTS_HALTED, ==,
                    DMALAB_QSTS_HALTED);
    g_assert_cmphex(rd64(&d, DMALAB_REG_ERR_ADDR_LO), ==, unmapped);
    expect_error_logged(&d, DMALAB_STS_DMA_READ);

    /*
     * Reset, and set up again without a shadow: Q_TAIL is a register
     * again (the ioeventfd went with the reset), and its value counts.
     */
    qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    d.q[0].shadow = 0;
    queue_program(&d, 0);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x13, buf);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x13);
    qwr(&d, 0, DMALAB_Q_TAIL, 8);
    expect_error_logged(&d, DMALAB_STS_BAD_DOORBELL);

    /* So after a device reset. */
    d.q[0].shadow = shadow;
    qwr(&d, 0, DMALAB_Q_CTRL, DMALAB_QCTRL_RESET);
    queue_program(&d, 0);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x14, buf);
    assert_ok(&cpl, 8);
    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_RESET);
    qtest_clock_step(d.qts, 1000 * 1000);
    g_assert_cmphex(qrd(&d, 0, DMALAB_Q_SHADOW_LO), ==, 0);
    d.q[0].shadow = 0;
    dmalab_setup_queue(&d, 8);
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0x15, buf);
    assert_ok(&cpl, 8);
    g_assert_cmphex(qtest_readq(d.qts, buf), ==, 0x15);
    dmalab_stop(&d);
}

/* ---- Machines and properties ------------------------------------------ */

/* On -M pc the device is a conventional PCI device and works the same. */
static void test_machine_pc(void)
{
    const uint32_t len = 4097;
    g_autofree uint8_t *data = random_bytes(len);
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab d;

    dmalab_start_machine(&d, "pc", "devmem-size=64K");
    g_assert_cmphex(qpci_find_capability(d.dev, PCI_CAP_ID_EXP, 0), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    dmalab_setup_queue(&d, 8);
    src = guarded_alloc(&d, len, data);
    dst = guarded_alloc(&d, len, NULL);
    cpl = dmalab_run(&d, DMALAB_OP_H2D, 0, len, src, 100);
    assert_ok(&cpl, len);
    cpl = dmalab_run(&d, DMALAB_OP_D2H, 0, len, 100, dst);
    assert_ok(&cpl, len);
    check_mem(&d, dst, data, len);
    check_guards(&d, dst, len);
    qpci_msix_enable(d.dev);
    cpl = dmalab_run(&d, DMALAB_OP_CRC32C, DMALAB_DESC_IRQ, len, src, 0);
    g_assert_cmphex(le32_to_cpu(cpl.result), ==, ref_crc32c(data, len));
    g_assert(qpci_msix_pending(d.dev, 0));
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* The largest number of queues: all usable, one vector each. */
static void test_props_max_queues(void)
{
    const unsigned last = DMALAB_MAX_QUEUES - 1;
    struct dmalab_cpl cpl;
    uint64_t buf;
    Dmalab d;

    dmalab_start(&d, "queues=31,devmem-size=4K,dma-bits=24");
    g_assert_cmpuint(DMALAB_CAP_NUM_QUEUES(rd(&d, DMALAB_REG_CAP)), ==,
                     DMALAB_MAX_QUEUES);
    g_assert_cmpuint(DMALAB_CAP_DMA_BITS(rd(&d, DMALAB_REG_CAP)), ==, 24);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_LO), ==, 4096);
    qpci_msix_enable(d.dev);
    g_assert_cmpuint(qpci_msix_table_size(d.dev), ==, DMALAB_MSIX_TABLE_SIZE);
    check_reset_regs(&d, DMALAB_MAX_QUEUES);
    /* With 24 address bits a ring at 32 MiB is out of reach. */
    wr(&d, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    qwr(&d, last, DMALAB_Q_RING_LO, 32 * 1024 * 1024);
    qwr(&d, last, DMALAB_Q_CPL_LO, 0x100000);
    qwr(&d, last, DMALAB_Q_RING_SIZE, 2);
    qwr(&d, last, DMALAB_Q_CTRL, DMALAB_QCTRL_ENABLE);
    g_assert_cmphex(qrd(&d, last, DMALAB_Q_STATUS), ==, 0);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_QUEUE), ==, last);
    expect_error_logged(&d, DMALAB_STS_RING_CONFIG);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);

    dmalab_start(&d, "queues=31");
    buf = guest_alloc(&d.alloc, 64);
    qpci_msix_enable(d.dev);
    setup_queue(&d, last, 2);
    cpl = run_q(&d, last, DMALAB_OP_FILL, DMALAB_DESC_IRQ, 8, 31, buf);
    assert_ok(&cpl, 8);
    g_assert(qpci_msix_pending(d.dev, last));
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE), ==,
                    DMALAB_INTR_QUEUE(last));
    cpl = run_q(&d, last, 0, 0, 8, 31, buf);
    g_assert(qpci_msix_pending(d.dev, DMALAB_MSIX_ERR_VECTOR(31)));
    expect_error(&d, &cpl, DMALAB_STS_BAD_OPCODE);
    qpci_msix_disable(d.dev);
    dmalab_stop(&d);
}

/* QEMU refuses to start with an out-of-range property. */
static void test_props_invalid(void)
{
    static const struct {
        const char *prop;
        const char *msg;
    } bad[] = {
        { "queues=0", "queues must be between" },
        { "queues=32", "queues must be between" },
        { "devmem-size=3000", "devmem-size must be a power of two" },
        { "devmem-size=2K", "devmem-size must be a power of two" },
        { "devmem-size=2G", "devmem-size must be a power of two" },
        { "dma-bits=23", "dma-bits must be between" },
        { "dma-bits=65", "dma-bits must be between" },
        { "irq-fault=4", "irq-fault must be" },
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");

    g_assert(qemu);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *dev = g_strdup_printf("dmalab,%s", bad[i].prop);
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        g_autoptr(GError) gerr = NULL;
        /* timeout: should QEMU start after all, the test fails, not hangs */
        const char *argv[] = {
            "timeout", "-s", "KILL", "30", qemu, "-machine", "q35",
            "-nodefaults", "-display", "none", "-accel", "qtest",
            "-device", dev, NULL,
        };
        int status;

        g_test_message("-device %s", dev);
        g_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                              NULL, NULL, &out, &err, &status, &gerr));
        g_assert(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 1);
        g_assert(strstr(err, bad[i].msg));
    }
}

/* ---- Migration -------------------------------------------------------- */

static void wait_migration(QTestState *qts)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *st = qdict_haskey(ret, "status") ?
                         qdict_get_str(ret, "status") : "none";
        bool done = !strcmp(st, "completed");

        g_assert_cmpstr(st, !=, "failed");
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(10 * 1000);
    }
}

/* Live migration carries the registers, queue state and device memory. */
static void test_migration(void)
{
    static const uint32_t regs[] = {
        DMALAB_REG_CTRL, DMALAB_REG_STATUS, DMALAB_REG_INTR_CAUSE,
        DMALAB_REG_INTR_MASK, DMALAB_REG_ERR_QUEUE, DMALAB_REG_ERR_INDEX,
        DMALAB_REG_ERR_CODE, DMALAB_REG_ERR_ADDR_LO, DMALAB_REG_ERR_COUNT,
        DMALAB_REG_STAT_BYTES_LO, DMALAB_REG_STAT_DESCS_LO,
        DMALAB_REG_STAT_ERRORS_LO, DMALAB_REG_STAT_IRQS_LO,
        DMALAB_REG_DBG_FAIL_NTH, DMALAB_REG_DBG_STALL,
        DMALAB_REG_DBG_LAST_ADDR_LO,
    };
    g_autofree char *sock = g_strdup_printf("%s/dmalab-mig-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree uint8_t *data = random_bytes(5000);
    uint32_t before[ARRAY_SIZE(regs)], qbefore[2][ARRAY_SIZE(queue_regs)];
    struct dmalab_cpl cpl;
    uint64_t src, dst;
    Dmalab s, t;

    dmalab_start(&s, "queues=2");
    src = guarded_alloc(&s, 5000, data);
    dst = guarded_alloc(&s, 5000, NULL);
    setup_queue(&s, 0, 8);
    setup_queue(&s, 1, 4);
    qwr(&s, 1, DMALAB_Q_COAL_COUNT, 3);
    qwr(&s, 1, DMALAB_Q_COAL_USEC, 50);
    wr(&s, DMALAB_REG_INTR_MASK, 0x1);
    cpl = run_q(&s, 0, DMALAB_OP_H2D, DMALAB_DESC_IRQ, 5000, src, 777);
    assert_ok(&cpl, 5000);
    for (int i = 0; i < 5; i++) {
        run_q(&s, 1, DMALAB_OP_FILL, 0, 8, i, dst);
    }
    cpl = run_q(&s, 0, 0x33, 0, 8, 0, dst);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_BAD_OPCODE);
    wr(&s, DMALAB_REG_DBG_FAIL_NTH, 7);
    wr(&s, DMALAB_REG_DBG_STALL, 2);
    /* The port doorbell count travels in a subsection. */
    qpci_io_writel(s.dev, s.pio, DMALAB_PIO_TAIL, s.q[0].tail);
    qpci_io_writel(s.dev, s.pio, DMALAB_PIO_QSEL, 1);
    for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
        before[i] = rd(&s, regs[i]);
    }
    for (int q = 0; q < 2; q++) {
        for (size_t i = 0; i < ARRAY_SIZE(queue_regs); i++) {
            qbefore[q][i] = qrd(&s, q, queue_regs[i]);
        }
    }

    t = s;
    t.qts = qtest_initf("-machine q35 -nodefaults "
                        "-device dmalab,addr=04.0,queues=2 -incoming %s", uri);
    qtest_qmp_assert_success(s.qts, "{'execute': 'migrate-set-parameters',"
                             "'arguments': {'max-bandwidth': 1000000000}}");
    qtest_qmp_assert_success(s.qts, "{'execute': 'migrate',"
                             "'arguments': {'uri': %s}}", uri);
    wait_migration(s.qts);
    wait_migration(t.qts);

    /* The target: same BAR addresses (config space migrated). */
    t.bus = qpci_new_pc(t.qts, NULL);
    t.dev = qpci_device_find(t.bus, DMALAB_DEVFN);
    g_assert(t.dev);
    t.regs.addr = bar_addr(&t, DMALAB_BAR_REGS);
    t.devmem.addr = bar_addr(&t, DMALAB_BAR_DEVMEM);
    g_assert_cmphex(t.regs.addr, ==, s.regs.addr);
    for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
        g_test_message("register 0x%x", regs[i]);
        g_assert_cmphex(rd(&t, regs[i]), ==, before[i]);
    }
    for (int q = 0; q < 2; q++) {
        for (size_t i = 0; i < ARRAY_SIZE(queue_regs); i++) {
            g_assert_cmphex(qrd(&t, q, queue_regs[i]), ==, qbefore[q][i]);
        }
    }
    g_assert_cmpuint(qpci_io_readl(t.dev, t.pio, DMALAB_PIO_QSEL), ==, 1);
    g_assert_cmpuint(qpci_io_readl(t.dev, t.pio, DMALAB_PIO_DOORBELLS), ==,
                     1);
    /* Device memory came along, and queue 0 carries on where it was. */
    cpl = run_q(&t, 0, DMALAB_OP_D2H, 0, 5000, 777, dst);
    assert_ok(&cpl, 5000);
    check_mem(&t, dst, data, 5000);
    check_guards(&t, dst, 5000);
    g_assert_cmpuint(le16_to_cpu(cpl.index), ==, 2);
    /* Queue 1 is still stalled. */
    t.seq = 1000;
    {
        Ticket tk = post(&t, 1, DMALAB_OP_FILL, 0, 8, 9, dst);

        doorbell(&t, 1);
        assert_no_cpl(&t, &tk);
        wr(&t, DMALAB_REG_DBG_STALL, 0);
        cpl = wait_cpl(&t, &tk);
        assert_ok(&cpl, 8);
    }

    g_free(t.dev);
    qpci_free_pc(t.bus);
    qtest_quit(t.qts);
    dmalab_stop(&s);
    unlink(sock);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(const void *);
    } ops[] = {
        { "h2d", test_op_h2d },
        { "d2h", test_op_d2h },
        { "copy", test_op_copy },
        { "fill", test_op_fill },
        { "crc32c", test_op_crc32c },
    };
    static const struct {
        const char *name;
        size_t len;
    } sizes[] = {
        { "1", 1 }, { "4095", 4095 }, { "4096", 4096 }, { "4097", 4097 },
        { "1M+1", 1024 * 1024 + 1 },
    };
    static const struct {
        const char *name;
        void (*fn)(const void *);
    } faults[] = {
        { "fail-nth", test_fault_fail_nth },
        { "irq-drop", test_fault_irq_drop },
        { "irq-delay", test_fault_irq_delay },
        { "irq-dup", test_fault_irq_dup },
        { "stall", test_fault_stall },
        { "corrupt-nth", test_fault_corrupt },
    };

    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/dmalab/id-registers", test_id_registers);
    qtest_add_func("/dmalab/regs/reset-values", test_reset_values);
    qtest_add_func("/dmalab/regs/access-width", test_access_width);
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(sizes); j++) {
            g_autofree char *path = g_strdup_printf("/dmalab/op/%s/%s",
                                                    ops[i].name,
                                                    sizes[j].name);

            qtest_add_data_func(path, GSIZE_TO_POINTER(sizes[j].len),
                                ops[i].fn);
        }
    }
    qtest_add_func("/dmalab/op/crc32c/check-value", test_op_crc32c_known);
    qtest_add_func("/dmalab/roundtrip/1", test_roundtrip_1);
    qtest_add_func("/dmalab/roundtrip/4097", test_roundtrip_4097);
    qtest_add_func("/dmalab/roundtrip/1M+1", test_roundtrip_1m1);
    qtest_add_func("/dmalab/sg/copy", test_sg_copy);
    qtest_add_func("/dmalab/sg/ops", test_sg_ops);
    qtest_add_func("/dmalab/sg/loop", test_sg_loop);
    qtest_add_func("/dmalab/sg/short", test_sg_short);
    qtest_add_func("/dmalab/sg/bad-flags", test_sg_bad_flags);
    qtest_add_func("/dmalab/chain/ok", test_chain_ok);
    qtest_add_func("/dmalab/chain/abort", test_chain_abort);
    qtest_add_func("/dmalab/queues/parallel", test_queues_parallel);
    qtest_add_func("/dmalab/ring/size-2", test_ring_size_2);
    qtest_add_func("/dmalab/ring/size-max", test_ring_size_max);
    qtest_add_func("/dmalab/msix/queue-vector", test_msix_queue_vector);
    qtest_add_func("/dmalab/msix/per-queue", test_msix_per_queue);
    qtest_add_func("/dmalab/intr/msi", test_msi);
    qtest_add_func("/dmalab/intr/intx", test_intx);
    qtest_add_func("/dmalab/intr/mask-msix", test_intr_mask_msix);
    qtest_add_func("/dmalab/coalesce/count", test_coalesce_count);
    qtest_add_func("/dmalab/coalesce/usec", test_coalesce_usec);
    for (size_t i = 0; i < ARRAY_SIZE(faults); i++) {
        g_autofree char *reg = g_strdup_printf("/dmalab/fault/%s/reg",
                                               faults[i].name);
        g_autofree char *prop = g_strdup_printf("/dmalab/fault/%s/prop",
                                                faults[i].name);

        qtest_add_data_func(reg, GINT_TO_POINTER(0), faults[i].fn);
        qtest_add_data_func(prop, GINT_TO_POINTER(1), faults[i].fn);
    }
    qtest_add_func("/dmalab/fault/dead", test_fault_dead);
    qtest_add_func("/dmalab/fault/last-addr", test_fault_last_addr);
    qtest_add_func("/dmalab/reset/ctrl-stalled", test_reset_ctrl_stalled);
    qtest_add_func("/dmalab/reset/ctrl-inflight", test_reset_ctrl_inflight);
    qtest_add_func("/dmalab/reset/queue", test_reset_queue);
    qtest_add_func("/dmalab/reset/flr", test_reset_flr);
    qtest_add_func("/dmalab/reset/pm-q35", test_reset_pm_q35);
    qtest_add_func("/dmalab/reset/pm-pc", test_reset_pm_pc);
    qtest_add_func("/dmalab/stats/counters", test_stats);
    qtest_add_func("/dmalab/stats/error-log", test_error_log);
    qtest_add_func("/dmalab/error/bad-opcode", test_bad_opcode);
    qtest_add_func("/dmalab/error/bad-len", test_bad_len);
    qtest_add_func("/dmalab/error/bad-flags", test_bad_flags);
    qtest_add_func("/dmalab/error/devmem-range", test_bad_devmem_range);
    qtest_add_func("/dmalab/error/dma", test_bad_dma);
    qtest_add_func("/dmalab/error/ring-dma", test_bad_ring_dma);
    qtest_add_func("/dmalab/error/ring-config", test_bad_ring_config);
    qtest_add_func("/dmalab/error/doorbell", test_bad_doorbell);
    qtest_add_func("/dmalab/error/busy", test_bad_busy);
    qtest_add_func("/dmalab/error/self-dma", test_bad_self_dma);
    qtest_add_func("/dmalab/error/addr-width", test_bad_addr_width);
    qtest_add_func("/dmalab/error/bus-master", test_bad_bus_master);
    qtest_add_func("/dmalab/copy-thread/lookahead",
                   test_copy_thread_lookahead);
    qtest_add_func("/dmalab/copy-thread/wait-for-room",
                   test_copy_thread_wait);
    qtest_add_data_func("/dmalab/copy-thread/queue-disable",
                        GINT_TO_POINTER(COPY_STOP_QUEUE_DISABLE),
                        test_copy_thread_stop);
    qtest_add_data_func("/dmalab/copy-thread/device-reset",
                        GINT_TO_POINTER(COPY_STOP_DEVICE_RESET),
                        test_copy_thread_stop);
    qtest_add_data_func("/dmalab/copy-thread/bus-master-off",
                        GINT_TO_POINTER(COPY_STOP_BUS_MASTER),
                        test_copy_thread_stop);
    qtest_add_data_func("/dmalab/copy-thread/flr",
                        GINT_TO_POINTER(COPY_STOP_FLR),
                        test_copy_thread_stop);
    qtest_add_data_func("/dmalab/copy-thread/vm-stop",
                        GINT_TO_POINTER(COPY_STOP_VM),
                        test_copy_thread_stop);
    qtest_add_data_func("/dmalab/edge/limit-2^64", GUINT_TO_POINTER(64),
                        test_edge_limit);
    qtest_add_data_func("/dmalab/edge/limit-dma-bits-27",
                        GUINT_TO_POINTER(27), test_edge_limit);
    qtest_add_data_func("/dmalab/edge/limit-dma-bits-40",
                        GUINT_TO_POINTER(40), test_edge_limit);
    qtest_add_func("/dmalab/edge/self-dma-2^64", test_edge_self_dma_top);
    qtest_add_data_func("/dmalab/reset/flr-from-own-msix",
                        GINT_TO_POINTER(0), test_reset_from_own_msix);
    qtest_add_data_func("/dmalab/reset/d3hot-from-own-msix",
                        GINT_TO_POINTER(1), test_reset_from_own_msix);
    qtest_add_func("/dmalab/throttle/bandwidth", test_throttle);
    qtest_add_func("/dmalab/pio/doorbell", test_pio_doorbell);
    qtest_add_data_func("/dmalab/shadow/doorbell/ioeventfd", "on",
                        test_shadow_doorbell);
    qtest_add_data_func("/dmalab/shadow/doorbell/mmio", "off",
                        test_shadow_doorbell);
    qtest_add_func("/dmalab/shadow/bad", test_shadow_bad);
    qtest_add_func("/dmalab/trace/events", test_trace_events);
    qtest_add_func("/dmalab/machine/pc", test_machine_pc);
    qtest_add_func("/dmalab/props/max-queues", test_props_max_queues);
    qtest_add_func("/dmalab/props/invalid", test_props_invalid);
    qtest_add_func("/dmalab/migration", test_migration);
    return g_test_run();
}
