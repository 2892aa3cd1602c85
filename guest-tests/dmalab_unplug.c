// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_unplug: remove the PCI device (sysfs "remove") while a file is open
 * and both kinds of mapping exist, check that every call then fails with
 * ENODEV, then rescan the bus and check that the device works again.
 * Output is TAP.  Run it last: it re-creates the device.
 *
 * Usage: dmalab_unplug [device]   (as root)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

_Static_assert(sizeof(struct dmalab_desc) == 32, "descriptor size");
_Static_assert(sizeof(struct dmalab_cpl) == 32, "completion size");
_Static_assert(sizeof(struct dmalab_sg_entry) == 16, "SG entry size");

#define NTESTS	6

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

static int write_str(const char *path, const char *s)
{
	int f = open(path, O_WRONLY);
	int r;

	if (f < 0)
		return -1;
	r = write(f, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(f);
	return r;
}

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

/* nr_foll_pin_acquired - nr_foll_pin_released as /proc/vmstat shows it */
static long pins_outstanding(void)
{
	char name[64];
	long long v, acq = 0, rel = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return 0;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return (long)(acq - rel);
}

/*
 * Fold the per-CPU deltas of the vm counters into the global ones: without
 * it /proc/vmstat may lag by a few pages per CPU, and guest/init's pin leak
 * check that follows this (last) test would see a difference that is not
 * there.
 */
static void vmstat_refresh(void)
{
	char c;
	int f = open("/proc/sys/vm/stat_refresh", O_RDONLY);

	if (f >= 0) {
		if (read(f, &c, 1) < 0)
			printf("# stat_refresh: %s\n", strerror(errno));
		close(f);
	}
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/dmalab0";
	const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	char link[PATH_MAX], pcidir[PATH_MAX], path[PATH_MAX + 16];
	struct dmalab_info info;
	void *devmem, *cbuf;
	uint8_t b[64];
	int fd, e1, e2, e3, i;
	ssize_t n;

	printf("1..%d\n", NTESTS);
	snprintf(link, sizeof(link), "/sys/class/misc/%s/device", name);
	n = readlink(link, pcidir, sizeof(pcidir) - 1);
	fd = open(dev, O_RDWR);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (n <= 0 || fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		printf("Bail out! cannot use %s\n", dev);
		return 1;
	}
	pcidir[n] = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove",
		 strrchr(pcidir, '/') + 1);

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

	printf("# pins outstanding per /proc/vmstat: %ld before stat_refresh",
	       pins_outstanding());
	vmstat_refresh();
	printf(", %ld after\n", pins_outstanding());
	printf("# %d passed, %d failed\n", test_no - failed, failed);
	return failed || test_no != NTESTS ? 1 : 0;
}
