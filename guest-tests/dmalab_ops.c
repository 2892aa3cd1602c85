// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_ops: the DMALAB_IOC_SUBMIT / SUBMIT_BATCH / STATS / QUEUE_RESET
 * ioctls on zero-copy user buffers: H2D, D2H, COPY, FILL and CRC32C on every
 * queue, scatter-gather (unaligned, many pages), batches, device errors,
 * argument checking, and the sysfs attributes.  Output is TAP.
 *
 * Usage: dmalab_ops [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <sys/mman.h>
#include <sys/mount.h>

#define BATCH		64

static uint64_t rs;		/* the test's PRNG */
static int fd;
static struct dmalab_info info;
static struct dmalab_stats st0;	/* counters when the test started */

/* Guard bytes intact; diagnosed if not. */
static int guards_ok(const struct gbuf *g)
{
	if (gbuf_guards_ok(g))
		return 1;
	diag("guard byte changed");
	return 0;
}

static int h2d(uint32_t q, const void *src, uint64_t off, uint32_t len)
{
	struct dmalab_op op;

	op_xfer(&op, DMALAB_UOP_H2D, q, len, DMALAB_BUF_USER, (uintptr_t)src,
		DMALAB_BUF_DEVMEM, off);
	return submit_ok(fd, &op) &&
	       (q == DMALAB_QUEUE_ANY || op.queue_used == q);
}

static int d2h(uint32_t q, void *dst, uint64_t off, uint32_t len)
{
	struct dmalab_op op;

	op_xfer(&op, DMALAB_UOP_D2H, q, len, DMALAB_BUF_DEVMEM, off,
		DMALAB_BUF_USER, (uintptr_t)dst);
	return submit_ok(fd, &op) &&
	       (q == DMALAB_QUEUE_ANY || op.queue_used == q);
}

/* H2D then D2H of random data through queue q, guarded, unaligned. */
static int roundtrip(uint32_t q, uint64_t off, uint32_t len, size_t mis)
{
	struct gbuf gs = { 0 }, gd = { 0 };
	int ok = 0;

	if (!gbuf_alloc(&gs, len, mis) || !gbuf_alloc(&gd, len, 7 - mis))
		goto out;
	fill_rand(&rs, gs.p, len);
	memset(gd.p, 0x5a, len);
	ok = h2d(q, gs.p, off, len) && d2h(q, gd.p, off, len) &&
	     same(gd.p, gs.p, len, "read back") && guards_ok(&gd) &&
	     guards_ok(&gs);
out:
	free(gs.raw);
	free(gd.raw);
	return ok;
}

static void test_queues(void)
{
	uint32_t q, len = info.max_xfer < 8192 ? info.max_xfer : 8192;
	int ok = 1;

	for (q = 0; q < info.num_queues; q++) {
		uint64_t off = (q * 8192 + 5) % (info.devmem_size - len);

		if (!roundtrip(q, off, len, q % 8)) {
			diag("queue %u failed", q);
			ok = 0;
		}
	}
	tap(ok, "H2D + D2H of %u bytes on each of %u queues", len,
	    info.num_queues);
}

/* Many pages, unaligned: a multi-entry (and for big ones chained) SG table */
static void test_sg(void)
{
	static const uint32_t lens[] = { 3 * 4096 + 123, 300 * 4096 + 1 };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		uint32_t len = lens[i];
		uint8_t *map;
		size_t mlen;
		int ok = 0;

		if (len > info.max_xfer || len > info.devmem_size) {
			tap(1, "# SKIP SG %u bytes above max_xfer/devmem", len);
			continue;
		}
		/* small pages, touched backwards: scattered physically */
		mlen = (size_t)len + 2 * 4096 + 8192;
		map = mmap(NULL, mlen, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map != MAP_FAILED) {
			uint8_t *src = map + 1000, *dst;
			size_t k;

			madvise(map, mlen, MADV_NOHUGEPAGE);
			for (k = mlen; k >= 4096; k -= 4096)
				map[k - 4096] = 1;
			dst = malloc(len);
			if (dst) {
				fill_rand(&rs, src, len);
				memset(dst, 0, len);
				ok = h2d(DMALAB_QUEUE_ANY, src, 0, len) &&
				     d2h(DMALAB_QUEUE_ANY, dst, 0, len) &&
				     same(dst, src, len, "SG read back");
				free(dst);
			}
			munmap(map, mlen);
		}
		tap(ok, "SG: %u bytes from an unaligned, many-page buffer",
		    len);
	}
}

