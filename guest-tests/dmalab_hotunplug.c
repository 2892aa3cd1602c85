// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_hotunplug: PCIe hot-unplug in the middle of transfers.  Only in
 * the "default" configuration, where dmalab0 sits behind a PCIe root port
 * (SKIP elsewhere).  A thread transfers on /dev/dmalab0 (data checked)
 * while the file also has both kinds of mapping; the test asks the host for
 * QMP device_del (a "# qmp:" line), keeps transferring, and expects the
 * transfers to end with ENODEV within a bounded time (pciehp waits about
 * 5 s after the attention button), the device node and the PCI device to
 * disappear, every call on the stale file to fail with ENODEV, the stale
 * mappings to be gone, and no pinned page to be left.  Then it plugs the
 * device back in (device_add) and checks that it works.  guest/init checks
 * the kernel log afterwards.  Output is TAP.  Run it last.
 *
 * Usage: dmalab_hotunplug [seed]   (as root)
 */
#include "dmalab_test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define NTESTS		9
#define DEV		"/dev/dmalab0"
#define QMP_DEL		"{\"execute\": \"device_del\", \"arguments\": {\"id\": \"dmalab0\"}}"
#define QMP_ADD		"{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"dmalab\", \"id\": \"dmalab0\", \"bus\": \"rp0\"}}"
#define WAIT_S		40.0
#define XFER		(256 * 1024)

static uint64_t seed;

struct busy {
	int fd;
	volatile int stop;
	volatile unsigned int ops;
	unsigned int enodev, bad, batches;
	int first_err;
	char first[160];
	double t_end;
};

static void *busy_main(void *arg)
{
	struct busy *b = arg;
	uint64_t s = seed;
	static uint8_t w[XFER], r[XFER];
	struct dmalab_op ops[4];
	struct dmalab_batch bt;
	int e = 0, k;

	while (!b->stop) {
		size_t len = 1 + rng_below(&s, XFER);
		uint64_t off = rng_below(&s, 1024 * 1024 - XFER);

		fill_rand(&s, w, len);
		switch (b->ops % 3) {
		case 0:
			e = do_h2d(b->fd, DMALAB_QUEUE_ANY, w, off, len);
			if (!e)
				e = do_d2h(b->fd, DMALAB_QUEUE_ANY, r, off,
					   len);
			break;
		case 1:
			e = pwrite(b->fd, w, len, off) == (ssize_t)len ? 0 :
			    errno ? errno : EIO;
			if (!e)
				e = pread(b->fd, r, len, off) ==
				    (ssize_t)len ? 0 : errno ? errno : EIO;
			break;
		default:	/* a batch: 4 H2D pieces, then D2H */
			len &= ~3UL;
			if (!len)
				len = 4;
			for (k = 0; k < 4; k++) {
				op_init(&ops[k], DMALAB_UOP_H2D,
					DMALAB_QUEUE_ANY, len / 4);
				op_buf(&ops[k].src, DMALAB_BUF_USER,
				       (uintptr_t)(w + k * (len / 4)));
				op_buf(&ops[k].dst, DMALAB_BUF_DEVMEM,
				       off + k * (len / 4));
			}
			memset(&bt, 0, sizeof(bt));
			bt.size = sizeof(bt);
			bt.count = 4;
			bt.ops = (uintptr_t)ops;
			errno = 0;
			e = ioctl(b->fd, DMALAB_IOC_SUBMIT_BATCH, &bt) ? errno :
			    bt.completed == 4 ? 0 : EIO;
			if (!e)
				e = do_d2h(b->fd, DMALAB_QUEUE_ANY, r, off,
					   len);
			b->batches++;
			break;
		}
		if (e) {
			if (e == ENODEV)
				b->enodev++;
			else if (!b->bad++)
				snprintf(b->first, sizeof(b->first),
					 "op kind %u: %s", b->ops % 3,
					 strerror(e));
			b->first_err = e;
			break;
		}
		if (memcmp(w, r, len)) {
			if (!b->bad++)
				snprintf(b->first, sizeof(b->first),
					 "data differs (op %u, %zu bytes)",
					 b->ops, len);
			break;
		}
		b->ops++;
	}
	b->t_end = now_s();
	return NULL;
}

