// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_roundtrip: move data through /dev/dmalab0 with pwrite (host ->
 * device memory, H2D) and pread (device memory -> host, D2H) and check every
 * byte against a shadow copy of device memory.  Output is TAP.
 *
 * Usage: dmalab_roundtrip [seed] [device]   (as root)
 * Build: gcc -static -O2 -Wall -Wextra -I include \
 *            -o dmalab_roundtrip guest-tests/dmalab_roundtrip.c
 */
#include "dmalab_test.h"

#include <sys/mman.h>

static const size_t sizes[] = { 1, 4095, 4096, 4097, 65536 };
#define NSIZES		(sizeof(sizes) / sizeof(sizes[0]))
#define NOFFS		3 /* per size: 0, unaligned, end of device memory */

/* open, info, info-bad-size, bad-ioctl, full write, full read, sizes,
 * window, whole compare, eof read, eof write, short read, efault, shadow,
 * seek/read/write, seek end, stats */
#define NTESTS		((int)(16 + NSIZES * NOFFS))

static uint64_t rs;		/* the test's PRNG */
static int fd;
static struct dmalab_info info;
static struct dmalab_stats st0;	/* counters when the test started */
static uint8_t *shadow;		/* what device memory should hold */
static uint64_t devsz;

/* Compare n bytes read at device offset devoff; report the first difference. */
static int same_at(const uint8_t *got, const uint8_t *want, size_t n,
		   uint64_t devoff)
{
	char what[64];

	snprintf(what, sizeof(what), "at device offset %#" PRIx64, devoff);
	return same(got, want, n, what);
}

static int full_pwrite(const void *buf, size_t n, uint64_t off)
{
	ssize_t r = pwrite(fd, buf, n, (off_t)off);

	if (r != (ssize_t)n) {
		diag("pwrite(%zu @ %#" PRIx64 ") = %zd (%s)", n, off, r,
		     r < 0 ? strerror(errno) : "short");
		return -1;
	}
	memcpy(shadow + off, buf, n);
	return 0;
}

/* pread n bytes at off into a guarded buffer and check it against shadow. */
static int check_pread(uint64_t off, size_t n, size_t mis)
{
	struct gbuf g;
	ssize_t r;
	int ok;

	if (!gbuf_alloc(&g, n, mis))
		return 0;
	memset(g.p, 0x5a, n);
	r = pread(fd, g.p, n, (off_t)off);
	if (r != (ssize_t)n) {
		diag("pread(%zu @ %#" PRIx64 ") = %zd (%s)", n, off, r,
		     r < 0 ? strerror(errno) : "short");
		free(g.raw);
		return 0;
	}
	ok = same_at(g.p, shadow + off, n, off);
	if (!gbuf_guards_ok(&g)) {
		diag("guard bytes around the read buffer were changed");
		ok = 0;
	}
	free(g.raw);
	return ok;
}

static void test_info(void)
{
	int r;

	r = dev_info(fd, &info);
	tap(r == 0 && info.size == sizeof(info) && info.devmem_size > 0 &&
	    info.num_queues > 0 && info.max_xfer > 0 &&
	    info.api_version == DMALAB_UAPI_VERSION &&
	    info.hw_version >> 16 == DMALAB_VERSION_MAJOR,
	    "DMALAB_IOC_INFO");
	diag("hw %u.%u, %u queues x %u, dma %u bits, irq mode %u (%u vectors), devmem %" PRIu64 " bytes, max_xfer %u, features %#x",
	     info.hw_version >> 16, info.hw_version & 0xffff,
	     info.num_queues, info.ring_size, info.dma_bits, info.irq_mode,
	     info.num_vectors, (uint64_t)info.devmem_size, info.max_xfer,
	     info.features);
}

static void test_bad_ioctls(void)
{
	struct dmalab_info bad;
	int r, e;

	memset(&bad, 0, sizeof(bad));
	bad.size = sizeof(bad) - 8;
	r = ioctl(fd, DMALAB_IOC_INFO, &bad);
	e = errno;
	tap(r == -1 && e == EINVAL, "INFO with a wrong size fails with EINVAL");

	r = ioctl(fd, _IO(DMALAB_IOC_MAGIC, 0x7f), 0);
	e = errno;
	tap(r == -1 && e == ENOTTY, "unknown ioctl fails with ENOTTY");
}

static void test_full(void)
{
	uint8_t *buf = malloc(devsz);

	if (!buf) {
		tap(0, "pwrite all of device memory (no memory)");
		tap(0, "pread all of device memory (no memory)");
		return;
	}
	fill_rand(&rs, buf, devsz);
	tap(full_pwrite(buf, devsz, 0) == 0,
	    "pwrite %" PRIu64 " bytes (all of device memory) at 0", devsz);
	free(buf);
	tap(check_pread(0, devsz, 0), "pread all of device memory");
}

