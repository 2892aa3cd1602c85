// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_faults: the driver's error paths, driven by the device's test-only
 * fault injection (debugfs /sys/kernel/debug/dmalab/<pci>/fault/): a stalled
 * queue times out and is reset, lost / duplicated / late interrupts, an
 * injected descriptor failure, a wait interrupted by a signal, and
 * DMALAB_IOC_QUEUE_RESET cancelling a waiting op.  Output is TAP.
 *
 * Needs debugfs mounted and /sys/module/dmalab/parameters/timeout_ms.
 * Usage: dmalab_faults [seed] [device]   (as root)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

_Static_assert(sizeof(struct dmalab_desc) == 32, "descriptor size");
_Static_assert(sizeof(struct dmalab_cpl) == 32, "completion size");
_Static_assert(sizeof(struct dmalab_sg_entry) == 16, "SG entry size");

#define NTESTS		12
#define TIMEOUT_MS	400
#define TIMEOUT_PARAM	"/sys/module/dmalab/parameters/timeout_ms"

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

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int fd;
static struct dmalab_info info;
static char faultdir[PATH_MAX];

static int write_file(const char *path, unsigned long val)
{
	char s[32];
	int f, n, r;

	f = open(path, O_WRONLY);
	if (f < 0) {
		diag("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(s, sizeof(s), "%lu\n", val);
	r = write(f, s, n) == n ? 0 : -1;
	if (r)
		diag("write %s: %s", path, strerror(errno));
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

static int fault(const char *name, unsigned long val)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", faultdir, name);
	return write_file(path, val);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct dmalab_stats stats(void)
{
	struct dmalab_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (ioctl(fd, DMALAB_IOC_STATS, &st))
		diag("STATS: %s", strerror(errno));
	return st;
}

/* H2D random data on queue q, D2H back, compare; 1 if all is well. */
static int roundtrip(uint32_t q, uint64_t off)
{
	uint8_t w[3000], r[3000];
	struct dmalab_op op;
	size_t i;

	for (i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)rng();
	memset(r, 0, sizeof(r));
	memset(&op, 0, sizeof(op));
	op.opcode = DMALAB_UOP_H2D;
	op.queue = q;
	op.len = sizeof(w);
	op.src.kind = DMALAB_BUF_USER;
	op.src.addr = (uintptr_t)w;
	op.dst.kind = DMALAB_BUF_DEVMEM;
	op.dst.addr = off;
	if (ioctl(fd, DMALAB_IOC_SUBMIT, &op) || op.status) {
		diag("H2D on queue %u: %s, status %#x", q, strerror(errno),
		     op.status);
		return 0;
	}
	memset(&op, 0, sizeof(op));
	op.opcode = DMALAB_UOP_D2H;
	op.queue = q;
	op.len = sizeof(r);
	op.src.kind = DMALAB_BUF_DEVMEM;
	op.src.addr = off;
	op.dst.kind = DMALAB_BUF_USER;
	op.dst.addr = (uintptr_t)r;
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

static void test_timeout(void)
{
	struct dmalab_stats a, b;
	uint8_t buf[512];
	struct dmalab_op op;
	double t0, dt;
	int r, e;

	a = stats();
	fault("stall", 1);
	memset(&op, 0, sizeof(op));
	op.opcode = DMALAB_UOP_D2H;
	op.queue = 0;
	op.len = sizeof(buf);
	op.src.kind = DMALAB_BUF_DEVMEM;
	op.dst.kind = DMALAB_BUF_USER;
	op.dst.addr = (uintptr_t)buf;
	t0 = now();
	r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
	e = errno;
	dt = now() - t0;
	fault("stall", 0);
	tap(r == -1 && e == ETIMEDOUT && dt >= TIMEOUT_MS / 2000.0,
	    "op on a stalled queue fails with ETIMEDOUT after %.2fs (%s)",
	    dt, r ? strerror(e) : "no error");
	b = stats();
	tap(b.timeouts == a.timeouts + 1 &&
	    b.queue_resets == a.queue_resets + 1,
	    "the timeout was counted and the queue reset");
	tap(roundtrip(0, 0), "the queue works again after the reset");
}

static void test_irq_faults(void)
{
	struct dmalab_stats a, b;
	int ok, i;

	a = stats();
	fault("irq_count", 1);
	fault("irq_mode", DMALAB_DBG_IRQ_DROP);
	ok = roundtrip(1 % info.num_queues, 8192);
	fault("irq_mode", DMALAB_DBG_IRQ_NORMAL);
	b = stats();
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
	b = stats();
	tap(ok && b.timeouts == a.timeouts, "late interrupts are waited for");
}

static void test_fail_nth(void)
{
	struct dmalab_op op;
	uint8_t buf[64];
	int r;

	fault("fail_status", DMALAB_STS_INJECTED);
	fault("fail_nth", 1);
	memset(&op, 0, sizeof(op));
	op.opcode = DMALAB_UOP_D2H;
	op.queue = 0;
	op.len = sizeof(buf);
	op.src.kind = DMALAB_BUF_DEVMEM;
	op.dst.kind = DMALAB_BUF_USER;
	op.dst.addr = (uintptr_t)buf;
	r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
	fault("fail_nth", 0);
	tap(r == 0 && op.status == DMALAB_STS_INJECTED,
	    "an injected failure is reported in the op status (%#x)",
	    op.status);
	tap(roundtrip(0, 100), "the next op succeeds");
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * A child blocks in SUBMIT on a stalled queue; the parent either signals it
 * or resets the queue.  Returns the child's errno (0: success).
 */
static int blocked_child(uint32_t q, int reset)
{
	struct sigaction sa;
	int p[2], status;
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	fault("stall", 1u << q);
	pid = fork();
	if (pid == 0) {
		static uint8_t buf[4096];
		struct dmalab_op op;
		int r;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;	/* no SA_RESTART */
		sigaction(SIGUSR1, &sa, NULL);
		memset(&op, 0, sizeof(op));
		op.opcode = DMALAB_UOP_D2H;
		op.queue = q;
		op.len = sizeof(buf);
		op.src.kind = DMALAB_BUF_DEVMEM;
		op.dst.kind = DMALAB_BUF_USER;
		op.dst.addr = (uintptr_t)buf;
		if (write(p[1], "x", 1) != 1)
			_exit(255);
		r = ioctl(fd, DMALAB_IOC_SUBMIT, &op);
		_exit(r ? errno : 0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		fault("stall", 0);
		return -1;
	}
	close(p[0]);
	usleep(100000);
	if (reset) {
		struct dmalab_queue_reset qr;

		memset(&qr, 0, sizeof(qr));
		qr.queue = q;
		if (ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr))
			diag("QUEUE_RESET: %s", strerror(errno));
	} else {
		kill(pid, SIGUSR1);
	}
	waitpid(pid, &status, 0);
	fault("stall", 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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

int main(int argc, char **argv)
{
	const char *dev = "/dev/dmalab0";
	long old_timeout;
	uint64_t seed;

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) :
			  (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (argc > 2)
		dev = argv[2];
	rng_state = seed;

	printf("1..%d\n", NTESTS);
	diag("dmalab_faults seed %" PRIu64 " device %s", seed, dev);

	fd = open(dev, O_RDWR);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		printf("Bail out! cannot use %s\n", dev);
		return 1;
	}
	if (!(info.features & DMALAB_FEAT_DEBUG) || find_faultdir(dev)) {
		for (; test_no < NTESTS;)
			tap(1, "# SKIP no fault injection (debugfs or device)");
		return 0;
	}
	old_timeout = read_file(TIMEOUT_PARAM);
	tap(old_timeout > 0 && write_file(TIMEOUT_PARAM, TIMEOUT_MS) == 0,
	    "timeout_ms lowered to %d (was %ld)", TIMEOUT_MS, old_timeout);

	test_timeout();		/* 3 */
	test_irq_faults();	/* 3 */
	test_fail_nth();	/* 2 */
	write_file(TIMEOUT_PARAM, 5000);
	test_interrupted();	/* 3 */

	if (old_timeout > 0)
		write_file(TIMEOUT_PARAM, old_timeout);
	close(fd);

	if (test_no != NTESTS)
		printf("# planned %d tests but ran %d\n", NTESTS, test_no);
	printf("# %d passed, %d failed\n", test_no - failed, failed);
	return failed || test_no != NTESTS ? 1 : 0;
}
