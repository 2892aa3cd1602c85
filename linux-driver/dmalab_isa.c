// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_isa: the driver of dmalab's ISA device, whose transfers the PC's
 * 8237 DMA controller performs.  It uses the ISA DMA API exactly as the
 * classic DMA chapter shows it: request_dma() for the channel; then, for
 * each transfer, under claim_dma_lock(), disable_dma(), clear_dma_ff(),
 * set_dma_mode(), set_dma_addr() and set_dma_count(); the device is told
 * what to do; enable_dma() lets the controller go, and the device's
 * interrupt says it is over.
 *
 * The controller reaches only the first 16 MiB, and its page register
 * does not count: a block must lie below 16 MiB and inside one 64 KiB page
 * (128 KiB on a 16-bit channel).  So the buffer is allocated under a
 * 24-bit DMA mask, and no block crosses a page boundary.
 *
 * ISA has no enumeration: the module parameters say where each device is
 * (io=, irq=, dma=, one entry per device), and match() checks that one
 * answers there.
 */
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/isa.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <asm/dma.h>

#include "dmalab_hw.h"
#include "dmalab_isa_uapi.h"

#define DMALAB_ISA_NAME		"dmalab-isa"
#define DMALAB_ISA_MAX_DEVS	4
/* What the controller's 24 address bits reach */
#define DMALAB_ISA_LIMIT	SZ_16M
/* The 8237's mode bits 7:6: 01 single (in DMA_MODE_READ/WRITE), 10 block */
#define DMALAB_ISA_MODE_TYPE	0xc0
#define DMALAB_ISA_MODE_BLOCK	0x80
#define DMALAB_ISA_TIMEOUT_MS	5000

static unsigned long io[DMALAB_ISA_MAX_DEVS] = { 0x300 };
static int irq[DMALAB_ISA_MAX_DEVS] = { 5 };
static int dma[DMALAB_ISA_MAX_DEVS] = { 1 };
module_param_hw_array(io, ulong, ioport, NULL, 0444);
MODULE_PARM_DESC(io, "first I/O port of each device (default 0x300)");
module_param_hw_array(irq, int, irq, NULL, 0444);
MODULE_PARM_DESC(irq, "ISA interrupt line of each device (default 5)");
module_param_hw_array(dma, int, dma, NULL, 0444);
MODULE_PARM_DESC(dma, "8237 channel of each device (default 1)");

struct dmalab_isa {
	struct device *dev;
	unsigned long io;
	unsigned int irq;
	unsigned int dma;
	char name[16];
	struct miscdevice misc;
	/* one transfer at a time: one channel, one buffer */
	struct mutex lock;
	struct completion done;
	/* STATUS as the interrupt found it */
	u8 last_status;
	/* two of the controller's pages: a test can cross their boundary */
	void *buf;
	dma_addr_t buf_bus;
	u32 buf_size;
};

static bool dmalab_isa_wide(struct dmalab_isa *di)
{
	return di->dma > 3;
}

static u32 dmalab_isa_boundary(struct dmalab_isa *di)
{
	return dmalab_isa_wide(di) ? SZ_128K : SZ_64K;
}

/* Whether the controller can move [bus, bus + count) in one block. */
static int dmalab_isa_check_block(struct dmalab_isa *di, u64 bus, u32 count)
{
	u64 page_mask = ~(u64)(dmalab_isa_boundary(di) - 1);

	if (bus + count > DMALAB_ISA_LIMIT)
		return -ERANGE;
	if ((bus & page_mask) != ((bus + count - 1) & page_mask))
		return -EINVAL;
	if (dmalab_isa_wide(di) && ((bus | count) & 1))
		return -EINVAL;
	return 0;
}

static irqreturn_t dmalab_isa_irq(int irq, void *data)
{
	struct dmalab_isa *di = data;
	u8 status = inb(di->io + DMALAB_ISA_REG_STATUS);

	if (!(status & DMALAB_ISA_STAT_DONE))
		return IRQ_NONE;
	outb(DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED,
	     di->io + DMALAB_ISA_REG_STATUS);
	di->last_status = status;
	complete(&di->done);
	return IRQ_HANDLED;
}

static void dmalab_isa_setup_device(struct dmalab_isa *di, u32 devoff,
				    u32 len)
{
	outb(devoff & 0xff, di->io + DMALAB_ISA_REG_OFFSET);
	outb(devoff >> 8, di->io + DMALAB_ISA_REG_OFFSET + 1);
	outb((len - 1) & 0xff, di->io + DMALAB_ISA_REG_LEN);
	outb((len - 1) >> 8, di->io + DMALAB_ISA_REG_LEN + 1);
}

