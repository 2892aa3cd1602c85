// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_dmaaddr: what the DMA API does to addresses, seen through the
 * driver's root-only teaching interface (DMALAB_IOC_DMA_ADDRS, debugfs
 * last_addr, the TEST-ONLY DMALAB_IOC_TEST_STALE / TEST_STREAM and debugfs
 * test_skip_sync).  Configuration-specific cases (read from /proc/cmdline):
 *
 *   default  the bus address the device used is the page's physical address
 *   iommu    it is not (an IOVA); a DMA to an unmapped IOVA faults
 *   swiotlb  a reused streaming buffer is right only thanks to dma_sync_*;
 *            the bounce counter (stats.remapped) rises
 *   dma32    pages above 4 GiB are bounced; data stays intact
 *
 * Output is TAP; cases of other configurations are skipped.  Needs root.
 * Usage: dmalab_dmaaddr [seed] [device]
 */
#include "dmalab_test.h"

#include <sys/mman.h>

#define NTESTS	16
#define PG	4096

static int fd;
static struct dmalab_info info;
static char dbgdir[PATH_MAX];
static char config[64];
static uint64_t rs;		/* the test's PRNG */

static int is_config(const char *c)
{
	return !strcmp(config, c);
}

/* Physical address of the page holding p (0 if unknown). */
static uint64_t phys_of(const void *p)
{
	static int f = -1;
	uint64_t ent = 0;
	off_t off = (off_t)((uintptr_t)p / PG) * 8;

	if (f < 0)
		f = open("/proc/self/pagemap", O_RDONLY);
	if (f < 0)
		return 0;
	if (pread(f, &ent, 8, off) != 8)
		ent = 0;
	if (!(ent & (1ULL << 63)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * PG;
}

static uint64_t read_dbg(const char *file)
{
	char path[PATH_MAX + 32], s[64];

	snprintf(path, sizeof(path), "%s/%s", dbgdir, file);
	if (read_str(path, s, sizeof(s)) <= 0)
		return ~0ULL;
	if (s[0] == 'Y')
		return 1;
	if (s[0] == 'N')
		return 0;
	return strtoull(s, NULL, 0);
}

static int write_dbg(const char *file, const char *val)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dbgdir, file);
	return write_str(path, val) ? -1 : 0;
}

/* D2H of len bytes from device memory 0 into p. */
static int d2h(void *p, uint32_t len)
{
	struct dmalab_op op;

	op_xfer(&op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, len, DMALAB_BUF_DEVMEM,
		0, DMALAB_BUF_USER, (uintptr_t)p);
	return ioctl(fd, DMALAB_IOC_SUBMIT, &op) == 0 &&
	       op.status == DMALAB_STS_OK;
}

/* (a) bus address versus physical address */
static void test_addresses(void)
{
	struct dmalab_dma_addrs a;
	struct dmalab_dma_seg seg[4];
	uint8_t *buf = aligned_alloc(PG, PG);
	uint64_t phys, last;
	int ok;

	if (!buf)
		return;
	memset(buf, 1, PG);
	phys = phys_of(buf);
	ok = d2h(buf, 2048);
	last = read_dbg("last_addr");
	/* one buffer's three addresses, for the table of docs/concepts.md */
	diag("%s: page at virtual %p, physical %#" PRIx64 ", the device's "
	     "last bus address %#" PRIx64, config, (void *)buf, phys, last);
	tap(ok && phys && last != ~0ULL,
	    "a D2H into one page; its physical address (pagemap) and the "
	    "device's DBG_LAST_ADDR read");

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.max = 4;
	a.uaddr = (uintptr_t)buf;
	a.len = PG;
	a.segs = (uintptr_t)seg;
	a.write = 1;
	ok = ioctl(fd, DMALAB_IOC_DMA_ADDRS, &a) == 0 && a.count == 1;
	if (ok)
		diag("DMA_ADDRS: bus %#" PRIx64 " phys %#" PRIx64 " len %"
		     PRIu64, (uint64_t)seg[0].bus, (uint64_t)seg[0].phys,
		     (uint64_t)seg[0].len);
	tap(ok && seg[0].phys == phys && seg[0].len == PG,
	    "DMA_ADDRS maps the page as one segment and reports its "
	    "physical address");

	if (is_config("default")) {
		tap(last / PG == phys / PG && seg[0].bus == phys,
		    "default: the device saw the physical address "
		    "(DBG_LAST_ADDR %#" PRIx64 ")", last);
	} else if (is_config("iommu")) {
		tap(last / PG != phys / PG && seg[0].bus != phys,
		    "iommu: the device saw an IOVA %#" PRIx64 ", not the "
		    "physical address %#" PRIx64, last, phys);
	} else {
		tap_skip_n(1, "bus versus physical address: default and "
			   "iommu only");
	}

	a.count = 0;
	a.max = 0;
	ok = ioctl(fd, DMALAB_IOC_DMA_ADDRS, &a) == -1 && errno == EINVAL;
	a.max = 4;
	a.len = 0;
	ok = ok && ioctl(fd, DMALAB_IOC_DMA_ADDRS, &a) == -1 &&
	     errno == EINVAL;
	a.len = PG;
	a.uaddr = 4096;
	ok = ok && ioctl(fd, DMALAB_IOC_DMA_ADDRS, &a) == -1 &&
	     errno == EFAULT;
	tap(ok, "DMA_ADDRS rejects bad arguments (EINVAL, EFAULT)");
	free(buf);
}

