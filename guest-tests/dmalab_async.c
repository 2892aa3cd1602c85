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
 *  - a WAIT whose copy to user space fails (read-only completion array or
 *    header) returns EFAULT and loses no completion: the next WAIT returns
 *    them all; SUBMIT and SUBMIT_BATCH with read-only results fail with
 *    EFAULT before the device runs anything;
 *  - io_uring and libaio reads and writes, queue depth 8, data checked; with
 *    the queues stalled, io_submit() returns at once (the driver returned
 *    -EIOCBQUEUED) and the reads complete once released.
 *
 * Output is TAP.  Usage: dmalab_async [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <libaio.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>

#define NTESTS		29
#define NOPS		8
#define OPLEN		(24 * 1024 + 123)

static int fd;
static struct dmalab_info info;
static char faultdir[PATH_MAX];
static int have_faults;
static uint64_t rs;		/* the test's PRNG */

static void stall(unsigned long mask)
{
	write_ulong_at(faultdir, "stall", mask);
}

/* A guarded buffer of len bytes, random (fill) or zero; bails out. */
static void gbuf_init(struct gbuf *g, size_t len, int fill)
{
	if (!gbuf_alloc(g, len, 0))
		tap_bail("out of memory");
	if (fill)
		fill_rand(&rs, g->p, len);
	else
		memset(g->p, 0, len);
}

/* Bytes equal and guards intact; reports the first difference. */
static int gbuf_same(const struct gbuf *got, const uint8_t *want,
		     const char *what)
{
	if (!gbuf_guards_ok(got)) {
		diag("%s: guard bytes overwritten", what);
		return 0;
	}
	return same(got->p, want, got->n, what);
}

/* An async H2D or D2H between host and device memory at devoff. */
static void async_init(struct dmalab_async *a, uint32_t opcode,
		       uint32_t queue, struct gbuf *host, uint64_t devoff,
		       uint64_t ud)
{
	memset(a, 0, sizeof(*a));
	if (opcode == DMALAB_UOP_H2D)
		op_xfer(&a->op, opcode, queue, host->n, DMALAB_BUF_USER,
			(uintptr_t)host->p, DMALAB_BUF_DEVMEM, devoff);
	else
		op_xfer(&a->op, opcode, queue, host->n, DMALAB_BUF_DEVMEM,
			devoff, DMALAB_BUF_USER, (uintptr_t)host->p);
	a->user_data = ud;
}

/* Collect completions until n arrived or timeout; returns how many. */
static int collect(int f, struct dmalab_completion *c, int n, int timeout_ms)
{
	struct dmalab_wait w;
	int got = 0;
	double end = now_s() + timeout_ms / 1000.0;

	while (got < n && now_s() < end) {
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
	async_init(&a, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, &g, 0, 1);
	a.cookie = 5;
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == -1 && errno == EINVAL;
	async_init(&a, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, &g, 0, 1);
	a.op.len = 0;
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == -1 && errno == EINVAL;
	async_init(&a, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, &g, 0, 1);
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
	free(g.raw);
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
		devdata[i] = (uint8_t)rng_next(&rs);
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
		tap_skip_n(6, "no fault injection (debugfs or device)");
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
		async_init(&a[i], DMALAB_UOP_H2D, i % info.num_queues,
			   &w[i], (uint64_t)i * OPLEN, 100 + i);
		ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[i]) == 0 &&
		     a[i].cookie;
	}
	/* same queue after its write: in order within the queue */
	for (i = 0; i < NOPS && ok; i++) {
		async_init(&a[NOPS + i], DMALAB_UOP_D2H,
			   i % info.num_queues, &r[i], (uint64_t)i * OPLEN,
			   200 + i);
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

	t0 = now_s();
	stall(0);
	p.revents = 0;
	n = poll(&p, 1, 5000);
	tap(n == 1 && (p.revents & POLLIN),
	    "released: poll() wakes with POLLIN after %.3fs", now_s() - t0);

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
		ok = gbuf_same(&r[i], w[i].p, "async read-back");
	tap(ok, "read-back data equal to what the async writes sent, guards "
	    "intact");

	/* device memory itself, by pread */
	for (i = 0, ok = 1; i < NOPS && ok; i++) {
		struct gbuf g;

		gbuf_init(&g, OPLEN, 0);
		ok = pread(fd, g.p, OPLEN, (off_t)i * OPLEN) == OPLEN &&
		     gbuf_same(&g, w[i].p, "pread after async write");
		free(g.raw);
	}
	tap(ok, "device memory holds the async writes");
	for (i = 0; i < NOPS; i++) {
		memcpy(devdata + (size_t)i * OPLEN, w[i].p, OPLEN);
		free(w[i].raw);
		free(r[i].raw);
	}
}

/* Every byte of g is the little-endian pattern, repeated. */
static int filled_with(const struct gbuf *g, uint64_t pattern)
{
	size_t j;

	for (j = 0; j < g->n; j++) {
		if (g->p[j] != (uint8_t)(pattern >> (8 * (j % 8)))) {
			diag("byte %zu of %zu: %#x", j, g->n, g->p[j]);
			return 0;
		}
	}
	return gbuf_guards_ok(g);
}

static void fill_init(struct dmalab_op *op, struct gbuf *g, uint64_t pattern)
{
	op_init(op, DMALAB_UOP_FILL, DMALAB_QUEUE_ANY, g->n);
	op_buf(&op->dst, DMALAB_BUF_USER, (uintptr_t)g->p);
	op->pattern = pattern;
}

#define EFAULT_OPS	4

/* Ops whose results cannot be written back are refused before they run. */
static int results_readonly_refused(struct dmalab_op *ro_op, struct gbuf *g)
{
	struct dmalab_batch b;
	int ok;

	memset(g->p, 0, g->n);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT, ro_op) == -1 && errno == EFAULT;
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = 1;
	b.ops = (uintptr_t)ro_op;
	ok &= ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) == -1 && errno == EFAULT;
	/* nothing ran: the destination still holds zeros */
	return ok && filled_with(g, 0);
}

