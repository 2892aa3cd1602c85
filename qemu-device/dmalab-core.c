/*
 * dmalab engine: registers, descriptor rings, DMA and interrupts
 *
 * Everything here acts on guest input, so every value read from a register
 * or from guest memory is checked before use, every guest-controlled loop
 * is bounded, and a guest mistake becomes a status code, an error interrupt
 * and a LOG_GUEST_ERROR line, never an assert.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qemu/crc32c.h"
#include "qemu/bswap.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "dmalab.h"
#include "trace.h"

/* One place that states how the engine touches guest memory. */
static const MemTxAttrs dmalab_dma_attrs = {
    .memory = 1, /* plain memory only: never another device's registers */
};

/*
 * A function that is removed (the debug DEAD register) or asleep (D3hot)
 * answers no register access, moves no data and signals nothing.
 */
static bool dmalab_offline(DmalabState *s)
{
    return s->dbg_dead || s->d3hot;
}

/*
 * Delivering an interrupt can change the function under the engine's
 * feet: an MSI-X message may be aimed, through MMCONFIG, at the device's
 * own configuration space and start an FLR or enter D3hot.  QEMU's
 * re-entrancy guard covers only the device's memory regions, so the
 * engine takes the epoch before it signals and stops when it has moved.
 */
static bool dmalab_epoch_moved(DmalabState *s, uint32_t epoch)
{
    return s->epoch != epoch;
}

/* Does the engine take descriptors now? */
static bool dmalab_engine_runs(DmalabState *s)
{
    return (s->ctrl & DMALAB_CTRL_ENABLE) &&
           !(s->status & DMALAB_STATUS_RESETTING) && !dmalab_offline(s);
}

/* ---- Interrupts ------------------------------------------------------ */

static void dmalab_update_intx(DmalabState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (msix_enabled(pdev) || msi_enabled(pdev) || dmalab_offline(s)) {
        pci_set_irq(pdev, 0);
        return;
    }
    pci_set_irq(pdev, !!(s->intr_cause & ~s->intr_mask));
}

/* Deliver one cause now: its own MSI-X vector, the MSI vector, or INTx. */
static void dmalab_deliver(DmalabState *s, uint32_t cause, unsigned vector)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (dmalab_offline(s)) {
        return; /* a removed or sleeping device signals nothing */
    }
    s->stat_irqs++;
    if (msix_enabled(pdev)) {
        trace_dmalab_irq_msix(vector);
        msix_notify(pdev, vector);
    } else if (msi_enabled(pdev)) {
        trace_dmalab_irq_msi(cause);
        msi_notify(pdev, 0);
    } else {
        trace_dmalab_irq_intx(cause);
        dmalab_update_intx(s);
    }
}

static unsigned dmalab_cause_vector(DmalabState *s, uint32_t cause)
{
    if (cause == DMALAB_INTR_ERROR) {
        return DMALAB_MSIX_ERR_VECTOR(s->num_queues);
    }
    return ctz32(cause);
}

/* Fault injection: an interrupt that was held back arrives now. */
static void dmalab_irq_delay_timer(void *opaque)
{
    DmalabState *s = opaque;
    uint32_t causes = s->dbg_delayed_causes;

    uint32_t epoch = s->epoch;

    s->dbg_delayed_causes = 0;
    while (causes && !dmalab_epoch_moved(s, epoch)) {
        uint32_t cause = causes & -causes;

        causes &= ~cause;
        dmalab_deliver(s, cause, dmalab_cause_vector(s, cause));
    }
}

/*
 * Signal one cause unless it is masked, applying any armed interrupt fault:
 * dropped, delayed or duplicated.
 */
static void dmalab_notify(DmalabState *s, uint32_t cause, unsigned vector)
{
    uint32_t mode = s->dbg_irq_mode;

    if (s->intr_mask & cause) {
        trace_dmalab_irq_masked(cause);
        return;
    }
    if (mode != DMALAB_DBG_IRQ_NORMAL) {
        trace_dmalab_irq_fault(cause, mode);
        if (s->dbg_irq_count && --s->dbg_irq_count == 0) {
            s->dbg_irq_mode = DMALAB_DBG_IRQ_NORMAL;
        }
    }
    switch (mode) {
    case DMALAB_DBG_IRQ_DROP:
        return;
    case DMALAB_DBG_IRQ_DELAY:
        s->dbg_delayed_causes |= cause;
        if (!timer_pending(s->irq_delay_timer)) {
            timer_mod(s->irq_delay_timer,
                      qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                      (int64_t)s->dbg_irq_delay_us * SCALE_US);
        }
        return;
    case DMALAB_DBG_IRQ_DUP: {
        uint32_t epoch = s->epoch;

        dmalab_deliver(s, cause, vector);
        if (dmalab_epoch_moved(s, epoch)) {
            return;
        }
        break;
    }
    default:
        break;
    }
    dmalab_deliver(s, cause, vector);
}

static void dmalab_raise(DmalabState *s, uint32_t cause, unsigned vector)
{
    s->intr_cause |= cause;
    dmalab_notify(s, cause, vector);
}

static void dmalab_queue_irq(DmalabQueue *q)
{
    q->coal_pending = 0;
    timer_del(q->coal_timer);
    dmalab_raise(q->dev, DMALAB_INTR_QUEUE(q->index), q->index);
}

static void dmalab_coal_timer(void *opaque)
{
    DmalabQueue *q = opaque;

    if (q->coal_pending) {
        dmalab_queue_irq(q);
    }
}

/* A completion asked for an interrupt: honour the coalescing thresholds. */
static void dmalab_queue_irq_request(DmalabQueue *q)
{
    q->coal_pending++;
    /* A threshold of 0 is off; with both off, interrupt at once. */
    if ((q->coal_count == 0 && q->coal_usec == 0) ||
        (q->coal_count && q->coal_pending >= q->coal_count)) {
        dmalab_queue_irq(q);
        return;
    }
    if (q->coal_usec && !timer_pending(q->coal_timer)) {
        timer_mod(q->coal_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                  (int64_t)q->coal_usec * SCALE_US);
    }
}

/* ---- Errors ---------------------------------------------------------- */

static const char *dmalab_status_name(uint32_t status)
{
    static const char *const names[] = {
        [DMALAB_STS_OK] = "ok",
        [DMALAB_STS_BAD_OPCODE] = "unknown opcode",
        [DMALAB_STS_BAD_LEN] = "zero or oversized length",
        [DMALAB_STS_BAD_FLAGS] = "undefined flags or reserved bits",
        [DMALAB_STS_DEVMEM_RANGE] = "device-memory range out of bounds",
        [DMALAB_STS_DMA_READ] = "DMA read failed",
        [DMALAB_STS_DMA_WRITE] = "DMA write failed",
        [DMALAB_STS_ADDR_WIDTH] = "address beyond dma-bits",
        [DMALAB_STS_SELF_DMA] = "DMA aimed at the device's own BARs",
        [DMALAB_STS_SG_LOOP] = "SG walk exceeded its entry bound",
        [DMALAB_STS_SG_SHORT] = "SG table shorter than length",
        [DMALAB_STS_RING_CONFIG] = "bad ring configuration",
        [DMALAB_STS_BAD_DOORBELL] = "doorbell beyond the ring",
        [DMALAB_STS_BUSY] = "register written while busy",
        [DMALAB_STS_ABORTED] = "chain aborted",
        [DMALAB_STS_BUS_MASTER] = "bus mastering disabled",
        [DMALAB_STS_INJECTED] = "injected fault",
    };

    if (status < ARRAY_SIZE(names) && names[status]) {
        return names[status];
    }
    return "unknown";
}

/*
 * Record a guest error the way hardware does: error log registers, the
 * error interrupt cause, a statistics count and a LOG_GUEST_ERROR line.
 */
static void dmalab_error(DmalabState *s, uint32_t queue, uint32_t index,
                         uint32_t code, uint64_t addr)
{
    qemu_log_mask(LOG_GUEST_ERROR,
                  "dmalab: queue %u slot %u: %s (0x%x) at 0x%" PRIx64 "\n",
                  queue, index, dmalab_status_name(code), code, addr);
    trace_dmalab_err(queue, index, code, addr);
    s->err_queue = queue;
    s->err_index = index;
    s->err_code = code;
    s->err_addr = addr;
    s->err_count++;
    s->stat_errors++;
    s->status |= DMALAB_STATUS_ERROR;
    if (queue < s->num_queues) {
        s->queues[queue].error = code;
    }
    dmalab_raise(s, DMALAB_INTR_ERROR, DMALAB_MSIX_ERR_VECTOR(s->num_queues));
}

/* ---- Address checks -------------------------------------------------- */

/*
 * Every range check works on the last byte of a range, never on its end:
 * a range may end exactly at 2^64, where addr + len wraps to 0.
 */

/* The last byte of [addr, addr + len), len > 0; false if it wraps. */
static bool dmalab_range_last(uint64_t addr, uint64_t len, uint64_t *last)
{
    if (len == 0 || len - 1 > UINT64_MAX - addr) {
        return false;
    }
    *last = addr + (len - 1);
    return true;
}

/* Can the engine emit every address of [addr, addr + len)? */
static bool dmalab_addr_fits(DmalabState *s, uint64_t addr, uint64_t len)
{
    uint64_t last;

    if (!dmalab_range_last(addr, len, &last)) {
        return false;
    }
    return s->dma_bits >= 64 || (last >> s->dma_bits) == 0;
}

/* Does [addr, addr + len) (already known not to wrap) hit one of our BARs? */
static bool dmalab_hits_self(DmalabState *s, uint64_t addr, uint64_t len)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint64_t last = addr + (len - 1);
    int bar;

    for (bar = 0; bar < PCI_NUM_REGIONS - 1; bar++) {
        pcibus_t base = pci_get_bar_addr(pdev, bar);
        pcibus_t size = pdev->io_regions[bar].size;
        uint64_t bar_last;

        if (!size || base == PCI_BAR_UNMAPPED ||
            (pdev->io_regions[bar].type & PCI_BASE_ADDRESS_SPACE_IO) ||
            !dmalab_range_last(base, size, &bar_last)) {
            continue;
        }
        if (addr <= bar_last && base <= last) {
            return true;
        }
    }
    return false;
}

/* Check a host bus range before the engine touches it. */
static uint32_t dmalab_check_host(DmalabState *s, uint64_t addr, uint64_t len)
{
    if (!dmalab_addr_fits(s, addr, len)) {
        return DMALAB_STS_ADDR_WIDTH;
    }
    if (dmalab_hits_self(s, addr, len)) {
        return DMALAB_STS_SELF_DMA;
    }
    return DMALAB_STS_OK;
}

