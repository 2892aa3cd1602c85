// SPDX-License-Identifier: GPL-2.0
/*
 * The life of a VMA: this program maps the file's page buffer (pages the
 * driver allocates on first touch and the device can DMA into), then
 * forks, splits the mapping with mprotect() and unmaps it, printing after
 * each step how many VMAs the driver counts (sysfs pagebuf_mappings,
 * which its vm_ops open and close keep).  It also has the device write a
 * page of the buffer and reads the bytes through the mapping.  Lab 13
 * builds it into the guest: ./run-vm.sh --shell --add labs/dmalab_vma.c
 *
 * Usage: dmalab_vma [device]   (as root; default /dev/dmalab0)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmalab_uapi.h"

#define PAGES 4

static char count_path[256];

/* The driver's count of VMAs that map a page buffer of the device. */
static void show_count(const char *when)
{
	char buf[32] = "?";
	FILE *f = fopen(count_path, "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			strcpy(buf, "?");
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("%s: pagebuf_mappings %s\n", when, buf);
}

/* This process's /proc/self/maps lines of the device's file. */
static void show_maps(const char *when, const char *path)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, path))
			printf("%s: %s", when, line);
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/dmalab0";
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), i;
	static uint8_t pattern[65536];
	struct dmalab_op op;
	char *pb;
	pid_t pid;
	int fd, st;

	snprintf(count_path, sizeof(count_path),
		 "/sys/class/misc/%s/device/pagebuf_mappings", name);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	show_count("before mmap");
	pb = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_PAGEBUF);
	if (pb == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	show_count("after mmap");
	show_maps("after mmap", path);
	strcpy(pb, "written by the parent");

	/* fork: the child inherits the VMA, and the driver's open() runs */
	pid = fork();
	if (pid == 0) {
		show_count("in the child");
		strcpy(pb + page, "written by the child");
		_exit(0);
	}
	waitpid(pid, &st, 0);
	show_count("after the child exited");
	printf("the parent reads page 1: \"%s\"\n", pb + page);

	/* the device writes page 3 of the buffer; the CPU reads it */
	for (i = 0; i < page; i++)
		pattern[i] = (uint8_t)(i * 13 + 5);
	memset(&op, 0, sizeof(op));
	op.opcode = DMALAB_UOP_D2H;
	op.queue = DMALAB_QUEUE_ANY;
	op.len = page;
	op.src.kind = DMALAB_BUF_DEVMEM;
	op.dst.kind = DMALAB_BUF_PAGEBUF;
	op.dst.addr = 3 * page;
	if (pwrite(fd, pattern, page, 0) != (ssize_t)page ||
	    ioctl(fd, DMALAB_IOC_SUBMIT, &op) || op.status) {
		fprintf(stderr, "D2H into the page buffer: %s, status %#x\n",
			strerror(errno), op.status);
		return 1;
	}
	printf("D2H into page 3 of the buffer: %s through the mapping\n",
	       memcmp(pb + 3 * page, pattern, page) ? "different" :
	       "every byte seen");

	/* mprotect half of it: the VMA splits, and open() runs again */
	if (mprotect(pb + 2 * page, 2 * page, PROT_READ))
		perror("mprotect");
	show_count("after mprotect of pages 2-3");
	show_maps("after mprotect", path);

	munmap(pb, PAGES * page);
	show_count("after munmap");
	close(fd);
	return 0;
}
