/*
 * dmalab-isa: an ISA device that moves data through the PC's 8237
 *
 * A teaching companion of the PCI engine for the last section of the
 * classic DMA chapter: a device that is not a bus master, whose every
 * transfer the 8237 DMA controller (QEMU's i8257) performs on its behalf.
 * The driver programs the controller's channel (mode, address, count) and
 * then the device (direction, length, offset in its own 64 KiB memory);
 * the device raises DREQ and the controller moves the bytes.
 *
 * Usage:
 *
 *   -device dmalab-isa[,iobase=<port>][,irq=<0..15>][,dma=<0..3|5..7>]
 *
 *   iobase  the first of its eight I/O ports (default 0x300)
 *   irq     its ISA interrupt line (default 5)
 *   dma     its 8237 channel (default 1): 0-3 move bytes, 5-7 words
 *
 * What real ISA hardware cannot do ends the transfer with an error code
 * in STATUS, the interrupt and a LOG_GUEST_ERROR line: a range beyond the
 * device's memory, an odd offset or length on a 16-bit channel, and a
 * channel whose count ends (without auto-init) before the device's length.
 * The 16 MiB and 64 KiB limits are the controller's: its page register
 * holds address bits 23:16 and does not count, so the driver must keep
 * each transfer below 16 MiB and inside one 64 KiB (16-bit: 128 KiB) page.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/irq.h"
#include "hw/isa/isa.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "hw/misc/dmalab_hw.h"
#include "dmalab-compat.h"
#include "trace.h"

#define TYPE_DMALAB_ISA "dmalab-isa"
OBJECT_DECLARE_SIMPLE_TYPE(DmalabIsaState, DMALAB_ISA)

struct DmalabIsaState {
    ISADevice parent_obj;

    /* properties */
    uint32_t iobase;
    uint32_t isairq;
    uint32_t dma;

    MemoryRegion io;
    qemu_irq irq;
    IsaDma *isa_dma;

    /* registers */
    uint8_t ctrl;
    uint8_t status;
    uint16_t len;               /* bytes - 1 */
    uint16_t offset;
    /* progress of the running transfer */
    uint32_t done;
    uint8_t mem[DMALAB_ISA_MEM_SIZE];
};

static bool dmalab_isa_busy(DmalabIsaState *s)
{
    return s->status & DMALAB_ISA_STAT_BUSY;
}

static bool dmalab_isa_wide(DmalabIsaState *s)
{
    return s->dma > 3;
}

static void dmalab_isa_update_irq(DmalabIsaState *s)
{
    qemu_set_irq(s->irq, (s->status & DMALAB_ISA_STAT_DONE) &&
                         (s->ctrl & DMALAB_ISA_CTRL_IRQ_EN));
}

/* End the transfer: drop DREQ, latch why, interrupt. */
static void dmalab_isa_finish(DmalabIsaState *s, enum dmalab_isa_error err)
{
    IsaDmaClass *k = ISADMA_GET_CLASS(s->isa_dma);

    if (dmalab_isa_busy(s)) {
        k->release_DREQ(s->isa_dma, s->dma);
    }
    s->status = (s->status & DMALAB_ISA_STAT_WRAPPED) | DMALAB_ISA_STAT_DONE |
                err << DMALAB_ISA_STAT_ERR_SHIFT;
    trace_dmalab_isa_done(err, s->done);
    dmalab_isa_update_irq(s);
}

static void dmalab_isa_refuse(DmalabIsaState *s, enum dmalab_isa_error err,
                              const char *why)
{
    qemu_log_mask(LOG_GUEST_ERROR, "dmalab-isa: %s (offset 0x%x length %u)\n",
                  why, s->offset, s->len + 1u);
    dmalab_isa_finish(s, err);
}

static void dmalab_isa_start(DmalabIsaState *s, uint8_t ctrl)
{
    IsaDmaClass *k = ISADMA_GET_CLASS(s->isa_dma);
    uint32_t total = s->len + 1u;

    s->ctrl = ctrl & DMALAB_ISA_CTRL_MASK;
    s->status = 0;
    s->done = 0;
    trace_dmalab_isa_start(s->ctrl, s->offset, total);
    if (s->offset + total > DMALAB_ISA_MEM_SIZE) {
        dmalab_isa_refuse(s, DMALAB_ISA_ERR_RANGE,
                          "transfer beyond the device's memory");
        return;
    }
    if (dmalab_isa_wide(s) && ((s->offset | total) & 1)) {
        dmalab_isa_refuse(s, DMALAB_ISA_ERR_ALIGN,
                          "odd offset or length on a 16-bit channel");
        return;
    }
    s->status = DMALAB_ISA_STAT_BUSY;
    dmalab_isa_update_irq(s);
    k->hold_DREQ(s->isa_dma, s->dma);
    k->schedule(s->isa_dma);
}

/*
 * The controller serves the channel: @pos bytes of its block of @size are
 * done.  Move what is left of the device's length, up to the block's end,
 * and return the new position; at the end of the block, auto-init starts
 * the block again (position 0) and without it the channel is spent.
 */
