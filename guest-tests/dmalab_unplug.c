// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_unplug: remove the PCI device (sysfs "remove") while a file is open
 * and both kinds of mapping exist, check that every call then fails with
 * ENODEV, then rescan the bus and check that the device works again.
 * Output is TAP.  Run it last: it re-creates the device.
 *
 * Usage: dmalab_unplug [device]   (as root)
 */
#include "dmalab_test.h"

#include <sys/mman.h>

#define NTESTS	6

static int roundtrip(const char *dev)
{
	uint8_t w[5000], r[5000];
	int f, ok;
	size_t i;

	f = open(dev, O_RDWR);
	if (f < 0)
		return 0;
	for (i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7 + 3);
	memset(r, 0, sizeof(r));
	ok = pwrite(f, w, sizeof(w), 777) == (ssize_t)sizeof(w) &&
	     pread(f, r, sizeof(r), 777) == (ssize_t)sizeof(r) &&
	     !memcmp(w, r, sizeof(w));
	close(f);
	return ok;
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : DMALAB_DEV;
	char bdf[64], path[PATH_MAX];
	struct dmalab_info info;
	void *devmem, *cbuf;
	uint8_t b[64];
	int fd, e1, e2, e3, i;
	ssize_t n;

	tap_plan(NTESTS);
	fd = dev_open_pci(dev, bdf, sizeof(bdf), &info);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);

	devmem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cbuf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)DMALAB_MMAP_COHERENT);
	tap(devmem != MAP_FAILED && cbuf != MAP_FAILED,
	    "device memory and coherent buffer mapped");
	if (cbuf != MAP_FAILED)
		memset(cbuf, 0x11, 8192);

	tap(write_str(path, "1") == 0, "device removed through %s", path);

	n = pread(fd, b, sizeof(b), 0);
	e1 = errno;
	i = ioctl(fd, DMALAB_IOC_INFO, &info);
	e2 = errno;
	e3 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ?
	     errno : 0;
	tap(n == -1 && e1 == ENODEV && i == -1 && e2 == ENODEV &&
	    e3 == ENODEV, "pread, ioctl and mmap of the open file fail with ENODEV");
	tap(access(dev, F_OK) != 0, "%s is gone", dev);

	/* the mappings go away with the file; nothing must crash */
	if (devmem != MAP_FAILED)
		munmap(devmem, 4096);
	if (cbuf != MAP_FAILED)
		munmap(cbuf, 8192);
	close(fd);

	write_str("/sys/bus/pci/rescan", "1");
	for (i = 0; i < 50 && access(dev, F_OK); i++)
		usleep(100000);
	tap(access(dev, F_OK) == 0, "%s is back after a rescan", dev);
	tap(roundtrip(dev), "the re-probed device moves data");

	/*
	 * Fold the per-CPU deltas of the vm counters into the global ones:
	 * guest/init's pin leak check that follows this (last) test would see
	 * a difference that is not there.
	 */
	printf("# pins outstanding per /proc/vmstat: %lld before stat_refresh",
	       pins_read(NULL, NULL));
	vmstat_refresh();
	printf(", %lld after\n", pins_read(NULL, NULL));
	return tap_done();
}
