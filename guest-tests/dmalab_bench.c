// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab benchmarks.  Each measurement is printed next to a baseline taken
 * in the same run, as a ratio, so results stay meaningful across machines
 * and accelerators (TCG is slow in absolute terms, not in proportion):
 *
 *   - DMA into device memory (zero-copy ioctl) vs the CPU copying through a
 *     write-combining mmap of the same memory;
 *   - one batch ioctl of N ops vs N single-op ioctls (syscall and doorbell
 *     cost);
 *   - pwrite (the driver's read/write path) vs the zero-copy ioctl;
 *   - a register read through the port-I/O BAR vs through the MMIO BAR.
 *
 * Nothing here is asserted about speed.  The TAP cases only check that the
 * data each benchmark moved arrived intact, so a benchmark cannot report
 * numbers for a transfer that did not happen.
 */
#include "dmalab_test.h"

#include <sys/mman.h>

#define BATCH		64
#define REG_READS	20000

static void report(const char *what, double secs, double bytes,
		   const char *base, double base_secs)
{
	if (bytes > 0)
		printf("# bench: %-34s %9.1f MB/s", what, bytes / secs / 1e6);
	else
		printf("# bench: %-34s %9.2f us/op", what, secs * 1e6);
	/* The ratio is always a speed: above 1 means faster than the base. */
	if (base)
		printf("   %.2fx the speed of %s\n", base_secs / secs, base);
	else
		printf("   (baseline)\n");
}

static void h2d_op(struct dmalab_op *op, const void *buf, uint32_t len,
		   uint64_t off)
{
	op_xfer(op, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, len, DMALAB_BUF_USER,
		(uintptr_t)buf, DMALAB_BUF_DEVMEM, off);
}

/* Data that differs with the seed (no seed argument: runs are alike). */
static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	fill_rand(&seed, p, len);
}

/* DMA vs CPU copies into device memory, for one transfer size. */
static void bench_copy(int fd, volatile uint8_t *devmem, size_t len,
		       int reps)
{
	uint8_t *buf = aligned_alloc(4096, len), *check = malloc(len);
	struct dmalab_op op;
	double t0, cpu, dma;
	char name[96];
	int ok = 1;

	fill_random(buf, len, len);
	t0 = now_s();
	for (int i = 0; i < reps; i++)
		memcpy((void *)devmem, buf, len);
	cpu = now_s() - t0;

	fill_random(buf, len, len + 1);
	t0 = now_s();
	for (int i = 0; i < reps && ok; i++) {
		h2d_op(&op, buf, len, 0);
		ok = !submit_fd(fd, &op) && op.status == DMALAB_STS_OK;
	}
	dma = now_s() - t0;
	memcpy(check, (const void *)devmem, len);
	ok = ok && !memcmp(check, buf, len);

	snprintf(name, sizeof(name), "CPU copy to WC devmem, %zu B", len);
	report(name, cpu, (double)len * reps, NULL, 0);
	snprintf(name, sizeof(name), "DMA H2D ioctl, %zu B", len);
	report(name, dma, (double)len * reps, "the CPU copy", cpu);
	snprintf(name, sizeof(name), "DMA of %zu bytes arrived intact", len);
	tap(ok, "%s", name);
	free(buf);
	free(check);
}

/* One batch ioctl against the same ops submitted one by one. */
static void bench_batch(int fd, volatile uint8_t *devmem)
{
	const uint32_t len = 4096;
	uint8_t *buf = aligned_alloc(4096, (size_t)len * BATCH);
	struct dmalab_op ops[BATCH];
	struct dmalab_batch b = { .size = sizeof(b), .count = BATCH };
	double t0, single, batch;
	int ok = 1;

	fill_random(buf, (size_t)len * BATCH, 7);
	t0 = now_s();
	for (int i = 0; i < BATCH && ok; i++) {
		h2d_op(&ops[i], buf + (size_t)i * len, len, (uint64_t)i * len);
		ok = !submit_fd(fd, &ops[i]) && ops[i].status == DMALAB_STS_OK;
	}
	single = now_s() - t0;

	fill_random(buf, (size_t)len * BATCH, 8);
	for (int i = 0; i < BATCH; i++)
		h2d_op(&ops[i], buf + (size_t)i * len, len, (uint64_t)i * len);
	b.ops = (uintptr_t)ops;
	t0 = now_s();
	ok = ok && !ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) &&
	     b.completed == BATCH;
	batch = now_s() - t0;
	for (int i = 0; i < BATCH && ok; i++)
		ok = !memcmp((const void *)(devmem + (size_t)i * len),
			     buf + (size_t)i * len, len);

	report("64 x 4 KiB, one ioctl each", single / BATCH, 0, NULL, 0);
	report("64 x 4 KiB, one batch ioctl", batch / BATCH, 0,
	       "single ioctls", single / BATCH);
	tap(ok, "batched DMA arrived intact");
	free(buf);
}

