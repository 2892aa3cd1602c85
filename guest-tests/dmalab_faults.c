// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_faults: the driver's error paths, driven by the device's test-only
 * fault injection (debugfs /sys/kernel/debug/dmalab/<pci>/fault/): a stalled
 * queue times out and is reset, lost / duplicated / late interrupts, an
 * injected descriptor failure, a wait interrupted by a signal,
 * DMALAB_IOC_QUEUE_RESET cancelling a waiting op, and (use_bounce=1) a read
 * abandoned with its D2H still aimed at the reused bounce buffer.  Output
 * is TAP.
 *
 * Needs debugfs mounted and /sys/module/dmalab/parameters/timeout_ms.
 * Usage: dmalab_faults [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#define NTESTS		13
#define TIMEOUT_MS	400
#define BOUNCE_ROUNDS	6

static uint64_t rs;		/* the test's PRNG */
static int fd;
static struct dmalab_info info;
static char faultdir[PATH_MAX];

static int fault(const char *name, unsigned long val)
{
	return write_ulong_at(faultdir, name, val);
}

/* H2D random data on queue q, D2H back, compare; 1 if all is well. */
static int roundtrip(uint32_t q, uint64_t off)
{
	uint8_t w[3000], r[3000];
	struct dmalab_op op;
	size_t i;

	for (i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)rng_next(&rs);
	memset(r, 0, sizeof(r));
	op_xfer(&op, DMALAB_UOP_H2D, q, sizeof(w), DMALAB_BUF_USER,
		(uintptr_t)w, DMALAB_BUF_DEVMEM, off);
	if (ioctl(fd, DMALAB_IOC_SUBMIT, &op) || op.status) {
		diag("H2D on queue %u: %s, status %#x", q, strerror(errno),
		     op.status);
		return 0;
	}
	op_xfer(&op, DMALAB_UOP_D2H, q, sizeof(r), DMALAB_BUF_DEVMEM, off,
		DMALAB_BUF_USER, (uintptr_t)r);
	if (ioctl(fd, DMALAB_IOC_SUBMIT, &op) || op.status) {
		diag("D2H on queue %u: %s, status %#x", q, strerror(errno),
		     op.status);
		return 0;
	}
	if (memcmp(w, r, sizeof(w))) {
		diag("queue %u: data differs", q);
		return 0;
	}
	return 1;
}

static void test_timeout(void)
{
	struct dmalab_stats a, b;
	uint8_t buf[512];
	struct dmalab_op op;
	double t0, dt;
	int r, e;

	a = dev_stats(fd);
	fault("stall", 1);
	op_xfer(&op, DMALAB_UOP_D2H, 0, sizeof(buf), DMALAB_BUF_DEVMEM, 0,
		DMALAB_BUF_USER, (uintptr_t)buf);
	t0 = now_s();
	r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
	e = errno;
	dt = now_s() - t0;
	fault("stall", 0);
	tap(r == -1 && e == ETIMEDOUT && dt >= TIMEOUT_MS / 2000.0,
	    "op on a stalled queue fails with ETIMEDOUT after %.2fs (%s)",
	    dt, r ? strerror(e) : "no error");
	b = dev_stats(fd);
	tap(b.timeouts == a.timeouts + 1 &&
	    b.queue_resets == a.queue_resets + 1,
	    "the timeout was counted and the queue reset");
	tap(roundtrip(0, 0), "the queue works again after the reset");
}

static void test_irq_faults(void)
{
	struct dmalab_stats a, b;
	long spin_us;
	int ok, i;

	if (polling_mode()) {
		tap_skip_n(3, "interrupt faults: with poll_us the descriptors ask for no interrupt, so there is none to lose, repeat or delay");
		return;
	}
	/*
	 * A waiter that polls (spin_us) could find the op done before the
	 * interrupt was due: these faults are about waiters that sleep.
	 */
	spin_us = read_long(DMALAB_PARAMS "spin_us");
	write_ulong(DMALAB_PARAMS "spin_us", 0);
	a = dev_stats(fd);
	fault("irq_count", 1);
	fault("irq_mode", DMALAB_DBG_IRQ_DROP);
	ok = roundtrip(1 % info.num_queues, 8192);
	fault("irq_mode", DMALAB_DBG_IRQ_NORMAL);
	b = dev_stats(fd);
	tap(ok && b.timeouts == a.timeouts,
	    "a lost interrupt: the op completes at the timeout, no reset");

	fault("irq_count", 8);
	fault("irq_mode", DMALAB_DBG_IRQ_DUP);
	for (i = 0, ok = 1; i < 4 && ok; i++)
		ok = roundtrip(i % info.num_queues, 4096 * i);
	fault("irq_mode", DMALAB_DBG_IRQ_NORMAL);
	tap(ok, "duplicated interrupts are harmless");

	fault("irq_delay_us", 20000);
	fault("irq_count", 4);
	fault("irq_mode", DMALAB_DBG_IRQ_DELAY);
	for (i = 0, ok = 1; i < 2 && ok; i++)
		ok = roundtrip(i % info.num_queues, 4096 * i);
	fault("irq_mode", DMALAB_DBG_IRQ_NORMAL);
	b = dev_stats(fd);
	write_ulong(DMALAB_PARAMS "spin_us", spin_us > 0 ? spin_us : 0);
	tap(ok && b.timeouts == a.timeouts, "late interrupts are waited for");
}

static void test_fail_nth(void)
{
	struct dmalab_op op;
	uint8_t buf[64];
	int r;

	fault("fail_status", DMALAB_STS_INJECTED);
	fault("fail_nth", 1);
	op_xfer(&op, DMALAB_UOP_D2H, 0, sizeof(buf), DMALAB_BUF_DEVMEM, 0,
		DMALAB_BUF_USER, (uintptr_t)buf);
	r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
	fault("fail_nth", 0);
	tap(r == 0 && op.status == DMALAB_STS_INJECTED,
	    "an injected failure is reported in the op status (%#x)",
	    op.status);
	tap(roundtrip(0, 100), "the next op succeeds");
}

/*
 * A child blocks in SUBMIT on a stalled queue; the parent either signals it
 * or resets the queue.  Returns the child's errno (0: success).
 */
static int blocked_child(uint32_t q, int reset)
{
	struct child_d2h op = { fd, q };
	pid_t pid;
	int e;

	fault("stall", 1u << q);
	pid = child_start(child_submit_d2h, &op);
	usleep(100000);
	if (pid > 0 && reset) {
		struct dmalab_queue_reset qr;

		memset(&qr, 0, sizeof(qr));
		qr.queue = q;
		if (ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr))
			diag("QUEUE_RESET: %s", strerror(errno));
	} else if (pid > 0) {
		kill(pid, SIGUSR1);
	}
	e = child_wait(pid);
	fault("stall", 0);
	return e;
}

