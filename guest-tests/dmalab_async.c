// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_async: the asynchronous user API.
 *
 *  - DMALAB_IOC_SUBMIT_ASYNC / DMALAB_IOC_WAIT argument checks;
 *  - several ops in flight at once: with the queues stalled (debugfs
 *    fault/stall) N ops are submitted and none completes, poll() reports
 *    nothing; released, poll() wakes with POLLIN and all N are collected,
 *    their data checked byte by byte with guard bytes around each buffer;
 *  - an async op on a stalled queue is failed by the driver's watchdog with
 *    ETIMEDOUT; closing a file with ops in flight leaks nothing;
 *  - io_uring and libaio reads and writes, queue depth 8, data checked; with
 *    the queues stalled, io_submit() returns at once (the driver returned
 *    -EIOCBQUEUED) and the reads complete once released.
 *
 * Output is TAP.  Usage: dmalab_async [seed] [device]   (as root)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

_Static_assert(sizeof(struct dmalab_async) == 96, "dmalab_async size");
_Static_assert(sizeof(struct dmalab_completion) == 40, "completion size");
_Static_assert(sizeof(struct dmalab_wait) == 48, "dmalab_wait size");

#define NTESTS		22
#define NOPS		8
#define OPLEN		(24 * 1024 + 123)
#define GUARD		64
#define GUARD_BYTE	0xa5
#define TIMEOUT_PARAM	"/sys/module/dmalab/parameters/timeout_ms"

static int test_no;
static int failed;
static int fd;
static struct dmalab_info info;
static char faultdir[PATH_MAX];
static int have_faults;
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

static void skip(int n, const char *why)
{
	while (n-- > 0)
		printf("ok %d # SKIP %s\n", ++test_no, why);
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *path, unsigned long val)
{
	char s[32];
	int f, n, r;

	f = open(path, O_WRONLY);
	if (f < 0)
		return -1;
	n = snprintf(s, sizeof(s), "%lu\n", val);
	r = write(f, s, n) == n ? 0 : -1;
	close(f);
	return r;
}

static long read_file(const char *path)
{
	char s[32];
	ssize_t n;
	int f;

	f = open(path, O_RDONLY);
	if (f < 0)
		return -1;
	n = read(f, s, sizeof(s) - 1);
	close(f);
	if (n <= 0)
		return -1;
	s[n] = 0;
	return strtol(s, NULL, 0);
}

static void stall(unsigned long mask)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/stall", faultdir);
	if (write_file(path, mask))
		diag("cannot write %s", path);
}

