// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_mmap: mmap of device memory (BAR2, write-combining), of the
 * file's DMA-coherent buffer, and of its non-coherent buffer (pages of
 * dma_alloc_pages mapped with remap_pfn_range, handed to the device and
 * back with explicit syncs), checked against DMA through the device.
 * Output is TAP.
 *
 * Usage: dmalab_mmap [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <sys/mman.h>

#define CBUF_SIZE	(256 * 1024)
#define NCBUF_SIZE	(256 * 1024)
#define NTESTS		24

static uint64_t rs;		/* the test's PRNG */
static int fd;
static struct dmalab_info info;
static const char *devname;

/* The driver's own write-combining kernel mapping, through debugfs. */
static int kernel_view_matches(size_t off, const uint8_t *want, size_t n)
{
	char path[256];
	uint8_t *got;
	int dfd, ok;

	if (dbg_path(devname, "devmem", path, sizeof(path), R_OK))
		return 0;
	got = malloc(n);
	dfd = open(path, O_RDONLY);
	ok = got && dfd >= 0;
	/* debugfs hands out at most a page per read */
	for (size_t done = 0; ok && done < n;) {
		ssize_t r = pread(dfd, got + done, n - done,
				  (off_t)(off + done));

		ok = r > 0;
		done += ok ? (size_t)r : 0;
	}
	ok = ok && same(got, want, n, "debugfs devmem after pwrite");
	if (dfd >= 0)
		close(dfd);
	free(got);
	return ok;
}

/* An op on any queue. */
static void op_any(struct dmalab_op *op, uint32_t opcode, uint32_t len,
		   uint32_t skind, uint64_t saddr, uint32_t dkind,
		   uint64_t daddr)
{
	op_xfer(op, opcode, DMALAB_QUEUE_ANY, len, skind, saddr, dkind, daddr);
}

#if defined(__x86_64__) || defined(__i386__)
/* Start and end of BAR bar of the device, from its sysfs resource file. */
static int bar_range(int bar, unsigned long long *start,
		     unsigned long long *end)
{
	char bdf[64], path[PATH_MAX];
	unsigned long long flags;
	FILE *f;
	int i, ok = 0;

	if (misc_pci_addr(dev_name(devname), bdf, sizeof(bdf)))
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= bar; i++)
		ok = fscanf(f, "%llx %llx %llx", start, end, &flags) == 3;
	fclose(f);
	return ok && *end > *start;
}

struct memtypes {
	int n;		/* entries of the PAT list overlapping the range */
	int wc;		/* ... of them write-combining */
	char first[64];	/* the type of one that is not what was wanted */
};

/*
 * The x86 PAT's memory types of the ranges that overlap [start, end]:
 * lines "PAT: [mem 0x...-0x...] write-combining" of debugfs's
 * x86/pat_memtype_list, one per reservation (the driver's ioremap, each
 * user mapping).  0, or -1 if the list cannot be read.
 */
static int pat_types(unsigned long long start, unsigned long long end,
		     int want_wc, struct memtypes *mt)
{
	FILE *f = fopen("/sys/kernel/debug/x86/pat_memtype_list", "r");
	unsigned long long a, b;
	char line[256], type[64];

	memset(mt, 0, sizeof(*mt));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		int is_wc;

		if (sscanf(line, "PAT: [mem %llx-%llx] %63s", &a, &b, type) != 3 ||
		    b <= start || a > end)
			continue;
		is_wc = !strcmp(type, "write-combining");
		mt->n++;
		mt->wc += is_wc;
		if (!mt->first[0] && is_wc != want_wc)
			snprintf(mt->first, sizeof(mt->first), "%s", type);
	}
	fclose(f);
	return 0;
}

/*
 * Write-combining, asserted: with the device memory mapped, the PAT holds
 * the user's mapping of BAR2 as write-combining beside the driver's own
 * (ioremap_wc), and one entry fewer once it is unmapped; the registers'
 * mapping (BAR0, ioremap) is uncached, never write-combining.
 */
