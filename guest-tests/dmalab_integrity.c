// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_integrity: dmatest-style data integrity.  Random data from a seeded
 * PRNG (the seed is printed; pass it as argv[1] to repeat a run) moves
 * through every opcode (H2D, D2H, COPY, FILL, CRC32C) at sizes 1, 63, 4095,
 * 4096, 4097, 64 KiB, 1 MiB + 1 and 64 MiB, from and to unaligned user
 * buffers at random page offsets, hugetlb and THP backed buffers and the
 * coherent buffer.  Every buffer has random guard bytes around it: the
 * destination must change exactly in the transferred range, the source not
 * at all; device memory outside the written range must keep what a shadow
 * copy says.  Output is TAP.
 *
 * Usage: dmalab_integrity [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <sys/mman.h>

#define NTESTS		17
#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define NR_HUGE		"/proc/sys/vm/nr_hugepages"
#define RANDOM_OPS	250

static int fd;
static struct dmalab_info info;
static uint64_t rs;		/* the test's PRNG */
static uint8_t *shadow;		/* what device memory holds */
static char cfg[64];

/* ---- guarded buffers ---------------------------------------------------- */

/*
 * A data range [p, p + len) inside a larger region [base, base + size):
 * everything around the data is guard, filled from gseed; the data is
 * filled from dseed.  Checks regenerate the streams, so no copies are kept.
 */
struct gb {
	uint8_t *base;
	size_t size;
	int mapped;		/* base came from our mmap */
	uint8_t *p;
	size_t len;
	uint64_t gseed;
	uint64_t dseed;
};

/* Compare buf with the PRNG stream of seed; index of first mismatch or -1. */
static long long stream_diff(uint64_t seed, const uint8_t *buf, size_t n)
{
	uint64_t s = seed, v;
	size_t i = 0, k;

	for (; i < n; i += 8) {
		v = rng_next(&s);
		k = n - i < 8 ? n - i : 8;
		if (memcmp(buf + i, &v, k)) {
			for (; k; i++, k--, v >>= 8)
				if (buf[i] != (uint8_t)v)
					return (long long)i;
		}
	}
	return -1;
}

static void gb_guards_fill(struct gb *g)
{
	uint64_t s = g->gseed;
	size_t pre = g->p - g->base;

	fill_rand(&s, g->base, pre);
	fill_rand(&s, g->p + g->len, g->size - pre - g->len);
}

/* 1 if the guards are intact */
static int gb_guards_ok(const struct gb *g, const char *what)
{
	uint64_t s = g->gseed;
	size_t pre = g->p - g->base, post = g->size - pre - g->len;
	long long d;
	uint8_t *tmp;
	int ok;

	/* regenerate the guard stream into a scratch buffer and compare */
	tmp = malloc((pre > post ? pre : post) + 1);
	if (!tmp)
		return 0;
	fill_rand(&s, tmp, pre);
	d = -1;
	ok = !memcmp(tmp, g->base, pre);
	if (!ok) {
		for (d = 0; tmp[d] == g->base[d]; d++)
			;
		diag("%s: guard byte %lld before the buffer changed",
		     what, (long long)pre - d);
	}
	fill_rand(&s, tmp, post);
	if (memcmp(tmp, g->p + g->len, post)) {
		for (d = 0; tmp[d] == g->p[g->len + d]; d++)
			;
		diag("%s: guard byte %lld after the buffer (len %zu) changed",
		     what, d, g->len);
		ok = 0;
	}
	free(tmp);
	return ok;
}

/* Guarded buffer of len bytes at page offset mis, with >= 1 page each side. */
static int gb_alloc(struct gb *g, size_t len, size_t mis)
{
	memset(g, 0, sizeof(*g));
	g->size = (PAGE + mis + len + PAGE + PAGE - 1) & ~(PAGE - 1);
	g->base = mmap(NULL, g->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED) {
		diag("mmap %zu bytes: %s", g->size, strerror(errno));
		g->base = NULL;
		return 0;
	}
	g->mapped = 1;
	g->p = g->base + PAGE + mis;
	g->len = len;
	g->gseed = rng_next(&rs);
	gb_guards_fill(g);
	return 1;
}

/* Use [p, p + len) of an existing region as a guarded buffer. */
static void gb_in(struct gb *g, uint8_t *base, size_t size, uint8_t *p,
		  size_t len)
{
	memset(g, 0, sizeof(*g));
	g->base = base;
	g->size = size;
	g->p = p;
	g->len = len;
	g->gseed = rng_next(&rs);
	gb_guards_fill(g);
}

static void gb_free(struct gb *g)
{
	if (g->mapped && g->base)
		munmap(g->base, g->size);
	g->base = NULL;
}

static void gb_fill_data(struct gb *g)
{
	uint64_t s;

	g->dseed = rng_next(&rs);
	s = g->dseed;
	fill_rand(&s, g->p, g->len);
}

/* Data equal to the stream of seed (a source's data) */
static int gb_data_is(const struct gb *g, uint64_t seed, const char *what)
{
	long long d = stream_diff(seed, g->p, g->len);

	if (d >= 0)
		diag("%s: data differs first at byte %lld of %zu", what, d,
		     g->len);
	return d < 0;
}

static int gb_src_ok(const struct gb *g, const char *what)
{
	return gb_data_is(g, g->dseed, what) & gb_guards_ok(g, what);
}

/* ---- ops ---------------------------------------------------------------- */

static uint32_t rqueue(void)
{
	uint64_t r = rng_below(&rs, info.num_queues + 1);

	return r == info.num_queues ? DMALAB_QUEUE_ANY : (uint32_t)r;
}

static int run(struct dmalab_op *op, const char *what)
{
	int e = submit_fd(fd, op);

	if (e) {
		diag("%s of %u bytes: %s", what, op->len, strerror(e));
		return 0;
	}
	if (!op_done_ok(op)) {
		diag("%s of %u bytes: status %#x, %u bytes", what, op->len,
		     op->status, op->bytes);
		return 0;
	}
	return 1;
}

static int h2d_user(const uint8_t *src, uint64_t off, size_t len)
{
	struct dmalab_op op;

	op_init(&op, DMALAB_UOP_H2D, rqueue(), len);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)src);
	op_buf(&op.dst, DMALAB_BUF_DEVMEM, off);
	if (!run(&op, "H2D"))
		return 0;
	memcpy(shadow + off, src, len);
	return 1;
}

