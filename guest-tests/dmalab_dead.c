// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_dead: device loss.  The device's test-only DEAD register (debugfs
 * fault/dead) emulates a surprise removal: every register reads all-ones,
 * writes, DMA and interrupts are dropped.  With a sync op and an async op
 * in flight, the driver must notice (DMALAB_REG_ID reads ~0 when the op
 * times out, or in the watchdog), fail the ops with ENODEV within a bounded
 * time and every later call, open, mmap too; poll reports POLLHUP; the
 * stale mappings must not crash anyone.  Then the function is recovered:
 * unbind, function reset (sysfs "reset": an FLR on PCIe, the D3hot -> D0
 * reset on conventional PCI; either revives the emulated device), bind,
 * and a new open moves data byte for byte.  No pinned page may be left.
 * guest/init checks the kernel log afterwards.  Output is TAP.
 *
 * Two more users are in flight at the loss: a libaio read (read_iter with
 * a kiocb), which must complete with -ENODEV, and the kernel's dmatest
 * module on every dmaengine channel, whose transfers must be aborted (long
 * before dmatest's own timeout), whose threads must end and which must
 * unload, releasing its channels.
 *
 * Without a function reset (no sysfs "reset" file) a dead device could not
 * be revived for the tests that follow, so every case is skipped with that
 * reason.
 *
 * Usage: dmalab_dead [seed] [device]   (as root)
 */
#include "dmalab_test.h"
#include "dmatest_client.h"

#include <libaio.h>
#include <poll.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define NTESTS		18
#define TIMEOUT_MS	500
/* an op in flight at the loss ends within this (several timeouts) */
#define BOUND_S		5.0
#define XFER		(64 * 1024)
#define DRV		"/sys/bus/pci/drivers/dmalab/"
/* dmatest's own wait: the driver must abort the transfers long before */
#define DMATEST_TIMEOUT	"20000"
#define DMATEST_MARK	"dmalab_dead: starting dmatest"

static uint64_t rs;		/* the test's PRNG */
static char faultdir[PATH_MAX];

/* pwrite random data at off, pread it back, compare; 1 if all is well. */
static int rw_roundtrip(int fd, uint64_t off, size_t len)
{
	static uint8_t w[XFER], r[XFER];

	fill_rand(&rs, w, len);
	memset(r, 0, len);
	if (pwrite(fd, w, len, off) != (ssize_t)len) {
		diag("pwrite: %s", strerror(errno));
		return 0;
	}
	if (pread(fd, r, len, off) != (ssize_t)len) {
		diag("pread: %s", strerror(errno));
		return 0;
	}
	return same(r, w, len, "pread after pwrite");
}

/*
 * A child blocks in SUBMIT (D2H) on queue q, stalled; the parent kills the
 * device meanwhile.  Returns the child's errno (0: success, -1: unknown)
 * and the time the op took to *dt.
 */
static int inflight_child(int fd, uint32_t q, int *dead_err, double *dt)
{
	struct child_d2h op = { fd, q };
	double t0;
	pid_t pid;
	int e;

	*dead_err = -1;
	*dt = -1;
	pid = child_start(child_submit_d2h, &op);
	if (pid < 0)
		return -1;
	t0 = now_s();
	usleep(100000);
	*dead_err = write_ulong_at(faultdir, "dead", DMALAB_DBG_DEAD_MAGIC);
	e = child_wait(pid);
	*dt = now_s() - t0;
	return e;
}

/* Lines of the kernel log with s in them. */
static int klog_count(const char *s, const char *also)
{
	int n = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *line, *save = NULL;
	int count = 0;

	if (n <= 0)
		return -1;
	buf = malloc(n + 1);
	if (!buf)
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, n);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, s) && (!also || strstr(line, also)))
			count++;
	free(buf);
	return count;
}

static int klog_clean(void)
{
	static const char *const bad[] = {
		"Oops", "BUG:", "WARNING:", "Call Trace", "hung_task",
	};
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		n += klog_count(bad[i], NULL) > 0;
	return !n;
}

