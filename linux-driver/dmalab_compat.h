/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmalab: the differences between the kernels the driver builds on, from
 * 6.1 to the newest release.  The driver is written against the newest
 * API; this header maps it onto older kernels, by testing for the feature
 * wherever that can be done, and by version only where it cannot.  No
 * other file of the driver tests a kernel version (scripts/lint-driver.sh
 * accepts checkpatch's version-check warnings in this file alone).
 */
#ifndef DMALAB_COMPAT_H
#define DMALAB_COMPAT_H

#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/version.h>

/* 7.0: typed allocation of one object (only the GFP-taking form is used) */
#ifndef kzalloc_obj
#define kzalloc_obj(P, gfp)	kzalloc(sizeof(P), gfp)
#endif

/* 6.8 renamed the legacy interrupt line's flag; 6.12 dropped the old name */
#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX	PCI_IRQ_LEGACY
#endif

/*
 * 6.3: a VMA's flags change only through helpers (they are read-only).
 * The helpers are functions, so only the version tells.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/* 6.4: an iovec iterator's segment is read through iter_iov() */
#ifndef iter_iov_addr
static inline const struct iovec *iter_iov(const struct iov_iter *iter)
{
	return iter->iov;
}
#endif

/*
 * 6.5: splice reads a file without a page cache into pages of its own
 * through ->read_iter (copy_splice_read); before, the generic splice read
 * did so into the pipe's pages.  The same signature; a function.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define copy_splice_read	generic_file_splice_read
#endif

/* 6.13: a timer is set up with its function in one call (a function) */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
static inline void
hrtimer_setup(struct hrtimer *timer,
	      enum hrtimer_restart (*function)(struct hrtimer *),
	      clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}
#endif

/*
 * 6.11: a BAR of a managed device is claimed with pcim_request_region(),
 * released when the driver unbinds.  Before, pci_request_region() did the
 * same on a device enabled with pcim_enable_device(); newer kernels (7.x)
 * no longer release its claims.  A function, so only the version tells.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
static inline int pcim_request_region(struct pci_dev *pdev, int bar,
				      const char *name)
{
	return pci_request_region(pdev, bar, name);
}
#endif

#endif /* DMALAB_COMPAT_H */
