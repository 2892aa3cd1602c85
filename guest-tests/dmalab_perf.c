// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_perf: the measurements of ./run-vm.sh bench, made in one guest
 * beside their baselines: the guest CPU's own memcpy, and QEMU's NVMe
 * model on a RAM-backed file in the same VM (its driver loaded from
 * /lib/modules/bench, in the order of its load-order file).  The host's
 * memcpy is measured by the host around the boot (scripts/bench.py).
 *
 * Every figure runs in several trials, each at least a minimum time long;
 * each trial prints one line
 *
 *   # perf,FIGURE,TRIAL,VALUE,UNIT,P50_US,P99_US
 *
 * (MB/s or ops/s; the latency percentiles of op-rate figures at queue
 * depth 1, else empty), and a latency figure's first trial also
 *
 *   # perfcdf,FIGURE,P0,P5,...,P100     (microseconds)
 *
 * Nothing about speed is asserted.  The TAP cases check that what was
 * measured happened: every op's status and byte count, and the data of
 * each large transfer, compared byte by byte.
 *
 * dmalab.bench=full on the kernel command line asks for the full run (5
 * trials of 0.3 s, up to 64 MiB); otherwise a quick one (1 short trial,
 * small sizes) that only proves the pipeline works.
 */
#include "dmalab_test.h"

#include <liburing.h>
#include <libaio.h>
#include <sys/mman.h>

#define NTESTS		7
#define MAX_LAT		(1u << 20)	/* latencies kept per trial */
#define QD		32
#define NVME_DEV	"/dev/nvme0n1"
#define MODDIR		"/lib/modules/bench"

static int fd;
static int fd_nvme = -1;
static struct dmalab_info info;
static uint64_t rs;
static int full;
static int trials;
static double min_secs;
static double *lat;		/* this trial's op latencies, us */
static size_t nlat;
static const char *dev;
static int xfer_ok = 1;
static long long bad_ops;	/* ops that failed or moved too little */
static long long bad_data;	/* op-rate reads that returned wrong bytes */

/* ---- reporting -------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n ? sorted[i < n ? i : n - 1] : 0;
}

/* One trial's line; with latencies, their percentiles (and a CDF once). */
static void emit(const char *fig, int trial, double value, const char *unit)
{
	if (!nlat) {
		printf("# perf,%s,%d,%.1f,%s,,\n", fig, trial, value, unit);
		return;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("# perf,%s,%d,%.1f,%s,%.2f,%.2f\n", fig, trial, value, unit,
	       pct(lat, nlat, 50), pct(lat, nlat, 99));
	if (trial == 0) {
		printf("# perfcdf,%s", fig);
		for (int p = 0; p <= 100; p += 5)
			printf(",%.2f", pct(lat, nlat, p));
		printf("\n");
	}
	fflush(stdout);
}

static void lat_add(double t0, double t1)
{
	if (nlat < MAX_LAT)
		lat[nlat++] = (t1 - t0) * 1e6;
}

/*
 * Run fn(ctx) in trials, each until it took min_secs; fn returns the units
 * (bytes or ops) it did, or -1 on a failure, which ends the figure.
 */
static void measure(const char *fig, const char *unit, double scale,
		    long long (*fn)(void *ctx), void *ctx, int want_lat)
{
	for (int t = 0; t < trials; t++) {
		double t0 = now_s(), dt;
		long long done = 0, n;

		nlat = 0;
		do {
			double a = now_s();

			n = fn(ctx);
			if (n < 0) {
				diag("%s: failed in trial %d", fig, t);
				return;
			}
			if (want_lat)
				lat_add(a, now_s());
			done += n;
			dt = now_s() - t0;
		} while (dt < min_secs);
		if (!want_lat)
			nlat = 0;
		emit(fig, t, (double)done / dt / scale, unit);
	}
}

static const char *size_name(size_t n, char *buf, size_t sz)
{
	if (n >= 1 << 20)
		snprintf(buf, sz, "%zuMiB", n >> 20);
	else if (n >= 1 << 10)
		snprintf(buf, sz, "%zuKiB", n >> 10);
	else
		snprintf(buf, sz, "%zuB", n);
	return buf;
}

/* ---- buffers ---------------------------------------------------------- */

/* n bytes on 4 KiB pages, or on 2 MiB pages (hugetlbfs); NULL if none. */
static uint8_t *buf_alloc(size_t n, int huge)
{
	size_t len = huge ? (n + (2u << 20) - 1) & ~((size_t)(2u << 20) - 1) : n;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0),
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, len);	/* fault every page in before timing */
	return p;
}

static void buf_free(void *p, size_t n, int huge)
{
	size_t len = huge ? (n + (2u << 20) - 1) & ~((size_t)(2u << 20) - 1) : n;

	if (p)
		munmap(p, len);
}

/* ---- throughput: memcpy, H2D, D2H, COPY ------------------------------- */

struct xfer {
	uint32_t opcode;
	uint8_t *src;
	uint8_t *dst;
	size_t len;
	unsigned int nops;
	struct dmalab_op *ops;
};

static long long do_memcpy(void *ctx)
{
	struct xfer *x = ctx;

	memcpy(x->dst, x->src, x->len);
	__asm__ volatile("" : : "r"(x->dst) : "memory");
	return (long long)x->len;
}

