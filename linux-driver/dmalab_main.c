// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: driver for the dmalab emulated PCI DMA engine.
 *
 * This file, the top floor: the PCI driver (probe, remove, shutdown,
 * function reset, system sleep), device bring-up and interrupt setup, and
 * the module's init and exit.  It wires every other part together, and no
 * other part calls into it.
 */

#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pm.h>
#include <linux/slab.h>
#include <linux/stringify.h>

#include "dmalab.h"

static int dmalab_hw_reset(struct dmalab_dev *dd)
{
	u32 sts;
	int ret;

	dmalab_wr(dd, DMALAB_REG_CTRL, DMALAB_CTRL_RESET);
	ret = readl_poll_timeout(dd->regs + DMALAB_REG_STATUS, sts,
				 !(sts & DMALAB_STATUS_RESETTING), 10, 100000);
	if (ret)
		dev_err(&dd->pdev->dev, "reset did not complete (status %#x)\n",
			sts);
	return ret;
}

static int dmalab_hw_init(struct dmalab_dev *dd)
{
	struct device *dev = &dd->pdev->dev;
	u32 id, sts;
	int ret;

	id = dmalab_rd(dd, DMALAB_REG_ID);
	if (id != DMALAB_ID_MAGIC) {
		dev_err(dev, "bad ID register %#x\n", id);
		return -ENODEV;
	}
	dd->hw_version = dmalab_rd(dd, DMALAB_REG_VERSION);
	if (dd->hw_version >> 16 != DMALAB_VERSION_MAJOR) {
		dev_err(dev, "unsupported version %u.%u\n",
			dd->hw_version >> 16, dd->hw_version & 0xffff);
		return -ENODEV;
	}

	ret = dmalab_hw_reset(dd);
	if (ret)
		return ret;

	dd->cap = dmalab_rd(dd, DMALAB_REG_CAP);
	dd->features = dmalab_rd(dd, DMALAB_REG_FEATURES);
	dd->max_xfer = dmalab_rd(dd, DMALAB_REG_MAX_XFER);
	dd->devmem_size = dmalab_rd64(dd, DMALAB_REG_DEVMEM_SIZE_LO,
				      DMALAB_REG_DEVMEM_SIZE_HI);
	if (!dd->max_xfer) {
		dev_err(dev, "MAX_XFER is zero\n");
		return -ENODEV;
	}

	dmalab_wr(dd, DMALAB_REG_INTR_MASK, ~0u);
	dmalab_wr(dd, DMALAB_REG_CTRL, DMALAB_CTRL_ENABLE);
	sts = dmalab_rd(dd, DMALAB_REG_STATUS);
	if (!(sts & DMALAB_STATUS_READY)) {
		dev_err(dev, "device not ready after enable (status %#x)\n",
			sts);
		return -EIO;
	}
	return 0;
}

static void dmalab_hw_disable(struct dmalab_dev *dd)
{
	/* a device that is gone is not touched (its reset would time out) */
	if (dmalab_gone(dd))
		return;
	dmalab_wr(dd, DMALAB_REG_INTR_MASK, ~0u);
	dmalab_wr(dd, DMALAB_REG_CTRL, 0);
	dmalab_hw_reset(dd);
}

static int dmalab_setup_dma(struct dmalab_dev *dd)
{
	struct device *dev = &dd->pdev->dev;
	unsigned int bits = DMALAB_CAP_DMA_BITS(dd->cap);
	int ret;

	if (bits < 24 || bits > 64) {
		dev_warn(dev, "implausible DMA width %u, using 32\n", bits);
		bits = 32;
	}
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits));
	if (ret && bits > 32) {
		dev_warn(dev, "%u-bit DMA not usable, falling back to 32\n",
			 bits);
		bits = 32;
		ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	}
	if (ret) {
		dev_err(dev, "no usable DMA mask\n");
		return ret;
	}
	dd->dma_bits = bits;

	/*
	 * Device SG entries take 32-bit lengths; swiotlb bounces at most
	 * dma_max_mapping_size() at once: no streaming mapping (SG segment,
	 * bounce chunk) may be larger than dd->max_seg.
	 */
	/* cannot fail for a PCI device (and returns nothing since 6.11) */
	dma_set_max_seg_size(dev, UINT_MAX & PAGE_MASK);
	dd->max_seg = min_t(size_t, dma_max_mapping_size(dev),
			    dma_get_max_seg_size(dev)) & PAGE_MASK;
	if (!dd->max_seg)
		dd->max_seg = PAGE_SIZE;
	/*
	 * Where swiotlb bounces, both sides of an op occupy its (shared,
	 * 64 MiB by default) pool at once: keep ops well below that.
	 */
	if (dma_max_mapping_size(dev) != SIZE_MAX)
		dd->max_xfer = min_t(u32, dd->max_xfer,
				     DMALAB_BOUNCED_MAX_XFER);
	/*
	 * The pin cache keeps ranges mapped between ops: where swiotlb
	 * bounces, they would hold its slots as long.  On by default only
	 * where no mapping is bounced.
	 */
	dd->pin_cache = dma_max_mapping_size(dev) == SIZE_MAX;
	return 0;
}