static void test_pat(volatile uint8_t *m, size_t sz)
{
	unsigned long long s0, e0, s2, e2;
	struct memtypes regs, mem, after;
	int ok;

	if (!bar_range(0, &s0, &e0) || !bar_range(2, &s2, &e2)) {
		munmap((void *)m, sz);
		tap(0, "PAT memory types: cannot read the BARs of %s", devname);
		return;
	}
	if (pat_types(s2, e2, 1, &mem) || pat_types(s0, e0, 0, &regs)) {
		tap(0, "PAT memory types: /sys/kernel/debug/x86/pat_memtype_list: %s",
		    strerror(errno));
		munmap((void *)m, sz);
		return;
	}
	munmap((void *)m, sz);
	pat_types(s2, e2, 1, &after);
	ok = mem.n >= 2 && mem.wc == mem.n && after.n == mem.n - 1 &&
	     after.wc == after.n && regs.n >= 1 && regs.wc == 0;
	if (!ok)
		diag("BAR2 %#llx-%#llx: %d entries, %d write-combining, %d after munmap; BAR0 %#llx-%#llx: %d entries, %d write-combining; first other type: %s%s",
		     s2, e2, mem.n, mem.wc, after.n, s0, e0, regs.n, regs.wc,
		     mem.first, regs.first);
	tap(ok, "PAT: device memory write-combining in all %d reservations, the user's mapping among them; the registers in none of theirs (%d)",
	    mem.n, regs.n);
}
#else
static void test_pat(volatile uint8_t *m, size_t sz)
{
	munmap((void *)m, sz);
	tap_skip("the PAT and its memtype list are x86's; this architecture sets memory types in its page tables alone");
}
#endif

static void test_devmem(void)
{
	size_t sz = info.devmem_size;
	volatile uint8_t *m;
	uint8_t *buf, *back;
	size_t off, n = sz < 65536 ? sz : 65536, i;
	int ok;

	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap(m != MAP_FAILED, "mmap all of device memory (%zu bytes)", sz);
	if (m == MAP_FAILED) {
		diag("mmap: %s", strerror(errno));
		for (i = 0; i < 5; i++)
			tap(0, "device memory mapping unavailable");
		return;
	}
	buf = malloc(n);
	back = malloc(n);
	if (!buf || !back)
		tap_bail("no memory");

	/* DMA in, CPU reads the mapping */
	off = sz - n - 5;
	fill_rand(&rs, buf, n);
	ok = pwrite(fd, buf, n, (off_t)off) == (ssize_t)n &&
	     same(m + off, buf, n, "mapping after pwrite");
	tap(ok, "data written by DMA (pwrite) is seen through the mapping");
	tap(kernel_view_matches(off, buf, n),
	    "the driver's write-combining kernel mapping (debugfs devmem) sees it too");

	/* CPU writes the mapping, DMA out */
	off = 3;
	fill_rand(&rs, buf, n);
	for (i = 0; i < n; i++)
		m[off + i] = buf[i];
	__sync_synchronize();	/* drain write-combining buffers */
	memset(back, 0, n);
	ok = pread(fd, back, n, (off_t)off) == (ssize_t)n &&
	     same(back, buf, n, "pread after mapping writes");
	tap(ok, "data written through the mapping is read by DMA (pread)");

	/* a mapping at a page offset sees the same bytes */
	{
		volatile uint8_t *m2 = mmap(NULL, 4096, PROT_READ,
					     MAP_SHARED, fd, 4096);

		ok = m2 != MAP_FAILED && same(m2, (uint8_t *)m + 4096, 4096,
					      "mapping at offset 4096");
		if (m2 != MAP_FAILED)
			munmap((void *)m2, 4096);
		tap(ok, "mapping at page offset 4096 aliases the same memory");
	}
	test_pat(m, sz);	/* unmaps m */
	free(buf);
	free(back);
}