static uint32_t dmalab_dma_read(DmalabState *s, uint64_t addr, void *buf,
                                uint64_t len)
{
    uint32_t sts = dmalab_check_host(s, addr, len);

    if (sts != DMALAB_STS_OK) {
        return sts;
    }
    trace_dmalab_dma_read(addr, len);
    if (pci_dma_rw(PCI_DEVICE(s), addr, buf, len, DMA_DIRECTION_TO_DEVICE,
                   dmalab_dma_attrs) != MEMTX_OK) {
        return DMALAB_STS_DMA_READ;
    }
    return DMALAB_STS_OK;
}

static uint32_t dmalab_dma_write(DmalabState *s, uint64_t addr,
                                 const void *buf, uint64_t len)
{
    uint32_t sts = dmalab_check_host(s, addr, len);

    if (sts != DMALAB_STS_OK) {
        return sts;
    }
    trace_dmalab_dma_write(addr, len);
    if (pci_dma_rw(PCI_DEVICE(s), addr, (void *)buf, len,
                   DMA_DIRECTION_FROM_DEVICE, dmalab_dma_attrs) != MEMTX_OK) {
        return DMALAB_STS_DMA_WRITE;
    }
    return DMALAB_STS_OK;
}

/* ---- Transfer cursors ------------------------------------------------ */

/*
 * A cursor walks one side of a transfer: a flat host range, a host SG
 * table, or device memory.  The engine asks it for the next contiguous
 * segment, so one loop serves every combination of source and destination.
 */
typedef enum {
    DMALAB_CUR_HOST,
    DMALAB_CUR_SG,
    DMALAB_CUR_DEVMEM,
} DmalabCursorKind;

typedef struct DmalabCursor {
    DmalabCursorKind kind;
    uint64_t addr;       /* current segment: bus address or devmem offset */
    uint64_t seg_left;   /* bytes left in the current segment */
    uint64_t table;      /* SG: address of the next entry */
    uint32_t visited;    /* SG: entries read so far, bounded */
    bool ended;          /* SG: the DMALAB_SG_END entry was consumed */
    bool table_at_top;   /* SG: the last entry read ended at 2^64 */
    uint64_t fault_addr; /* address of the last failure */
} DmalabCursor;

static void dmalab_cursor_init(DmalabCursor *c, DmalabCursorKind kind,
                               uint64_t addr, uint64_t len)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    if (kind == DMALAB_CUR_SG) {
        c->table = addr;
    } else {
        c->addr = addr;
        c->seg_left = len;
    }
}

/* Make sure the cursor has a non-empty segment; read SG entries as needed. */
static uint32_t dmalab_cursor_fill(DmalabState *s, DmalabCursor *c)
{
    struct dmalab_sg_entry ent;
    uint32_t sts;

    while (c->seg_left == 0) {
        if (c->kind != DMALAB_CUR_SG || c->ended) {
            c->fault_addr = c->table;
            return DMALAB_STS_SG_SHORT;
        }
        if (c->visited >= DMALAB_SG_MAX_ENTRIES) {
            c->fault_addr = c->table;
            return DMALAB_STS_SG_LOOP;
        }
        if (c->table_at_top) {
            c->fault_addr = UINT64_MAX;
            return DMALAB_STS_ADDR_WIDTH;
        }
        c->visited++;
        sts = dmalab_dma_read(s, c->table, &ent, sizeof(ent));
        if (sts != DMALAB_STS_OK) {
            c->fault_addr = c->table;
            return sts;
        }
        trace_dmalab_sg_entry(c->table, le64_to_cpu(ent.addr),
                              le32_to_cpu(ent.len), le32_to_cpu(ent.flags));
        if (le32_to_cpu(ent.flags) & ~DMALAB_SG_FLAGS_VALID) {
            c->fault_addr = c->table;
            return DMALAB_STS_BAD_FLAGS;
        }
        if (le32_to_cpu(ent.flags) & DMALAB_SG_LINK) {
            c->table = le64_to_cpu(ent.addr);
            continue;
        }
        if (le32_to_cpu(ent.len) == 0) {
            /* A zero-length data entry ends the table: shorter than len. */
            c->fault_addr = c->table;
            return DMALAB_STS_SG_SHORT;
        }
        /* A table running off the top of the address space ends here. */
        c->table_at_top = c->table > UINT64_MAX - sizeof(ent);
        c->table += sizeof(ent);
        c->addr = le64_to_cpu(ent.addr);
        c->seg_left = le32_to_cpu(ent.len);
        c->ended = le32_to_cpu(ent.flags) & DMALAB_SG_END;
    }
    return DMALAB_STS_OK;
}

static void dmalab_cursor_advance(DmalabCursor *c, uint64_t n)
{
    c->addr += n;
    c->seg_left -= n;
}

static uint32_t dmalab_cursor_read(DmalabState *s, DmalabCursor *c,
                                   void *buf, uint64_t n)
{
    uint32_t sts;

    if (c->kind == DMALAB_CUR_DEVMEM) {
        memcpy(buf, s->devmem_ptr + c->addr, n);
        return DMALAB_STS_OK;
    }
    s->dbg_last_addr = c->addr;
    sts = dmalab_dma_read(s, c->addr, buf, n);
    if (sts != DMALAB_STS_OK) {
        c->fault_addr = c->addr;
    }
    return sts;
}

static uint32_t dmalab_cursor_write(DmalabState *s, DmalabCursor *c,
                                    const void *buf, uint64_t n)
{
    uint32_t sts;

    if (c->kind == DMALAB_CUR_DEVMEM) {
        /* marked dirty once per descriptor, by dmalab_desc_run() */
        memcpy(s->devmem_ptr + c->addr, buf, n);
        return DMALAB_STS_OK;
    }
    s->dbg_last_addr = c->addr;
    sts = dmalab_dma_write(s, c->addr, buf, n);
    if (sts != DMALAB_STS_OK) {
        c->fault_addr = c->addr;
    }
    return sts;
}

/* ---- Descriptor execution -------------------------------------------- */

typedef struct DmalabResult {
    uint32_t status;
    uint32_t bytes;
    uint32_t crc;        /* CRC32C of the bytes so far (0 for none) */
    uint64_t err_addr;
} DmalabResult;

static bool dmalab_devmem_range_ok(DmalabState *s, uint64_t off, uint64_t len)
{
    return off < s->devmem_size && len <= s->devmem_size - off;
}

/* Validate a copied descriptor; returns a status for anything malformed. */
static uint32_t dmalab_desc_check(DmalabState *s, const struct dmalab_desc *d,
                                  uint64_t *bad_addr)
{
    uint32_t len = le32_to_cpu(d->len);
    uint64_t src = le64_to_cpu(d->src);
    uint64_t dst = le64_to_cpu(d->dst);
    uint8_t flags = d->flags;

    *bad_addr = 0;
    if (d->opcode < DMALAB_OP_H2D || d->opcode > DMALAB_OP_CRC32C) {
        return DMALAB_STS_BAD_OPCODE;
    }
    if ((flags & ~DMALAB_DESC_FLAGS_VALID) || d->rsvd) {
        return DMALAB_STS_BAD_FLAGS;
    }
    if (len == 0 || len > DMALAB_MAX_XFER) {
        return DMALAB_STS_BAD_LEN;
    }
    switch (d->opcode) {
    case DMALAB_OP_H2D:
        if (flags & DMALAB_DESC_DST_SG) {
            return DMALAB_STS_BAD_FLAGS;
        }
        if (!dmalab_devmem_range_ok(s, dst, len)) {
            *bad_addr = dst;
            return DMALAB_STS_DEVMEM_RANGE;
        }
        break;
    case DMALAB_OP_D2H:
        if (flags & DMALAB_DESC_SRC_SG) {
            return DMALAB_STS_BAD_FLAGS;
        }
        if (!dmalab_devmem_range_ok(s, src, len)) {
            *bad_addr = src;
            return DMALAB_STS_DEVMEM_RANGE;
        }
        break;
    case DMALAB_OP_FILL:
        if (flags & DMALAB_DESC_SRC_SG) {
            return DMALAB_STS_BAD_FLAGS;
        }
        break;
    case DMALAB_OP_CRC32C:
        if (flags & DMALAB_DESC_DST_SG) {
            return DMALAB_STS_BAD_FLAGS;
        }
        break;
    default:
        break;
    }
    return DMALAB_STS_OK;
}

static DmalabCursorKind dmalab_host_kind(uint8_t flags, uint8_t sg_flag)
{
    return (flags & sg_flag) ? DMALAB_CUR_SG : DMALAB_CUR_HOST;
}

/*
 * Can H2D and D2H move data straight between guest memory and device
 * memory?  Only where bus addresses are physical addresses: the engine
 * refuses a bus address inside its own BARs (SELF_DMA), but behind an
 * IOMMU an I/O virtual address may translate into device memory itself,
 * and a copy from device memory into device memory must not overlap.
 * There the data goes through the staging chunk.
 */
static bool dmalab_direct_ok(DmalabState *s)
{
    return pci_device_iommu_address_space(PCI_DEVICE(s)) ==
           &address_space_memory;
}

/*
 * D2H's write of device memory at @dev to the host cursor: one copy.
 * Corrupting byte @k (fault injection) must not touch device memory, so
 * that byte alone goes from a copy.
 */
static uint32_t dmalab_d2h_write(DmalabState *s, DmalabCursor *c,
                                 const uint8_t *dev, uint64_t n, int64_t k)
{
    uint8_t flipped;
    uint32_t sts;

    if (k < 0 || (uint64_t)k >= n) {
        return dmalab_cursor_write(s, c, dev, n);
    }
    flipped = dev[k] ^ 0xff;
    sts = k ? dmalab_cursor_write(s, c, dev, k) : DMALAB_STS_OK;
    if (sts == DMALAB_STS_OK) {
        c->addr += k;
        sts = dmalab_cursor_write(s, c, &flipped, 1);
        c->addr -= k;
    }
    if (sts == DMALAB_STS_OK && k + 1 < n) {
        c->addr += k + 1;
        sts = dmalab_cursor_write(s, c, dev + k + 1, n - k - 1);
        c->addr -= k + 1;
    }
    return sts;
}

/*
 * Run a checked H2D or D2H with one copy per host segment, between guest
 * memory and device memory, instead of two through the staging chunk.
 */