static void dmalab_free_irqs(struct dmalab_dev *dd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dd->irq_requested); i++) {
		void *data;

		if (!dd->irq_requested[i])
			continue;
		if (dd->irq_mode == DMALAB_IRQ_MSIX && i < dd->nr_queues)
			data = &dd->queues[i];
		else
			data = dd;
		free_irq(pci_irq_vector(dd->pdev, i), data);
		dd->irq_requested[i] = false;
	}
	pci_free_irq_vectors(dd->pdev);
	dd->nr_vecs = 0;
}

static int dmalab_alloc_vectors(struct dmalab_dev *dd)
{
	struct pci_dev *pdev = dd->pdev;
	unsigned int nvec = dd->nr_queues + 1;
	unsigned int flags = 0;
	int ret;

	if ((dmalab_irq_mode == 0 || dmalab_irq_mode == DMALAB_IRQ_MSIX) &&
	    (dd->features & DMALAB_FEAT_MSIX)) {
		/* One vector per queue plus the error vector, or none. */
		ret = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSIX);
		if (ret > 0) {
			dd->irq_mode = DMALAB_IRQ_MSIX;
			return ret;
		}
		dev_info(&pdev->dev, "MSI-X with %u vectors unavailable (%d)\n",
			 nvec, ret);
	}
	if (dmalab_irq_mode == 0 || dmalab_irq_mode == DMALAB_IRQ_MSI)
		flags |= PCI_IRQ_MSI;
	if (dmalab_irq_mode == 0 || dmalab_irq_mode == DMALAB_IRQ_INTX)
		flags |= PCI_IRQ_INTX;
	if (!flags)
		return -ENODEV;
	ret = pci_alloc_irq_vectors(pdev, 1, 1, flags);
	if (ret < 0)
		return ret;
	dd->irq_mode = pdev->msi_enabled ? DMALAB_IRQ_MSI : DMALAB_IRQ_INTX;
	return ret;
}

static int dmalab_setup_irqs(struct dmalab_dev *dd)
{
	struct pci_dev *pdev = dd->pdev;
	unsigned int i;
	int ret;

	ret = dmalab_alloc_vectors(dd);
	if (ret < 0) {
		dev_err(&pdev->dev, "no interrupt vectors (%d)\n", ret);
		return ret;
	}
	dd->nr_vecs = ret;

	if (dd->irq_mode == DMALAB_IRQ_MSIX) {
		for (i = 0; i < dd->nr_queues; i++) {
			struct dmalab_queue *q = &dd->queues[i];

			snprintf(q->irq_name, sizeof(q->irq_name), "%s-q%u",
				 dd->name, i);
			ret = request_irq(pci_irq_vector(pdev, i),
					  dmalab_queue_irq, 0, q->irq_name, q);
			if (ret)
				goto fail;
			dd->irq_requested[i] = true;
		}
		ret = request_irq(pci_irq_vector(pdev, dd->nr_queues),
				  dmalab_err_irq, 0, dd->name, dd);
		if (ret)
			goto fail;
		dd->irq_requested[dd->nr_queues] = true;
	} else {
		ret = request_irq(pci_irq_vector(pdev, 0), dmalab_shared_irq,
				  IRQF_SHARED, dd->name, dd);
		if (ret)
			goto fail;
		dd->irq_requested[0] = true;
	}
	return 0;

fail:
	dev_err(&pdev->dev, "request_irq failed (%d)\n", ret);
	dmalab_free_irqs(dd);
	return ret;
}