static void test_bad_mmaps(void)
{
	size_t sz = info.devmem_size;
	void *p1, *p2, *p3;
	int e1, e2, e3;

	p1 = mmap(NULL, sz + 4096, PROT_READ, MAP_SHARED, fd, 0);
	e1 = errno;
	p2 = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	e2 = errno;
	p3 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
		  (off_t)(DMALAB_MMAP_COHERENT + 4096));
	e3 = errno;
	tap(p1 == MAP_FAILED && p2 == MAP_FAILED && p3 == MAP_FAILED &&
	    e2 == EINVAL && e3 == EINVAL,
	    "mmap beyond device memory, MAP_PRIVATE and a bad offset fail (%s, %s, %s)",
	    strerror(e1), strerror(e2), strerror(e3));
	if (p1 != MAP_FAILED)
		munmap(p1, sz + 4096);
	if (p2 != MAP_FAILED)
		munmap(p2, 4096);
	if (p3 != MAP_FAILED)
		munmap(p3, 4096);
}

static void test_coherent(void)
{
	const uint32_t n = 64 * 1024;
	uint8_t *cb, *cb2, *user, *want;
	struct dmalab_op op;
	uint64_t pat = 0xfeedfacecafebeefULL;
	uint32_t i;
	int ok;
	void *big;

	cb = mmap(NULL, CBUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	tap(cb != MAP_FAILED, "mmap a %d KiB coherent buffer",
	    CBUF_SIZE / 1024);
	if (cb == MAP_FAILED) {
		diag("mmap coherent: %s", strerror(errno));
		for (i = 0; i < 7; i++)
			tap(0, "coherent buffer unavailable");
		return;
	}
	user = malloc(n);
	want = malloc(n);
	if (!user || !want)
		tap_bail("no memory");

	/* CPU fills the coherent buffer; H2D from it; D2H to user memory */
	fill_rand(&rs, cb + 100, n);
	memcpy(want, cb + 100, n);
	op_any(&op, DMALAB_UOP_H2D, n, DMALAB_BUF_COHERENT, 100,
		DMALAB_BUF_DEVMEM, 8192);
	ok = submit_ok(fd, &op);
	memset(user, 0, n);
	ok = ok && pread(fd, user, n, 8192) == (ssize_t)n &&
	     same(user, want, n, "devmem after H2D from coherent");
	tap(ok, "H2D from the coherent buffer");

	/* D2H into the coherent buffer, CPU reads it */
	memset(cb, 0, CBUF_SIZE);
	op_any(&op, DMALAB_UOP_D2H, n, DMALAB_BUF_DEVMEM, 8192,
		DMALAB_BUF_COHERENT, CBUF_SIZE - n);
	ok = submit_ok(fd, &op) && same(cb + CBUF_SIZE - n, want, n,
				    "coherent after D2H");
	for (i = 0; ok && i < CBUF_SIZE - n; i++)
		if (cb[i]) {
			diag("coherent byte %u written outside the op", i);
			ok = 0;
		}
	tap(ok, "D2H into the coherent buffer, nothing else touched");

	/* COPY user -> coherent and coherent -> user */
	fill_rand(&rs, user, n);
	op_any(&op, DMALAB_UOP_COPY, n, DMALAB_BUF_USER, (uintptr_t)user,
		DMALAB_BUF_COHERENT, 1);
	ok = submit_ok(fd, &op) &&
	     same(cb + 1, user, n, "coherent after COPY");
	memcpy(want, user, n);
	memset(user, 0, n);
	op_any(&op, DMALAB_UOP_COPY, n, DMALAB_BUF_COHERENT, 1,
		DMALAB_BUF_USER, (uintptr_t)user);
	ok = ok && submit_ok(fd, &op) && same(user, want, n, "user after COPY");
	tap(ok, "COPY between user memory and the coherent buffer");

	/* FILL the coherent buffer */
	op_any(&op, DMALAB_UOP_FILL, 1000, DMALAB_BUF_NONE, 0,
		DMALAB_BUF_COHERENT, 4096);
	op.pattern = pat;
	ok = submit_ok(fd, &op);
	for (i = 0; ok && i < 1000; i++)
		if (cb[4096 + i] != (uint8_t)(pat >> (8 * (i % 8)))) {
			diag("FILL byte %u is %#x", i, cb[4096 + i]);
			ok = 0;
		}
	tap(ok, "FILL into the coherent buffer");

	/* range checks and a second mapping of the same buffer */
	op_any(&op, DMALAB_UOP_H2D, 4096, DMALAB_BUF_COHERENT,
		CBUF_SIZE - 4095, DMALAB_BUF_DEVMEM, 0);
	ok = ioctl(fd, DMALAB_IOC_SUBMIT, &op) == -1 && errno == EINVAL;
	cb2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
		   (off_t)DMALAB_MMAP_COHERENT);
	ok = ok && cb2 != MAP_FAILED && cb2[0] == cb[0] && cb2[1] == cb[1];
	if (cb2 != MAP_FAILED)
		munmap(cb2, 4096);
	big = mmap(NULL, CBUF_SIZE + 4096, PROT_READ, MAP_SHARED, fd,
		   (off_t)DMALAB_MMAP_COHERENT);
	ok = ok && big == MAP_FAILED;
	tap(ok, "coherent range is checked; a second mapping shares it");

	/* a new file has no coherent buffer yet; too large is refused */
	{
		char path[64];
		int g;
		void *p;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		g = open(path, O_RDWR);
		op_any(&op, DMALAB_UOP_H2D, 16, DMALAB_BUF_COHERENT, 0,
			DMALAB_BUF_DEVMEM, 0);
		ok = g >= 0 && ioctl(g, DMALAB_IOC_SUBMIT, &op) == -1 &&
		     errno == EINVAL;
		p = g >= 0 ? mmap(NULL, (size_t)info.coherent_max + 4096,
				  PROT_READ, MAP_SHARED, g,
				  (off_t)DMALAB_MMAP_COHERENT) : MAP_FAILED;
		ok = ok && p == MAP_FAILED;
		if (p != MAP_FAILED)
			munmap(p, (size_t)info.coherent_max + 4096);
		if (g >= 0)
			close(g);
	}
	tap(ok, "another open file has no coherent buffer; oversize refused");

	/* unmapped and mapped again, the buffer keeps its contents */
	munmap(cb, CBUF_SIZE);
	cb = mmap(NULL, CBUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	ok = cb != MAP_FAILED;
	for (i = 0; ok && i < 1000; i++)
		if (cb[4096 + i] != (uint8_t)(pat >> (8 * (i % 8))))
			ok = 0;
	tap(ok, "the coherent buffer keeps its contents while the file is open");
	if (cb != MAP_FAILED)
		munmap(cb, CBUF_SIZE);
	free(user);
	free(want);
}

/* The VmFlags of the mapping at p in /proc/self/smaps ("" if not found). */
static void vma_flags(const void *p, char *flags, size_t sz)
{
	char line[512];
	unsigned long start, end;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	flags[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= start && (uintptr_t)p < end;
		else if (in && !strncmp(line, "VmFlags:", 8))
			snprintf(flags, sz, "%.*s", (int)sz - 1, line + 8);
	}
	if (f)
		fclose(f);
}

/* The /proc/self/pagemap entry of the page at p (0 if unreadable). */
static uint64_t pagemap_entry(const void *p)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t e = 0;

	if (pm < 0 || pread(pm, &e, 8, (off_t)((uintptr_t)p / psz) * 8) != 8)
		e = 0;
	if (pm >= 0)
		close(pm);
	return e;
}

