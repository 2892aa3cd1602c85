// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_reload: driver unbind/bind and module unload/load while files are
 * open, mapped and busy.
 *
 *  - unbind (/sys/bus/pci/drivers/dmalab/unbind) while a thread transfers on
 *    an open, mmap'd file: its transfers complete or fail with ENODEV, every
 *    later call on the stale file fails with ENODEV, the stale mappings are
 *    gone (SIGBUS), and after bind the device works again under its (maybe
 *    new) name while the stale file still says ENODEV;
 *  - the file operations hold a module reference (fops.owner): rmmod
 *    (delete_module) fails with EWOULDBLOCK/EBUSY while any file or mapping
 *    is left -- busy transfers carry on unharmed -- and succeeds once all
 *    are gone; insmod (finit_module on /lib/modules/dmalab.ko with the
 *    boot's module parameters) brings /dev/dmalab0 back.
 *
 * It leaves the driver loaded and bound, with the original device names.
 * Output is TAP.  Usage: dmalab_reload [seed]   (as root)
 */
#include "dmalab_test.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NTESTS		18
#define MODULE		"/lib/modules/dmalab.ko"
#define DRV		"/sys/bus/pci/drivers/dmalab"
#define UNBIND_LOOPS	3
#define RELOAD_LOOPS	3
#define XFER		65536

static uint64_t seed;
static char params[512];
static char bdf[64];		/* PCI address of the device under test */
static char names[2][32];	/* device names at the start */
static int nnames;

/* ---- a thread that keeps transferring ----------------------------------- */

struct busy {
	pthread_t th;
	int fd;
	volatile int stop;
	unsigned int ops;	/* completed and checked */
	unsigned int enodev;	/* ended with ENODEV */
	unsigned int short_io;	/* a pread/pwrite cut short */
	unsigned int bad;	/* any other error or wrong data */
	char first[160];
	uint64_t off;
};

static void *busy_main(void *arg)
{
	struct busy *b = arg;
	uint64_t s = seed ^ (uintptr_t)b;
	static __thread uint8_t w[XFER], r[XFER];
	int e = 0;

	while (!b->stop) {
		size_t len = 1 + rng_below(&s, XFER);
		ssize_t n;

		fill_rand(&s, w, len);
		if (b->ops & 1) {
			e = do_h2d(b->fd, DMALAB_QUEUE_ANY, w, b->off, len);
			if (!e)
				e = do_d2h(b->fd, DMALAB_QUEUE_ANY, r, b->off,
					   len);
		} else {
			n = pwrite(b->fd, w, len, b->off);
			if (n >= 0 && (size_t)n != len) {
				b->short_io++;
				len = n;
			}
			e = n < 0 ? errno : 0;
			if (!e) {
				n = pread(b->fd, r, len, b->off);
				if (n >= 0 && (size_t)n != len) {
					b->short_io++;
					len = n;
				}
				e = n < 0 ? errno : 0;
			}
		}
		if (e == ENODEV) {
			b->enodev++;
			break;
		}
		if (e) {
			if (!b->bad++)
				snprintf(b->first, sizeof(b->first),
					 "transfer: %s", strerror(e));
			break;
		}
		if (memcmp(w, r, len)) {
			if (!b->bad++)
				snprintf(b->first, sizeof(b->first),
					 "data differs after %u ops", b->ops);
			break;
		}
		b->ops++;
	}
	return NULL;
}

static int busy_start(struct busy *b, int fd, uint64_t off)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->off = off;
	return pthread_create(&b->th, NULL, busy_main, b);
}

static void busy_stop(struct busy *b)
{
	b->stop = 1;
	pthread_join(b->th, NULL);
}

/* ---- helpers ------------------------------------------------------------ */

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? errno : 0;
}

/* Load the module with the boot's parameters and then extra ones. */
static int insmod_with(const char *extra)
{
	int f = open(MODULE, O_RDONLY | O_CLOEXEC), e;
	char all[sizeof(params) + 64];

	if (f < 0)
		return errno;
	snprintf(all, sizeof(all), "%s %s", params, extra);
	e = syscall(SYS_finit_module, f, all, 0) ? errno : 0;
	close(f);
	return e;
}

static int insmod(void)
{
	return insmod_with("");
}

static int module_loaded(void)
{
	return access("/sys/module/dmalab", F_OK) == 0;
}

/* Name of the misc device of PCI device bdf ("" if none). */
static void node_of(const char *addr, char *name, size_t sz)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	name[0] = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/misc", addr);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "dmalab", 6) &&
		    strlen(d->d_name) < sz)
			memcpy(name, d->d_name, strlen(d->d_name) + 1);
	closedir(dir);
}