static int dmalab_map_bars(struct dmalab_dev *dd)
{
	struct pci_dev *pdev = dd->pdev;
	int bars = BIT(DMALAB_BAR_REGS);
	bool have_pio;
	int ret;

	if (pci_resource_len(pdev, DMALAB_BAR_REGS) < DMALAB_REGS_SIZE ||
	    !(pci_resource_flags(pdev, DMALAB_BAR_REGS) & IORESOURCE_MEM)) {
		dev_err(&pdev->dev, "BAR%d missing or too small\n",
			DMALAB_BAR_REGS);
		return -ENODEV;
	}
	if (!(pci_resource_flags(pdev, DMALAB_BAR_DEVMEM) & IORESOURCE_MEM)) {
		dev_err(&pdev->dev, "BAR%d (device memory) missing\n",
			DMALAB_BAR_DEVMEM);
		return -ENODEV;
	}
	have_pio = pci_resource_flags(pdev, DMALAB_BAR_PIO) & IORESOURCE_IO;
	if (have_pio)
		bars |= BIT(DMALAB_BAR_PIO);

	ret = pcim_iomap_regions(pdev, bars, DMALAB_NAME);
	if (ret) {
		dev_err(&pdev->dev, "cannot map BARs (%d)\n", ret);
		return ret;
	}
	dd->regs = pcim_iomap_table(pdev)[DMALAB_BAR_REGS];
	if (have_pio)
		dd->pio = pcim_iomap_table(pdev)[DMALAB_BAR_PIO];
	spin_lock_init(&dd->pio_lock);
	if (dmalab_pio_doorbell && !dd->pio)
		dev_warn(&pdev->dev, "no I/O-port BAR: doorbells through MMIO\n");
	dd->pio_doorbell = dmalab_pio_doorbell && dd->pio;

	/*
	 * Device memory is prefetchable RAM behind the BAR: map it
	 * write-combining, as user space gets it through mmap.  The claim
	 * and the mapping are both released by devres when the driver
	 * unbinds.
	 */
	ret = pcim_request_region(pdev, DMALAB_BAR_DEVMEM, DMALAB_NAME);
	if (ret) {
		dev_err(&pdev->dev, "cannot claim BAR%d (%d)\n",
			DMALAB_BAR_DEVMEM, ret);
		return ret;
	}
	dd->devmem_phys = pci_resource_start(pdev, DMALAB_BAR_DEVMEM);
	dd->devmem = devm_ioremap_wc(&pdev->dev, dd->devmem_phys,
				     pci_resource_len(pdev, DMALAB_BAR_DEVMEM));
	if (!dd->devmem)
		return -ENOMEM;
	return 0;
}

