/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * dmalab hardware interface: the one description of the device.
 *
 * The QEMU device model, the Linux driver, the qtests and the guest tests all
 * include this file.  Each checks the layouts below at compile time
 * (QEMU_BUILD_BUG_ON, BUILD_BUG_ON, _Static_assert).  docs/spec.md describes
 * exactly what is defined here; change both together, and bump
 * DMALAB_VERSION_MAJOR when a change is incompatible.
 *
 * All multi-byte fields, in registers and in guest memory, are little endian.
 */
#ifndef DMALAB_HW_H
#define DMALAB_HW_H

/*
 * Each includer picks its own spelling of the little-endian types: the
 * kernel's __le types keep sparse's endianness checks, everyone else sees
 * plain fixed-width integers.
 */
#ifdef __KERNEL__
#include <linux/types.h>
typedef __le16 dmalab_le16;
typedef __le32 dmalab_le32;
typedef __le64 dmalab_le64;
#else
#include <stdint.h>
typedef uint16_t dmalab_le16;
typedef uint32_t dmalab_le32;
typedef uint64_t dmalab_le64;
#endif

/* ---- PCI identity --------------------------------------------------- */

#define DMALAB_PCI_VENDOR_ID            0x1234
#define DMALAB_PCI_DEVICE_ID            0xdab0
#define DMALAB_PCI_SUBSYS_VENDOR_ID     0x1234
#define DMALAB_PCI_SUBSYS_ID            0x0001
#define DMALAB_PCI_CLASS                0x0801 /* system peripheral: DMA */
#define DMALAB_PCI_REVISION             0x01

/* BAR numbers */
#define DMALAB_BAR_REGS                 0 /* MMIO control registers */
#define DMALAB_BAR_MSIX                 1 /* MSI-X table and PBA */
#define DMALAB_BAR_DEVMEM               2 /* 64-bit prefetchable memory */
#define DMALAB_BAR_PIO                  4 /* I/O ports */

#define DMALAB_REGS_SIZE                0x2000
#define DMALAB_PIO_SIZE                 0x20

/* ---- Interface version ---------------------------------------------- */

#define DMALAB_VERSION_MAJOR            1
#define DMALAB_VERSION_MINOR            3
#define DMALAB_VERSION \
    ((DMALAB_VERSION_MAJOR << 16) | DMALAB_VERSION_MINOR)

/* Value of DMALAB_REG_ID: "DMAL" */
#define DMALAB_ID_MAGIC                 0x444d414cu

/* ---- BAR0 global registers (32-bit access only) ---------------------- */

#define DMALAB_REG_ID                   0x000 /* RO magic */
#define DMALAB_REG_VERSION              0x004 /* RO major << 16 | minor */

#define DMALAB_REG_CAP                  0x008 /* RO */
#define   DMALAB_CAP_NUM_QUEUES(v)      ((v) & 0xff)
#define   DMALAB_CAP_DMA_BITS(v)        (((v) >> 8) & 0x7f)
#define   DMALAB_CAP_RING_ORDER_MAX(v)  (((v) >> 16) & 0x1f)

#define DMALAB_REG_FEATURES             0x00c /* RO feature bits */
#define   DMALAB_FEAT_MSIX              (1u << 0)
#define   DMALAB_FEAT_MSI               (1u << 1)
#define   DMALAB_FEAT_SG                (1u << 2)
#define   DMALAB_FEAT_CRC32C            (1u << 3)
#define   DMALAB_FEAT_FILL              (1u << 4)
#define   DMALAB_FEAT_COALESCE          (1u << 5)
#define   DMALAB_FEAT_DEBUG             (1u << 6) /* debug block present */
#define   DMALAB_FEAT_SHADOW_DB         (1u << 7) /* Q_SHADOW tails (1.3) */

#define DMALAB_REG_DEVMEM_SIZE_LO       0x010 /* RO device-memory BAR size */
#define DMALAB_REG_DEVMEM_SIZE_HI       0x014
#define DMALAB_REG_MAX_XFER             0x018 /* RO max bytes per descriptor */

