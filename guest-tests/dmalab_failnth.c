// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_failnth: every driver entry point a user reaches, with each of
 * its kernel allocations failing in turn, the way syzkaller's fail-nth
 * does.  For N = 1, 2, ...: write N to /proc/thread-self/fail-nth, make
 * one call, and read fail-nth back: 0 means the Nth fault-injection point
 * the call reached failed; a count left means the call reached fewer than
 * N points, and the entry point is done.
 *
 * Each failed call must end in a clean errno (or succeed, when the failure
 * was recovered from), move correct data when it succeeds, and leave the
 * device working: a FILL after every call is checked byte by byte.
 * Nothing may leak and no kernel report may appear: guest/init checks the
 * pins, slab caches, pools, kmemleak and the kernel log after the run.
 *
 * Needs a kernel with CONFIG_FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC
 * and FAULT_INJECTION_DEBUG_FS (./run-vm.sh --debug); skips otherwise.
 *
 * Output is TAP.  Usage: dmalab_failnth [seed] [device]   (as root)
 */
#include "dmalab_test.h"
#include "dmatest_client.h"

#include <libaio.h>
#include <liburing.h>
#include <sys/mman.h>

#define NTESTS		15
#define BUFLEN		(3 * 4096 + 123)
/* an entry point that reaches more injection points than this is stuck */
#define MAX_NTH		2000
/* where pwrite, pread, libaio and io_uring move their data */
#define DEVOFF		8192

static const char *dev;
static int fd;
static struct dmalab_info info;
static uint64_t rs;
static uint8_t *hbuf;		/* a prefaulted user buffer */
static uint8_t *want;		/* what a FILL of hbuf must leave in it */
static uint8_t *devdata;	/* what device memory holds at DEVOFF */
static long total_points;

/* ---- fault injection ------------------------------------------------- */

static int failnth_fd = -1;

/*
 * The text of DMA-API debug (kernel/dma/debug.c), from /proc/kallsyms: from
 * the lowest of its functions to the symbol after the highest.  A fault
 * injected into its own bookkeeping (the cacheline radix tree, the entry
 * pool) would not test the driver: DMA-API debug turns itself off for the
 * rest of the boot.  Every allocation it makes for a mapping runs under one
 * of its debug_dma_*() entry points, so their span is enough.  0 if none.
 */
static int dma_debug_text(unsigned long long *start, unsigned long long *end)
{
	static const char *const statics[] = {
		"add_dma_entry", "active_cacheline_insert", "dma_entry_alloc",
		"dma_debug_create_entries",
	};
	unsigned long long a, lo = ~0ULL, hi = 0, next = ~0ULL;
	char line[512], type, name[256];
	FILE *ks = fopen("/proc/kallsyms", "r");
	size_t i;
	int dbg;

	if (!ks)
		return -1;
	while (fgets(line, sizeof(line), ks)) {
		/* (a function's .cold part lies with other files' cold code) */
		if (sscanf(line, "%llx %c %255s", &a, &type, name) != 3 ||
		    (type != 't' && type != 'T') || !a || strchr(name, '.'))
			continue;
		dbg = !strncmp(name, "debug_dma_", 10);
		for (i = 0; !dbg && i < sizeof(statics) / sizeof(statics[0]);
		     i++)
			dbg = !strcmp(name, statics[i]);
		if (dbg) {
			lo = a < lo ? a : lo;
			hi = a > hi ? a : hi;
		}
	}
	rewind(ks);
	while (fgets(line, sizeof(line), ks))
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 &&
		    a > hi && a < next && (type == 't' || type == 'T'))
			next = a;
	fclose(ks);
	/* one file's text: a wider span would spare unrelated code too */
	if (!hi || next == ~0ULL || next - lo > (1 << 20))
		return -1;
	*start = lo;
	*end = next;
	return 0;
}

