// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_isa: the ISA device and its driver, dmalab_isa.ko, whose every
 * transfer the 8237 DMA controller performs.
 *
 * The configuration names its ISA devices in dmalab.expect=isa:DEVS,
 * DEVS being IO/IRQ/DMA triples joined by '+' (scripts/vm-configs.sh).
 * The program loads the module with them and checks, on each device:
 *  - /proc/dma lists each channel under the device's name, and the
 *    driver's buffer lies below 16 MiB;
 *  - pwrite/pread move bytes exactly, both ways, at any offset, and the
 *    end of the device's memory behaves like the end of a file; a 16-bit
 *    channel refuses odd offsets and lengths;
 *  - the 8237's modes, programmed through DMALAB_ISA_IOC_XFER: single and
 *    block, with and without auto-init, with the residue it leaves;
 *  - what the controller cannot do: a channel count shorter than the
 *    device's length (the device's COUNT error), a range beyond the
 *    device's memory (RANGE), a block across a 64 KiB boundary (EINVAL
 *    from the driver) and one above 16 MiB (ERANGE);
 *  - unloading the module releases the channels, and loading it again
 *    brings the devices back.
 * Elsewhere (no ISA device) every case skips, saying so.
 * Output is TAP.  Usage: dmalab_isa [seed]   (as root)
 */
#include "dmalab_test.h"
#include "dmalab_isa_uapi.h"

#include <sys/syscall.h>

#define NTESTS		(3 + MAX_DEVS * PER_DEV + 2)
#define PER_DEV		12
#define MAX_DEVS	2
#define MODULE		"/lib/modules/dmalab_isa.ko"
#define MEM		DMALAB_ISA_MEM_SIZE

_Static_assert(sizeof(struct dmalab_isa_info) == 40, "info layout");
_Static_assert(sizeof(struct dmalab_isa_xfer) == 40, "xfer layout");

struct isa_dev {
	unsigned int io, irq, dma;
	char path[32];
	int fd;
	struct dmalab_isa_info info;
};

static struct isa_dev devs[MAX_DEVS];
static int ndevs;
static char params[256];
static uint64_t rs;

/* Parse "0x300/5/1+0x310/7/5" into devs[] and the module's parameters. */
static int parse_devs(const char *spec)
{
	char ios[96] = "", irqs[64] = "", dmas[64] = "";
	const char *p = spec;

	while (*p && ndevs < MAX_DEVS) {
		struct isa_dev *d = &devs[ndevs];
		char *end;
		size_t n;

		d->io = strtoul(p, &end, 0);
		if (*end != '/')
			return -1;
		d->irq = strtoul(end + 1, &end, 0);
		if (*end != '/')
			return -1;
		d->dma = strtoul(end + 1, &end, 0);
		snprintf(d->path, sizeof(d->path), "/dev/dmalab-isa%d", ndevs);
		d->fd = -1;
		n = strlen(ios);
		snprintf(ios + n, sizeof(ios) - n, "%s0x%x", n ? "," : "", d->io);
		n = strlen(irqs);
		snprintf(irqs + n, sizeof(irqs) - n, "%s%u", n ? "," : "", d->irq);
		n = strlen(dmas);
		snprintf(dmas + n, sizeof(dmas) - n, "%s%u", n ? "," : "", d->dma);
		ndevs++;
		p = *end == '+' ? end + 1 : end;
		if (*end && *end != '+')
			return -1;
	}
	snprintf(params, sizeof(params), "io=%s irq=%s dma=%s", ios, irqs,
		 dmas);
	return ndevs ? 0 : -1;
}

static int insmod(void)
{
	int f = open(MODULE, O_RDONLY | O_CLOEXEC), e;

	if (f < 0)
		return errno;
	e = syscall(SYS_finit_module, f, params, 0) ? errno : 0;
	close(f);
	return e;
}

static int rmmod(void)
{
	return syscall(SYS_delete_module, "dmalab_isa", O_NONBLOCK) ? errno : 0;
}