static int dmalab_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct dmalab_dev *dd;
	u64 bar_len;
	int ret;

	dd = dmalab_dev_alloc(pdev);
	if (IS_ERR(dd))
		return PTR_ERR(dd);
	init_rwsem(&dd->lifetime);
	init_waitqueue_head(&dd->plug_wq);
	mutex_init(&dd->files_lock);
	INIT_LIST_HEAD(&dd->files);
	spin_lock_init(&dd->orphan_lock);
	INIT_LIST_HEAD(&dd->orphans);
	INIT_WORK(&dd->orphan_work, dmalab_orphan_work);
	spin_lock_init(&dd->async_lock);
	INIT_LIST_HEAD(&dd->async_done);
	INIT_WORK(&dd->async_work, dmalab_async_work);
	INIT_WORK(&dd->lost_work, dmalab_lost_work);
	spin_lock_init(&dd->poll_lock);
	hrtimer_setup(&dd->poll_timer, dmalab_poll_timer_fn, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL);
	INIT_DELAYED_WORK(&dd->watchdog, dmalab_watchdog_fn);
	mutex_init(&dd->test_lock);
	mutex_init(&dd->bounce_lock);
	mutex_init(&dd->cbufs_lock);
	INIT_LIST_HEAD(&dd->cbufs);
	mutex_init(&dd->regbufs_lock);
	INIT_LIST_HEAD(&dd->regbufs);
	atomic_set(&dd->pbuf_maps, 0);
	atomic_set(&dd->next_queue, 0);
	pci_set_drvdata(pdev, dd);

	ret = pcim_enable_device(pdev);
	if (ret) {
		dev_err(dev, "cannot enable device (%d)\n", ret);
		goto err_put;
	}
	ret = dmalab_map_bars(dd);
	if (ret)
		goto err_put;

	ret = dmalab_hw_init(dd);
	if (ret)
		goto err_put;

	bar_len = pci_resource_len(pdev, DMALAB_BAR_DEVMEM);
	if (dd->devmem_size > bar_len) {
		dev_warn(dev, "DEVMEM_SIZE %llu above BAR size %llu\n",
			 dd->devmem_size, bar_len);
		dd->devmem_size = bar_len;
	}

	pci_set_master(pdev);
	ret = dmalab_setup_dma(dd);
	if (ret)
		goto err_disable;
	if (dmalab_use_bounce) {
		ret = dmalab_bounce_init(dd);
		if (ret)
			goto err_disable;
	}

	dd->nr_queues = min_t(unsigned int, DMALAB_CAP_NUM_QUEUES(dd->cap),
			      DMALAB_DRV_MAX_QUEUES);
	if (dmalab_max_queues)
		dd->nr_queues = min(dd->nr_queues, dmalab_max_queues);
	if (!dd->nr_queues) {
		dev_err(dev, "device has no queues\n");
		ret = -ENODEV;
		goto err_disable;
	}
	dd->ring_order = DMALAB_CAP_RING_ORDER_MAX(dd->cap);
	if (!dd->ring_order || dd->ring_order > DMALAB_RING_ORDER_MAX)
		dd->ring_order = DMALAB_RING_ORDER_MAX;
	dd->ring_order = clamp_t(unsigned int, dmalab_ring_order,
				 DMALAB_RING_ORDER_MIN, dd->ring_order);

	dd->sg_pool = dmam_pool_create(DMALAB_NAME "-sg", dev,
				       DMALAB_SG_BLOCK_BYTES,
				       sizeof(struct dmalab_sg_entry), 0);
	if (!dd->sg_pool) {
		ret = -ENOMEM;
		goto err_disable;
	}

	ret = dmalab_queues_init(dd);
	if (ret)
		goto err_disable;

	ret = dmalab_setup_irqs(dd);
	if (ret)
		goto err_disable;

	dd->coal_count = dmalab_coal_count;
	dd->coal_usec = dmalab_coal_usec;
	/*
	 * A count threshold alone would leave the last few completions of a
	 * burst without an interrupt: bound every count by a time.
	 */
	if (dd->coal_count > 1 && !dd->coal_usec)
		dd->coal_usec = DMALAB_COAL_USEC_DEFAULT;
	ret = dmalab_queues_start(dd);
	if (ret)
		goto err_irqs;

	dmalab_wr(dd, DMALAB_REG_INTR_CAUSE, ~0u);
	dmalab_wr(dd, DMALAB_REG_INTR_MASK, 0);

	ret = dmalab_chardev_register(dd);
	if (ret)
		goto err_queues;
	ret = dmalab_dma_register(dd, dmalab_dma_chans);
	if (ret)
		goto err_chardev;
	dmalab_debugfs_add(dd);

	dev_info(dev,
		 "%s: v%u.%u, %u queues x %u, %s (%u vectors)%s, %u-bit DMA, %llu KiB device memory, %u dma channels\n",
		 dd->name, dd->hw_version >> 16, dd->hw_version & 0xffff,
		 dd->nr_queues, 1U << dd->ring_order,
		 dmalab_irq_mode_str(dd), dd->nr_vecs,
		 dmalab_poll_us ? ", polling" : "", dd->dma_bits,
		 dd->devmem_size >> 10, dd->nr_dchans);
	return 0;

err_chardev:
	dmalab_chardev_unregister(dd);
err_queues:
	dmalab_queues_stop(dd);
err_irqs:
	dmalab_free_irqs(dd);
err_disable:
	dmalab_hw_disable(dd);
	pci_clear_master(pdev);
	/* streaming mapping: after DMA stops, before coherent memory goes */
	dmalab_bounce_free(dd);
err_put:
	/* a shared interrupt may have found the device lost meanwhile */
	cancel_work_sync(&dd->lost_work);
	pci_set_drvdata(pdev, NULL);
	dmalab_dev_put(dd);
	return ret;
}

