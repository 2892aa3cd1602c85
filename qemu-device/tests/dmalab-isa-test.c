/*
 * QTest cases for dmalab-isa, the ISA device served by the 8237
 *
 * No guest kernel: each test programs the PC's 8237 DMA controller by hand
 * (mask, flip-flop, mode, address, page, count, unmask), then the device's
 * own ports, and checks every byte that moved, in guest memory and, read
 * back through the controller, in the device's memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "dmalab-qtest-compat.h"
#include "hw/misc/dmalab_hw.h"

#define IOBASE              0x300
#define ISA_IRQ             5
#define TIMEOUT_US          (5 * 1000 * 1000)
#define SRC_ADDR            0x100000
#define DST_ADDR            0x200000

/* 8237 mode register: transfer type, auto-init and mode bits. */
#define MODE_VERIFY         0x00
#define MODE_TO_MEMORY      0x04 /* the device writes memory ("write") */
#define MODE_FROM_MEMORY    0x08 /* the device reads memory ("read") */
#define MODE_AUTOINIT       0x10
#define MODE_DEMAND         0x00
#define MODE_SINGLE         0x40
#define MODE_BLOCK          0x80

/* Page register of each channel (4 cascades: none). */
static const uint16_t page_port[8] = {
    0x87, 0x83, 0x81, 0x82, 0, 0x8b, 0x89, 0x8a
};

typedef struct Isa {
    QTestState *qts;
    unsigned chan;
} Isa;

static bool wide(Isa *t)
{
    return t->chan > 3;
}

/* A register of the controller serving the channel: 0x08-0x0f style. */
static uint16_t cont_port(Isa *t, unsigned reg)
{
    return wide(t) ? 0xc0 + (reg << 1) : reg;
}

static void cont_out(Isa *t, unsigned reg, uint8_t val)
{
    qtest_outb(t->qts, cont_port(t, reg), val);
}

static uint8_t dev_in(Isa *t, unsigned reg)
{
    return qtest_inb(t->qts, IOBASE + reg);
}

static void dev_out(Isa *t, unsigned reg, uint8_t val)
{
    qtest_outb(t->qts, IOBASE + reg, val);
}

static Isa isa_start(const char *machine, unsigned chan, const char *extra)
{
    Isa t = { .chan = chan };

    t.qts = qtest_initf("-machine %s -nodefaults -device dmalab-isa,dma=%u%s",
                        machine, chan, extra ? extra : "");
    qtest_irq_intercept_in(t.qts, "ioapic");
    return t;
}

/*
 * Program channel t->chan for @len bytes at guest address @addr in @mode,
 * the steps of the kernel's set_dma_mode/addr/count, and leave it masked.
 */
static void dma_program(Isa *t, uint8_t mode, uint32_t addr, uint32_t len)
{
    unsigned c = t->chan & 3;
    uint32_t a = wide(t) ? addr >> 1 : addr;
    uint32_t count = (wide(t) ? len >> 1 : len) - 1;
    uint16_t addr_port = wide(t) ? 0xc0 + 4 * c : 2 * c;
    uint16_t count_port = addr_port + (wide(t) ? 2 : 1);

    cont_out(t, 0xa, 0x04 | c);                 /* mask */
    cont_out(t, 0xc, 0);                        /* clear the flip-flop */
    cont_out(t, 0xb, mode | c);
    qtest_outb(t->qts, addr_port, a & 0xff);
    qtest_outb(t->qts, addr_port, (a >> 8) & 0xff);
    qtest_outb(t->qts, page_port[t->chan],
               (addr >> 16) & (wide(t) ? 0xfe : 0xff));
    qtest_outb(t->qts, count_port, count & 0xff);
    qtest_outb(t->qts, count_port, (count >> 8) & 0xff);
}

static void dma_unmask(Isa *t)
{
    cont_out(t, 0xa, t->chan & 3);
}

static void dev_setup(Isa *t, uint16_t offset, uint32_t len)
{
    dev_out(t, DMALAB_ISA_REG_OFFSET, offset & 0xff);
    dev_out(t, DMALAB_ISA_REG_OFFSET + 1, offset >> 8);
    dev_out(t, DMALAB_ISA_REG_LEN, (len - 1) & 0xff);
    dev_out(t, DMALAB_ISA_REG_LEN + 1, (len - 1) >> 8);
}

/* Wait for DONE; the controller runs in a bottom half of the main loop. */
static uint8_t wait_done(Isa *t)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint8_t st;

    while (!((st = dev_in(t, DMALAB_ISA_REG_STATUS)) &
             DMALAB_ISA_STAT_DONE)) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(100);
    }
    g_assert_false(st & DMALAB_ISA_STAT_BUSY);
    return st;
}

