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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

_Static_assert(sizeof(struct dmalab_op) == 80, "dmalab_op size");
_Static_assert(sizeof(struct dmalab_info) == 88, "dmalab_info size");

#define NTESTS	16
#define PG	4096

static int test_no;
static int failed;
static int fd;
static struct dmalab_info info;
static char mapcount_path[PATH_MAX];
static uint64_t rng_state;

static void tap(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	test_no++;
	if (!ok)
		failed++;
	printf("%sok %d - ", ok ? "" : "not ", test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long mapcount(void)
{
	char s[32];
	ssize_t n;
	int f = open(mapcount_path, O_RDONLY);

	if (f < 0)
		return -1;
	n = read(f, s, sizeof(s) - 1);
	close(f);
	if (n <= 0)
		return -1;
	s[n] = 0;
	return strtol(s, NULL, 10);
}

/* D2H (device memory -> page buffer) or H2D, one op; 1 on success. */
static int pagebuf_op(uint32_t opcode, uint64_t pboff, uint64_t devoff,
		      uint32_t len)
{
	struct dmalab_op op;

	memset(&op, 0, sizeof(op));
	op.opcode = opcode;
	op.queue = DMALAB_QUEUE_ANY;
	op.len = len;
	if (opcode == DMALAB_UOP_D2H) {
		op.src.kind = DMALAB_BUF_DEVMEM;
		op.src.addr = devoff;
		op.dst.kind = DMALAB_BUF_PAGEBUF;
		op.dst.addr = pboff;
	} else {
		op.src.kind = DMALAB_BUF_PAGEBUF;
		op.src.addr = pboff;
		op.dst.kind = DMALAB_BUF_DEVMEM;
		op.dst.addr = devoff;
	}
	if (ioctl(fd, DMALAB_IOC_SUBMIT, &op)) {
		diag("SUBMIT: %s", strerror(errno));
		return 0;
	}
	if (op.status != DMALAB_STS_OK || op.bytes != len) {
		diag("SUBMIT: status %#x bytes %u", op.status, op.bytes);
		return 0;
	}
	return 1;
}

static int check(const uint8_t *got, const uint8_t *want, size_t len,
		 const char *what)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			diag("%s: byte %zu is %#x, want %#x", what, i, got[i],
			     want[i]);
			return 0;
		}
	}
	return 1;
}

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
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
	const char *dev = "/dev/dmalab0";
	const char *name;
	size_t size, len, i;
	uint8_t *pb, *data, *copy;
	uint64_t seed;
	long base, c;
	int ok, status;
	pid_t pid;

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) :
			  (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (argc > 2)
		dev = argv[2];
	rng_state = seed;
	name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	snprintf(mapcount_path, sizeof(mapcount_path),
		 "/sys/class/misc/%s/device/pagebuf_mappings", name);

	printf("1..%d\n", NTESTS);
	diag("dmalab_faultmap seed %" PRIu64 " device %s", seed, dev);
	fd = open(dev, O_RDWR);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		printf("Bail out! cannot use %s\n", dev);
		return 1;
	}
	size = info.pagebuf_size;
	base = mapcount();
	tap(size >= 16 * PG && size % PG == 0 && base >= 0,
	    "page buffer of %zu bytes, %ld mappings before", size, base);

	pb = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_PAGEBUF);
	tap(pb != MAP_FAILED && mapcount() == base + 1,
	    "whole page buffer mapped; mapping count %ld", mapcount());
	if (pb == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}

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
		data[i] = (uint8_t)rng();
	ok = pwrite(fd, data, len, 8192) == (ssize_t)len;
	memcpy(copy, pb, size);
	ok = ok && pagebuf_op(DMALAB_UOP_D2H, PG + 50, 8192, len);
	tap(ok && check(pb + PG + 50, data, len, "D2H into page buffer"),
	    "D2H of %zu bytes into the page buffer at %d: every byte", len,
	    PG + 50);
	tap(check(pb, copy, PG + 50, "before the transfer") &&
	    check(pb + PG + 50 + len, copy + PG + 50 + len,
		  size - PG - 50 - len, "after the transfer"),
	    "bytes around the transfer are unchanged");

	/* into pages nobody touched: the DMA allocates them */
	ok = pagebuf_op(DMALAB_UOP_D2H, size - 2 * PG + 7, 8192, PG);
	tap(ok && check(pb + size - 2 * PG + 7, data, PG, "untouched pages") &&
	    all_bytes(pb + size - 2 * PG, 7, 0) &&
	    all_bytes(pb + size - PG + 7, PG - 7, 0),
	    "D2H into never-touched pages; the CPU then sees the data");

	/* page buffer -> device memory */
	for (i = 0; i < 2 * PG; i++)
		pb[10 * PG + i] = (uint8_t)rng();
	ok = pagebuf_op(DMALAB_UOP_H2D, 10 * PG, 100000, 2 * PG);
	memset(copy, 0, 2 * PG);
	ok = ok && pread(fd, copy, 2 * PG, 100000) == 2 * PG;
	tap(ok && check(copy, pb + 10 * PG, 2 * PG, "H2D from page buffer"),
	    "H2D from the page buffer: device memory holds every byte");

	/* fork: the child's copy of the mapping counts */
	pid = fork();
	if (pid == 0) {
		/* the child sees the same pages */
		_exit(check(pb + PG + 50, data, len, "child") ? 0 : 1);
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
	tap(pb != MAP_FAILED && check(pb + 50, data, len > 2 * PG - 50 ?
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

		memset(&op, 0, sizeof(op));
		op.opcode = DMALAB_UOP_D2H;
		op.queue = DMALAB_QUEUE_ANY;
		op.len = 2 * PG;
		op.src.kind = DMALAB_BUF_DEVMEM;
		op.dst.kind = DMALAB_BUF_PAGEBUF;
		op.dst.addr = size - PG;
		r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
		tap(r == -1 && errno == EINVAL && mapcount() == base,
		    "an op crossing the end of the page buffer fails with "
		    "EINVAL");
	}
	free(data);
	free(copy);
	close(fd);

	if (test_no != NTESTS)
		printf("# planned %d tests but ran %d\n", NTESTS, test_no);
	printf("# %d passed, %d failed\n", test_no - failed, failed);
	return failed || test_no != NTESTS ? 1 : 0;
}
