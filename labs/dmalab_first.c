// SPDX-License-Identifier: GPL-2.0
/*
 * A first program of your own against the dmalab driver: it asks what the
 * device offers, then moves a buffer into device memory and back with two
 * DMA descriptors, and checks every byte.  Lab 3 builds it into the guest
 * (./run-vm.sh --shell --add labs/dmalab_first.c) and asks you to extend it.
 *
 * Usage: dmalab_first [device]   (as root; default /dev/dmalab0)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dmalab_uapi.h"

#define LEN 4096

/* One descriptor between a user buffer and device memory at offset 0. */
static int transfer(int fd, uint32_t opcode, void *buf)
{
	struct dmalab_op op;
	struct dmalab_buf user = { .addr = (uintptr_t)buf,
				   .kind = DMALAB_BUF_USER };
	struct dmalab_buf devmem = { .addr = 0, .kind = DMALAB_BUF_DEVMEM };

	memset(&op, 0, sizeof(op));
	op.opcode = opcode;
	op.queue = DMALAB_QUEUE_ANY;
	op.len = LEN;
	op.src = opcode == DMALAB_UOP_H2D ? user : devmem;
	op.dst = opcode == DMALAB_UOP_H2D ? devmem : user;
	if (ioctl(fd, DMALAB_IOC_SUBMIT, &op)) {
		perror("DMALAB_IOC_SUBMIT");
		return -1;
	}
	printf("%s of %u bytes on queue %u: status %#x, %u bytes moved\n",
	       opcode == DMALAB_UOP_H2D ? "H2D" : "D2H", LEN, op.queue_used,
	       op.status, op.bytes);
	return op.status ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/dmalab0";
	static uint8_t out[LEN], in[LEN];
	struct dmalab_info info = { .size = sizeof(info) };
	int fd, i;

	fd = open(path, O_RDWR);
	if (fd < 0 || ioctl(fd, DMALAB_IOC_INFO, &info)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%s: %u queues of %u slots, %u-bit DMA, %llu bytes of device memory\n",
	       path, info.num_queues, info.ring_size, info.dma_bits,
	       (unsigned long long)info.devmem_size);

	for (i = 0; i < LEN; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	if (transfer(fd, DMALAB_UOP_H2D, out) ||
	    transfer(fd, DMALAB_UOP_D2H, in))
		return 1;
	for (i = 0; i < LEN; i++) {
		if (in[i] != out[i]) {
			printf("byte %d: got %#x, want %#x\n", i, in[i], out[i]);
			return 1;
		}
	}
	printf("round trip of %u bytes: every byte back\n", LEN);
	close(fd);
	return 0;
}