/* Wait (at most 10 s) until bdf has a device node; its path or "". */
static void wait_node(const char *addr, char *dev, size_t sz)
{
	char name[32];
	int i;

	dev[0] = 0;
	for (i = 0; i < 200; i++) {
		node_of(addr, name, sizeof(name));
		if (name[0]) {
			snprintf(dev, sz, "/dev/%s", name);
			if (!access(dev, F_OK))
				return;
		}
		usleep(50000);
	}
	dev[0] = 0;
}

static int wait_gone(const char *path)
{
	int i;

	for (i = 0; i < 200 && !access(path, F_OK); i++)
		usleep(50000);
	return access(path, F_OK) != 0;
}

static int roundtrip(const char *dev)
{
	uint8_t w[7777], r[7777];
	uint64_t s = seed + 7;
	int f = open(dev, O_RDWR), ok;

	if (f < 0)
		return 0;
	fill_rand(&s, w, sizeof(w));
	memset(r, 0, sizeof(r));
	ok = pwrite(f, w, sizeof(w), 4321) == (ssize_t)sizeof(w) &&
	     !do_d2h(f, DMALAB_QUEUE_ANY, r, 4321, sizeof(r)) &&
	     !memcmp(w, r, sizeof(w));
	close(f);
	return ok;
}

/* Every call on a file of a removed device fails with ENODEV. */
static int stale_calls_enodev(int fd, char *why, size_t sz)
{
	struct dmalab_info info;
	struct dmalab_stats st;
	struct dmalab_op op;
	struct dmalab_batch b;
	uint8_t buf[64];
	void *p;
	int e[7];

	e[0] = dev_info(fd, &info);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	e[1] = ioctl(fd, DMALAB_IOC_STATS, &st) ? errno : 0;
	op_init(&op, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, sizeof(buf));
	op_buf(&op.src, DMALAB_BUF_DEVMEM, 0);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)buf);
	e[2] = submit_fd(fd, &op);
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.count = 1;
	b.ops = (uintptr_t)&op;
	e[3] = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) ? errno : 0;
	e[4] = pread(fd, buf, sizeof(buf), 0) < 0 ? errno : 0;
	e[5] = pwrite(fd, buf, sizeof(buf), 0) < 0 ? errno : 0;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	e[6] = p == MAP_FAILED ? errno : 0;
	if (p != MAP_FAILED)
		munmap(p, 4096);
	snprintf(why, sz, "INFO %s, STATS %s, SUBMIT %s, BATCH %s, pread %s, pwrite %s, mmap %s",
		 strerror(e[0]), strerror(e[1]), strerror(e[2]),
		 strerror(e[3]), strerror(e[4]), strerror(e[5]),
		 strerror(e[6]));
	return e[0] == ENODEV && e[1] == ENODEV && e[2] == ENODEV &&
	       e[3] == ENODEV && e[4] == ENODEV && e[5] == ENODEV &&
	       e[6] == ENODEV;
}

static int rmmod_refused(int e)
{
	return e == EWOULDBLOCK || e == EAGAIN || e == EBUSY;
}

/* ---- tests -------------------------------------------------------------- */