/*
 * An H2D, D2H or COPY of len between host buffers (sk, sa) and (dk, da):
 * device memory at devoff takes the place of the side the opcode names.
 */
static void op_move(struct dmalab_op *op, uint32_t opcode, size_t len,
		    uint32_t sk, uint64_t sa, uint32_t dk, uint64_t da,
		    uint64_t devoff)
{
	if (opcode == DMALAB_UOP_H2D) {
		dk = DMALAB_BUF_DEVMEM;
		da = devoff;
	} else if (opcode == DMALAB_UOP_D2H) {
		sk = DMALAB_BUF_DEVMEM;
		sa = devoff;
	}
	op_xfer(op, opcode, DMALAB_QUEUE_ANY, (uint32_t)len, sk, sa, dk, da);
}

/* Cut the transfer into x->nops ops of one batch. */
static void xfer_prepare(struct xfer *x)
{
	size_t piece = x->len / x->nops;

	for (unsigned int i = 0; i < x->nops; i++) {
		size_t off = i * piece, n = i + 1 < x->nops ? piece : x->len - off;

		op_move(&x->ops[i], x->opcode, n,
			DMALAB_BUF_USER, (uintptr_t)(x->src + off),
			DMALAB_BUF_USER, (uintptr_t)(x->dst + off), off);
	}
}

static long long do_batch(void *ctx)
{
	struct xfer *x = ctx;
	struct dmalab_batch b = {
		.size = sizeof(b), .count = x->nops,
		.ops = (uintptr_t)x->ops,
	};

	xfer_prepare(x);	/* the last call wrote its outputs back */
	if (ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) || b.completed != x->nops) {
		diag("batch of %u: %s, %u completed", x->nops,
		     strerror(errno), b.completed);
		bad_ops++;
		return -1;
	}
	return (long long)x->len;
}

/* Device memory [0, n) is what it should be: D2H it out and compare. */
static int devmem_is(const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n);
	size_t off;
	int ok = got != NULL;

	for (off = 0; ok && off < n; off += info.max_xfer) {
		size_t len = n - off < info.max_xfer ? n - off : info.max_xfer;

		ok = !do_d2h(fd, DMALAB_QUEUE_ANY, got + off, off,
			     (uint32_t)len);
	}
	ok = ok && same(got, want, n, "device memory");
	free(got);
	return ok;
}

/* H2D, D2H and COPY of one size at depths 1 and 4, and memcpy's baseline. */
static void bench_size(size_t len, int huge)
{
	const char *pg = huge ? "2MiB" : "4KiB";
	uint8_t *src = buf_alloc(len, huge), *dst = buf_alloc(len, huge);
	static const uint32_t opcodes[] = {
		DMALAB_UOP_H2D, DMALAB_UOP_D2H, DMALAB_UOP_COPY
	};
	static const char *const names[] = { "h2d", "d2h", "copy" };
	static const unsigned int depths[] = { 1, 4 };
	char fig[96], sz[24];
	struct xfer x = { .src = src, .dst = dst, .len = len };

	size_name(len, sz, sizeof(sz));
	if (!src || !dst) {
		diag("no %s buffers of %s: skipped", pg, sz);
		goto out;
	}
	fill_rand(&rs, src, len);
	snprintf(fig, sizeof(fig), "memcpy_guest_%s_pg%s", sz, pg);
	measure(fig, "MB/s", 1e6, do_memcpy, &x, 0);

	for (size_t o = 0; o < 3; o++) {
		for (size_t d = 0; d < 2; d++) {
			unsigned int min_ops = (len + info.max_xfer - 1) / info.max_xfer;

			x.opcode = opcodes[o];
			x.nops = depths[d] > min_ops ? depths[d] : min_ops;
			if (x.nops > info.max_batch)
				continue;
			x.ops = calloc(x.nops, sizeof(*x.ops));
			if (!x.ops)
				tap_bail("out of memory");
			/* D2H reads what the last H2D stored: src's bytes */
			memset(dst, 0, len);
			xfer_prepare(&x);
			snprintf(fig, sizeof(fig), "%s_%s_qd%u_pg%s", names[o],
				 sz, depths[d], pg);
			measure(fig, "MB/s", 1e6, do_batch, &x, 0);
			if (x.opcode == DMALAB_UOP_H2D && !devmem_is(src, len))
				xfer_ok = 0;
			else if (x.opcode != DMALAB_UOP_H2D &&
				 !same(dst, src, len, fig))
				xfer_ok = 0;
			free(x.ops);
		}
	}
out:
	buf_free(src, len, huge);
	buf_free(dst, len, huge);
}

/* ---- streams: large ops kept in flight ------------------------------- */

/*
 * A stream of len-byte ops of one opcode, depth of them kept in flight by
 * SUBMIT_ASYNC and collected by WAIT as each completes: how a driver keeps
 * an engine busy with large transfers, so that the engine's copy of one op
 * overlaps the guest's work on the next.  Like the host's memcpy it is
 * compared with, every op moves the same bytes: one host buffer per side
 * and device memory [0, len), which the ops in flight only read, or write
 * with the same bytes.
 *
 * The host buffers are the caller's pages (on 4 KiB or 2 MiB pages), which
 * the driver's pin cache keeps pinned and mapped from their second op on;
 * the same with the pin cache off (`nocache4KiB`), where the driver pins,
 * maps and unpins them for every op; the caller's 4 KiB pages registered
 * once (`reg4KiB`: DMALAB_IOC_REGISTER pins and maps them before the first
 * op); or the file's DMA buffers, which it maps once (`dma`: the coherent
 * buffer, COPY into the non-coherent one).
 */