static void dmalab_desc_run_direct(DmalabState *s,
                                   const struct dmalab_desc *d,
                                   DmalabResult *r, int64_t corrupt_at)
{
    bool h2d = d->opcode == DMALAB_OP_H2D;
    uint64_t left = le32_to_cpu(d->len);
    uint64_t off = le64_to_cpu(h2d ? d->dst : d->src);
    uint32_t sts = DMALAB_STS_OK;
    DmalabCursor host;
    uint64_t n = 0;

    dmalab_cursor_init(&host, dmalab_host_kind(d->flags, h2d ?
                                               DMALAB_DESC_SRC_SG :
                                               DMALAB_DESC_DST_SG),
                       le64_to_cpu(h2d ? d->src : d->dst), left);
    while (left > 0) {
        uint8_t *dev = s->devmem_ptr + off + r->bytes;
        int64_t k = corrupt_at - r->bytes;

        n = 0;
        sts = dmalab_cursor_fill(s, &host);
        if (sts != DMALAB_STS_OK) {
            break;
        }
        n = MIN(left, host.seg_left);
        if (h2d) {
            sts = dmalab_cursor_read(s, &host, dev, n);
            if (sts == DMALAB_STS_OK && k >= 0 && (uint64_t)k < n) {
                dev[k] ^= 0xff; /* fault injection: the device stores it */
                trace_dmalab_corrupt(corrupt_at);
            }
        } else {
            if (k >= 0 && (uint64_t)k < n) {
                trace_dmalab_corrupt(corrupt_at);
            }
            sts = dmalab_d2h_write(s, &host, dev, n, k);
        }
        if (sts != DMALAB_STS_OK) {
            break;
        }
        dmalab_cursor_advance(&host, n);
        r->bytes += n;
        left -= n;
    }
    if (sts != DMALAB_STS_OK) {
        r->err_addr = host.fault_addr;
    }
    /*
     * Once per descriptor, for migration and display: a failed segment
     * may have stored part of its bytes before the fault.
     */
    if (h2d && r->bytes + n) {
        memory_region_set_dirty(&s->devmem, off, r->bytes + n);
    }
    r->status = sts;
}

/*
 * One step of a COPY through the staging chunk: at most DMALAB_CHUNK
 * bytes, two copies.  For a destination that is not plain RAM (the write
 * then fails as any DMA write there does) and for ranges that overlap.
 */
static uint32_t dmalab_copy_staged(DmalabState *s, DmalabCursor *src,
                                   DmalabCursor *dst, uint64_t n, int64_t k,
                                   uint64_t *err_addr)
{
    uint32_t sts = dmalab_cursor_read(s, src, s->chunk, n);

    if (sts != DMALAB_STS_OK) {
        *err_addr = src->fault_addr;
        return sts;
    }
    if (k >= 0 && (uint64_t)k < n) {
        s->chunk[k] ^= 0xff;
    }
    sts = dmalab_cursor_write(s, dst, s->chunk, n);
    *err_addr = dst->fault_addr;
    return sts;
}

/*
 * Map guest memory at @addr for the engine to touch directly: up to *len
 * bytes (*len becomes what was mapped).  Plain RAM only, which
 * memory_region_from_host() tells from a bounce buffer: NULL for
 * anything else, left to the engine's ordinary DMA accesses.
 */
static void *dmalab_map_ram(DmalabState *s, uint64_t addr, dma_addr_t *len,
                            DMADirection dir)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    ram_addr_t ram_off;
    void *p;

    p = dma_memory_map(as, addr, len, dir, dmalab_dma_attrs);
    if (p && (!*len || !memory_region_from_host(p, &ram_off))) {
        dma_memory_unmap(as, p, *len, dir, 0);
        p = NULL;
    }
    return p;
}

/*
 * One step of a COPY with one copy: the destination mapped (plain RAM
 * only) and the source read straight into it.  Sets *n to the bytes it
 * moved; false if the step must go through the staging chunk instead.
 */
static bool dmalab_copy_mapped(DmalabState *s, DmalabCursor *src,
                               DmalabCursor *dst, uint64_t *n, int64_t k,
                               uint32_t *sts)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    dma_addr_t plen = *n;
    uint8_t *p;

    p = dmalab_map_ram(s, dst->addr, &plen, DMA_DIRECTION_FROM_DEVICE);
    if (!p) {
        return false;
    }
    *n = MIN(*n, plen);
    /* a failed read leaves the mapped range undefined, as bytes says */
    *sts = dmalab_cursor_read(s, src, p, *n);
    if (*sts == DMALAB_STS_OK && k >= 0 && (uint64_t)k < *n) {
        p[k] ^= 0xff;
    }
    s->dbg_last_addr = dst->addr;
    trace_dmalab_dma_write(dst->addr, *n);
    dma_memory_unmap(as, p, plen, DMA_DIRECTION_FROM_DEVICE, *n);
    return true;
}

/*
 * Run a checked COPY where bus addresses are physical: each step reads
 * the source straight into the mapped destination, one copy instead of
 * two; ranges that overlap, and destinations that are not RAM, go
 * through the staging chunk.
 */
static void dmalab_desc_run_copy(DmalabState *s, const struct dmalab_desc *d,
                                 DmalabResult *r, int64_t corrupt_at)
{
    uint64_t left = le32_to_cpu(d->len);
    uint32_t sts = DMALAB_STS_OK;
    DmalabCursor src, dst;

    dmalab_cursor_init(&src, dmalab_host_kind(d->flags, DMALAB_DESC_SRC_SG),
                       le64_to_cpu(d->src), left);
    dmalab_cursor_init(&dst, dmalab_host_kind(d->flags, DMALAB_DESC_DST_SG),
                       le64_to_cpu(d->dst), left);
    while (left > 0) {
        int64_t k = corrupt_at - r->bytes;
        uint64_t n;

        sts = dmalab_cursor_fill(s, &src);
        if (sts != DMALAB_STS_OK) {
            r->err_addr = src.fault_addr;
            break;
        }
        sts = dmalab_cursor_fill(s, &dst);
        if (sts != DMALAB_STS_OK) {
            r->err_addr = dst.fault_addr;
            break;
        }
        n = MIN(left, MIN(src.seg_left, dst.seg_left));
        sts = dmalab_check_host(s, dst.addr, n);
        if (sts != DMALAB_STS_OK) {
            r->err_addr = dst.addr;
            break;
        }
        r->err_addr = src.addr;
        if (src.addr < dst.addr + n && dst.addr < src.addr + n) {
            n = MIN(n, DMALAB_CHUNK);
            sts = dmalab_copy_staged(s, &src, &dst, n, k, &r->err_addr);
        } else if (!dmalab_copy_mapped(s, &src, &dst, &n, k, &sts)) {
            n = MIN(n, DMALAB_CHUNK);
            sts = dmalab_copy_staged(s, &src, &dst, n, k, &r->err_addr);
        }
        if (sts != DMALAB_STS_OK) {
            break;
        }
        r->err_addr = 0;
        if (k >= 0 && (uint64_t)k < n) {
            trace_dmalab_corrupt(corrupt_at);
        }
        dmalab_cursor_advance(&src, n);
        dmalab_cursor_advance(&dst, n);
        r->bytes += n;
        left -= n;
    }
    r->status = sts;
}

/*
 * Run one checked descriptor.  H2D, D2H and COPY copy once where they
 * can; the rest moves in chunks through s->chunk, each bounded by both
 * cursors' current segments.
 */
static void dmalab_desc_run(DmalabState *s, const struct dmalab_desc *d,
                            DmalabResult *r, int64_t corrupt_at)
{
    DmalabCursor src, dst;
    uint64_t left = le32_to_cpu(d->len);
    uint64_t pattern = le64_to_cpu(d->src);
    bool has_src = d->opcode != DMALAB_OP_FILL;
    bool has_dst = d->opcode != DMALAB_OP_CRC32C;
    uint32_t sts = DMALAB_STS_OK;
    uint8_t *from;

    switch (d->opcode) {
    case DMALAB_OP_H2D:
        dmalab_cursor_init(&src, dmalab_host_kind(d->flags,
                           DMALAB_DESC_SRC_SG), le64_to_cpu(d->src), left);
        dmalab_cursor_init(&dst, DMALAB_CUR_DEVMEM, le64_to_cpu(d->dst), left);
        break;
    case DMALAB_OP_D2H:
        dmalab_cursor_init(&src, DMALAB_CUR_DEVMEM, le64_to_cpu(d->src), left);
        dmalab_cursor_init(&dst, dmalab_host_kind(d->flags,
                           DMALAB_DESC_DST_SG), le64_to_cpu(d->dst), left);
        break;
    default:
        dmalab_cursor_init(&src, dmalab_host_kind(d->flags,
                           DMALAB_DESC_SRC_SG), le64_to_cpu(d->src), left);
        dmalab_cursor_init(&dst, dmalab_host_kind(d->flags,
                           DMALAB_DESC_DST_SG), le64_to_cpu(d->dst), left);
        break;
    }

    if ((d->opcode == DMALAB_OP_H2D || d->opcode == DMALAB_OP_D2H) &&
        dmalab_direct_ok(s)) {
        dmalab_desc_run_direct(s, d, r, corrupt_at);
        return;
    }
    if (d->opcode == DMALAB_OP_COPY && dmalab_direct_ok(s)) {
        dmalab_desc_run_copy(s, d, r, corrupt_at);
        return;
    }
    if (!has_src) {
        /* FILL: the chunk holds the pattern once, reused for every write. */
        for (size_t i = 0; i < DMALAB_CHUNK; i += sizeof(pattern)) {
            uint64_t le = cpu_to_le64(pattern);
            memcpy(s->chunk + i, &le, sizeof(le));
        }
    }

    while (left > 0) {
        uint64_t n = MIN(left, DMALAB_CHUNK);

        if (has_src) {
            sts = dmalab_cursor_fill(s, &src);
            if (sts != DMALAB_STS_OK) {
                r->err_addr = src.fault_addr;
                break;
            }
            n = MIN(n, src.seg_left);
        }
        if (has_dst) {
            sts = dmalab_cursor_fill(s, &dst);
            if (sts != DMALAB_STS_OK) {
                r->err_addr = dst.fault_addr;
                break;
            }
            n = MIN(n, dst.seg_left);
        }
        if (has_src) {
            sts = dmalab_cursor_read(s, &src, s->chunk, n);
            if (sts != DMALAB_STS_OK) {
                r->err_addr = src.fault_addr;
                break;
            }
            dmalab_cursor_advance(&src, n);
        }
        if (has_dst && !has_src) {
            n = MIN(n, DMALAB_CHUNK - sizeof(pattern));
        }
        /* FILL keeps the pattern aligned to the start of the transfer. */
        from = s->chunk + (has_src ? 0 : r->bytes % sizeof(pattern));
        if (corrupt_at >= r->bytes && corrupt_at < r->bytes + n) {
            /* Fault injection: flip one byte (restored for FILL's reuse). */
            from[corrupt_at - r->bytes] ^= 0xff;
            trace_dmalab_corrupt(corrupt_at);
        }
        if (d->opcode == DMALAB_OP_CRC32C) {
            /* crc32c() takes the raw state and returns it inverted. */
            r->crc = crc32c(r->crc ^ 0xffffffff, s->chunk, n);
        }
        if (has_dst) {
            sts = dmalab_cursor_write(s, &dst, from, n);
        }
        if (corrupt_at >= r->bytes && corrupt_at < r->bytes + n &&
            !has_src) {
            from[corrupt_at - r->bytes] ^= 0xff;
        }
        if (sts != DMALAB_STS_OK) {
            r->err_addr = dst.fault_addr;
            break;
        }
        if (has_dst) {
            dmalab_cursor_advance(&dst, n);
        }
        r->bytes += n;
        left -= n;
    }
    if (dst.kind == DMALAB_CUR_DEVMEM && r->bytes) {
        memory_region_set_dirty(&s->devmem, le64_to_cpu(d->dst), r->bytes);
    }
    r->status = sts;
}