/**
 * dmalab_isa_run() - one transfer through the 8237
 * @di:		the device, its lock held
 * @bus:	bus address of the block
 * @count:	bytes of the block
 * @len:	bytes the device moves (more than @count only with auto-init)
 * @devoff:	offset in device memory
 * @flags:	DMALAB_ISA_XF_TO_HOST, _BLOCK, _AUTOINIT
 * @status:	out: STATUS when the device ended the transfer
 * @residue:	out: bytes the channel had left
 *
 * Return: 0 once the device ended the transfer (see @status), -ERANGE or
 * -EINVAL for a block the controller cannot move, -ETIMEDOUT or -EINTR
 * (the transfer was aborted).
 */
static int dmalab_isa_run(struct dmalab_isa *di, u64 bus, u32 count,
			  u32 len, u32 devoff, u32 flags, u8 *status,
			  u32 *residue)
{
	bool to_host = flags & DMALAB_ISA_XF_TO_HOST;
	/* READ and WRITE are the memory's view: READ fills memory */
	char mode = to_host ? DMA_MODE_READ : DMA_MODE_WRITE;
	unsigned long lockflags, timeout;
	long left;
	int ret;

	ret = dmalab_isa_check_block(di, bus, count);
	if (ret)
		return ret;
	if (flags & DMALAB_ISA_XF_BLOCK)
		mode = (mode & ~DMALAB_ISA_MODE_TYPE) | DMALAB_ISA_MODE_BLOCK;
	if (flags & DMALAB_ISA_XF_AUTOINIT)
		mode |= DMA_AUTOINIT;

	reinit_completion(&di->done);
	lockflags = claim_dma_lock();
	disable_dma(di->dma);
	clear_dma_ff(di->dma);
	set_dma_mode(di->dma, mode);
	set_dma_addr(di->dma, bus);
	set_dma_count(di->dma, count);
	release_dma_lock(lockflags);

	dmalab_isa_setup_device(di, devoff, len);
	outb(DMALAB_ISA_CTRL_START | DMALAB_ISA_CTRL_IRQ_EN |
	     (to_host ? DMALAB_ISA_CTRL_TO_HOST : 0),
	     di->io + DMALAB_ISA_REG_CTRL);

	lockflags = claim_dma_lock();
	enable_dma(di->dma);
	release_dma_lock(lockflags);

	timeout = msecs_to_jiffies(DMALAB_ISA_TIMEOUT_MS);
	left = wait_for_completion_killable_timeout(&di->done, timeout);

	lockflags = claim_dma_lock();
	disable_dma(di->dma);
	clear_dma_ff(di->dma);
	*residue = get_dma_residue(di->dma);
	release_dma_lock(lockflags);

	if (left <= 0) {
		/*
		 * Stop the device and take its DONE here: a late interrupt
		 * finds no DONE and is not taken for the next transfer's.
		 */
		outb(DMALAB_ISA_CTRL_ABORT, di->io + DMALAB_ISA_REG_CTRL);
		outb(DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED,
		     di->io + DMALAB_ISA_REG_STATUS);
		if (!left)
			dev_err(di->dev, "transfer of %u bytes timed out\n", len);
		return left ? -EINTR : -ETIMEDOUT;
	}
	*status = di->last_status;
	return 0;
}

static struct dmalab_isa *dmalab_isa_of(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return container_of(misc, struct dmalab_isa, misc);
}

/*
 * read and write: the data passes through the DMA buffer, a piece at a
 * time; no piece crosses a boundary of the controller's pages.
 */
static ssize_t dmalab_isa_rw(struct file *file, char __user *ubuf,
			     size_t len, loff_t *ppos, bool to_host)
{
	struct dmalab_isa *di = dmalab_isa_of(file);
	u32 boundary = dmalab_isa_boundary(di);
	loff_t pos = *ppos;
	size_t done = 0;
	u32 residue;
	int ret = 0;
	u8 status;

	if (pos < 0)
		return -EINVAL;
	if (pos >= DMALAB_ISA_MEM_SIZE)
		return to_host ? 0 : -ENOSPC;
	len = min_t(size_t, len, DMALAB_ISA_MEM_SIZE - pos);
	if (!len)
		return 0;
	if (dmalab_isa_wide(di) && ((pos | len) & 1))
		return -EINVAL;
	if (mutex_lock_interruptible(&di->lock))
		return -ERESTARTSYS;
	while (done < len) {
		u32 room = boundary - (di->buf_bus & (boundary - 1));
		u32 piece = min_t(size_t, len - done, room);

		if (!to_host && copy_from_user(di->buf, ubuf + done, piece)) {
			ret = -EFAULT;
			break;
		}
		ret = dmalab_isa_run(di, di->buf_bus, piece, piece, pos + done,
				     to_host ? DMALAB_ISA_XF_TO_HOST : 0,
				     &status, &residue);
		if (ret)
			break;
		if (DMALAB_ISA_STAT_ERR(status)) {
			dev_err(di->dev, "device error %u at offset %lld\n",
				DMALAB_ISA_STAT_ERR(status), pos + done);
			ret = -EIO;
			break;
		}
		if (to_host && copy_to_user(ubuf + done, di->buf, piece)) {
			ret = -EFAULT;
			break;
		}
		done += piece;
	}
	mutex_unlock(&di->lock);
	if (!done)
		return ret;
	*ppos = pos + done;
	return done;
}