static int d2h_user(uint8_t *dst, uint64_t off, size_t len)
{
	struct dmalab_op op;

	op_init(&op, DMALAB_UOP_D2H, rqueue(), len);
	op_buf(&op.src, DMALAB_BUF_DEVMEM, off);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)dst);
	return run(&op, "D2H");
}

/* Device memory [lo, hi) equals the shadow (read through a guarded buffer) */
static int devmem_window_ok(uint64_t lo, uint64_t hi)
{
	struct gb w;
	uint64_t pos;
	int ok = 1;

	for (pos = lo; pos < hi && ok;) {
		size_t n = hi - pos > info.max_xfer ? info.max_xfer : hi - pos;

		if (!gb_alloc(&w, n, rng_below(&rs, PAGE)))
			return 0;
		memset(w.p, 0x5a, n);
		ok = d2h_user(w.p, pos, n) && gb_guards_ok(&w, "D2H window");
		if (ok && memcmp(w.p, shadow + pos, n)) {
			size_t i;

			for (i = 0; w.p[i] == shadow[pos + i]; i++)
				;
			diag("device memory at %#" PRIx64 " differs from what was written (got %#x want %#x)",
			     pos + i, w.p[i], shadow[pos + i]);
			ok = 0;
		}
		gb_free(&w);
		pos += n;
	}
	return ok;
}

/*
 * H2D from src (data already filled) to a random offset, then D2H back into
 * a guarded buffer; device memory around the range keeps its old contents.
 */
static int h2d_d2h(const struct gb *src, const char *what)
{
	uint64_t off = rng_below(&rs, info.devmem_size - src->len + 1);
	uint64_t lo, hi;
	struct gb d;
	int ok;

	if (!gb_alloc(&d, src->len, rng_below(&rs, PAGE)))
		return 0;
	memset(d.p, 0xc3, d.len);
	ok = h2d_user(src->p, off, src->len) && gb_src_ok(src, what) &&
	     d2h_user(d.p, off, d.len) && gb_data_is(&d, src->dseed, what) &&
	     gb_guards_ok(&d, what);
	gb_free(&d);
	lo = off > 8192 ? off - 8192 : 0;
	hi = off + src->len + 8192;
	if (hi > info.devmem_size)
		hi = info.devmem_size;
	if (ok)
		ok = devmem_window_ok(lo, hi);
	if (!ok)
		diag("%s: H2D/D2H of %zu bytes at devmem %#" PRIx64 " failed",
		     what, src->len, off);
	return ok;
}