static void ack(Isa *t)
{
    dev_out(t, DMALAB_ISA_REG_STATUS,
            DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED);
    g_assert_false(qtest_get_irq(t->qts, ISA_IRQ));
}

/* One whole transfer; returns STATUS at its end, acknowledged. */
static uint8_t xfer(Isa *t, bool to_host, uint8_t mode, uint32_t addr,
                    uint16_t offset, uint32_t len, uint32_t count)
{
    uint8_t st;

    dma_program(t, mode | (to_host ? MODE_TO_MEMORY : MODE_FROM_MEMORY),
                addr, count);
    dev_setup(t, offset, len);
    dev_out(t, DMALAB_ISA_REG_CTRL, DMALAB_ISA_CTRL_START |
            DMALAB_ISA_CTRL_IRQ_EN | (to_host ? DMALAB_ISA_CTRL_TO_HOST : 0));
    dma_unmask(t);
    st = wait_done(t);
    g_assert_true(qtest_get_irq(t->qts, ISA_IRQ));
    ack(t);
    return st;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
    }
}

/* Guest memory -> device -> other guest memory, compared byte by byte. */
static void roundtrip(Isa *t, uint8_t mode, uint16_t offset, uint32_t len)
{
    g_autofree uint8_t *data = g_malloc(len);
    g_autofree uint8_t *back = g_malloc(len + 16);

    fill_pattern(data, len, offset + len);
    qtest_memwrite(t->qts, SRC_ADDR, data, len);
    qtest_memset(t->qts, DST_ADDR, 0x5a, len + 16);
    g_assert_cmphex(xfer(t, false, mode, SRC_ADDR, offset, len, len), ==,
                    DMALAB_ISA_STAT_DONE);
    g_assert_cmphex(xfer(t, true, mode, DST_ADDR, offset, len, len), ==,
                    DMALAB_ISA_STAT_DONE);
    qtest_memread(t->qts, DST_ADDR, back, len + 16);
    g_assert(memcmp(back, data, len) == 0);
    for (unsigned i = 0; i < 16; i++) {
        g_assert_cmphex(back[len + i], ==, 0x5a);    /* nothing beyond */
    }
}

static void test_identity(void)
{
    Isa t = isa_start("pc", 3, ",iobase=0x300,irq=7");

    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_ID), ==, DMALAB_ISA_ID_MAGIC);
    g_assert_cmpuint(DMALAB_ISA_CONFIG_DMA(dev_in(&t, DMALAB_ISA_REG_CONFIG)),
                     ==, 3);
    g_assert_cmpuint(DMALAB_ISA_CONFIG_IRQ(dev_in(&t, DMALAB_ISA_REG_CONFIG)),
                     ==, 7);
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_STATUS), ==, 0);
    dev_setup(&t, 0x1234, 0x100);
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_OFFSET + 1), ==, 0x12);
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_LEN), ==, 0xff);
    qtest_quit(t.qts);
}

static void test_single(void)
{
    Isa t = isa_start("pc", 1, NULL);

    roundtrip(&t, MODE_SINGLE, 0, 4096);
    roundtrip(&t, MODE_SINGLE, 0x8001, 333);
    roundtrip(&t, MODE_SINGLE, 0, DMALAB_ISA_MEM_SIZE);
    qtest_quit(t.qts);
}

static void test_block(void)
{
    Isa t = isa_start("pc", 1, NULL);

    roundtrip(&t, MODE_BLOCK, 0x100, 5000);
    roundtrip(&t, MODE_DEMAND, 0x2000, 77);
    qtest_quit(t.qts);
}

/*
 * Auto-init: the channel's block is 256 bytes and the device moves 1 KiB,
 * so the controller starts the block again three times.  Memory to device:
 * the block lands four times; device to memory: the block ends holding the
 * last quarter.
 */