#define PM_PRESENT	(1ULL << 63)
#define PM_PFN		((1ULL << 55) - 1)

/*
 * The page walker behind /proc/self/pagemap skips VM_PFNMAP areas: it
 * reports their pages as holes, though they are mapped, because they need
 * not have a struct page.  The page buffer's pages, faulted in as struct
 * pages, show up with their frame numbers.
 */
static int pagemap_shows_hole(const uint8_t *nc, size_t len)
{
	volatile uint8_t *pb;
	uint64_t e;
	int ok = 1;

	for (size_t off = 0; off < len; off += 4096) {
		e = pagemap_entry(nc + off);
		if (e & PM_PRESENT) {
			diag("non-coherent page at %zu: pagemap %#llx", off,
			     (unsigned long long)e);
			ok = 0;
		}
	}
	pb = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_PAGEBUF);
	if (pb == MAP_FAILED)
		return 0;
	pb[0] = 1;
	e = pagemap_entry((const void *)pb);
	if (!(e & PM_PRESENT) || !(e & PM_PFN)) {
		diag("page buffer page: pagemap %#llx", (unsigned long long)e);
		ok = 0;
	}
	munmap((void *)pb, 4096);
	return ok;
}

struct sync_seen {
	unsigned long long addr;
	int n;
};