static int copy_to(const struct gb *src, struct gb *dst, const char *what)
{
	struct dmalab_op op;

	op_init(&op, DMALAB_UOP_COPY, rqueue(), src->len);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)src->p);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)dst->p);
	return run(&op, what) && gb_src_ok(src, what) &&
	       gb_data_is(dst, src->dseed, what) && gb_guards_ok(dst, what);
}

static int copy_user(const struct gb *src, const char *what)
{
	struct gb d;
	int ok;

	if (!gb_alloc(&d, src->len, rng_below(&rs, PAGE)))
		return 0;
	memset(d.p, 0x3c, d.len);
	ok = copy_to(src, &d, what);
	gb_free(&d);
	return ok;
}

static int fill_check(struct gb *d, const char *what)
{
	uint64_t pat = rng_next(&rs);
	struct dmalab_op op;
	uint8_t pb[8];
	size_t i;
	int k;

	for (k = 0; k < 8; k++)
		pb[k] = (uint8_t)(pat >> (8 * k));	/* little endian */
	op_init(&op, DMALAB_UOP_FILL, rqueue(), d->len);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)d->p);
	op.pattern = pat;
	if (!run(&op, what))
		return 0;
	for (i = 0; i < d->len; i++) {
		if (d->p[i] != pb[i & 7]) {
			diag("%s: FILL byte %zu of %zu is %#x, want %#x (pattern %#" PRIx64 ")",
			     what, i, d->len, d->p[i], pb[i & 7], pat);
			return 0;
		}
	}
	return gb_guards_ok(d, what);
}

static int fill_user(size_t len, const char *what)
{
	struct gb d;
	int ok;

	if (!gb_alloc(&d, len, rng_below(&rs, PAGE)))
		return 0;
	memset(d.p, 0x77, len);
	ok = fill_check(&d, what);
	gb_free(&d);
	return ok;
}

static int crc_check(const struct gb *src, const char *what)
{
	struct dmalab_op op;
	uint32_t want = crc32c(src->p, src->len);

	op_init(&op, DMALAB_UOP_CRC32C, rqueue(), src->len);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)src->p);
	if (!run(&op, what))
		return 0;
	if (op.result != want) {
		diag("%s: CRC32C of %zu bytes is %#x, software says %#x",
		     what, src->len, op.result, want);
		return 0;
	}
	return gb_src_ok(src, what);
}

/* ---- tests -------------------------------------------------------------- */

static void test_crc_vector(void)
{
	static const char v[] = "123456789";
	struct dmalab_op op;
	int ok;

	op_init(&op, DMALAB_UOP_CRC32C, DMALAB_QUEUE_ANY, 9);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)v);
	ok = run(&op, "CRC32C") && op.result == 0xe3069283u &&
	     crc32c(v, 9) == 0xe3069283u;
	tap(ok, "CRC32C(\"123456789\") = 0xe3069283 (device %#x, software %#x)",
	    op.result, crc32c(v, 9));
}

/* Fill all of device memory with random data and remember it. */
static void test_devmem_init(void)
{
	struct gb s;
	uint64_t pos;
	int ok = 1;

	for (pos = 0; pos < info.devmem_size && ok;) {
		size_t n = info.devmem_size - pos;

		if (n > 65536)	/* small pieces: sizes are tested later */
			n = 65536;
		ok = gb_alloc(&s, n, rng_below(&rs, PAGE));
		if (!ok)
			break;
		gb_fill_data(&s);
		ok = h2d_user(s.p, pos, n) && gb_src_ok(&s, "initial H2D");
		gb_free(&s);
		pos += n;
	}
	tap(ok, "all of device memory (%" PRIu64 " bytes) written with random data",
	    (uint64_t)info.devmem_size);
}

