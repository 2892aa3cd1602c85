/*
 * dmalab: an emulated PCI DMA engine for driver development and teaching
 *
 * This file is the QOM/PCI glue: properties, BARs, interrupts, reset and
 * migration.  The registers and the engine are in dmalab-core.c.
 *
 * Usage:
 *
 *   -device dmalab[,queues=<1..31>][,devmem-size=<bytes>][,dma-bits=<n>]
 *                 [,msix=on|off][,msi=on|off]
 *                 [,bandwidth=<bytes/s>][,latency=<ns>]
 *
 *   queues       number of DMA queues (default 4, at most 31)
 *   devmem-size  size of the device-memory BAR, a power of two from 4 KiB
 *                to 1 GiB (default 1 MiB)
 *   dma-bits     addresses the engine can emit, 24..64 (default 64); a
 *                descriptor beyond that completes with DMALAB_STS_ADDR_WIDTH
 *   msix, msi    offer MSI-X / MSI (default on); turn off to test a
 *                driver's fallback to MSI or INTx
 *   bandwidth    throttle each queue to this many bytes per second of
 *                virtual time (default 0: unthrottled)
 *   latency      add this many nanoseconds per descriptor (default 0)
 *
 * Test-only fault injection, armed at start-up and again on every system
 * reset or FLR (the debug registers change them at run time):
 *
 *   fail-nth=N, fail-status=S     the Nth descriptor completes with S
 *   irq-fault=0|1|2|3             interrupts normal, dropped, delayed or
 *   irq-fault-count=N             duplicated, for N of them (0 = all)
 *   irq-delay-us=T                the delay of a delayed interrupt
 *   stall-queues=MASK             the engine does not serve these queues
 *   corrupt-nth=N, corrupt-offset=B  flip byte B of the Nth transfer
 *
 * The device is a PCIe endpoint when plugged into a PCIe bus (q35) and a
 * conventional PCI device otherwise (-M pc).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/range.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "dmalab.h"
#include "dmalab-compat.h"
#include "trace.h"

QEMU_BUILD_BUG_ON(sizeof(struct dmalab_desc) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_cpl) != 32);
QEMU_BUILD_BUG_ON(sizeof(struct dmalab_sg_entry) != 16);
QEMU_BUILD_BUG_ON(offsetof(struct dmalab_cpl, status) != 28);
QEMU_BUILD_BUG_ON(DMALAB_QREG(DMALAB_MAX_QUEUES, 0) > DMALAB_REGS_SIZE);

#define DMALAB_PCIE_CAP_OFFSET  0x80
#define DMALAB_MSI_CAP_OFFSET   0x60
#define DMALAB_PM_CAP_OFFSET    0xc0
/* PowerState values of the PMCSR */
#define DMALAB_PM_D0            0
#define DMALAB_PM_D1            1
#define DMALAB_PM_D2            2
#define DMALAB_PM_D3HOT         3
#define DMALAB_MSIX_BAR_SIZE    0x1000