struct stream {
	uint32_t opcode;
	size_t len;
	unsigned int depth;
	unsigned int inflight;
	uint32_t hkind[2];	/* host buffer kinds: [0] source, [1] destination */
	uint64_t haddr[2];
	struct dmalab_completion c[4];
};

static long long do_stream(void *ctx)
{
	struct stream *st = ctx;
	struct dmalab_wait w = {
		.size = sizeof(w), .max = st->depth, .min = 1,
		.cpls = (uintptr_t)st->c, .timeout_ms = 10000,
	};
	long long done = 0;

	while (st->inflight < st->depth) {
		/* every op the same: the driver copies it in at submission */
		struct dmalab_async a = { 0 };

		op_move(&a.op, st->opcode, st->len, st->hkind[0], st->haddr[0],
			st->hkind[1], st->haddr[1], 0);
		if (ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a)) {
			diag("stream submit: %s", strerror(errno));
			bad_ops++;
			return -1;
		}
		st->inflight++;
	}
	if (ioctl(fd, DMALAB_IOC_WAIT, &w) || !w.count) {
		diag("stream wait: %s", strerror(errno));
		bad_ops++;
		return -1;
	}
	st->inflight -= w.count;
	for (uint32_t k = 0; k < w.count; k++) {
		if (st->c[k].error || st->c[k].status != DMALAB_STS_OK ||
		    st->c[k].bytes != st->len) {
			diag("stream op: error %d, status %u, %u bytes",
			     st->c[k].error, st->c[k].status, st->c[k].bytes);
			bad_ops++;
			return -1;
		}
		done += (long long)st->len;
	}
	return done;
}

static void stream_drain(struct stream *st)
{
	struct dmalab_wait w = {
		.size = sizeof(w), .max = st->depth,
		.cpls = (uintptr_t)st->c, .timeout_ms = 10000,
	};

	while (st->inflight) {
		w.min = st->inflight;
		if (ioctl(fd, DMALAB_IOC_WAIT, &w) || !w.count) {
			bad_ops++;
			break;
		}
		st->inflight -= w.count;
	}
}

/* REGISTER [p, p + n) for the device to read and write; 0 or the errno. */
static int buf_register(const void *p, size_t n)
{
	struct dmalab_register r = {
		.size = sizeof(r), .addr = (uintptr_t)p, .len = n,
		.flags = DMALAB_REGF_DEV_READS | DMALAB_REGF_DEV_WRITES,
	};

	return ioctl(fd, DMALAB_IOC_REGISTER, &r) ? errno : 0;
}

/* UNREGISTER the registration at p; 0 or the errno. */
static int buf_unregister(const void *p)
{
	struct dmalab_register r = { .size = sizeof(r), .addr = (uintptr_t)p };

	return ioctl(fd, DMALAB_IOC_UNREGISTER, &r) ? errno : 0;
}

/*
 * The streams of one size from one kind of host buffer ("pg4KiB",
 * "nocache4KiB", "reg4KiB", "pg2MiB" or "dma"): H2D, then D2H of what it
 * stored, then COPY, each at depths 1, 2 and 4, and each side's bytes
 * compared once its trials end.
 */
