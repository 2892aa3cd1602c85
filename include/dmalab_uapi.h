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
 * read/write move the data by DMA straight to and from the caller's pages
 * (pinned for the transfer), except with the driver's use_bounce=1, which
 * copies through one bounce buffer, and for kernel memory (splice, sendfile,
 * io_uring's fixed buffers), which is always copied through a bounce buffer.
 * O_DIRECT (at open or with fcntl) asks for the caller's pages, even with
 * use_bounce=1, under a block device's rules: the file offset, the length
 * and the address of each buffer are multiples of DMALAB_DIO_ALIGN (EINVAL
 * otherwise).  fsync and fdatasync are a flush: they return once every
 * operation any file of the device had submitted before the call has
 * completed (EIO if the device fails to complete one in time).
 *
 * mmap:
 *   offset 0 .. devmem_size            device memory (BAR2), write-combining
 *   offset DMALAB_MMAP_COHERENT        the file's DMA-coherent buffer; the
 *                                      first such mmap allocates it with the
 *                                      length of the mapping (at most
 *                                      info.coherent_max bytes); later ones
 *                                      may map at most that length.  Ops
 *                                      refer to it with DMALAB_BUF_COHERENT.
 *   offset DMALAB_MMAP_PAGEBUF + off   the file's page buffer of
 *                                      info.pagebuf_size bytes, built page
 *                                      by page: each page is allocated
 *                                      (zeroed) when first touched, by the
 *                                      CPU (page fault) or by a DMA.  off
 *                                      is a multiple of the page size and
 *                                      off + length <= info.pagebuf_size
 *                                      (EINVAL otherwise).  Ops refer to it
 *                                      with DMALAB_BUF_PAGEBUF.  sysfs
 *                                      pagebuf_mappings counts the VMAs
 *                                      mapping page buffers of the device.
 *   offset DMALAB_MMAP_NONCOHERENT     the file's non-coherent buffer: one
 *                                      block of pages from dma_alloc_pages,
 *                                      mapped with remap_pfn_range (a
 *                                      VM_PFNMAP mapping: such an address
 *                                      cannot be a DMALAB_BUF_USER buffer,
 *                                      EFAULT).  Sized by the first mmap as
 *                                      the coherent buffer is (at most
 *                                      info.noncoherent_max).  Ops refer to
 *                                      it with DMALAB_BUF_NONCOHERENT; the
 *                                      driver hands each op's range to the
 *                                      device and back with explicit syncs.
 *                                      Where the device writes it, the range
 *                                      must start and end on a multiple of
 *                                      info.dma_align (EINVAL otherwise).
 *
 * Registered buffers: DMALAB_IOC_REGISTER pins a range of the caller's
 * memory and maps it for the device once; ops then refer to any part of it
 * with DMALAB_BUF_REGISTERED and its user address, and the driver neither
 * pins nor maps per op (see struct dmalab_register).
 *
 * Asynchronous I/O: DMALAB_IOC_SUBMIT_ASYNC and DMALAB_IOC_WAIT (poll()
 * reports POLLIN while completions wait to be collected), and read/write
 * through aio or io_uring, which complete asynchronously (several may be in
 * flight at once).  At most info.async_max async ops per file are in flight
 * (EAGAIN beyond).  io_uring's fixed buffers are kernel memory: such a
 * read or write is bounced and completes before its submission returns.
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

/* Version of this interface; bumped on every addition. */
#define DMALAB_UAPI_VERSION		5

/* O_DIRECT's grain: file offset, length and buffer address (as a disk's). */
#define DMALAB_DIO_ALIGN		512

#define DMALAB_IOC_MAGIC		0xda

/* Byte offset of the coherent buffer in the mmap offset space. */
#define DMALAB_MMAP_COHERENT		_BITULL(40)
/* Byte offset of the page buffer (mmap region 3) in the mmap offset space. */
#define DMALAB_MMAP_PAGEBUF		_BITULL(41)
/* Byte offset of the non-coherent buffer in the mmap offset space. */
#define DMALAB_MMAP_NONCOHERENT		_BITULL(42)

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
 * @max_xfer:		maximum len of one op (device MAX_XFER register; at
 *			most 4 MiB where streaming DMA is bounced by swiotlb)
 * @max_batch:		maximum count of DMALAB_IOC_SUBMIT_BATCH
 * @coherent_max:	maximum size of the mmap-able coherent buffer
 * @devmem_size:	bytes of device memory (BAR2)
 * @pagebuf_size:	bytes of the page buffer (DMALAB_MMAP_PAGEBUF)
 * @async_max:		async ops one file may have in flight
 * @noncoherent_max:	maximum size of the non-coherent buffer
 * @dma_align:		dma_get_cache_alignment(): the grain of the CPU's
 *			cache maintenance for DMA (1 where DMA is coherent by
 *			architecture, as on x86)
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
	__u32 pagebuf_size;
	__u32 async_max;
	__u32 noncoherent_max;
	__u32 dma_align;
	__u64 rsvd[2];
};

