/*
 * dmalab: what differs between the QEMU versions the device builds in
 *
 * The device is written for QEMU master.  Each block below maps one API of
 * master onto the older versions that lack it (Debian 12's 7.2 is the
 * oldest), so that no version test appears anywhere else.  Only the QOM
 * glue, dmalab-pci.c and dmalab-isa.c, includes this file; the patch
 * series for upstream (scripts/qemu-patches.sh) leaves it out, and each
 * macro below becomes the plain expression it wraps (or nothing).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_DMALAB_COMPAT_H
#define HW_MISC_DMALAB_COMPAT_H

#include "hw/qdev-core.h"
#include "hw/resettable.h"

#define DMALAB_QEMU_BEFORE(major, minor)                                 \
    (QEMU_VERSION_MAJOR < (major) ||                                     \
     (QEMU_VERSION_MAJOR == (major) && QEMU_VERSION_MINOR < (minor)))

/*
 * 10.0 moved the system emulators' headers from sysemu/ to system/.  The
 * series puts the last branch's includes where this file's include was.
 */
#if DMALAB_QEMU_BEFORE(10, 0)
#include "sysemu/runstate.h"
#else
#include "system/runstate.h"
#endif

/*
 * 10.1 made class_init's data pointer const.  Before that, TypeInfo takes
 * the same function through a pointer whose parameter is not const: both
 * are pointers, passed alike on every host QEMU supports.
 */
#if DMALAB_QEMU_BEFORE(10, 1)
#define DMALAB_CLASS_INIT(fn) ((void (*)(ObjectClass *, void *))(fn))
#else
#define DMALAB_CLASS_INIT(fn) (fn)
#endif

/*
 * 9.0 gave reset phases the type of the reset.  Before that the hold
 * phase takes the object alone: DMALAB_UNTYPED_RESET_HOLD(fn), placed after
 * a hold phase, defines a wrapper that passes the cold reset it is, and
 * DMALAB_RESET_HOLD(fn) names it.
 */
#if DMALAB_QEMU_BEFORE(9, 0)
#define DMALAB_UNTYPED_RESET_HOLD(fn)                                    \
    static void fn##_untyped(Object *obj)                                \
    {                                                                    \
        fn(obj, RESET_TYPE_COLD);                                        \
    }
#define DMALAB_RESET_HOLD(fn) fn##_untyped
#else
#define DMALAB_UNTYPED_RESET_HOLD(fn)
#define DMALAB_RESET_HOLD(fn) (fn)
#endif

/* 8.0 named the ISA bus's DMA lookup after the bus. */
#if DMALAB_QEMU_BEFORE(8, 0)
#define isa_bus_get_dma(bus, nchan) isa_get_dma(bus, nchan)
#endif

/*
 * 9.2 sized property arrays (no DEFINE_PROP_END_OF_LIST) and made them
 * const.  Before that, device_class_set_props() wants a terminated,
 * mutable array: give it a copy with the terminator, which lives as long
 * as the class does.
 */
#if DMALAB_QEMU_BEFORE(9, 2)
static inline void dmalab_class_set_props(DeviceClass *dc,
                                          const Property *props, size_t n)
{
    Property *terminated = g_new0(Property, n + 1);

    memcpy(terminated, props, n * sizeof(*props));
    (device_class_set_props)(dc, terminated);
}
#define device_class_set_props(dc, props) \
    dmalab_class_set_props(dc, props, ARRAY_SIZE(props))
#endif

#endif