/* ---- Queues ---------------------------------------------------------- */

static void dmalab_queue_clear(DmalabQueue *q)
{
    q->enabled = false;
    q->halted = false;
    q->phase = true;
    q->head = 0;
    q->tail = 0;
    q->error = DMALAB_STS_OK;
    q->coal_pending = 0;
    q->ready_at = 0;
    q->copy_wait = 0;
    q->in_chain = false;
    q->chain_failed = false;
    q->chain_len = 0;
    q->chain_crc = 0;
    timer_del(q->coal_timer);
}

static void dmalab_doorbell_fd_stop(DmalabQueue *q);
static void dmalab_doorbell_fd_drain(DmalabState *s);

static void dmalab_queue_reset(DmalabQueue *q)
{
    dmalab_doorbell_fd_stop(q);
    dmalab_queue_clear(q);
    q->ring_base = 0;
    q->cpl_base = 0;
    q->shadow_base = 0;
    q->size = 0;
    q->coal_count = 0;
    q->coal_usec = 0;
}

static bool dmalab_queue_has_work(DmalabQueue *q)
{
    return q->enabled && !q->halted && !q->jobs && q->head != q->tail &&
           !(q->dev->dbg_stall & (1u << q->index));
}

static void dmalab_kick(DmalabState *s)
{
    if (s->ctrl & DMALAB_CTRL_ENABLE) {
        qemu_bh_schedule(s->bh);
    }
}

/* A failure to reach the ring itself stops the queue until it is reset. */
static void dmalab_queue_halt(DmalabQueue *q, uint32_t code, uint64_t addr)
{
    q->halted = true;
    dmalab_error(q->dev, q->index, q->head, code, addr);
}

static bool dmalab_write_cpl(DmalabQueue *q, uint32_t slot,
                             const struct dmalab_desc *d,
                             const DmalabResult *r)
{
    DmalabState *s = q->dev;
    struct dmalab_cpl cpl = {
        .cookie = d->cookie,
        .err_addr = cpu_to_le64(r->err_addr),
        .bytes = cpu_to_le32(r->bytes),
        .index = cpu_to_le16(slot),
        .status = cpu_to_le16(r->status),
        .flags = cpu_to_le16(q->phase ? DMALAB_CPL_PHASE : 0),
    };
    uint64_t addr = q->cpl_base + (uint64_t)slot * sizeof(cpl);
    const size_t tail_off = offsetof(struct dmalab_cpl, status);
    uint32_t sts;

    if (d->opcode == DMALAB_OP_CRC32C && r->status == DMALAB_STS_OK) {
        cpl.result = cpu_to_le32(r->crc);
    }
    /*
     * The body first, then the word holding the phase bit: a driver that
     * sees the new phase must also see the rest of the entry.
     */
    sts = dmalab_dma_write(s, addr, &cpl, tail_off);
    if (sts == DMALAB_STS_OK) {
        smp_wmb(); /* the body is visible before the phase bit */
        sts = dmalab_dma_write(s, addr + tail_off, (uint8_t *)&cpl + tail_off,
                               sizeof(cpl) - tail_off);
    }
    if (sts != DMALAB_STS_OK) {
        dmalab_queue_halt(q, sts, addr);
        return false;
    }
    trace_dmalab_cpl(q->index, slot, r->status, r->bytes, q->phase);
    return true;
}

/* Count down an "Nth descriptor" fault; true when it fires now. */
static bool dmalab_fault_fires(uint32_t *nth)
{
    if (*nth == 0) {
        return false;
    }
    return --*nth == 0;
}

/* Throttled model: how long the device "takes" for one descriptor. */
static int64_t dmalab_desc_cost_ns(DmalabState *s, uint32_t len)
{
    int64_t ns = s->latency_ns;

    if (s->bandwidth) {
        ns += muldiv64(len, NANOSECONDS_PER_SECOND, s->bandwidth);
    }
    return ns;
}

/* A descriptor outside a chain starts a new one (a chain of one, maybe). */
static void dmalab_chain_begin(DmalabQueue *q)
{
    if (!q->in_chain) {
        q->chain_failed = false;
        q->chain_len = 0;
        q->chain_crc = 0;
    }
}

/* ---- Copies in the copy threads -------------------------------------- */

/* A guest range mapped for the copy threads, released when the job ends. */
typedef struct DmalabMapping {
    void *ptr;
    dma_addr_t len;
    DMADirection dir;
} DmalabMapping;

/*
 * A descriptor the copy threads work for.  Until it completes, the
 * descriptor stays unconsumed, at its queue's head or (looked ahead)
 * right behind the one there: a job given up (reset, queue disabled, bus
 * mastering off) or not migrated leaves descriptors that run again in
 * full, which is safe because the copies they make never read what they
 * write, and run in their order.
 */
struct DmalabJob {
    DmalabQueue *q;
    uint32_t slot;
    uint32_t epoch;
    struct dmalab_desc d;
    DmalabResult r;
    uint64_t last_addr;      /* guest address of the last segment */
    GArray *segs;            /* DmalabSeg, for the copy threads */
    GArray *maps;            /* DmalabMapping */
};

static int64_t dmalab_queue_finish(DmalabQueue *q, uint32_t slot,
                                   const struct dmalab_desc *dp,
                                   const DmalabResult *rp, uint32_t epoch);

/* The job @i places behind the oldest one held (0: the oldest). */
static DmalabJob *dmalab_job_at(DmalabState *s, unsigned i)
{
    return &s->jobs[(s->job_first + i) % DMALAB_WORKER_JOBS];
}

/*
 * Map @n bytes of guest memory at @addr for @job, or fewer where a mapping
 * ends (*n is updated).  Plain RAM only: anything else, or an address the
 * engine may not use, is left to the engine in place, which reports it as
 * it always does.
 */
static void *dmalab_job_map(DmalabState *s, DmalabJob *job, uint64_t addr,
                            uint64_t *n, DMADirection dir)
{
    DmalabMapping m = { .len = *n, .dir = dir };

    if (dmalab_check_host(s, addr, *n) != DMALAB_STS_OK) {
        return NULL;
    }
    m.ptr = dmalab_map_ram(s, addr, &m.len, dir);
    if (!m.ptr) {
        return NULL;
    }
    g_array_append_val(job->maps, m);
    *n = MIN(*n, m.len);
    if (dir == DMA_DIRECTION_TO_DEVICE) {
        trace_dmalab_dma_read(addr, *n);
    } else {
        trace_dmalab_dma_write(addr, *n);
    }
    return m.ptr;
}

/*
 * Turn the job's checked H2D, D2H or COPY into segments between mapped
 * guest memory and device memory.  False when some part must go through
 * the engine in place: an SG table or a range it cannot map, or COPY
 * ranges that overlap (the staging chunk orders those).
 */
static bool dmalab_job_plan(DmalabState *s, DmalabJob *job)
{
    const struct dmalab_desc *d = &job->d;
    bool from_dev = d->opcode == DMALAB_OP_D2H;
    bool to_dev = d->opcode == DMALAB_OP_H2D;
    uint64_t left = le32_to_cpu(d->len);
    DmalabCursor src, dst;

    dmalab_cursor_init(&src, from_dev ? DMALAB_CUR_DEVMEM :
                       dmalab_host_kind(d->flags, DMALAB_DESC_SRC_SG),
                       le64_to_cpu(d->src), left);
    dmalab_cursor_init(&dst, to_dev ? DMALAB_CUR_DEVMEM :
                       dmalab_host_kind(d->flags, DMALAB_DESC_DST_SG),
                       le64_to_cpu(d->dst), left);
    while (left > 0) {
        DmalabSeg seg;
        uint64_t n, m;

        if (dmalab_cursor_fill(s, &src) != DMALAB_STS_OK ||
            dmalab_cursor_fill(s, &dst) != DMALAB_STS_OK) {
            return false;
        }
        n = MIN(left, MIN(src.seg_left, dst.seg_left));
        if (!from_dev && !to_dev &&
            src.addr < dst.addr + n && dst.addr < src.addr + n) {
            return false;
        }
        if (from_dev) {
            seg.src = s->devmem_ptr + src.addr;
        } else {
            seg.src = dmalab_job_map(s, job, src.addr, &n,
                                     DMA_DIRECTION_TO_DEVICE);
        }
        m = n;
        if (to_dev) {
            seg.dst = s->devmem_ptr + dst.addr;
        } else {
            seg.dst = dmalab_job_map(s, job, dst.addr, &m,
                                     DMA_DIRECTION_FROM_DEVICE);
        }
        if (!seg.src || !seg.dst) {
            return false;
        }
        seg.len = MIN(n, m);
        g_array_append_val(job->segs, seg);
        job->last_addr = to_dev ? src.addr : dst.addr;
        dmalab_cursor_advance(&src, seg.len);
        dmalab_cursor_advance(&dst, seg.len);
        left -= seg.len;
    }
    return true;
}

/*
 * Release the job's mappings.  @copied: the copy threads ran, so guest
 * memory the job wrote is dirty (for migration), and so is device memory.
 */
static void dmalab_job_release(DmalabState *s, DmalabJob *job, bool copied)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));

    for (guint i = 0; i < job->maps->len; i++) {
        DmalabMapping *m = &g_array_index(job->maps, DmalabMapping, i);

        dma_memory_unmap(as, m->ptr, m->len, m->dir, copied ? m->len : 0);
    }
    if (copied && job->d.opcode == DMALAB_OP_H2D) {
        memory_region_set_dirty(&s->devmem, le64_to_cpu(job->d.dst),
                                le32_to_cpu(job->d.len));
    }
    g_array_set_size(job->maps, 0);
    g_array_set_size(job->segs, 0);
    job->q = NULL;
}

/*
 * Whether a descriptor is the copy threads' kind: a large H2D, D2H or
 * COPY, with bus addresses that are physical, while the VM runs.
 */
static bool dmalab_job_suits(DmalabState *s, const struct dmalab_desc *d)
{
    if (!s->worker || s->vm_stopped ||
        le32_to_cpu(d->len) < DMALAB_WORKER_MIN || !dmalab_direct_ok(s)) {
        return false;
    }
    return d->opcode == DMALAB_OP_H2D || d->opcode == DMALAB_OP_D2H ||
           d->opcode == DMALAB_OP_COPY;
}

/* Whether the copy threads may take a checked descriptor now. */
static bool dmalab_job_fits(DmalabState *s, const struct dmalab_desc *d)
{
    return s->job_count < DMALAB_WORKER_JOBS && dmalab_job_suits(s, d);
}

/*
 * The oldest turn of a queue whose head waits for room in the copy
 * threads, among queues that can still run it; 0 for none.
 */