#define DMALAB_REG_CTRL                 0x020 /* RW */
#define   DMALAB_CTRL_ENABLE            (1u << 0)
#define   DMALAB_CTRL_RESET             (1u << 1) /* write 1: device reset */

#define DMALAB_REG_STATUS               0x024 /* RO */
#define   DMALAB_STATUS_READY           (1u << 0) /* enabled and running */
#define   DMALAB_STATUS_RESETTING       (1u << 1) /* reset in progress */
#define   DMALAB_STATUS_ERROR           (1u << 2) /* error log is valid */

/*
 * Interrupt cause: bit q for a completion on queue q, DMALAB_INTR_ERROR for
 * an error.  Write 1 to clear.  With MSI-X each cause has its own vector
 * (queue q uses vector q, errors use vector DMALAB_MSIX_ERR_VECTOR(nq)) and
 * the cause register is informational; with MSI or INTx the driver reads it
 * to find the source.
 */
#define DMALAB_REG_INTR_CAUSE           0x030 /* RW1C */
#define DMALAB_REG_INTR_MASK            0x034 /* RW, 1 = masked */
#define   DMALAB_INTR_QUEUE(q)          (1u << (q))
#define   DMALAB_INTR_ERROR             (1u << 31)
#define DMALAB_MSIX_ERR_VECTOR(nq)      (nq)
/*
 * The MSI-X table always has this many entries, whatever the queue count;
 * only vectors 0..num_queues are ever signalled.
 */
#define DMALAB_MSIX_TABLE_SIZE          (DMALAB_MAX_QUEUES + 1)

/* Error log: the most recent error; ERR_COUNT counts all of them. */
#define DMALAB_REG_ERR_QUEUE            0x040
#define DMALAB_REG_ERR_INDEX            0x044
#define DMALAB_REG_ERR_CODE             0x048
#define DMALAB_REG_ERR_ADDR_LO          0x04c
#define DMALAB_REG_ERR_ADDR_HI          0x050
#define DMALAB_REG_ERR_COUNT            0x054
#define DMALAB_REG_ERR_CLEAR            0x058 /* WO: any write clears */

/* Statistics: 64-bit counters read as LO then HI; STATS_CLEAR zeroes all. */
#define DMALAB_REG_STAT_BYTES_LO        0x080
#define DMALAB_REG_STAT_BYTES_HI        0x084
#define DMALAB_REG_STAT_DESCS_LO        0x088
#define DMALAB_REG_STAT_DESCS_HI        0x08c
#define DMALAB_REG_STAT_ERRORS_LO       0x090
#define DMALAB_REG_STAT_ERRORS_HI       0x094
#define DMALAB_REG_STAT_IRQS_LO         0x098
#define DMALAB_REG_STAT_IRQS_HI         0x09c
#define DMALAB_REG_STATS_CLEAR          0x0a0 /* WO */

/*
 * Debug block: fault injection and introspection for driver testing.
 * TEST-ONLY: not part of the device's normal function; a production driver
 * never touches it.  The same faults can be armed at start-up through
 * device properties (see docs/spec.md).
 */
#define DMALAB_REG_DBG_FAIL_NTH         0x200 /* fail the Nth descriptor */
#define DMALAB_REG_DBG_FAIL_STATUS      0x204 /* ... with this status */
#define DMALAB_REG_DBG_IRQ_MODE         0x208 /* DMALAB_DBG_IRQ_* */
#define   DMALAB_DBG_IRQ_NORMAL         0
#define   DMALAB_DBG_IRQ_DROP           1 /* lose the interrupt */
#define   DMALAB_DBG_IRQ_DELAY          2 /* deliver it IRQ_DELAY_US late */
#define   DMALAB_DBG_IRQ_DUP            3 /* deliver it twice */
#define DMALAB_REG_DBG_IRQ_COUNT        0x20c /* faults left, 0 = unlimited */
#define DMALAB_REG_DBG_IRQ_DELAY_US     0x210
#define DMALAB_REG_DBG_STALL            0x214 /* bit q: queue q stalls */
#define DMALAB_REG_DBG_DEAD             0x218 /* write DEAD_MAGIC: removal */
#define   DMALAB_DBG_DEAD_MAGIC         0xdeadu
#define DMALAB_REG_DBG_CORRUPT_NTH      0x21c /* corrupt the Nth transfer */
#define DMALAB_REG_DBG_CORRUPT_OFFSET   0x220 /* ... at this byte */
#define DMALAB_REG_DBG_LAST_ADDR_LO     0x230 /* last host bus address */
#define DMALAB_REG_DBG_LAST_ADDR_HI     0x234 /* the engine accessed */