static int find_faultdir(const char *dev)
{
	char link[PATH_MAX], target[256];
	const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/class/misc/%s/device", name);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = 0;
	snprintf(faultdir, sizeof(faultdir),
		 "/sys/kernel/debug/dmalab/%s/fault",
		 strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	return access(faultdir, W_OK);
}

/* A buffer of len bytes with GUARD guard bytes on each side. */
struct gbuf {
	uint8_t *mem;
	uint8_t *p;
	size_t len;
};

static void gbuf_init(struct gbuf *g, size_t len, int fill)
{
	size_t i;

	g->mem = malloc(len + 2 * GUARD);
	if (!g->mem) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	g->p = g->mem + GUARD;
	g->len = len;
	memset(g->mem, GUARD_BYTE, len + 2 * GUARD);
	if (fill)
		for (i = 0; i < len; i++)
			g->p[i] = (uint8_t)rng();
	else
		memset(g->p, 0, len);
}

static int gbuf_guards_ok(const struct gbuf *g)
{
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (g->mem[i] != GUARD_BYTE ||
		    g->p[g->len + i] != GUARD_BYTE)
			return 0;
	return 1;
}

/* Bytes equal and guards intact; reports the first difference. */
static int same(const struct gbuf *got, const uint8_t *want, const char *what)
{
	size_t i;

	if (!gbuf_guards_ok(got)) {
		diag("%s: guard bytes overwritten", what);
		return 0;
	}
	for (i = 0; i < got->len; i++) {
		if (got->p[i] != want[i]) {
			diag("%s: byte %zu is %#x, want %#x", what, i,
			     got->p[i], want[i]);
			return 0;
		}
	}
	return 1;
}

static void op_init(struct dmalab_async *a, uint32_t opcode, uint32_t queue,
		    struct gbuf *host, uint64_t devoff, uint64_t ud)
{
	memset(a, 0, sizeof(*a));
	a->op.opcode = opcode;
	a->op.queue = queue;
	a->op.len = host->len;
	if (opcode == DMALAB_UOP_H2D) {
		a->op.src.kind = DMALAB_BUF_USER;
		a->op.src.addr = (uintptr_t)host->p;
		a->op.dst.kind = DMALAB_BUF_DEVMEM;
		a->op.dst.addr = devoff;
	} else {
		a->op.src.kind = DMALAB_BUF_DEVMEM;
		a->op.src.addr = devoff;
		a->op.dst.kind = DMALAB_BUF_USER;
		a->op.dst.addr = (uintptr_t)host->p;
	}
	a->user_data = ud;
}

/* Collect completions until n arrived or timeout; returns how many. */
static int collect(int f, struct dmalab_completion *c, int n, int timeout_ms)
{
	struct dmalab_wait w;
	int got = 0;
	double end = now() + timeout_ms / 1000.0;

	while (got < n && now() < end) {
		memset(&w, 0, sizeof(w));
		w.size = sizeof(w);
		w.max = n - got;
		w.cpls = (uintptr_t)(c + got);
		w.min = n - got;
		w.timeout_ms = timeout_ms;
		if (ioctl(f, DMALAB_IOC_WAIT, &w)) {
			if (errno == ETIMEDOUT)
				break;
			diag("WAIT: %s", strerror(errno));
			break;
		}
		got += w.count;
	}
	return got;
}

static int wait_einval(struct dmalab_wait *w, int err)
{
	int r = ioctl(fd, DMALAB_IOC_WAIT, w);

	return r == -1 && errno == err;
}

static void test_args(void)
{
	struct dmalab_completion c[2];
	struct dmalab_async a;
	struct dmalab_wait w;
	struct pollfd p;
	struct gbuf g;
	int ok = 1;

	gbuf_init(&g, 100, 1);
	op_init(&a, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, &g, 0, 1);
	a.cookie = 5;
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == -1 && errno == EINVAL;
	op_init(&a, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, &g, 0, 1);
	a.op.len = 0;
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == -1 && errno == EINVAL;
	op_init(&a, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, &g, 0, 1);
	a.op.src.addr = 16;	/* unmapped */
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == -1 && errno == EFAULT;
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, (void *)8) == -1 &&
	      errno == EFAULT;
	tap(ok, "SUBMIT_ASYNC rejects bad ops (EINVAL, EFAULT)");

	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	w.max = 2;
	w.cpls = (uintptr_t)c;
	ok = 1;
	w.size = 4;
	ok &= wait_einval(&w, EINVAL);
	w.size = sizeof(w);
	w.max = 0;
	ok &= wait_einval(&w, EINVAL);
	w.max = DMALAB_WAIT_MAX + 1;
	ok &= wait_einval(&w, E2BIG);
	w.max = 2;
	w.min = 3;
	ok &= wait_einval(&w, EINVAL);
	w.min = 0;
	w.rsvd[1] = 1;
	ok &= wait_einval(&w, EINVAL);
	w.rsvd[1] = 0;
	ok &= ioctl(fd, DMALAB_IOC_WAIT, &w) == 0 && w.count == 0 &&
	      w.inflight == 0;
	tap(ok, "WAIT checks its arguments (EINVAL, E2BIG) and returns 0 "
	    "completions when nothing is in flight");

	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	tap(poll(&p, 1, 0) == 0, "poll() without completions: not readable");
	free(g.mem);
}

/* Write known data to device memory [0, NOPS * OPLEN) synchronously. */
static uint8_t *devdata;

static int seed_devmem(void)
{
	size_t len = (size_t)NOPS * OPLEN, i;

	devdata = malloc(len);
	if (!devdata)
		return 0;
	for (i = 0; i < len; i++)
		devdata[i] = (uint8_t)rng();
	return pwrite(fd, devdata, len, 0) == (ssize_t)len;
}