int main(int argc, char **argv)
{
	char cfg[64], bdf[64], pcidir[PATH_MAX], why[200];
	struct dmalab_info info;
	struct dmalab_op op;
	long long pins0, pins1;
	struct busy b;
	pthread_t th;
	uint8_t *dm, *cb, buf[64];
	double t0, t_gone = -1;
	int fd, i, e1, e2, e3, e4, s1, s2;

	seed = seed_from_args(argc, argv);
	tap_plan(NTESTS);
	vm_config_name(cfg, sizeof(cfg));
	diag("dmalab_hotunplug seed %" PRIu64 " config %s", seed, cfg);
	if (strcmp(cfg, "default")) {
		for (i = 0; i < NTESTS; i++)
			tap_skip("hot-unplug needs the default configuration (dmalab0 behind a PCIe root port), this is %s",
				 cfg);
		return tap_done();
	}
	fd = open(DEV, O_RDWR);
	if (fd < 0 || dev_info(fd, &info) ||
	    misc_pci_addr("dmalab0", bdf, sizeof(bdf))) {
		printf("Bail out! cannot use %s\n", DEV);
		return 1;
	}
	snprintf(pcidir, sizeof(pcidir), "/sys/bus/pci/devices/%s", bdf);
	pins0 = pins_outstanding(NULL, NULL);
	dm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cb = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	if (cb != MAP_FAILED)
		memset(cb, 0x33, 65536);

	memset(&b, 0, sizeof(b));
	b.fd = fd;
	if (pthread_create(&th, NULL, busy_main, &b)) {
		printf("Bail out! pthread_create\n");
		return 1;
	}
	for (i = 0; i < 100 && b.ops < 5; i++)
		usleep(20000);
	tap(b.ops >= 5 && dm != MAP_FAILED && cb != MAP_FAILED,
	    "transfers running on %s (%s), both mappings in place", DEV, bdf);

	/* ask the host to unplug the device, keep transferring */
	t0 = now_s();
	printf("# qmp: %s\n", QMP_DEL);
	fflush(stdout);
	for (;;) {
		double t = now_s() - t0;

		if (t_gone < 0 && access(DEV, F_OK))
			t_gone = t;
		if ((b.t_end && t_gone >= 0 && access(pcidir, F_OK)) ||
		    t > WAIT_S)
			break;
		usleep(50000);
	}
	b.stop = 1;
	pthread_join(th, NULL);
	if (b.bad)
		diag("busy thread: %s", b.first);
	tap(!b.bad && b.enodev && b.t_end - t0 < WAIT_S,
	    "the transfers ended with %s %.1f s after device_del (%u ops, %u batches, all data checked)",
	    b.first_err ? strerror(b.first_err) : "no error",
	    b.t_end ? b.t_end - t0 : -1.0, b.ops, b.batches);
	tap(t_gone >= 0, "%s disappeared (after %.1f s)", DEV, t_gone);
	tap(access(pcidir, F_OK) != 0, "the PCI device %s is gone", bdf);

	e1 = dev_info(fd, &info);
	op_init(&op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, sizeof(buf));
	op_buf(&op.src, DMALAB_BUF_DEVMEM, 0);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)buf);
	e2 = submit_fd(fd, &op);
	e3 = pread(fd, buf, sizeof(buf), 0) < 0 ? errno : 0;
	e4 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ?
	     errno : 0;
	snprintf(why, sizeof(why), "INFO %s, SUBMIT %s, pread %s, mmap %s",
		 strerror(e1), strerror(e2), strerror(e3), strerror(e4));
	tap(e1 == ENODEV && e2 == ENODEV && e3 == ENODEV && e4 == ENODEV,
	    "calls on the stale file fail with ENODEV (%s)", why);
	s1 = dm != MAP_FAILED ? touch_in_child(dm) : -1;
	s2 = cb != MAP_FAILED ? touch_in_child(cb) : -1;
	tap(s1 == SIGBUS && s2 == SIGBUS,
	    "the stale device memory and coherent mappings raise SIGBUS (signals %d, %d)",
	    s1, s2);
	if (dm != MAP_FAILED)
		munmap(dm, 8192);
	if (cb != MAP_FAILED)
		munmap(cb, 65536);
	close(fd);
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0,
	    "no pinned page left behind (outstanding %lld before, %lld after)",
	    pins0, pins1);

	/* plug it back in */
	t0 = now_s();
	printf("# qmp: %s\n", QMP_ADD);
	fflush(stdout);
	for (i = 0; i < 600 && access(DEV, F_OK); i++)
		usleep(50000);
	tap(!access(DEV, F_OK), "after device_add %s is back (%.1f s)", DEV,
	    now_s() - t0);
	{
		uint8_t w[5000], r[5000];
		uint64_t s = seed + 1;
		int f = open(DEV, O_RDWR), ok;

		fill_rand(&s, w, sizeof(w));
		memset(r, 0, sizeof(r));
		ok = f >= 0 && pwrite(f, w, sizeof(w), 100) == sizeof(w) &&
		     pread(f, r, sizeof(r), 100) == sizeof(r) &&
		     !memcmp(w, r, sizeof(w));
		if (f >= 0)
			close(f);
		tap(ok, "the re-plugged device moves data");
	}
	return tap_done();
}