static void test_copy(void)
{
	uint32_t len = info.max_xfer < 100000 ? info.max_xfer : 100000;
	struct gbuf gs = { 0 }, gd = { 0 };
	struct dmalab_op op;
	int ok = 0;

	if (gbuf_alloc(&gs, len, 3) && gbuf_alloc(&gd, len, 6)) {
		fill_rand(&rs, gs.p, len);
		memset(gd.p, 0, len);
		op_init(&op, DMALAB_UOP_COPY, DMALAB_QUEUE_ANY, len);
		op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)gs.p);
		op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)gd.p);
		ok = submit_ok(fd, &op) && same(gd.p, gs.p, len, "COPY") &&
		     guards_ok(&gd);
	}
	free(gs.raw);
	free(gd.raw);
	tap(ok, "COPY %u bytes host to host", len);
}

static void test_fill(void)
{
	static const uint32_t lens[] = { 1, 8, 1001, 65536 + 3 };
	const uint64_t pat = 0x0123456789abcdefULL;
	int ok = 1;
	unsigned int i;

	for (i = 0; i < 4 && ok; i++) {
		uint32_t len = lens[i], k;
		struct dmalab_op op;
		uint8_t pb[8];
		struct gbuf g;

		if (len > info.max_xfer)
			continue;
		if (!gbuf_alloc(&g, len, i)) {
			ok = 0;
			break;
		}
		memset(g.p, 0, len);
		for (k = 0; k < 8; k++)
			pb[k] = (uint8_t)(pat >> (8 * k));
		op_init(&op, DMALAB_UOP_FILL, DMALAB_QUEUE_ANY, len);
		op.pattern = pat;
		op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)g.p);
		ok = submit_ok(fd, &op) && guards_ok(&g);
		for (k = 0; ok && k < len; k++) {
			if (g.p[k] != pb[k % 8]) {
				diag("FILL len %u: byte %u is %#x, want %#x",
				     len, k, g.p[k], pb[k % 8]);
				ok = 0;
			}
		}
		free(g.raw);
	}
	tap(ok, "FILL with a 64-bit little-endian pattern (1, 8, 1001, 65539 bytes)");
}

static void test_crc(void)
{
	static const char check[] = "123456789";
	uint32_t len = info.max_xfer < 70000 ? info.max_xfer : 70000;
	struct dmalab_op op;
	uint8_t *buf;
	int ok;

	op_init(&op, DMALAB_UOP_CRC32C, DMALAB_QUEUE_ANY, 9);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)check);
	ok = submit_ok(fd, &op) && op.result == 0xe3069283u;
	tap(ok, "CRC32C(\"123456789\") = 0xe3069283 (got %#x)", op.result);

	buf = malloc(len + 1);
	ok = 0;
	if (buf) {
		fill_rand(&rs, buf, len + 1);
		op_init(&op, DMALAB_UOP_CRC32C, DMALAB_QUEUE_ANY, len);
		op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)(buf + 1));
		ok = submit_ok(fd, &op) && op.result == crc32c(buf + 1, len);
		free(buf);
	}
	tap(ok, "CRC32C of %u random bytes matches software", len);
}