static uint64_t dmalab_copy_first_turn(DmalabState *s)
{
    uint64_t first = 0;

    for (unsigned i = 0; i < s->num_queues; i++) {
        DmalabQueue *q = &s->queues[i];

        if (q->copy_wait && dmalab_queue_has_work(q) &&
            (!first || q->copy_wait < first)) {
            first = q->copy_wait;
        }
    }
    return first;
}

/*
 * Whether @q's head, a descriptor for the copy threads, must wait: while
 * they are full, and while heads that waited longer still wait, which
 * take the places as they free up, in the order they came.  Run in place
 * instead, the copy would hold the global lock, and stall the vCPUs'
 * accesses to every device, for its whole length.
 */
static bool dmalab_copy_must_wait(DmalabQueue *q)
{
    DmalabState *s = q->dev;
    uint64_t first = dmalab_copy_first_turn(s);

    if (s->job_count < DMALAB_WORKER_JOBS &&
        (!first || first == q->copy_wait)) {
        q->copy_wait = 0;
        return false;
    }
    if (!q->copy_wait) {
        q->copy_wait = ++s->copy_turns;
    }
    return true;
}

/*
 * Hand checked descriptor @slot of @q to the copy threads, behind the jobs
 * they hold, if it fits (above) and its memory can be mapped.  False: run
 * it in place, or (looked ahead) leave it to the engine.
 */
static bool dmalab_job_start(DmalabQueue *q, uint32_t slot,
                             const struct dmalab_desc *d,
                             const DmalabResult *r, uint32_t epoch)
{
    DmalabState *s = q->dev;
    DmalabJob *job;

    if (!dmalab_job_fits(s, d)) {
        return false;
    }
    job = dmalab_job_at(s, s->job_count);
    job->d = *d;
    job->r = *r;
    job->slot = slot;
    job->epoch = epoch;
    if (!dmalab_job_plan(s, job)) {
        dmalab_job_release(s, job, false);
        return false;
    }
    job->q = q;
    s->job_count++;
    q->jobs++;
    q->job_next = (slot + 1) & (q->size - 1);
    trace_dmalab_job_start(q->index, slot, job->segs->len);
    dmalab_worker_start(s->worker, &g_array_index(job->segs, DmalabSeg, 0),
                        job->segs->len, q->index);
    return true;
}

/* The newest job of @q the copy threads hold, or NULL. */
static DmalabJob *dmalab_queue_last_job(DmalabQueue *q)
{
    DmalabState *s = q->dev;

    for (unsigned i = s->job_count; q->jobs && i > 0; i--) {
        DmalabJob *job = dmalab_job_at(s, i - 1);

        if (job->q == q) {
            return job;
        }
    }
    return NULL;
}

/*
 * Look ahead: while @q's jobs copy, check and map the descriptor behind
 * them, so that a copy thread goes on to it without waiting for the main
 * loop.  Only a plain one qualifies, one that would run the same at
 * the head: outside any chain, with no fault injection or throttled model
 * that counts descriptors as they reach the head.  Anything else (or a
 * descriptor it cannot read) waits for the head, where the engine takes
 * it as usual.  A head waiting for room in the threads goes first, so
 * that busy queues cannot keep the threads from another.  True if a job
 * was queued.
 */
static bool dmalab_queue_lookahead(DmalabQueue *q)
{
    DmalabState *s = q->dev;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t slot = q->job_next;
    DmalabJob *last = dmalab_queue_last_job(q);
    DmalabResult r = { .status = DMALAB_STS_OK };
    struct dmalab_desc d;
    uint64_t bad_addr;

    if (!last || slot == q->tail || !q->enabled ||
        q->halted || (s->dbg_stall & (1u << q->index)) ||
        (last->d.flags & DMALAB_DESC_CHAIN) || s->bandwidth ||
        s->latency_ns || s->dbg_fail_nth || s->dbg_corrupt_nth ||
        dmalab_copy_first_turn(s) || !dmalab_bus_master(pdev)) {
        return false;
    }
    if (dmalab_dma_read(s, q->ring_base + (uint64_t)slot * sizeof(d), &d,
                        sizeof(d)) != DMALAB_STS_OK ||
        (d.flags & DMALAB_DESC_CHAIN) || !dmalab_job_fits(s, &d) ||
        dmalab_desc_check(s, &d, &bad_addr) != DMALAB_STS_OK) {
        return false;
    }
    trace_dmalab_desc(q->index, slot, d.opcode, d.flags, le32_to_cpu(d.len),
                      le64_to_cpu(d.src), le64_to_cpu(d.dst));
    return dmalab_job_start(q, slot, &d, &r, s->epoch);
}

/*
 * The copy threads are done with the oldest job: release it, and complete
 * its descriptor if @complete and the function and queue are as they
 * were, or else leave it to run again.
 */
static void dmalab_job_end(DmalabState *s, bool complete)
{
    DmalabJob *job = dmalab_job_at(s, 0);
    DmalabQueue *q = job->q;
    PCIDevice *pdev = PCI_DEVICE(s);
    struct dmalab_desc d = job->d;
    DmalabResult r = job->r;
    uint32_t slot = job->slot;
    uint32_t epoch = job->epoch;

    r.bytes = le32_to_cpu(d.len);
    s->dbg_last_addr = job->last_addr;
    dmalab_job_release(s, job, true);
    s->job_first = (s->job_first + 1) % DMALAB_WORKER_JOBS;
    s->job_count--;
    q->jobs--;
    complete = complete && !dmalab_epoch_moved(s, epoch) &&
               dmalab_engine_runs(s) && q->enabled && !q->halted &&
               q->head == slot && dmalab_bus_master(pdev);
    trace_dmalab_job_end(q->index, slot, complete);
    if (complete) {
        dmalab_chain_begin(q); /* as at the head, for a job looked ahead */
        q->chain_crc = r.crc;
        dmalab_queue_finish(q, slot, &d, &r, epoch);
        if (!dmalab_epoch_moved(s, epoch)) {
            dmalab_kick(s);
        }
    }
}

/*
 * End every job held, in order, once its copy is over (see above).  Given
 * up (!@complete), the jobs the thread has not begun are dropped first.
 */
static void dmalab_job_finish_copy(DmalabState *s, bool complete)
{
    if (!s->job_count) {
        return;
    }
    if (!complete) {
        for (unsigned n = dmalab_worker_cancel(s->worker); n; n--) {
            DmalabJob *job = dmalab_job_at(s, --s->job_count);

            trace_dmalab_job_end(job->q->index, job->slot, false);
            job->q->jobs--;
            dmalab_job_release(s, job, false);
        }
    }
    dmalab_worker_wait(s->worker);
    while (s->job_count) {
        dmalab_worker_take(s->worker);
        dmalab_job_end(s, complete);
    }
}

/*
 * Bottom half: the copy threads finished jobs (unless given up meanwhile).
 * A queue whose head waits for room in them goes on in the pass.
 */
static void dmalab_job_done(void *opaque)
{
    DmalabState *s = opaque;

    while (s->job_count && dmalab_worker_take(s->worker)) {
        dmalab_job_end(s, true);
    }
    dmalab_kick(s);
}

/*
 * Stop moving data now: wait for the copies in progress, if any, and give
 * their descriptors up (reset, power-down, removal, a queue disabled, bus
 * mastering off).  The copy threads never outlive what the guest sees.
 */
void dmalab_core_quiesce(DmalabState *s)
{
    dmalab_job_finish_copy(s, false);
}

static void dmalab_queue_quiesce(DmalabQueue *q)
{
    if (q->jobs) {
        dmalab_core_quiesce(q->dev);
        /* Other queues' jobs were given up too: they run again. */
        dmalab_kick(q->dev);
    }
}

/*
 * The VM stops (migration, savevm) or runs again.  While it is stopped the
 * engine copies in place; the copy in progress completes before memory is
 * saved, so that no byte it writes is missed.  So does a doorbell that
 * reached an ioeventfd but not yet the main loop: the vCPUs are paused, so
 * no further one can come, and its tail is in the state that is saved.
 */
void dmalab_core_vm_state(DmalabState *s, bool running)
{
    s->vm_stopped = !running;
    if (!running) {
        dmalab_doorbell_fd_drain(s);
        dmalab_job_finish_copy(s, true);
    }
}

/*
 * Process the descriptor at the queue's head.  Returns the bytes moved, or
 * -1 when the queue cannot make progress now (throttled or halted).
 */
static int64_t dmalab_queue_step(DmalabQueue *q)
{
    DmalabState *s = q->dev;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t slot = q->head;
    uint64_t daddr = q->ring_base + (uint64_t)slot * sizeof(struct dmalab_desc);
    struct dmalab_desc d;
    DmalabResult r = { .status = DMALAB_STS_OK };
    uint32_t epoch = s->epoch;
    uint64_t bad_addr;
    uint32_t sts;

    if (!dmalab_bus_master(pdev)) {
        dmalab_queue_halt(q, DMALAB_STS_BUS_MASTER, daddr);
        return -1;
    }

    /* Copy the descriptor out of guest memory once; use only the copy. */
    sts = dmalab_dma_read(s, daddr, &d, sizeof(d));
    if (sts != DMALAB_STS_OK) {
        dmalab_queue_halt(q, sts, daddr);
        return -1;
    }
    trace_dmalab_desc(q->index, slot, d.opcode, d.flags, le32_to_cpu(d.len),
                      le64_to_cpu(d.src), le64_to_cpu(d.dst));

    /* The threads' next finished job brings a waiting queue back. */
    if (!dmalab_job_suits(s, &d)) {
        q->copy_wait = 0;
    } else if (dmalab_copy_must_wait(q)) {
        trace_dmalab_job_wait(q->index, slot);
        return -1;
    }

    if (s->bandwidth || s->latency_ns) {
        int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

        if (!q->ready_at) {
            q->ready_at = now + dmalab_desc_cost_ns(s, le32_to_cpu(d.len));
        }
        if (now < q->ready_at) {
            if (!timer_pending(s->work_timer) ||
                timer_expire_time_ns(s->work_timer) > q->ready_at) {
                timer_mod(s->work_timer, q->ready_at);
            }
            return -1;
        }
        q->ready_at = 0;
    }

    dmalab_chain_begin(q);
    /* Links after a failed one are not run; a chain cannot outgrow the ring. */
    if (q->in_chain && q->chain_failed) {
        r.status = DMALAB_STS_ABORTED;
    } else if (q->chain_len >= q->size) {
        r.status = DMALAB_STS_SG_LOOP;
    } else if (dmalab_fault_fires(&s->dbg_fail_nth)) {
        r.status = s->dbg_fail_status;
        trace_dmalab_fail_injected(q->index, slot, r.status);
    } else {
        r.status = dmalab_desc_check(s, &d, &bad_addr);
        r.err_addr = bad_addr;
        if (r.status == DMALAB_STS_OK) {
            int64_t corrupt_at = -1;

            if (dmalab_fault_fires(&s->dbg_corrupt_nth)) {
                corrupt_at = s->dbg_corrupt_offset % le32_to_cpu(d.len);
            }
            r.crc = q->chain_crc;
            if (corrupt_at < 0 && dmalab_job_start(q, slot, &d, &r, epoch)) {
                return -1; /* dmalab_job_done() completes it */
            }
            dmalab_desc_run(s, &d, &r, corrupt_at);
            q->chain_crc = r.crc;
        }
    }
    return dmalab_queue_finish(q, slot, &d, &r, epoch);
}