static int wait_for(const char *path, int present, double secs)
{
	double t0 = now_s();

	while ((access(path, F_OK) == 0) != present) {
		if (now_s() - t0 > secs)
			return 0;
		usleep(20000);
	}
	return 1;
}

int main(int argc, char **argv)
{
	char bdf[64], reset[PATH_MAX], buf[PATH_MAX], why[256];
	static uint8_t abuf[4096], rbuf[4096];
	struct dmalab_info info;
	struct dmalab_async a;
	struct dmalab_wait w;
	struct dmalab_op op;
	struct pollfd pfd;
	long old_timeout;
	long long pins0, pins1;
	void *dm, *cb;
	const char *dev;
	int fd, fd2, e, e1, e2, e3, e4, e5, s1, s2, dead_err, n, ok;
	int nchan, dmatest_err, aio_n, failed, aborted, wrong;
	static uint8_t aiobuf[4096];
	struct iocb aiocb, *aiocbp = &aiocb;
	struct io_event ev;
	struct timespec aio_wait = { (time_t)BOUND_S, 0 };
	io_context_t ctx = 0;
	uint32_t q = 0;
	double t0, dt;

	dev = test_begin(argc, argv, "dmalab_dead", NTESTS, &rs);
	fd = dev_open_pci(dev, bdf, sizeof(bdf), &info);
	snprintf(reset, sizeof(reset), "/sys/bus/pci/devices/%s/reset", bdf);
	diag_reset_methods(dev, bdf);
	if (!(info.features & DMALAB_FEAT_DEBUG) ||
	    dbg_path(dev, "fault/dead", faultdir, sizeof(faultdir), W_OK)) {
		tap_skip_n(NTESTS, "no fault injection (debugfs fault/dead)");
		close(fd);
		return tap_done();
	}
	if (access(reset, W_OK)) {
		tap_skip_n(NTESTS, "no sysfs reset file (no function reset): a dead device could not be revived for the tests that follow");
		close(fd);
		return tap_done();
	}
	dbg_path(dev, "fault", faultdir, sizeof(faultdir), W_OK);
	pins0 = pins_outstanding(NULL, NULL);

	old_timeout = read_long(DMALAB_TIMEOUT_PARAM);
	tap(old_timeout > 0 &&
	    write_ulong(DMALAB_TIMEOUT_PARAM, TIMEOUT_MS) == 0,
	    "timeout_ms lowered to %d (was %ld)", TIMEOUT_MS, old_timeout);

	/* 2: the device works; both kinds of mapping are in place */
	dm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cb = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	if (cb != MAP_FAILED)
		memset(cb, 0x5a, 65536);
	tap(dm != MAP_FAILED && cb != MAP_FAILED && rw_roundtrip(fd, 0, XFER),
	    "before the loss: data moves, device memory and coherent buffer mapped");

	/*
	 * 3-4: an async op and a sync op in flight on stalled queues, and a
	 * libaio read and dmatest's transfers too; the device dies under them.
	 */
	write_ulong_at(faultdir, "stall", 0xffffffffUL);
	nchan = dma_channels_of(bdf);
	dmatest_err = nchan ? dmatest_load() : ENODEV;
	dmatest_err = dmatest_err ?: dmatest_go(bdf, "1", "3", DMATEST_TIMEOUT,
					       DMATEST_MARK);
	aio_n = -1;
	if (!io_setup(1, &ctx)) {
		io_prep_pread(&aiocb, fd, aiobuf, sizeof(aiobuf), 8192);
		aio_n = io_submit(ctx, 1, &aiocbp);
	}
	memset(&a, 0, sizeof(a));
	op_xfer(&a.op, DMALAB_UOP_D2H, q, sizeof(abuf), DMALAB_BUF_DEVMEM,
		4096, DMALAB_BUF_USER, (uintptr_t)abuf);
	a.user_data = 42;
	e1 = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) ? errno : 0;
	e = inflight_child(fd, q, &dead_err, &dt);
	tap(!e1 && dead_err == 0,
	    "async op submitted (%s), DEAD magic written to %s/dead (%s)",
	    strerror(e1), faultdir,
	    dead_err < 0 ? "?" : strerror(dead_err));
	tap(e == ENODEV && dt < BOUND_S,
	    "the op in flight at the loss fails with ENODEV after %.2f s (%s)",
	    dt, e > 0 ? strerror(e) : e == 0 ? "no error" : "?");

	/* 5: the libaio read */
	n = aio_n == 1 ? io_getevents(ctx, 1, 1, &ev, &aio_wait) : -1;
	tap(n == 1 && ev.res == (unsigned long)-ENODEV,
	    "the libaio read in flight at the loss completes with ENODEV (submitted %d, events %d, res %ld)",
	    aio_n, n, n == 1 ? (long)ev.res : 0L);
	if (ctx)
		io_destroy(ctx);

	/*
	 * 6: dmatest's transfers are aborted, so its threads end well before
	 * its own timeout; it unloads, releasing the channels (before the
	 * unbind below, which needs them free).
	 */
	if (dmatest_err) {
		tap_skip("dmatest not run (%d channels, %s)", nchan,
			 strerror(dmatest_err));
	} else {
		t0 = now_s();
		while (dmatest_summaries(DMATEST_MARK, 0, &failed) < nchan &&
		       now_s() - t0 < BOUND_S)
			usleep(100000);
		dt = now_s() - t0;
		n = dmatest_summaries(DMATEST_MARK, 1, &failed);
		aborted = dmatest_results(DMATEST_MARK, "'completion error status'");
		wrong = dmatest_results(DMATEST_MARK, "'data error'") +
			dmatest_results(DMATEST_MARK, "'test timed out'");
		e = dmatest_unload();
		tap(n == nchan && failed == n && aborted >= nchan && !wrong && !e,
		    "dmatest on %d channels: %d threads ended within %.1f s, %d with failures; %d transfers reported as errors, %d as data errors or timeouts; unloaded (%s)",
		    nchan, n, dt, failed, aborted, wrong, strerror(e));
		if (e)
			tap_bail("dmatest still holds the channels: cannot unbind");
	}

	/* 7: a new op fails at once */
	t0 = now_s();
	n = pwrite(fd, abuf, sizeof(abuf), 0);
	e = n < 0 ? errno : 0;
	dt = now_s() - t0;
	tap(n == -1 && e == ENODEV && dt < TIMEOUT_MS / 1000.0,
	    "a later pwrite fails with ENODEV at once (%.3f s, %s)", dt,
	    strerror(e));

	/* 8: every call on the open file */
	e1 = dev_info(fd, &info);
	op_xfer(&op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, sizeof(rbuf),
		DMALAB_BUF_DEVMEM, 0, DMALAB_BUF_USER, (uintptr_t)rbuf);
	e2 = submit_fd(fd, &op);
	e3 = pread(fd, rbuf, sizeof(rbuf), 0) < 0 ? errno : 0;
	e4 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ?
	     errno : 0;
	e5 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_PAGEBUF) == MAP_FAILED ? errno : 0;
	snprintf(why, sizeof(why),
		 "INFO %s, SUBMIT %s, pread %s, mmap %s, mmap pagebuf %s",
		 strerror(e1), strerror(e2), strerror(e3), strerror(e4),
		 strerror(e5));
	tap(e1 == ENODEV && e2 == ENODEV && e3 == ENODEV && e4 == ENODEV &&
	    e5 == ENODEV, "calls on the open file fail with ENODEV (%s)", why);

	/* 9: async calls and poll */
	memset(&a, 0, sizeof(a));
	op_xfer(&a.op, DMALAB_UOP_D2H, q, sizeof(rbuf), DMALAB_BUF_DEVMEM,
		0, DMALAB_BUF_USER, (uintptr_t)rbuf);
	e1 = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) ? errno : 0;
	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	w.max = 1;
	w.timeout_ms = 100;
	e2 = ioctl(fd, DMALAB_IOC_WAIT, &w) ? errno : 0;
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	n = poll(&pfd, 1, 1000);
	tap(e1 == ENODEV && e2 == ENODEV && n == 1 &&
	    (pfd.revents & (POLLHUP | POLLERR)) == (POLLHUP | POLLERR),
	    "SUBMIT_ASYNC %s, WAIT %s, poll reports HUP and ERR (revents %#x)",
	    strerror(e1), strerror(e2), pfd.revents);

	/* 10: a new open */
	fd2 = open(dev, O_RDWR);
	e = fd2 < 0 ? errno : 0;
	if (fd2 >= 0)
		close(fd2);
	tap(fd2 < 0 && e == ENODEV, "a new open of %s fails with ENODEV (%s)",
	    dev, fd2 < 0 ? strerror(e) : "opened");

	/* 11: the stale mappings: no signal, or SIGBUS; never a crash */
	s1 = dm != MAP_FAILED ? touch_in_child(dm) : -1;
	s2 = cb != MAP_FAILED ? touch_in_child(cb) : -1;
	tap((s1 == 0 || s1 == SIGBUS) && (s2 == 0 || s2 == SIGBUS),
	    "touching the stale device memory and coherent mappings: signals %d, %d (0 or SIGBUS)",
	    s1, s2);

	/* 12: one report, nothing else in the kernel log */
	n = klog_count("device lost", bdf);
	tap(n == 1 && klog_clean(),
	    "the driver logged the loss once (%d), no oops or warning", n);

	/*
	 * 13-16: recovery.  Unbind with the file and its mappings still
	 * there; close them before binding again (the old device keeps its
	 * number until its last reference goes).
	 */
	e = write_str(DRV "unbind", bdf);
	snprintf(buf, sizeof(buf), "/sys/bus/pci/devices/%s/driver", bdf);
	tap(!e && wait_for(dev, 0, 5.0) && access(buf, F_OK),
	    "driver unbound from %s (%s), %s gone", bdf, strerror(e), dev);
	if (dm != MAP_FAILED)
		munmap(dm, 8192);
	if (cb != MAP_FAILED)
		munmap(cb, 65536);
	close(fd);

	e = write_str(reset, "1");
	tap(!e, "function reset through %s (%s)", reset, strerror(e));

	e = write_str(DRV "bind", bdf);
	tap(!e && wait_for(dev, 1, 5.0), "driver bound again (%s), %s is back",
	    strerror(e), dev);

	fd = dev_open(dev, &info);
	ok = fd >= 0;
	if (ok) {
		ok = rw_roundtrip(fd, 12345, XFER) &&
		     op_roundtrip(fd, DMALAB_QUEUE_ANY, 777, 5000, &rs);
		dm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			  0);
		if (dm == MAP_FAILED) {
			ok = 0;
		} else {
			fill_rand(&rs, abuf, sizeof(abuf));
			ok &= pwrite(fd, abuf, sizeof(abuf), 4096) ==
			      (ssize_t)sizeof(abuf) &&
			      same((volatile uint8_t *)dm + 4096, abuf,
				   sizeof(abuf), "mapping after pwrite");
			munmap(dm, 8192);
		}
		close(fd);
	} else {
		diag("open %s: %s", dev, strerror(errno));
	}
	tap(ok, "a new open of the revived device moves data byte for byte");

	/* 17-18 */
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0,
	    "no pinned page left behind (outstanding %lld before, %lld after)",
	    pins0, pins1);
	tap(old_timeout > 0 &&
	    write_ulong(DMALAB_TIMEOUT_PARAM, old_timeout) == 0,
	    "timeout_ms restored to %ld", old_timeout);
	return tap_done();
}