static void test_inflight(void)
{
	struct dmalab_completion c[2 * NOPS];
	struct dmalab_async a[2 * NOPS];
	struct gbuf w[NOPS], r[NOPS];
	int i, n, ok, seen[2 * NOPS];
	struct pollfd p;
	double t0;

	if (!have_faults) {
		skip(6, "no fault injection (debugfs or device)");
		return;
	}
	/* NOPS writes of fresh data, then NOPS reads back, all at once */
	stall(0xffffffffUL);
	for (i = 0; i < NOPS; i++) {
		gbuf_init(&w[i], OPLEN, 1);
		gbuf_init(&r[i], OPLEN, 0);
	}
	ok = 1;
	for (i = 0; i < NOPS && ok; i++) {
		op_init(&a[i], DMALAB_UOP_H2D, i % info.num_queues, &w[i],
			(uint64_t)i * OPLEN, 100 + i);
		ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[i]) == 0 &&
		     a[i].cookie;
	}
	/* same queue after its write: in order within the queue */
	for (i = 0; i < NOPS && ok; i++) {
		op_init(&a[NOPS + i], DMALAB_UOP_D2H, i % info.num_queues,
			&r[i], (uint64_t)i * OPLEN, 200 + i);
		ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[NOPS + i]) == 0;
	}
	tap(ok, "%d async ops submitted to stalled queues", 2 * NOPS);

	usleep(200000);
	n = collect(fd, c, 2 * NOPS, 0);
	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	tap(n == 0 && poll(&p, 1, 100) == 0,
	    "while stalled none completed (%d) and poll() shows nothing", n);

	t0 = now();
	stall(0);
	p.revents = 0;
	n = poll(&p, 1, 5000);
	tap(n == 1 && (p.revents & POLLIN),
	    "released: poll() wakes with POLLIN after %.3fs", now() - t0);

	n = collect(fd, c, 2 * NOPS, 5000);
	memset(seen, 0, sizeof(seen));
	ok = n == 2 * NOPS;
	for (i = 0; i < n; i++) {
		int k = c[i].user_data >= 200 ? NOPS + (int)c[i].user_data -
						200 : (int)c[i].user_data - 100;

		if (k < 0 || k >= 2 * NOPS || seen[k] || c[i].error ||
		    c[i].status != DMALAB_STS_OK || c[i].bytes != OPLEN ||
		    c[i].cookie != a[k].cookie) {
			diag("completion %d: user_data %" PRIu64 " error %d status %#x bytes %u",
			     i, (uint64_t)c[i].user_data, c[i].error,
			     c[i].status, c[i].bytes);
			ok = 0;
			break;
		}
		seen[k] = 1;
	}
	tap(ok, "all %d completions collected, each once, cookies and "
	    "user_data match (%d)", 2 * NOPS, n);

	for (i = 0, ok = 1; i < NOPS && ok; i++)
		ok = same(&r[i], w[i].p, "async read-back");
	tap(ok, "read-back data equal to what the async writes sent, guards "
	    "intact");

	/* device memory itself, by pread */
	for (i = 0, ok = 1; i < NOPS && ok; i++) {
		struct gbuf g;

		gbuf_init(&g, OPLEN, 0);
		ok = pread(fd, g.p, OPLEN, (off_t)i * OPLEN) == OPLEN &&
		     same(&g, w[i].p, "pread after async write");
		free(g.mem);
	}
	tap(ok, "device memory holds the async writes");
	for (i = 0; i < NOPS; i++) {
		memcpy(devdata + (size_t)i * OPLEN, w[i].p, OPLEN);
		free(w[i].mem);
		free(r[i].mem);
	}
}

static void test_timeout_and_close(void)
{
	struct dmalab_completion c;
	struct dmalab_async a;
	long old = read_file(TIMEOUT_PARAM);
	struct gbuf g;
	double t0;
	int f2, i, ok, n;

	if (!have_faults) {
		skip(2, "no fault injection (debugfs or device)");
		return;
	}
	gbuf_init(&g, 4096, 0);
	write_file(TIMEOUT_PARAM, 300);
	stall(1);
	op_init(&a, DMALAB_UOP_D2H, 0, &g, 0, 7);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == 0;
	t0 = now();
	n = ok ? collect(fd, &c, 1, 5000) : 0;
	stall(0);
	tap(n == 1 && c.error == -ETIMEDOUT,
	    "an async op on a stalled queue fails with ETIMEDOUT after %.2fs "
	    "(watchdog)", now() - t0);
	write_file(TIMEOUT_PARAM, old > 0 ? old : 5000);

	/* close a file with ops in flight: they finish in the background */
	f2 = open("/dev/dmalab0", O_RDWR);
	stall(0xffffffffUL);
	for (i = 0, ok = f2 >= 0; i < 4 && ok; i++) {
		op_init(&a, DMALAB_UOP_D2H, i % info.num_queues, &g, 0, i);
		ok = ioctl(f2, DMALAB_IOC_SUBMIT_ASYNC, &a) == 0;
	}
	if (f2 >= 0)
		close(f2);
	stall(0);
	usleep(100000);
	tap(ok && gbuf_guards_ok(&g),
	    "closing a file with 4 async ops in flight (pins are released: "
	    "see the final leak check)");
	free(g.mem);
}