/* A WAIT for all EFAULT_OPS completions into c. */
static void wait_all_init(struct dmalab_wait *w, struct dmalab_completion *c)
{
	memset(w, 0, sizeof(*w));
	w->size = sizeof(*w);
	w->max = EFAULT_OPS;
	w->min = EFAULT_OPS;
	w->timeout_ms = 5000;
	w->cpls = (uintptr_t)c;
}

static void test_wait_efault(void)
{
	struct dmalab_completion c[EFAULT_OPS];
	struct dmalab_async a[EFAULT_OPS];
	struct gbuf g[EFAULT_OPS];
	long pg = sysconf(_SC_PAGESIZE);
	struct dmalab_wait w, *ro_w;
	int i, k, n, ok = 1;
	uint8_t *ro;

	ro = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	for (i = 0; i < EFAULT_OPS && ok; i++) {
		gbuf_init(&g[i], 4096 + 100 * i + 3, 0);
		memset(&a[i], 0, sizeof(a[i]));
		fill_init(&a[i].op, &g[i], 0x0102030405060708ULL * (i + 1));
		a[i].user_data = 300 + i;
		ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[i]) == 0;
	}
	tap(ok, "%d async FILLs submitted", EFAULT_OPS);

	/* page 0: a completion array; page 1: a WAIT header; both read-only */
	wait_all_init(&w, c);
	memcpy(ro + pg, &w, sizeof(w));
	ro_w = (struct dmalab_wait *)(ro + pg);
	w.cpls = (uintptr_t)ro;
	ok = mprotect(ro, 2 * pg, PROT_READ) == 0;
	n = ok ? ioctl(fd, DMALAB_IOC_WAIT, &w) : 0;
	tap(ok && n == -1 && errno == EFAULT,
	    "WAIT for all %d into a read-only completion array: EFAULT",
	    EFAULT_OPS);
	n = ioctl(fd, DMALAB_IOC_WAIT, ro_w);
	tap(n == -1 && errno == EFAULT,
	    "WAIT with a read-only header (the array is fine): EFAULT");

	memset(c, 0, sizeof(c));
	wait_all_init(&w, c);
	ok = ioctl(fd, DMALAB_IOC_WAIT, &w) == 0 && w.count == EFAULT_OPS &&
	     w.inflight == 0;
	if (!ok)
		diag("WAIT: %s, count %u inflight %u", strerror(errno),
		     w.count, w.inflight);
	for (i = 0; ok && i < (int)w.count; i++) {
		k = (int)c[i].user_data - 300;
		ok = k >= 0 && k < EFAULT_OPS && c[i].cookie == a[k].cookie &&
		     !c[i].error && c[i].status == DMALAB_STS_OK &&
		     c[i].bytes == g[k].n &&
		     filled_with(&g[k], a[k].op.pattern);
		if (!ok)
			diag("completion %d: user_data %llu error %d status %#x bytes %u",
			     i, (unsigned long long)c[i].user_data,
			     c[i].error, c[i].status, c[i].bytes);
	}
	tap(ok, "after both failures the next WAIT returns all %d "
	    "completions, cookies, statuses and bytes intact",
	    EFAULT_OPS);

	/* page 0 read-only again, now holding a valid op */
	ok = mprotect(ro, pg, PROT_READ | PROT_WRITE) == 0;
	if (ok) {
		fill_init((struct dmalab_op *)ro, &g[0], 0x5a5a5a5a5a5a5a5aULL);
		ok = mprotect(ro, pg, PROT_READ) == 0 &&
		     results_readonly_refused((struct dmalab_op *)ro, &g[0]);
	}
	tap(ok, "SUBMIT and SUBMIT_BATCH with read-only results: EFAULT, and "
	    "the device ran nothing");
	for (i = 0; i < EFAULT_OPS; i++)
		free(g[i].raw);
	munmap(ro, 2 * pg);
}