/* Keep injected faults out of DMA-API debug's own allocations. */
static int fault_injection_spare_dma_debug(void)
{
	static const char *const attrs[] = { "failslab", "fail_page_alloc" };
	unsigned long long start, end;
	char path[96], v[32];
	size_t i;

	if (access("/sys/kernel/debug/dma-api", F_OK))
		return 0;		/* no DMA-API debug to spare */
	if (dma_debug_text(&start, &end))
		return -1;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s/reject-start",
			 attrs[i]);
		snprintf(v, sizeof(v), "%llu", start);
		if (write_str(path, v))
			return -1;
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s/reject-end",
			 attrs[i]);
		snprintf(v, sizeof(v), "%llu", end);
		if (write_str(path, v))
			return -1;
	}
	diag("faults kept out of DMA-API debug (%#llx..%#llx)", start, end);
	return 0;
}

static int fault_injection_setup(void)
{
	static const char *const knobs[][2] = {
		/* GFP_KERNEL allocations fail too, order 0 pages too */
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
		/* no stack trace per injected fault: the log stays readable */
		{ "/sys/kernel/debug/failslab/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	};
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (write_str(knobs[i][0], knobs[i][1]))
			return -1;
	if (fault_injection_spare_dma_debug())
		return -1;
	failnth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	return failnth_fd < 0 ? -1 : 0;
}

static void failnth_arm(int n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%d", n);

	if (pwrite(failnth_fd, s, len, 0) != len)
		tap_bail("fail-nth: %s", strerror(errno));
}

/* Disarm; the count that was left (0: the fault fired). */
static int failnth_disarm(void)
{
	char s[16] = "";
	ssize_t n = pread(failnth_fd, s, sizeof(s) - 1, 0);

	failnth_arm(0);
	return n > 0 ? atoi(s) : -1;
}

/*
 * The point to fail in the current call (0: none), counted across the
 * syscalls of the call that INJECT() wraps; only those are armed, so that
 * the test's own syscalls (sysfs, the kernel log) never fail.
 */
static int nth_left;

#define INJECT(expr) ({						\
	__typeof__(expr) r_;					\
	int e_;							\
	if (nth_left > 0)					\
		failnth_arm(nth_left);				\
	r_ = (expr);						\
	e_ = errno;						\
	if (nth_left > 0)					\
		nth_left = failnth_disarm();			\
	errno = e_;						\
	r_;							\
})

/* ---- the entry points -------------------------------------------------- */

/* One call into the driver; 0 or an errno.  Checks its own data. */
typedef int (*call_fn)(void);

static int fill_op(int f, uint64_t pattern)
{
	struct dmalab_op op;

	op_init(&op, DMALAB_UOP_FILL, DMALAB_QUEUE_ANY, BUFLEN);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)hbuf);
	op.pattern = pattern;
	if (INJECT(ioctl(f, DMALAB_IOC_SUBMIT, &op)))
		return errno;
	return op.status == DMALAB_STS_OK && op.bytes == BUFLEN ? 0 : EIO;
}

static void want_fill(uint64_t pattern)
{
	size_t j;

	for (j = 0; j < BUFLEN; j++)
		want[j] = (uint8_t)(pattern >> (8 * (j % 8)));
}

/* The device still moves data, whatever happened before. */
static int device_works(void)
{
	uint64_t pattern = rng_next(&rs);

	memset(hbuf, 0, BUFLEN);
	if (fill_op(fd, pattern))
		return 0;
	want_fill(pattern);
	return same(hbuf, want, BUFLEN, "FILL after the injected call");
}

static int call_open(void)
{
	int f = INJECT(open(dev, O_RDWR));

	if (f < 0)
		return errno;
	close(f);
	return 0;
}

static int call_submit(void)
{
	uint64_t pattern = rng_next(&rs);
	int e;

	memset(hbuf, 0, BUFLEN);
	e = fill_op(fd, pattern);
	if (!e) {
		want_fill(pattern);
		if (!same(hbuf, want, BUFLEN, "SUBMIT FILL"))
			return EBADMSG;
	}
	return e;
}