static void test_batch(void)
{
	uint32_t len = 4096 + 17;
	struct dmalab_op ops[BATCH];
	struct dmalab_batch b;
	uint8_t *src, *dst;
	unsigned int i;
	int r, ok = 0;

	struct dmalab_stats st0, st1;
	long coal = read_long("/sys/module/dmalab/parameters/coal_count");

	if ((uint64_t)len * BATCH > info.devmem_size || len > info.max_xfer) {
		tap_skip_n(3, "batch: device memory too small");
		return;
	}
	st0 = dev_stats(fd);
	src = malloc((size_t)len * BATCH);
	dst = calloc(BATCH, batch_stride(len));
	if (!src || !dst)
		goto out;
	fill_rand(&rs, src, (size_t)len * BATCH);

	for (i = 0; i < BATCH; i++) {
		op_init(&ops[i], DMALAB_UOP_H2D, i % info.num_queues, len);
		op_buf(&ops[i].src, DMALAB_BUF_USER,
		       (uintptr_t)(src + (size_t)i * len));
		op_buf(&ops[i].dst, DMALAB_BUF_DEVMEM, (uint64_t)i * len);
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = BATCH;
	b.ops = (uintptr_t)ops;
	r = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b);
	ok = r == 0 && b.completed == BATCH;
	if (r)
		diag("SUBMIT_BATCH: %s", strerror(errno));
	tap(ok, "batch of %d H2D ops over all queues (%u completed)", BATCH,
	    b.completed);

	/*
	 * With count coalescing (driver parameter coal_count) the device
	 * interrupts once per coal_count completions, not once per op.
	 */
	st1 = dev_stats(fd);
	if (coal > 1 && !polling_mode())
		tap(ok && st1.irqs - st0.irqs <= (st1.completed - st0.completed) / 2,
		    "coalescing (coal_count=%ld): %llu interrupts for %llu completions",
		    coal, (unsigned long long)(st1.irqs - st0.irqs),
		    (unsigned long long)(st1.completed - st0.completed));
	else
		tap_skip("coalescing: the driver runs without coal_count");

	/* read back in reverse order, on other queues */
	for (i = 0; i < BATCH; i++) {
		unsigned int j = BATCH - 1 - i;

		op_init(&ops[i], DMALAB_UOP_D2H, (j + 1) % info.num_queues,
			len);
		op_buf(&ops[i].src, DMALAB_BUF_DEVMEM, (uint64_t)j * len);
		op_buf(&ops[i].dst, DMALAB_BUF_USER,
		       (uintptr_t)(dst + j * batch_stride(len)));
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = BATCH;
	b.ops = (uintptr_t)ops;
	r = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b);
	ok = r == 0 && b.completed == BATCH;
	for (i = 0; ok && i < BATCH; i++)
		ok = same(dst + i * batch_stride(len), src + (size_t)i * len,
			  len, "batch read back");
out:
	tap(ok, "batch of %d D2H ops reads back what the first batch wrote",
	    BATCH);
	free(src);
	free(dst);
}

static void test_device_error(void)
{
	struct dmalab_stats before, after;
	struct dmalab_op op;
	uint8_t buf[256];
	int r, ok;

	before = dev_stats(fd);

	memset(buf, 0x77, sizeof(buf));
	op_init(&op, DMALAB_UOP_D2H, 0, sizeof(buf));
	op.flags = DMALAB_OPF_NO_CHECK;
	op_buf(&op.src, DMALAB_BUF_DEVMEM, info.devmem_size - 16);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)buf);
	r = submit_diag(fd, &op);
	tap(r == 0 && op.status == DMALAB_STS_DEVMEM_RANGE,
	    "D2H beyond device memory completes with DEVMEM_RANGE (status %#x)",
	    op.status);

	ok = roundtrip(0, 4096, 4096, 1);
	tap(ok, "the queue goes on after a descriptor error");

	usleep(10000);
	memset(&after, 0, sizeof(after));
	after.size = sizeof(after);
	r = ioctl(fd, DMALAB_IOC_STATS, &after);
	tap(r == 0 && after.cpl_errors > before.cpl_errors &&
	    after.hw_errors > before.hw_errors,
	    "error counted by driver (%llu) and device (%llu); error irqs %llu",
	    (unsigned long long)after.cpl_errors,
	    (unsigned long long)after.hw_errors,
	    (unsigned long long)after.err_irqs);
}

