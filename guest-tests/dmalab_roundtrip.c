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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

_Static_assert(sizeof(struct dmalab_desc) == 32, "descriptor size");
_Static_assert(sizeof(struct dmalab_cpl) == 32, "completion size");
_Static_assert(sizeof(struct dmalab_sg_entry) == 16, "SG entry size");

#define GUARD		64
#define GUARD_BYTE	0xa5

static const size_t sizes[] = { 1, 4095, 4096, 4097, 65536 };
#define NSIZES		(sizeof(sizes) / sizeof(sizes[0]))
#define NOFFS		3 /* per size: 0, unaligned, end of device memory */

/* open, info, info-bad-size, bad-ioctl, full write, full read, sizes,
 * window, whole compare, eof read, eof write, short read, efault, shadow,
 * seek/read/write, seek end, stats */
#define NTESTS		(16 + NSIZES * NOFFS)

static int test_no;
static int failed;

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

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* splitmix64 */
static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = rng();

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = rng();

		memcpy(p, &v, n);
	}
}

static int fd;
static struct dmalab_info info;
static struct dmalab_stats st0;	/* counters when the test started */
static uint8_t *shadow;		/* what device memory should hold */
static uint64_t devsz;

/* Buffer of n bytes at a misaligned offset, surrounded by guard bytes. */
struct gbuf {
	uint8_t *raw;
	uint8_t *p;
	size_t n;
};

static int gbuf_alloc(struct gbuf *g, size_t n, size_t mis)
{
	g->raw = malloc(n + 2 * GUARD + mis);
	if (!g->raw)
		return -1;
	g->p = g->raw + GUARD + mis;
	g->n = n;
	memset(g->raw, GUARD_BYTE, n + 2 * GUARD + mis);
	return 0;
}

static int gbuf_guards_ok(const struct gbuf *g)
{
	const uint8_t *end = g->p + g->n;
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (g->p[-1 - (long)i] != GUARD_BYTE || end[i] != GUARD_BYTE)
			return 0;
	return 1;
}

/* Compare n bytes; report the first difference. */
static int same(const uint8_t *got, const uint8_t *want, size_t n,
		uint64_t devoff)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (got[i] != want[i]) {
			diag("first difference at device offset %#" PRIx64
			     ": got %#x want %#x", devoff + i, got[i],
			     want[i]);
			return 0;
		}
	}
	return 1;
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

	if (gbuf_alloc(&g, n, mis))
		return 0;
	memset(g.p, 0x5a, n);
	r = pread(fd, g.p, n, (off_t)off);
	if (r != (ssize_t)n) {
		diag("pread(%zu @ %#" PRIx64 ") = %zd (%s)", n, off, r,
		     r < 0 ? strerror(errno) : "short");
		free(g.raw);
		return 0;
	}
	ok = same(g.p, shadow + off, n, off);
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

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	r = ioctl(fd, DMALAB_IOC_INFO, &info);
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
	fill_random(buf, devsz);
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
			size_t mis = rng() % 8;
			int ok;

			if (n > devsz) {
				tap(1, "# SKIP size %zu above device memory",
				    n);
				continue;
			}
			if (j == 0)
				off = 0;
			else if (j == 1)
				off = 1 + rng() % (devsz - n);
			else
				off = devsz - n;
			/* misaligned source buffer too */
			buf = malloc(n + 8);
			if (!buf) {
				tap(0, "size %zu (no memory)", n);
				continue;
			}
			fill_random(buf + mis, n);
			ok = full_pwrite(buf + mis, n, off) == 0 &&
			     check_pread(off, n, rng() % 8);
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
	fill_random(buf, n);
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
	ok = r == 10 && same(b, shadow + devsz - 10, 10, devsz - 10);
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

	fill_random(w, sizeof(w));
	ok = lseek(fd, off, SEEK_SET) == off &&
	     write(fd, w, sizeof(w)) == (ssize_t)sizeof(w);
	pos = lseek(fd, 0, SEEK_CUR);
	ok = ok && pos == off + (off_t)sizeof(w);
	if (ok)
		memcpy(shadow + off, w, sizeof(w));
	ok = ok && lseek(fd, off, SEEK_SET) == off &&
	     read(fd, r, sizeof(r)) == (ssize_t)sizeof(r) &&
	     same(r, w, sizeof(r), off);
	tap(ok, "lseek + write + read move the file position");
	tap(lseek(fd, 0, SEEK_END) == (off_t)devsz,
	    "SEEK_END is the end of device memory");
}

static void test_stats(void)
{
	struct dmalab_stats st;
	int r;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	r = ioctl(fd, DMALAB_IOC_STATS, &st);
	diag("stats: submitted %llu completed %llu errors %llu irqs %llu timeouts %llu hw_descs %llu hw_bytes %llu",
	     (unsigned long long)st.submitted,
	     (unsigned long long)st.completed,
	     (unsigned long long)st.cpl_errors,
	     (unsigned long long)st.irqs, (unsigned long long)st.timeouts,
	     (unsigned long long)st.hw_descs,
	     (unsigned long long)st.hw_bytes);
	tap(r == 0 && st.submitted > st0.submitted &&
	    st.completed - st0.completed == st.submitted - st0.submitted &&
	    st.timeouts == st0.timeouts,
	    "DMALAB_IOC_STATS: all submitted completed, no timeouts");
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/dmalab0";
	uint64_t seed;

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) :
			  (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (argc > 2)
		dev = argv[2];
	rng_state = seed;

	printf("1..%d\n", (int)NTESTS);
	diag("dmalab_roundtrip seed %" PRIu64 " device %s", seed, dev);

	fd = open(dev, O_RDWR);
	tap(fd >= 0, "open %s", dev);
	if (fd < 0) {
		printf("Bail out! cannot open %s: %s\n", dev,
		       strerror(errno));
		return 1;
	}
	test_info();
	st0.size = sizeof(st0);
	if (ioctl(fd, DMALAB_IOC_STATS, &st0))
		diag("STATS: %s", strerror(errno));
	devsz = info.devmem_size;
	shadow = calloc(1, devsz ? devsz : 1);
	if (!devsz || !shadow) {
		printf("Bail out! no device memory size or no memory\n");
		return 1;
	}
	test_bad_ioctls();
	test_full();
	test_sizes();
	test_cross();
	test_eof();
	test_efault();
	test_seek();
	test_stats();
	close(fd);

	if (test_no != (int)NTESTS)
		printf("# planned %d tests but ran %d\n", (int)NTESTS,
		       test_no);
	printf("# %d passed, %d failed\n", test_no - failed, failed);
	return failed || test_no != (int)NTESTS ? 1 : 0;
}