/* (b) a DMA to an address that was unmapped */
static void test_stale(void)
{
	struct dmalab_test_stale t;
	int r, e;

	memset(&t, 0, sizeof(t));
	t.len = 512;
	t.write = 1;
	r = ioctl(fd, DMALAB_IOC_TEST_STALE, &t);
	e = errno;
	if (is_config("iommu")) {
		tap(r == 0 && t.status == DMALAB_STS_DMA_WRITE,
		    "iommu: D2H to the unmapped IOVA %#" PRIx64 " faults "
		    "(status %#x)", (uint64_t)t.bus, t.status);
		/*
		 * An IOMMU records a fault until its driver's handler has
		 * read and cleared it (VT-d's fault recording register); one
		 * that comes sooner may be dropped unlogged.  Lab 6 reads
		 * both from the kernel log, so the second waits a little.
		 */
		usleep(100 * 1000);
		memset(&t, 0, sizeof(t));
		t.len = 512;
		r = ioctl(fd, DMALAB_IOC_TEST_STALE, &t);
		tap(r == 0 && t.status == DMALAB_STS_DMA_READ,
		    "iommu: H2D from the unmapped IOVA faults (status %#x)",
		    t.status);
	} else if (is_config("swiotlb")) {
		tap(r == -1 && e == EOPNOTSUPP,
		    "swiotlb: refused, a stale slot may be someone else's "
		    "(%s)", r ? strerror(e) : "done");
		tap_skip_n(1, "stale H2D: iommu only");
	} else {
		diag("%s: stale D2H: %s, status %#x", config,
		     r ? strerror(e) : "done", t.status);
		tap_skip_n(2, "stale bus address faults: iommu only");
	}
}

/* (c) dma_sync_* on a reused streaming buffer */
static int stream(void *p, uint32_t len, uint64_t devoff, int write)
{
	struct dmalab_test_stream t;

	memset(&t, 0, sizeof(t));
	t.uaddr = (uintptr_t)p;
	t.devmem = devoff;
	t.len = len;
	t.write = write;
	if (ioctl(fd, DMALAB_IOC_TEST_STREAM, &t)) {
		diag("TEST_STREAM: %s", strerror(errno));
		return 0;
	}
	return t.status == DMALAB_STS_OK;
}

static void test_sync(void)
{
	enum { LEN = 8192, OFF = 200000 };
	static uint8_t a[LEN], b[LEN], c[LEN], got[LEN];
	struct dmalab_stats s0, s1;
	int ok, right_a, right_b, right_c;
	size_t i;

	for (i = 0; i < LEN; i++) {
		a[i] = (uint8_t)rng_next(&rs);
		b[i] = (uint8_t)rng_next(&rs);
		c[i] = (uint8_t)rng_next(&rs);
	}
	if (write_dbg("test_skip_sync", "0")) {
		tap_skip_n(5, "no debugfs test_skip_sync");
		return;
	}
	/* with the syncs: right both ways */
	ok = stream(a, LEN, OFF, 1) && pread(fd, got, LEN, OFF) == LEN;
	right_a = ok && !memcmp(got, a, LEN);
	memset(got, 0, LEN);
	ok = ok && stream(got, LEN, OFF, 0);
	tap(right_a && ok && !memcmp(got, a, LEN),
	    "streaming buffer with dma_sync_*: data right both ways");

	/* without them: same() shows the first byte that went wrong */
	write_dbg("test_skip_sync", "1");
	ok = stream(b, LEN, OFF, 1) && pread(fd, got, LEN, OFF) == LEN;
	right_b = ok && same(got, b, LEN, "H2D without the sync for the "
			     "device: device memory");
	ok = ok && pwrite(fd, c, LEN, OFF) == LEN;
	memset(got, 0, LEN);
	ok = ok && stream(got, LEN, OFF, 0);
	right_c = ok && same(got, c, LEN, "D2H without the sync for the "
			     "CPU: the buffer");
	write_dbg("test_skip_sync", "0");
	if (is_config("swiotlb")) {
		tap(ok && !right_b,
		    "swiotlb: without dma_sync_single_for_device the device "
		    "reads the stale bounce slot");
		tap(ok && !right_c,
		    "swiotlb: without dma_sync_single_for_cpu the CPU reads "
		    "stale data");
	} else {
		diag("%s: without syncs the data is %s / %s", config,
		     right_b ? "right" : "wrong", right_c ? "right" : "wrong");
		tap_skip_n(2,
			   "skipping the syncs breaks the data: swiotlb only");
	}

	/* syncs back on: right again */
	ok = stream(a, LEN, OFF, 1) && pread(fd, got, LEN, OFF) == LEN &&
	     !memcmp(got, a, LEN);
	tap(ok, "syncs back on: data right again");

	/* the bounce counter */
	s0 = dev_stats(fd);
	ok = pwrite(fd, a, LEN, OFF) == LEN;
	s1 = dev_stats(fd);
	diag("mappings %" PRIu64 " -> %" PRIu64 ", remapped %" PRIu64
	     " -> %" PRIu64, (uint64_t)s0.mappings, (uint64_t)s1.mappings,
	     (uint64_t)s0.remapped, (uint64_t)s1.remapped);
	if (is_config("swiotlb") || is_config("iommu"))
		tap(ok && s1.mappings > s0.mappings &&
		    s1.remapped > s0.remapped,
		    "%s: the remapped (bounce) counter rises with a pwrite",
		    config);
	else if (is_config("default"))
		tap(ok && s1.mappings > s0.mappings &&
		    s1.remapped == s0.remapped,
		    "default: mappings counted, none remapped");
	else
		tap_skip_n(1, "bounce counter: default, iommu and swiotlb");
}