static const MemoryRegionOps dmalab_mmio_ops = {
    .read = dmalab_mmio_read,
    .write = dmalab_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /*
     * Odd widths reach the handlers, which reject them like hardware.
     * (TCG itself splits a misaligned load into aligned ones first.)
     */
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    /* ...unsplit: an 8-byte access must not become two 4-byte ones. */
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

static const MemoryRegionOps dmalab_pio_ops = {
    .read = dmalab_pio_read,
    .write = dmalab_pio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Every width reaches the handlers, which accept only 32 bits. */
    .valid = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
};

static bool dmalab_check_params(DmalabState *s, Error **errp)
{
    if (s->num_queues < 1 || s->num_queues > DMALAB_MAX_QUEUES) {
        error_setg(errp, "queues must be between 1 and %d",
                   DMALAB_MAX_QUEUES);
        return false;
    }
    if (s->devmem_size < 4 * KiB || s->devmem_size > 1 * GiB ||
        !is_power_of_2(s->devmem_size)) {
        error_setg(errp, "devmem-size must be a power of two between 4 KiB "
                   "and 1 GiB");
        return false;
    }
    if (s->fault.fail_status == DMALAB_STS_OK ||
        s->fault.fail_status > UINT16_MAX) {
        error_setg(errp, "fail-status must be a non-zero 16-bit status");
        return false;
    }
    if (s->fault.irq_mode > DMALAB_DBG_IRQ_DUP) {
        error_setg(errp, "irq-fault must be 0 (normal), 1 (drop), "
                   "2 (delay) or 3 (duplicate)");
        return false;
    }
    /* Below 24 bits no kernel could give the device a usable DMA mask. */
    if (s->dma_bits < 24 || s->dma_bits > 64) {
        error_setg(errp, "dma-bits must be between 24 and 64");
        return false;
    }
    return true;
}

static bool dmalab_init_irqs(DmalabState *s, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    /* one per queue and one for errors, signalled from a fixed-size table */
    unsigned nvec = s->num_queues + 1;
    Error *err = NULL;

    pdev->config[PCI_INTERRUPT_PIN] = 1;

    if (s->use_msi &&
        msi_init(pdev, DMALAB_MSI_CAP_OFFSET, 1, true, false, &err) < 0) {
        error_propagate(errp, err);
        return false;
    }
    if (s->use_msix) {
        memory_region_init(&s->msix_bar, OBJECT(s), "dmalab-msix",
                           DMALAB_MSIX_BAR_SIZE);
        /*
         * Every dmalab has a table of the same size: a guest reprogramming
         * BARs while another vCPU still holds a stale TLB entry for a
         * sibling's table then stays within bounds (QEMU's MSI-X code
         * asserts on an access past the table).
         */
        if (msix_init(pdev, DMALAB_MSIX_TABLE_SIZE, &s->msix_bar,
                      DMALAB_BAR_MSIX, 0,
                      &s->msix_bar, DMALAB_BAR_MSIX,
                      DMALAB_MSIX_BAR_SIZE / 2, 0, errp) < 0) {
            return false;
        }
        pci_register_bar(pdev, DMALAB_BAR_MSIX, PCI_BASE_ADDRESS_SPACE_MEMORY,
                         &s->msix_bar);
        /* Every vector can fire at any time: mark them all in use. */
        for (unsigned v = 0; v < nvec; v++) {
            msix_vector_use(pdev, v);
        }
    }
    return true;
}

static void dmalab_init_bars(DmalabState *s, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    memory_region_init_io(&s->mmio, OBJECT(s), &dmalab_mmio_ops, s,
                          "dmalab-regs", DMALAB_REGS_SIZE);
    pci_register_bar(pdev, DMALAB_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->mmio);

    memory_region_init_ram(&s->devmem, OBJECT(s), "dmalab-devmem",
                           s->devmem_size, errp);
    s->devmem_ptr = memory_region_get_ram_ptr(&s->devmem);
    pci_register_bar(pdev, DMALAB_BAR_DEVMEM,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->devmem);

    memory_region_init_io(&s->pio, OBJECT(s), &dmalab_pio_ops, s,
                          "dmalab-pio", DMALAB_PIO_SIZE);
    pci_register_bar(pdev, DMALAB_BAR_PIO, PCI_BASE_ADDRESS_SPACE_IO,
                     &s->pio);
}

static void dmalab_init_pci_ids(PCIDevice *pdev)
{
    uint8_t *conf = pdev->config;

    pci_set_word(conf + PCI_SUBSYSTEM_VENDOR_ID, DMALAB_PCI_SUBSYS_VENDOR_ID);
    pci_set_word(conf + PCI_SUBSYSTEM_ID, DMALAB_PCI_SUBSYS_ID);
}

/*
 * PCI power management: D0 and D3hot.  NoSoftReset is clear, so the
 * transition from D3hot to D0 resets the function: the function reset of
 * a conventional PCI device, which has no FLR (the kernel's "pm" reset
 * method).  In D3hot the function is offline like a removed one.
 */
static bool dmalab_init_pm(PCIDevice *pdev, Error **errp)
{
    if (pci_add_capability(pdev, PCI_CAP_ID_PM, DMALAB_PM_CAP_OFFSET,
                           PCI_PM_SIZEOF, errp) < 0) {
        return false;
    }
    /* version 3 (PCI PM 1.2); no D1, D2 or PME */
    pci_set_word(pdev->config + DMALAB_PM_CAP_OFFSET + PCI_PM_PMC, 3);
    pci_set_word(pdev->wmask + DMALAB_PM_CAP_OFFSET + PCI_PM_CTRL,
                 PCI_PM_CTRL_STATE_MASK);
    return true;
}

static uint16_t dmalab_pm_state(PCIDevice *pdev)
{
    return pci_get_word(pdev->config + DMALAB_PM_CAP_OFFSET + PCI_PM_CTRL) &
           PCI_PM_CTRL_STATE_MASK;
}

static void dmalab_pm_set_state(PCIDevice *pdev, uint16_t state)
{
    uint8_t *pmcsr = pdev->config + DMALAB_PM_CAP_OFFSET + PCI_PM_CTRL;

    pci_set_word(pmcsr, (pci_get_word(pmcsr) & ~PCI_PM_CTRL_STATE_MASK) |
                 state);
}

static void dmalab_pm_write_config(PCIDevice *pdev, uint16_t old)
{
    DmalabState *s = DMALAB(pdev);
    uint16_t state = dmalab_pm_state(pdev);

    if (state == old) {
        return;
    }
    if (state == DMALAB_PM_D1 || state == DMALAB_PM_D2) {
        /* unsupported states are not entered */
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab: power state D%u is not supported\n", state);
        dmalab_pm_set_state(pdev, old);
        return;
    }
    trace_dmalab_power_state(old, state);
    if (state == DMALAB_PM_D3HOT) {
        dmalab_core_power_down(s);
        return;
    }
    /* D3hot -> D0: the function resets (and the reset clears d3hot) */
    pci_device_reset(pdev);
}

/* Config writes: the PCI core, plus the PM state and the PCIe FLR bit. */
static void dmalab_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                int len)
{
    uint16_t pm_old = dmalab_pm_state(pdev);

    pci_default_write_config(pdev, addr, val, len);
    if (ranges_overlap(addr, len, PCI_COMMAND, 2) &&
        !dmalab_bus_master(pdev)) {
        /* bus mastering off: the copy in progress stops before this ends */
        dmalab_core_quiesce(DMALAB(pdev));
    }
    if (ranges_overlap(addr, len, DMALAB_PM_CAP_OFFSET + PCI_PM_CTRL, 2)) {
        dmalab_pm_write_config(pdev, pm_old);
    }
    if (pci_is_express(pdev)) {
        pcie_cap_flr_write_config(pdev, addr, val, len);
    }
}