/*
 * Count the kernel's dma_sync_single_for_<which> events of device bdf
 * with this direction and size in trace; their address to seen->addr
 * (every one must have the same).
 */
static void syncs_in(char *trace, const char *bdf, const char *which,
		     const char *dir, size_t size, struct sync_seen *seen)
{
	char want[160], *line, *save = NULL, *copy = strdup(trace);

	snprintf(want, sizeof(want), "dma_sync_single_for_%s: %s dir=%s dma_addr=",
		 which, bdf, dir);
	seen->n = 0;
	seen->addr = 0;
	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, want), *end;
		unsigned long long a;

		if (!p)
			continue;
		a = strtoull(p + strlen(want), &end, 16);
		if (strncmp(end, " size=", 6) || strtoull(end + 6, NULL, 10) != size)
			continue;
		if (seen->n && a != seen->addr)
			seen->n = -1000;
		seen->addr = a;
		seen->n++;
	}
	free(copy);
}

/*
 * Whether the kernel calls the syncs here at all: a device that is
 * coherent and never bounced has its syncs skipped (dma_skip_sync, 6.12),
 * unless DMA-API debugging is on.
 */
static const char *syncs_hidden_why(const char *dir)
{
	char ops[32], path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/events/dma/dma_sync_single_for_device",
		 dir);
	if (access(path, F_OK))
		return "the kernel has no dma tracepoints (before 6.12)";
	if (!access("/sys/kernel/debug/dma-api", F_OK))
		return NULL;
	expect_get("dma_ops", ops, sizeof(ops));
	if (!strcmp(ops, "swiotlb"))
		return NULL;
	return "the device is coherent and never bounced: the kernel skips its syncs (dma_skip_sync)";
}

/*
 * The syncs, as the kernel's own dma tracepoints see them: an H2D from
 * the buffer is handed over for the device (TO_DEVICE) and back to the
 * CPU once done, a D2H into it likewise (FROM_DEVICE), each at the op's
 * range of the buffer.
 */