/* (d) dma32: buffers above 4 GiB are bounced */
static void test_dma32(void)
{
	size_t len = 256UL << 20, i, npg = len / PG, nhigh = 0;
	uint8_t *mem, *hi[2] = { NULL, NULL };
	struct dmalab_stats s0, s1;
	int ok;

	if (!is_config("dma32")) {
		tap_skip_n(3, "pages above 4 GiB: dma32 only");
		return;
	}
	tap(info.dma_bits == 32, "dma32: the driver uses a %u-bit DMA mask",
	    info.dma_bits);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	/*
	 * Not skips: dma32 boots 6 GiB so that such pages exist, and a run
	 * that found none would have shown nothing of the bounce.
	 */
	if (mem == MAP_FAILED) {
		tap(0, "dma32: 256 MiB for the search: %s", strerror(errno));
		tap(0, "dma32: no pages above 4 GiB to bounce");
		return;
	}
	for (i = 0; i < npg && nhigh < 2; i++) {
		mem[i * PG] = 1;
		if (phys_of(mem + i * PG) >= (1ULL << 32))
			hi[nhigh++] = mem + i * PG;
	}
	diag("pages above 4 GiB found after scanning %zu of %zu", i, npg);
	if (nhigh < 2) {
		tap(0, "dma32: %zu of 2 pages above 4 GiB in 256 MiB", nhigh);
		tap(0, "dma32: no pages above 4 GiB to bounce");
		munmap(mem, len);
		return;
	}
	for (i = 0; i < PG; i++)
		hi[0][i] = (uint8_t)rng_next(&rs);
	memset(hi[1], 0, PG);
	s0 = dev_stats(fd);
	ok = pwrite(fd, hi[0], PG, 4096) == PG &&
	     pread(fd, hi[1], PG, 4096) == PG && !memcmp(hi[0], hi[1], PG);
	s1 = dev_stats(fd);
	tap(ok, "a page at %#" PRIx64 " written to the device and read back "
	    "into a page at %#" PRIx64 ": every byte", phys_of(hi[0]),
	    phys_of(hi[1]));
	tap(s1.remapped >= s0.remapped + 2,
	    "both were bounced below 4 GiB: remapped %" PRIu64 " -> %" PRIu64,
	    (uint64_t)s0.remapped, (uint64_t)s1.remapped);
	munmap(mem, len);
}

int main(int argc, char **argv)
{
	const char *dev;

	dev = test_begin(argc, argv, "dmalab_dmaaddr", NTESTS, &rs);
	vm_config_name(config, sizeof(config));
	diag("config %s", config);
	fd = dev_open(dev, &info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	if (geteuid() != 0 ||
	    dbg_path(dev, NULL, dbgdir, sizeof(dbgdir), R_OK) ||
	    !(info.features & DMALAB_FEAT_DEBUG)) {
		tap_skip_n(NTESTS,
			   "needs root, debugfs and the device's debug block");
		return tap_done();
	}
	tap(1, "device %s, %u-bit DMA", dev, info.dma_bits);

	test_addresses();	/* 4 */
	test_stale();		/* 2 */
	test_sync();		/* 5 */
	test_dma32();		/* 3 */
	{
		struct dmalab_test_stream t;

		memset(&t, 0, sizeof(t));
		t.len = 70000;
		tap(ioctl(fd, DMALAB_IOC_TEST_STREAM, &t) == -1 &&
		    errno == EINVAL, "TEST_STREAM rejects a too long buffer");
	}
	close(fd);
	return tap_done();
}