/* struct dmalab_buf.kind */
#define DMALAB_BUF_NONE		0 /* unused side: addr must be 0 */
#define DMALAB_BUF_USER		1 /* addr = user virtual address */
#define DMALAB_BUF_DEVMEM	2 /* addr = device-memory byte offset */
#define DMALAB_BUF_COHERENT	3 /* addr = offset in the coherent buffer */
#define DMALAB_BUF_PAGEBUF	4 /* addr = offset in the page buffer */
#define DMALAB_BUF_NONCOHERENT	5 /* addr = offset in the non-coherent buffer */
#define DMALAB_BUF_REGISTERED	6 /* addr = user address in a registration */

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
/* The largest DMA cache-line alignment of the CPUs Linux runs on */
#define DMALAB_WRITE_GRAIN	128

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
 *
 * No two ops of a batch may have the device write into the same
 * DMALAB_WRITE_GRAIN-aligned block of user memory, or of the page buffer
 * (EINVAL).  Their writes could race on different queues, and the DMA API
 * does not support two live device-written streaming mappings of one cache
 * line: on a CPU without coherent DMA, the cache maintenance of one can
 * undo the other's data.  Reads may overlap anything.
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
 * @mappings:		streaming DMA mappings the driver made
 * @remapped:		of those, mappings whose bus address differs from the
 *			CPU physical address of the memory: bounced by
 *			swiotlb or translated by an IOMMU
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
	__u64 mappings;
	__u64 remapped;
	__u64 rsvd[2];
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

/**
 * struct dmalab_async - DMALAB_IOC_SUBMIT_ASYNC: start an op, do not wait
 * @op:		the op, as for DMALAB_IOC_SUBMIT; its outputs are not written
 *		back (they come with the completion)
 * @user_data:	returned unchanged in the completion
 * @cookie:	out: the driver's id of the op, also in the completion
 *
 * USER buffers stay pinned until the op is collected by DMALAB_IOC_WAIT (or
 * the file is closed).  EAGAIN: info.async_max ops already in flight.
 */
struct dmalab_async {
	struct dmalab_op op;
	__u64 user_data;
	__u64 cookie;
};

/**
 * struct dmalab_completion - one finished async op
 * @cookie:	dmalab_async.cookie
 * @user_data:	dmalab_async.user_data
 * @error:	0 if the device completed the op (check @status), or a
 *		negative errno: -ETIMEDOUT, -ECANCELED, -ENODEV, -EIO
 * @status:	device status, DMALAB_STS_*
 * @bytes:	bytes the device transferred
 * @result:	CRC32C for DMALAB_UOP_CRC32C
 * @queue_used:	the queue that ran the op
 * @rsvd:	zero
 */
struct dmalab_completion {
	__u64 cookie;
	__u64 user_data;
	__s32 error;
	__u32 status;
	__u32 bytes;
	__u32 result;
	__u32 queue_used;
	__u32 rsvd;
};

#define DMALAB_WAIT_MAX		1024