/* ---- Per-queue register blocks --------------------------------------- */

#define DMALAB_QUEUE_BASE               0x1000
#define DMALAB_QUEUE_STRIDE             0x40
/* Bit 31 of INTR_CAUSE is the error cause, so queues 0..30 at most. */
#define DMALAB_MAX_QUEUES               31
/* ERR_QUEUE of an error that belongs to no queue (device level). */
#define DMALAB_ERR_QUEUE_DEVICE         0xff
#define DMALAB_QREG(q, reg)             (DMALAB_QUEUE_BASE + \
                                         (q) * DMALAB_QUEUE_STRIDE + (reg))

#define DMALAB_Q_RING_LO                0x00 /* descriptor ring bus address */
#define DMALAB_Q_RING_HI                0x04
#define DMALAB_Q_RING_SIZE              0x08 /* entries, power of two */
#define DMALAB_Q_TAIL                   0x0c /* doorbell: producer index */
#define DMALAB_Q_HEAD                   0x10 /* RO: consumer index */
#define DMALAB_Q_CTRL                   0x14
#define   DMALAB_QCTRL_ENABLE           (1u << 0)
#define   DMALAB_QCTRL_RESET            (1u << 1) /* write 1: reset queue */
#define DMALAB_Q_CPL_LO                 0x18 /* completion ring bus address */
#define DMALAB_Q_CPL_HI                 0x1c
#define DMALAB_Q_COAL_COUNT             0x20 /* irq after N completions */
#define DMALAB_Q_COAL_USEC              0x24 /* ... or T microseconds */
#define DMALAB_Q_STATUS                 0x28 /* RO */
#define   DMALAB_QSTS_ENABLED           (1u << 0)
#define   DMALAB_QSTS_BUSY              (1u << 1) /* descriptors pending */
#define   DMALAB_QSTS_HALTED            (1u << 2) /* stopped by an error */
#define DMALAB_Q_ERROR                  0x2c /* RO: last DMALAB_STS_* */
/*
 * Shadow tail (interface 1.3, DMALAB_FEAT_SHADOW_DB): the bus address of a
 * 32-bit little-endian word in guest memory, 4-byte aligned, where the
 * driver keeps the queue's producer index; 0 = none.  Written while the
 * queue is disabled, checked at enable.  With a shadow tail a doorbell
 * (Q_TAIL or PIO_TAIL) only tells the device to read it, and the value
 * written is ignored, so the device can take Q_TAIL writes as an ioeventfd.
 * The driver updates the word only after the descriptors it covers, since
 * the device may read it at any time.
 */
#define DMALAB_Q_SHADOW_LO              0x30
#define DMALAB_Q_SHADOW_HI              0x34

/* Ring sizes: 2^DMALAB_RING_ORDER_MIN .. 2^ring_order_max entries. */
#define DMALAB_RING_ORDER_MIN           1
#define DMALAB_RING_ORDER_MAX           12

/* ---- I/O-port BAR: a mirror for comparing port I/O with MMIO --------- */

#define DMALAB_PIO_ID                   0x00 /* mirrors DMALAB_REG_ID */
#define DMALAB_PIO_VERSION              0x04 /* mirrors DMALAB_REG_VERSION */
#define DMALAB_PIO_QSEL                 0x08 /* queue for PIO_TAIL */
#define DMALAB_PIO_TAIL                 0x0c /* doorbell of queue QSEL */
#define DMALAB_PIO_DOORBELLS            0x10 /* RO: count of PIO_TAIL writes */

/* ---- Descriptors (in guest memory, 32 bytes each) -------------------- */