static void test_autoinit(void)
{
    Isa t = isa_start("pc", 1, NULL);
    uint8_t ring[256], dev[1024], back[1024];
    uint8_t st;

    fill_pattern(ring, sizeof(ring), 3);
    qtest_memwrite(t.qts, SRC_ADDR, ring, sizeof(ring));
    st = xfer(&t, false, MODE_SINGLE | MODE_AUTOINIT, SRC_ADDR, 0,
              sizeof(dev), sizeof(ring));
    g_assert_cmphex(st, ==, DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED);
    st = xfer(&t, true, MODE_SINGLE, DST_ADDR, 0, sizeof(back), sizeof(back));
    g_assert_cmphex(st, ==, DMALAB_ISA_STAT_DONE);
    qtest_memread(t.qts, DST_ADDR, back, sizeof(back));
    for (unsigned i = 0; i < 4; i++) {
        g_assert(memcmp(back + i * 256, ring, 256) == 0);
    }

    fill_pattern(dev, sizeof(dev), 11);
    qtest_memwrite(t.qts, SRC_ADDR, dev, sizeof(dev));
    g_assert_cmphex(xfer(&t, false, MODE_BLOCK, SRC_ADDR, 0, sizeof(dev),
                         sizeof(dev)), ==, DMALAB_ISA_STAT_DONE);
    st = xfer(&t, true, MODE_BLOCK | MODE_AUTOINIT, DST_ADDR, 0, sizeof(dev),
              sizeof(ring));
    g_assert_cmphex(st, ==, DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED);
    qtest_memread(t.qts, DST_ADDR, back, sizeof(ring));
    g_assert(memcmp(back, dev + 768, sizeof(ring)) == 0);
    qtest_quit(t.qts);
}

/*
 * The channel's count ends before the device's length, without auto-init:
 * the bytes the count allowed moved, then the device reports ERR_COUNT,
 * and the controller's status register shows terminal count.
 */
static void test_count_short(void)
{
    Isa t = isa_start("pc", 1, NULL);
    uint8_t data[200], back[200];
    uint8_t st;

    fill_pattern(data, sizeof(data), 5);
    qtest_memset(t.qts, DST_ADDR, 0x5a, sizeof(back));
    qtest_memwrite(t.qts, SRC_ADDR, data, sizeof(data));
    g_assert_cmphex(xfer(&t, false, MODE_SINGLE, SRC_ADDR, 0, 200, 200), ==,
                    DMALAB_ISA_STAT_DONE);
    st = xfer(&t, true, MODE_SINGLE, DST_ADDR, 0, 200, 100);
    g_assert_cmpuint(DMALAB_ISA_STAT_ERR(st), ==, DMALAB_ISA_ERR_COUNT);
    g_assert_cmphex(qtest_inb(t.qts, 0x08) & 0x02, ==, 0x02); /* TC, ch 1 */
    qtest_memread(t.qts, DST_ADDR, back, sizeof(back));
    g_assert(memcmp(back, data, 100) == 0);
    for (unsigned i = 100; i < sizeof(back); i++) {
        g_assert_cmphex(back[i], ==, 0x5a);
    }
    qtest_quit(t.qts);
}

/* What ISA cannot do: each refused with its code and the interrupt. */
static void test_refused(void)
{
    Isa t = isa_start("pc", 1, NULL);
    Isa w = isa_start("pc", 5, NULL);
    uint8_t st;

    st = xfer(&t, true, MODE_SINGLE, DST_ADDR, 0xff00, 0x200, 0x200);
    g_assert_cmpuint(DMALAB_ISA_STAT_ERR(st), ==, DMALAB_ISA_ERR_RANGE);
    g_assert_cmpuint(DMALAB_ISA_STAT_ERR(dev_in(&t, DMALAB_ISA_REG_STATUS)),
                     ==, 0);                        /* cleared by the ack */
    st = xfer(&w, true, MODE_SINGLE, DST_ADDR, 0, 0x101, 0x102);
    g_assert_cmpuint(DMALAB_ISA_STAT_ERR(st), ==, DMALAB_ISA_ERR_ALIGN);
    st = xfer(&w, true, MODE_SINGLE, DST_ADDR, 1, 0x100, 0x100);
    g_assert_cmpuint(DMALAB_ISA_STAT_ERR(st), ==, DMALAB_ISA_ERR_ALIGN);
    qtest_quit(t.qts);
    qtest_quit(w.qts);
}

/* A 16-bit channel (5) moves words: the address and count are halved. */
static void test_wide(void)
{
    Isa t = isa_start("pc", 5, NULL);

    roundtrip(&t, MODE_SINGLE, 0, 4096);
    roundtrip(&t, MODE_BLOCK, 0x4002, 1000);
    qtest_quit(t.qts);
}

/*
 * A masked channel never serves the device: it stays busy, its other
 * ports are locked, and ABORT ends it; a system reset ends one too.
 */
