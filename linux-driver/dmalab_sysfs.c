// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab: sysfs attributes of the PCI device and a debugfs register dump.
 */

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/seq_file.h>
#include <linux/swiotlb.h>
#include <linux/sysfs.h>

#include "dmalab.h"

static ssize_t queues_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", dd->nr_queues);
}
static DEVICE_ATTR_RO(queues);

static ssize_t ring_size_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", 1U << dd->ring_order);
}
static DEVICE_ATTR_RO(ring_size);

static ssize_t irq_mode_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", dmalab_irq_mode_str(dd));
}
static DEVICE_ATTR_RO(irq_mode);

static ssize_t dma_mask_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%llx\n", dma_get_mask(dev));
}
static DEVICE_ATTR_RO(dma_mask);

static ssize_t dma_bits_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", dd->dma_bits);
}
static DEVICE_ATTR_RO(dma_bits);

static ssize_t devmem_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%llu\n", dd->devmem_size);
}
static DEVICE_ATTR_RO(devmem_size);

static ssize_t max_xfer_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", dd->max_xfer);
}
static DEVICE_ATTR_RO(max_xfer);

/* Which register path rings the doorbells: "mmio" or "port". */
static ssize_t doorbell_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", dd->pio_doorbell ? "port" : "mmio");
}
static DEVICE_ATTR_RO(doorbell);

/* Whether the queues keep their tails in memory for the device: 1 or 0. */
static ssize_t shadow_doorbell_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", !!dd->shadow_tails);
}
static DEVICE_ATTR_RO(shadow_doorbell);

/*
 * The layer under the DMA API that serves this device: "iommu" when an
 * IOMMU translates its DMA (dma-iommu: bus addresses are IOVAs), else
 * dma-direct, "swiotlb" when dma-direct must bounce every mapping
 * (swiotlb=force), "direct" when it maps pages in place.
 */
static ssize_t dma_ops_show(struct device *dev,
			    struct device_attribute *attr, char *buf)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	if (domain && iommu_is_dma_domain(domain))
		return sysfs_emit(buf, "iommu\n");
	if (is_swiotlb_force_bounce(dev))
		return sysfs_emit(buf, "swiotlb\n");
	return sysfs_emit(buf, "direct\n");
}
static DEVICE_ATTR_RO(dma_ops);

static ssize_t chardev_show(struct device *dev,
			    struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", dd->name);
}
static DEVICE_ATTR_RO(chardev);

static ssize_t pagebuf_mappings_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", atomic_read(&dd->pbuf_maps));
}
static DEVICE_ATTR_RO(pagebuf_mappings);

static ssize_t dma_channels_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", dd->nr_dchans);
}
static DEVICE_ATTR_RO(dma_channels);

/* Whether ops of ordinary user buffers keep them pinned (dmalab_pincache.c). */
static ssize_t pin_cache_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", READ_ONCE(dd->pin_cache));
}

static ssize_t pin_cache_store(struct device *dev,
			       struct device_attribute *attr, const char *buf,
			       size_t count)
{
	struct dmalab_dev *dd = dev_get_drvdata(dev);
	bool on;
	int ret;

	ret = kstrtobool(buf, &on);
	if (ret)
		return ret;
	WRITE_ONCE(dd->pin_cache, on);
	return count;
}
static DEVICE_ATTR_RW(pin_cache);

#define DMALAB_PC_COUNTER(name, field)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct dmalab_dev *dd = dev_get_drvdata(dev);			\
									\
	return sysfs_emit(buf, "%lld\n",				\
			  atomic64_read(&dd->stats.field));		\
}									\
static DEVICE_ATTR_RO(name)

/* ops served from it, ranges kept, ranges dropped */
DMALAB_PC_COUNTER(pin_cache_hits, pc_hits);
DMALAB_PC_COUNTER(pin_cache_fills, pc_fills);
DMALAB_PC_COUNTER(pin_cache_drops, pc_drops);