static void test_bad_args(void)
{
	uint8_t buf[4096];
	struct dmalab_op op, good;
	struct dmalab_batch b;
	void *ro;
	int e, ok = 1;

	op_init(&good, DMALAB_UOP_D2H, 0, 64);
	op_buf(&good.src, DMALAB_BUF_DEVMEM, 0);
	op_buf(&good.dst, DMALAB_BUF_USER, (uintptr_t)buf);

#define EXPECT(mod, err) do {						\
		op = good;						\
		mod;							\
		e = submit_fd(fd, &op);					\
		if (e != (err)) {					\
			diag("%s: got %s, want %s", #mod, strerror(e),	\
			     strerror(err));				\
			ok = 0;						\
		}							\
	} while (0)

	EXPECT((void)0, 0);
	EXPECT(op.len = 0, EINVAL);
	EXPECT(op.len = info.max_xfer + 1, EINVAL);
	EXPECT(op.opcode = 0x42, EINVAL);
	EXPECT(op.queue = info.num_queues, EINVAL);
	EXPECT(op.flags = 0x80, EINVAL);
	EXPECT(op.rsvd = 1, EINVAL);
	EXPECT(op.src.rsvd = 1, EINVAL);
	EXPECT(op.pattern = 1, EINVAL);
	EXPECT(op.status = 1, EINVAL);
	EXPECT(op.src.kind = DMALAB_BUF_USER, EINVAL);
	EXPECT(op.dst.kind = DMALAB_BUF_DEVMEM, EINVAL);
	EXPECT(op.dst.kind = 9, EINVAL);
	EXPECT(op.src.addr = info.devmem_size - 63, EINVAL);
	EXPECT(op.src.addr = info.devmem_size, EINVAL);
	EXPECT(op.dst.kind = DMALAB_BUF_COHERENT, EINVAL);
	EXPECT(op.dst.addr = 16, EFAULT);
	tap(ok, "SUBMIT rejects bad arguments with EINVAL/EFAULT");

	ok = 1;
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro != MAP_FAILED) {
		EXPECT(op.dst.addr = (uintptr_t)ro, EFAULT);
		munmap(ro, 4096);
	}
	tap(ok, "the device may not write a read-only buffer (EFAULT)");
#undef EXPECT

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = 0;
	b.ops = (uintptr_t)&good;
	ok = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) == -1 && errno == EINVAL;
	b.count = DMALAB_MAX_BATCH + 1;
	ok = ok && ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) == -1 &&
	     errno == EINVAL;
	b.count = 1;
	b.size = 8;
	ok = ok && ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) == -1 &&
	     errno == EINVAL;
	b.size = sizeof(b);
	b.ops = 16;
	ok = ok && ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) == -1 &&
	     errno == EFAULT;
	tap(ok, "SUBMIT_BATCH rejects bad counts, sizes and pointers");
}

static void test_queue_reset(void)
{
	struct dmalab_queue_reset qr;
	int r1, r2, e2;

	memset(&qr, 0, sizeof(qr));
	qr.queue = info.num_queues - 1;
	r1 = ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr);
	qr.queue = info.num_queues;
	r2 = ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr);
	e2 = errno;
	tap(r1 == 0 && r2 == -1 && e2 == EINVAL,
	    "QUEUE_RESET of the last queue; a bad queue is EINVAL");
	tap(roundtrip(info.num_queues - 1, 8192, 12345, 2) &&
	    roundtrip(info.num_queues - 1, 0, 100, 0),
	    "the reset queue works again");
}

/* sysfs attribute attr of the device behind /dev/dev, without the newline */
static int read_sysfs(const char *dev, const char *attr, char *out,
		      size_t n)
{
	char path[256];
	ssize_t r;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/device/%s", dev,
		 attr);
	r = read_str(path, out, n);
	if (r <= 0)
		return -1;
	if (out[r - 1] == '\n')
		out[r - 1] = 0;
	return 0;
}