static void bench_stream(size_t len, const char *kind)
{
	static const uint32_t opcodes[] = {
		DMALAB_UOP_H2D, DMALAB_UOP_D2H, DMALAB_UOP_COPY
	};
	static const char *const names[] = { "h2d", "d2h", "copy" };
	static const unsigned int depths[] = { 1, 2, 4 };
	int dma = !strcmp(kind, "dma"), huge = !strcmp(kind, "pg2MiB");
	int regd = !strcmp(kind, "reg4KiB"), e = 0;
	int nocache = !strcmp(kind, "nocache4KiB");
	long cache_was = dev_attr_long(dev, "pin_cache");
	uint32_t hkind = regd ? DMALAB_BUF_REGISTERED : DMALAB_BUF_USER;
	uint8_t *src, *dst, *want;
	struct stream st;
	char fig[96], sz[24];

	size_name(len, sz, sizeof(sz));
	if (len > info.devmem_size ||
	    (dma && (len > info.coherent_max || len > info.noncoherent_max))) {
		diag("streams of %s from %s buffers: too large, skipped", sz, kind);
		return;
	}
	if (dma) {
		src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   (off_t)DMALAB_MMAP_COHERENT);
		dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   (off_t)DMALAB_MMAP_NONCOHERENT);
	} else {
		src = buf_alloc(len, huge);
		dst = buf_alloc(len, huge);
	}
	want = malloc(len);
	if (src == MAP_FAILED || dst == MAP_FAILED || !src || !dst || !want) {
		diag("no %s buffers of %s: streams skipped", kind, sz);
		xfer_ok = 0;
		goto out;
	}
	if (regd) {
		e = buf_register(src, len);
		e = e ? e : buf_register(dst, len);
	}
	if (nocache && dev_attr_set(dev, "pin_cache", 0)) {
		diag("cannot turn the pin cache off: streams skipped");
		xfer_ok = 0;
		goto out;
	}
	if (e) {
		diag("REGISTER of %s: %s: streams skipped", sz, strerror(e));
		xfer_ok = 0;
		goto out;
	}
	fill_rand(&rs, want, len);
	memcpy(src, want, len);

	for (size_t o = 0; o < 3; o++) {
		for (size_t d = 0; d < 3; d++) {
			memset(&st, 0, sizeof(st));
			st.opcode = opcodes[o];
			st.len = len;
			st.depth = depths[d];
			st.hkind[0] = dma ? DMALAB_BUF_COHERENT : hkind;
			st.haddr[0] = dma ? 0 : (uintptr_t)src;
			/* D2H into the source's buffer, COPY into the other */
			st.hkind[1] = dma && opcodes[o] == DMALAB_UOP_COPY ?
				      DMALAB_BUF_NONCOHERENT : st.hkind[0];
			st.haddr[1] = dma ? 0 : (uintptr_t)
				      (opcodes[o] == DMALAB_UOP_COPY ? dst : src);
			snprintf(fig, sizeof(fig), "%s_%s_stream_qd%u_%s",
				 names[o], sz, depths[d], kind);
			measure(fig, "MB/s", 1e6, do_stream, &st, 0);
			stream_drain(&st);
			/* device memory, or the host side written, holds want */
			if (o == 0 && !devmem_is(want, len))
				xfer_ok = 0;
			if (o > 0 && !same(o == 1 ? src : dst, want, len, fig))
				xfer_ok = 0;
		}
	}
	if (regd) {
		e = buf_unregister(src);
		e = e ? e : buf_unregister(dst);
		if (e) {
			diag("UNREGISTER: %s", strerror(e));
			xfer_ok = 0;
		}
	}
out:
	if (nocache && cache_was >= 0)
		dev_attr_set(dev, "pin_cache", (unsigned long)cache_was);
	free(want);
	if (dma) {
		if (src != MAP_FAILED)
			munmap(src, len);
		if (dst != MAP_FAILED)
			munmap(dst, len);
	} else {
		buf_free(src, len, huge);
		buf_free(dst, len, huge);
	}
}

/* ---- op rates --------------------------------------------------------- */

/*
 * The op-rate figures read device memory that holds a known pattern (see
 * devmem_pattern()), and check the first bytes of every read against it.
 */
static uint64_t pattern_word(uint64_t off)
{
	return (off * 0x9e3779b97f4a7c15ull) ^ 0xd1a1ab5eed5eed00ull;
}

static void devmem_pattern(uint64_t span)
{
	size_t chunk = 1 << 20;
	uint64_t *w = malloc(chunk), off, i;

	if (!w)
		tap_bail("out of memory");
	for (off = 0; off < span; off += chunk) {
		for (i = 0; i < chunk / 8; i++)
			w[i] = pattern_word(off + i * 8);
		if (do_h2d(fd, DMALAB_QUEUE_ANY, w, off, (uint32_t)chunk))
			tap_bail("cannot write the pattern at %" PRIu64, off);
	}
	free(w);
}

/* The first bytes of a read of len at device offset off. */
static void check_read(const uint8_t *buf, uint64_t off, size_t len)
{
	size_t n = len < 64 ? len : 64;
	uint64_t want[8];

	for (size_t i = 0; i < 8; i++)
		want[i] = pattern_word(off + i * 8);
	if (memcmp(buf, want, n))
		bad_data++;
}

struct oprate {
	size_t len;
	uint8_t *buf;		/* slots of len, a page apart */
	size_t stride;
	unsigned int slots;
	uint64_t *offs;		/* the device offset each slot reads */
	unsigned int *free;	/* free slots (async, io_uring) */
	unsigned int nfree;
	uint64_t span;		/* device memory used: random offsets below */
	int qd;
	int dfd;		/* a file for read-based figures */
	struct io_uring ring;
	io_context_t aio;
	struct dmalab_op *ops;
	struct dmalab_async *async;
	struct dmalab_completion *cpls;
	unsigned int inflight;
};

static uint64_t rand_off(struct oprate *o)
{
	uint64_t n = o->span / o->stride;

	return rng_below(&rs, n) * o->stride;
}

/* Take a free slot and pick its offset. */
static unsigned int slot_take(struct oprate *o)
{
	unsigned int s = o->free[--o->nfree];

	o->offs[s] = rand_off(o);
	return s;
}

/* A slot's read completed with len bytes: check them, free the slot. */
static void slot_done(struct oprate *o, unsigned int s)
{
	check_read(o->buf + s * o->stride, o->offs[s], o->len);
	o->free[o->nfree++] = s;
}

/* One D2H op of len by SUBMIT (queue depth 1). */
static long long op_ioctl(void *ctx)
{
	struct oprate *o = ctx;
	struct dmalab_op op;
	uint64_t off = rand_off(o);

	op_xfer(&op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, (uint32_t)o->len,
		DMALAB_BUF_DEVMEM, off, DMALAB_BUF_USER, (uintptr_t)o->buf);
	if (submit_fd(fd, &op) || !op_done_ok(&op)) {
		bad_ops++;
		return -1;
	}
	check_read(o->buf, off, o->len);
	return 1;
}