static struct attribute *dmalab_attrs[] = {
	&dev_attr_pin_cache.attr,
	&dev_attr_pin_cache_hits.attr,
	&dev_attr_pin_cache_fills.attr,
	&dev_attr_pin_cache_drops.attr,
	&dev_attr_pagebuf_mappings.attr,
	&dev_attr_dma_channels.attr,
	&dev_attr_queues.attr,
	&dev_attr_ring_size.attr,
	&dev_attr_irq_mode.attr,
	&dev_attr_dma_mask.attr,
	&dev_attr_dma_bits.attr,
	&dev_attr_devmem_size.attr,
	&dev_attr_max_xfer.attr,
	&dev_attr_chardev.attr,
	&dev_attr_doorbell.attr,
	&dev_attr_shadow_doorbell.attr,
	&dev_attr_dma_ops.attr,
	NULL
};

static const struct attribute_group dmalab_attr_group = {
	.attrs = dmalab_attrs,
};

const struct attribute_group *dmalab_dev_groups[] = {
	&dmalab_attr_group,
	NULL
};

/* ---- debugfs --------------------------------------------------------- */

static struct dentry *dmalab_debugfs_root;

static const struct {
	const char *name;
	u32 reg;
} dmalab_global_regs[] = {
	{ "ID", DMALAB_REG_ID },
	{ "VERSION", DMALAB_REG_VERSION },
	{ "CAP", DMALAB_REG_CAP },
	{ "FEATURES", DMALAB_REG_FEATURES },
	{ "DEVMEM_SIZE_LO", DMALAB_REG_DEVMEM_SIZE_LO },
	{ "DEVMEM_SIZE_HI", DMALAB_REG_DEVMEM_SIZE_HI },
	{ "MAX_XFER", DMALAB_REG_MAX_XFER },
	{ "CTRL", DMALAB_REG_CTRL },
	{ "STATUS", DMALAB_REG_STATUS },
	{ "INTR_CAUSE", DMALAB_REG_INTR_CAUSE },
	{ "INTR_MASK", DMALAB_REG_INTR_MASK },
	{ "ERR_QUEUE", DMALAB_REG_ERR_QUEUE },
	{ "ERR_INDEX", DMALAB_REG_ERR_INDEX },
	{ "ERR_CODE", DMALAB_REG_ERR_CODE },
	{ "ERR_ADDR_LO", DMALAB_REG_ERR_ADDR_LO },
	{ "ERR_ADDR_HI", DMALAB_REG_ERR_ADDR_HI },
	{ "ERR_COUNT", DMALAB_REG_ERR_COUNT },
	{ "STAT_BYTES_LO", DMALAB_REG_STAT_BYTES_LO },
	{ "STAT_BYTES_HI", DMALAB_REG_STAT_BYTES_HI },
	{ "STAT_DESCS_LO", DMALAB_REG_STAT_DESCS_LO },
	{ "STAT_DESCS_HI", DMALAB_REG_STAT_DESCS_HI },
	{ "STAT_ERRORS_LO", DMALAB_REG_STAT_ERRORS_LO },
	{ "STAT_ERRORS_HI", DMALAB_REG_STAT_ERRORS_HI },
	{ "STAT_IRQS_LO", DMALAB_REG_STAT_IRQS_LO },
	{ "STAT_IRQS_HI", DMALAB_REG_STAT_IRQS_HI },
};

static const struct {
	const char *name;
	u32 reg;
} dmalab_queue_regs[] = {
	{ "RING_LO", DMALAB_Q_RING_LO },
	{ "RING_HI", DMALAB_Q_RING_HI },
	{ "RING_SIZE", DMALAB_Q_RING_SIZE },
	{ "TAIL", DMALAB_Q_TAIL },
	{ "HEAD", DMALAB_Q_HEAD },
	{ "CTRL", DMALAB_Q_CTRL },
	{ "CPL_LO", DMALAB_Q_CPL_LO },
	{ "CPL_HI", DMALAB_Q_CPL_HI },
	{ "COAL_COUNT", DMALAB_Q_COAL_COUNT },
	{ "COAL_USEC", DMALAB_Q_COAL_USEC },
	{ "STATUS", DMALAB_Q_STATUS },
	{ "ERROR", DMALAB_Q_ERROR },
	{ "SHADOW_LO", DMALAB_Q_SHADOW_LO },
	{ "SHADOW_HI", DMALAB_Q_SHADOW_HI },
};