/*
 * Complete the descriptor at the head, run or refused: its completion,
 * its error report and interrupt, and the head past it.  Returns the bytes
 * moved, or -1 when the queue cannot make progress now.
 */
static int64_t dmalab_queue_finish(DmalabQueue *q, uint32_t slot,
                                   const struct dmalab_desc *dp,
                                   const DmalabResult *rp, uint32_t epoch)
{
    DmalabState *s = q->dev;
    struct dmalab_desc d = *dp;
    DmalabResult r = *rp;
    bool chained = d.flags & DMALAB_DESC_CHAIN;

    q->chain_len++;
    if (r.status != DMALAB_STS_OK) {
        q->chain_failed = true;
    }
    q->in_chain = chained;

    s->stat_descs++;
    s->stat_bytes += r.bytes;

    if (!dmalab_write_cpl(q, slot, &d, &r)) {
        return -1;
    }
    /*
     * Log and signal the error only now, so a driver woken by the error
     * interrupt finds the failed descriptor's completion in place.
     * Injected failures are reported like real ones; ABORTED links are a
     * consequence of an error already reported.
     */
    if (r.status != DMALAB_STS_OK && r.status != DMALAB_STS_ABORTED) {
        dmalab_error(s, q->index, slot, r.status, r.err_addr);
        if (dmalab_epoch_moved(s, epoch)) {
            return -1; /* reset or powered down: leave the new state be */
        }
    }
    q->head = (q->head + 1) & (q->size - 1);
    if (q->head == 0) {
        q->phase = !q->phase;
    }
    if (d.flags & DMALAB_DESC_IRQ) {
        dmalab_queue_irq_request(q);
    }
    return r.bytes;
}

/*
 * One engine pass: serve the queues round robin, one descriptor each per
 * round, within a descriptor and byte budget, then yield.
 */
void dmalab_bh(void *opaque)
{
    DmalabState *s = opaque;
    uint32_t epoch = s->epoch;
    unsigned descs = 0;
    uint64_t bytes = 0;
    bool progress = true;

    if (!dmalab_engine_runs(s)) {
        return;
    }
    while (progress && descs < DMALAB_PASS_DESCS &&
           bytes < DMALAB_PASS_BYTES) {
        progress = false;
        for (unsigned i = 0; i < s->num_queues; i++) {
            DmalabQueue *q = &s->queues[i];
            int64_t moved;

            if (dmalab_queue_has_work(q)) {
                moved = dmalab_queue_step(q);
                if (dmalab_epoch_moved(s, epoch)) {
                    return; /* the pass ends with the function it served */
                }
                if (moved >= 0) {
                    progress = true;
                    descs++;
                    bytes += moved;
                }
            }
        }
        /*
         * While their jobs copy, queues' next ones are made ready: after
         * every head, which then copy side by side, not behind them.
         */
        for (unsigned i = 0; i < s->num_queues; i++) {
            DmalabQueue *q = &s->queues[i];

            if (q->jobs && dmalab_queue_lookahead(q)) {
                progress = true;
                descs++;
            }
        }
    }
    for (unsigned i = 0; i < s->num_queues; i++) {
        DmalabQueue *q = &s->queues[i];

        if (dmalab_queue_has_work(q) && !q->ready_at && !q->copy_wait) {
            /* Budget exhausted with work left: continue in a new pass. */
            qemu_bh_schedule(s->bh);
            break;
        }
    }
}

/* Throttled model: a queue is ready; run the pass under the guard. */
static void dmalab_work_timer(void *opaque)
{
    DmalabState *s = opaque;

    qemu_bh_schedule(s->bh);
}

/* ---- Doorbells ------------------------------------------------------- */

static void dmalab_set_tail(DmalabQueue *q, uint32_t val)
{
    DmalabState *s = q->dev;

    if (!q->enabled || val >= q->size) {
        dmalab_error(s, q->index, val, DMALAB_STS_BAD_DOORBELL, 0);
        return;
    }
    q->tail = val;
    dmalab_kick(s);
}

/*
 * A queue with a shadow tail keeps its producer index in guest memory: a
 * doorbell only says "read it".  The read is a DMA like any other, so it
 * needs bus mastering and fails as the ring's own reads do.
 */
static void dmalab_shadow_doorbell(DmalabQueue *q)
{
    DmalabState *s = q->dev;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t tail;
    uint32_t sts;

    if (!dmalab_bus_master(pdev)) {
        dmalab_queue_halt(q, DMALAB_STS_BUS_MASTER, q->shadow_base);
        return;
    }
    sts = dmalab_dma_read(s, q->shadow_base, &tail, sizeof(tail));
    if (sts != DMALAB_STS_OK) {
        dmalab_queue_halt(q, sts, q->shadow_base);
        return;
    }
    trace_dmalab_shadow_tail(q->index, le32_to_cpu(tail));
    dmalab_set_tail(q, le32_to_cpu(tail));
}

/* A write of Q_TAIL or PIO_TAIL. */
static void dmalab_doorbell(DmalabQueue *q, uint32_t val)
{
    trace_dmalab_doorbell(q->index, val);
    if (q->enabled && q->shadow_base) {
        dmalab_shadow_doorbell(q); /* the value written does not count */
        return;
    }
    dmalab_set_tail(q, val);
}

/*
 * With a shadow tail the written value is not needed, so a Q_TAIL write
 * can be an ioeventfd, as NVMe's doorbells are with its shadow doorbell
 * buffer: under KVM the write is taken in the kernel and the vCPU goes on
 * without an exit to QEMU; under TCG QEMU's memory core signals the same
 * notifier (memory_region_dispatch_write), so both accelerators take the
 * one path below.  The main loop runs it, like any MMIO write.
 */
static void dmalab_doorbell_notified(EventNotifier *e)
{
    DmalabQueue *q = container_of(e, DmalabQueue, doorbell);

    if (!event_notifier_test_and_clear(e)) {
        return;
    }
    /* What an MMIO write would meet: an absent or asleep function. */
    if (dmalab_offline(q->dev)) {
        return;
    }
    trace_dmalab_doorbell_fd(q->index);
    dmalab_shadow_doorbell(q);
}

/* Serve every doorbell signalled and not yet served, now. */
static void dmalab_doorbell_fd_drain(DmalabState *s)
{
    for (unsigned i = 0; i < s->num_queues; i++) {
        if (s->queues[i].doorbell_fd) {
            dmalab_doorbell_notified(&s->queues[i].doorbell);
        }
    }
}

static void dmalab_doorbell_fd_start(DmalabQueue *q)
{
    DmalabState *s = q->dev;

    if (!s->use_ioeventfd || !q->shadow_base || q->doorbell_fd) {
        return;
    }
    if (event_notifier_init(&q->doorbell, 0) < 0) {
        return; /* no eventfd: Q_TAIL stays an MMIO register */
    }
    event_notifier_set_handler(&q->doorbell, dmalab_doorbell_notified);
    memory_region_add_eventfd(&s->mmio, DMALAB_QREG(q->index, DMALAB_Q_TAIL),
                              sizeof(uint32_t), false, 0, &q->doorbell);
    q->doorbell_fd = true;
}

static void dmalab_doorbell_fd_stop(DmalabQueue *q)
{
    if (!q->doorbell_fd) {
        return;
    }
    memory_region_del_eventfd(&q->dev->mmio,
                              DMALAB_QREG(q->index, DMALAB_Q_TAIL),
                              sizeof(uint32_t), false, 0, &q->doorbell);
    event_notifier_set_handler(&q->doorbell, NULL);
    event_notifier_cleanup(&q->doorbell);
    q->doorbell_fd = false;
}

/* Check a queue's ring registers; *bad gets the offending value. */
static bool dmalab_ring_config_ok(DmalabState *s, DmalabQueue *q,
                                  uint64_t *bad)
{
    uint32_t max = 1u << DMALAB_RING_ORDER_MAX;
    uint64_t ring_bytes = (uint64_t)q->size * sizeof(struct dmalab_desc);
    uint64_t cpl_bytes = (uint64_t)q->size * sizeof(struct dmalab_cpl);

    *bad = q->size;
    if (q->size < (1u << DMALAB_RING_ORDER_MIN) || q->size > max ||
        !is_power_of_2(q->size)) {
        return false;
    }
    *bad = q->ring_base;
    if ((q->ring_base & (sizeof(struct dmalab_desc) - 1)) ||
        !dmalab_addr_fits(s, q->ring_base, ring_bytes)) {
        return false;
    }
    *bad = q->cpl_base;
    if ((q->cpl_base & (sizeof(struct dmalab_cpl) - 1)) ||
        !dmalab_addr_fits(s, q->cpl_base, cpl_bytes)) {
        return false;
    }
    *bad = q->shadow_base;
    return !q->shadow_base ||
           (!(q->shadow_base & (sizeof(uint32_t) - 1)) &&
            dmalab_addr_fits(s, q->shadow_base, sizeof(uint32_t)));
}

static void dmalab_queue_ctrl(DmalabQueue *q, uint32_t val)
{
    DmalabState *s = q->dev;

    if (val & DMALAB_QCTRL_RESET) {
        trace_dmalab_queue_reset(q->index);
        dmalab_queue_quiesce(q);
        dmalab_doorbell_fd_stop(q);
        dmalab_queue_clear(q);
        return;
    }
    if ((val & DMALAB_QCTRL_ENABLE) && !q->enabled) {
        uint64_t bad;

        if (!dmalab_ring_config_ok(s, q, &bad)) {
            dmalab_error(s, q->index, 0, DMALAB_STS_RING_CONFIG, bad);
            return;
        }
        /* Enabling starts from an empty ring, whatever came before. */
        dmalab_queue_clear(q);
        q->enabled = true;
        dmalab_doorbell_fd_start(q);
        trace_dmalab_queue_enable(q->index, q->size, q->ring_base,
                                  q->cpl_base);
    } else if (!(val & DMALAB_QCTRL_ENABLE) && q->enabled) {
        dmalab_queue_quiesce(q);
        dmalab_doorbell_fd_stop(q);
        q->enabled = false;
        trace_dmalab_queue_disable(q->index);
    }
}

/* Ring configuration registers may change only while the queue is off. */
static bool dmalab_queue_cfg_writable(DmalabQueue *q, hwaddr reg)
{
    if (!q->enabled) {
        return true;
    }
    dmalab_error(q->dev, q->index, reg, DMALAB_STS_BUSY, reg);
    return false;
}