static int sysfs_is(const char *dev, const char *attr, const char *want)
{
	char v[64];

	if (read_sysfs(dev, attr, v, sizeof(v))) {
		diag("cannot read sysfs attribute %s of %s", attr, dev);
		return 0;
	}
	if (strcmp(v, want)) {
		diag("sysfs %s is \"%s\", want \"%s\"", attr, v, want);
		return 0;
	}
	return 1;
}

static void test_sysfs(const char *devpath)
{
	static const char *const modes[] = { "none", "intx", "msi", "msix" };
	const char *dev = dev_name(devpath);
	unsigned long long mask;
	char want[64];
	int ok = 1;

	snprintf(want, sizeof(want), "%u", info.num_queues);
	ok &= sysfs_is(dev, "queues", want);
	snprintf(want, sizeof(want), "%llu",
		 (unsigned long long)info.devmem_size);
	ok &= sysfs_is(dev, "devmem_size", want);
	ok &= sysfs_is(dev, "irq_mode",
		       info.irq_mode < 4 ? modes[info.irq_mode] : "?");
	mask = info.dma_bits >= 64 ? ~0ULL : (1ULL << info.dma_bits) - 1;
	snprintf(want, sizeof(want), "0x%llx", mask);
	ok &= sysfs_is(dev, "dma_mask", want);
	snprintf(want, sizeof(want), "%u", info.dma_bits);
	ok &= sysfs_is(dev, "dma_bits", want);
	snprintf(want, sizeof(want), "%u", info.ring_size);
	ok &= sysfs_is(dev, "ring_size", want);
	ok &= sysfs_is(dev, "chardev", dev);
	tap(ok, "sysfs queues, devmem_size, irq_mode, dma_mask, dma_bits, ring_size, chardev");
}

/*
 * The interrupt controller a vector goes through, as the platform names it
 * in /proc/interrupts: a PC's I/O APIC or a GICv3 for the INTx line, and
 * MSI and MSI-X messages written to the x86 local APICs' window ("PCI-MSI",
 * "IR-PCI-MSI" through interrupt remapping) or to the GICv3 ITS ("ITS-MSI",
 * "ITS-PCI-MSIX-..." in newer kernels).
 */
static const char *expected_chip(unsigned int irq_mode)
{
#if defined(__x86_64__) || defined(__i386__)
	return irq_mode == 1 ? "IO-APIC" : "PCI-MSI";
#elif defined(__aarch64__)
	return irq_mode == 1 ? "GICv3" : "ITS";
#else
	(void)irq_mode;
	return NULL;
#endif
}

/* Whether the comma-separated action names end of an /proc/interrupts
 * line name device dev ("dmalab0", "dmalab0-q1", "virtio0, dmalab0"). */
static int names_device(const char *names, const char *dev)
{
	size_t n = strlen(dev);
	const char *p;

	for (p = strstr(names, dev); p; p = strstr(p + 1, dev)) {
		int start = p == names || p[-1] == ' ' || p[-1] == ',';
		int end = !p[n] || p[n] == '-' || p[n] == ',' || p[n] == '\n';

		if (start && end)
			return 1;
	}
	return 0;
}

static int irq_vectors;		/* /proc/interrupts lines of the device */

static void test_irq_controller(const char *devpath)
{
	const char *dev = dev_name(devpath), *want = expected_chip(info.irq_mode);
	char line[512], chip[64];
	unsigned long long count = 0;
	int ncpu = 0, vectors = 0, right = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f) {
		tap(0, "/proc/interrupts: %s", strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), f))	/* "CPU0 CPU1 ..." */
		for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
			ncpu++;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *end;
		int c;

		if (!p || !names_device(p, dev))
			continue;
		p++;
		for (c = 0; c < ncpu; c++) {
			count += strtoull(p, &end, 10);
			p = end;
		}
		if (sscanf(p, " %63s", chip) != 1)
			continue;
		vectors++;
		right += !want || strstr(chip, want) != NULL;
		line[strcspn(line, "\n")] = 0;
		diag("%s", line);
	}
	fclose(f);
	irq_vectors = vectors;
	if (!want) {
		tap_skip("no expectation of the interrupt controller on this architecture");
		return;
	}
	tap(vectors > 0 && right == vectors && (polling_mode() || count > 0),
	    "%d vectors of %s through %s (%d right), %llu interrupts taken",
	    vectors, dev, want, right, count);
}