enum dmalab_opcode {
    DMALAB_OP_H2D    = 0x01, /* host memory -> device memory */
    DMALAB_OP_D2H    = 0x02, /* device memory -> host memory */
    DMALAB_OP_COPY   = 0x03, /* host memory -> host memory */
    DMALAB_OP_FILL   = 0x04, /* 64-bit pattern in src -> dst */
    DMALAB_OP_CRC32C = 0x05, /* CRC32C of src into completion.result */
};

/* Descriptor flags */
#define DMALAB_DESC_IRQ                 (1u << 0) /* interrupt on completion */
#define DMALAB_DESC_FENCE               (1u << 1) /* after earlier ones */
#define DMALAB_DESC_CHAIN               (1u << 2) /* next one continues op */
#define DMALAB_DESC_SRC_SG              (1u << 3) /* src is an SG table */
#define DMALAB_DESC_DST_SG              (1u << 4) /* dst is an SG table */
#define DMALAB_DESC_FLAGS_VALID         0x1f

struct dmalab_desc {
    uint8_t opcode;           /* enum dmalab_opcode */
    uint8_t flags;            /* DMALAB_DESC_* */
    dmalab_le16 rsvd;         /* must be zero */
    dmalab_le32 len;          /* bytes; 1 .. MAX_XFER */
    dmalab_le64 src;          /* bus address, devmem offset or pattern */
    dmalab_le64 dst;          /* bus address or devmem offset */
    dmalab_le64 cookie;       /* echoed in the completion */
};

/*
 * Scatter-gather table entry (16 bytes).  A table is an array of entries in
 * guest memory; the device walks it until the descriptor's len is covered.
 * An entry with DMALAB_SG_LINK continues at another table (its addr), like
 * the kernel's chained scatterlists.  DMALAB_SG_END marks the last data
 * entry, and a zero-length entry without LINK ends the table too: a walk
 * that needs more bytes after the end completes with DMALAB_STS_SG_SHORT.
 * The walk visits at most DMALAB_SG_MAX_ENTRIES entries, so a table that
 * links to itself ends with DMALAB_STS_SG_LOOP.
 */
#define DMALAB_SG_LINK                  (1u << 0)
#define DMALAB_SG_END                   (1u << 1)
#define DMALAB_SG_FLAGS_VALID           (DMALAB_SG_LINK | DMALAB_SG_END)
#define DMALAB_SG_MAX_ENTRIES           65536

struct dmalab_sg_entry {
    dmalab_le64 addr;
    dmalab_le32 len;
    dmalab_le32 flags;
};

/* ---- Completions (in guest memory, 32 bytes each) -------------------- */

/*
 * The completion for the descriptor in slot i is written to completion slot
 * i.  The phase bit is 1 on the ring's first pass and flips on each wrap, so
 * the driver reaps by phase without reading a register.  The device writes
 * bytes 0..27 first and the status/flags word last.
 */
#define DMALAB_CPL_PHASE                (1u << 0)

struct dmalab_cpl {
    dmalab_le64 cookie;       /* from the descriptor */
    dmalab_le64 err_addr;     /* faulting bus address, if any */
    dmalab_le32 bytes;        /* bytes transferred */
    dmalab_le32 result;       /* CRC32C for DMALAB_OP_CRC32C */
    dmalab_le16 index;        /* descriptor slot */
    dmalab_le16 rsvd;
    dmalab_le16 status;       /* DMALAB_STS_* */
    dmalab_le16 flags;        /* DMALAB_CPL_PHASE */
};

/* ---- Status codes (completion status, Q_ERROR, ERR_CODE) ------------- */