static ssize_t dmalab_isa_read(struct file *file, char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	return dmalab_isa_rw(file, ubuf, len, ppos, true);
}

static ssize_t dmalab_isa_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	return dmalab_isa_rw(file, (char __user *)ubuf, len, ppos, false);
}

static loff_t dmalab_isa_llseek(struct file *file, loff_t off, int whence)
{
	return fixed_size_llseek(file, off, whence, DMALAB_ISA_MEM_SIZE);
}

/*
 * TEST ONLY: the block in a page the page allocator gives, which is above
 * 16 MiB (ZONE_DMA is used only when asked for): the controller cannot
 * reach it, and the driver must say so before programming anything.
 */
static int dmalab_isa_xfer_high(struct dmalab_isa *di,
				struct dmalab_isa_xfer *x)
{
	struct page *page = alloc_page(GFP_KERNEL);
	phys_addr_t phys;

	if (!page)
		return -ENOMEM;
	phys = page_to_phys(page);
	__free_page(page);
	/* rare: the allocator fell back to ZONE_DMA */
	if (phys < DMALAB_ISA_LIMIT)
		return -EAGAIN;
	return dmalab_isa_check_block(di, phys,
				      min_t(u32, x->count, PAGE_SIZE));
}

static long dmalab_isa_ioctl_xfer(struct dmalab_isa *di,
				  struct dmalab_isa_xfer __user *uarg)
{
	struct dmalab_isa_xfer x;
	void __user *data;
	u32 residue = 0;
	u8 status = 0;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&x, uarg, sizeof(x)))
		return -EFAULT;
	if ((x.flags & ~DMALAB_ISA_XF_VALID) || x.rsvd || !x.count ||
	    !x.len || x.len > DMALAB_ISA_MEM_SIZE ||
	    x.devoff >= DMALAB_ISA_MEM_SIZE ||
	    x.bufoff > di->buf_size ||
	    x.count > di->buf_size - x.bufoff)
		return -EINVAL;
	if (x.flags & DMALAB_ISA_XF_HIGH)
		return dmalab_isa_xfer_high(di, &x);
	data = u64_to_user_ptr(x.data);
	if (mutex_lock_interruptible(&di->lock))
		return -ERESTARTSYS;
	ret = -EFAULT;
	if (!(x.flags & DMALAB_ISA_XF_TO_HOST) &&
	    copy_from_user(di->buf + x.bufoff, data, x.count))
		goto out;
	ret = dmalab_isa_run(di, di->buf_bus + x.bufoff, x.count, x.len,
			     x.devoff, x.flags, &status, &residue);
	if (ret)
		goto out;
	if ((x.flags & DMALAB_ISA_XF_TO_HOST) &&
	    copy_to_user(data, di->buf + x.bufoff, x.count)) {
		ret = -EFAULT;
		goto out;
	}
	x.status = status;
	x.residue = residue;
	if (copy_to_user(uarg, &x, sizeof(x)))
		ret = -EFAULT;
out:
	mutex_unlock(&di->lock);
	return ret;
}

