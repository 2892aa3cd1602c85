// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_regbuf: registered buffers (DMALAB_IOC_REGISTER).  Every kind of
 * op through parts of registrations, their bytes compared; what a
 * registration refers to (its pages, not its addresses); its charge in
 * VmPin and against RLIMIT_MEMLOCK; unregistering with an op in flight;
 * and every error of the interface.  Output is TAP.
 *
 * Usage: dmalab_regbuf [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <sys/mman.h>
#include <sys/resource.h>

#define NTESTS		23
#define PG		4096UL

static uint64_t rs;		/* the test's PRNG */
static int fd;
static struct dmalab_info info;
static size_t big;		/* the largest op here: 1 MiB at most */
static long pin_cache_was;	/* the device's pin_cache before */

/* Pages holding [p, p + n). */
static long pages_of(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;

	return (long)((a + n - 1) / PG - a / PG + 1);
}

/* REGISTER on file f; 0 or the errno. */
static int reg_on(int f, const void *addr, uint64_t len, uint32_t flags)
{
	struct dmalab_register r = {
		.size = sizeof(r), .flags = flags, .addr = (uintptr_t)addr,
		.len = len,
	};

	return ioctl(f, DMALAB_IOC_REGISTER, &r) ? errno : 0;
}

static int reg(const void *addr, uint64_t len, uint32_t flags)
{
	return reg_on(fd, addr, len, flags);
}

static int unreg(const void *addr)
{
	struct dmalab_register r = {
		.size = sizeof(r), .addr = (uintptr_t)addr,
	};

	return ioctl(fd, DMALAB_IOC_UNREGISTER, &r) ? errno : 0;
}

/* Anonymous private memory of n bytes, or NULL. */
static uint8_t *anon(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* An op; 0 or the errno, EIO for a bad status or byte count. */
static int run(uint32_t opcode, uint32_t len, uint32_t skind, uint64_t saddr,
	       uint32_t dkind, uint64_t daddr)
{
	return op_run(fd, opcode, len, skind, saddr, dkind, daddr);
}

/* Device memory [off, off + n) equals want, read through a plain buffer. */
static int devmem_is(uint64_t off, const uint8_t *want, size_t n,
		     const char *what)
{
	uint8_t *got = malloc(n);
	int ok = got && !do_d2h(fd, DMALAB_QUEUE_ANY, got, off, (uint32_t)n);

	ok = ok && same(got, want, n, what);
	free(got);
	return ok;
}

/* n rounded up to the grain of the device's writes into host memory. */
static size_t grain_up(size_t n)
{
	size_t a = info.dma_align ? info.dma_align : 1;

	return (n + a - 1) / a * a;
}

/*
 * H2D from a registration (from an odd address inside it), D2H into one,
 * COPY between two, and each mixed with plain user memory; every
 * destination compared whole, so that bytes beside the range are seen
 * unchanged.
 */
static void test_ops(void)
{
	const size_t len = big, slack = 64 * 1024;
	uint8_t *a = anon(len + slack), *b = anon(len + slack);
	uint8_t *want = malloc(len + slack), *plain = malloc(len);
	size_t off = grain_up(4096 + 123), n = grain_up(300001);
	long pin0 = vm_pin_kb(), pin1;
	int ok, e;

	if (!a || !b || !want || !plain)
		tap_bail("no memory");
	fill_rand(&rs, a, len + slack);
	fill_rand(&rs, b, len + slack);

	/* a + 5: registrations need no alignment */
	e = reg(a + 5, len, DMALAB_REGF_DEV_READS | DMALAB_REGF_DEV_WRITES);
	ok = !e && !reg(b, len + slack,
			DMALAB_REGF_DEV_READS | DMALAB_REGF_DEV_WRITES);
	pin1 = vm_pin_kb();
	tap(ok && pin1 - pin0 == (pages_of(a + 5, len) +
				  pages_of(b, len + slack)) * (long)PG / 1024,
	    "REGISTER of %zu KiB at an odd address and of 64 KiB more: VmPin %ld kB -> %ld kB (errno %d)",
	    len >> 10, pin0, pin1, e);

	/* H2D of the whole first registration, read back through plain */
	e = run(DMALAB_UOP_H2D, len, DMALAB_BUF_REGISTERED,
		(uintptr_t)(a + 5), DMALAB_BUF_DEVMEM, 0);
	tap(!e && devmem_is(0, a + 5, len, "device memory after H2D"),
	    "H2D of a whole registration moves its bytes (errno %d)", e);

	/* D2H into part of b: only [off, off + n) changes */
	memcpy(want, b, len + slack);
	memcpy(want + off, a + 5 + 77, n);
	e = run(DMALAB_UOP_D2H, (uint32_t)n, DMALAB_BUF_DEVMEM, 77,
		DMALAB_BUF_REGISTERED, (uintptr_t)(b + off));
	tap(!e && same(b, want, len + slack, "registration after D2H"),
	    "D2H into the middle of a registration writes that range only (errno %d)",
	    e);

	/* COPY from a sub-range of a into another sub-range of b */
	memcpy(want + off + n, a + 5 + 999, 65536);
	e = run(DMALAB_UOP_COPY, 65536, DMALAB_BUF_REGISTERED,
		(uintptr_t)(a + 5 + 999), DMALAB_BUF_REGISTERED,
		(uintptr_t)(b + off + n));
	tap(!e && same(b, want, len + slack, "registration after COPY"),
	    "COPY between two registrations (errno %d)", e);

	/* mixed: registered to plain, plain to registered */
	fill_rand(&rs, plain, len);
	e = run(DMALAB_UOP_COPY, 200000, DMALAB_BUF_REGISTERED,
		(uintptr_t)(b + 3), DMALAB_BUF_USER, (uintptr_t)plain);
	ok = !e && same(plain, b + 3, 200000, "plain after COPY");
	memcpy(want, b, len + slack);
	memcpy(want + len, plain + 100, grain_up(4096));
	e = e ? e : run(DMALAB_UOP_COPY, (uint32_t)grain_up(4096),
			DMALAB_BUF_USER, (uintptr_t)(plain + 100),
			DMALAB_BUF_REGISTERED, (uintptr_t)(b + len));
	tap(ok && !e && same(b, want, len + slack, "registration after COPY"),
	    "COPY from a registration to plain memory and back (errno %d)", e);

	/* FILL and CRC32C on registrations */
	{
		struct dmalab_op op;
		uint64_t pat = 0x0123456789abcdefULL;

		op_xfer(&op, DMALAB_UOP_FILL, DMALAB_QUEUE_ANY, 4096,
			DMALAB_BUF_NONE, 0, DMALAB_BUF_REGISTERED,
			(uintptr_t)(b + 8192));
		op.pattern = pat;
		ok = submit_ok(fd, &op);
		for (size_t i = 0; ok && i < 4096; i++)
			ok = b[8192 + i] == ((uint8_t *)&pat)[i % 8];
		op_xfer(&op, DMALAB_UOP_CRC32C, DMALAB_QUEUE_ANY, 100000,
			DMALAB_BUF_REGISTERED, (uintptr_t)(a + 5 + 1),
			DMALAB_BUF_NONE, 0);
		ok = ok && submit_ok(fd, &op) &&
		     op.result == crc32c(a + 5 + 1, 100000);
		tap(ok, "FILL into and CRC32C of registrations");
	}

	/* the ranges an op may name */
	e = run(DMALAB_UOP_H2D, 4096, DMALAB_BUF_REGISTERED,
		(uintptr_t)(a + 5 + len - 4095), DMALAB_BUF_DEVMEM, 0);
	tap(e == EINVAL, "an op crossing a registration's end: EINVAL (%s)",
	    strerror(e));
	e = run(DMALAB_UOP_H2D, 4096, DMALAB_BUF_REGISTERED,
		(uintptr_t)plain, DMALAB_BUF_DEVMEM, 0);
	tap(e == EINVAL, "an op on an address no registration holds: EINVAL (%s)",
	    strerror(e));

	/* UNREGISTER */
	tap(unreg(a + 6) == ENOENT && unreg(a) == ENOENT,
	    "UNREGISTER of an address no registration starts at: ENOENT");
	ok = !unreg(a + 5) && !unreg(b);
	tap(ok && vm_pin_kb() == pin0,
	    "UNREGISTER of both: VmPin back to %ld kB (now %ld)", pin0,
	    vm_pin_kb());
	e = run(DMALAB_UOP_H2D, 4096, DMALAB_BUF_REGISTERED, (uintptr_t)b,
		DMALAB_BUF_DEVMEM, 0);
	tap(e == EINVAL, "an op on an ended registration: EINVAL (%s)",
	    strerror(e));
	munmap(a, len + slack);
	munmap(b, len + slack);
	free(want);
	free(plain);
}

/* What the device may do with a registration, and REGISTER's checks. */
static void test_checks(void)
{
	uint8_t *p = anon(32 * PG), *hole, *shared;
	struct dmalab_register r;
	int ok, e, i;

	if (!p)
		tap_bail("no memory");
	memset(p, 0x5a, 32 * PG);
	ok = !reg(p, 4 * PG, DMALAB_REGF_DEV_READS) &&
	     !reg(p + 4 * PG, 4 * PG, DMALAB_REGF_DEV_WRITES);
	e = run(DMALAB_UOP_D2H, 4096, DMALAB_BUF_DEVMEM, 0,
		DMALAB_BUF_REGISTERED, (uintptr_t)p);
	ok = ok && e == EACCES && all_bytes(p, 4 * PG, 0x5a);
	e = run(DMALAB_UOP_H2D, 4096, DMALAB_BUF_REGISTERED,
		(uintptr_t)(p + 4 * PG), DMALAB_BUF_DEVMEM, 0);
	tap(ok && e == EACCES,
	    "a read-only registration is not written, a write-only one not read: EACCES (%s)",
	    strerror(e));
	ok = !run(DMALAB_UOP_D2H, 4096, DMALAB_BUF_DEVMEM, 0,
		  DMALAB_BUF_REGISTERED, (uintptr_t)(p + 4 * PG)) &&
	     !run(DMALAB_UOP_H2D, 4096, DMALAB_BUF_REGISTERED, (uintptr_t)p,
		  DMALAB_BUF_DEVMEM, 0);
	tap(ok, "each does what it allows");

	tap(reg(p + 3 * PG, 2 * PG, DMALAB_REGF_DEV_READS) == EEXIST &&
	    reg(p, 1, DMALAB_REGF_DEV_READS) == EEXIST,
	    "REGISTER overlapping a registration: EEXIST");

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.addr = (uintptr_t)(p + 20 * PG);
	r.len = PG;
	ok = ioctl(fd, DMALAB_IOC_REGISTER, &r) && errno == EINVAL;
	r.flags = 4;
	ok = ok && ioctl(fd, DMALAB_IOC_REGISTER, &r) && errno == EINVAL;
	r.flags = DMALAB_REGF_DEV_READS;
	r.rsvd = 1;
	ok = ok && ioctl(fd, DMALAB_IOC_REGISTER, &r) && errno == EINVAL;
	r.rsvd = 0;
	r.len = 0;
	ok = ok && ioctl(fd, DMALAB_IOC_REGISTER, &r) && errno == EINVAL;
	r.len = (uint64_t)DMALAB_REG_MAX_LEN + 1;
	ok = ok && ioctl(fd, DMALAB_IOC_REGISTER, &r) && errno == EINVAL;
	r.len = PG;
	r.size = sizeof(r) - 8;
	ok = ok && ioctl(fd, DMALAB_IOC_REGISTER, &r) && errno == EINVAL;
	tap(ok, "REGISTER with no flags, an unknown flag, rsvd, length 0, too long or a wrong size: EINVAL");

	/* a hole in the middle */
	hole = anon(3 * PG);
	ok = hole && !munmap(hole + PG, PG);
	tap(ok && reg(hole, 3 * PG, DMALAB_REGF_DEV_READS) == EFAULT &&
	    reg(hole, 3 * PG, DMALAB_REGF_DEV_WRITES) == EFAULT,
	    "REGISTER of a range with an unmapped page: EFAULT");

	/* shared memory: the device may read it, not write it */
	shared = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ok = shared != MAP_FAILED;
	e = ok ? reg(shared, 2 * PG, DMALAB_REGF_DEV_WRITES) : ENOMEM;
	ok = ok && e == EOPNOTSUPP &&
	     !reg(shared, 2 * PG, DMALAB_REGF_DEV_READS) && !unreg(shared);
	tap(ok, "REGISTER of shared memory: EOPNOTSUPP where the device writes, allowed where it reads (%s)",
	    strerror(e));

	/* no more than DMALAB_REG_MAX per file (two held already) */
	for (i = 2, e = 0; i < DMALAB_REG_MAX && !e; i++)
		e = reg(p + (8 + i) * PG, PG, DMALAB_REGF_DEV_READS);
	tap(!e && reg(p + 31 * PG, PG, DMALAB_REGF_DEV_READS) == ENOSPC,
	    "the %dth registration of a file: ENOSPC", DMALAB_REG_MAX + 1);
	for (i = 2; i < DMALAB_REG_MAX; i++)
		unreg(p + (8 + i) * PG);
	unreg(p);
	unreg(p + 4 * PG);
	if (hole) {
		munmap(hole, PG);
		munmap(hole + 2 * PG, PG);
	}
	if (shared != MAP_FAILED)
		munmap(shared, 2 * PG);
	munmap(p, 32 * PG);
}

/*
 * A registration holds the pages it pinned: after munmap and a new
 * mapping at the same address, ops move the old pages, and the new ones
 * are left alone.
 */
static void test_pages_not_addresses(void)
{
	uint8_t *p = anon(2 * PG), *q, old[2 * PG];
	int ok, e;

	if (!p)
		tap_bail("no memory");
	fill_rand(&rs, old, sizeof(old));
	memcpy(p, old, sizeof(old));
	ok = !reg(p, 2 * PG, DMALAB_REGF_DEV_READS | DMALAB_REGF_DEV_WRITES);
	munmap(p, 2 * PG);
	q = mmap(p, 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ok = ok && q == p;
	e = run(DMALAB_UOP_H2D, 2 * PG, DMALAB_BUF_REGISTERED, (uintptr_t)p,
		DMALAB_BUF_DEVMEM, 4096);
	ok = ok && !e && devmem_is(4096, old, sizeof(old),
				   "device memory after H2D");
	e = e ? e : run(DMALAB_UOP_D2H, 2 * PG, DMALAB_BUF_DEVMEM, 4096,
			DMALAB_BUF_REGISTERED, (uintptr_t)p);
	tap(ok && !e && all_bytes(q, 2 * PG, 0),
	    "after munmap and a new mapping at its address, ops move the registered pages, not the new ones (errno %d)",
	    e);
	unreg(p);
	munmap(q, 2 * PG);
}

/* UNREGISTER while an async op uses the registration, then WAIT. */
static void test_unregister_in_flight(void)
{
	const size_t len = big;
	uint8_t *p = anon(len);
	struct dmalab_async a = { 0 };
	long pin0 = vm_pin_kb();
	int ok;

	if (!p)
		tap_bail("no memory");
	fill_rand(&rs, p, len);
	ok = !reg(p, len, DMALAB_REGF_DEV_READS);
	op_xfer(&a.op, DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, (uint32_t)len,
		DMALAB_BUF_REGISTERED, (uintptr_t)p, DMALAB_BUF_DEVMEM, 0);
	ok = ok && !ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a);
	ok = ok && !unreg(p);
	ok = ok && wait_one_ok(fd, (uint32_t)len);
	tap(ok && devmem_is(0, p, len, "device memory after H2D") &&
	    vm_pin_kb() == pin0,
	    "UNREGISTER with an op in flight: the op completes with the registered bytes, then the pages go (VmPin %ld kB, was %ld)",
	    vm_pin_kb(), pin0);
	munmap(p, len);
}

/*
 * Without CAP_IPC_LOCK a process pins no more than RLIMIT_MEMLOCK.  In a
 * child (a fresh VmPin), whose exit status is the number of the first
 * failed step.
 */
static int child_memlock(void *arg)
{
	struct rlimit rl = { .rlim_cur = 64 * 1024, .rlim_max = 64 * 1024 };
	uint8_t *p = anon(1 << 20);

	(void)arg;
	if (!p || drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 1;
	if (reg(p, 1 << 20, DMALAB_REGF_DEV_READS) != ENOMEM)
		return 2;
	if (reg(p, 64 * 1024, DMALAB_REGF_DEV_READS))
		return 3;
	if (reg(p + (64 << 10), PG, DMALAB_REGF_DEV_READS) != ENOMEM)
		return 4;
	if (vm_pin_kb() != 64)
		return 5;
	if (unreg(p) || vm_pin_kb() != 0)
		return 6;
	return 0;
}

static void test_memlock(void)
{
	pid_t pid = fork();
	int st = -1;

	if (pid == 0)
		_exit(child_memlock(NULL));
	if (pid > 0)
		waitpid(pid, &st, 0);
	tap(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "without CAP_IPC_LOCK, REGISTER beyond RLIMIT_MEMLOCK (64 KiB): ENOMEM, within it: charged to VmPin (child step %d)",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* Closing a file with registrations ends them: no pin is left. */
static void test_close(const char *dev)
{
	uint8_t *p = anon(1 << 20);
	long long pins0 = pins_outstanding(NULL, NULL), pins;
	long pin0 = vm_pin_kb(), pin1;
	struct dmalab_info inf2;
	int f2 = dev_open(dev, &inf2), ok;

	ok = p && f2 >= 0 &&
	     !reg_on(f2, p, 1 << 19, DMALAB_REGF_DEV_READS) &&
	     !reg_on(f2, p + (1 << 19), 1 << 19,
		     DMALAB_REGF_DEV_READS | DMALAB_REGF_DEV_WRITES);
	pin1 = vm_pin_kb();
	if (f2 >= 0)
		close(f2);
	pins = pins_settle(pins0);
	tap(ok && pin1 - pin0 == 1024 && vm_pin_kb() == pin0 && pins <= pins0,
	    "close() ends a file's registrations: VmPin %ld -> %ld -> %ld kB, pins outstanding %lld -> %lld",
	    pin0, pin1, vm_pin_kb(), pins0, pins);
	if (p)
		munmap(p, 1 << 20);
}

int main(int argc, char **argv)
{
	const char *dev;

	dev = test_begin(argc, argv, "dmalab_regbuf", NTESTS, &rs);
	/*
	 * VmPin must count registrations alone: the pin cache would keep the
	 * plain buffers this program uses twice (dmalab_pincache tests it).
	 */
	pin_cache_was = dev_attr_long(dev, "pin_cache");
	dev_attr_set(dev, "pin_cache", 0);
	fd = dev_open(dev, &info);
	big = info.max_xfer < info.devmem_size ? info.max_xfer :
						 info.devmem_size;
	big = big < (1 << 20) ? big : (1 << 20);
	tap(fd >= 0 && info.api_version >= 5 && big >= (512 << 10),
	    "open %s and DMALAB_IOC_INFO (interface %u, ops of %zu KiB)", dev,
	    info.api_version, big >> 10);
	if (fd < 0 || big < (512 << 10))
		tap_bail("cannot use %s", dev);

	test_ops();			/* 11 */
	test_checks();			/* 7 */
	test_pages_not_addresses();	/* 1 */
	test_unregister_in_flight();	/* 1 */
	test_memlock();			/* 1 */
	test_close(dev);		/* 1 */
	close(fd);
	if (pin_cache_was >= 0)
		dev_attr_set(dev, "pin_cache", (unsigned long)pin_cache_was);
	return tap_done();
}