static void test_timeout_and_close(void)
{
	struct dmalab_completion c;
	struct dmalab_async a;
	long old = read_long(DMALAB_TIMEOUT_PARAM);
	struct gbuf g;
	double t0;
	int f2, i, ok, n;

	if (!have_faults) {
		tap_skip_n(2, "no fault injection (debugfs or device)");
		return;
	}
	gbuf_init(&g, 4096, 0);
	write_ulong(DMALAB_TIMEOUT_PARAM, 300);
	stall(1);
	async_init(&a, DMALAB_UOP_D2H, 0, &g, 0, 7);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) == 0;
	t0 = now_s();
	n = ok ? collect(fd, &c, 1, 5000) : 0;
	stall(0);
	tap(n == 1 && c.error == -ETIMEDOUT,
	    "an async op on a stalled queue fails with ETIMEDOUT after %.2fs "
	    "(watchdog)", now_s() - t0);
	write_ulong(DMALAB_TIMEOUT_PARAM, old > 0 ? old : 5000);

	/* close a file with ops in flight: they finish in the background */
	f2 = open(DMALAB_DEV, O_RDWR);
	stall(0xffffffffUL);
	for (i = 0, ok = f2 >= 0; i < 4 && ok; i++) {
		async_init(&a, DMALAB_UOP_D2H, i % info.num_queues, &g, 0, i);
		ok = ioctl(f2, DMALAB_IOC_SUBMIT_ASYNC, &a) == 0;
	}
	if (f2 >= 0)
		close(f2);
	stall(0);
	usleep(100000);
	tap(ok && gbuf_guards_ok(&g),
	    "closing a file with 4 async ops in flight (pins are released: "
	    "see the final leak check)");
	free(g.raw);
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
		tap_skip_n(4, "io_uring unavailable");
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
		tap_skip_n(1, "no fault injection");
	}
	for (i = 0, ok = n == NOPS; i < NOPS && ok; i++) {
		ok = io_uring_wait_cqe(&ring, &cqe) == 0 && cqe->res == OPLEN;
		if (!ok)
			diag("read cqe: res %d", cqe ? cqe->res : 0);
		io_uring_cqe_seen(&ring, cqe);
	}
	tap(ok, "io_uring: all %d reads complete", NOPS);
	for (i = 0, ok = 1; i < NOPS && ok; i++)
		ok = gbuf_same(&r[i], w[i].p, "io_uring read");
	tap(ok, "io_uring: data read equals data written, guards intact");
	for (i = 0; i < NOPS; i++) {
		free(w[i].raw);
		free(r[i].raw);
	}
	io_uring_queue_exit(&ring);
}