enum dmalab_status {
    DMALAB_STS_OK             = 0x00,
    DMALAB_STS_BAD_OPCODE     = 0x01, /* unknown opcode */
    DMALAB_STS_BAD_LEN        = 0x02, /* zero or above MAX_XFER */
    DMALAB_STS_BAD_FLAGS      = 0x03, /* undefined flag or reserved bits */
    DMALAB_STS_DEVMEM_RANGE   = 0x04, /* offset + len beyond device memory */
    DMALAB_STS_DMA_READ       = 0x05, /* host read failed (fault, unmapped) */
    DMALAB_STS_DMA_WRITE      = 0x06, /* host write failed */
    DMALAB_STS_ADDR_WIDTH     = 0x07, /* address beyond dma-bits */
    DMALAB_STS_SELF_DMA       = 0x08, /* address hits the device's own BARs */
    DMALAB_STS_SG_LOOP        = 0x09, /* SG walk exceeded its entry bound */
    DMALAB_STS_SG_SHORT       = 0x0a, /* SG_END entry before len covered */
    DMALAB_STS_RING_CONFIG    = 0x0b, /* bad ring size or base */
    DMALAB_STS_BAD_DOORBELL   = 0x0c, /* tail beyond the ring */
    DMALAB_STS_BUSY           = 0x0d, /* register written while busy */
    DMALAB_STS_ABORTED        = 0x0e, /* chain aborted by earlier error */
    DMALAB_STS_BUS_MASTER     = 0x0f, /* bus mastering disabled */
    DMALAB_STS_INJECTED       = 0x10, /* fault injection default status */
};

/* ---- dmalab-isa: the ISA device ------------------------------------- */

/*
 * A small ISA device that moves data between its own 64 KiB memory and
 * guest memory through the PC's 8237 DMA controller (one channel, set by a
 * property, 0-3 for 8-bit or 5-7 for 16-bit transfers).  Eight I/O ports
 * at its base (a property, default 0x300), each 8 bits wide; registers of
 * two ports are little endian.  docs/spec.md, "The ISA device", tells the
 * whole protocol.
 */
#define DMALAB_ISA_IO_SIZE              8
#define DMALAB_ISA_MEM_SIZE             0x10000
#define DMALAB_ISA_ID_MAGIC             0xda

#define DMALAB_ISA_REG_CTRL             0x0 /* RW */
#define   DMALAB_ISA_CTRL_START         (1u << 0) /* W: start a transfer */
#define   DMALAB_ISA_CTRL_TO_HOST       (1u << 1) /* device -> memory */
#define   DMALAB_ISA_CTRL_IRQ_EN        (1u << 2) /* interrupt on DONE */
#define   DMALAB_ISA_CTRL_ABORT         (1u << 3) /* W: stop a transfer */
#define   DMALAB_ISA_CTRL_MASK          0x07u /* bits that read back */
#define DMALAB_ISA_REG_STATUS           0x1 /* RO; W1C on DONE */
#define   DMALAB_ISA_STAT_BUSY          (1u << 0) /* DREQ is held */
#define   DMALAB_ISA_STAT_DONE          (1u << 1) /* ended; IRQ while set */
#define   DMALAB_ISA_STAT_WRAPPED       (1u << 2) /* auto-init reloaded */
#define   DMALAB_ISA_STAT_ERR_SHIFT     4 /* bits 7:4, DMALAB_ISA_ERR_* */
#define   DMALAB_ISA_STAT_ERR(s)        (((s) >> 4) & 0xf)
#define DMALAB_ISA_REG_LEN              0x2 /* RW, 2 ports: bytes - 1 */
#define DMALAB_ISA_REG_OFFSET           0x4 /* RW, 2 ports: device memory */
#define DMALAB_ISA_REG_ID               0x6 /* RO: DMALAB_ISA_ID_MAGIC */
#define DMALAB_ISA_REG_CONFIG           0x7 /* RO: bits 2:0 channel, */
#define   DMALAB_ISA_CONFIG_DMA(c)      ((c) & 0x7) /* 7:4 IRQ line */
#define   DMALAB_ISA_CONFIG_IRQ(c)      (((c) >> 4) & 0xf)

/* Why a transfer ended, in STATUS bits 7:4 */
enum dmalab_isa_error {
    DMALAB_ISA_ERR_OK           = 0x0,
    DMALAB_ISA_ERR_RANGE        = 0x1, /* offset + length beyond 64 KiB */
    DMALAB_ISA_ERR_ALIGN        = 0x2, /* odd offset or length, 16-bit */
    DMALAB_ISA_ERR_COUNT        = 0x3, /* count ended, no auto-init */
    DMALAB_ISA_ERR_BUSY         = 0x4, /* START while busy */
    DMALAB_ISA_ERR_ABORTED      = 0x5, /* stopped by CTRL_ABORT */
};

#endif /* DMALAB_HW_H */