static DeviceRealize dmalab_parent_dc_realize;

/*
 * A hybrid device must say it is PCI Express before the PCI core sizes its
 * config space, i.e. before the PCI realize: do it when on a PCIe bus.
 */
static void dmalab_dc_realize(DeviceState *qdev, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(qdev);

    if (pci_bus_is_express(pci_get_bus(pdev))) {
        pdev->cap_present |= QEMU_PCI_CAP_EXPRESS;
    }
    dmalab_parent_dc_realize(qdev, errp);
}

static void dmalab_vm_state_change(void *opaque, bool running,
                                   RunState state)
{
    dmalab_core_vm_state(opaque, running);
}

static void dmalab_realize(PCIDevice *pdev, Error **errp)
{
    ERRP_GUARD();
    DmalabState *s = DMALAB(pdev);

    if (!dmalab_check_params(s, errp)) {
        return;
    }
    dmalab_init_pci_ids(pdev);
    if (!dmalab_init_pm(pdev, errp)) {
        return;
    }
    if (pci_bus_is_express(pci_get_bus(pdev))) {
        if (pcie_endpoint_cap_init(pdev, DMALAB_PCIE_CAP_OFFSET) < 0) {
            error_setg(errp, "cannot add the PCIe capability");
            return;
        }
        pcie_cap_flr_init(pdev);
    }
    dmalab_init_bars(s, errp);
    if (*errp) {
        return;
    }
    if (!dmalab_init_irqs(s, errp)) {
        return;
    }
    dmalab_core_init(s);
    dmalab_core_reset(s);
    s->vm_state = qemu_add_vm_change_state_handler(dmalab_vm_state_change, s);
}