static void test_size(size_t len)
{
	char what[64], ops[80] = "";
	size_t mis = rng_below(&rs, PAGE);
	struct gb s;
	int ok;

	snprintf(what, sizeof(what), "size %zu", len);
	if (len > info.max_xfer) {
		tap_skip("size %zu above max_xfer %u", len, info.max_xfer);
		return;
	}
	if (!gb_alloc(&s, len, mis)) {
		tap_skip("size %zu: no memory for the buffers", len);
		return;
	}
	gb_fill_data(&s);
	ok = 1;
	if (len <= info.devmem_size) {
		ok = h2d_d2h(&s, what);
		strcat(ops, "H2D, D2H, ");
	}
	if (ok) {
		ok = copy_user(&s, what);
		strcat(ops, "COPY, ");
	}
	if (ok)
		ok = crc_check(&s, what);
	gb_free(&s);
	if (ok)
		ok = fill_user(len, what);
	strcat(ops, "CRC32C, FILL");
	tap(ok, "%zu bytes: %s from page offset %zu, guards and source intact",
	    len, ops, mis);
}

/* Random sizes, offsets, page offsets and opcodes. */
static void test_random_ops(void)
{
	static const char *names[] = { "", "H2D", "D2H", "COPY", "FILL",
				       "CRC32C" };
	unsigned int count[6] = { 0 }, bad = 0;
	size_t biggest_bad = 0, smallest_bad = ~(size_t)0;
	int ok = 1, i;

	for (i = 0; i < RANDOM_OPS; i++) {
		size_t len = (size_t)1 << rng_below(&rs, 19);
		uint32_t opc = 1 + rng_below(&rs, 5);
		struct gb s, d;

		len += rng_below(&rs, len);
		if (len > info.devmem_size)
			len = info.devmem_size;
		if (len > info.max_xfer)
			len = info.max_xfer;
		count[opc]++;
		if (!gb_alloc(&s, len, rng_below(&rs, PAGE)))
			return (void)tap(0, "random ops: no memory");
		gb_fill_data(&s);
		switch (opc) {
		case DMALAB_UOP_H2D:
		case DMALAB_UOP_D2H:
			ok = h2d_d2h(&s, names[opc]);
			break;
		case DMALAB_UOP_COPY:
			ok = copy_user(&s, names[opc]);
			break;
		case DMALAB_UOP_CRC32C:
			ok = crc_check(&s, names[opc]);
			break;
		case DMALAB_UOP_FILL:
			ok = gb_alloc(&d, len, rng_below(&rs, PAGE)) &&
			     fill_check(&d, names[opc]);
			gb_free(&d);
			break;
		}
		gb_free(&s);
		if (!ok) {
			if (bad++ < 5)
				diag("random op %d (%s, %zu bytes) failed", i,
				     names[opc], len);
			if (len > biggest_bad)
				biggest_bad = len;
			if (len < smallest_bad)
				smallest_bad = len;
			ok = 1;
		}
	}
	if (bad)
		diag("%u random ops failed, sizes %zu .. %zu bytes", bad,
		     smallest_bad, biggest_bad);
	tap(!bad, "%d random ops (H2D/D2H %u, COPY %u, FILL %u, CRC32C %u), sizes 1..768 KiB, random offsets: %u failed",
	    i, count[1] + count[2], count[3], count[4], count[5], bad);
}

