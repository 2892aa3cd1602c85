// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_reset: a function reset (sysfs "reset": an FLR on PCIe, the
 * D3hot -> D0 reset on conventional PCI) while the driver is bound, a file
 * is open with both kinds of mapping, and ops are in flight.  The device
 * forgets its rings and its enable; the driver's reset_prepare and
 * reset_done handlers must fail the ops in flight with EIO, bring the
 * queues back, and leave the open file, its mappings and device memory
 * (which a function reset keeps) working.  dmatest then runs on the
 * dmaengine channels, which survive too.  Output is TAP.
 *
 * Usage: dmalab_reset [seed] [device]   (as root)
 */
#include "dmalab_test.h"
#include "dmatest_client.h"

#include <sys/mman.h>

#define NTESTS		9
#define XFER		(48 * 1024 + 7)
#define MARK_OFF	65536
#define DMATEST_MARK	"dmalab_reset: starting dmatest"

static uint64_t rs;		/* the test's PRNG */

int main(int argc, char **argv)
{
	static uint8_t mark[4096], got[4096], abuf[4096];
	char bdf[64], reset[PATH_MAX], faultdir[PATH_MAX];
	struct child_d2h blocked;
	struct dmalab_completion c;
	struct dmalab_info info;
	struct dmalab_async a;
	struct dmalab_wait w;
	const char *dev;
	long long pins0, pins1;
	int fd, e, e_async, q, ok, n;
	void *dm, *cb;
	pid_t child;

	dev = test_begin(argc, argv, "dmalab_reset", NTESTS, &rs);
	fd = dev_open_pci(dev, bdf, sizeof(bdf), &info);
	snprintf(reset, sizeof(reset), "/sys/bus/pci/devices/%s/reset", bdf);
	diag_reset_methods(dev, bdf);
	if (access(reset, W_OK) || !(info.features & DMALAB_FEAT_DEBUG) ||
	    dbg_path(dev, "fault", faultdir, sizeof(faultdir), W_OK)) {
		tap_skip_n(NTESTS, "no function reset or no fault injection");
		close(fd);
		return tap_done();
	}
	pins0 = pins_outstanding(NULL, NULL);

	/* 1: mappings in place, a known page in device memory */
	dm = mmap(NULL, 2 * MARK_OFF, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  0);
	cb = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	fill_rand(&rs, mark, sizeof(mark));
	tap(dm != MAP_FAILED && cb != MAP_FAILED &&
	    pwrite(fd, mark, sizeof(mark), MARK_OFF) == sizeof(mark),
	    "device memory and coherent buffer mapped, a page written");
	if (cb != MAP_FAILED)
		memset(cb, 0x3c, 8192);

	/* 2: an async op and a sync op in flight on stalled queue 0 */
	write_ulong_at(faultdir, "stall", 1);
	memset(&a, 0, sizeof(a));
	op_xfer(&a.op, DMALAB_UOP_D2H, 0, sizeof(abuf), DMALAB_BUF_DEVMEM, 0,
		DMALAB_BUF_USER, (uintptr_t)abuf);
	e_async = ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a) ? errno : 0;
	blocked.fd = fd;
	blocked.queue = 0;
	child = child_start(child_submit_d2h, &blocked);
	usleep(100000);
	e = write_str(reset, "1");
	tap(!e_async && child > 0 && !e,
	    "function reset through %s with ops in flight (%s)", reset,
	    strerror(e));

	/* 3-4: the ops in flight fail with EIO */
	e = child_wait(child);
	tap(e == EIO, "the sync op in flight fails with EIO (%s)",
	    e > 0 ? strerror(e) : e ? "?" : "no error");
	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	w.min = 1;
	w.max = 1;
	w.timeout_ms = 5000;
	w.cpls = (uintptr_t)&c;
	n = ioctl(fd, DMALAB_IOC_WAIT, &w) ? -errno : (int)w.count;
	tap(n == 1 && c.error == -EIO,
	    "the async op in flight completes with EIO (%d, error %d)", n,
	    n == 1 ? c.error : 0);

	/* 5: the reset cleared the stall; every queue moves data again */
	for (q = 0, ok = 1; q < (int)info.num_queues && ok; q++)
		ok = op_roundtrip(fd, q, 200000 + q * 65536, XFER, &rs);
	tap(ok, "the open file moves data byte for byte on all %u queues",
	    info.num_queues);

	/* 6: device memory kept its contents, through pread and the mapping */
	ok = pread(fd, got, sizeof(got), MARK_OFF) == sizeof(got) &&
	     same(got, mark, sizeof(mark), "pread after the reset");
	ok = ok && dm != MAP_FAILED &&
	     same((volatile uint8_t *)dm + MARK_OFF, mark, sizeof(mark),
		  "the mapping after the reset");
	tap(ok, "device memory kept its contents (pread and the old mapping)");

	/* 7: the coherent buffer mapping is still the driver's buffer */
	ok = cb != MAP_FAILED && all_bytes(cb, 8192, 0x3c);
	tap(ok, "the coherent buffer mapping is intact");

	/* 8: the dmaengine channels work after the reset */
	tap_dmatest(bdf, "the reset", DMATEST_MARK);

	if (dm != MAP_FAILED)
		munmap(dm, 2 * MARK_OFF);
	if (cb != MAP_FAILED)
		munmap(cb, 8192);
	close(fd);

	/* 9 */
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0,
	    "no pinned page left behind (outstanding %lld before, %lld after)",
	    pins0, pins1);
	return tap_done();
}
