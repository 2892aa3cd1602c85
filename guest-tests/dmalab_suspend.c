// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_suspend: a system suspend and resume with the driver bound and a
 * file open with both kinds of mapping.  The kernel's suspend test mode
 * (/sys/power/pm_test = platform, then "freeze" into /sys/power/state)
 * runs every device's suspend callbacks, the PCI core's save and D3hot,
 * then resumes, without needing a wake-up event.  Coming back from D3hot
 * resets the device (spec 2.2), so the driver's resume must bring it up
 * again: the test arms a test-only debug register before and finds it
 * re-armed from the properties after (the reset happened), then checks
 * that the open file moves data on every queue, that device memory and
 * both mappings survived, and that dmatest passes on the channels.
 * Output is TAP.
 *
 * Usage: dmalab_suspend [seed] [device]   (as root)
 */
#include "dmalab_test.h"
#include "dmatest_client.h"

#include <sys/mman.h>

#define NTESTS		7
#define XFER		(40 * 1024 + 3)
#define MARK_OFF	65536
#define PM_TEST		"/sys/power/pm_test"
#define PM_DELAY	"/sys/module/suspend/parameters/pm_test_delay"
#define DMATEST_MARK	"dmalab_suspend: starting dmatest"

static uint64_t rs;		/* the test's PRNG */

int main(int argc, char **argv)
{
	static uint8_t mark[4096], got[4096];
	char bdf[64], fault[PATH_MAX], buf[64];
	struct dmalab_info info;
	const char *dev;
	long armed, after;
	int fd, e, q, ok;
	void *dm, *cb;

	dev = test_begin(argc, argv, "dmalab_suspend", NTESTS, &rs);
	fd = dev_open_pci(dev, bdf, sizeof(bdf), &info);
	if (access(PM_TEST, W_OK) ||
	    read_str("/sys/power/state", buf, sizeof(buf)) <= 0 ||
	    !strstr(buf, "freeze") || !(info.features & DMALAB_FEAT_DEBUG) ||
	    dbg_path(dev, "fault/fail_nth", fault, sizeof(fault), W_OK)) {
		tap_skip_n(NTESTS, "no suspend test mode, freeze or fault injection");
		close(fd);
		return tap_done();
	}

	/* 1: mappings, a known page in device memory, a debug register armed */
	dm = mmap(NULL, 2 * MARK_OFF, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  0);
	cb = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	if (cb != MAP_FAILED)
		memset(cb, 0x6b, 8192);
	fill_rand(&rs, mark, sizeof(mark));
	e = write_ulong(fault, 100000);
	armed = read_long(fault);
	tap(dm != MAP_FAILED && cb != MAP_FAILED && !e && armed == 100000 &&
	    pwrite(fd, mark, sizeof(mark), MARK_OFF) == sizeof(mark),
	    "mappings in place, a page written, fail_nth armed (%ld)", armed);

	/* 2: suspend and resume */
	write_str(PM_DELAY, "1");
	e = write_str(PM_TEST, "platform");
	e = e ?: write_str("/sys/power/state", "freeze");
	write_str(PM_TEST, "none");
	tap(!e, "suspend (pm_test platform, freeze) and resume (%s)",
	    strerror(e));

	/* 3: the device went through D3hot: its reset re-armed the debug block */
	after = read_long(fault);
	write_ulong(fault, 0);
	tap(after == 0,
	    "the device was reset on its way back from D3hot (fail_nth %ld, was %ld)",
	    after, armed);

	/* 4: every queue */
	for (q = 0, ok = 1; q < (int)info.num_queues && ok; q++)
		ok = op_roundtrip(fd, q, 200000 + q * 65536, XFER, &rs);
	tap(ok, "the open file moves data byte for byte on all %u queues",
	    info.num_queues);

	/* 5: device memory and both mappings */
	ok = pread(fd, got, sizeof(got), MARK_OFF) == sizeof(got) &&
	     same(got, mark, sizeof(mark), "pread after the resume") &&
	     dm != MAP_FAILED &&
	     same((volatile uint8_t *)dm + MARK_OFF, mark, sizeof(mark),
		  "the mapping after the resume") &&
	     cb != MAP_FAILED && all_bytes(cb, 8192, 0x6b);
	tap(ok, "device memory, its mapping and the coherent mapping are intact");

	/* 6: the dmaengine channels */
	tap_dmatest(bdf, "the resume", DMATEST_MARK);

	if (dm != MAP_FAILED)
		munmap(dm, 2 * MARK_OFF);
	if (cb != MAP_FAILED)
		munmap(cb, 8192);
	close(fd);

	/* 7: a new open works too */
	fd = dev_open(dev, &info);
	ok = fd >= 0 && op_roundtrip(fd, DMALAB_QUEUE_ANY, 500000, XFER, &rs);
	if (fd >= 0)
		close(fd);
	tap(ok, "a new open moves data");
	return tap_done();
}
