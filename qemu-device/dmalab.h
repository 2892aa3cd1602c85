/*
 * dmalab: an emulated PCI DMA engine for driver development and teaching
 *
 * Internal state shared by the PCI glue (dmalab-pci.c) and the engine
 * (dmalab-core.c).  The guest-visible interface lives in
 * include/hw/misc/dmalab_hw.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_DMALAB_H
#define HW_MISC_DMALAB_H

#include "hw/pci/pci.h"
#include "qemu/event_notifier.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qom/object.h"
#include "hw/misc/dmalab_hw.h"
#include "dmalab-worker.h"

#define TYPE_DMALAB "dmalab"
OBJECT_DECLARE_SIMPLE_TYPE(DmalabState, DMALAB)

/* Largest transfer one descriptor may describe (reported in MAX_XFER). */
#define DMALAB_MAX_XFER            (64 * MiB)

/* Bounce buffer for host-to-host moves; the engine copies in these chunks. */
#define DMALAB_CHUNK               (64 * KiB)

/*
 * Work budget of one engine pass, so that a guest with full rings cannot
 * keep the main loop busy: at most this many descriptors or bytes before
 * the pass yields and reschedules itself.
 */
#define DMALAB_PASS_DESCS          64
#define DMALAB_PASS_BYTES          (8 * MiB)

/*
 * Transfers of at least this many bytes copy in the device's copy thread
 * (dmalab-worker.c), outside the BQL; shorter ones cost less in place.
 */
#define DMALAB_WORKER_MIN          (256 * KiB)

/* Virtual time a register-requested device reset takes. */
#define DMALAB_RESET_NS            (10 * SCALE_US)

typedef struct DmalabJob DmalabJob;

typedef struct DmalabQueue {
    uint32_t index;
    bool enabled;
    bool halted;
    bool phase;              /* phase written into the next completion */
    uint64_t ring_base;
    uint64_t cpl_base;
    uint32_t size;           /* entries, 0 until configured */
    uint32_t head;           /* next descriptor the device consumes */
    uint32_t tail;           /* producer index from the doorbell */
    uint32_t error;          /* last DMALAB_STS_* of this queue */
    uint32_t coal_count;
    uint32_t coal_usec;
    uint32_t coal_pending;   /* completions waiting for an interrupt */
    int64_t ready_at;        /* throttled model: head may run at this time */
    uint32_t jobs;           /* descriptors from the head in the copy threads */
    uint32_t job_next;       /* the slot behind them, while there are any */
    uint64_t copy_wait;      /* head waits for the copy threads: its turn */
    uint64_t shadow_base;    /* bus address of the shadow tail, 0 = none */
    EventNotifier doorbell;  /* Q_TAIL writes as an ioeventfd ... */
    bool doorbell_fd;        /* ... while this is set */

    /* State of a descriptor chain in progress (DMALAB_DESC_CHAIN). */
    bool in_chain;
    bool chain_failed;
    uint32_t chain_len;
    uint32_t chain_crc;

    QEMUTimer *coal_timer;
    struct DmalabState *dev;
} DmalabQueue;

struct DmalabState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    MemoryRegion devmem;
    MemoryRegion pio;
    MemoryRegion msix_bar;
    uint8_t *devmem_ptr;

    QEMUBH *bh;
    QEMUTimer *work_timer;   /* throttled model: wake when a queue is ready */
    QEMUTimer *reset_timer;  /* completes a register-requested reset */
    QEMUTimer *irq_delay_timer; /* fault injection: late interrupts */
    DmalabWorker *worker;    /* the copy threads, NULL with copy-thread=off */
    DmalabJob *jobs;         /* the descriptors it copies for, a ring ... */
    unsigned job_first;      /* ... of DMALAB_WORKER_JOBS, oldest here, */
    unsigned job_count;      /* ... this many held */
    uint64_t copy_turns;     /* turns handed to heads waiting for room */
    VMChangeStateEntry *vm_state; /* finishes that copy when the VM stops */
    bool vm_stopped;         /* copies stay in place while it is */

    /* Global registers */
    uint32_t ctrl;
    uint32_t status;
    uint32_t intr_cause;
    uint32_t intr_mask;
    uint32_t pio_qsel;
    uint32_t pio_doorbells;  /* PIO_TAIL writes, so the port path shows */

    /* Error log */
    uint32_t err_queue;
    uint32_t err_index;
    uint32_t err_code;
    uint64_t err_addr;
    uint32_t err_count;

    /* Statistics */
    uint64_t stat_bytes;
    uint64_t stat_descs;
    uint64_t stat_errors;
    uint64_t stat_irqs;
    uint32_t stat_hi_latch;  /* HI half latched by the last *_LO read */

    /* Debug block (fault injection), loaded from the properties on reset */
    uint32_t dbg_fail_nth;
    uint32_t dbg_fail_status;
    uint32_t dbg_irq_mode;
    uint32_t dbg_irq_count;
    uint32_t dbg_irq_delay_us;
    uint32_t dbg_stall;
    bool dbg_dead;
    uint32_t dbg_corrupt_nth;
    uint32_t dbg_corrupt_offset;
    uint64_t dbg_last_addr;
    uint32_t dbg_delayed_causes; /* causes held back by IRQ_DELAY */

    /* PCI power management: D3hot, kept in step with the PMCSR */
    bool d3hot;
    /*
     * Bumped by every reset, D3hot and emulated removal: code that signals
     * an interrupt compares it before and after, since the interrupt may
     * have changed the function (not migrated: it is compared only within
     * one call).
     */
    uint32_t epoch;

    DmalabQueue queues[DMALAB_MAX_QUEUES];
    uint8_t chunk[DMALAB_CHUNK];

    /* Properties */
    uint32_t num_queues;
    uint64_t devmem_size;
    uint8_t dma_bits;
    bool use_msix;
    bool use_msi;
    bool use_worker;         /* large copies outside the BQL */
    bool use_ioeventfd;      /* shadow-tail doorbells as ioeventfds */
    uint32_t worker_delay_us; /* tests: a copy stays in flight this long */
    uint64_t bandwidth;      /* bytes per second, 0 = unthrottled */
    uint64_t latency_ns;     /* per descriptor */
    struct {
        uint32_t fail_nth;
        uint32_t fail_status;
        uint32_t irq_mode;
        uint32_t irq_count;
        uint32_t irq_delay_us;
        uint32_t stall;
        uint32_t corrupt_nth;
        uint32_t corrupt_offset;
    } fault;                 /* fault-injection properties */
};

/* May the function master the bus (PCI_COMMAND.MASTER)? */
static inline bool dmalab_bus_master(PCIDevice *pdev)
{
    return pci_get_word(pdev->config + PCI_COMMAND) & PCI_COMMAND_MASTER;
}

/* dmalab-core.c: registers and engine */
uint64_t dmalab_mmio_read(void *opaque, hwaddr addr, unsigned size);
void dmalab_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                       unsigned size);
uint64_t dmalab_pio_read(void *opaque, hwaddr addr, unsigned size);
void dmalab_pio_write(void *opaque, hwaddr addr, uint64_t val, unsigned size);
void dmalab_core_init(DmalabState *s);
void dmalab_core_reset(DmalabState *s);
void dmalab_core_power_down(DmalabState *s);
void dmalab_core_uninit(DmalabState *s);
bool dmalab_core_post_load(DmalabState *s);
void dmalab_core_quiesce(DmalabState *s);
void dmalab_core_vm_state(DmalabState *s, bool running);
void dmalab_bh(void *opaque);


#endif /* HW_MISC_DMALAB_H */