/*
 * Queue 0's shadow tail address as the device holds it (Q_SHADOW_HI:LO),
 * from the driver's debugfs register dump; 0 or -1 if unreadable.
 */
static int queue0_shadow(const char *devpath, uint64_t *addr)
{
	char path[PATH_MAX], line[128];
	unsigned int reg, val;
	int found = 0;
	FILE *f;

	if (dbg_path(devpath, "regs", path, sizeof(path), R_OK))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	*addr = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Q0_SHADOW_LO 0x%x = 0x%x", &reg, &val) == 2) {
			*addr |= val;
			found++;
		} else if (sscanf(line, "Q0_SHADOW_HI 0x%x = 0x%x", &reg,
				  &val) == 2) {
			*addr |= (uint64_t)val << 32;
			found++;
		}
	}
	fclose(f);
	return found == 2 ? 0 : -1;
}

/*
 * The choices the driver made are the ones this configuration of
 * scripts/vm-configs.sh says it must make (dmalab.expect=irq:MODE,
 * dma_ops:LAYER,doorbell:PATH,shadow:on|off): the interrupt mode with its
 * number of vectors (one per queue plus the error vector for MSI-X, else
 * one), the layer under the DMA API, the register path of the doorbells,
 * and whether the queues keep their tails in memory.  The path is proved
 * by the device: its count of port doorbells grows by one per submission
 * through ports, and not at all through MMIO; the shadow tails by the
 * device's Q_SHADOW registers, which hold an address only when they are on.
 */
static void test_config_expectations(const char *devpath)
{
	const char *dev = dev_name(devpath);
	char irq[16], ops[16], db[16], shadow[16], bdf[64];
	uint32_t before = 0, after = 0;
	uint64_t shadow_addr = 0;
	uint8_t buf[512];
	int ok = 1, i, e;
	int vecs;

	expect_get("irq", irq, sizeof(irq));
	expect_get("dma_ops", ops, sizeof(ops));
	expect_get("doorbell", db, sizeof(db));
	expect_get("shadow", shadow, sizeof(shadow));
	if (!irq[0] || !ops[0] || !db[0] || !shadow[0]) {
		tap_skip("no dmalab.expect on the kernel command line (not booted by run-vm.sh)");
		return;
	}
	ok &= sysfs_is(dev, "irq_mode", irq);
	vecs = !strcmp(irq, "msix") ? (int)info.num_queues + 1 : 1;
	if (irq_vectors != vecs) {
		diag("%d vectors in /proc/interrupts, want %d", irq_vectors,
		     vecs);
		ok = 0;
	}
	ok &= sysfs_is(dev, "dma_ops", ops);
	ok &= sysfs_is(dev, "doorbell", db);
	ok &= sysfs_is(dev, "shadow_doorbell", strcmp(shadow, "on") ? "0" : "1");
	if (queue0_shadow(devpath, &shadow_addr)) {
		diag("cannot read Q0_SHADOW_LO/HI from debugfs");
		ok = 0;
	} else if (!shadow_addr != !strcmp(shadow, "off")) {
		diag("Q0_SHADOW is 0x%llx with shadow tails %s",
		     (unsigned long long)shadow_addr, shadow);
		ok = 0;
	}

	e = misc_pci_addr(dev, bdf, sizeof(bdf)) ? -ENODEV :
	    pio_reg_read(bdf, DMALAB_PIO_DOORBELLS, &before);
	memset(buf, 0x3c, sizeof(buf));
	for (i = 0; i < 8; i++)
		ok &= pwrite(fd, buf, sizeof(buf), i * sizeof(buf)) ==
		      (ssize_t)sizeof(buf);
	if (!e)
		e = pio_reg_read(bdf, DMALAB_PIO_DOORBELLS, &after);
	if (e) {
		diag("cannot read PIO_DOORBELLS of %s: %s", dev, strerror(-e));
		ok = 0;
	} else if (!strcmp(db, "port") ? after - before < 8 : after != before) {
		diag("PIO_DOORBELLS went from %u to %u over 8 writes", before,
		     after);
		ok = 0;
	}
	tap(ok, "as the configuration expects: %s with %d vectors, DMA through %s, doorbells through %s (%u port doorbells for 8 writes), shadow tails %s (queue 0's at 0x%llx)",
	    irq, vecs, ops, db, after - before, shadow,
	    (unsigned long long)shadow_addr);
}