static int dmalab_regs_show(struct seq_file *s, void *unused)
{
	struct dmalab_dev *dd = s->private;
	unsigned int i, q;

	if (dmalab_gone(dd)) {
		seq_puts(s, "device lost: registers not read\n");
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(dmalab_global_regs); i++)
		seq_printf(s, "%-16s 0x%03x = 0x%08x\n",
			   dmalab_global_regs[i].name,
			   dmalab_global_regs[i].reg,
			   dmalab_rd(dd, dmalab_global_regs[i].reg));
	for (q = 0; q < dd->nr_queues; q++) {
		for (i = 0; i < ARRAY_SIZE(dmalab_queue_regs); i++) {
			u32 reg = DMALAB_QREG(q, dmalab_queue_regs[i].reg);

			seq_printf(s, "Q%u_%-13s 0x%03x = 0x%08x\n", q,
				   dmalab_queue_regs[i].name, reg,
				   dmalab_rd(dd, reg));
		}
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dmalab_regs);

static int dmalab_queues_show(struct seq_file *s, void *unused)
{
	struct dmalab_dev *dd = s->private;
	unsigned int i;

	for (i = 0; i < dd->nr_queues; i++) {
		struct dmalab_queue *q = &dd->queues[i];
		unsigned long flags;
		u32 head, tail, phase;
		bool running;

		spin_lock_irqsave(&q->lock, flags);
		head = q->head;
		tail = q->tail;
		phase = q->phase;
		running = q->running;
		spin_unlock_irqrestore(&q->lock, flags);
		seq_printf(s,
			   "q%u: size %u head %u tail %u phase %u outstanding %u %s ring %pad cpl %pad%s\n",
			   i, q->size, head, tail, phase,
			   (tail - head) & q->mask,
			   running ? "running" : "stopped", &q->ring_dma,
			   &q->cpl_dma, i < dd->nr_dchans ? " dmaengine" : "");
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dmalab_queues);

/*
 * Fault injection for driver tests: the device's TEST-ONLY debug block, one
 * file per register, present only when the device has DMALAB_FEAT_DEBUG.
 * "dead" is write-only: DMALAB_DBG_DEAD_MAGIC emulates a surprise removal
 * (every read all-ones, writes, DMA and interrupts dropped) until a function
 * or system reset.
 */
static const struct {
	const char *name;
	u32 reg;
	bool wo;
} dmalab_fault_regs[DMALAB_NR_DBGREGS] = {
	{ "fail_nth", DMALAB_REG_DBG_FAIL_NTH },
	{ "fail_status", DMALAB_REG_DBG_FAIL_STATUS },
	{ "irq_mode", DMALAB_REG_DBG_IRQ_MODE },
	{ "irq_count", DMALAB_REG_DBG_IRQ_COUNT },
	{ "irq_delay_us", DMALAB_REG_DBG_IRQ_DELAY_US },
	{ "stall", DMALAB_REG_DBG_STALL },
	{ "corrupt_nth", DMALAB_REG_DBG_CORRUPT_NTH },
	{ "corrupt_offset", DMALAB_REG_DBG_CORRUPT_OFFSET },
	{ "dead", DMALAB_REG_DBG_DEAD, true },
};

static int dmalab_dbgreg_get(void *data, u64 *val)
{
	struct dmalab_dbgreg *r = data;

	if (dmalab_gone(r->dd))
		return -ENODEV;
	*val = dmalab_rd(r->dd, r->reg);
	return 0;
}

static int dmalab_dbgreg_set(void *data, u64 val)
{
	struct dmalab_dbgreg *r = data;

	if (val > U32_MAX)
		return -EINVAL;
	if (dmalab_gone(r->dd))
		return -ENODEV;
	dmalab_wr(r->dd, r->reg, val);
	/* a queue that was stalled needs a doorbell to run again */
	if (r->reg == DMALAB_REG_DBG_STALL) {
		unsigned int q;

		for (q = 0; q < r->dd->nr_queues; q++) {
			struct dmalab_queue *dq = &r->dd->queues[q];
			unsigned long flags;

			spin_lock_irqsave(&dq->lock, flags);
			if (dq->running)
				dmalab_doorbell(dq, dq->tail);
			spin_unlock_irqrestore(&dq->lock, flags);
		}
	}
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(dmalab_dbgreg_fops, dmalab_dbgreg_get,
			 dmalab_dbgreg_set, "%llu\n");
/* write-only registers (reading them fails with EACCES) */
DEFINE_DEBUGFS_ATTRIBUTE(dmalab_dbgreg_wo_fops, NULL, dmalab_dbgreg_set,
			 "%llu\n");

/* The last host bus address the engine accessed (debug block). */
static int dmalab_last_addr_get(void *data, u64 *val)
{
	struct dmalab_dev *dd = data;

	if (dmalab_gone(dd))
		return -ENODEV;
	*val = dmalab_rd64(dd, DMALAB_REG_DBG_LAST_ADDR_LO,
			   DMALAB_REG_DBG_LAST_ADDR_HI);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(dmalab_last_addr_fops, dmalab_last_addr_get, NULL,
			 "0x%llx\n");

static void dmalab_debugfs_faults(struct dmalab_dev *dd)
{
	struct dentry *dir;
	unsigned int i;

	/* TEST-ONLY: skip the dma_sync_* calls of DMALAB_IOC_TEST_STREAM */
	debugfs_create_bool("test_skip_sync", 0600, dd->debugfs,
			    &dd->test_skip_sync);
	debugfs_create_atomic_t("pagebuf_mappings", 0400, dd->debugfs,
				&dd->pbuf_maps);
	if (!(dd->features & DMALAB_FEAT_DEBUG))
		return;
	debugfs_create_file_unsafe("last_addr", 0400, dd->debugfs, dd,
				   &dmalab_last_addr_fops);
	dir = debugfs_create_dir("fault", dd->debugfs);
	for (i = 0; i < ARRAY_SIZE(dmalab_fault_regs); i++) {
		dd->dbgregs[i].dd = dd;
		dd->dbgregs[i].reg = dmalab_fault_regs[i].reg;
		if (dmalab_fault_regs[i].wo)
			debugfs_create_file_unsafe(dmalab_fault_regs[i].name,
						   0200, dir, &dd->dbgregs[i],
						   &dmalab_dbgreg_wo_fops);
		else
			debugfs_create_file_unsafe(dmalab_fault_regs[i].name,
						   0600, dir, &dd->dbgregs[i],
						   &dmalab_dbgreg_fops);
	}
}

void dmalab_debugfs_init(void)
{
	dmalab_debugfs_root = debugfs_create_dir(DMALAB_NAME, NULL);
}

void dmalab_debugfs_exit(void)
{
	debugfs_remove_recursive(dmalab_debugfs_root);
	dmalab_debugfs_root = NULL;
}

/*
 * debugfs "devmem": device memory as the CPU sees it through the kernel's
 * write-combining mapping, to compare with what the engine moved.
 */
static ssize_t dmalab_devmem_read(struct file *file, char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct dmalab_dev *dd = file->private_data;
	size_t len;
	void *buf;
	ssize_t ret;

	if (*ppos < 0)
		return -EINVAL;
	if (*ppos >= dd->devmem_size)
		return 0;
	len = min_t(u64, count, dd->devmem_size - *ppos);
	len = min_t(size_t, len, PAGE_SIZE);
	buf = kmalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (!dmalab_enter(dd)) {
		ret = -ENODEV;
		goto out_free;
	}
	memcpy_fromio(buf, dd->devmem + *ppos, len);
	dmalab_leave(dd);
	ret = len - copy_to_user(ubuf, buf, len);
	if (!ret)
		ret = -EFAULT;
	else
		*ppos += ret;
out_free:
	kfree(buf);
	return ret;
}

static const struct file_operations dmalab_devmem_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = dmalab_devmem_read,
	.llseek = default_llseek,
};

void dmalab_debugfs_add(struct dmalab_dev *dd)
{
	dd->debugfs = debugfs_create_dir(pci_name(dd->pdev),
					 dmalab_debugfs_root);
	debugfs_create_file("regs", 0400, dd->debugfs, dd, &dmalab_regs_fops);
	debugfs_create_file("queues", 0400, dd->debugfs, dd,
			    &dmalab_queues_fops);
	debugfs_create_file_size("devmem", 0400, dd->debugfs, dd,
				 &dmalab_devmem_fops, dd->devmem_size);
	dmalab_debugfs_faults(dd);
}

void dmalab_debugfs_remove(struct dmalab_dev *dd)
{
	debugfs_remove_recursive(dd->debugfs);
	dd->debugfs = NULL;
}