/*
 * Collect n libaio events within secs seconds.  One io_getevents() may
 * return fewer than its min_nr before its timeout: the wait is
 * interruptible (on 6.12, right after the io_uring test, it returned 4 of 8
 * events at once, the other 4 being ready an instant later).
 */
static int aio_collect(io_context_t ctx, int n, struct io_event *ev,
		       double secs)
{
	double end = now_s() + secs, left;
	struct timespec ts;
	int got = 0, r;

	while (got < n && (left = end - now_s()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		r = io_getevents(ctx, n - got, n - got, ev + got, &ts);
		if (r < 0 && r != -EINTR)
			return got ? got : r;
		if (r > 0)
			got += r;
	}
	return got;
}

static void test_libaio(void)
{
	struct iocb cb[NOPS], *cbp[NOPS];
	struct io_event ev[NOPS];
	struct gbuf w[NOPS], r[NOPS];
	io_context_t ctx = 0;
	size_t off0 = 600000;
	double t0, dt;
	int i, n, ok, got;

	if (io_setup(NOPS, &ctx)) {
		tap_skip_n(5, "io_setup failed");
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
	got = n == NOPS ? aio_collect(ctx, NOPS, ev, 10) : -1;
	ok = got == NOPS;
	for (i = 0; ok && i < NOPS; i++)
		ok = ev[i].res == OPLEN;
	if (!ok)
		for (i = 0; i < got; i++)
			diag("libaio write event %d: res %ld", i, (long)ev[i].res);
	tap(ok, "libaio: %d writes submitted at once complete (submitted %d, events %d)",
	    NOPS, n, got);

	for (i = 0; i < NOPS; i++)
		io_prep_pread(&cb[i], fd, r[i].p, OPLEN,
			      off0 + (long long)i * OPLEN);
	if (have_faults)
		stall(0xffffffffUL);
	t0 = now_s();
	n = io_submit(ctx, NOPS, cbp);
	dt = now_s() - t0;
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
		tap_skip_n(2, "no fault injection");
	}
	ok = n == NOPS && aio_collect(ctx, NOPS, ev, 10) == NOPS;
	for (i = 0; ok && i < NOPS; i++)
		ok = ev[i].res == OPLEN;
	tap(ok, "libaio: all %d reads complete", NOPS);
	for (i = 0, ok = 1; i < NOPS && ok; i++)
		ok = gbuf_same(&r[i], w[i].p, "libaio read");
	tap(ok, "libaio: data read equals data written, guards intact");
	for (i = 0; i < NOPS; i++) {
		free(w[i].raw);
		free(r[i].raw);
	}
	io_destroy(ctx);
}

/*
 * The throttled model, asserted: the device may not finish a descriptor
 * before latency + len / bandwidth of virtual time has passed, one after
 * another on a queue.  Under TCG the guest's clock follows the host's, as
 * QEMU's virtual clock does, so the bound holds on the guest's clock too
 * (with 10% for the guest's calibration of it).  Only the lower bound is
 * asserted: a loaded host makes everything slower, never faster.
 */
static void test_throttle_timing(void)
{
	struct dmalab_completion c[NOPS];
	struct dmalab_async a[NOPS];
	struct gbuf big, g[NOPS];
	struct dmalab_op *ops;
	struct dmalab_batch b;
	volatile uint8_t *cb;
	char v[32];
	double bw, lat, want1, wantn, t1, tn;
	size_t len = info.devmem_size < (1 << 20) ? info.devmem_size : 1 << 20;
	int i, ok = 1;

	expect_get("bandwidth", v, sizeof(v));
	bw = strtod(v, NULL);
	expect_get("latency", v, sizeof(v));
	lat = strtod(v, NULL) / 1e9;
	if (bw <= 0 || lat <= 0) {
		tap_skip_n(3, "timing: only where the device is throttled (dmalab.expect names its bandwidth and latency)");
		return;
	}
	/* one large op: the bandwidth */
	gbuf_init(&big, len, 0);
	want1 = lat + len / bw;
	t1 = now_s();
	async_init(&a[0], DMALAB_UOP_D2H, 0, &big, 0, 0);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[0]) == 0 &&
	     collect(fd, c, 1, 5000) == 1 && !c[0].status;
	t1 = now_s() - t1;
	tap(ok && t1 >= 0.9 * want1,
	    "throttled: a %zu-byte D2H took %.2f ms, the model's least %.2f ms (%.0f MB/s, %.0f us per descriptor)",
	    len, t1 * 1e3, want1 * 1e3, bw / 1e6, lat * 1e6);

	/*
	 * DMALAB_MAX_BATCH fills of 8 bytes into the coherent buffer, one
	 * batch on one queue: the latency, paid one descriptor after another
	 * (nothing to pin, so the driver's own time is small beside it).
	 */
	cb = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	ops = calloc(DMALAB_MAX_BATCH, sizeof(*ops));
	ok = cb != MAP_FAILED && ops;
	for (i = 0; ok && i < DMALAB_MAX_BATCH; i++) {
		op_init(&ops[i], DMALAB_UOP_FILL, 0, 8);
		op_buf(&ops[i].dst, DMALAB_BUF_COHERENT, (uint64_t)i * 8);
		ops[i].pattern = 0x0101010101010101ULL * (uint8_t)(i + 1);
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = DMALAB_MAX_BATCH;
	b.ops = (uintptr_t)ops;
	wantn = DMALAB_MAX_BATCH * (lat + 8 / bw);
	tn = now_s();
	ok = ok && !ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) &&
	     b.completed == DMALAB_MAX_BATCH;
	tn = now_s() - tn;
	for (i = 0; ok && i < DMALAB_MAX_BATCH * 8; i++)
		ok = cb[i] == (uint8_t)(i / 8 + 1);
	tap(ok && tn >= 0.9 * wantn,
	    "throttled: a batch of %d 8-byte fills on one queue took %.2f ms, the model's least %.2f ms, and filled every byte",
	    DMALAB_MAX_BATCH, tn * 1e3, wantn * 1e3);
	if (cb != MAP_FAILED)
		munmap((void *)cb, 4096);
	free(ops);

	/* eight ops spread over the queues: they overlap (reported only) */
	for (i = 0; i < NOPS; i++)
		gbuf_init(&g[i], 256, 0);
	tn = now_s();
	for (i = 0, ok = 1; i < NOPS && ok; i++) {
		async_init(&a[i], DMALAB_UOP_D2H, i % info.num_queues,
			   &g[i], (uint64_t)i * 256, i);
		ok = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a[i]) == 0;
	}
	ok = ok && collect(fd, c, NOPS, 5000) == NOPS;
	tn = now_s() - tn;
	diag("%d ops over %u queues: %.3f ms", NOPS, info.num_queues,
	     tn * 1e3);
	tap(ok, "throttled: %d concurrent ops on slow hardware all complete",
	    NOPS);
	for (i = 0; i < NOPS; i++)
		free(g[i].raw);
	free(big.raw);
}

int main(int argc, char **argv)
{
	const char *dev;
	char config[64];

	dev = test_begin(argc, argv, "dmalab_async", NTESTS, &rs);
	vm_config_name(config, sizeof(config));
	fd = dev_open(dev, &info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	have_faults = (info.features & DMALAB_FEAT_DEBUG) &&
		      !dbg_path(dev, "fault", faultdir, sizeof(faultdir),
				W_OK);
	tap(info.async_max >= NOPS * 2 && seed_devmem(),
	    "info.async_max %u; device memory seeded", info.async_max);

	test_args();			/* 3 */
	test_inflight();		/* 6 */
	test_wait_efault();		/* 5 */
	test_timeout_and_close();	/* 2 */
	test_uring();			/* 4 */
	test_libaio();			/* 5 */
	test_throttle_timing();		/* 3 */
	close(fd);
	free(devdata);
	return tap_done();
}