/*
 * A batch rings each queue's doorbell once: the driver posts its 32
 * descriptors under a plug and rings when the plug is flushed (as blk-mq
 * commits a batch to NVMe).  The device counts doorbells rung through its
 * port BAR only, so the count is asserted where doorbells go through
 * ports; the data of every op is checked everywhere.
 */
static void test_batch_doorbell(const char *devpath)
{
	enum { N = 32, LEN = 256 };
	const char *dev = dev_name(devpath);
	struct dmalab_batch b;
	struct dmalab_op ops[N];
	uint8_t *src = malloc(N * LEN), *back = malloc(N * LEN);
	uint32_t before = 0, after = 0;
	char db[16], bdf[64];
	int ok, e, i, port;

	if (!src || !back)
		tap_bail("out of memory");
	expect_get("doorbell", db, sizeof(db));
	port = !strcmp(db, "port");
	fill_rand(&rs, src, N * LEN);
	for (i = 0; i < N; i++)
		op_xfer(&ops[i], DMALAB_UOP_H2D, 0, LEN, DMALAB_BUF_USER,
			(uintptr_t)(src + i * LEN), DMALAB_BUF_DEVMEM,
			40960 + i * LEN);
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = N;
	b.ops = (uintptr_t)ops;
	e = misc_pci_addr(dev, bdf, sizeof(bdf)) ? -ENODEV :
	    pio_reg_read(bdf, DMALAB_PIO_DOORBELLS, &before);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) == 0 && b.completed == N;
	if (!e)
		e = pio_reg_read(bdf, DMALAB_PIO_DOORBELLS, &after);
	ok = ok && !do_d2h(fd, 0, back, 40960, N * LEN) &&
	     same(back, src, N * LEN, "device memory after the batch");
	if (port && (e || after - before != 1)) {
		diag("PIO_DOORBELLS %u -> %u (%s) for one batch of %d on queue 0",
		     before, after, e ? strerror(-e) : "read", N);
		ok = 0;
	}
	if (port)
		tap(ok, "a batch of %d ops on queue 0 moves every byte and rings its doorbell once (port doorbells +%u)",
		    N, after - before);
	else
		tap(ok, "a batch of %d ops on queue 0 moves every byte (its doorbells go through MMIO, which the device does not count)",
		    N);
	free(src);
	free(back);
}

/*
 * The driver's tracepoints, with their arguments: one D2H of 4321 bytes
 * from device memory 777 on the last queue shows a dmalab_submit with
 * that queue, opcode, length and source, and a dmalab_complete of the
 * same cookie with no error and every byte.
 */