static void dmalab_exit(PCIDevice *pdev)
{
    DmalabState *s = DMALAB(pdev);

    qemu_del_vm_change_state_handler(s->vm_state);
    dmalab_core_uninit(s);
    if (msix_present(pdev)) {
        for (unsigned v = 0; v < s->num_queues + 1; v++) {
            msix_vector_unuse(pdev, v);
        }
        msix_uninit(pdev, &s->msix_bar, &s->msix_bar);
    }
    msi_uninit(pdev);
    if (pci_is_express(pdev)) {
        pcie_cap_exit(pdev);
    }
}

/* System reset, PCIe FLR and the D3hot -> D0 reset all arrive here. */
static void dmalab_reset_hold(Object *obj, ResetType type)
{
    DmalabState *s = DMALAB(obj);

    dmalab_pm_set_state(PCI_DEVICE(s), DMALAB_PM_D0);
    s->d3hot = false;
    dmalab_core_reset(s);
}
DMALAB_UNTYPED_RESET_HOLD(dmalab_reset_hold)

/*
 * Accept every state a guest can reach, and refuse only what no guest
 * could produce (a corrupt or hostile stream): that is left to the core,
 * which knows the queue invariants.
 */
static int dmalab_post_load(void *opaque, int version_id)
{
    DmalabState *s = opaque;

    s->d3hot = dmalab_pm_state(PCI_DEVICE(s)) == DMALAB_PM_D3HOT;
    return dmalab_core_post_load(s) ? 0 : -EINVAL;
}

static bool dmalab_queue_shadow_needed(void *opaque)
{
    DmalabQueue *q = opaque;

    return q->shadow_base != 0;
}

