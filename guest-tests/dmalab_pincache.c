// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_pincache: the pin cache of ordinary user buffers.  A range an op
 * uses a second time stays pinned and mapped (VmPin shows it); every later
 * op of it must still move the bytes the process has there now: after the
 * CPU writes it, and after munmap and a new mapping at the same address,
 * MADV_DONTNEED, mremap and fork, each of which the MMU notifier reports.
 * Shared mappings, small ops and processes over RLIMIT_MEMLOCK are not
 * cached; the cache is bounded, can be turned off, and close() ends it.
 * Every op's bytes are compared whole.  Output is TAP.
 *
 * Usage: dmalab_pincache [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <sys/mman.h>
#include <sys/resource.h>

#define NTESTS		16
#define LEN		(1UL << 20)	/* an op's bytes: 256 pages */
#define LEN_KB		((long)(LEN >> 10))

static uint64_t rs;
static int fd;
static struct dmalab_info info;
static const char *dev;

/* A counter of the pin cache: "pin_cache_hits", "_fills" or "_drops". */
#define pc_counter(name)	dev_attr_long(dev, "pin_cache_" name)

static int pc_set(int on)
{
	return dev_attr_set(dev, "pin_cache", (unsigned long)on);
}

/* VmPin once the driver's reap work has run: want, or what it is then. */
static long vm_pin_settle(long want)
{
	long kb = vm_pin_kb();

	for (int i = 0; i < 100 && kb != want; i++) {
		usleep(20000);
		kb = vm_pin_kb();
	}
	return kb;
}

/* Private anonymous memory of n bytes (at at, over what is there), or NULL. */
static uint8_t *anon_at(void *at, size_t n)
{
	void *p = mmap(at, n, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* H2D of [p, p + n) to device offset 0; 0 or the errno. */
static int h2d(int f, const uint8_t *p, size_t n)
{
	return op_run(f, DMALAB_UOP_H2D, (uint32_t)n, DMALAB_BUF_USER,
		     (uintptr_t)p, DMALAB_BUF_DEVMEM, 0);
}

/* D2H of n bytes from device offset off into p; 0 or the errno. */
static int d2h(int f, uint8_t *p, uint64_t off, size_t n)
{
	return op_run(f, DMALAB_UOP_D2H, (uint32_t)n, DMALAB_BUF_DEVMEM, off,
		     DMALAB_BUF_USER, (uintptr_t)p);
}

/* Device memory [0, n) equals want: read through a fresh small-op buffer. */
static int devmem_is(const uint8_t *want, size_t n, const char *what)
{
	const size_t chunk = 32 << 10;	/* below the cache's minimum */
	uint8_t *got = malloc(n);
	int ok = got != NULL;

	for (size_t o = 0; ok && o < n; o += chunk)
		ok = !d2h(fd, got + o, o, n - o < chunk ? n - o : chunk);
	ok = ok && same(got, want, n, what);
	free(got);
	return ok;
}

/*
 * The same buffer, H2D eight times, the CPU rewriting it before each: the
 * second op fills the cache, the others hit it, and every op moves what
 * the buffer holds at the time.
 */
static uint8_t *test_reuse(void)
{
	uint8_t *p = anon_at(NULL, LEN);
	long pin0 = vm_pin_kb(), pin1;
	long f0 = pc_counter("fills"), h0 = pc_counter("hits");
	int ok = p != NULL;

	for (int i = 0; ok && i < 8; i++) {
		fill_rand(&rs, p, LEN);
		ok = !h2d(fd, p, LEN) && devmem_is(p, LEN, "device after H2D");
	}
	pin1 = vm_pin_kb();
	tap(ok && pc_counter("fills") - f0 == 1 && pc_counter("hits") - h0 == 6 &&
	    pin1 - pin0 == LEN_KB,
	    "8 H2Ds of one buffer rewritten between them: each moves its bytes; 1 fill, %ld hits, VmPin +%ld kB",
	    pc_counter("hits") - h0, pin1 - pin0);
	return p;
}

/* D2H into a cached buffer, whole and at an odd offset; COPY between two. */
static void test_d2h_copy(uint8_t *p)
{
	uint8_t *want = malloc(LEN), *q = anon_at(NULL, LEN);
	long h0 = pc_counter("hits");
	int ok, e;

	if (!want || !q)
		tap_bail("no memory");
	fill_rand(&rs, want, LEN);
	ok = !h2d(fd, want, LEN);	/* device [0, LEN) = want */
	memset(p, 0x5a, LEN);
	e = d2h(fd, p, 0, LEN);
	tap(ok && !e && same(p, want, LEN, "buffer after D2H") &&
	    pc_counter("hits") > h0,
	    "D2H into a cached buffer lands whole (errno %d)", e);

	/* bytes [1000, 1000 + 200001) change, none beside them */
	memset(p, 0x5a, LEN);
	e = d2h(fd, p + 1000, 77, 200001);
	ok = !e && same(p + 1000, want + 77, 200001, "D2H range");
	for (size_t i = 0; ok && i < LEN; i++)
		if ((i < 1000 || i >= 201001) && p[i] != 0x5a)
			ok = 0;
	tap(ok, "D2H into part of it at an odd offset writes that range only (errno %d)",
	    e);

	fill_rand(&rs, p, LEN);
	memset(q, 0, LEN);
	for (int i = 0; i < 2 && !e; i++)	/* the second fills q's entry */
		e = op_run(fd, DMALAB_UOP_COPY, LEN, DMALAB_BUF_USER,
			  (uintptr_t)p, DMALAB_BUF_USER, (uintptr_t)q);
	fill_rand(&rs, p, LEN);
	e = e ? e : op_run(fd, DMALAB_UOP_COPY, LEN, DMALAB_BUF_USER,
			  (uintptr_t)p, DMALAB_BUF_USER, (uintptr_t)q);
	tap(!e && same(q, p, LEN, "COPY destination"),
	    "COPY between two cached buffers (errno %d)", e);
	munmap(q, LEN);
	free(want);
}

/*
 * A new mapping at the cached address: the notifier drops the entry, and
 * the op moves the new memory's bytes, not the old pages'.
 */
static void test_remap(uint8_t *p)
{
	uint8_t *want = malloc(LEN);
	long d0 = pc_counter("drops");
	int ok;

	fill_rand(&rs, p, LEN);
	ok = want && !h2d(fd, p, LEN) && !h2d(fd, p, LEN);
	ok = ok && anon_at(p, LEN) == p;	/* MAP_FIXED over it */
	fill_rand(&rs, want, LEN);
	memcpy(p, want, LEN);
	ok = ok && !h2d(fd, p, LEN);
	tap(ok && devmem_is(want, LEN, "device after H2D of the new mapping"),
	    "mmap(MAP_FIXED) over a cached buffer: H2D moves the new mapping's bytes (drops +%ld)",
	    pc_counter("drops") - d0);
	free(want);
}

/* MADV_DONTNEED: the pages go, the range reads zero, then new bytes. */
static void test_dontneed(uint8_t *p)
{
	uint8_t *zero = calloc(1, LEN), *want = malloc(LEN);
	int ok;

	fill_rand(&rs, p, LEN);
	ok = zero && want && !h2d(fd, p, LEN) && !h2d(fd, p, LEN);
	ok = ok && !madvise(p, LEN, MADV_DONTNEED);
	ok = ok && !h2d(fd, p, LEN) && devmem_is(zero, LEN, "after DONTNEED");
	fill_rand(&rs, want, LEN);
	memcpy(p, want, LEN);
	ok = ok && !h2d(fd, p, LEN) && !h2d(fd, p, LEN);
	tap(ok && devmem_is(want, LEN, "after DONTNEED and new bytes"),
	    "MADV_DONTNEED of a cached buffer: H2D moves zeros, then the bytes written after");
	free(zero);
	free(want);
}

/* mremap moves it: the new address moves its bytes, the old one is gone. */
static uint8_t *test_mremap(uint8_t *p)
{
	uint8_t *q = anon_at(NULL, LEN), *want = malloc(LEN);
	int ok, e;

	fill_rand(&rs, p, LEN);
	ok = q && want && !h2d(fd, p, LEN) && !h2d(fd, p, LEN);
	memcpy(want, p, LEN);
	/* onto a mapping of its own, so that nothing else is replaced */
	q = q ? mremap(p, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, q) : NULL;
	ok = ok && q != MAP_FAILED;
	e = h2d(fd, p, LEN);
	ok = ok && !h2d(fd, q, LEN) && devmem_is(want, LEN, "after mremap");
	tap(ok && e == EFAULT,
	    "mremap of a cached buffer: the old address is EFAULT (%s), the new one moves its bytes",
	    strerror(e));
	free(want);
	return q == MAP_FAILED ? NULL : q;
}

/*
 * fork: each process's cached pages are its own.  Fork invalidates the
 * parent's entry (it write-protects the range); the parent caches the range
 * again while the child waits.  The child, on the same file, at the same
 * address, then writes its copy and sends it: the device must get the
 * child's bytes, not the parent's cached pages.  Then the parent's ops get
 * the parent's, before and after it writes.
 */
static void test_fork(uint8_t *p)
{
	uint8_t *mine = malloc(LEN), *childs = malloc(LEN);
	int ok, st = -1, go[2] = { -1, -1 };
	long h0;
	pid_t pid;
	char c;

	fill_rand(&rs, p, LEN);
	ok = mine && childs && !pipe(go) && !h2d(fd, p, LEN) &&
	     !h2d(fd, p, LEN);
	memcpy(mine, p, LEN);
	fill_rand(&rs, childs, LEN);
	pid = ok ? fork() : -1;
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		memcpy(p, childs, LEN);
		_exit(h2d(fd, p, LEN) ||
		      !devmem_is(childs, LEN, "device after the child's H2D"));
	}
	ok = ok && pid > 0 && !h2d(fd, p, LEN) && !h2d(fd, p, LEN);
	h0 = pc_counter("hits");
	ok = ok && !h2d(fd, p, LEN) && pc_counter("hits") == h0 + 1;
	if (pid > 0) {
		if (write(go[1], "x", 1) != 1)
			ok = 0;
		waitpid(pid, &st, 0);
	}
	ok = ok && WIFEXITED(st) && !WEXITSTATUS(st);
	ok = ok && !h2d(fd, p, LEN) && devmem_is(mine, LEN, "parent's H2D");
	p[12345] ^= 0xff;		/* the parent writes after fork */
	mine[12345] ^= 0xff;
	tap(ok && !h2d(fd, p, LEN) && devmem_is(mine, LEN, "parent's again"),
	    "fork: the child's op at the parent's cached address moves the child's bytes (child %d), the parent's ops the parent's",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(go[0]);
	close(go[1]);
	free(mine);
	free(childs);
}

/* An async D2H into a cached buffer, then munmap before WAIT. */
static void test_unmap_in_flight(void)
{
	uint8_t *p = anon_at(NULL, LEN);
	struct dmalab_async a = { 0 };
	long pin0 = vm_pin_kb();
	int ok;

	ok = p && !d2h(fd, p, 0, LEN) && !d2h(fd, p, 0, LEN);
	op_xfer(&a.op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, LEN,
		DMALAB_BUF_DEVMEM, 0, DMALAB_BUF_USER, (uintptr_t)p);
	ok = ok && !ioctl(fd, DMALAB_IOC_SUBMIT_ASYNC, &a);
	if (p)
		munmap(p, LEN);
	ok = ok && wait_one_ok(fd, LEN);
	tap(ok && vm_pin_settle(pin0) == pin0,
	    "munmap of a cached buffer with a D2H in flight: the op completes, then the pages go (VmPin %ld kB, was %ld)",
	    vm_pin_kb(), pin0);
}

/* A shared mapping the device may write is never cached. */
static void test_shared(void)
{
	uint8_t *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *want = anon_at(NULL, LEN);
	long pin0 = vm_pin_kb(), f0 = pc_counter("fills");
	int ok = p != MAP_FAILED && want;

	for (int i = 0; ok && i < 3; i++) {
		fill_rand(&rs, want, LEN);
		ok = !h2d(fd, want, LEN) && !d2h(fd, p, 0, LEN) &&
		     same(p, want, LEN, "shared mapping after D2H");
	}
	/* want itself (private) was cached: one fill, not p's */
	tap(ok && pc_counter("fills") - f0 == 1 &&
	    vm_pin_kb() - pin0 == LEN_KB,
	    "a shared mapping is not cached: 3 D2Hs land, fills +%ld (the private source's), VmPin +%ld kB",
	    pc_counter("fills") - f0, vm_pin_kb() - pin0);
	if (p != MAP_FAILED)
		munmap(p, LEN);
	if (want)
		munmap(want, LEN);
	vm_pin_settle(pin0);
}

/* Ops below 64 KiB pin per op. */
static void test_small(void)
{
	uint8_t *p = anon_at(NULL, 32 << 10);
	long f0 = pc_counter("fills"), pin0 = vm_pin_kb();
	int ok = p != NULL;

	for (int i = 0; ok && i < 4; i++) {
		fill_rand(&rs, p, 32 << 10);
		ok = !h2d(fd, p, 32 << 10) &&
		     devmem_is(p, 32 << 10, "device after a small H2D");
	}
	tap(ok && pc_counter("fills") == f0 && vm_pin_kb() == pin0,
	    "ops of 32 KiB are not cached (fills +%ld)", pc_counter("fills") - f0);
	if (p)
		munmap(p, 32 << 10);
}

/* In a child without CAP_IPC_LOCK and 64 KiB of RLIMIT_MEMLOCK. */
static int child_memlock(void)
{
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 64 << 10 };
	uint8_t *p = anon_at(NULL, LEN);

	if (!p || drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 1;
	for (int i = 0; i < 4; i++) {
		fill_rand(&rs, p, LEN);
		if (h2d(fd, p, LEN) || !devmem_is(p, LEN, "child's H2D"))
			return 2;
	}
	return vm_pin_kb() ? 3 : 0;
}

static void test_memlock(void)
{
	pid_t pid = fork();
	int st = -1;

	if (pid == 0)
		_exit(child_memlock());
	if (pid > 0)
		waitpid(pid, &st, 0);
	tap(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "without CAP_IPC_LOCK, over RLIMIT_MEMLOCK: ops pin per op, move their bytes, VmPin stays 0 (child step %d)",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/*
 * More buffers than a file keeps: the cache, full of 1 MiB entries (and
 * the process having no other pins), holds 8 MiB pinned at most.
 */
static void test_bound(void)
{
	uint8_t *p[10];
	long most = 0;
	int ok = 1;

	for (int i = 0; i < 10; i++) {
		p[i] = anon_at(NULL, LEN);
		ok = ok && p[i] && !h2d(fd, p[i], LEN) && !h2d(fd, p[i], LEN);
		if (vm_pin_kb() > most)
			most = vm_pin_kb();
	}
	tap(ok && most == 8 * LEN_KB,
	    "10 buffers used twice each: 8 stay pinned at most (VmPin %ld kB at most)",
	    most);
	for (int i = 0; i < 10; i++)
		if (p[i])
			munmap(p[i], LEN);
	vm_pin_settle(0);
}

/* pin_cache=0: no new entries. */
static void test_off(void)
{
	uint8_t *p = anon_at(NULL, LEN);
	long f0 = pc_counter("fills"), h0 = pc_counter("hits");
	long pin0 = vm_pin_kb();
	int ok = p && !pc_set(0);

	for (int i = 0; ok && i < 4; i++) {
		fill_rand(&rs, p, LEN);
		ok = !h2d(fd, p, LEN) && devmem_is(p, LEN, "H2D, cache off");
	}
	tap(ok && pc_counter("fills") == f0 && pc_counter("hits") == h0 &&
	    vm_pin_kb() == pin0,
	    "with pin_cache 0 a buffer used 4 times is pinned per op: no fill, no hit");
	pc_set(1);
	if (p)
		munmap(p, LEN);
}

/* close() ends a file's entries. */
static void test_close(void)
{
	uint8_t *p = anon_at(NULL, LEN);
	long long pins0 = pins_outstanding(NULL, NULL), pins;
	long pin0 = vm_pin_kb(), pin1;
	struct dmalab_info inf2;
	int f2 = dev_open(dev, &inf2), ok;

	ok = p && f2 >= 0 && !h2d(f2, p, LEN) && !h2d(f2, p, LEN);
	pin1 = vm_pin_kb();
	if (f2 >= 0)
		close(f2);
	pins = pins_settle(pins0);
	tap(ok && pin1 - pin0 == LEN_KB && vm_pin_kb() == pin0 &&
	    pins <= pins0,
	    "close() ends a file's cache: VmPin %ld -> %ld -> %ld kB, pins outstanding %lld -> %lld",
	    pin0, pin1, vm_pin_kb(), pins0, pins);
	if (p)
		munmap(p, LEN);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], ops[16];
	int bounced;
	uint8_t *p;
	long was;

	dev = test_begin(argc, argv, "dmalab_pincache", NTESTS, &rs);
	fd = dev_open(dev, &info);
	bounced = read_str(dev_attr_path(dev, "dma_ops", path, sizeof(path)),
			   ops, sizeof(ops)) > 0 && !strncmp(ops, "swiotlb", 7);
	was = dev_attr_long(dev, "pin_cache");
	/* off by default where mappings bounce: on here, to test it */
	tap(fd >= 0 && info.devmem_size >= LEN && info.max_xfer >= LEN &&
	    (was == 0 || (was == 1 && !bounced)) && !pc_set(1) &&
	    pc_counter("hits") >= 0,
	    "open %s; pin_cache was %ld (dma_ops %s), its counters readable",
	    dev, was, bounced ? "swiotlb" : "not swiotlb");
	if (fd < 0 || info.devmem_size < LEN || info.max_xfer < LEN)
		tap_bail("cannot use %s", dev);

	p = test_reuse();		/* 1 */
	if (!p)
		tap_bail("no memory");
	test_d2h_copy(p);		/* 3 */
	test_remap(p);			/* 1 */
	test_dontneed(p);		/* 1 */
	test_fork(p);			/* 1 */
	p = test_mremap(p);		/* 1 */
	if (p)
		munmap(p, LEN);
	test_unmap_in_flight();		/* 1 */
	test_shared();			/* 1 */
	test_small();			/* 1 */
	test_memlock();			/* 1 */
	test_bound();			/* 1 */
	test_off();			/* 1 */
	test_close();			/* 1 */
	close(fd);
	if (was >= 0)
		pc_set((int)was);
	return tap_done();
}