static void test_sizes(void)
{
	size_t i, j;

	for (i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];

		for (j = 0; j < NOFFS; j++) {
			uint64_t off;
			uint8_t *buf;
			size_t mis = rng_below(&rs, 8);
			int ok;

			if (n > devsz) {
				tap(1, "# SKIP size %zu above device memory",
				    n);
				continue;
			}
			if (j == 0)
				off = 0;
			else if (j == 1)
				off = 1 + rng_below(&rs, devsz - n);
			else
				off = devsz - n;
			/* misaligned source buffer too */
			buf = malloc(n + 8);
			if (!buf) {
				tap(0, "size %zu (no memory)", n);
				continue;
			}
			fill_rand(&rs, buf + mis, n);
			ok = full_pwrite(buf + mis, n, off) == 0 &&
			     check_pread(off, n, rng_below(&rs, 8));
			free(buf);
			tap(ok, "pwrite/pread %zu bytes at %#" PRIx64, n, off);
		}
	}
}

/* Regions written by the earlier writes, read at other offsets/lengths. */
static void test_cross(void)
{
	uint64_t n = devsz < 3 * 65536 ? devsz / 3 : 3 * 65536;
	uint64_t off = devsz / 2 - n / 2 + 3;
	uint8_t *buf = malloc(n);
	int ok;

	if (!buf) {
		tap(0, "overwrite middle, read a wider window (no memory)");
		return;
	}
	fill_rand(&rs, buf, n);
	ok = full_pwrite(buf, n, off) == 0 &&
	     check_pread(off - 4097, n + 2 * 4097, 5);
	free(buf);
	tap(ok, "overwrite %" PRIu64 " bytes at %#" PRIx64
	    ", read a wider window from another offset", n, off);

	tap(check_pread(0, devsz, 3),
	    "all of device memory holds what every earlier write put there");
}

static void test_eof(void)
{
	uint8_t b[100];
	ssize_t r;
	int e, ok;

	r = pread(fd, b, sizeof(b), (off_t)devsz);
	tap(r == 0, "pread at the end of device memory returns 0 (EOF)");

	r = pwrite(fd, b, sizeof(b), (off_t)devsz);
	e = errno;
	tap(r == -1 && e == ENOSPC,
	    "pwrite at the end of device memory fails with ENOSPC");

	memset(b, 0, sizeof(b));
	r = pread(fd, b, sizeof(b), (off_t)(devsz - 10));
	ok = r == 10 && same_at(b, shadow + devsz - 10, 10, devsz - 10);
	tap(ok, "pread across the end is shortened to 10 bytes (got %zd)", r);
}

static void test_efault(void)
{
	void *none, *ro;
	ssize_t r1 = 0, r2 = 0;
	int e1 = 0, e2 = 0;

	/* pwrite from an inaccessible mapping */
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none != MAP_FAILED) {
		r1 = pwrite(fd, none, 4096, 0);
		e1 = errno;
		munmap(none, 4096);
	}
	/* pread into a read-only mapping: the device must not write it */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro != MAP_FAILED) {
		r2 = pread(fd, ro, 4096, 0);
		e2 = errno;
		munmap(ro, 4096);
	}
	tap(r1 == -1 && e1 == EFAULT && r2 == -1 && e2 == EFAULT,
	    "bad user buffers fail with EFAULT (%zd/%s, %zd/%s)",
	    r1, strerror(e1), r2, strerror(e2));
	tap(check_pread(0, devsz, 0),
	    "device memory unchanged by the failed calls");
}

static void test_seek(void)
{
	uint8_t w[333], r[333];
	off_t pos, off = (off_t)(devsz / 3) + 1;
	int ok;

	fill_rand(&rs, w, sizeof(w));
	ok = lseek(fd, off, SEEK_SET) == off &&
	     write(fd, w, sizeof(w)) == (ssize_t)sizeof(w);
	pos = lseek(fd, 0, SEEK_CUR);
	ok = ok && pos == off + (off_t)sizeof(w);
	if (ok)
		memcpy(shadow + off, w, sizeof(w));
	ok = ok && lseek(fd, off, SEEK_SET) == off &&
	     read(fd, r, sizeof(r)) == (ssize_t)sizeof(r) &&
	     same_at(r, w, sizeof(r), off);
	tap(ok, "lseek + write + read move the file position");
	tap(lseek(fd, 0, SEEK_END) == (off_t)devsz,
	    "SEEK_END is the end of device memory");
}

static void test_stats(void)
{
	struct dmalab_stats st;
	int r = dev_stats_diag(fd, &st);

	tap(r == 0 && stats_all_done(&st, &st0),
	    "DMALAB_IOC_STATS: all submitted completed, no timeouts");
}

int main(int argc, char **argv)
{
	const char *dev;

	dev = test_begin(argc, argv, "dmalab_roundtrip", NTESTS, &rs);
	fd = open(dev, O_RDWR);
	tap(fd >= 0, "open %s", dev);
	if (fd < 0)
		tap_bail("cannot open %s: %s", dev, strerror(errno));
	test_info();
	st0 = dev_stats(fd);
	devsz = info.devmem_size;
	shadow = calloc(1, devsz ? devsz : 1);
	if (!devsz || !shadow)
		tap_bail("no device memory size or no memory");
	test_bad_ioctls();
	test_full();
	test_sizes();
	test_cross();
	test_eof();
	test_efault();
	test_seek();
	test_stats();
	close(fd);
	return tap_done();
}
