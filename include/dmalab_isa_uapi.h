/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * dmalab_isa driver user-space interface: the ISA device of dmalab_hw.h,
 * whose transfers the 8237 DMA controller performs.
 *
 * Character device: /dev/dmalab-isa0, /dev/dmalab-isa1, ... (one per
 * device, mode 0600).  As on /dev/dmalabN, the file offset of
 * read/write/pread/pwrite is a byte offset in the device's memory, here
 * info.mem_size (64 KiB) bytes: a read at or beyond its end returns 0, a
 * write there fails with ENOSPC, and a transfer crossing it is shortened.
 * The data passes through the driver's DMA buffer, below 16 MiB, in pieces
 * that never cross a 64 KiB (16-bit channel: 128 KiB) boundary.  On a
 * 16-bit channel the offset and length must be even (EINVAL).  EIO: the
 * device ended a transfer with an error; ETIMEDOUT: it did not end.
 */
#ifndef DMALAB_ISA_UAPI_H
#define DMALAB_ISA_UAPI_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define DMALAB_ISA_IOC_MAGIC	0xdb

/**
 * struct dmalab_isa_info - DMALAB_ISA_IOC_INFO: the device and its buffer
 * @buf_bus:	bus address of the driver's DMA buffer (below 16 MiB)
 * @buf_size:	its size in bytes
 * @mem_size:	bytes of device memory
 * @io:		first I/O port
 * @irq:	ISA interrupt line
 * @dma:	8237 channel (0-3: 8-bit, 5-7: 16-bit)
 * @boundary:	no transfer may cross a multiple of this many bytes: 65536,
 *		or 131072 on a 16-bit channel
 * @rsvd:	zero
 */
struct dmalab_isa_info {
	__u64 buf_bus;
	__u32 buf_size;
	__u32 mem_size;
	__u32 io;
	__u32 irq;
	__u32 dma;
	__u32 boundary;
	__u64 rsvd;
};

/* struct dmalab_isa_xfer.flags */
#define DMALAB_ISA_XF_TO_HOST	_BITUL(0) /* device -> memory */
#define DMALAB_ISA_XF_BLOCK	_BITUL(1) /* the 8237's block mode */
#define DMALAB_ISA_XF_AUTOINIT	_BITUL(2) /* the 8237 restarts the block */
/* TEST ONLY: place the block in a page above 16 MiB (refused: ERANGE) */
#define DMALAB_ISA_XF_HIGH	_BITUL(3)
#define DMALAB_ISA_XF_VALID	0xfu

/**
 * struct dmalab_isa_xfer - DMALAB_ISA_IOC_XFER: one programmed transfer
 * @data:	user buffer of @count bytes: the block's contents, copied in
 *		before a transfer to the device, out after one to the host
 * @bufoff:	where the block sits in the driver's DMA buffer
 * @count:	bytes of the block the 8237 is programmed with
 * @len:	bytes the device moves: @count, or more with AUTOINIT
 * @devoff:	offset in device memory
 * @flags:	DMALAB_ISA_XF_*
 * @status:	out: the device's STATUS register when the transfer ended
 * @residue:	out: bytes the channel had left (get_dma_residue)
 * @rsvd:	zero
 *
 * Programs the 8237 exactly as asked, so that each of its modes can be
 * seen; EINVAL for a block that leaves the buffer or crosses a boundary.
 * Returns 0 once the device ended the transfer, whatever its STATUS says.
 * Needs CAP_SYS_ADMIN (EPERM).
 */
struct dmalab_isa_xfer {
	__u64 data;
	__u32 bufoff;
	__u32 count;
	__u32 len;
	__u32 devoff;
	__u32 flags;
	__u32 status;
	__u32 residue;
	__u32 rsvd;
};

#define DMALAB_ISA_IOC_INFO	_IOR(DMALAB_ISA_IOC_MAGIC, 0x00, \
				     struct dmalab_isa_info)
#define DMALAB_ISA_IOC_XFER	_IOWR(DMALAB_ISA_IOC_MAGIC, 0x01, \
				      struct dmalab_isa_xfer)

/* Structure sizes: info 40, xfer 40. */

#endif /* DMALAB_ISA_UAPI_H */