static void test_unbind_loops(void)
{
	unsigned int ops = 0, enodev = 0, shorts = 0, bad = 0;
	int calls_ok = 1, maps_ok = 1, back_ok = 1, stale_ok = 1, i;
	int rm_ok = 1;
	double worst = 0;
	char dev[64], why[400];

	for (i = 0; i < UNBIND_LOOPS; i++) {
		struct busy bz;
		uint8_t *dm, *cb;
		double t;
		int fd, e, s1, s2;

		node_of(bdf, dev + 5, sizeof(dev) - 5);
		memcpy(dev, "/dev/", 5);
		fd = open(dev, O_RDWR);
		if (fd < 0) {
			diag("open %s: %s", dev, strerror(errno));
			calls_ok = maps_ok = back_ok = 0;
			break;
		}
		dm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		cb = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			  (off_t)DMALAB_MMAP_COHERENT);
		if (dm == MAP_FAILED || cb == MAP_FAILED) {
			diag("mmap: %s", strerror(errno));
			maps_ok = 0;
		}
		if (cb != MAP_FAILED)
			memset(cb, 0x42, 16384);
		busy_start(&bz, fd, 65536 * (1 + i));
		usleep(150000 + rng_below(&seed, 200000));
		t = now_s();
		e = write_str(DRV "/unbind", bdf);
		t = now_s() - t;
		if (t > worst)
			worst = t;
		if (e) {
			diag("unbind %s: %s", bdf, strerror(e));
			calls_ok = 0;
		}
		/* the busy thread must stop by itself with ENODEV */
		{
			int k;

			for (k = 0; k < 100 && !bz.enodev && !bz.bad; k++)
				usleep(50000);
		}
		busy_stop(&bz);
		ops += bz.ops;
		enodev += bz.enodev;
		shorts += bz.short_io;
		bad += bz.bad;
		if (bz.bad)
			diag("loop %d: busy thread: %s", i, bz.first);
		if (!bz.enodev && !bz.bad) {
			diag("loop %d: busy thread did not see ENODEV", i);
			bad++;
		}
		if (!stale_calls_enodev(fd, why, sizeof(why))) {
			diag("loop %d: stale file: %s", i, why);
			calls_ok = 0;
		}
		s1 = dm != MAP_FAILED ? touch_in_child(dm) : -1;
		s2 = cb != MAP_FAILED ? touch_in_child(cb) : -1;
		if (s1 != SIGBUS || s2 != SIGBUS) {
			diag("loop %d: touching the stale mappings: signal %d (device memory), %d (coherent); want SIGBUS",
			     i, s1, s2);
			maps_ok = 0;
		}
		/* the module is pinned by the stale file */
		e = delete_module("dmalab");
		if (!rmmod_refused(e)) {
			diag("loop %d: rmmod with a stale file open: %s", i,
			     e ? strerror(e) : "succeeded");
			rm_ok = 0;
			if (!e)
				insmod();
		}
		e = write_str(DRV "/bind", bdf);
		wait_node(bdf, dev, sizeof(dev));
		if (e || !dev[0] || !roundtrip(dev)) {
			diag("loop %d: bind %s: %s, node '%s'", i, bdf,
			     strerror(e), dev);
			back_ok = 0;
		}
		if (!stale_calls_enodev(fd, why, sizeof(why))) {
			diag("loop %d: stale file after rebind: %s", i, why);
			stale_ok = 0;
		}
		if (dm != MAP_FAILED)
			munmap(dm, 8192);
		if (cb != MAP_FAILED)
			munmap(cb, 16384);
		close(fd);
		if (!back_ok)
			break;
	}
	tap(!bad && enodev == UNBIND_LOOPS,
	    "unbind while a thread transfers: %u checked ops, ended with ENODEV %u/%d times, %u short, %u bad",
	    ops, enodev, UNBIND_LOOPS, shorts, bad);
	tap(calls_ok && worst < 10,
	    "after unbind every call on the stale file fails with ENODEV (unbind took at most %.2f s)",
	    worst);
	tap(maps_ok, "the stale device memory and coherent mappings raise SIGBUS");
	tap(rm_ok, "rmmod is refused while a stale file is open (the file pins the module)");
	tap(back_ok, "bind: the device comes back and moves data (%d times)",
	    UNBIND_LOOPS);
	tap(stale_ok, "after the rebind the stale file still fails with ENODEV");
}

static void test_rmmod_refused(void)
{
	uint8_t *cb;
	char dev[64];
	int fd, e;

	wait_node(bdf, dev, sizeof(dev));
	fd = open(dev, O_RDWR);
	e = delete_module("dmalab");
	tap(fd >= 0 && rmmod_refused(e),
	    "rmmod with %s open fails: %s", dev,
	    e ? strerror(e) : "it succeeded");
	if (!e) {	/* keep going with a loaded driver */
		close(fd);
		insmod();
		wait_node(bdf, dev, sizeof(dev));
		fd = open(dev, O_RDWR);
	}
	cb = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  (off_t)DMALAB_MMAP_COHERENT);
	close(fd);
	e = delete_module("dmalab");
	tap(cb != MAP_FAILED && rmmod_refused(e),
	    "rmmod with only a coherent mapping left (file closed) fails: %s",
	    e ? strerror(e) : "it succeeded");
	if (!e) {
		insmod();
		wait_node(bdf, dev, sizeof(dev));
	}
	if (cb != MAP_FAILED) {
		memset(cb, 7, 8192);	/* still our memory */
		munmap(cb, 8192);
	}
	tap(roundtrip(dev), "%s still works", dev);
}