static void dmalab_remove(struct pci_dev *pdev)
{
	struct dmalab_dev *dd = pci_get_drvdata(pdev);

	dmalab_chardev_unregister(dd);
	dmalab_debugfs_remove(dd);
	/* no client holds a channel: nothing of dmaengine's is in flight */
	dmalab_dma_unregister(dd);

	/* Wait for running file operations; later ones see dead. */
	down_write(&dd->lifetime);
	WRITE_ONCE(dd->dead, true);
	up_write(&dd->lifetime);
	dmalab_chardev_zap(dd);

	/* after a surprise removal: fail everything, touch nothing */
	if (!dmalab_check_gone(dd))
		dmalab_wr(dd, DMALAB_REG_INTR_MASK, ~0u);
	/* fails what is still outstanding: waiters wake, async ops finish */
	dmalab_queues_stop(dd);
	/*
	 * A submitter's plug may still hold doorbells of the stopped queues
	 * (it rings nothing now); it is flushed when its system call ends or
	 * its task sleeps, and the queues must outlive it.
	 */
	wait_event(dd->plug_wq, !atomic_read(&dd->plugs));
	hrtimer_cancel(&dd->poll_timer);
	cancel_delayed_work_sync(&dd->watchdog);
	dmalab_hw_disable(dd);
	dmalab_free_irqs(dd);
	pci_clear_master(pdev);
	flush_work(&dd->orphan_work);
	flush_work(&dd->async_work);
	/* nothing finds the device lost any more; remove zapped already */
	cancel_work_sync(&dd->lost_work);
	/*
	 * Streaming mappings before coherent memory (PCI/pci.rst), now
	 * that DMA is stopped, the interrupts freed and abandoned requests
	 * freed by the orphan work.
	 */
	dmalab_test_buf_free(dd);
	dmalab_bounce_free(dd);
	dmalab_regbufs_unmap(dd);
	dmalab_cbufs_free_dma(dd);
	dmalab_dev_put(dd);
}

static void dmalab_shutdown(struct pci_dev *pdev)
{
	struct dmalab_dev *dd = pci_get_drvdata(pdev);

	/*
	 * Stop DMA before a kexec or power off.  User space still runs:
	 * stopped queues fail its later submissions with -ENODEV instead of
	 * ringing the doorbell of a disabled device.
	 */
	dmalab_queues_stop(dd);
	dmalab_hw_disable(dd);
	pci_clear_master(pdev);
}

/*
 * Take the device offline for a function reset or system sleep: stop
 * everything that touches the registers, fail what is outstanding (and
 * every submission until dmalab_bring_online()) with -EIO, and mark the
 * device offline, so that the all-ones reads of a function whose BARs do
 * not decode (in a reset, or in D3hot) are not taken for a lost device.
 */
static void dmalab_take_offline(struct dmalab_dev *dd, const char *why)
{
	struct pci_dev *pdev = dd->pdev;
	unsigned int i;

	dev_info(&pdev->dev, "%s: stopping the queues\n", why);
	hrtimer_cancel(&dd->poll_timer);
	cancel_delayed_work_sync(&dd->watchdog);
	dmalab_queues_halt(dd, -EIO);
	if (!dmalab_check_gone(dd))
		dmalab_wr(dd, DMALAB_REG_INTR_MASK, ~0u);
	for (i = 0; i < dd->nr_vecs; i++)
		synchronize_irq(pci_irq_vector(pdev, i));
	set_bit(DMALAB_ST_OFFLINE, &dd->state);
}

/*
 * Bring the device back after a function reset or D3hot -> D0 (which
 * resets it too, spec §2.2), as probe did: reset, enable, every ring
 * programmed again and empty, interrupts unmasked.  Files, mappings,
 * device memory and dmaengine clients survive; only the requests that
 * were in flight are lost.
 */
static int dmalab_bring_online(struct dmalab_dev *dd, const char *why)
{
	struct pci_dev *pdev = dd->pdev;
	int ret;

	clear_bit(DMALAB_ST_OFFLINE, &dd->state);
	if (dmalab_check_gone(dd))
		return -ENODEV;
	ret = dmalab_hw_init(dd);
	if (!ret)
		ret = dmalab_queues_start(dd);
	if (ret) {
		dev_err(&pdev->dev,
			"%s: the device did not come back (%d); unbind and bind the driver again\n",
			why, ret);
		return ret;
	}
	dmalab_wr(dd, DMALAB_REG_INTR_CAUSE, ~0u);
	dmalab_wr(dd, DMALAB_REG_INTR_MASK, 0);
	dev_info(&pdev->dev, "%s: queues running again\n", why);
	return 0;
}