/**
 * struct dmalab_wait - DMALAB_IOC_WAIT: collect completions of async ops
 * @size:	sizeof(struct dmalab_wait)
 * @max:	room in @cpls, 1 .. DMALAB_WAIT_MAX (E2BIG above)
 * @cpls:	user pointer to an array of @max struct dmalab_completion
 * @min:	wait until at least this many completions are ready (at most
 *		@max; 0: do not wait)
 * @timeout_ms:	wait at most this long (at most 600000)
 * @count:	out: completions written to @cpls, oldest first
 * @inflight:	out: async ops of the file still not collected
 * @rsvd:	zero
 *
 * Returns 0 with @count possibly below @min when the timeout expired;
 * ETIMEDOUT if it expired with no completion at all and @min > 0.
 */
struct dmalab_wait {
	__u32 size;
	__u32 max;
	__u64 cpls;
	__u32 min;
	__u32 timeout_ms;
	__u32 count;
	__u32 inflight;
	__u64 rsvd[2];
};

/* struct dmalab_register.flags: what the device may do with the buffer */
#define DMALAB_REGF_DEV_READS	_BITUL(0) /* H2D, COPY source, CRC32C */
#define DMALAB_REGF_DEV_WRITES	_BITUL(1) /* D2H, COPY destination, FILL */
#define DMALAB_REGF_VALID	(DMALAB_REGF_DEV_READS | DMALAB_REGF_DEV_WRITES)

/* Registrations one file may hold at once (ENOSPC beyond). */
#define DMALAB_REG_MAX		16
/* The largest registration, in bytes (EINVAL beyond). */
#define DMALAB_REG_MAX_LEN	(256U << 20)

/**
 * struct dmalab_register - DMALAB_IOC_REGISTER / DMALAB_IOC_UNREGISTER
 * @size:	sizeof(struct dmalab_register)
 * @flags:	REGISTER: DMALAB_REGF_*, at least one; UNREGISTER: zero
 * @addr:	user address of the buffer's first byte (any alignment)
 * @len:	REGISTER: bytes, 1 .. DMALAB_REG_MAX_LEN; UNREGISTER: zero
 * @rsvd:	zero
 *
 * REGISTER pins the pages of [addr, addr + len) for as long as the
 * registration lasts (a long-term pin: the pages are moved out of movable
 * memory first) and maps them for the device once.  The pinned pages count
 * in the process's VmPin and, without CAP_IPC_LOCK, against RLIMIT_MEMLOCK
 * (ENOMEM beyond).  Where the device may write (DMALAB_REGF_DEV_WRITES),
 * the range must be private (or hugetlb) memory: the pages of a shared
 * mapping could be written back and cleaned while the device writes them
 * (EOPNOTSUPP).  A range
 * that overlaps a registration of the file fails with EEXIST; one with an
 * address that is not mapped, with EFAULT.
 *
 * An op's side of kind DMALAB_BUF_REGISTERED names its buffer by user
 * address: [addr, addr + op.len) must lie inside one registration of the
 * file (EINVAL otherwise), one that allows what the op does with it
 * (EACCES otherwise).  It refers to the pages pinned at registration: if
 * the process maps something else at those addresses, ops still move the
 * registered pages.  Where the device's view must be synced by the CPU
 * (dma_align above 1 on a non-coherent system, or bounced mappings) a
 * range the device writes starts and ends on a multiple of info.dma_align
 * (EINVAL otherwise).
 *
 * UNREGISTER ends the registration that starts at @addr (ENOENT if none).
 * Async ops not yet collected keep its pages; closing the file ends all of
 * its registrations.
 */
struct dmalab_register {
	__u32 size;
	__u32 flags;
	__u64 addr;
	__u64 len;
	__u64 rsvd;
};

/*
 * Teaching and TEST-ONLY interface: needs CAP_SYS_ADMIN (EPERM otherwise).
 */

/**
 * struct dmalab_dma_seg - one DMA-mapped segment of a buffer
 * @bus:	bus address the device uses (an IOVA behind an IOMMU, a
 *		swiotlb slot when bounced)
 * @phys:	CPU physical address of the memory at its start
 * @len:	bytes
 */
struct dmalab_dma_seg {
	__u64 bus;
	__u64 phys;
	__u64 len;
};

