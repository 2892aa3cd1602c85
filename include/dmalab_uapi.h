/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * dmalab driver user-space interface.
 *
 * Character device: /dev/dmalab0, /dev/dmalab1, ... (one per device, mode
 * 0600).  The file offset of read/write/pread/pwrite is a byte offset in the
 * device memory (BAR2):
 *
 *   pwrite(fd, buf, len, off)  DMA (H2D) user data into device memory at off
 *   pread(fd, buf, len, off)   DMA (D2H) device memory at off into buf
 *
 * A read at or beyond the end of device memory returns 0 (end of file), a
 * write there fails with ENOSPC; a transfer crossing the end is shortened.
 * lseek() works as on a regular file of devmem_size bytes (SEEK_END is
 * relative to devmem_size).
 *
 * mmap:
 *   offset 0 .. devmem_size            device memory (BAR2), write-combining
 *   offset DMALAB_MMAP_COHERENT        the file's DMA-coherent buffer; the
 *                                      first such mmap allocates it with the
 *                                      length of the mapping (at most
 *                                      info.coherent_max bytes); later ones
 *                                      may map at most that length.  Ops
 *                                      refer to it with DMALAB_BUF_COHERENT.
 *
 * All structures have explicit sizes, no implicit padding, and the same
 * layout on 32- and 64-bit user space.  Reserved fields must be zero on
 * input (EINVAL otherwise) and are zeroed on output.
 *
 * Errors common to all calls: ENODEV (device was removed), EFAULT (bad user
 * pointer), EINVAL (bad argument or non-zero reserved field), ETIMEDOUT (the
 * device did not complete in time; the queue was reset), EINTR/ERESTARTSYS
 * (interrupted by a signal; the operation may still complete in the
 * background), ENOMEM.
 */
#ifndef DMALAB_UAPI_H
#define DMALAB_UAPI_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/build_bug.h>
#endif

/* Version of this interface; bumped on every addition. */
#define DMALAB_UAPI_VERSION		1

#define DMALAB_IOC_MAGIC		0xda

/* Byte offset of the coherent buffer in the mmap offset space. */
#define DMALAB_MMAP_COHERENT		_BITULL(40)

/* struct dmalab_info.irq_mode */
#define DMALAB_IRQ_NONE			0
#define DMALAB_IRQ_INTX			1
#define DMALAB_IRQ_MSI			2
#define DMALAB_IRQ_MSIX			3

/**
 * struct dmalab_info - DMALAB_IOC_INFO: what the device and driver offer
 * @size:		in: sizeof(struct dmalab_info); out: the same
 * @api_version:	DMALAB_UAPI_VERSION of the driver
 * @hw_version:		device VERSION register (major << 16 | minor)
 * @features:		device FEATURES register (DMALAB_FEAT_*)
 * @num_queues:		queues the driver uses (<= the device's count)
 * @dma_bits:		width of the DMA mask the driver set (32..64)
 * @irq_mode:		DMALAB_IRQ_*
 * @num_vectors:	interrupt vectors allocated
 * @ring_size:		descriptors per queue ring
 * @max_xfer:		maximum len of one op (device MAX_XFER register)
 * @max_batch:		maximum count of DMALAB_IOC_SUBMIT_BATCH
 * @coherent_max:	maximum size of the mmap-able coherent buffer
 * @devmem_size:	bytes of device memory (BAR2)
 * @rsvd:		zero
 */
struct dmalab_info {
	__u32 size;
	__u32 api_version;
	__u32 hw_version;
	__u32 features;
	__u32 num_queues;
	__u32 dma_bits;
	__u32 irq_mode;
	__u32 num_vectors;
	__u32 ring_size;
	__u32 max_xfer;
	__u32 max_batch;
	__u32 coherent_max;
	__u64 devmem_size;
	__u64 rsvd[4];
};

/* struct dmalab_buf.kind */
#define DMALAB_BUF_NONE		0 /* unused side: addr must be 0 */
#define DMALAB_BUF_USER		1 /* addr = user virtual address */
#define DMALAB_BUF_DEVMEM	2 /* addr = device-memory byte offset */
#define DMALAB_BUF_COHERENT	3 /* addr = offset in the coherent buffer */

/**
 * struct dmalab_buf - one side (source or destination) of an op
 * @addr:	meaning depends on @kind
 * @kind:	DMALAB_BUF_*
 * @rsvd:	zero
 */
struct dmalab_buf {
	__u64 addr;
	__u32 kind;
	__u32 rsvd;
};

/* struct dmalab_op.opcode: the device opcodes of dmalab_hw.h */
#define DMALAB_UOP_H2D		0x01 /* src host (USER/COHERENT), dst DEVMEM */
#define DMALAB_UOP_D2H		0x02 /* src DEVMEM, dst host */
#define DMALAB_UOP_COPY		0x03 /* src host, dst host */
#define DMALAB_UOP_FILL		0x04 /* pattern -> dst host; src NONE */
#define DMALAB_UOP_CRC32C	0x05 /* CRC32C of src host; dst NONE */

/* struct dmalab_op.flags */
/*
 * Do not check device-memory ranges in the driver: the device checks them and
 * completes the op with DMALAB_STS_DEVMEM_RANGE.  For testing error paths.
 */
#define DMALAB_OPF_NO_CHECK	_BITUL(0)
#define DMALAB_OPF_VALID	DMALAB_OPF_NO_CHECK

/* struct dmalab_op.queue: let the driver pick a queue */
#define DMALAB_QUEUE_ANY	0xffffffffU