static int call_batch(void)
{
	struct dmalab_op ops[3];
	struct dmalab_batch b;
	int i;

	for (i = 0; i < 3; i++) {
		op_init(&ops[i], DMALAB_UOP_FILL, DMALAB_QUEUE_ANY, 1000);
		op_buf(&ops[i].dst, DMALAB_BUF_USER,
		       (uintptr_t)hbuf + i * batch_stride(1000));
		ops[i].pattern = 0x1111111111111111ULL * (i + 1);
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = 3;
	b.ops = (uintptr_t)ops;
	memset(hbuf, 0, BUFLEN);
	if (INJECT(ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b)))
		return errno;
	for (i = 0; i < 3; i++)
		if (!all_bytes(hbuf + i * batch_stride(1000), 1000,
			       0x11 * (i + 1)))
			return EBADMSG;
	return b.completed == 3 ? 0 : EIO;
}

/* SUBMIT_ASYNC, then WAIT for it (the WAIT runs with the fault armed). */
static int call_async(void)
{
	struct dmalab_completion c;
	struct dmalab_async a;
	struct dmalab_wait w;

	memset(&a, 0, sizeof(a));
	op_init(&a.op, DMALAB_UOP_FILL, DMALAB_QUEUE_ANY, BUFLEN);
	op_buf(&a.op.dst, DMALAB_BUF_USER, (uintptr_t)hbuf);
	a.op.pattern = 0x5a5a5a5a5a5a5a5aULL;
	memset(hbuf, 0, BUFLEN);
	if (INJECT(ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a)))
		return errno;
	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	w.max = 1;
	w.min = 1;
	w.timeout_ms = 10000;
	w.cpls = (uintptr_t)&c;
	/* the WAIT must deliver it even if its own allocation failed */
	/* (a failed WAIT writes nothing back: w can be used again) */
	while (INJECT(ioctl(fd, DMALAB_IOC_WAIT, &w)))
		if (errno != ENOMEM)
			return errno;
	if (w.count != 1 || c.cookie != a.cookie)
		return EBADMSG;
	if (c.error)
		return -c.error;
	return all_bytes(hbuf, BUFLEN, 0x5a) ? 0 : EBADMSG;
}

static int call_mmap(off_t off, size_t len)
{
	void *p = INJECT(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, off));

	if (p == MAP_FAILED)
		return errno;
	munmap(p, len);
	return 0;
}

/*
 * mmap of device memory.  remap_pfn_range() reports a failed allocation of
 * its x86 PAT memtype record as EINVAL (pfnmap_track_ctx_alloc() in
 * mm/memory.c), which no driver can tell from a real one.  After a fault
 * fired in this call, that EINVAL is the clean failure it is; without one,
 * EINVAL stays wrong.
 */
static int call_mmap_devmem(void)
{
	int armed = nth_left > 0, e = call_mmap(0, 4096);

	return e == EINVAL && armed && nth_left == 0 ? ENOMEM : e;
}

/* A fresh file, so that its buffer is allocated by this mmap. */
static int call_mmap_fresh(off_t off)
{
	int f = open(dev, O_RDWR), e = 0;
	void *p;

	if (f < 0)
		return errno;
	p = INJECT(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, f,
			off));
	if (p == MAP_FAILED)
		e = errno;
	else
		munmap(p, 8192);
	close(f);
	return e;
}

static int call_mmap_coherent(void)
{
	return call_mmap_fresh(DMALAB_MMAP_COHERENT);
}

static int call_mmap_pagebuf(void)
{
	return call_mmap_fresh(DMALAB_MMAP_PAGEBUF);
}