static void test_nc_syncs(uint8_t *nc)
{
	static const char *const events[] = {
		"dma/dma_sync_single_for_device",
		"dma/dma_sync_single_for_cpu", NULL,
	};
	const char *dir = tracefs(), *why;
	struct sync_seen h2d_dev, h2d_cpu, d2h_dev, d2h_cpu;
	char bdf[64], *trace;
	struct dmalab_op op;
	size_t n;
	int ok;

	why = dir ? syncs_hidden_why(dir) : "no tracefs";
	if (why) {
		tap_skip("syncs through the dma tracepoints: %s", why);
		return;
	}
	ok = !misc_pci_addr(dev_name(devname), bdf, sizeof(bdf)) &&
	     trace_start(dir, events);
	fill_rand(&rs, nc + 8192, 12288);
	op_any(&op, DMALAB_UOP_H2D, 12288, DMALAB_BUF_NONCOHERENT, 8192,
	       DMALAB_BUF_DEVMEM, 16384);
	ok &= submit_ok(fd, &op);
	op_any(&op, DMALAB_UOP_D2H, 20480, DMALAB_BUF_DEVMEM, 16384,
	       DMALAB_BUF_NONCOHERENT, 65536);
	ok &= submit_ok(fd, &op);
	trace = trace_stop(dir, "dma", &n);
	ok &= n > 0;
	if (ok) {
		syncs_in(trace, bdf, "device", "TO_DEVICE", 12288, &h2d_dev);
		syncs_in(trace, bdf, "cpu", "TO_DEVICE", 12288, &h2d_cpu);
		syncs_in(trace, bdf, "device", "FROM_DEVICE", 20480, &d2h_dev);
		syncs_in(trace, bdf, "cpu", "FROM_DEVICE", 20480, &d2h_cpu);
		ok = h2d_dev.n == 1 && h2d_cpu.n == 1 && d2h_dev.n == 1 &&
		     d2h_cpu.n == 1 && h2d_cpu.addr == h2d_dev.addr &&
		     d2h_cpu.addr == d2h_dev.addr &&
		     d2h_dev.addr - h2d_dev.addr == 65536 - 8192;
		if (!ok)
			diag("syncs: H2D for_device %d for_cpu %d (%#llx, %#llx), D2H for_device %d for_cpu %d (%#llx, %#llx)",
			     h2d_dev.n, h2d_cpu.n, h2d_dev.addr, h2d_cpu.addr,
			     d2h_dev.n, d2h_cpu.n, d2h_dev.addr, d2h_cpu.addr);
	}
	free(trace);
	tap(ok, "the kernel's dma tracepoints see each op's range handed to the device and back: TO_DEVICE for an H2D, FROM_DEVICE for a D2H");
}