/**
 * struct dmalab_op - one device operation (one descriptor)
 * @opcode:	DMALAB_UOP_*
 * @flags:	DMALAB_OPF_*
 * @queue:	queue index or DMALAB_QUEUE_ANY
 * @len:	bytes, 1 .. info.max_xfer
 * @src:	source (see DMALAB_UOP_*)
 * @dst:	destination
 * @pattern:	DMALAB_UOP_FILL: 64-bit pattern, stored little endian and
 *		repeated over dst (the last copy truncated); otherwise zero
 * @status:	out: device status, DMALAB_STS_* of dmalab_hw.h
 * @bytes:	out: bytes the device transferred
 * @result:	out: CRC32C for DMALAB_UOP_CRC32C (standard: init ~0, final
 *		xor ~0), otherwise 0
 * @queue_used:	out: the queue that ran the op
 * @rsvd:	zero
 *
 * The ioctl returns 0 once the device completed the op, whatever its status;
 * check @status.  Host buffers (USER) are pinned and mapped for the duration
 * of the op (zero copy): no alignment is needed.
 */
struct dmalab_op {
	__u32 opcode;
	__u32 flags;
	__u32 queue;
	__u32 len;
	struct dmalab_buf src;
	struct dmalab_buf dst;
	__u64 pattern;
	__u32 status;
	__u32 bytes;
	__u32 result;
	__u32 queue_used;
	__u64 rsvd;
};

#define DMALAB_MAX_BATCH	256

/**
 * struct dmalab_batch - DMALAB_IOC_SUBMIT_BATCH: run many ops at once
 * @size:	sizeof(struct dmalab_batch)
 * @count:	number of ops, 1 .. info.max_batch
 * @ops:	user pointer to an array of @count struct dmalab_op; their
 *		outputs are written back
 * @flags:	zero
 * @completed:	out: ops that completed with DMALAB_STS_OK
 * @rsvd:	zero
 *
 * All ops are checked before any is submitted; they may run in parallel on
 * different queues, in order within one queue.  The ioctl returns 0 once
 * every op has completed.
 */
struct dmalab_batch {
	__u32 size;
	__u32 count;
	__u64 ops;
	__u32 flags;
	__u32 completed;
	__u64 rsvd[2];
};

/**
 * struct dmalab_stats - DMALAB_IOC_STATS: device and driver counters
 * @size:		sizeof(struct dmalab_stats)
 * @rsvd0:		zero
 * @hw_bytes:		device STAT_BYTES
 * @hw_descs:		device STAT_DESCS
 * @hw_errors:		device STAT_ERRORS
 * @hw_irqs:		device STAT_IRQS
 * @hw_err_count:	device ERR_COUNT
 * @submitted:		descriptors the driver submitted
 * @completed:		completions the driver reaped
 * @cpl_errors:		completions with a status other than OK
 * @irqs:		queue interrupts handled
 * @err_irqs:		error interrupts handled
 * @timeouts:		requests that timed out
 * @queue_resets:	queue resets (timeouts and DMALAB_IOC_QUEUE_RESET)
 * @rsvd:		zero
 */
struct dmalab_stats {
	__u32 size;
	__u32 rsvd0;
	__u64 hw_bytes;
	__u64 hw_descs;
	__u64 hw_errors;
	__u64 hw_irqs;
	__u64 hw_err_count;
	__u64 submitted;
	__u64 completed;
	__u64 cpl_errors;
	__u64 irqs;
	__u64 err_irqs;
	__u64 timeouts;
	__u64 queue_resets;
	__u64 rsvd[4];
};

/**
 * struct dmalab_queue_reset - DMALAB_IOC_QUEUE_RESET: reset one queue
 * @queue:	queue index
 * @rsvd:	zero
 *
 * Stops the queue, cancels its outstanding ops (they fail with ECANCELED)
 * and starts it again with an empty ring.
 */
struct dmalab_queue_reset {
	__u32 queue;
	__u32 rsvd;
};

#define DMALAB_IOC_INFO		_IOWR(DMALAB_IOC_MAGIC, 0x00, \
				      struct dmalab_info)
#define DMALAB_IOC_SUBMIT	_IOWR(DMALAB_IOC_MAGIC, 0x01, struct dmalab_op)
#define DMALAB_IOC_SUBMIT_BATCH	_IOWR(DMALAB_IOC_MAGIC, 0x02, \
				      struct dmalab_batch)
#define DMALAB_IOC_STATS	_IOWR(DMALAB_IOC_MAGIC, 0x03, \
				      struct dmalab_stats)
#define DMALAB_IOC_QUEUE_RESET	_IOW(DMALAB_IOC_MAGIC, 0x04, \
				     struct dmalab_queue_reset)

#ifdef __KERNEL__
#define DMALAB_UAPI_ASSERT(c, m)	static_assert(c, m)
#else
#define DMALAB_UAPI_ASSERT(c, m)	_Static_assert(c, m)
#endif

DMALAB_UAPI_ASSERT(sizeof(struct dmalab_info) == 88, "dmalab_info size");
DMALAB_UAPI_ASSERT(sizeof(struct dmalab_buf) == 16, "dmalab_buf size");
DMALAB_UAPI_ASSERT(sizeof(struct dmalab_op) == 80, "dmalab_op size");
DMALAB_UAPI_ASSERT(sizeof(struct dmalab_batch) == 40, "dmalab_batch size");
DMALAB_UAPI_ASSERT(sizeof(struct dmalab_stats) == 136, "dmalab_stats size");
DMALAB_UAPI_ASSERT(sizeof(struct dmalab_queue_reset) == 8,
		   "dmalab_queue_reset size");

#endif /* DMALAB_UAPI_H */