static long dmalab_isa_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct dmalab_isa *di = dmalab_isa_of(file);
	struct dmalab_isa_info info = {
		.buf_bus = di->buf_bus,
		.buf_size = di->buf_size,
		.mem_size = DMALAB_ISA_MEM_SIZE,
		.io = di->io,
		.irq = di->irq,
		.dma = di->dma,
		.boundary = dmalab_isa_boundary(di),
	};

	switch (cmd) {
	case DMALAB_ISA_IOC_INFO:
		if (copy_to_user((void __user *)arg, &info, sizeof(info)))
			return -EFAULT;
		return 0;
	case DMALAB_ISA_IOC_XFER:
		return dmalab_isa_ioctl_xfer(di, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations dmalab_isa_fops = {
	.owner = THIS_MODULE,
	.read = dmalab_isa_read,
	.write = dmalab_isa_write,
	.llseek = dmalab_isa_llseek,
	.unlocked_ioctl = dmalab_isa_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* Whether device @n answers at its ports, with its parameters' channel. */
static int dmalab_isa_match(struct device *dev, unsigned int n)
{
	u8 config;

	if (!io[n])
		return 0;
	if (!request_region(io[n], DMALAB_ISA_IO_SIZE, DMALAB_ISA_NAME)) {
		dev_err(dev, "ports %#lx are in use\n", io[n]);
		return 0;
	}
	config = inb(io[n] + DMALAB_ISA_REG_CONFIG);
	if (inb(io[n] + DMALAB_ISA_REG_ID) != DMALAB_ISA_ID_MAGIC) {
		dev_err(dev, "no dmalab-isa at %#lx\n", io[n]);
		config = 0xff;
	} else if (DMALAB_ISA_CONFIG_DMA(config) != dma[n] ||
		   DMALAB_ISA_CONFIG_IRQ(config) != irq[n]) {
		dev_err(dev, "device at %#lx uses dma %u irq %u, not dma %d irq %d\n",
			io[n], DMALAB_ISA_CONFIG_DMA(config),
			DMALAB_ISA_CONFIG_IRQ(config), dma[n], irq[n]);
		config = 0xff;
	}
	release_region(io[n], DMALAB_ISA_IO_SIZE);
	return config != 0xff;
}

static int dmalab_isa_probe(struct device *dev, unsigned int n)
{
	struct dmalab_isa *di;
	int ret;

	di = devm_kzalloc(dev, sizeof(*di), GFP_KERNEL);
	if (!di)
		return -ENOMEM;
	di->dev = dev;
	di->io = io[n];
	di->irq = irq[n];
	di->dma = dma[n];
	mutex_init(&di->lock);
	init_completion(&di->done);
	snprintf(di->name, sizeof(di->name), DMALAB_ISA_NAME "%u", n);
	if (!devm_request_region(dev, di->io, DMALAB_ISA_IO_SIZE, di->name))
		return -EBUSY;

	/* The 8237 reaches 24 address bits: the allocation must too. */
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(24));
	if (ret)
		return ret;
	di->buf_size = 2 * dmalab_isa_boundary(di);
	di->buf = dmam_alloc_coherent(dev, di->buf_size, &di->buf_bus,
				      GFP_KERNEL);
	if (!di->buf)
		return -ENOMEM;

	ret = request_dma(di->dma, di->name);
	if (ret) {
		dev_err(dev, "DMA channel %u is busy\n", di->dma);
		return ret;
	}
	/* a transfer a previous driver left: stop it, take its DONE */
	outb(DMALAB_ISA_CTRL_ABORT, di->io + DMALAB_ISA_REG_CTRL);
	outb(DMALAB_ISA_STAT_DONE | DMALAB_ISA_STAT_WRAPPED,
	     di->io + DMALAB_ISA_REG_STATUS);
	ret = devm_request_irq(dev, di->irq, dmalab_isa_irq, 0, di->name, di);
	if (ret)
		goto err_dma;

	di->misc.minor = MISC_DYNAMIC_MINOR;
	di->misc.name = di->name;
	di->misc.fops = &dmalab_isa_fops;
	di->misc.mode = 0600;
	di->misc.parent = dev;
	ret = misc_register(&di->misc);
	if (ret)
		goto err_dma;
	dev_set_drvdata(dev, di);
	dev_info(dev, "ports %#lx irq %u dma %u, buffer at bus %pad\n",
		 di->io, di->irq, di->dma, &di->buf_bus);
	return 0;

err_dma:
	free_dma(di->dma);
	return ret;
}

static void dmalab_isa_remove(struct device *dev, unsigned int n)
{
	struct dmalab_isa *di = dev_get_drvdata(dev);

	/* no file is open: the module is going, it was not busy */
	misc_deregister(&di->misc);
	free_dma(di->dma);
}

static struct isa_driver dmalab_isa_driver = {
	.match = dmalab_isa_match,
	.probe = dmalab_isa_probe,
	.remove = dmalab_isa_remove,
	.driver = {
		.name = DMALAB_ISA_NAME,
	},
};

module_isa_driver(dmalab_isa_driver, DMALAB_ISA_MAX_DEVS);

MODULE_DESCRIPTION("dmalab ISA device: DMA through the 8237");
MODULE_LICENSE("GPL");