/* One batch of mixed ops into separate buffers, all checked. */
static void test_batch(void)
{
	enum { N = 32 };
	struct dmalab_op ops[N];
	struct dmalab_batch b;
	struct gb s[N], d[N];
	uint64_t slot = info.devmem_size / N;
	uint8_t pb[N][8];
	int ok = 1, i, k, alloc = 0;
	size_t j;

	memset(s, 0, sizeof(s));
	memset(d, 0, sizeof(d));
	for (i = 0; i < N; i++, alloc++) {
		size_t len = 1 + rng_below(&rs, slot < 20000 ? slot : 20000);
		uint32_t opc = 1 + i % 5;

		if (!gb_alloc(&s[i], len, rng_below(&rs, PAGE)) ||
		    !gb_alloc(&d[i], len, rng_below(&rs, PAGE))) {
			ok = 0;
			break;
		}
		gb_fill_data(&s[i]);
		memset(d[i].p, 0xee, len);
		op_init(&ops[i], opc, rqueue(), len);
		switch (opc) {
		case DMALAB_UOP_H2D:
			op_buf(&ops[i].src, DMALAB_BUF_USER, (uintptr_t)s[i].p);
			op_buf(&ops[i].dst, DMALAB_BUF_DEVMEM, i * slot);
			memcpy(shadow + i * slot, s[i].p, len);
			break;
		case DMALAB_UOP_D2H:
			op_buf(&ops[i].src, DMALAB_BUF_DEVMEM, i * slot);
			op_buf(&ops[i].dst, DMALAB_BUF_USER, (uintptr_t)d[i].p);
			break;
		case DMALAB_UOP_COPY:
			op_buf(&ops[i].src, DMALAB_BUF_USER, (uintptr_t)s[i].p);
			op_buf(&ops[i].dst, DMALAB_BUF_USER, (uintptr_t)d[i].p);
			break;
		case DMALAB_UOP_FILL:
			ops[i].pattern = rng_next(&rs);
			for (k = 0; k < 8; k++)
				pb[i][k] = (uint8_t)(ops[i].pattern >> (8 * k));
			op_buf(&ops[i].dst, DMALAB_BUF_USER, (uintptr_t)d[i].p);
			break;
		case DMALAB_UOP_CRC32C:
			op_buf(&ops[i].src, DMALAB_BUF_USER, (uintptr_t)s[i].p);
			break;
		}
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = N;
	b.ops = (uintptr_t)ops;
	if (ok && ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b)) {
		diag("SUBMIT_BATCH: %s", strerror(errno));
		ok = 0;
	}
	if (ok && b.completed != N) {
		diag("batch: %u of %d completed", b.completed, N);
		ok = 0;
	}
	for (i = 0; ok && i < N; i++) {
		char what[32];

		snprintf(what, sizeof(what), "batch op %d", i);
		if (!op_done_ok(&ops[i])) {
			diag("%s: status %#x bytes %u", what, ops[i].status,
			     ops[i].bytes);
			ok = 0;
			break;
		}
		ok = gb_src_ok(&s[i], what) && gb_guards_ok(&d[i], what);
		switch (ops[i].opcode) {
		case DMALAB_UOP_D2H:
			/* device memory at the slot is what the shadow says */
			if (ok && memcmp(d[i].p, shadow + i * slot, d[i].len)) {
				diag("%s: D2H data differs", what);
				ok = 0;
			}
			break;
		case DMALAB_UOP_COPY:
			ok = ok && gb_data_is(&d[i], s[i].dseed, what);
			break;
		case DMALAB_UOP_FILL:
			for (j = 0; ok && j < d[i].len; j++)
				if (d[i].p[j] != pb[i][j & 7]) {
					diag("%s: FILL byte %zu wrong", what, j);
					ok = 0;
				}
			break;
		case DMALAB_UOP_CRC32C:
			if (ok && ops[i].result !=
				  crc32c(s[i].p, s[i].len)) {
				diag("%s: CRC32C %#x, want %#x", what,
				     ops[i].result, crc32c(s[i].p, s[i].len));
				ok = 0;
			}
			break;
		}
	}
	for (i = 0; i < alloc; i++) {
		gb_free(&s[i]);
		gb_free(&d[i]);
	}
	if (ok)
		ok = devmem_window_ok(0, info.devmem_size);
	tap(ok, "batch of %d mixed ops over random queues, every result checked",
	    N);
}

static long nr_hugepages(void)
{
	char b[32];

	return read_str(NR_HUGE, b, sizeof(b)) > 0 ? strtol(b, NULL, 10) : -1;
}

/*
 * Ops on a 2-page hugetlb buffer: data within one huge page and across the
 * boundary of the two, as source and as destination.
 */