/* A batch of o->qd D2H ops by SUBMIT_BATCH. */
static long long op_batch(void *ctx)
{
	struct oprate *o = ctx;
	struct dmalab_batch b = {
		.size = sizeof(b), .count = (uint32_t)o->qd,
		.ops = (uintptr_t)o->ops,
	};

	for (int i = 0; i < o->qd; i++) {
		o->offs[i] = rand_off(o);
		op_xfer(&o->ops[i], DMALAB_UOP_D2H, DMALAB_QUEUE_ANY,
			(uint32_t)o->len, DMALAB_BUF_DEVMEM, o->offs[i],
			DMALAB_BUF_USER, (uintptr_t)(o->buf + i * o->stride));
	}
	if (ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) ||
	    b.completed != (uint32_t)o->qd) {
		bad_ops++;
		return -1;
	}
	for (int i = 0; i < o->qd; i++) {
		if (!op_done_ok(&o->ops[i])) {
			bad_ops++;
			return -1;
		}
		check_read(o->buf + i * o->stride, o->offs[i], o->len);
	}
	return o->qd;
}

/* Keep o->qd async ioctl ops in flight; count the ones collected. */
static long long op_async(void *ctx)
{
	struct oprate *o = ctx;
	struct dmalab_wait w = {
		.size = sizeof(w), .max = (uint32_t)o->qd,
		.cpls = (uintptr_t)o->cpls, .min = 1, .timeout_ms = 10000,
	};
	long long n = 0;

	while (o->inflight < (unsigned int)o->qd) {
		unsigned int s = slot_take(o);
		struct dmalab_async *a = &o->async[s];

		op_xfer(&a->op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY,
			(uint32_t)o->len, DMALAB_BUF_DEVMEM, o->offs[s],
			DMALAB_BUF_USER, (uintptr_t)(o->buf + s * o->stride));
		a->user_data = s;
		a->cookie = 0;	/* an output: the slot's last use wrote it */
		if (ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, a)) {
			bad_ops++;
			return -1;
		}
		o->inflight++;
	}
	if (ioctl(fd, DMALAB_IOC_WAIT, &w) || !w.count) {
		bad_ops++;
		return -1;
	}
	for (uint32_t i = 0; i < w.count; i++) {
		if (o->cpls[i].error || o->cpls[i].status != DMALAB_STS_OK ||
		    o->cpls[i].bytes != o->len) {
			bad_ops++;
			return -1;
		}
		slot_done(o, (unsigned int)o->cpls[i].user_data);
		n++;
	}
	o->inflight -= w.count;
	return n;
}

/* Drain what op_async left in flight. */
static void async_drain(struct oprate *o)
{
	struct dmalab_wait w = {
		.size = sizeof(w), .max = (uint32_t)o->qd,
		.cpls = (uintptr_t)o->cpls, .timeout_ms = 10000,
	};

	while (o->inflight) {
		w.min = o->inflight;
		if (ioctl(fd, DMALAB_IOC_WAIT, &w) || !w.count)
			break;
		o->inflight -= w.count;
	}
}

/* io_uring reads of o->dfd: keep o->qd in flight, count completions. */
static long long op_uring(void *ctx)
{
	struct oprate *o = ctx;
	struct io_uring_cqe *cqe;
	long long n = 0;
	int r;

	while (o->inflight < (unsigned int)o->qd) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&o->ring);
		unsigned int s = slot_take(o);

		io_uring_prep_read(sqe, o->dfd, o->buf + s * o->stride,
				   (unsigned int)o->len, o->offs[s]);
		io_uring_sqe_set_data64(sqe, s);
		o->inflight++;
	}
	do {
		r = io_uring_submit_and_wait(&o->ring, 1);
	} while (r == -EINTR);
	if (r < 0) {
		bad_ops++;
		return -1;
	}
	while (io_uring_peek_cqe(&o->ring, &cqe) == 0) {
		if (cqe->res != (int)o->len) {
			diag("io_uring read: %d of %zu", cqe->res, o->len);
			bad_ops++;
			return -1;
		}
		if (o->dfd != fd_nvme)
			slot_done(o, (unsigned int)cqe->user_data);
		else
			o->free[o->nfree++] = (unsigned int)cqe->user_data;
		io_uring_cqe_seen(&o->ring, cqe);
		o->inflight--;
		n++;
	}
	return n;
}

static void uring_drain(struct oprate *o)
{
	struct io_uring_cqe *cqe;

	while (o->inflight && io_uring_wait_cqe(&o->ring, &cqe) == 0) {
		o->free[o->nfree++] = (unsigned int)cqe->user_data;
		io_uring_cqe_seen(&o->ring, cqe);
		o->inflight--;
	}
}