static void test_uring(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct gbuf w[NOPS], r[NOPS];
	int i, n, ok, ret;
	size_t off0 = 300000;

	ret = io_uring_queue_init(NOPS, &ring, 0);
	if (ret) {
		diag("io_uring_queue_init: %s", strerror(-ret));
		skip(4, "io_uring unavailable");
		return;
	}
	for (i = 0; i < NOPS; i++) {
		gbuf_init(&w[i], OPLEN, 1);
		gbuf_init(&r[i], OPLEN, 0);
	}
	for (i = 0; i < NOPS; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_write(sqe, fd, w[i].p, OPLEN,
				    off0 + (size_t)i * OPLEN);
		sqe->user_data = i;
	}
	n = io_uring_submit(&ring);
	for (i = 0, ok = n == NOPS; i < NOPS && ok; i++) {
		ok = io_uring_wait_cqe(&ring, &cqe) == 0 && cqe->res == OPLEN;
		if (!ok)
			diag("write cqe: res %d", cqe ? cqe->res : 0);
		io_uring_cqe_seen(&ring, cqe);
	}
	tap(ok, "io_uring: %d writes in one submit, each %d bytes", NOPS,
	    OPLEN);

	for (i = 0; i < NOPS; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read(sqe, fd, r[i].p, OPLEN,
				   off0 + (size_t)i * OPLEN);
		sqe->user_data = i;
	}
	if (have_faults)
		stall(0xffffffffUL);
	n = io_uring_submit(&ring);
	usleep(200000);
	ret = io_uring_peek_cqe(&ring, &cqe);
	if (have_faults) {
		tap(n == NOPS && ret == -EAGAIN,
		    "io_uring: %d reads in flight on stalled queues, none "
		    "completed", n);
		stall(0);
	} else {
		skip(1, "no fault injection");
	}
	for (i = 0, ok = n == NOPS; i < NOPS && ok; i++) {
		ok = io_uring_wait_cqe(&ring, &cqe) == 0 && cqe->res == OPLEN;
		if (!ok)
			diag("read cqe: res %d", cqe ? cqe->res : 0);
		io_uring_cqe_seen(&ring, cqe);
	}
	tap(ok, "io_uring: all %d reads complete", NOPS);
	for (i = 0, ok = 1; i < NOPS && ok; i++)
		ok = same(&r[i], w[i].p, "io_uring read");
	tap(ok, "io_uring: data read equals data written, guards intact");
	for (i = 0; i < NOPS; i++) {
		free(w[i].mem);
		free(r[i].mem);
	}
	io_uring_queue_exit(&ring);
}