/* Whether the function's capability list in config space holds cap id. */
static int pci_has_cap(const char *addr, uint8_t id)
{
	char path[PATH_MAX];
	uint8_t cfg[256];
	int f, n, pos, hops;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", addr);
	f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	n = pread(f, cfg, sizeof(cfg), 0);
	close(f);
	if (n < 64 || !(cfg[0x06] & 0x10))	/* STATUS: capability list */
		return 0;
	for (pos = cfg[0x34] & 0xfc, hops = 0; pos >= 0x40 && hops < 48;
	     pos = cfg[pos + 1] & 0xfc, hops++)
		if (cfg[pos] == id)
			return 1;
	return 0;
}

/* The device's count of doorbells rung through its port BAR, or -1. */
static long long pio_doorbells(void)
{
	uint32_t v;

	return pio_reg_read(bdf, DMALAB_PIO_DOORBELLS, &v) ? -1 : (long long)v;
}

/* The value of sysfs attribute attr of the device at bdf, or "". */
static void pci_attr(const char *attr, char *val, size_t sz)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	if (read_str(path, val, sz) < 0)
		val[0] = 0;
	val[strcspn(val, "\n")] = 0;
}

/*
 * irq_mode and pio_doorbell, reloaded: each interrupt mode the function
 * has a capability for (INTx always) is taken and moves data; one it
 * lacks makes the probe fail, leaving no device.  pio_doorbell=1 moves
 * the doorbells to the port BAR, which the device's own count shows.
 */
static void test_param_reloads(void)
{
	static const struct {
		const char *param, *attr, *want;
		int cap;	/* PCI capability the mode needs, 0: none */
	} runs[] = {
		{ "irq_mode=1", "irq_mode", "intx", 0 },
		{ "irq_mode=2", "irq_mode", "msi", 0x05 },
		{ "irq_mode=3", "irq_mode", "msix", 0x11 },
		{ "pio_doorbell=1", "doorbell", "port", 0 },
	};
	char dev[64], val[32], what[256] = "";
	long long db0, db1;
	size_t i;
	int ok = 1, e;

	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		int can = !runs[i].cap || pci_has_cap(bdf, runs[i].cap);

		e = delete_module("dmalab");
		if (e || !wait_gone("/sys/module/dmalab")) {
			diag("%s: rmmod: %s", runs[i].param, strerror(e));
			ok = 0;
			break;
		}
		e = insmod_with(runs[i].param);
		if (!can) {
			/* the probe ran inside finit_module: no device now */
			node_of(bdf, dev, sizeof(dev));
			if (e || dev[0]) {
				diag("%s without the capability: insmod %s, device '%s'",
				     runs[i].param, strerror(e), dev);
				ok = 0;
			}
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
				 "%s%s refused", *what ? ", " : "",
				 runs[i].param);
			continue;
		}
		wait_node(bdf, dev, sizeof(dev));
		pci_attr(runs[i].attr, val, sizeof(val));
		db0 = pio_doorbells();
		if (e || !dev[0] || strcmp(val, runs[i].want) ||
		    !roundtrip(dev)) {
			diag("%s: insmod %s, node '%s', %s \"%s\" (want \"%s\")",
			     runs[i].param, strerror(e), dev, runs[i].attr,
			     val, runs[i].want);
			ok = 0;
		}
		db1 = pio_doorbells();
		if (!strcmp(runs[i].attr, "doorbell") &&
		    (db0 < 0 || db1 - db0 < 2)) {
			diag("%s: PIO_DOORBELLS %lld -> %lld over a round trip",
			     runs[i].param, db0, db1);
			ok = 0;
		}
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 "%s%s %s", *what ? ", " : "", runs[i].param, val);
	}
	/* back to the boot's parameters */
	delete_module("dmalab");
	wait_gone("/sys/module/dmalab");
	e = insmod();
	wait_node(bdf, dev, sizeof(dev));
	if (e || !dev[0]) {
		diag("reload with the boot's parameters: %s", strerror(e));
		ok = 0;
	}
	tap(ok, "module parameters take effect on reload: %s", what);
}