static int call_pwrite_pread(int is_write)
{
	ssize_t n;

	if (is_write) {
		fill_rand(&rs, hbuf, BUFLEN);
		n = INJECT(pwrite(fd, hbuf, BUFLEN, DEVOFF));
	} else {
		memset(hbuf, 0, BUFLEN);
		n = INJECT(pread(fd, hbuf, BUFLEN, DEVOFF));
	}
	if (n < 0)
		return errno;
	if (n != BUFLEN)
		return EIO;
	if (is_write)
		memcpy(devdata, hbuf, BUFLEN);
	else if (!same(hbuf, devdata, BUFLEN, "pread"))
		return EBADMSG;
	return 0;
}

static int call_pwrite(void)
{
	return call_pwrite_pread(1);
}

static int call_pread(void)
{
	/* device memory at DEVOFF holds devdata from the last good pwrite */
	return call_pwrite_pread(0);
}

static io_context_t aio_ctx;

static int call_libaio(void)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 10, 0 };
	int r;

	memset(hbuf, 0, BUFLEN);
	io_prep_pread(&cb, fd, hbuf, BUFLEN, DEVOFF);
	r = INJECT(io_submit(aio_ctx, 1, cbs));
	if (r != 1)
		return r < 0 ? -r : EIO;
	r = io_getevents(aio_ctx, 1, 1, &ev, &ts);
	if (r != 1)
		return EIO;
	if ((long)ev.res < 0)
		return -(long)ev.res;
	if (ev.res != BUFLEN || !same(hbuf, devdata, BUFLEN, "libaio read"))
		return EBADMSG;
	return 0;
}

static struct io_uring ring;
static int have_uring;

static int call_uring(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int r, res;

	if (!sqe)
		return EBUSY;
	memset(hbuf, 0, BUFLEN);
	io_uring_prep_read(sqe, fd, hbuf, BUFLEN, DEVOFF);
	r = INJECT(io_uring_submit(&ring));
	if (r != 1)
		return r < 0 ? -r : EIO;
	r = io_uring_wait_cqe(&ring, &cqe);
	if (r)
		return -r;
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (res < 0)
		return -res;
	if (res != BUFLEN || !same(hbuf, devdata, BUFLEN, "io_uring read"))
		return EBADMSG;
	return 0;
}

static char bdf[32];

#define FAILNTH_MARK	"dmalab_failnth: dmatest"

/*
 * dmatest with the fault armed on the write that starts it: its channel
 * requests (dma_request_channel, the driver's alloc_chan_resources) and its
 * threads are created in this task.  A run that started no thread is a
 * clean failure; every thread that started must report a passing summary.
 */
static int call_dmatest(void)
{
	int failed = 0, n = 0, started, e;
	double t0;

	e = dmatest_param("iterations", "5") ?: dmatest_param("threads_per_chan", "1");
	if (e)
		return EIO;
	e = dmatest_param("device", bdf) ?: dmatest_param("timeout", "5000");
	if (e)
		return EIO;
	klog_mark(FAILNTH_MARK);
	if (INJECT(write_str(DMATEST_PARAMS "run", "1")))
		return ENOMEM;
	started = dmatest_started(FAILNTH_MARK);
	/* no channel or thread could be had: nothing ran, nothing to judge */
	if (started == 0)
		return ENOMEM;
	for (t0 = now_s(); now_s() - t0 < 60; usleep(100000)) {
		n = dmatest_summaries(FAILNTH_MARK, 0, &failed);
		if (n >= started)
			break;
	}
	if (n < started) {
		diag("dmatest: %d of %d threads reported", n, started);
		return ETIMEDOUT;
	}
	return failed ? EIO : 0;
}

/* ---- the loop ------------------------------------------------------------ */

/* errnos a call may end with when one of its allocations failed */
static int clean_errno(int e)
{
	return e == ENOMEM || e == EFAULT || e == EAGAIN || e == EIO;
}

/*
 * Drive one entry point through every injection point it reaches; a TAP
 * line with the number of points and the outcomes.
 */