static void test_noncoherent(void)
{
	const uint32_t n = 64 * 1024;
#if defined(__aarch64__)
	const uint32_t want_align = 128;
#else
	const uint32_t want_align = 1;
#endif
	uint8_t *nc, *nc2, *user, *want;
	struct dmalab_op op;
	char flags[512];
	int ok, e;

	nc = mmap(NULL, NCBUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_NONCOHERENT);
	if (nc == MAP_FAILED) {
		diag("mmap non-coherent: %s", strerror(errno));
		for (int i = 0; i < 8; i++)
			tap(0, "non-coherent buffer unavailable");
		return;
	}
	vma_flags(nc, flags, sizeof(flags));
	diag("non-coherent mapping VmFlags:%s", flags);
	tap(strstr(flags, " io") && strstr(flags, " pf"),
	    "mmap a %d KiB non-coherent buffer: a remap_pfn_range mapping (VmFlags io, pf)",
	    NCBUF_SIZE / 1024);
	tap(pagemap_shows_hole(nc, NCBUF_SIZE),
	    "pagemap sees the PFN mapping as a hole (no struct pages walked), the page buffer's faulted page with its frame number");

	user = malloc(n);
	want = malloc(n);
	if (!user || !want)
		tap_bail("no memory");

	/* the CPU writes through the mapping, the device reads the pages */
	fill_rand(&rs, nc + 4096, n);
	memcpy(want, nc + 4096, n);
	op_any(&op, DMALAB_UOP_H2D, n, DMALAB_BUF_NONCOHERENT, 4096,
	       DMALAB_BUF_DEVMEM, 0);
	ok = submit_ok(fd, &op);
	memset(user, 0, n);
	ok = ok && pread(fd, user, n, 0) == (ssize_t)n &&
	     same(user, want, n, "devmem after H2D from the non-coherent buffer");
	tap(ok, "H2D from the non-coherent buffer: the device reads what the CPU wrote through the mapping");

	/* the device writes the pages, the CPU reads them through the mapping */
	memset(nc, 0x5a, NCBUF_SIZE);
	op_any(&op, DMALAB_UOP_D2H, n, DMALAB_BUF_DEVMEM, 0,
	       DMALAB_BUF_NONCOHERENT, 2 * n);
	ok = submit_ok(fd, &op) &&
	     same(nc + 2 * n, want, n, "non-coherent buffer after D2H") &&
	     all_bytes(nc, 2 * n, 0x5a) &&
	     all_bytes(nc + 3 * n, NCBUF_SIZE - 3 * n, 0x5a);
	tap(ok, "D2H into the non-coherent buffer, seen through the mapping, nothing else touched");

	/* a second mapping shares the pages; another file has its own */
	nc2 = mmap(NULL, 4 * 4096, PROT_READ, MAP_SHARED, fd,
		   (off_t)DMALAB_MMAP_NONCOHERENT);
	ok = nc2 != MAP_FAILED && !memcmp(nc2, nc, 4 * 4096);
	if (nc2 != MAP_FAILED)
		munmap(nc2, 4 * 4096);
	op_any(&op, DMALAB_UOP_H2D, 4096, DMALAB_BUF_NONCOHERENT,
	       NCBUF_SIZE - 4095, DMALAB_BUF_DEVMEM, 0);
	ok = ok && ioctl(fd, DMALAB_IOC_SUBMIT, &op) == -1 && errno == EINVAL;
	nc2 = mmap(NULL, NCBUF_SIZE + 4096, PROT_READ, MAP_SHARED, fd,
		   (off_t)DMALAB_MMAP_NONCOHERENT);
	ok = ok && nc2 == MAP_FAILED;
	tap(ok, "a second mapping shares the pages; ranges and sizes are checked");

	/*
	 * The grain of the CPU's cache maintenance: a device write to the
	 * buffer covers whole lines of it, or is refused.
	 */
	op_any(&op, DMALAB_UOP_D2H, 100, DMALAB_BUF_DEVMEM, 0,
	       DMALAB_BUF_NONCOHERENT, 1);
	e = ioctl(fd, DMALAB_IOC_SUBMIT, &op) ? errno : 0;
	if (want_align == 1)
		ok = !e && op.status == DMALAB_STS_OK &&
		     same(nc + 1, want, 100, "unaligned D2H");
	else
		ok = e == EINVAL;
	diag("dma_align %u, unaligned device write: %s", info.dma_align,
	     strerror(e));
	tap(ok && info.dma_align == want_align &&
	    info.noncoherent_max == info.coherent_max,
	    "dma_get_cache_alignment() is %u here; an unaligned device write is %s",
	    want_align, want_align == 1 ? "fine" : "refused (EINVAL)");

	/* a PFN mapping has no pages to pin */
	op_any(&op, DMALAB_UOP_H2D, 4096, DMALAB_BUF_USER, (uintptr_t)nc,
	       DMALAB_BUF_DEVMEM, 0);
	e = ioctl(fd, DMALAB_IOC_SUBMIT, &op) ? errno : 0;
	tap(e == EFAULT, "the mapping cannot be used as a user buffer: its pages cannot be pinned (%s)",
	    strerror(e));

	test_nc_syncs(nc);
	munmap(nc, NCBUF_SIZE);
	free(user);
	free(want);
}

int main(int argc, char **argv)
{
	const char *dev;

	dev = test_begin(argc, argv, "dmalab_mmap", NTESTS, &rs);
	devname = dev;
	fd = dev_open(dev, &info);
	tap(fd >= 0 && info.devmem_size >= 2 * 65536 &&
	    info.max_xfer >= 65536, "open %s and DMALAB_IOC_INFO", dev);
	if (fd < 0 || info.devmem_size < 2 * 65536 || info.max_xfer < 65536)
		tap_bail("cannot use %s", dev);

	test_devmem();		/* 6 */
	test_bad_mmaps();	/* 1 */
	test_coherent();	/* 8 */
	test_noncoherent();	/* 8 */
	close(fd);
	return tap_done();
}