static void test_reload_loops(void)
{
	int refused = 1, busy_ok = 1, unload_ok = 1, load_ok = 1, i, e;
	unsigned int ops = 0;
	char dev[64];

	for (i = 0; i < RELOAD_LOOPS; i++) {
		struct busy bz;
		uint8_t *dm, *cb;
		int fd, fd2;

		wait_node(bdf, dev, sizeof(dev));
		fd = open(dev, O_RDWR);
		fd2 = open(dev, O_RDWR);
		if (fd < 0 || fd2 < 0) {
			diag("open %s: %s", dev, strerror(errno));
			load_ok = 0;
			break;
		}
		dm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
		cb = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd2,
			  (off_t)DMALAB_MMAP_COHERENT);
		busy_start(&bz, fd, 4096);
		usleep(100000);
		e = delete_module("dmalab");
		if (!rmmod_refused(e)) {
			diag("loop %d: rmmod while busy: %s", i,
			     e ? strerror(e) : "succeeded");
			refused = 0;
		}
		usleep(100000);
		busy_stop(&bz);
		ops += bz.ops;
		if (bz.bad || bz.enodev || !bz.ops) {
			diag("loop %d: busy thread: %u ops, %s%s", i, bz.ops,
			     bz.first, bz.enodev ? " ENODEV" : "");
			busy_ok = 0;
		}
		if (dm != MAP_FAILED)
			munmap(dm, 4096);
		if (cb != MAP_FAILED)
			munmap(cb, 4096);
		close(fd);
		close(fd2);
		e = delete_module("dmalab");
		if (e || !wait_gone(dev) || module_loaded()) {
			diag("loop %d: rmmod with everything closed: %s", i,
			     strerror(e));
			unload_ok = 0;
		}
		e = insmod();
		wait_node(bdf, dev, sizeof(dev));
		if (e || !dev[0] || !roundtrip(dev)) {
			diag("loop %d: insmod: %s, node '%s'", i, strerror(e),
			     dev);
			load_ok = 0;
			if (e && !module_loaded())
				break;
		}
	}
	tap(refused, "rmmod is refused while files are open, mapped and busy (%d times)",
	    RELOAD_LOOPS);
	tap(busy_ok, "the busy transfers carry on unharmed meanwhile (%u checked ops)",
	    ops);
	tap(unload_ok, "once all files and mappings are gone rmmod succeeds; the node and /sys/module/dmalab disappear");
	tap(load_ok, "insmod (finit_module) brings the device back; it moves data");
	e = insmod();
	tap(e == EEXIST, "loading the loaded module again fails with EEXIST (%s)",
	    strerror(e));
}

int main(int argc, char **argv)
{
	long long pins0, pins1;
	char dev[64], raw[512], *p;
	double t0 = now_s();
	int i, ok;

	seed = seed_from_args(argc, argv);
	tap_plan(NTESTS);
	diag("dmalab_reload seed %" PRIu64, seed);
	cmdline_get("dmalab.params", raw, sizeof(raw));
	for (p = raw; *p; p++)
		if (*p == ',')
			*p = ' ';
	snprintf(params, sizeof(params), "%s", raw);
	for (i = 0; i < 2; i++) {
		snprintf(dev, sizeof(dev), "/dev/dmalab%d", i);
		if (!access(dev, F_OK))
			snprintf(names[nnames++], sizeof(names[0]),
				 "dmalab%d", i);
	}
	ok = nnames && !misc_pci_addr("dmalab0", bdf, sizeof(bdf)) &&
	     module_loaded() && !access(DRV "/unbind", W_OK) &&
	     !access(MODULE, R_OK);
	tap(ok, "device dmalab0 at %s, driver bound, %s present, module parameters '%s'",
	    bdf, MODULE, params);
	if (!ok) {
		printf("Bail out! nothing to reload\n");
		return 1;
	}
	pins0 = pins_outstanding(NULL, NULL);

	test_rmmod_refused();	/* 2..4 */
	test_unbind_loops();	/* 5..10 */
	test_reload_loops();	/* 11..15 */
	test_param_reloads();	/* 16 */

	/* 17: leave it as we found it: loaded, bound, the same names */
	if (!module_loaded())
		insmod();
	for (i = 0; i < 100; i++) {
		node_of(bdf, dev, sizeof(dev));
		if (dev[0])
			break;
		usleep(50000);
	}
	if (!dev[0])
		write_str(DRV "/bind", bdf);
	ok = 1;
	for (i = 0; i < nnames; i++) {
		char node[sizeof("/dev/") + sizeof(names[0])];

		/* bounded by the name's own size: gcc cannot see i < 2 */
		snprintf(node, sizeof(node), "/dev/%.*s",
			 (int)sizeof(names[0]) - 1, names[i]);
		ok = ok && !access(node, F_OK) && roundtrip(node);
	}
	tap(ok, "at the end the driver is loaded and bound; %s%s%s work",
	    names[0], nnames > 1 ? " and " : "", nnames > 1 ? names[1] : "");
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0,
	    "no pinned page left behind (outstanding %lld before, %lld after)",
	    pins0, pins1);
	diag("dmalab_reload took %.1f s", now_s() - t0);
	return tap_done();
}