/* A function reset (sysfs "reset", or one the PCI core does) while bound. */
static void dmalab_reset_prepare(struct pci_dev *pdev)
{
	dmalab_take_offline(pci_get_drvdata(pdev), "function reset");
}

static void dmalab_reset_done(struct pci_dev *pdev)
{
	dmalab_bring_online(pci_get_drvdata(pdev), "function reset");
}

static const struct pci_error_handlers dmalab_err_handlers = {
	.reset_prepare = dmalab_reset_prepare,
	.reset_done = dmalab_reset_done,
};

/*
 * System sleep (suspend, hibernation): the PCI core saves config space and
 * puts the function in D3hot after .suspend, and restores both before
 * .resume; the way back to D0 has reset the device.
 */
static int dmalab_suspend(struct device *dev)
{
	dmalab_take_offline(dev_get_drvdata(dev), "suspend");
	return 0;
}

static int dmalab_resume(struct device *dev)
{
	return dmalab_bring_online(dev_get_drvdata(dev), "resume");
}

static DEFINE_SIMPLE_DEV_PM_OPS(dmalab_pm_ops, dmalab_suspend, dmalab_resume);

static const struct pci_device_id dmalab_ids[] = {
	{ PCI_DEVICE(DMALAB_PCI_VENDOR_ID, DMALAB_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, dmalab_ids);

static struct pci_driver dmalab_driver = {
	.name = DMALAB_NAME,
	.id_table = dmalab_ids,
	.probe = dmalab_probe,
	.remove = dmalab_remove,
	.shutdown = dmalab_shutdown,
	.err_handler = &dmalab_err_handlers,
	.driver.pm = pm_sleep_ptr(&dmalab_pm_ops),
	.dev_groups = dmalab_dev_groups,
};

/* The uapi layout is fixed: the same on 32- and 64-bit user space. */
static void dmalab_check_uapi(void)
{
	BUILD_BUG_ON(sizeof(struct dmalab_info) != 88);
	BUILD_BUG_ON(sizeof(struct dmalab_buf) != 16);
	BUILD_BUG_ON(sizeof(struct dmalab_op) != 80);
	BUILD_BUG_ON(sizeof(struct dmalab_batch) != 40);
	BUILD_BUG_ON(sizeof(struct dmalab_stats) != 136);
	BUILD_BUG_ON(sizeof(struct dmalab_queue_reset) != 8);
	BUILD_BUG_ON(sizeof(struct dmalab_async) != 96);
	BUILD_BUG_ON(sizeof(struct dmalab_completion) != 40);
	BUILD_BUG_ON(sizeof(struct dmalab_wait) != 48);
	BUILD_BUG_ON(sizeof(struct dmalab_register) != 32);
	BUILD_BUG_ON(sizeof(struct dmalab_dma_seg) != 24);
	BUILD_BUG_ON(sizeof(struct dmalab_dma_addrs) != 48);
	BUILD_BUG_ON(sizeof(struct dmalab_test_stale) != 24);
	BUILD_BUG_ON(sizeof(struct dmalab_test_stream) != 32);
	BUILD_BUG_ON(sizeof(struct dmalab_desc) != 32);
	BUILD_BUG_ON(sizeof(struct dmalab_cpl) != 32);
	BUILD_BUG_ON(sizeof(struct dmalab_sg_entry) != 16);
}

static int __init dmalab_init(void)
{
	int ret;

	dmalab_check_uapi();
	dmalab_req_cache = KMEM_CACHE(dmalab_req, 0);
	if (!dmalab_req_cache)
		return -ENOMEM;
	dmalab_debugfs_init();
	ret = pci_register_driver(&dmalab_driver);
	if (ret) {
		dmalab_debugfs_exit();
		kmem_cache_destroy(dmalab_req_cache);
	}
	return ret;
}
module_init(dmalab_init);

static void __exit dmalab_exit(void)
{
	pci_unregister_driver(&dmalab_driver);
	dmalab_debugfs_exit();
	dmalab_dev_exit();
	kmem_cache_destroy(dmalab_req_cache);
}
module_exit(dmalab_exit);

MODULE_DESCRIPTION("dmalab emulated PCI DMA engine");
MODULE_LICENSE("GPL");