/* libaio reads: a batch of o->qd submitted, all collected. */
static long long op_libaio(void *ctx)
{
	struct oprate *o = ctx;
	struct iocb cb[QD], *cbp[QD];
	struct io_event ev[QD];
	int got = 0, r;

	for (int i = 0; i < o->qd; i++) {
		o->offs[i] = rand_off(o);
		io_prep_pread(&cb[i], o->dfd, o->buf + i * o->stride, o->len,
			      (long long)o->offs[i]);
		cb[i].data = (void *)(uintptr_t)i;
		cbp[i] = &cb[i];
	}
	r = io_submit(o->aio, o->qd, cbp);
	if (r != o->qd) {
		diag("io_submit of %d: %d (%s)", o->qd, r, r < 0 ? strerror(-r) : "short");
		bad_ops++;
		return -1;
	}
	while (got < o->qd) {
		r = io_getevents(o->aio, o->qd - got, o->qd - got, ev, NULL);
		if (r == -EINTR)
			continue;
		if (r <= 0) {
			diag("io_getevents: %d", r);
			bad_ops++;
			return -1;
		}
		for (int i = 0; i < r; i++) {
			unsigned int s = (unsigned int)(uintptr_t)ev[i].data;

			if (ev[i].res != o->len) {
				diag("libaio read: %ld of %zu", (long)ev[i].res, o->len);
				bad_ops++;
				return -1;
			}
			check_read(o->buf + s * o->stride, o->offs[s], o->len);
		}
		got += r;
	}
	return got;
}

/* pread of o->dfd at queue depth 1. */
static long long op_pread(void *ctx)
{
	struct oprate *o = ctx;
	uint64_t off = rand_off(o);

	if (pread(o->dfd, o->buf, o->len, (off_t)off) != (ssize_t)o->len) {
		bad_ops++;
		return -1;
	}
	if (o->dfd != fd_nvme)
		check_read(o->buf, off, o->len);
	return 1;
}

/* Sequential reads of o->len (bytes): NVMe's large-read baseline. */
static long long op_seqread(void *ctx)
{
	static uint64_t pos;
	struct oprate *o = ctx;

	if (pos + o->len > o->span)
		pos = 0;
	if (pread(o->dfd, o->buf, o->len, (off_t)pos) != (ssize_t)o->len) {
		bad_ops++;
		return -1;
	}
	pos += o->len;
	return (long long)o->len;
}

/* An op-rate run of len-byte reads of dfd, with room for slots in flight. */
static void oprate_init(struct oprate *o, size_t len, unsigned int slots,
			int dfd, uint64_t span)
{
	memset(o, 0, sizeof(*o));
	o->len = len;
	o->qd = 1;
	o->dfd = dfd;
	o->span = span;
	o->slots = slots;
	o->stride = (len + 4095) & ~(size_t)4095;
	o->buf = buf_alloc(o->stride * slots, 0);
	o->offs = calloc(slots, sizeof(*o->offs));
	o->free = calloc(slots, sizeof(*o->free));
	o->ops = calloc(slots, sizeof(*o->ops));
	o->async = calloc(slots, sizeof(*o->async));
	o->cpls = calloc(slots, sizeof(*o->cpls));
	if (!o->buf || !o->offs || !o->free || !o->ops || !o->async ||
	    !o->cpls)
		tap_bail("out of memory");
	for (o->nfree = 0; o->nfree < slots; o->nfree++)
		o->free[o->nfree] = slots - 1 - o->nfree;
}

static void oprate_free(struct oprate *o)
{
	buf_free(o->buf, o->stride * o->slots, 0);
	free(o->offs);
	free(o->free);
	free(o->ops);
	free(o->async);
	free(o->cpls);
}

/* dmalab_NAME_qd1_SZ and _qd32_SZ: io_uring reads on a ring set up with flags. */
static void bench_uring(struct oprate *o, const char *name, unsigned int flags,
			const char *sz)
{
	char fig[96];

	if (io_uring_queue_init(QD, &o->ring, flags))
		return;
	o->qd = 1;
	snprintf(fig, sizeof(fig), "dmalab_%s_qd1_%s", name, sz);
	measure(fig, "ops/s", 1, op_uring, o, 1);
	uring_drain(o);
	o->qd = QD;
	snprintf(fig, sizeof(fig), "dmalab_%s_qd32_%s", name, sz);
	measure(fig, "ops/s", 1, op_uring, o, 0);
	uring_drain(o);
	io_uring_queue_exit(&o->ring);
}