static void test_abort_and_reset(void)
{
    Isa t = isa_start("pc", 1, NULL);
    uint8_t st;

    dma_program(&t, MODE_SINGLE | MODE_TO_MEMORY, DST_ADDR, 64);
    dev_setup(&t, 0, 64);
    dev_out(&t, DMALAB_ISA_REG_CTRL, DMALAB_ISA_CTRL_START |
            DMALAB_ISA_CTRL_TO_HOST | DMALAB_ISA_CTRL_IRQ_EN);
    g_usleep(20 * 1000);
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_STATUS), ==,
                    DMALAB_ISA_STAT_BUSY);
    dev_out(&t, DMALAB_ISA_REG_LEN, 0);             /* ignored: busy */
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_LEN), ==, 63);
    dev_out(&t, DMALAB_ISA_REG_CTRL, DMALAB_ISA_CTRL_ABORT);
    st = dev_in(&t, DMALAB_ISA_REG_STATUS);
    g_assert_cmpuint(DMALAB_ISA_STAT_ERR(st), ==, DMALAB_ISA_ERR_ABORTED);
    g_assert_true(qtest_get_irq(t.qts, ISA_IRQ));
    ack(&t);

    dev_out(&t, DMALAB_ISA_REG_CTRL, DMALAB_ISA_CTRL_START |
            DMALAB_ISA_CTRL_TO_HOST);
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_STATUS), ==,
                    DMALAB_ISA_STAT_BUSY);
    qtest_qmp_assert_success(t.qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(t.qts, "RESET");
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_STATUS), ==, 0);
    g_assert_cmphex(dev_in(&t, DMALAB_ISA_REG_CTRL), ==, 0);
    /* and the channel works again after the reset */
    roundtrip(&t, MODE_SINGLE, 0, 512);
    qtest_quit(t.qts);
}

/* q35's ICH9 LPC bridge has the 8237 too. */
static void test_q35(void)
{
    Isa t = isa_start("q35", 3, NULL);

    roundtrip(&t, MODE_SINGLE, 0x10, 8192);
    qtest_quit(t.qts);
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

/*
 * A transfer in flight migrates: the device's memory, its registers and
 * the controller's held DREQ.  The channel is unmasked on the destination,
 * which finishes the transfer.
 */
static void test_migrate_in_flight(void)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/dmalab-isa-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    g_autofree char *incoming = g_strdup_printf(" -incoming %s", uri);
    Isa src = isa_start("pc", 1, NULL);
    Isa dst;
    uint8_t data[3000], back[3000];

    fill_pattern(data, sizeof(data), 9);
    qtest_memwrite(src.qts, SRC_ADDR, data, sizeof(data));
    g_assert_cmphex(xfer(&src, false, MODE_SINGLE, SRC_ADDR, 0x300,
                         sizeof(data), sizeof(data)), ==,
                    DMALAB_ISA_STAT_DONE);
    dma_program(&src, MODE_SINGLE | MODE_TO_MEMORY, DST_ADDR, sizeof(back));
    dev_setup(&src, 0x300, sizeof(back));
    dev_out(&src, DMALAB_ISA_REG_CTRL, DMALAB_ISA_CTRL_START |
            DMALAB_ISA_CTRL_TO_HOST | DMALAB_ISA_CTRL_IRQ_EN);

    dst = isa_start("pc", 1, incoming);
    qtest_qmp_assert_success(src.qts, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    wait_migration_completed(src.qts);
    qtest_qmp_eventwait(dst.qts, "RESUME");
    qtest_quit(src.qts);

    g_assert_cmphex(dev_in(&dst, DMALAB_ISA_REG_STATUS), ==,
                    DMALAB_ISA_STAT_BUSY);
    dma_unmask(&dst);
    g_assert_cmphex(wait_done(&dst), ==, DMALAB_ISA_STAT_DONE);
    g_assert_true(qtest_get_irq(dst.qts, ISA_IRQ));
    qtest_memread(dst.qts, DST_ADDR, back, sizeof(back));
    g_assert(memcmp(back, data, sizeof(back)) == 0);
    qtest_quit(dst.qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/dmalab-isa/identity", test_identity);
    qtest_add_func("/dmalab-isa/single", test_single);
    qtest_add_func("/dmalab-isa/block-and-demand", test_block);
    qtest_add_func("/dmalab-isa/autoinit", test_autoinit);
    qtest_add_func("/dmalab-isa/count-short", test_count_short);
    qtest_add_func("/dmalab-isa/refused", test_refused);
    qtest_add_func("/dmalab-isa/wide", test_wide);
    qtest_add_func("/dmalab-isa/abort-and-reset", test_abort_and_reset);
    qtest_add_func("/dmalab-isa/q35", test_q35);
    qtest_add_func("/dmalab-isa/migrate-in-flight", test_migrate_in_flight);
    return g_test_run();
}
