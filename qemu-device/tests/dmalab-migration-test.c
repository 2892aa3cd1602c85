/*
 * QTest: migrating a dmalab device with work in flight
 *
 * The source machine's queue 0 is stalled (a test-only fault) with
 * descriptors already rung, so the work is pending when the machine
 * migrates.  On the destination the stall is lifted: the engine must find
 * the ring, the doorbell and device memory as they were, finish the work
 * and write completions that the test checks byte for byte.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "qapi/qmp/qdict.h"
#include "hw/misc/dmalab_hw.h"

QEMU_BUILD_BUG_ON(sizeof(struct dmalab_desc) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_cpl) != 32);

#define DMALAB_DEVFN        QPCI_DEVFN(4, 0)
#define RING_SIZE           8
#define XFER_LEN            (64 * 1024 + 5)
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

static void test_migrate_in_flight(void)
{
    const char *args = "-machine q35 -nodefaults "
                       "-device dmalab,addr=04.0,stall-queues=1";
    g_autofree char *uri = g_strdup_printf("unix:%s/dmalab-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    g_autofree uint8_t *data = g_malloc(XFER_LEN);
    g_autofree uint8_t *back = g_malloc(XFER_LEN);
    QGuestAllocator alloc;
    Side src, dst;
    QPCIBar regs;
    uint64_t ring, cpl, hsrc, hdst;
    gint64 deadline;

    for (size_t i = 0; i < XFER_LEN; i++) {
        data[i] = g_test_rand_int();
    }

    src.qts = qtest_initf("%s", args);
    pc_alloc_init(&alloc, src.qts, ALLOC_NO_FLAGS);
    side_attach(&src, &alloc);
    qpci_device_enable(src.dev);
    regs = qpci_iomap(src.dev, DMALAB_BAR_REGS, NULL);

    ring = guest_alloc(&alloc, RING_SIZE * sizeof(struct dmalab_desc));
    cpl = guest_alloc(&alloc, RING_SIZE * sizeof(struct dmalab_cpl));
    hsrc = guest_alloc(&alloc, XFER_LEN);
    hdst = guest_alloc(&alloc, XFER_LEN);
    qtest_memset(src.qts, cpl, 0, RING_SIZE * sizeof(struct dmalab_cpl));
    qtest_memset(src.qts, hdst, 0, XFER_LEN);
    qtest_memwrite(src.qts, hsrc, data, XFER_LEN);

    qpci_io_writel(src.dev, regs, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_RING_LO), ring);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_RING_HI), ring >> 32);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_CPL_LO), cpl);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_CPL_HI), cpl >> 32);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_RING_SIZE),
                   RING_SIZE);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_CTRL),
                   DMALAB_QCTRL_ENABLE);

    /* Host -> device memory, then device memory -> another host buffer. */
    put_desc(src.qts, ring, 0, DMALAB_OP_H2D, hsrc, DEVMEM_OFF);
    put_desc(src.qts, ring, 1, DMALAB_OP_D2H, DEVMEM_OFF, hdst);
    qpci_io_writel(src.dev, regs, DMALAB_QREG(0, DMALAB_Q_TAIL), 2);
    qtest_clock_step(src.qts, 1000 * 1000);
    g_assert_cmpuint(qpci_io_readl(src.dev, regs,
                                   DMALAB_QREG(0, DMALAB_Q_HEAD)), ==, 0);
    g_assert_cmphex(qpci_io_readl(src.dev, regs,
                                  DMALAB_QREG(0, DMALAB_Q_STATUS)) &
                    DMALAB_QSTS_BUSY, ==, DMALAB_QSTS_BUSY);

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
                    (uint32_t)ring);
    qpci_io_writel(dst.dev, regs, DMALAB_REG_DBG_STALL, 0);

    deadline = g_get_monotonic_time() + TIMEOUT_US;
    while (qpci_io_readl(dst.dev, regs, DMALAB_QREG(0, DMALAB_Q_HEAD)) != 2) {
        g_assert(g_get_monotonic_time() < deadline);
        qtest_clock_step(dst.qts, 1000);
    }
    check_cpl(dst.qts, cpl, 0);
    check_cpl(dst.qts, cpl, 1);
    qtest_memread(dst.qts, hdst, back, XFER_LEN);
    g_assert(memcmp(back, data, XFER_LEN) == 0);

    side_free(&dst);
    g_free(src.dev);
    qpci_free_pc(src.bus);
    alloc_destroy(&alloc);
    qtest_quit(src.qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/dmalab/migration/in-flight", test_migrate_in_flight);
    return g_test_run();
}