/**
 * struct dmalab_dma_addrs - DMALAB_IOC_DMA_ADDRS: how a user buffer maps
 * @size:	sizeof(struct dmalab_dma_addrs)
 * @max:	room in @segs, 1 .. 4096
 * @uaddr:	user buffer
 * @len:	its length, 1 .. info.max_xfer
 * @segs:	user pointer to an array of @max struct dmalab_dma_seg
 * @count:	out: segments written (EOVERFLOW if more than @max)
 * @write:	1: mapped as the device writes it (DMA_FROM_DEVICE), 0: reads
 * @rsvd:	zero
 *
 * Pins and maps the buffer as a transfer would, reports the mapping and
 * unmaps it again.
 */
struct dmalab_dma_addrs {
	__u32 size;
	__u32 max;
	__u64 uaddr;
	__u64 len;
	__u64 segs;
	__u32 count;
	__u32 write;
	__u64 rsvd;
};

/**
 * struct dmalab_test_stale - DMALAB_IOC_TEST_STALE (TEST ONLY)
 * @len:	bytes, 1 .. page size
 * @write:	1: D2H into the stale address, 0: H2D from it
 * @status:	out: completion status (DMALAB_STS_DMA_WRITE/READ behind
 *		an IOMMU)
 * @bus:	out: the stale bus address used
 * @rsvd:	zero
 *
 * Maps a kernel page, unmaps it and submits a descriptor that still uses
 * its bus address.  Refused with EOPNOTSUPP where the address is a swiotlb
 * slot that could be in use by someone else.
 */
struct dmalab_test_stale {
	__u32 len;
	__u32 write;
	__u32 status;
	__u32 rsvd;
	__u64 bus;
};

/**
 * struct dmalab_test_stream - DMALAB_IOC_TEST_STREAM (TEST ONLY)
 * @uaddr:	user buffer
 * @devmem:	device memory offset
 * @len:	bytes, 1 .. 65536
 * @write:	1: user -> streaming buffer -> device memory (H2D);
 *		0: device memory -> streaming buffer -> user (D2H)
 * @status:	out: completion status
 * @rsvd:	zero
 *
 * Moves data through one kernel buffer that stays DMA-mapped (streaming,
 * bidirectional) for the device's lifetime, handing it between CPU and
 * device with dma_sync_single_for_device/for_cpu -- unless debugfs
 * test_skip_sync is 1, which shows what the syncs are for.
 */
struct dmalab_test_stream {
	__u64 uaddr;
	__u64 devmem;
	__u32 len;
	__u32 write;
	__u32 status;
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
#define DMALAB_IOC_SUBMIT_ASYNC	_IOWR(DMALAB_IOC_MAGIC, 0x05, \
				      struct dmalab_async)
#define DMALAB_IOC_WAIT		_IOWR(DMALAB_IOC_MAGIC, 0x06, \
				      struct dmalab_wait)
#define DMALAB_IOC_REGISTER	_IOW(DMALAB_IOC_MAGIC, 0x07, struct dmalab_register)
#define DMALAB_IOC_UNREGISTER	_IOW(DMALAB_IOC_MAGIC, 0x08, struct dmalab_register)
#define DMALAB_IOC_DMA_ADDRS	_IOWR(DMALAB_IOC_MAGIC, 0x10, \
				      struct dmalab_dma_addrs)
#define DMALAB_IOC_TEST_STALE	_IOWR(DMALAB_IOC_MAGIC, 0x11, \
				      struct dmalab_test_stale)
#define DMALAB_IOC_TEST_STREAM	_IOWR(DMALAB_IOC_MAGIC, 0x12, \
				      struct dmalab_test_stream)

/*
 * Structure sizes (checked by the driver with BUILD_BUG_ON and by the
 * tests): info 88, buf 16, op 80, batch 40, stats 136, queue_reset 8,
 * async 96, completion 40, wait 48, dma_seg 24, dma_addrs 48,
 * test_stale 24, test_stream 32.
 */

#endif /* DMALAB_UAPI_H */