static void test_interrupted(void)
{
	uint32_t q = 2 % info.num_queues;
	int e;

	e = blocked_child(q, 0);
	tap(e == EINTR, "a signal interrupts a waiting op with EINTR (%s)",
	    e > 0 ? strerror(e) : "?");
	/* the abandoned op completes in the background; the queue goes on */
	tap(roundtrip(q, 20000), "the queue works after the interrupted op");

	e = blocked_child(3 % info.num_queues, 1);
	tap(e == ECANCELED,
	    "QUEUE_RESET cancels a waiting op with ECANCELED (%s)",
	    e > 0 ? strerror(e) : "?");
}

/* One page between device memory and a buffer, as a child_start() fn. */
struct page_io {
	uint64_t off;
	uint8_t *buf;
};

static int child_pread(void *arg)
{
	struct page_io *io = arg;
	ssize_t n = pread(fd, io->buf, 4096, io->off);

	return n == 4096 ? 0 : n < 0 ? errno : 254;
}

static int child_pwrite(void *arg)
{
	struct page_io *io = arg;
	ssize_t n = pwrite(fd, io->buf, 4096, io->off);

	return n == 4096 ? 0 : n < 0 ? errno : 254;
}

/*
 * use_bounce=1: pread and pwrite go through the driver's one reused,
 * mapped bounce buffer.  A pread interrupted by a signal leaves its D2H in
 * flight, aimed at that buffer.  A pwrite that follows while the D2H is
 * still queued must not share the buffer: if it did, the device running
 * the stale D2H first would overwrite the pwrite's data in the buffer
 * before its H2D reads it, and device memory would get the stale bytes.
 */
