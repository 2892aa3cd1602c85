// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: the device floor, which every other part of the driver builds
 * on: the module parameters (validated), 64-bit register reads, the
 * device structure's lifetime and number, and the request slab cache.
 * Nothing here calls into the queue engine, the buffers or the clients.
 */

#include <linux/idr.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/stringify.h>

#include "dmalab.h"

/* A uint parameter with bounds: kp->arg points to a dmalab_uint_param. */
struct dmalab_uint_param {
	unsigned int *val;
	unsigned int min;
	unsigned int max;
};

static int dmalab_param_set_uint(const char *val,
				 const struct kernel_param *kp)
{
	const struct dmalab_uint_param *p = kp->arg;
	struct kernel_param kp2 = *kp;

	kp2.arg = p->val;
	return param_set_uint_minmax(val, &kp2, p->min, p->max);
}

static int dmalab_param_get_uint(char *buf, const struct kernel_param *kp)
{
	const struct dmalab_uint_param *p = kp->arg;

	return sysfs_emit(buf, "%u\n", *p->val);
}

static const struct kernel_param_ops dmalab_uint_ops = {
	.set = dmalab_param_set_uint,
	.get = dmalab_param_get_uint,
};

#define DMALAB_UINT_PARAM(name, var, lo, hi, perm)			\
	static const struct dmalab_uint_param dmalab_param_##name = {	\
		.val = &(var), .min = (lo), .max = (hi),		\
	};								\
	module_param_cb(name, &dmalab_uint_ops,				\
			(void *)&dmalab_param_##name, perm)

unsigned int dmalab_timeout_ms = 5000;
DMALAB_UINT_PARAM(timeout_ms, dmalab_timeout_ms, 10, 600000, 0644);
MODULE_PARM_DESC(timeout_ms, "Time a request may take before its queue is reset (ms, 10..600000, default 5000)");

bool dmalab_use_bounce;
module_param_named(use_bounce, dmalab_use_bounce, bool, 0444);
MODULE_PARM_DESC(use_bounce, "synchronous read/write through a reused kernel bounce buffer instead of pinned user pages (default off)");

bool dmalab_pio_doorbell;
module_param_named(pio_doorbell, dmalab_pio_doorbell, bool, 0444);
MODULE_PARM_DESC(pio_doorbell, "ring doorbells through the I/O-port BAR (outl on x86) instead of the MMIO BAR (default off)");

bool dmalab_shadow_doorbell = true;
module_param_named(shadow_doorbell, dmalab_shadow_doorbell, bool, 0444);
MODULE_PARM_DESC(shadow_doorbell, "keep each queue's tail in memory for the device to read at a doorbell, where the device can (default on)");

unsigned int dmalab_ring_order = 8;
DMALAB_UINT_PARAM(ring_order, dmalab_ring_order, DMALAB_RING_ORDER_MIN,
		  DMALAB_RING_ORDER_MAX, 0444);
MODULE_PARM_DESC(ring_order, "log2 of descriptors per ring (1..12, default 8; capped by the device)");

unsigned int dmalab_max_queues;
DMALAB_UINT_PARAM(max_queues, dmalab_max_queues, 0, DMALAB_DRV_MAX_QUEUES, 0444);
MODULE_PARM_DESC(max_queues, "Use at most this many queues (0..31, 0: all)");

int dmalab_irq_mode;
module_param_named(irq_mode, dmalab_irq_mode, int, 0444);
MODULE_PARM_DESC(irq_mode, "Interrupt type: 0 auto (MSI-X, MSI, INTx), 1 INTx only, 2 MSI only, 3 MSI-X only");

unsigned int dmalab_coal_count;
DMALAB_UINT_PARAM(coal_count, dmalab_coal_count, 0, 65535, 0444);
MODULE_PARM_DESC(coal_count, "Interrupt after this many completions (0..65535, 0: no count threshold)");

unsigned int dmalab_coal_usec;
DMALAB_UINT_PARAM(coal_usec, dmalab_coal_usec, 0, 1000000, 0444);
MODULE_PARM_DESC(coal_usec, "... or this many microseconds after the first (0..1000000, 0: no time threshold; with coal_count > 1 it defaults to "
		 __stringify(DMALAB_COAL_USEC_DEFAULT) ")");

unsigned int dmalab_poll_us;
DMALAB_UINT_PARAM(poll_us, dmalab_poll_us, 0, 10000, 0444);
MODULE_PARM_DESC(poll_us, "Polling mode: reap completions every poll_us microseconds instead of by interrupt (0..10000, 0: interrupts)");

unsigned int dmalab_spin_us = 50;
DMALAB_UINT_PARAM(spin_us, dmalab_spin_us, 0, 1000, 0644);
MODULE_PARM_DESC(spin_us, "A waiter for a transfer of at most 64 KiB polls its queue this long before it sleeps (0..1000 us, default 50; 0: it sleeps at once)");

unsigned int dmalab_dma_chans = 2;
DMALAB_UINT_PARAM(dma_chans, dmalab_dma_chans, 0, DMALAB_DRV_MAX_QUEUES, 0444);
MODULE_PARM_DESC(dma_chans, "dmaengine channels, one on each of the first dma_chans queues (0..31, 0: no dmaengine provider, default 2)");

struct kmem_cache *dmalab_req_cache;

static DEFINE_IDA(dmalab_ida);

/**
 * dmalab_dev_alloc() - a new device structure, with its number and name
 * @pdev:	the PCI function it drives
 *
 * The structure is reference counted (dmalab_dev_get/put); the last put
 * frees it with its number.  The caller initializes the rest.
 *
 * Return: the structure, or an ERR_PTR.
 */
struct dmalab_dev *dmalab_dev_alloc(struct pci_dev *pdev)
{
	struct dmalab_dev *dd;
	int id;

	dd = kzalloc_obj(*dd, GFP_KERNEL);
	if (!dd)
		return ERR_PTR(-ENOMEM);
	id = ida_alloc(&dmalab_ida, GFP_KERNEL);
	if (id < 0) {
		kfree(dd);
		return ERR_PTR(id);
	}
	dd->id = id;
	kref_init(&dd->ref);
	dd->pdev = pci_dev_get(pdev);
	snprintf(dd->name, sizeof(dd->name), DMALAB_NAME "%d", dd->id);
	return dd;
}

/* Module exit: every device is gone, and so is every number. */
void dmalab_dev_exit(void)
{
	ida_destroy(&dmalab_ida);
}

u64 dmalab_rd64(struct dmalab_dev *dd, u32 lo, u32 hi)
{
	u32 h1, h2, l;

	/* Re-read if the high half changed while reading the low half. */
	do {
		h1 = dmalab_rd(dd, hi);
		l = dmalab_rd(dd, lo);
		h2 = dmalab_rd(dd, hi);
	} while (h1 != h2);
	return (u64)h2 << 32 | l;
}

static void dmalab_dev_release(struct kref *ref)
{
	struct dmalab_dev *dd = container_of(ref, struct dmalab_dev, ref);

	ida_free(&dmalab_ida, dd->id);
	pci_dev_put(dd->pdev);
	kfree(dd);
}

void dmalab_dev_get(struct dmalab_dev *dd)
{
	kref_get(&dd->ref);
}

void dmalab_dev_put(struct dmalab_dev *dd)
{
	kref_put(&dd->ref, dmalab_dev_release);
}

static const char *dmalab_irq_mode_name(int mode)
{
	switch (mode) {
	case DMALAB_IRQ_MSIX:
		return "msix";
	case DMALAB_IRQ_MSI:
		return "msi";
	case DMALAB_IRQ_INTX:
		return "intx";
	default:
		return "none";
	}
}

const char *dmalab_irq_mode_str(struct dmalab_dev *dd)
{
	return dmalab_irq_mode_name(dd->irq_mode);
}