static int huge_ops(uint8_t *h, size_t hsize, const char *what)
{
	size_t lens[3] = { 1u << 20, 8191, 3 * PAGE + 17 };
	size_t offs[3];
	int ok = 1, i;

	offs[0] = 4096 * 3 + 5;				/* inside page 0 */
	offs[1] = HPAGE - 4000;				/* across pages */
	offs[2] = HPAGE + rng_below(&rs, HPAGE - lens[2]);	/* page 1 */
	for (i = 0; i < 3 && ok; i++) {
		struct gb s, d;
		size_t len = lens[i];

		if (len > info.devmem_size)
			len = info.devmem_size;
		/* hugepage as source: H2D/D2H, COPY, CRC32C */
		gb_in(&s, h, hsize, h + offs[i], len);
		gb_fill_data(&s);
		ok = h2d_d2h(&s, what) && copy_user(&s, what) &&
		     crc_check(&s, what);
		/* hugepage as destination: D2H, COPY, FILL */
		if (ok && gb_alloc(&s, len, rng_below(&rs, PAGE))) {
			uint64_t off = rng_below(&rs,
						 info.devmem_size - len + 1);

			gb_fill_data(&s);
			gb_in(&d, h, hsize, h + offs[i], len);
			ok = copy_to(&s, &d, what) &&
			     h2d_user(s.p, off, len) &&
			     d2h_user(d.p, off, len) &&
			     gb_data_is(&d, s.dseed, what) &&
			     gb_guards_ok(&d, what) && fill_check(&d, what);
			gb_free(&s);
		}
		if (!ok)
			diag("%s: %zu bytes at offset %#zx failed", what, len,
			     offs[i]);
	}
	return ok;
}

static void test_hugetlb(void)
{
	long old = nr_hugepages(), now;
	char b[32];
	void *h;
	int ok;

	if (old < 0) {
		tap_skip("hugetlb: %s not readable", NR_HUGE);
		return;
	}
	if (old < 2) {
		snprintf(b, sizeof(b), "%ld", old + 2);
		write_str(NR_HUGE, b);
	}
	now = nr_hugepages();
	h = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h == MAP_FAILED) {
		int e = errno;

		if (old < 2) {
			snprintf(b, sizeof(b), "%ld", old);
			write_str(NR_HUGE, b);
		}
		tap_skip("no huge page could be had (nr_hugepages %ld -> %ld, mmap MAP_HUGETLB: %s)",
			 old, now, strerror(e));
		return;
	}
	ok = huge_ops(h, 2 * HPAGE, "hugetlb");
	munmap(h, 2 * HPAGE);
	if (old < 2) {
		snprintf(b, sizeof(b), "%ld", old);
		write_str(NR_HUGE, b);
	}
	tap(ok, "hugetlb (MAP_HUGETLB, 2 x 2 MiB) as source and destination, within and across huge pages");
}

static long anon_huge_kb(void)
{
	char line[256];
	long kb = -1, v;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld", &v) == 1)
			kb = v;
	fclose(f);
	return kb;
}

