// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_faultmap: mmap region 3, the page buffer built page by page by the
 * driver's .fault handler (DMALAB_MMAP_PAGEBUF).  Maps it, touches pages,
 * DMAs into it from device memory and out of it (DMALAB_BUF_PAGEBUF), also
 * into pages never touched before, checks every byte and the bytes around
 * each transfer; watches the mapping count (sysfs pagebuf_mappings) follow
 * fork(), exit and munmap; and checks that mappings beyond the region fail
 * with EINVAL.  Output is TAP.
 *
 * Usage: dmalab_faultmap [seed] [device]
 */
#include "dmalab_test.h"

#include <sys/mman.h>

#define NTESTS	16
#define PG	4096

static int fd;
static struct dmalab_info info;
static char mapcount_path[PATH_MAX];
static uint64_t rs;		/* the test's PRNG */

static long mapcount(void)
{
	return read_long(mapcount_path);
}

/* D2H (device memory -> page buffer) or H2D, one op; 1 on success. */
static int pagebuf_op(uint32_t opcode, uint64_t pboff, uint64_t devoff,
		      uint32_t len)
{
	struct dmalab_op op;

	if (opcode == DMALAB_UOP_D2H)
		op_xfer(&op, opcode, DMALAB_QUEUE_ANY, len, DMALAB_BUF_DEVMEM,
			devoff, DMALAB_BUF_PAGEBUF, pboff);
	else
		op_xfer(&op, opcode, DMALAB_QUEUE_ANY, len, DMALAB_BUF_PAGEBUF,
			pboff, DMALAB_BUF_DEVMEM, devoff);
	return submit_ok(fd, &op);
}

static int mmap_fails(size_t len, uint64_t off, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd,
		       (off_t)off);

	if (p != MAP_FAILED) {
		munmap(p, len);
		return 0;
	}
	return errno == EINVAL;
}