static void test_abandoned_bounce(void)
{
	static uint8_t old[4096], data[4096], got[4096], scratch[4096];
	char val[8] = "";
	int round, e1 = 0, e2 = 0, ok = 1;

	if (read_str(DMALAB_PARAMS "use_bounce", val, sizeof(val)) <= 0 ||
	    val[0] != 'Y') {
		tap_skip("the reused bounce buffer: swiotlb only (use_bounce=1)");
		return;
	}
	for (round = 0; round < BOUNCE_ROUNDS && ok; round++) {
		uint64_t off_old = 300000 + round * 16384;
		uint64_t off_new = off_old + 8192;
		struct page_io rd = { off_old, scratch }, wr = { off_new, data };
		pid_t reader, writer;

		fill_rand(&rs, old, sizeof(old));
		fill_rand(&rs, data, sizeof(data));
		memset(got, 0, sizeof(got));
		if (pwrite(fd, old, sizeof(old), off_old) != sizeof(old) ||
		    pwrite(fd, got, sizeof(got), off_new) != sizeof(got)) {
			diag("setup: %s", strerror(errno));
			ok = 0;
			break;
		}
		fault("stall", 0xffffffffUL);
		reader = child_start(child_pread, &rd);
		usleep(100000);
		if (reader > 0)
			kill(reader, SIGUSR1);
		e1 = child_wait(reader);
		writer = child_start(child_pwrite, &wr);
		usleep(100000);
		fault("stall", 0);
		e2 = child_wait(writer);
		ok = e1 == EINTR && e2 == 0 &&
		     pread(fd, got, sizeof(got), off_new) == sizeof(got) &&
		     same(got, data, sizeof(data), "the pwrite after the abandoned pread");
	}
	tap(ok, "a pwrite after a pread abandoned in the reused bounce buffer lands intact (%d rounds; pread %s, pwrite %s)",
	    round, e1 > 0 ? strerror(e1) : "?", e2 >= 0 ? strerror(e2) : "?");
}

int main(int argc, char **argv)
{
	const char *dev;
	long old_timeout;

	dev = test_begin(argc, argv, "dmalab_faults", NTESTS, &rs);
	fd = dev_open(dev, &info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	if (!(info.features & DMALAB_FEAT_DEBUG) ||
	    dbg_path(dev, "fault", faultdir, sizeof(faultdir), W_OK)) {
		while (tap_no < NTESTS)
			tap(1, "# SKIP no fault injection (debugfs or device)");
		return tap_done();
	}
	old_timeout = read_long(DMALAB_TIMEOUT_PARAM);
	tap(old_timeout > 0 &&
	    write_ulong(DMALAB_TIMEOUT_PARAM, TIMEOUT_MS) == 0,
	    "timeout_ms lowered to %d (was %ld)", TIMEOUT_MS, old_timeout);

	test_timeout();		/* 3 */
	test_irq_faults();	/* 3 */
	test_fail_nth();	/* 2 */
	write_ulong(DMALAB_TIMEOUT_PARAM, 5000);
	test_interrupted();	/* 3 */
	test_abandoned_bounce();	/* 1 */

	if (old_timeout > 0)
		write_ulong(DMALAB_TIMEOUT_PARAM, old_timeout);
	close(fd);
	return tap_done();
}
