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
#include "qemu/bswap.h"
#include "qemu/crc32c.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "hw/pci/pci_regs.h"
#include "hw/misc/dmalab_hw.h"

QEMU_BUILD_BUG_ON(sizeof(struct dmalab_desc) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_cpl) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_sg_entry) != 16);

#define DMALAB_DEVFN        QPCI_DEVFN(4, 0)
#define GUARD_BYTE          0xa5
#define GUARD_LEN           64
#define TIMEOUT_US          (5 * 1000 * 1000)

typedef struct Dmalab {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar regs;
    QPCIBar devmem;
    QPCIBar pio;
    QGuestAllocator alloc;
    uint64_t ring;
    uint64_t cpl;
    uint32_t ring_size;
    uint32_t tail;
    bool phase;
} Dmalab;

static uint32_t rd(Dmalab *d, uint32_t reg)
{
    return qpci_io_readl(d->dev, d->regs, reg);
}

static void wr(Dmalab *d, uint32_t reg, uint32_t val)
{
    qpci_io_writel(d->dev, d->regs, reg, val);
}

static void dmalab_start(Dmalab *d, const char *extra)
{
    d->qts = qtest_initf("-machine q35 -nodefaults "
                         "-device dmalab,addr=04.0%s%s",
                         extra ? "," : "", extra ? extra : "");
    pc_alloc_init(&d->alloc, d->qts, ALLOC_NO_FLAGS);
    d->bus = qpci_new_pc(d->qts, &d->alloc);
    d->dev = qpci_device_find(d->bus, DMALAB_DEVFN);
    g_assert(d->dev);
    qpci_device_enable(d->dev);
    d->regs = qpci_iomap(d->dev, DMALAB_BAR_REGS, NULL);
    d->devmem = qpci_iomap(d->dev, DMALAB_BAR_DEVMEM, NULL);
    d->pio = qpci_iomap(d->dev, DMALAB_BAR_PIO, NULL);
}

static void dmalab_stop(Dmalab *d)
{
    g_free(d->dev);
    qpci_free_pc(d->bus);
    alloc_destroy(&d->alloc);
    qtest_quit(d->qts);
}