static void dmalab_queue_write(DmalabQueue *q, hwaddr reg, uint32_t val)
{
    switch (reg) {
    case DMALAB_Q_RING_LO:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->ring_base = deposit64(q->ring_base, 0, 32, val);
        }
        break;
    case DMALAB_Q_RING_HI:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->ring_base = deposit64(q->ring_base, 32, 32, val);
        }
        break;
    case DMALAB_Q_CPL_LO:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->cpl_base = deposit64(q->cpl_base, 0, 32, val);
        }
        break;
    case DMALAB_Q_CPL_HI:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->cpl_base = deposit64(q->cpl_base, 32, 32, val);
        }
        break;
    case DMALAB_Q_RING_SIZE:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->size = val;
        }
        break;
    case DMALAB_Q_SHADOW_LO:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->shadow_base = deposit64(q->shadow_base, 0, 32, val);
        }
        break;
    case DMALAB_Q_SHADOW_HI:
        if (dmalab_queue_cfg_writable(q, reg)) {
            q->shadow_base = deposit64(q->shadow_base, 32, 32, val);
        }
        break;
    case DMALAB_Q_TAIL:
        dmalab_doorbell(q, val);
        break;
    case DMALAB_Q_CTRL:
        dmalab_queue_ctrl(q, val);
        break;
    case DMALAB_Q_COAL_COUNT:
        q->coal_count = val;
        break;
    case DMALAB_Q_COAL_USEC:
        q->coal_usec = val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab: write to read-only or undefined queue %u "
                      "register 0x%" HWADDR_PRIx "\n", q->index, reg);
        trace_dmalab_ub_reg_write(DMALAB_QREG(q->index, reg), val);
        break;
    }
}

static uint32_t dmalab_queue_read(DmalabQueue *q, hwaddr reg)
{
    switch (reg) {
    case DMALAB_Q_RING_LO:
        return extract64(q->ring_base, 0, 32);
    case DMALAB_Q_RING_HI:
        return extract64(q->ring_base, 32, 32);
    case DMALAB_Q_RING_SIZE:
        return q->size;
    case DMALAB_Q_TAIL:
        return q->tail;
    case DMALAB_Q_HEAD:
        return q->head;
    case DMALAB_Q_CTRL:
        return q->enabled ? DMALAB_QCTRL_ENABLE : 0;
    case DMALAB_Q_CPL_LO:
        return extract64(q->cpl_base, 0, 32);
    case DMALAB_Q_CPL_HI:
        return extract64(q->cpl_base, 32, 32);
    case DMALAB_Q_COAL_COUNT:
        return q->coal_count;
    case DMALAB_Q_COAL_USEC:
        return q->coal_usec;
    case DMALAB_Q_STATUS:
        return (q->enabled ? DMALAB_QSTS_ENABLED : 0) |
               (q->head != q->tail ? DMALAB_QSTS_BUSY : 0) |
               (q->halted ? DMALAB_QSTS_HALTED : 0);
    case DMALAB_Q_ERROR:
        return q->error;
    case DMALAB_Q_SHADOW_LO:
        return extract64(q->shadow_base, 0, 32);
    case DMALAB_Q_SHADOW_HI:
        return extract64(q->shadow_base, 32, 32);
    default:
        return 0;
    }
}

/* ---- Global registers ------------------------------------------------ */

static uint32_t dmalab_cap(DmalabState *s)
{
    return s->num_queues | ((uint32_t)s->dma_bits << 8) |
           (DMALAB_RING_ORDER_MAX << 16);
}

static uint32_t dmalab_features(DmalabState *s)
{
    return (s->use_msix ? DMALAB_FEAT_MSIX : 0) |
           (s->use_msi ? DMALAB_FEAT_MSI : 0) |
           DMALAB_FEAT_SG | DMALAB_FEAT_CRC32C | DMALAB_FEAT_FILL |
           DMALAB_FEAT_COALESCE | DMALAB_FEAT_DEBUG | DMALAB_FEAT_SHADOW_DB;
}

static void dmalab_core_reset_regs(DmalabState *s);

static void dmalab_reset_done(void *opaque)
{
    DmalabState *s = opaque;

    dmalab_core_reset_regs(s);
    trace_dmalab_reset_done();
}

static void dmalab_ctrl_write(DmalabState *s, uint32_t val)
{
    if (val & DMALAB_CTRL_RESET) {
        /* The reset takes a little (virtual) time, observable in STATUS. */
        trace_dmalab_reset_start();
        dmalab_core_quiesce(s);
        s->ctrl = 0;
        s->status = DMALAB_STATUS_RESETTING;
        qemu_bh_cancel(s->bh);
        timer_mod(s->reset_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + DMALAB_RESET_NS);
        return;
    }
    if (s->status & DMALAB_STATUS_RESETTING) {
        dmalab_error(s, DMALAB_ERR_QUEUE_DEVICE, 0, DMALAB_STS_BUSY,
                     DMALAB_REG_CTRL);
        return;
    }
    s->ctrl = val & DMALAB_CTRL_ENABLE;
    if (s->ctrl & DMALAB_CTRL_ENABLE) {
        s->status |= DMALAB_STATUS_READY;
        dmalab_kick(s);
    } else {
        s->status &= ~DMALAB_STATUS_READY;
    }
}

static uint32_t dmalab_stat_lo(DmalabState *s, uint64_t counter)
{
    s->stat_hi_latch = extract64(counter, 32, 32);
    return extract64(counter, 0, 32);
}

static uint32_t dmalab_global_read(DmalabState *s, hwaddr addr)
{
    switch (addr) {
    case DMALAB_REG_ID:
        return DMALAB_ID_MAGIC;
    case DMALAB_REG_VERSION:
        return DMALAB_VERSION;
    case DMALAB_REG_CAP:
        return dmalab_cap(s);
    case DMALAB_REG_FEATURES:
        return dmalab_features(s);
    case DMALAB_REG_DEVMEM_SIZE_LO:
        return extract64(s->devmem_size, 0, 32);
    case DMALAB_REG_DEVMEM_SIZE_HI:
        return extract64(s->devmem_size, 32, 32);
    case DMALAB_REG_MAX_XFER:
        return DMALAB_MAX_XFER;
    case DMALAB_REG_CTRL:
        return s->ctrl;
    case DMALAB_REG_STATUS:
        return s->status;
    case DMALAB_REG_INTR_CAUSE:
        return s->intr_cause;
    case DMALAB_REG_INTR_MASK:
        return s->intr_mask;
    case DMALAB_REG_ERR_QUEUE:
        return s->err_queue;
    case DMALAB_REG_ERR_INDEX:
        return s->err_index;
    case DMALAB_REG_ERR_CODE:
        return s->err_code;
    case DMALAB_REG_ERR_ADDR_LO:
        return extract64(s->err_addr, 0, 32);
    case DMALAB_REG_ERR_ADDR_HI:
        return extract64(s->err_addr, 32, 32);
    case DMALAB_REG_ERR_COUNT:
        return s->err_count;
    /*
     * Reading a counter's LO half latches its HI half, so LO-then-HI reads
     * give one consistent 64-bit value while the engine keeps counting.
     */
    case DMALAB_REG_STAT_BYTES_LO:
        return dmalab_stat_lo(s, s->stat_bytes);
    case DMALAB_REG_STAT_DESCS_LO:
        return dmalab_stat_lo(s, s->stat_descs);
    case DMALAB_REG_STAT_ERRORS_LO:
        return dmalab_stat_lo(s, s->stat_errors);
    case DMALAB_REG_STAT_IRQS_LO:
        return dmalab_stat_lo(s, s->stat_irqs);
    case DMALAB_REG_STAT_BYTES_HI:
    case DMALAB_REG_STAT_DESCS_HI:
    case DMALAB_REG_STAT_ERRORS_HI:
    case DMALAB_REG_STAT_IRQS_HI:
        return s->stat_hi_latch;
    case DMALAB_REG_DBG_FAIL_NTH:
        return s->dbg_fail_nth;
    case DMALAB_REG_DBG_FAIL_STATUS:
        return s->dbg_fail_status;
    case DMALAB_REG_DBG_IRQ_MODE:
        return s->dbg_irq_mode;
    case DMALAB_REG_DBG_IRQ_COUNT:
        return s->dbg_irq_count;
    case DMALAB_REG_DBG_IRQ_DELAY_US:
        return s->dbg_irq_delay_us;
    case DMALAB_REG_DBG_STALL:
        return s->dbg_stall;
    case DMALAB_REG_DBG_CORRUPT_NTH:
        return s->dbg_corrupt_nth;
    case DMALAB_REG_DBG_CORRUPT_OFFSET:
        return s->dbg_corrupt_offset;
    case DMALAB_REG_DBG_LAST_ADDR_LO:
        return extract64(s->dbg_last_addr, 0, 32);
    case DMALAB_REG_DBG_LAST_ADDR_HI:
        return extract64(s->dbg_last_addr, 32, 32);
    default:
        return 0;
    }
}

static void dmalab_global_write(DmalabState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case DMALAB_REG_CTRL:
        dmalab_ctrl_write(s, val);
        break;
    case DMALAB_REG_INTR_CAUSE:
        s->intr_cause &= ~val;
        dmalab_update_intx(s);
        break;
    case DMALAB_REG_INTR_MASK: {
        uint32_t unmasked = s->intr_mask & ~val;

        s->intr_mask = val;
        dmalab_update_intx(s);
        /* A cause that was held back by the mask fires when unmasked. */
        if (s->intr_cause & unmasked & DMALAB_INTR_ERROR) {
            dmalab_notify(s, DMALAB_INTR_ERROR,
                          DMALAB_MSIX_ERR_VECTOR(s->num_queues));
        }
        for (unsigned i = 0; i < s->num_queues; i++) {
            if (s->intr_cause & unmasked & DMALAB_INTR_QUEUE(i)) {
                dmalab_notify(s, DMALAB_INTR_QUEUE(i), i);
            }
        }
        break;
    }
    case DMALAB_REG_ERR_CLEAR:
        s->err_queue = s->err_index = s->err_code = 0;
        s->err_addr = 0;
        s->err_count = 0;
        s->status &= ~DMALAB_STATUS_ERROR;
        break;
    case DMALAB_REG_STATS_CLEAR:
        s->stat_bytes = s->stat_descs = s->stat_errors = s->stat_irqs = 0;
        break;
    case DMALAB_REG_DBG_FAIL_NTH:
        s->dbg_fail_nth = val;
        break;
    case DMALAB_REG_DBG_FAIL_STATUS:
        if (val == DMALAB_STS_OK || val > UINT16_MAX) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "dmalab: injected status 0x%x is not a failure\n",
                          val);
            break;
        }
        s->dbg_fail_status = val;
        break;
    case DMALAB_REG_DBG_IRQ_MODE:
        if (val > DMALAB_DBG_IRQ_DUP) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "dmalab: undefined debug irq mode %u\n", val);
            break;
        }
        s->dbg_irq_mode = val;
        break;
    case DMALAB_REG_DBG_IRQ_COUNT:
        s->dbg_irq_count = val;
        break;
    case DMALAB_REG_DBG_IRQ_DELAY_US:
        s->dbg_irq_delay_us = val;
        break;
    case DMALAB_REG_DBG_STALL:
        s->dbg_stall = val;
        dmalab_kick(s);
        break;
    case DMALAB_REG_DBG_DEAD:
        if (val == DMALAB_DBG_DEAD_MAGIC) {
            trace_dmalab_dead();
            dmalab_core_quiesce(s);
            s->dbg_dead = true;
            s->epoch++;
        }
        break;
    case DMALAB_REG_DBG_CORRUPT_NTH:
        s->dbg_corrupt_nth = val;
        break;
    case DMALAB_REG_DBG_CORRUPT_OFFSET:
        s->dbg_corrupt_offset = val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab: write to read-only or undefined register 0x%"
                      HWADDR_PRIx "\n", addr);
        trace_dmalab_ub_reg_write(addr, val);
        break;
    }
}