static void test_thp(void)
{
	size_t sz = 2 * HPAGE;
	uint8_t *raw, *h;
	long kb0, kb;
	int ok;

	raw = mmap(NULL, sz + HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		tap_skip("THP: mmap: %s", strerror(errno));
		return;
	}
	h = (uint8_t *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	kb0 = anon_huge_kb();
	if (madvise(h, sz, MADV_HUGEPAGE))
		diag("madvise(MADV_HUGEPAGE): %s", strerror(errno));
	memset(h, 1, sz);
	kb = anon_huge_kb();
	ok = huge_ops(h, sz, "THP");
	munmap(raw, sz + HPAGE);
	tap(ok, "MADV_HUGEPAGE buffer as source and destination (AnonHugePages %ld -> %ld kB)",
	    kb0, kb);
}

static void test_coherent(void)
{
	size_t csz = 256 * 1024, len = 1 + rng_below(&rs, 100000);
	uint64_t coff = rng_below(&rs, csz / 2), doff;
	struct dmalab_op op;
	uint8_t *cb;
	struct gb s, d;
	int ok;

	cb = mmap(NULL, csz, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	if (cb == MAP_FAILED) {
		tap(0, "coherent buffer: mmap: %s", strerror(errno));
		return;
	}
	doff = rng_below(&rs, info.devmem_size - len + 1);
	if (!gb_alloc(&s, len, rng_below(&rs, PAGE))) {
		munmap(cb, csz);
		tap(0, "coherent: no memory");
		return;
	}
	gb_fill_data(&s);
	/* COPY user -> coherent, guards are the rest of the buffer */
	gb_in(&d, cb, csz, cb + coff, len);
	op_init(&op, DMALAB_UOP_COPY, rqueue(), len);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)s.p);
	op_buf(&op.dst, DMALAB_BUF_COHERENT, coff);
	ok = run(&op, "COPY to coherent") && gb_data_is(&d, s.dseed, "coh") &&
	     gb_guards_ok(&d, "coherent COPY") && gb_src_ok(&s, "coh src");
	/* H2D from coherent, D2H into user */
	op_init(&op, DMALAB_UOP_H2D, rqueue(), len);
	op_buf(&op.src, DMALAB_BUF_COHERENT, coff);
	op_buf(&op.dst, DMALAB_BUF_DEVMEM, doff);
	ok = ok && run(&op, "H2D from coherent");
	if (ok)
		memcpy(shadow + doff, cb + coff, len);
	ok = ok && devmem_window_ok(doff > 4096 ? doff - 4096 : 0,
				    doff + len + 4096 < info.devmem_size ?
				    doff + len + 4096 : info.devmem_size);
	/* D2H into another part of the coherent buffer */
	gb_in(&d, cb, csz, cb + csz / 2 + rng_below(&rs, csz / 2 - len), len);
	op_init(&op, DMALAB_UOP_D2H, rqueue(), len);
	op_buf(&op.src, DMALAB_BUF_DEVMEM, doff);
	op_buf(&op.dst, DMALAB_BUF_COHERENT, d.p - cb);
	ok = ok && run(&op, "D2H to coherent") &&
	     gb_data_is(&d, s.dseed, "D2H coherent") &&
	     gb_guards_ok(&d, "D2H coherent");
	/* CRC32C of the coherent buffer, FILL of it */
	op_init(&op, DMALAB_UOP_CRC32C, rqueue(), len);
	op_buf(&op.src, DMALAB_BUF_COHERENT, d.p - cb);
	ok = ok && run(&op, "CRC32C coherent") &&
	     op.result == crc32c(d.p, len);
	gb_in(&d, cb, csz, cb + rng_below(&rs, csz - len), len);
	op_init(&op, DMALAB_UOP_FILL, rqueue(), len);
	op.pattern = 0x0102030405060708ULL;
	op_buf(&op.dst, DMALAB_BUF_COHERENT, d.p - cb);
	if (ok && run(&op, "FILL coherent")) {
		size_t i;

		for (i = 0; i < len && ok; i++)
			ok = d.p[i] == 8 - (i & 7);
		ok = ok && gb_guards_ok(&d, "FILL coherent");
	} else {
		ok = 0;
	}
	gb_free(&s);
	munmap(cb, csz);
	tap(ok, "coherent buffer: COPY, H2D, D2H, CRC32C and FILL of %zu bytes at random offsets",
	    len);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1, 63, 4095, 4096, 4097, 65536,
					(1u << 20) + 1, 64u << 20 };
	const char *dev = argc > 2 ? argv[2] : "/dev/dmalab0";
	long long pins0, pins1;
	uint64_t seed = seed_from_args(argc, argv);
	double t0 = now_s();
	size_t i;

	rs = seed;
	tap_plan(NTESTS);
	vm_config_name(cfg, sizeof(cfg));
	diag("dmalab_integrity seed %" PRIu64 " device %s config %s (rerun: dmalab_integrity %" PRIu64 ")",
	     seed, dev, cfg, seed);
	fd = open(dev, O_RDWR);
	if (fd < 0 || dev_info(fd, &info)) {
		printf("Bail out! cannot use %s\n", dev);
		return 1;
	}
	shadow = calloc(1, info.devmem_size);
	if (!shadow) {
		printf("Bail out! no memory\n");
		return 1;
	}
	pins0 = pins_outstanding(NULL, NULL);

	test_crc_vector();				/* 1 */
	test_devmem_init();				/* 2 */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		test_size(sizes[i]);			/* 3..10 */
	test_random_ops();				/* 11 */
	test_batch();					/* 12 */
	test_hugetlb();					/* 13 */
	test_thp();					/* 14 */
	test_coherent();				/* 15 */
	tap(devmem_window_ok(0, info.devmem_size),
	    "all of device memory holds what the test wrote");	/* 16 */
	close(fd);
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0, "no pinned page left behind (outstanding %lld before, %lld after)",
	    pins0, pins1);				/* 17 */
	diag("dmalab_integrity took %.1f s", now_s() - t0);
	free(shadow);
	return tap_done();
}