static int dmalab_isa_transfer(void *opaque, int nchan, int pos, int size)
{
    DmalabIsaState *s = opaque;
    IsaDmaClass *k = ISADMA_GET_CLASS(s->isa_dma);
    bool autoinit = k->has_autoinitialization(s->isa_dma, nchan);
    uint32_t total = s->len + 1u;
    uint8_t *buf = s->mem + s->offset + s->done;
    int n;

    if (!dmalab_isa_busy(s)) {
        return pos;
    }
    if (pos >= size) {
        if (autoinit) {
            return 0;
        }
        dmalab_isa_refuse(s, DMALAB_ISA_ERR_COUNT,
                          "the channel's count ended before the length");
        return pos;
    }
    n = MIN(total - s->done, (uint32_t)(size - pos));
    if (s->ctrl & DMALAB_ISA_CTRL_TO_HOST) {
        k->write_memory(s->isa_dma, nchan, buf, pos, n);
    } else {
        k->read_memory(s->isa_dma, nchan, buf, pos, n);
    }
    trace_dmalab_isa_transfer(nchan, pos, size, n);
    s->done += n;
    pos += n;
    if (s->done == total) {
        dmalab_isa_finish(s, DMALAB_ISA_ERR_OK);
    }
    if (pos == size && autoinit) {
        s->status |= DMALAB_ISA_STAT_WRAPPED;
        return 0;
    }
    if (pos == size && dmalab_isa_busy(s)) {
        dmalab_isa_refuse(s, DMALAB_ISA_ERR_COUNT,
                          "the channel's count ended before the length");
    }
    return pos;
}

static uint64_t dmalab_isa_read(void *opaque, hwaddr addr, unsigned size)
{
    DmalabIsaState *s = opaque;
    uint8_t val = 0;

    switch (addr) {
    case DMALAB_ISA_REG_CTRL:
        val = s->ctrl;
        break;
    case DMALAB_ISA_REG_STATUS:
        val = s->status;
        break;
    case DMALAB_ISA_REG_LEN:
    case DMALAB_ISA_REG_LEN + 1:
        val = s->len >> (8 * (addr - DMALAB_ISA_REG_LEN));
        break;
    case DMALAB_ISA_REG_OFFSET:
    case DMALAB_ISA_REG_OFFSET + 1:
        val = s->offset >> (8 * (addr - DMALAB_ISA_REG_OFFSET));
        break;
    case DMALAB_ISA_REG_ID:
        val = DMALAB_ISA_ID_MAGIC;
        break;
    case DMALAB_ISA_REG_CONFIG:
        val = s->dma | s->isairq << 4;
        break;
    }
    trace_dmalab_isa_io_read(addr, val);
    return val;
}

static void dmalab_isa_write(void *opaque, hwaddr addr, uint64_t val,
                             unsigned size)
{
    DmalabIsaState *s = opaque;
    unsigned shift;

    trace_dmalab_isa_io_write(addr, val);
    if (dmalab_isa_busy(s) && addr != DMALAB_ISA_REG_CTRL &&
        addr != DMALAB_ISA_REG_STATUS) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab-isa: port +%u written while busy, ignored\n",
                      (unsigned)addr);
        return;
    }
    switch (addr) {
    case DMALAB_ISA_REG_CTRL:
        if (dmalab_isa_busy(s)) {
            if (val & DMALAB_ISA_CTRL_ABORT) {
                dmalab_isa_finish(s, DMALAB_ISA_ERR_ABORTED);
            } else {
                qemu_log_mask(LOG_GUEST_ERROR, "dmalab-isa: CTRL 0x%x "
                              "written while busy, ignored\n", (unsigned)val);
            }
        } else if (val & DMALAB_ISA_CTRL_START) {
            dmalab_isa_start(s, val);
        } else {
            s->ctrl = val & DMALAB_ISA_CTRL_MASK;
            dmalab_isa_update_irq(s);
        }
        break;
    case DMALAB_ISA_REG_STATUS:
        s->status &= ~(val & (DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED));
        if (!(s->status & DMALAB_ISA_STAT_DONE)) {
            s->status &= ~(0xfu << DMALAB_ISA_STAT_ERR_SHIFT);
        }
        dmalab_isa_update_irq(s);
        break;
    case DMALAB_ISA_REG_LEN:
    case DMALAB_ISA_REG_LEN + 1:
        shift = 8 * (addr - DMALAB_ISA_REG_LEN);
        s->len = (s->len & ~(0xffu << shift)) | (val & 0xff) << shift;
        break;
    case DMALAB_ISA_REG_OFFSET:
    case DMALAB_ISA_REG_OFFSET + 1:
        shift = 8 * (addr - DMALAB_ISA_REG_OFFSET);
        s->offset = (s->offset & ~(0xffu << shift)) | (val & 0xff) << shift;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dmalab-isa: read-only port +%u written\n",
                      (unsigned)addr);
        break;
    }
}