static void sweep(const char *what, call_fn call)
{
	int n, e, fired, bad = 0, points = 0, ok_calls = 0, errs = 0;
	char first_bad[160] = "";

	/* the call works without a fault (and sets up what it reads) */
	nth_left = 0;
	e = call();
	if (e) {
		tap(0, "%s: works without a fault (%s)", what, strerror(e));
		return;
	}
	for (n = 1; n <= MAX_NTH; n++) {
		nth_left = n;
		e = call();
		fired = nth_left == 0;
		nth_left = 0;
		if (!fired) {
			/* past the last point: the call must simply work */
			if (e && !bad++)
				snprintf(first_bad, sizeof(first_bad),
					 "point %d fired no fault, yet: %s", n,
					 strerror(e));
			break;
		}
		points++;
		if (!e)
			ok_calls++;
		else if (clean_errno(e))
			errs++;
		else if (!bad++)
			snprintf(first_bad, sizeof(first_bad),
				 "point %d: %s", n, strerror(e));
		if (!device_works() && !bad++)
			snprintf(first_bad, sizeof(first_bad),
				 "point %d: the device stopped moving data", n);
	}
	total_points += points;
	if (bad)
		diag("%s: %d bad outcomes, first at %s", what, bad, first_bad);
	tap(!bad && n <= MAX_NTH && points > 0,
	    "%s: %d injection points, each failed cleanly (%d recovered, %d errno) and the device still works",
	    what, points, ok_calls, errs);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *what;
		call_fn call;
	} calls[] = {
		{ "open", call_open },
		{ "SUBMIT", call_submit },
		{ "SUBMIT_BATCH", call_batch },
		{ "SUBMIT_ASYNC and WAIT", call_async },
		{ "mmap of device memory", call_mmap_devmem },
		{ "mmap of the coherent buffer", call_mmap_coherent },
		{ "mmap of the page buffer", call_mmap_pagebuf },
		{ "pwrite", call_pwrite },
		{ "pread", call_pread },
		{ "libaio read", call_libaio },
		{ "io_uring read", call_uring },
	};
	size_t i;
	int ok;

	dev = test_begin(argc, argv, "dmalab_failnth", NTESTS, &rs);
	fd = dev_open(dev, &info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	if (fault_injection_setup()) {
		tap_skip_n(NTESTS, "this kernel has no fault injection "
			   "(fail-nth, failslab, and with DMA-API debug the "
			   "stack filter): ./run-vm.sh --debug");
		return tap_done();
	}
	hbuf = aligned_alloc(4096, BUFLEN + 4096);
	want = malloc(BUFLEN);
	devdata = malloc(BUFLEN);
	if (!hbuf || !want || !devdata)
		tap_bail("out of memory");
	/* fault everything in now: only the call under test may fail */
	memset(hbuf, 0, BUFLEN + 4096);
	memset(want, 0, BUFLEN);
	memset(devdata, 0, BUFLEN);
	ok = io_setup(8, &aio_ctx) == 0;
	have_uring = io_uring_queue_init(8, &ring, 0) == 0;
	tap(ok && have_uring && device_works(),
	    "fault injection armed per call; libaio and io_uring set up; the device works");

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		sweep(calls[i].what, calls[i].call);

	if (!misc_pci_addr(dev_name(dev), bdf, sizeof(bdf)) &&
	    dma_channels_of(bdf) > 0 && dmatest_load() == 0) {
		sweep("dmatest (dmaengine channel allocation)", call_dmatest);
		dmatest_unload();
	} else {
		tap_skip_n(1, "dmatest cannot run on this device");
	}
	tap(device_works(), "after every sweep the device moves data");
	diag("%ld injection points reached in all", total_points);
	tap(total_points > 0, "%ld injection points reached in all",
	    total_points);
	io_destroy(aio_ctx);
	io_uring_queue_exit(&ring);
	close(fd);
	return tap_done();
}