int main(int argc, char **argv)
{
	const char *dev;
	size_t size, len, i;
	uint8_t *pb, *data, *copy;
	long base, c;
	int ok, status;
	pid_t pid;

	dev = test_begin(argc, argv, "dmalab_faultmap", NTESTS, &rs);
	snprintf(mapcount_path, sizeof(mapcount_path),
		 "/sys/class/misc/%s/device/pagebuf_mappings", dev_name(dev));
	fd = dev_open(dev, &info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	size = info.pagebuf_size;
	base = mapcount();
	tap(size >= 16 * PG && size % PG == 0 && base >= 0,
	    "page buffer of %zu bytes, %ld mappings before", size, base);

	pb = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_PAGEBUF);
	tap(pb != MAP_FAILED && mapcount() == base + 1,
	    "whole page buffer mapped; mapping count %ld", mapcount());
	if (pb == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));

	/* CPU touches: fresh pages read as zero, writes stick */
	ok = all_bytes(pb, PG, 0) && all_bytes(pb + 5 * PG, PG, 0);
	for (i = 0; i < 4 * PG; i++)
		pb[i] = (uint8_t)(i * 13 + 1);
	for (i = 0; i < 4 * PG && ok; i++)
		ok = pb[i] == (uint8_t)(i * 13 + 1);
	tap(ok, "pages are zero on first touch and keep what the CPU wrote");

	/* device memory -> pages 1..4 (partly touched), not page-aligned */
	len = 3 * PG + 100;
	data = malloc(len);
	copy = malloc(size);
	if (!data || !copy)
		return 1;
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)rng_next(&rs);
	ok = pwrite(fd, data, len, 8192) == (ssize_t)len;
	memcpy(copy, pb, size);
	ok = ok && pagebuf_op(DMALAB_UOP_D2H, PG + 50, 8192, len);
	tap(ok && same(pb + PG + 50, data, len, "D2H into page buffer"),
	    "D2H of %zu bytes into the page buffer at %d: every byte", len,
	    PG + 50);
	tap(same(pb, copy, PG + 50, "before the transfer") &&
	    same(pb + PG + 50 + len, copy + PG + 50 + len,
		 size - PG - 50 - len, "after the transfer"),
	    "bytes around the transfer are unchanged");

	/* into pages nobody touched: the DMA allocates them */
	ok = pagebuf_op(DMALAB_UOP_D2H, size - 2 * PG + 7, 8192, PG);
	tap(ok && same(pb + size - 2 * PG + 7, data, PG, "untouched pages") &&
	    all_bytes(pb + size - 2 * PG, 7, 0) &&
	    all_bytes(pb + size - PG + 7, PG - 7, 0),
	    "D2H into never-touched pages; the CPU then sees the data");

	/* page buffer -> device memory */
	for (i = 0; i < 2 * PG; i++)
		pb[10 * PG + i] = (uint8_t)rng_next(&rs);
	ok = pagebuf_op(DMALAB_UOP_H2D, 10 * PG, 100000, 2 * PG);
	memset(copy, 0, 2 * PG);
	ok = ok && pread(fd, copy, 2 * PG, 100000) == 2 * PG;
	tap(ok && same(copy, pb + 10 * PG, 2 * PG, "H2D from page buffer"),
	    "H2D from the page buffer: device memory holds every byte");

	/* fork: the child's copy of the mapping counts */
	pid = fork();
	if (pid == 0) {
		/* the child sees the same pages */
		_exit(same(pb + PG + 50, data, len, "child") ? 0 : 1);
	}
	c = mapcount();
	waitpid(pid, &status, 0);
	tap(pid > 0 && c >= base + 1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0,
	    "fork(): the child sees the data; count %ld while it ran", c);
	tap(mapcount() == base + 1, "after the child exited the count is "
	    "back to %ld", mapcount());

	/* hold the child until the parent looked */
	{
		int p[2];
		char ch;

		ok = pipe(p) == 0;
		pid = ok ? fork() : -1;
		if (pid == 0) {
			close(p[1]);
			if (read(p[0], &ch, 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(p[0]);
		c = mapcount();
		close(p[1]);
		waitpid(pid, &status, 0);
		tap(pid > 0 && c == base + 2,
		    "with a child alive the count is %ld (parent and child)",
		    c);
	}

	/* munmap a page in the middle: the VMA splits in two */
	ok = munmap(pb + 8 * PG, PG) == 0;
	tap(ok && mapcount() == base + 2,
	    "munmap of one page in the middle: two mappings (%ld)",
	    mapcount());
	ok = munmap(pb, size) == 0;
	tap(ok && mapcount() == base, "munmap of the rest: count back to %ld",
	    mapcount());

	/* a second mapping of part of it still sees the pages */
	pb = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd,
		  (off_t)(DMALAB_MMAP_PAGEBUF + PG));
	tap(pb != MAP_FAILED && same(pb + 50, data, len > 2 * PG - 50 ?
				     2 * PG - 50 : len, "remap"),
	    "a new mapping at offset %d sees the same pages", PG);
	if (pb != MAP_FAILED)
		munmap(pb, 2 * PG);

	tap(mmap_fails(PG, DMALAB_MMAP_PAGEBUF + size, MAP_SHARED) &&
	    mmap_fails(size + PG, DMALAB_MMAP_PAGEBUF, MAP_SHARED) &&
	    mmap_fails(2 * PG, DMALAB_MMAP_PAGEBUF + size - PG, MAP_SHARED),
	    "mmap beyond the page buffer fails with EINVAL");
	tap(mmap_fails(PG, DMALAB_MMAP_PAGEBUF, MAP_PRIVATE),
	    "a private mapping fails with EINVAL");
	{
		struct dmalab_op op;
		int r;

		op_xfer(&op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, 2 * PG,
			DMALAB_BUF_DEVMEM, 0, DMALAB_BUF_PAGEBUF, size - PG);
		r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
		tap(r == -1 && errno == EINVAL && mapcount() == base,
		    "an op crossing the end of the page buffer fails with "
		    "EINVAL");
	}
	free(data);
	free(copy);
	close(fd);
	return tap_done();
}
