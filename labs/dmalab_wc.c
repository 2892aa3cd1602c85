// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory in your address space: this program maps dmalab's device
 * memory (BAR2) with mmap(), shows the mapping as the kernel describes it
 * (its line of /proc/self/maps and its VmFlags), writes through it and
 * has the device read the bytes back by DMA, and shows the memory type
 * the x86 PAT gave each mapping of the BARs, before and after munmap().
 * Lab 12 builds it into the guest:
 * ./run-vm.sh --shell --add labs/dmalab_wc.c
 *
 * Usage: dmalab_wc [device]   (as root; default /dev/dmalab0)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmalab_uapi.h"

#define WRITE_LEN 65536

/* Start and end of BAR bar, from the PCI device's sysfs resource file. */
static int bar_range(const char *name, int bar, unsigned long long *start,
		     unsigned long long *end)
{
	unsigned long long flags;
	char path[256];
	FILE *f;
	int i, ok = 0;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/device/resource",
		 name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (i = 0; i <= bar; i++)
		ok = fscanf(f, "%llx %llx %llx", start, end, &flags) == 3;
	fclose(f);
	return ok ? 0 : -1;
}

/* The lines of the PAT's list of reservations that overlap [start, end]. */
static void show_pat(const char *what, unsigned long long start,
		     unsigned long long end)
{
	FILE *f = fopen("/sys/kernel/debug/x86/pat_memtype_list", "r");
	unsigned long long a, b;
	char line[256], type[64];

	if (!f) {
		printf("%s: no PAT list (%s): the PAT is x86's\n", what,
		       strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PAT: [mem %llx-%llx] %63s", &a, &b, type) == 3 &&
		    b > start && a <= end)
			printf("%s: %#llx-%#llx %s\n", what, a, b, type);
	fclose(f);
}

/* This process's /proc/self/maps line and VmFlags for the address p. */
static void show_vma(const void *p)
{
	unsigned long lo, hi, at = (unsigned long)p;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ')) {
			in = at >= lo && at < hi;
			if (in)
				printf("maps: %s", line);
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			printf("%s", line);
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/dmalab0";
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	unsigned long long s0, e0, s2, e2;
	struct dmalab_info info = { .size = sizeof(info) };
	static uint8_t back[WRITE_LEN];
	volatile uint8_t *dm;
	size_t i;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		perror(path);
		return 1;
	}
	if (bar_range(name, 0, &s0, &e0) || bar_range(name, 2, &s2, &e2)) {
		fprintf(stderr, "%s: cannot read its BARs\n", name);
		return 1;
	}
	printf("BAR0 (registers) %#llx-%#llx, BAR2 (device memory) %#llx-%#llx\n",
	       s0, e0, s2, e2);
	show_pat("PAT of the registers", s0, e0);
	show_pat("PAT before mmap", s2, e2);

	dm = mmap(NULL, info.devmem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		  fd, 0);
	if (dm == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("mapped %llu bytes of device memory at %p\n",
	       (unsigned long long)info.devmem_size, (void *)dm);
	show_vma((const void *)dm);
	show_pat("PAT while mapped", s2, e2);

	/* CPU stores through the mapping, then the device reads them. */
	for (i = 0; i < WRITE_LEN; i++)
		dm[i] = (uint8_t)(i * 7 + 1);
	__sync_synchronize();	/* empty the write-combining buffers */
	if (pread(fd, back, WRITE_LEN, 0) != WRITE_LEN) {
		perror("pread");
		return 1;
	}
	for (i = 0; i < WRITE_LEN && back[i] == (uint8_t)(i * 7 + 1); i++)
		;
	if (i < WRITE_LEN)
		printf("wrote %d bytes through the mapping; DMA read back byte %zu as %#x, want %#x\n",
		       WRITE_LEN, i, back[i], (uint8_t)(i * 7 + 1));
	else
		printf("wrote %d bytes through the mapping; DMA read them back: every byte\n",
		       WRITE_LEN);

	munmap((void *)dm, info.devmem_size);
	show_pat("PAT after munmap", s2, e2);
	close(fd);
	return i < WRITE_LEN;
}