static int open_devs(void)
{
	for (int i = 0; i < ndevs; i++) {
		devs[i].fd = open(devs[i].path, O_RDWR | O_CLOEXEC);
		if (devs[i].fd < 0) {
			diag("open %s: %s", devs[i].path, strerror(errno));
			return -1;
		}
		if (ioctl(devs[i].fd, DMALAB_ISA_IOC_INFO, &devs[i].info)) {
			diag("INFO %s: %s", devs[i].path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void close_devs(void)
{
	for (int i = 0; i < ndevs; i++) {
		if (devs[i].fd >= 0)
			close(devs[i].fd);
		devs[i].fd = -1;
	}
}

/* Whether /proc/dma has "CHANNEL: NAME" */
static int proc_dma_lists(unsigned int chan, const char *name)
{
	char buf[1024], want[64];

	if (read_str("/proc/dma", buf, sizeof(buf)) < 0)
		return 0;
	snprintf(want, sizeof(want), "%2u: %s\n", chan, name);
	return strstr(buf, want) != NULL;
}

static int proc_dma_has(unsigned int chan)
{
	char buf[1024], want[16];

	if (read_str("/proc/dma", buf, sizeof(buf)) < 0)
		return 0;
	snprintf(want, sizeof(want), "%2u: ", chan);
	return strstr(buf, want) != NULL;
}

static int xfer(struct isa_dev *d, struct dmalab_isa_xfer *x)
{
	return ioctl(d->fd, DMALAB_ISA_IOC_XFER, x) ? errno : 0;
}

static void xfer_init(struct dmalab_isa_xfer *x, void *data, uint32_t count,
		      uint32_t len, uint32_t devoff, uint32_t flags)
{
	memset(x, 0, sizeof(*x));
	x->data = (uintptr_t)data;
	x->count = count;
	x->len = len;
	x->devoff = devoff;
	x->flags = flags;
}

/* pwrite then pread of @len random bytes at @off, compared. */
static int roundtrip(struct isa_dev *d, off_t off, size_t len)
{
	uint8_t *src = malloc(len), *dst = malloc(len + GUARD);
	ssize_t w, r;
	int ok;

	fill_rand(&rs, src, len);
	memset(dst, GUARD_BYTE, len + GUARD);
	w = pwrite(d->fd, src, len, off);
	r = pread(d->fd, dst, len, off);
	ok = w == (ssize_t)len && r == (ssize_t)len &&
	     same(dst, src, len, "pread") &&
	     all_bytes(dst + len, GUARD, GUARD_BYTE);
	if (!ok)
		diag("%s: pwrite %zd pread %zd of %zu at %lld (%s)", d->path,
		     w, r, len, (long long)off, strerror(errno));
	free(src);
	free(dst);
	return ok;
}

static int check_info(struct isa_dev *d)
{
	struct dmalab_isa_info *in = &d->info;
	uint32_t want_boundary = d->dma > 3 ? 131072 : 65536;

	diag("%s: io 0x%x irq %u dma %u, buffer at bus 0x%llx (%u bytes)",
	     d->path, in->io, in->irq, in->dma,
	     (unsigned long long)in->buf_bus, in->buf_size);
	return in->io == d->io && in->irq == d->irq && in->dma == d->dma &&
	       in->mem_size == MEM && in->boundary == want_boundary &&
	       in->buf_bus + in->buf_size <= 16u << 20;
}

/* End of the device's memory: EOF for reads, ENOSPC, shortened writes. */
static int check_eof(struct isa_dev *d)
{
	uint8_t buf[64] = { 0 };
	ssize_t r, w, s;
	int nospc;

	r = pread(d->fd, buf, sizeof(buf), MEM);
	w = pwrite(d->fd, buf, sizeof(buf), MEM);
	nospc = w < 0 && errno == ENOSPC;
	s = pwrite(d->fd, buf, sizeof(buf), MEM - 32);
	if (r || !nospc || s != 32)
		diag("%s: read at end %zd, write at end %zd, crossing %zd",
		     d->path, r, w, s);
	return r == 0 && nospc && s == 32;
}

/* A 16-bit channel moves words: odd offsets and lengths are refused. */
static int check_odd(struct isa_dev *d)
{
	uint8_t buf[8] = { 0 };
	ssize_t a = pwrite(d->fd, buf, 3, 100);
	int ea = errno;
	ssize_t b = pread(d->fd, buf, 4, 101);
	int eb = errno;

	if (d->dma <= 3)
		return roundtrip(d, 101, 3);
	return a < 0 && ea == EINVAL && b < 0 && eb == EINVAL;
}

/*
 * The 8237's modes: a block written to the device in one mode and read
 * back in another; the residue is 0 after a full block.
 */
static int check_modes(struct isa_dev *d, uint32_t h2d_flags,
		       uint32_t d2h_flags, uint32_t devoff, uint32_t len)
{
	uint8_t *src = malloc(len), *dst = malloc(len);
	struct dmalab_isa_xfer x;
	int e1, e2, ok;
	uint32_t st1, st2, res1, res2;

	fill_rand(&rs, src, len);
	memset(dst, 0, len);
	xfer_init(&x, src, len, len, devoff, h2d_flags);
	e1 = xfer(d, &x);
	st1 = x.status;
	res1 = x.residue;
	xfer_init(&x, dst, len, len, devoff,
		  d2h_flags | DMALAB_ISA_XF_TO_HOST);
	e2 = xfer(d, &x);
	st2 = x.status;
	res2 = x.residue;
	ok = !e1 && !e2 && st1 == DMALAB_ISA_STAT_DONE &&
	     st2 == DMALAB_ISA_STAT_DONE && !res1 && !res2 &&
	     same(dst, src, len, "xfer");
	if (!ok)
		diag("%s: xfer %s/%s, status 0x%x/0x%x residue %u/%u", d->path,
		     strerror(e1), strerror(e2), st1, st2, res1, res2);
	free(src);
	free(dst);
	return ok;
}

/*
 * Auto-init: a 256-byte block and a 1 KiB device length.  To the device,
 * the block lands four times; from it, the block ends with the last
 * quarter.
 */
static int check_autoinit(struct isa_dev *d)
{
	uint8_t ring[256], dev[1024], back[1024];
	struct dmalab_isa_xfer x;
	int ok = 1, e;

	fill_rand(&rs, ring, sizeof(ring));
	xfer_init(&x, ring, sizeof(ring), sizeof(dev), 0,
		  DMALAB_ISA_XF_AUTOINIT);
	e = xfer(d, &x);
	ok &= !e && x.status == (DMALAB_ISA_STAT_DONE |
				 DMALAB_ISA_STAT_WRAPPED);
	ok &= pread(d->fd, back, sizeof(back), 0) == sizeof(back);
	for (int i = 0; i < 4; i++)
		ok &= same(back + i * 256, ring, 256, "auto-init to device");
	if (!ok)
		diag("%s: auto-init to device: %s status 0x%x", d->path,
		     strerror(e), x.status);

	fill_rand(&rs, dev, sizeof(dev));
	ok &= pwrite(d->fd, dev, sizeof(dev), 0) == sizeof(dev);
	memset(ring, 0, sizeof(ring));
	xfer_init(&x, ring, sizeof(ring), sizeof(dev), 0,
		  DMALAB_ISA_XF_TO_HOST | DMALAB_ISA_XF_BLOCK |
		  DMALAB_ISA_XF_AUTOINIT);
	e = xfer(d, &x);
	ok &= !e && (x.status & DMALAB_ISA_STAT_WRAPPED) &&
	      same(ring, dev + 768, sizeof(ring), "auto-init to host");
	return ok;
}

/* A channel count shorter than the length: COUNT, after count bytes. */
static int check_short_count(struct isa_dev *d)
{
	uint8_t data[512], back[512], zero[512] = { 0 };
	struct dmalab_isa_xfer x;
	int e, ok;

	ok = pwrite(d->fd, zero, sizeof(zero), 0x1000) == sizeof(zero);
	fill_rand(&rs, data, sizeof(data));
	xfer_init(&x, data, 256, 512, 0x1000, 0);
	e = xfer(d, &x);
	ok &= !e && x.status == (DMALAB_ISA_STAT_DONE |
				 DMALAB_ISA_ERR_COUNT << 4);
	ok &= pread(d->fd, back, sizeof(back), 0x1000) == sizeof(back) &&
	      same(back, data, 256, "counted bytes") &&
	      all_bytes(back + 256, 256, 0);
	if (!ok)
		diag("%s: short count: %s status 0x%x", d->path, strerror(e),
		     x.status);
	return ok;
}

/* A range beyond the device's memory: the device's RANGE error. */
static int check_range(struct isa_dev *d)
{
	uint8_t data[512] = { 0 };
	struct dmalab_isa_xfer x;
	int e;

	xfer_init(&x, data, sizeof(data), sizeof(data), MEM - 256,
		  DMALAB_ISA_XF_TO_HOST);
	e = xfer(d, &x);
	if (e || x.status != (DMALAB_ISA_STAT_DONE | DMALAB_ISA_ERR_RANGE << 4))
		diag("%s: range: %s status 0x%x", d->path, strerror(e),
		     x.status);
	return !e && x.status == (DMALAB_ISA_STAT_DONE |
				  DMALAB_ISA_ERR_RANGE << 4);
}

/*
 * A block across a boundary of the controller's pages, placed in the
 * driver's buffer where one falls: refused with EINVAL.  0 if the buffer
 * holds no boundary (then the case skips).
 */
static int check_cross(struct isa_dev *d, int *skipped)
{
	uint64_t b = d->info.boundary;
	uint64_t to_next = b - (d->info.buf_bus & (b - 1));
	uint8_t data[64] = { 0 };
	struct dmalab_isa_xfer x;
	int e;

	*skipped = to_next < 32 || to_next + 32 > d->info.buf_size;
	if (*skipped)
		return 0;
	xfer_init(&x, data, sizeof(data), sizeof(data), 0, 0);
	x.bufoff = to_next - 32;
	e = xfer(d, &x);
	if (e != EINVAL)
		diag("%s: block across a boundary: %s", d->path, strerror(e));
	return e == EINVAL;
}

static int check_high_and_args(struct isa_dev *d)
{
	uint8_t data[64] = { 0 };
	struct dmalab_isa_xfer x;
	int high, rsvd, flags, bufoff;

	xfer_init(&x, data, sizeof(data), sizeof(data), 0,
		  DMALAB_ISA_XF_HIGH);
	high = xfer(d, &x);
	xfer_init(&x, data, sizeof(data), sizeof(data), 0, 0);
	x.rsvd = 1;
	rsvd = xfer(d, &x);
	xfer_init(&x, data, sizeof(data), sizeof(data), 0, 0x100);
	flags = xfer(d, &x);
	xfer_init(&x, data, sizeof(data), sizeof(data), 0, 0);
	x.bufoff = d->info.buf_size - 32;
	bufoff = xfer(d, &x);
	if (high != ERANGE || rsvd != EINVAL || flags != EINVAL ||
	    bufoff != EINVAL)
		diag("%s: above 16 MiB %s, reserved %s, flags %s, bufoff %s",
		     d->path, strerror(high), strerror(rsvd), strerror(flags),
		     strerror(bufoff));
	return high == ERANGE && rsvd == EINVAL && flags == EINVAL &&
	       bufoff == EINVAL;
}

static void test_dev(struct isa_dev *d)
{
	int skipped, ok;
	size_t off = d->dma > 3 ? 778 : 777, len = d->dma > 3 ? 12346 : 12345;

	tap(check_info(d), "%s: INFO matches the configuration; the buffer is below 16 MiB",
	    d->path);
	tap(roundtrip(d, 0, MEM), "%s: pwrite/pread of all 64 KiB, byte-exact",
	    d->path);
	tap(roundtrip(d, off, len), "%s: pwrite/pread at offset %zu, %zu bytes",
	    d->path, off, len);
	tap(check_eof(d), "%s: the end of device memory: EOF, ENOSPC, a shortened write",
	    d->path);
	tap(check_odd(d), "%s: %s", d->path, d->dma > 3 ?
	    "odd offset and length refused (EINVAL) on a 16-bit channel" :
	    "an odd offset and length move on an 8-bit channel");
	tap(check_modes(d, 0, DMALAB_ISA_XF_BLOCK, 0x2000, 4096),
	    "%s: single mode to the device, block mode back, residue 0", d->path);
	tap(check_modes(d, DMALAB_ISA_XF_BLOCK, 0, 0x6000, 30000),
	    "%s: block mode to the device, single mode back, 30000 bytes", d->path);
	tap(check_autoinit(d), "%s: auto-init, both ways: the block restarts", d->path);
	tap(check_short_count(d), "%s: a channel count below the length: COUNT error after count bytes",
	    d->path);
	tap(check_range(d), "%s: a range beyond the device's memory: RANGE error",
	    d->path);
	ok = check_cross(d, &skipped);
	if (skipped)
		tap_skip("%s: the driver's buffer holds no %u-byte boundary",
			 d->path, d->info.boundary);
	else
		tap(ok, "%s: a block across a %u-byte boundary is refused (EINVAL)",
		    d->path, d->info.boundary);
	tap(check_high_and_args(d), "%s: a block above 16 MiB is refused (ERANGE), bad arguments (EINVAL)",
	    d->path);
}

int main(int argc, char **argv)
{
	char spec[128];
	int e, listed;

	rs = seed_from_args(argc, argv);
	tap_plan(NTESTS);
	expect_get("isa", spec, sizeof(spec));
	diag("dmalab_isa seed %" PRIu64 " devices '%s'", rs, spec);
	if (!spec[0]) {
		tap_skip_n(NTESTS, "no ISA device in this configuration");
		return tap_done();
	}
	if (parse_devs(spec))
		tap_bail("cannot parse isa:%s", spec);

	e = insmod();
	if (e == ENOENT)
		diag("%s is missing: this kernel lacks the ISA bus API", MODULE);
	tap(!e, "insmod dmalab_isa.ko %s: %s", params, strerror(e));
	if (e) {
		tap_skip_n(NTESTS - 1, "the module did not load");
		return tap_done();
	}
	tap(!open_devs(), "every configured device has its node and answers INFO");
	listed = 1;
	for (int i = 0; i < ndevs; i++) {
		char name[32];

		snprintf(name, sizeof(name), "dmalab-isa%d", i);
		listed &= proc_dma_lists(devs[i].dma, name);
	}
	tap(listed, "/proc/dma lists each device's channel under its name");
	for (int i = 0; i < MAX_DEVS; i++) {
		if (i < ndevs && devs[i].fd >= 0)
			test_dev(&devs[i]);
		else
			tap_skip_n(PER_DEV, "the configuration has fewer ISA devices");
	}
	close_devs();

	e = rmmod();
	listed = 0;
	for (int i = 0; i < ndevs; i++)
		listed |= proc_dma_has(devs[i].dma);
	tap(!e && !listed && access(devs[0].path, F_OK),
	    "rmmod releases the channels (/proc/dma) and the nodes");
	e = insmod();
	tap(!e && !open_devs() && roundtrip(&devs[0], 0, 4096),
	    "loaded again, the first device moves data");
	close_devs();
	if (!e)
		rmmod();
	return tap_done();
}