static void test_libaio(void)
{
	struct iocb cb[NOPS], *cbp[NOPS];
	struct io_event ev[NOPS];
	struct gbuf w[NOPS], r[NOPS];
	struct timespec ts = { 10, 0 };
	io_context_t ctx = 0;
	size_t off0 = 600000;
	double t0, dt;
	int i, n, ok;

	if (io_setup(NOPS, &ctx)) {
		skip(5, "io_setup failed");
		return;
	}
	for (i = 0; i < NOPS; i++) {
		gbuf_init(&w[i], OPLEN, 1);
		gbuf_init(&r[i], OPLEN, 0);
		io_prep_pwrite(&cb[i], fd, w[i].p, OPLEN,
			       off0 + (long long)i * OPLEN);
		cb[i].data = &w[i];
		cbp[i] = &cb[i];
	}
	n = io_submit(ctx, NOPS, cbp);
	ok = n == NOPS && io_getevents(ctx, NOPS, NOPS, ev, &ts) == NOPS;
	for (i = 0; ok && i < NOPS; i++)
		ok = ev[i].res == OPLEN;
	tap(ok, "libaio: %d writes submitted at once complete (%d)", NOPS, n);

	for (i = 0; i < NOPS; i++)
		io_prep_pread(&cb[i], fd, r[i].p, OPLEN,
			      off0 + (long long)i * OPLEN);
	if (have_faults)
		stall(0xffffffffUL);
	t0 = now();
	n = io_submit(ctx, NOPS, cbp);
	dt = now() - t0;
	if (have_faults) {
		struct timespec zero = { 0, 0 };
		int early;

		usleep(200000);
		early = io_getevents(ctx, 0, NOPS, ev, &zero);
		tap(n == NOPS && dt < 1.0,
		    "libaio: io_submit of %d reads to stalled queues returns "
		    "at once (%.3fs): the driver queued them", n, dt);
		tap(early == 0, "libaio: none completed while stalled (%d)",
		    early);
		stall(0);
	} else {
		skip(2, "no fault injection");
	}
	ok = n == NOPS && io_getevents(ctx, NOPS, NOPS, ev, &ts) == NOPS;
	for (i = 0; ok && i < NOPS; i++)
		ok = ev[i].res == OPLEN;
	tap(ok, "libaio: all %d reads complete", NOPS);
	for (i = 0, ok = 1; i < NOPS && ok; i++)
		ok = same(&r[i], w[i].p, "libaio read");
	tap(ok, "libaio: data read equals data written, guards intact");
	for (i = 0; i < NOPS; i++) {
		free(w[i].mem);
		free(r[i].mem);
	}
	io_destroy(ctx);
}

/* In the throttled configuration: time N concurrent ops against one. */
static void test_overlap_timing(int throttled)
{
	struct dmalab_completion c[NOPS];
	struct dmalab_async a[NOPS];
	struct gbuf g[NOPS];
	double t1, tn;
	int i, ok = 1;

	if (!throttled) {
		skip(1, "timing only in the throttled configuration");
		return;
	}
	for (i = 0; i < NOPS; i++)
		gbuf_init(&g[i], 256, 0);
	t1 = now();
	op_init(&a[0], DMALAB_UOP_D2H, 0, &g[0], 0, 0);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[0]) == 0 &&
	     collect(fd, c, 1, 5000) == 1;
	t1 = now() - t1;
	tn = now();
	for (i = 0; i < NOPS && ok; i++) {
		op_init(&a[i], DMALAB_UOP_D2H, i % info.num_queues, &g[i],
			(uint64_t)i * 256, i);
		ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[i]) == 0;
	}
	ok = ok && collect(fd, c, NOPS, 5000) == NOPS;
	tn = now() - tn;
	diag("one op %.6fs, %d concurrent ops %.6fs", t1, NOPS, tn);
	tap(ok && tn < NOPS * t1 * 0.75,
	    "throttled: %d concurrent ops take %.2fx the time of one", NOPS,
	    tn / t1);
	for (i = 0; i < NOPS; i++)
		free(g[i].mem);
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/dmalab0";
	char cmdline[4096] = "";
	uint64_t seed;
	int f;

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) :
			  (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (argc > 2)
		dev = argv[2];
	rng_state = seed;
	f = open("/proc/cmdline", O_RDONLY);
	if (f >= 0) {
		ssize_t n = read(f, cmdline, sizeof(cmdline) - 1);

		cmdline[n > 0 ? n : 0] = 0;
		close(f);
	}

	printf("1..%d\n", NTESTS);
	diag("dmalab_async seed %" PRIu64 " device %s", seed, dev);
	fd = open(dev, O_RDWR);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		printf("Bail out! cannot use %s\n", dev);
		return 1;
	}
	have_faults = (info.features & DMALAB_FEAT_DEBUG) &&
		      !find_faultdir(dev);
	tap(info.async_max >= NOPS * 2 && seed_devmem(),
	    "info.async_max %u; device memory seeded", info.async_max);

	test_args();			/* 3 */
	test_inflight();		/* 6 */
	test_timeout_and_close();	/* 2 */
	test_uring();			/* 4 */
	test_libaio();			/* 5 */
	test_overlap_timing(strstr(cmdline, "dmalab.config=throttled") !=
			    NULL);	/* 1 */
	close(fd);
	free(devdata);

	if (test_no != NTESTS)
		printf("# planned %d tests but ran %d\n", NTESTS, test_no);
	printf("# %d passed, %d failed\n", test_no - failed, failed);
	return failed || test_no != NTESTS ? 1 : 0;
}