static const MemoryRegionOps dmalab_isa_ops = {
    .read = dmalab_isa_read,
    .write = dmalab_isa_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 1,
    },
};

static void dmalab_isa_realize(DeviceState *dev, Error **errp)
{
    DmalabIsaState *s = DMALAB_ISA(dev);
    ISADevice *isadev = ISA_DEVICE(dev);
    IsaDmaClass *k;

    if (s->iobase > 0x10000 - DMALAB_ISA_IO_SIZE) {
        error_setg(errp, "iobase 0x%x: the eight ports must end by 0xffff",
                   s->iobase);
        return;
    }
    if (s->isairq > 15) {
        error_setg(errp, "irq %u: ISA has lines 0 to 15", s->isairq);
        return;
    }
    if (s->dma > 7 || s->dma == 4) {
        error_setg(errp, "dma %u: channels are 0-3 and 5-7 (4 cascades)",
                   s->dma);
        return;
    }
    s->isa_dma = isa_bus_get_dma(isa_bus_from_device(isadev), s->dma);
    if (!s->isa_dma) {
        error_setg(errp, "this machine's ISA bus has no 8237 for channel %u",
                   s->dma);
        return;
    }
    k = ISADMA_GET_CLASS(s->isa_dma);
    k->register_channel(s->isa_dma, s->dma, dmalab_isa_transfer, s);
    memory_region_init_io(&s->io, OBJECT(dev), &dmalab_isa_ops, s,
                          "dmalab-isa", DMALAB_ISA_IO_SIZE);
    isa_register_ioport(isadev, &s->io, s->iobase);
    s->irq = isa_get_irq(isadev, s->isairq);
}

static void dmalab_isa_reset_hold(Object *obj, ResetType type)
{
    DmalabIsaState *s = DMALAB_ISA(obj);

    if (dmalab_isa_busy(s)) {
        ISADMA_GET_CLASS(s->isa_dma)->release_DREQ(s->isa_dma, s->dma);
    }
    s->ctrl = 0;
    s->status = 0;
    s->len = 0;
    s->offset = 0;
    s->done = 0;
    qemu_irq_lower(s->irq);
}
DMALAB_UNTYPED_RESET_HOLD(dmalab_isa_reset_hold)

/*
 * Every register value is one a guest can reach, except a running
 * transfer that would leave the device's memory: refuse that stream.
 * The controller does not migrate its DREQ lines: a running transfer
 * raises its own again.
 */
static int dmalab_isa_post_load(void *opaque, int version_id)
{
    DmalabIsaState *s = opaque;

    if (!dmalab_isa_busy(s)) {
        return 0;
    }
    if (s->offset + s->len + 1u > DMALAB_ISA_MEM_SIZE ||
        s->done > s->len + 1u) {
        return -EINVAL;
    }
    ISADMA_GET_CLASS(s->isa_dma)->hold_DREQ(s->isa_dma, s->dma);
    return 0;
}

static const VMStateDescription vmstate_dmalab_isa = {
    .name = TYPE_DMALAB_ISA,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = dmalab_isa_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_UINT8(ctrl, DmalabIsaState),
        VMSTATE_UINT8(status, DmalabIsaState),
        VMSTATE_UINT16(len, DmalabIsaState),
        VMSTATE_UINT16(offset, DmalabIsaState),
        VMSTATE_UINT32(done, DmalabIsaState),
        VMSTATE_UINT8_ARRAY(mem, DmalabIsaState, DMALAB_ISA_MEM_SIZE),
        VMSTATE_END_OF_LIST()
    },
};

static const Property dmalab_isa_properties[] = {
    DEFINE_PROP_UINT32("iobase", DmalabIsaState, iobase, 0x300),
    DEFINE_PROP_UINT32("irq", DmalabIsaState, isairq, 5),
    DEFINE_PROP_UINT32("dma", DmalabIsaState, dma, 1),
};

static void dmalab_isa_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    dc->realize = dmalab_isa_realize;
    dc->desc = "dmalab ISA device served by the 8237 DMA controller";
    rc->phases.hold = DMALAB_RESET_HOLD(dmalab_isa_reset_hold);
    dc->vmsd = &vmstate_dmalab_isa;
    device_class_set_props(dc, dmalab_isa_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    object_class_property_set_description(klass, "iobase",
        "first of the eight I/O ports");
    object_class_property_set_description(klass, "irq",
        "ISA interrupt line (0-15)");
    object_class_property_set_description(klass, "dma",
        "8237 channel: 0-3 (8-bit) or 5-7 (16-bit)");
}

static const TypeInfo dmalab_isa_info = {
    .name = TYPE_DMALAB_ISA,
    .parent = TYPE_ISA_DEVICE,
    .instance_size = sizeof(DmalabIsaState),
    .class_init = DMALAB_CLASS_INIT(dmalab_isa_class_init),
};

static void dmalab_isa_register_types(void)
{
    type_register_static(&dmalab_isa_info);
}

type_init(dmalab_isa_register_types)