/* The dmalab op rates of one size: every submission path, QD1 and QD32. */
static void bench_ops(size_t len)
{
	struct oprate o;
	char fig[96], sz[24];
	/* O_DIRECT where its rules allow the size (the reads are zero copy
	 * either way) */
	int dfd = open(dev, O_RDWR | (len % DMALAB_DIO_ALIGN ? 0 : O_DIRECT));
	uint64_t span = info.devmem_size < (64u << 20) ? info.devmem_size :
							 (64u << 20);
	unsigned int batch = info.max_batch < DMALAB_MAX_BATCH ?
			     info.max_batch : DMALAB_MAX_BATCH;

	size_name(len, sz, sizeof(sz));
	if (dfd < 0)
		tap_bail("open %s: %s", dev, strerror(errno));

	oprate_init(&o, len, QD, dfd, span);
	snprintf(fig, sizeof(fig), "dmalab_ioctl_qd1_%s", sz);
	measure(fig, "ops/s", 1, op_ioctl, &o, 1);
	snprintf(fig, sizeof(fig), "dmalab_pread_qd1_%s", sz);
	measure(fig, "ops/s", 1, op_pread, &o, 1);
	bench_uring(&o, "iouring", 0, sz);
	/* polled completion: io_uring polls the driver instead of sleeping */
	if (!(len % DMALAB_DIO_ALIGN))
		bench_uring(&o, "iouring_iopoll", IORING_SETUP_IOPOLL, sz);
	o.qd = QD;
	if (!io_setup(QD, &o.aio)) {
		snprintf(fig, sizeof(fig), "dmalab_libaio_qd32_%s", sz);
		measure(fig, "ops/s", 1, op_libaio, &o, 0);
		io_destroy(o.aio);
	}
	snprintf(fig, sizeof(fig), "dmalab_async_qd32_%s", sz);
	measure(fig, "ops/s", 1, op_async, &o, 0);
	async_drain(&o);
	oprate_free(&o);

	/* many ops per ioctl */
	oprate_init(&o, len, batch, dfd, span);
	o.qd = (int)batch;
	snprintf(fig, sizeof(fig), "dmalab_batch%u_%s", batch, sz);
	measure(fig, "ops/s", 1, op_batch, &o, 0);
	oprate_free(&o);
	close(dfd);
}

/* ---- NVMe ------------------------------------------------------------- */

/* Load the modules of MODDIR/load-order; 0 once NVME_DEV is there. */
static int nvme_up(void)
{
	char line[256], cmd[512];
	FILE *f = fopen(MODDIR "/load-order", "r");
	int i;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		snprintf(cmd, sizeof(cmd), "insmod %s/%s 2>&1", MODDIR, line);
		if (system(cmd))
			diag("%s failed", cmd);
	}
	fclose(f);
	for (i = 0; i < 200 && access(NVME_DEV, R_OK); i++)
		usleep(50000);
	return access(NVME_DEV, R_OK) ? -1 : 0;
}

static void bench_nvme(void)
{
	struct oprate o;
	long long size, bad0 = bad_ops;
	char path[64];

	if (nvme_up()) {
		diag("no %s: the NVMe baselines are not measured", NVME_DEV);
		tap_skip("NVMe reads returned every byte (no NVMe device)");
		return;
	}
	fd_nvme = open(NVME_DEV, O_RDONLY | O_DIRECT);
	snprintf(path, sizeof(path), "/sys/block/nvme0n1/size");
	size = read_long(path) * 512;
	if (fd_nvme < 0 || size < (1 << 20))
		tap_bail("cannot use %s (size %lld)", NVME_DEV, size);
	diag("NVMe: %s, %lld bytes", NVME_DEV, size);

	oprate_init(&o, 4096, QD, fd_nvme, (uint64_t)size);
	measure("nvme_randread_qd1_4KiB", "ops/s", 1, op_pread, &o, 1);
	if (!io_uring_queue_init(QD, &o.ring, 0)) {
		o.qd = QD;
		measure("nvme_iouring_qd32_4KiB", "ops/s", 1, op_uring, &o, 0);
		uring_drain(&o);
		io_uring_queue_exit(&o.ring);
	}
	oprate_free(&o);
	oprate_init(&o, 1 << 20, 1, fd_nvme, (uint64_t)size);
	measure("nvme_seqread_1MiB", "MB/s", 1e6, op_seqread, &o, 0);
	oprate_free(&o);
	close(fd_nvme);
	tap(bad_ops == bad0, "NVMe reads returned every byte (%lld failures)",
	    bad_ops - bad0);
}

/* ---- fio ---------------------------------------------------------------- */

/*
 * fio, unchanged (./run-vm.sh bench puts a static build of Debian's fio
 * source on PATH), runs the same jobs on both devices: the figures driver
 * authors quote, beside this program's own.
 */
static const struct {
	const char *name;
	const char *args;
	int bw;			/* report bandwidth (MB/s), not IOPS */
} fio_jobs[] = {
	{ "randread_qd1_4KiB", "--rw=randread --bs=4k --iodepth=1 --ioengine=psync", 0 },
	{ "randread_qd32_4KiB", "--rw=randread --bs=4k --iodepth=32 --ioengine=io_uring", 0 },
	{ "randread_qd32_4KiB_libaio", "--rw=randread --bs=4k --iodepth=32 --ioengine=libaio", 0 },
	{ "seqread_1MiB", "--rw=read --bs=1M --iodepth=4 --ioengine=io_uring", 1 },
};

/* The value of terse field "P%=V" for percentile P, or 0. */
static double terse_pct(char **f, int n, const char *p)
{
	for (int i = 0; i < n; i++)
		if (!strncmp(f[i], p, strlen(p)))
			return atof(strchr(f[i], '=') + 1);
	return 0;
}