static void test_tracepoints(const char *devpath)
{
	static const char *const events[] = {
		"dmalab/dmalab_submit", "dmalab/dmalab_complete", NULL,
	};
	const char *dev = dev_name(devpath), *dir = tracefs();
	unsigned int q = info.num_queues - 1;
	unsigned long long cookie = 0;
	char want[160], *trace, *line, *save = NULL;
	int ok, submits = 0, completes = 0;
	struct dmalab_op op;
	uint8_t buf[4321];
	size_t n;

	if (!dir) {
		tap(0, "tracepoints: no tracefs: %s", strerror(errno));
		return;
	}
	ok = trace_start(dir, events);
	op_xfer(&op, DMALAB_UOP_D2H, q, sizeof(buf), DMALAB_BUF_DEVMEM, 777,
		DMALAB_BUF_USER, (uintptr_t)buf);
	ok &= submit_ok(fd, &op);
	trace = trace_stop(dir, "dmalab", &n);
	snprintf(want, sizeof(want), "%s q%u slot ", dev, q);
	for (line = trace && n ? strtok_r(trace, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, want), *c;

		if (!p || !(c = strstr(p, " cookie ")))
			continue;
		if (strstr(line, "dmalab_submit:")) {
			char tail[96];

			snprintf(tail, sizeof(tail), " op %u flags ",
				 DMALAB_OP_D2H);
			if (strstr(p, tail) && strstr(p, " len 4321 src 0x309 ")) {
				cookie = strtoull(c + 8, NULL, 0);
				submits++;
			}
			diag("%s", line);
		} else if (strstr(line, "dmalab_complete:")) {
			char tail[96], *st;

			/* the kernel prints a status of 0 as "0x0" */
			snprintf(tail, sizeof(tail), " cookie %#llx err 0 status ",
				 cookie);
			st = submits ? strstr(p, tail) : NULL;
			if (st) {
				st += strlen(tail);
				completes += strtoul(st, &st, 0) == 0 &&
					     !strcmp(st, " bytes 4321");
			}
			diag("%s", line);
		}
	}
	if (!submits || !completes)
		diag("%zu bytes of trace, %d matching submits, %d completes",
		     n, submits, completes);
	free(trace);
	tap(ok && submits == 1 && completes == 1,
	    "tracepoints: dmalab_submit (q%u, op %u, len 4321, src 0x309) and dmalab_complete of its cookie %#llx (err 0, status 0, 4321 bytes)",
	    q, DMALAB_OP_D2H, cookie);
}

static void test_stats(void)
{
	struct dmalab_stats st;
	int r = dev_stats_diag(fd, &st);

	/* In polling mode completions are reaped without queue interrupts. */
	tap(r == 0 && stats_all_done(&st, &st0) &&
	    (polling_mode() ? st.irqs == st0.irqs : st.irqs > st0.irqs),
	    "STATS: everything completed, no timeouts, interrupts as the mode says");
}

#define NTESTS 25

int main(int argc, char **argv)
{
	const char *dev;

	dev = test_begin(argc, argv, "dmalab_ops", NTESTS, &rs);
	fd = dev_open(dev, &info);
	tap(fd >= 0 && info.num_queues > 0 && info.devmem_size >= 65536,
	    "open %s and DMALAB_IOC_INFO", dev);
	if (fd < 0 || !info.num_queues || info.devmem_size < 65536)
		tap_bail("cannot use %s", dev);
	st0 = dev_stats(fd);
	diag("%u queues, irq mode %u, max_xfer %u, devmem %llu",
	     info.num_queues, info.irq_mode, info.max_xfer,
	     (unsigned long long)info.devmem_size);

	test_queues();		/* 1 */
	test_sg();		/* 2 */
	test_copy();		/* 1 */
	test_fill();		/* 1 */
	test_crc();		/* 2 */
	test_batch();		/* 2 */
	test_device_error();	/* 3 */
	test_bad_args();	/* 3 */
	test_queue_reset();	/* 2 */
	test_sysfs(dev);	/* 1 */
	test_irq_controller(dev);	/* 1 */
	test_config_expectations(dev);	/* 1 */
	test_tracepoints(dev);	/* 1 */
	test_batch_doorbell(dev);	/* 1 */
	test_stats();		/* 1 */
	close(fd);
	return tap_done();
}