/* Enable the device and queue 0 with a ring of @size entries. */
static void dmalab_setup_queue(Dmalab *d, uint32_t size)
{
    wr(d, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    g_assert_cmphex(rd(d, DMALAB_REG_STATUS) & DMALAB_STATUS_READY, ==,
                    DMALAB_STATUS_READY);
    d->ring_size = size;
    d->ring = guest_alloc(&d->alloc, size * sizeof(struct dmalab_desc));
    d->cpl = guest_alloc(&d->alloc, size * sizeof(struct dmalab_cpl));
    qtest_memset(d->qts, d->cpl, 0, size * sizeof(struct dmalab_cpl));
    wr(d, DMALAB_QREG(0, DMALAB_Q_RING_LO), d->ring);
    wr(d, DMALAB_QREG(0, DMALAB_Q_RING_HI), d->ring >> 32);
    wr(d, DMALAB_QREG(0, DMALAB_Q_CPL_LO), d->cpl);
    wr(d, DMALAB_QREG(0, DMALAB_Q_CPL_HI), d->cpl >> 32);
    wr(d, DMALAB_QREG(0, DMALAB_Q_RING_SIZE), size);
    wr(d, DMALAB_QREG(0, DMALAB_Q_CTRL), DMALAB_QCTRL_ENABLE);
    g_assert_cmphex(rd(d, DMALAB_QREG(0, DMALAB_Q_STATUS)) &
                    DMALAB_QSTS_ENABLED, ==, DMALAB_QSTS_ENABLED);
    d->tail = 0;
    d->phase = true;
}

/* Place one descriptor, ring the doorbell and wait for its completion. */
static struct dmalab_cpl dmalab_run(Dmalab *d, uint8_t op, uint8_t flags,
                                    uint32_t len, uint64_t src, uint64_t dst)
{
    struct dmalab_desc desc = {
        .opcode = op,
        .flags = flags,
        .len = cpu_to_le32(len),
        .src = cpu_to_le64(src),
        .dst = cpu_to_le64(dst),
        .cookie = cpu_to_le64(0xc00c1e00 + d->tail),
    };
    struct dmalab_cpl cpl;
    uint32_t slot = d->tail;
    uint64_t cpl_addr = d->cpl + slot * sizeof(cpl);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    qtest_memwrite(d->qts, d->ring + slot * sizeof(desc), &desc, sizeof(desc));
    d->tail = (d->tail + 1) & (d->ring_size - 1);
    wr(d, DMALAB_QREG(0, DMALAB_Q_TAIL), d->tail);

    for (;;) {
        qtest_memread(d->qts, cpl_addr, &cpl, sizeof(cpl));
        if (!!(le16_to_cpu(cpl.flags) & DMALAB_CPL_PHASE) == d->phase) {
            break;
        }
        g_assert(g_get_monotonic_time() < deadline);
        qtest_clock_step(d->qts, 1000);
    }
    if (d->tail == 0) {
        d->phase = !d->phase;
    }
    g_assert_cmpuint(le64_to_cpu(cpl.cookie), ==, 0xc00c1e00 + slot);
    g_assert_cmpuint(le16_to_cpu(cpl.index), ==, slot);
    return cpl;
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

static uint8_t *random_bytes(size_t len)
{
    uint8_t *buf = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        buf[i] = g_test_rand_int();
    }
    return buf;
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
    g_assert_cmphex(qpci_config_readw(d.dev, PCI_SUBSYSTEM_ID), ==,
                    DMALAB_PCI_SUBSYS_ID);
    g_assert_cmphex(rd(&d, DMALAB_REG_ID), ==, DMALAB_ID_MAGIC);
    g_assert_cmphex(rd(&d, DMALAB_REG_VERSION), ==, DMALAB_VERSION);
    cap = rd(&d, DMALAB_REG_CAP);
    g_assert_cmpuint(DMALAB_CAP_NUM_QUEUES(cap), ==, 6);
    g_assert_cmpuint(DMALAB_CAP_DMA_BITS(cap), ==, 40);
    g_assert_cmpuint(DMALAB_CAP_RING_ORDER_MAX(cap), ==,
                     DMALAB_RING_ORDER_MAX);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_LO), ==, 2 * 1024 * 1024);
    g_assert_cmphex(rd(&d, DMALAB_REG_DEVMEM_SIZE_HI), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_STATUS), ==, 0);
    /* The port I/O mirror shows the same identity. */
    g_assert_cmphex(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_ID), ==,
                    DMALAB_ID_MAGIC);
    g_assert_cmphex(qpci_io_readl(d.dev, d.pio, DMALAB_PIO_VERSION), ==,
                    DMALAB_VERSION);
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

/* An unknown opcode completes with a status and raises the error cause. */
static void test_bad_opcode(void)
{
    Dmalab d;
    struct dmalab_cpl cpl;

    dmalab_start(&d, NULL);
    dmalab_setup_queue(&d, 4);
    cpl = dmalab_run(&d, 0x7f, 0, 16, 0, 0);
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_BAD_OPCODE);
    g_assert_cmpuint(le32_to_cpu(cpl.bytes), ==, 0);
    g_assert_cmphex(rd(&d, DMALAB_REG_ERR_CODE), ==, DMALAB_STS_BAD_OPCODE);
    g_assert_cmpuint(rd(&d, DMALAB_REG_ERR_COUNT), ==, 1);
    g_assert_cmphex(rd(&d, DMALAB_REG_INTR_CAUSE) & DMALAB_INTR_ERROR, ==,
                    DMALAB_INTR_ERROR);
    /* The queue goes on working after the error. */
    cpl = dmalab_run(&d, DMALAB_OP_FILL, 0, 8, 0,
                     guest_alloc(&d.alloc, 8));
    g_assert_cmphex(le16_to_cpu(cpl.status), ==, DMALAB_STS_OK);
    dmalab_stop(&d);
}

/* A completion with DMALAB_DESC_IRQ signals queue 0's MSI-X vector. */
static void test_msix_queue_vector(void)
{
    Dmalab d;
    uint64_t buf;

    dmalab_start(&d, "queues=2");
    qpci_msix_enable(d.dev);
    g_assert_cmpuint(qpci_msix_table_size(d.dev), ==, 3);
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/dmalab/id-registers", test_id_registers);
    qtest_add_func("/dmalab/roundtrip/1", test_roundtrip_1);
    qtest_add_func("/dmalab/roundtrip/4097", test_roundtrip_4097);
    qtest_add_func("/dmalab/roundtrip/1M+1", test_roundtrip_1m1);
    qtest_add_func("/dmalab/error/bad-opcode", test_bad_opcode);
    qtest_add_func("/dmalab/msix/queue-vector", test_msix_queue_vector);
    return g_test_run();
}