/* Interface 1.3: the shadow tail, sent only by queues that have one. */
static const VMStateDescription vmstate_dmalab_queue_shadow = {
    .name = "dmalab-queue/shadow",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = dmalab_queue_shadow_needed,
    .fields = (VMStateField[]) {
        VMSTATE_UINT64(shadow_base, DmalabQueue),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription *vmstate_dmalab_queue_subsections[] = {
    &vmstate_dmalab_queue_shadow,
    NULL
};

static const VMStateDescription vmstate_dmalab_queue = {
    .name = "dmalab-queue",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_BOOL(enabled, DmalabQueue),
        VMSTATE_BOOL(halted, DmalabQueue),
        VMSTATE_BOOL(phase, DmalabQueue),
        VMSTATE_UINT64(ring_base, DmalabQueue),
        VMSTATE_UINT64(cpl_base, DmalabQueue),
        VMSTATE_UINT32(size, DmalabQueue),
        VMSTATE_UINT32(head, DmalabQueue),
        VMSTATE_UINT32(tail, DmalabQueue),
        VMSTATE_UINT32(error, DmalabQueue),
        VMSTATE_UINT32(coal_count, DmalabQueue),
        VMSTATE_UINT32(coal_usec, DmalabQueue),
        VMSTATE_UINT32(coal_pending, DmalabQueue),
        VMSTATE_INT64(ready_at, DmalabQueue),
        VMSTATE_BOOL(in_chain, DmalabQueue),
        VMSTATE_BOOL(chain_failed, DmalabQueue),
        VMSTATE_UINT32(chain_len, DmalabQueue),
        VMSTATE_UINT32(chain_crc, DmalabQueue),
        VMSTATE_TIMER_PTR(coal_timer, DmalabQueue),
        VMSTATE_END_OF_LIST()
    },
    .subsections = vmstate_dmalab_queue_subsections,
};

static bool dmalab_pio_needed(void *opaque)
{
    DmalabState *s = opaque;

    return s->pio_doorbells != 0;
}

/* Interface 1.2: a subsection, so that a stream without it still loads. */
static const VMStateDescription vmstate_dmalab_pio = {
    .name = TYPE_DMALAB "/pio",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = dmalab_pio_needed,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(pio_doorbells, DmalabState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription *vmstate_dmalab_subsections[] = {
    &vmstate_dmalab_pio,
    NULL
};

static const VMStateDescription vmstate_dmalab = {
    .name = TYPE_DMALAB,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = dmalab_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, DmalabState),
        VMSTATE_MSIX(parent_obj, DmalabState),
        VMSTATE_UINT32(ctrl, DmalabState),
        VMSTATE_UINT32(status, DmalabState),
        VMSTATE_UINT32(intr_cause, DmalabState),
        VMSTATE_UINT32(intr_mask, DmalabState),
        VMSTATE_UINT32(pio_qsel, DmalabState),
        VMSTATE_UINT32(err_queue, DmalabState),
        VMSTATE_UINT32(err_index, DmalabState),
        VMSTATE_UINT32(err_code, DmalabState),
        VMSTATE_UINT64(err_addr, DmalabState),
        VMSTATE_UINT32(err_count, DmalabState),
        VMSTATE_UINT64(stat_bytes, DmalabState),
        VMSTATE_UINT64(stat_descs, DmalabState),
        VMSTATE_UINT64(stat_errors, DmalabState),
        VMSTATE_UINT64(stat_irqs, DmalabState),
        VMSTATE_UINT32(stat_hi_latch, DmalabState),
        VMSTATE_TIMER_PTR(work_timer, DmalabState),
        VMSTATE_TIMER_PTR(reset_timer, DmalabState),
        VMSTATE_TIMER_PTR(irq_delay_timer, DmalabState),
        VMSTATE_UINT32(dbg_fail_nth, DmalabState),
        VMSTATE_UINT32(dbg_fail_status, DmalabState),
        VMSTATE_UINT32(dbg_irq_mode, DmalabState),
        VMSTATE_UINT32(dbg_irq_count, DmalabState),
        VMSTATE_UINT32(dbg_irq_delay_us, DmalabState),
        VMSTATE_UINT32(dbg_stall, DmalabState),
        VMSTATE_BOOL(dbg_dead, DmalabState),
        VMSTATE_UINT32(dbg_corrupt_nth, DmalabState),
        VMSTATE_UINT32(dbg_corrupt_offset, DmalabState),
        VMSTATE_UINT64(dbg_last_addr, DmalabState),
        VMSTATE_UINT32(dbg_delayed_causes, DmalabState),
        VMSTATE_STRUCT_ARRAY(queues, DmalabState, DMALAB_MAX_QUEUES, 1,
                             vmstate_dmalab_queue, DmalabQueue),
        VMSTATE_END_OF_LIST()
    },
    .subsections = vmstate_dmalab_subsections,
};

static const Property dmalab_properties[] = {
    DEFINE_PROP_UINT32("queues", DmalabState, num_queues, 4),
    DEFINE_PROP_SIZE("devmem-size", DmalabState, devmem_size, 1 * MiB),
    DEFINE_PROP_UINT8("dma-bits", DmalabState, dma_bits, 64),
    DEFINE_PROP_BOOL("msix", DmalabState, use_msix, true),
    DEFINE_PROP_BOOL("msi", DmalabState, use_msi, true),
    DEFINE_PROP_BOOL("copy-thread", DmalabState, use_worker, true),
    DEFINE_PROP_BOOL("ioeventfd", DmalabState, use_ioeventfd, true),
    DEFINE_PROP_UINT32("x-copy-delay-us", DmalabState, worker_delay_us, 0),
    DEFINE_PROP_UINT64("bandwidth", DmalabState, bandwidth, 0),
    DEFINE_PROP_UINT64("latency", DmalabState, latency_ns, 0),
    DEFINE_PROP_UINT32("fail-nth", DmalabState, fault.fail_nth, 0),
    DEFINE_PROP_UINT32("fail-status", DmalabState, fault.fail_status,
                       DMALAB_STS_INJECTED),
    DEFINE_PROP_UINT32("irq-fault", DmalabState, fault.irq_mode,
                       DMALAB_DBG_IRQ_NORMAL),
    DEFINE_PROP_UINT32("irq-fault-count", DmalabState, fault.irq_count, 0),
    DEFINE_PROP_UINT32("irq-delay-us", DmalabState, fault.irq_delay_us, 1000),
    DEFINE_PROP_UINT32("stall-queues", DmalabState, fault.stall, 0),
    DEFINE_PROP_UINT32("corrupt-nth", DmalabState, fault.corrupt_nth, 0),
    DEFINE_PROP_UINT32("corrupt-offset", DmalabState, fault.corrupt_offset,
                       0),
};

static void dmalab_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    pc->realize = dmalab_realize;
    pc->config_write = dmalab_write_config;
    pc->exit = dmalab_exit;
    pc->vendor_id = DMALAB_PCI_VENDOR_ID;
    pc->device_id = DMALAB_PCI_DEVICE_ID;
    pc->revision = DMALAB_PCI_REVISION;
    pc->class_id = DMALAB_PCI_CLASS;

    dc->desc = "dmalab PCI DMA engine for driver development";
    rc->phases.hold = DMALAB_RESET_HOLD(dmalab_reset_hold);
    device_class_set_parent_realize(dc, dmalab_dc_realize,
                                    &dmalab_parent_dc_realize);
    dc->vmsd = &vmstate_dmalab;
    device_class_set_props(dc, dmalab_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    object_class_property_set_description(klass, "queues",
        "number of DMA queues (1-31)");
    object_class_property_set_description(klass, "devmem-size",
        "device-memory BAR size, power of two, 4 KiB-1 GiB");
    object_class_property_set_description(klass, "dma-bits",
        "DMA address width in bits (24-64)");
    object_class_property_set_description(klass, "msix",
        "offer MSI-X (one vector per queue plus one for errors)");
    object_class_property_set_description(klass, "msi",
        "offer MSI (a single vector)");
    object_class_property_set_description(klass, "bandwidth",
        "throttle each queue to this many bytes per second (0 = off)");
    object_class_property_set_description(klass, "latency",
        "extra nanoseconds per descriptor (throttled model)");
    object_class_property_set_description(klass, "fail-nth",
        "test only: fail the Nth descriptor (0 = never)");
    object_class_property_set_description(klass, "fail-status",
        "test only: completion status of the failed descriptor");
    object_class_property_set_description(klass, "irq-fault",
        "test only: 0 normal, 1 drop, 2 delay, 3 duplicate interrupts");
    object_class_property_set_description(klass, "irq-fault-count",
        "test only: interrupts the fault applies to (0 = all)");
    object_class_property_set_description(klass, "irq-delay-us",
        "test only: delay of a delayed interrupt in microseconds");
    object_class_property_set_description(klass, "stall-queues",
        "test only: bit mask of queues the engine does not serve");
    object_class_property_set_description(klass, "corrupt-nth",
        "test only: corrupt one byte of the Nth transfer (0 = never)");
    object_class_property_set_description(klass, "corrupt-offset",
        "test only: offset of the corrupted byte in that transfer");
}

static const TypeInfo dmalab_info = {
    .name = TYPE_DMALAB,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(DmalabState),
    .class_init = DMALAB_CLASS_INIT(dmalab_class_init),
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void dmalab_register_types(void)
{
    type_register_static(&dmalab_info);
}

type_init(dmalab_register_types)
