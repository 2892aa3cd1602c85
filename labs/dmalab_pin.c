// SPDX-License-Identifier: GPL-2.0
/*
 * Pinning per op against pinning once.  The same buffer of yours, on
 * 4 KiB pages, goes to the device 32 times as DMALAB_BUF_USER with the
 * driver's pin cache off (the driver pins and maps it for each op, and
 * unpins it after), then 32 times through a registration
 * (DMALAB_IOC_REGISTER pins and maps it once), then 32 times as
 * DMALAB_BUF_USER with the pin cache on (the driver registers it itself
 * at its second use, until the mapping changes or the file is closed).
 * The kernel's pin counters (/proc/vmstat), this process's VmPin
 * (/proc/self/status) and the cache's counters (sysfs) show the
 * difference; the times show what it costs.
 * Lab 4 builds it into the guest (./run-vm.sh --shell --add
 * labs/dmalab_pin.c).
 *
 * Usage: dmalab_pin [device]   (as root; default /dev/dmalab0)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmalab_uapi.h"

#define OPS 32

static int fd;
static char sysdir[128];	/* the PCI device in sysfs */

/* pin_cache ("") or one of its counters ("_hits", "_fills") */
static long pc_read(const char *name)
{
	char path[192];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pin_cache%s", sysdir, name);
	f = fopen(path, "r");
	if (f && fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

static int pc_set(int on)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pin_cache", sysdir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", on);
	return fclose(f);
}

/* nr_foll_pin_acquired, brought up to date first (stat_refresh) */
static long long pins_acquired(void)
{
	long long v = -1, n;
	char line[128];
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "nr_foll_pin_acquired %lld", &n) == 1)
			v = n;
	if (f)
		fclose(f);
	return v;
}

/* this process's VmPin, in kB */
static long vm_pin_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* OPS H2D ops of len bytes from buf, as a buffer of kind kind; -1 or 0 */
static int h2d_ops(uint32_t kind, void *buf, uint32_t len, double *us)
{
	struct dmalab_op op;
	double t0 = now();
	int i;

	for (i = 0; i < OPS; i++) {
		memset(&op, 0, sizeof(op));
		op.opcode = DMALAB_UOP_H2D;
		op.queue = DMALAB_QUEUE_ANY;
		op.len = len;
		op.src.kind = kind;
		op.src.addr = (uintptr_t)buf;
		op.dst.kind = DMALAB_BUF_DEVMEM;
		if (ioctl(fd, DMALAB_IOC_SUBMIT, &op) || op.status ||
		    op.bytes != len) {
			fprintf(stderr, "H2D: %s, status %#x\n",
				strerror(errno), op.status);
			return -1;
		}
	}
	*us = (now() - t0) * 1e6 / OPS;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/dmalab0";
	struct dmalab_info info = { .size = sizeof(info) };
	struct dmalab_register reg = { .size = sizeof(reg) };
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	long long p0, p1, p2, p3, p4;
	double us_user, us_reg, us_cache;
	long fills, hits, was;
	uint32_t len;
	uint8_t *buf;

	fd = open(path, O_RDWR);
	if (fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	len = info.max_xfer < info.devmem_size ? info.max_xfer :
						 (uint32_t)info.devmem_size;
	if (len > (1 << 20))
		len = 1 << 20;
	/* private anonymous memory on 4 KiB pages, every page touched */
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	madvise(buf, len, MADV_NOHUGEPAGE);
	memset(buf, 0x5a, len);
	printf("buffer: %u KiB, %u pages of 4 KiB\n", len >> 10, len >> 12);
	snprintf(sysdir, sizeof(sysdir), "/sys/class/misc/%s/device", name);
	was = pc_read("");
	if (pc_set(0)) {
		perror("pin_cache");
		return 1;
	}

	p0 = pins_acquired();
	if (h2d_ops(DMALAB_BUF_USER, buf, len, &us_user))
		return 1;
	p1 = pins_acquired();
	printf("pin cache off: %d ops as DMALAB_BUF_USER: %lld pages pinned (%lld per op), VmPin %ld kB after\n",
	       OPS, p1 - p0, (p1 - p0) / OPS, vm_pin_kb());

	reg.addr = (uintptr_t)buf;
	reg.len = len;
	reg.flags = DMALAB_REGF_DEV_READS;
	if (ioctl(fd, DMALAB_IOC_REGISTER, &reg)) {
		perror("DMALAB_IOC_REGISTER");
		return 1;
	}
	p2 = pins_acquired();
	printf("REGISTER: %lld pages pinned, VmPin %ld kB\n", p2 - p1,
	       vm_pin_kb());
	if (h2d_ops(DMALAB_BUF_REGISTERED, buf, len, &us_reg))
		return 1;
	p3 = pins_acquired();
	printf("%d ops as DMALAB_BUF_REGISTERED: %lld pages pinned, VmPin %ld kB\n",
	       OPS, p3 - p2, vm_pin_kb());

	reg.flags = 0;
	reg.len = 0;
	if (ioctl(fd, DMALAB_IOC_UNREGISTER, &reg)) {
		perror("DMALAB_IOC_UNREGISTER");
		return 1;
	}
	printf("UNREGISTER: VmPin %ld kB\n", vm_pin_kb());

	pc_set(1);
	fills = pc_read("_fills");
	hits = pc_read("_hits");
	p3 = pins_acquired();
	if (h2d_ops(DMALAB_BUF_USER, buf, len, &us_cache))
		return 1;
	p4 = pins_acquired();
	printf("pin cache on: %d ops as DMALAB_BUF_USER: %lld pages pinned, VmPin %ld kB after, %ld fill, %ld hits\n",
	       OPS, p4 - p3, vm_pin_kb(), pc_read("_fills") - fills,
	       pc_read("_hits") - hits);
	close(fd);
	pc_set(was > 0);
	printf("close: VmPin %ld kB\n", vm_pin_kb());
	printf("time per op: %.0f us pinned per op, %.0f us registered, %.0f us with the pin cache\n",
	       us_user, us_reg, us_cache);
	return 0;
}