uint64_t dmalab_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    DmalabState *s = opaque;
    uint32_t val = 0;

    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab: %u-byte read at 0x%" HWADDR_PRIx
                      " (registers are 32-bit)\n", size, addr);
        trace_dmalab_ub_access(addr, size);
        return UINT64_MAX;
    }
    if (dmalab_offline(s)) {
        /* Emulated surprise removal or D3hot: reads see no device. */
        return UINT32_MAX;
    }
    if (addr >= DMALAB_QUEUE_BASE) {
        hwaddr rel = addr - DMALAB_QUEUE_BASE;
        uint32_t qi = rel / DMALAB_QUEUE_STRIDE;

        if (qi < s->num_queues) {
            val = dmalab_queue_read(&s->queues[qi], rel % DMALAB_QUEUE_STRIDE);
        }
    } else {
        val = dmalab_global_read(s, addr);
    }
    trace_dmalab_mmio_read(addr, val);
    return val;
}

void dmalab_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                       unsigned size)
{
    DmalabState *s = opaque;

    trace_dmalab_mmio_write(addr, val);
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab: %u-byte write at 0x%" HWADDR_PRIx
                      " (registers are 32-bit)\n", size, addr);
        trace_dmalab_ub_access(addr, size);
        return;
    }
    if (dmalab_offline(s)) {
        return;
    }
    if (addr >= DMALAB_QUEUE_BASE) {
        hwaddr rel = addr - DMALAB_QUEUE_BASE;
        uint32_t qi = rel / DMALAB_QUEUE_STRIDE;

        if (qi >= s->num_queues) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "dmalab: write to absent queue %u\n", qi);
            trace_dmalab_ub_reg_write(addr, val);
            return;
        }
        dmalab_queue_write(&s->queues[qi], rel % DMALAB_QUEUE_STRIDE, val);
        return;
    }
    dmalab_global_write(s, addr, val);
}

uint64_t dmalab_pio_read(void *opaque, hwaddr addr, unsigned size)
{
    DmalabState *s = opaque;

    if (dmalab_offline(s)) {
        return UINT32_MAX;
    }
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR, "dmalab: %u-byte port read at 0x%"
                      HWADDR_PRIx " (ports are 32-bit)\n", size, addr);
        trace_dmalab_ub_access(addr, size);
        return UINT32_MAX;
    }
    switch (addr) {
    case DMALAB_PIO_ID:
        return DMALAB_ID_MAGIC;
    case DMALAB_PIO_VERSION:
        return DMALAB_VERSION;
    case DMALAB_PIO_QSEL:
        return s->pio_qsel;
    case DMALAB_PIO_TAIL:
        return s->pio_qsel < s->num_queues ? s->queues[s->pio_qsel].tail : 0;
    case DMALAB_PIO_DOORBELLS:
        return s->pio_doorbells;
    default:
        return 0;
    }
}

void dmalab_pio_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    DmalabState *s = opaque;

    if (dmalab_offline(s)) {
        return;
    }
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR, "dmalab: %u-byte port write at 0x%"
                      HWADDR_PRIx " (ports are 32-bit)\n", size, addr);
        trace_dmalab_ub_access(addr, size);
        return;
    }
    switch (addr) {
    case DMALAB_PIO_QSEL:
        s->pio_qsel = val;
        break;
    case DMALAB_PIO_TAIL:
        s->pio_doorbells++;
        if (s->pio_qsel >= s->num_queues) {
            dmalab_error(s, DMALAB_ERR_QUEUE_DEVICE, val,
                         DMALAB_STS_BAD_DOORBELL, s->pio_qsel);
            break;
        }
        dmalab_doorbell(&s->queues[s->pio_qsel], val);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "dmalab: write to read-only or "
                      "undefined port 0x%" HWADDR_PRIx "\n", addr);
        break;
    }
}

/* ---- Life cycle ------------------------------------------------------ */

void dmalab_core_init(DmalabState *s)
{
    for (unsigned i = 0; i < DMALAB_MAX_QUEUES; i++) {
        DmalabQueue *q = &s->queues[i];

        q->index = i;
        q->dev = s;
        q->coal_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, dmalab_coal_timer, q);
    }
    s->bh = qemu_bh_new_guarded(dmalab_bh, s,
                                &DEVICE(s)->mem_reentrancy_guard);
    s->work_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, dmalab_work_timer, s);
    s->reset_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, dmalab_reset_done, s);
    s->irq_delay_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                      dmalab_irq_delay_timer, s);
    s->jobs = g_new0(DmalabJob, DMALAB_WORKER_JOBS);
    for (unsigned i = 0; i < DMALAB_WORKER_JOBS; i++) {
        s->jobs[i].segs = g_array_new(false, false, sizeof(DmalabSeg));
        s->jobs[i].maps = g_array_new(false, false, sizeof(DmalabMapping));
    }
    if (s->use_worker) {
        s->worker = dmalab_worker_new(dmalab_job_done, s,
                                      &DEVICE(s)->mem_reentrancy_guard,
                                      s->worker_delay_us);
    }
}

void dmalab_core_uninit(DmalabState *s)
{
    dmalab_core_quiesce(s);
    if (s->worker) {
        dmalab_worker_free(s->worker);
        s->worker = NULL;
    }
    for (unsigned i = 0; i < DMALAB_WORKER_JOBS; i++) {
        g_array_free(s->jobs[i].segs, true);
        g_array_free(s->jobs[i].maps, true);
    }
    g_free(s->jobs);
    s->jobs = NULL;
    for (unsigned i = 0; i < DMALAB_MAX_QUEUES; i++) {
        dmalab_doorbell_fd_stop(&s->queues[i]);
        timer_free(s->queues[i].coal_timer);
    }
    qemu_bh_delete(s->bh);
    timer_free(s->work_timer);
    timer_free(s->reset_timer);
    timer_free(s->irq_delay_timer);
}

/* The faults armed at start-up by properties, armed again on each reset. */
static void dmalab_debug_reset(DmalabState *s)
{
    s->dbg_fail_nth = s->fault.fail_nth;
    s->dbg_fail_status = s->fault.fail_status;
    s->dbg_irq_mode = s->fault.irq_mode;
    s->dbg_irq_count = s->fault.irq_count;
    s->dbg_irq_delay_us = s->fault.irq_delay_us;
    s->dbg_stall = s->fault.stall;
    s->dbg_corrupt_nth = s->fault.corrupt_nth;
    s->dbg_corrupt_offset = s->fault.corrupt_offset;
    s->dbg_dead = false;
    s->dbg_last_addr = 0;
    s->dbg_delayed_causes = 0;
    timer_del(s->irq_delay_timer);
}

/*
 * Everything back to power-on values; device memory keeps its contents.
 * A register-requested reset leaves the debug block alone, so a test can
 * arm a fault and then reset the device; system reset and FLR re-arm it
 * from the properties and revive a "removed" device.
 */
static void dmalab_core_reset_regs(DmalabState *s)
{
    dmalab_core_quiesce(s);
    s->epoch++;
    qemu_bh_cancel(s->bh);
    timer_del(s->work_timer);
    timer_del(s->reset_timer);
    /* Interrupts held back by a delay fault belong to the old state. */
    timer_del(s->irq_delay_timer);
    s->dbg_delayed_causes = 0;
    for (unsigned i = 0; i < DMALAB_MAX_QUEUES; i++) {
        dmalab_queue_reset(&s->queues[i]);
    }
    s->ctrl = 0;
    s->status = 0;
    s->intr_cause = 0;
    s->intr_mask = 0;
    s->pio_qsel = 0;
    s->pio_doorbells = 0;
    s->err_queue = s->err_index = s->err_code = s->err_count = 0;
    s->err_addr = 0;
    s->stat_bytes = s->stat_descs = s->stat_errors = s->stat_irqs = 0;
    s->stat_hi_latch = 0;
    dmalab_update_intx(s);
}

/* D3hot: the function goes offline with its state kept. */
void dmalab_core_power_down(DmalabState *s)
{
    dmalab_core_quiesce(s);
    s->d3hot = true;
    s->epoch++;
    dmalab_update_intx(s);
}

void dmalab_core_reset(DmalabState *s)
{
    dmalab_debug_reset(s);
    dmalab_core_reset_regs(s);
}

/*
 * The invariants the engine relies on.  A disabled queue's registers take
 * any value (RING_SIZE is checked only at enable, and disabling keeps HEAD
 * and TAIL), so they are not checked; an enabled queue passed the enable
 * checks and its doorbells were bounded by its size.  Queues beyond the
 * queue count cannot be touched by a guest at all.
 */
static bool dmalab_queue_state_ok(DmalabState *s, DmalabQueue *q)
{
    uint64_t bad;

    if (!q->enabled) {
        return true;
    }
    if (q->index >= s->num_queues || !dmalab_ring_config_ok(s, q, &bad)) {
        return false;
    }
    return q->head < q->size && q->tail < q->size;
}

bool dmalab_core_post_load(DmalabState *s)
{
    /* loadvm on a running machine: a copy of the old state is given up. */
    dmalab_core_quiesce(s);
    for (unsigned i = 0; i < DMALAB_MAX_QUEUES; i++) {
        if (!dmalab_queue_state_ok(s, &s->queues[i])) {
            error_report("dmalab: queue %u: migrated state is inconsistent",
                         i);
            return false;
        }
    }
    for (unsigned i = 0; i < DMALAB_MAX_QUEUES; i++) {
        DmalabQueue *q = &s->queues[i];

        if (!q->enabled) {
            dmalab_doorbell_fd_stop(q);
            continue;
        }
        dmalab_doorbell_fd_start(q); /* the source served its last ones */
    }
    /* Bottom halves are not migrated: restart work that was in flight. */
    dmalab_kick(s);
    return true;
}