/* The driver's pwrite path against the zero-copy ioctl. */
static void bench_pwrite(int fd, volatile uint8_t *devmem)
{
	const size_t len = 256 * 1024;
	const int reps = 16;
	uint8_t *buf = aligned_alloc(4096, len);
	struct dmalab_op op;
	double t0, zc, pw;
	int ok = 1;

	fill_random(buf, len, 9);
	t0 = now_s();
	for (int i = 0; i < reps && ok; i++) {
		h2d_op(&op, buf, len, 0);
		ok = !submit_fd(fd, &op) && op.status == DMALAB_STS_OK;
	}
	zc = now_s() - t0;
	fill_random(buf, len, 10);
	t0 = now_s();
	for (int i = 0; i < reps && ok; i++)
		ok = pwrite(fd, buf, len, 0) == (ssize_t)len;
	pw = now_s() - t0;
	ok = ok && !memcmp((const void *)devmem, buf, len);

	report("zero-copy ioctl, 256 KiB", zc, (double)len * reps, NULL, 0);
	report("pwrite, 256 KiB", pw, (double)len * reps,
	       "the zero-copy ioctl", zc);
	tap(ok, "pwrite data arrived intact");
	free(buf);
}

/* A register read through the I/O-port BAR vs through MMIO, from sysfs. */
static void bench_pio_mmio(void)
{
	const char *base = "/sys/class/misc/dmalab0/device/";
	char path[256];
	volatile uint32_t *regs;
	uint32_t v = 0, ok = 1;
	double t0, mmio, pio;
	int rfd, pfd;

	snprintf(path, sizeof(path), "%sresource%d", base, DMALAB_BAR_REGS);
	rfd = open(path, O_RDWR | O_SYNC);
	snprintf(path, sizeof(path), "%sresource%d", base, DMALAB_BAR_PIO);
	pfd = open(path, O_RDWR);
	if (rfd < 0 || pfd < 0) {
		tap_skip("BAR files not found under %s", base);
		goto out;
	}
	regs = mmap(NULL, DMALAB_REGS_SIZE, PROT_READ, MAP_SHARED, rfd, 0);
	if (regs == MAP_FAILED) {
		tap_skip("cannot mmap BAR0: %s", strerror(errno));
		goto out;
	}
	t0 = now_s();
	for (int i = 0; i < REG_READS; i++)
		ok &= regs[DMALAB_REG_ID / 4] == DMALAB_ID_MAGIC;
	mmio = now_s() - t0;
	t0 = now_s();
	for (int i = 0; i < REG_READS; i++) {
		ok &= pread(pfd, &v, 4, DMALAB_PIO_ID) == 4;
		ok &= v == DMALAB_ID_MAGIC;
	}
	pio = now_s() - t0;
	munmap((void *)regs, DMALAB_REGS_SIZE);
	report("ID register read, MMIO (mmap)", mmio / REG_READS, 0, NULL, 0);
	report("ID register read, port I/O (sysfs)", pio / REG_READS, 0,
	       "MMIO", mmio / REG_READS);
	tap(ok, "every ID read returned the magic over MMIO and port I/O");
out:
	if (rfd >= 0)
		close(rfd);
	if (pfd >= 0)
		close(pfd);
}

int main(void)
{
	struct dmalab_info info;
	volatile uint8_t *devmem;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(6);
	/*
	 * Under DMA-API debug (and the KASAN and lockdep that come with it on
	 * the debug kernel) every mapping and lock is checked: the figures
	 * would measure the checks, not the driver.
	 */
	if (access("/sys/kernel/debug/dma-api", F_OK) == 0) {
		tap_skip_n(6, "a debug kernel's checks dominate its timings");
		return tap_done();
	}
	fd = dev_open(DMALAB_DEV, &info);
	if (fd < 0)
		tap_bail("cannot open %s: %s", DMALAB_DEV, strerror(errno));
	devmem = mmap(NULL, info.devmem_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, fd, 0);
	if (devmem == MAP_FAILED)
		tap_bail("cannot mmap device memory: %s", strerror(errno));
	bench_copy(fd, devmem, 4096, 64);
	bench_copy(fd, devmem, 65536, 32);
	bench_copy(fd, devmem, 1 << 20 < info.devmem_size ? 1 << 20 :
		   info.devmem_size, 8);
	bench_batch(fd, devmem);
	bench_pwrite(fd, devmem);
	bench_pio_mmio();
	munmap((void *)devmem, info.devmem_size);
	close(fd);
	return tap_done();
}