/* One fio job on dev in one trial: its line of results; 0 or -1. */
static int fio_run(const char *label, const char *devpath, int j, int trial)
{
	char cmd[512], line[8192], *f[160], *save = NULL, *tok;
	int n = 0, err;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "fio --name=%s --filename=%s --direct=1 --size=64M --time_based --runtime=%dms %s --output-format=terse --terse-version=3 2>&1",
		 fio_jobs[j].name, devpath, full ? 1000 : 300, fio_jobs[j].args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	line[0] = 0;
	while (fgets(line, sizeof(line), p) && strncmp(line, "3;", 2))
		diag("fio: %s", line);
	pclose(p);
	for (tok = strtok_r(line, ";", &save); tok && n < 160;
	     tok = strtok_r(NULL, ";", &save))
		f[n++] = tok;
	err = n > 8 ? atoi(f[4]) : -1;
	if (n < 40 || err) {
		diag("fio %s on %s: error %d (%d fields)", fio_jobs[j].name,
		     devpath, err, n);
		return -1;
	}
	nlat = 0;
	snprintf(cmd, sizeof(cmd), "fio_%s_%s", fio_jobs[j].name, label);
	if (fio_jobs[j].bw) {
		printf("# perf,%s,%d,%.1f,MB/s,,\n", cmd, trial,
		       atof(f[6]) * 1024 / 1e6);
	} else {
		printf("# perf,%s,%d,%.1f,ops/s,%.2f,%.2f\n", cmd, trial,
		       atof(f[7]), terse_pct(f, n, "50.000000%="),
		       terse_pct(f, n, "99.000000%="));
	}
	fflush(stdout);
	return 0;
}

/* Every fio job on dmalab and on NVMe; 1 if all ran without error. */
static int bench_fio(int have_nvme)
{
	int ok = 1;

	for (size_t j = 0; j < sizeof(fio_jobs) / sizeof(fio_jobs[0]); j++)
		for (int t = 0; t < trials; t++) {
			ok &= !fio_run("dmalab", dev, (int)j, t);
			if (have_nvme)
				ok &= !fio_run("nvme", NVME_DEV, (int)j, t);
		}
	return ok;
}

int main(int argc, char **argv)
{
	static const size_t quick_sizes[] = { 4096, 65536, 1 << 20 };
	static const size_t full_sizes[] = {
		4096, 65536, 1 << 20, 4 << 20, 16 << 20, 64 << 20
	};
	const size_t *sizes = quick_sizes;
	size_t nsizes = 3, i;
	char mode[16] = "";
	long long bad0;
	int huge_ok;

	dev = test_begin(argc, argv, "dmalab_perf", NTESTS, &rs);
	cmdline_get("dmalab.bench", mode, sizeof(mode));
	full = !strcmp(mode, "full");
	trials = full ? 5 : 1;
	min_secs = full ? 0.3 : 0.05;
	if (full) {
		sizes = full_sizes;
		nsizes = 6;
	}
	lat = malloc(MAX_LAT * sizeof(*lat));
	fd = dev_open(dev, &info);
	if (fd < 0 || !lat)
		tap_bail("cannot use %s", dev);
	diag("mode %s: %d trials of at least %.2f s; devmem %llu, max_xfer %u, max_batch %u, queues %u",
	     full ? "full" : "quick", trials, min_secs,
	     (unsigned long long)info.devmem_size, info.max_xfer,
	     info.max_batch, info.num_queues);
	/* 2 MiB pages for two buffers of the largest size, and some over */
	write_ulong("/proc/sys/vm/nr_hugepages",
		    2 * (sizes[nsizes - 1] >> 21) + 4);
	huge_ok = read_long("/proc/sys/vm/nr_hugepages") > 0;

	for (i = 0; i < nsizes; i++) {
		if (sizes[i] > info.devmem_size) {
			diag("%zu bytes exceed device memory: skipped", sizes[i]);
			continue;
		}
		bench_size(sizes[i], 0);
		if (huge_ok && sizes[i] >= (1 << 20))
			bench_size(sizes[i], 1);
	}
	/* streams of ops of 4 MiB (1 MiB quick) at depths 1, 2 and 4 */
	bench_stream(full ? 4 << 20 : 1 << 20, "dma");
	bench_stream(full ? 4 << 20 : 1 << 20, "pg4KiB");
	bench_stream(full ? 4 << 20 : 1 << 20, "nocache4KiB");
	bench_stream(full ? 4 << 20 : 1 << 20, "reg4KiB");
	if (huge_ok)
		bench_stream(full ? 4 << 20 : 1 << 20, "pg2MiB");
	tap(xfer_ok, "every H2D, D2H and COPY moved its data, byte for byte");
	tap(bad_ops == 0, "every transfer op completed OK with every byte");

	bad0 = bad_ops;
	devmem_pattern(info.devmem_size < (64u << 20) ? info.devmem_size :
						       (64u << 20));
	bench_ops(64);
	bench_ops(4096);
	tap(bad_ops == bad0, "every op-rate op completed OK with every byte (%lld failures)",
	    bad_ops - bad0);
	tap(bad_data == 0, "every op-rate read returned the device's bytes (%lld wrong)",
	    bad_data);

	bench_nvme();
	if (access("/usr/bin/fio", X_OK))
		tap_skip("fio ran its jobs on both devices (no fio in the guest)");
	else
		tap(bench_fio(!access(NVME_DEV, R_OK)),
		    "fio ran its jobs on dmalab and NVMe without an error");
	tap(huge_ok, "2 MiB pages available (%ld)",
	    read_long("/proc/sys/vm/nr_hugepages"));
	close(fd);
	free(lat);
	return tap_done();
}
