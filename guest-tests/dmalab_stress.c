// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_stress: concurrency.  3 processes x 4 threads on one device, each
 * thread with its own device-memory slice and buffers, some sharing their
 * process's file and some with a file of their own, run many random ops
 * (H2D, D2H, COPY, FILL, CRC32C, batches, pread/pwrite) on random queues and
 * check every result against a per-thread shadow.  Beside them a thread
 * opens files, maps coherent buffers, moves data through them and closes
 * them again.  Then the same on both devices at once when /dev/dmalab1
 * exists, with threads copying between the two devices.  Output is TAP.
 *
 * Usage: dmalab_stress [seed]   (as root)
 */
#include "dmalab_test.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define NTESTS		8
#define NPROC		3
#define NTHR		4
#define NWORK		(NPROC * NTHR)
#define OPS		400
#define TIME_LIMIT	12.0	/* seconds a phase may run */
#define MAXLEN		16384
#define CHURN		40

/* Results shared between the processes. */
struct wres {
	unsigned int ops, errors, done;
	char first[160];
};

struct shared {
	struct wres w[2 * NWORK + 4];
	unsigned int churn_ok, churn_n;
};

static struct shared *sh;
static uint64_t seed0;
static double t_end;

struct worker {
	const char *dev;
	int fd;			/* shared file or -1: open one */
	int idx;		/* result slot */
	uint64_t base, slice;	/* device memory slice */
	uint8_t *shadow;	/* slice contents; in shared memory */
	struct dmalab_info info;
	const char *dev2;	/* other device for cross copies, or NULL */
};

static void __attribute__((format(printf, 2, 3)))
werr(struct wres *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->errors++) {
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
}

static uint32_t rq(uint64_t *s, const struct dmalab_info *info)
{
	uint64_t r = rng_below(s, info->num_queues + 1);

	return r == info->num_queues ? DMALAB_QUEUE_ANY : (uint32_t)r;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct wres *r = &sh->w[w->idx];
	uint64_t s = seed0 * 1000003 + w->idx;
	uint8_t *a, *b, *c;
	int fd = w->fd, fd2 = -1, own = 0;
	struct dmalab_op op, ops[8];
	struct dmalab_batch bt;
	unsigned int i, k;
	int e;

	a = malloc(MAXLEN + 4096);
	b = malloc(MAXLEN + 4096);
	c = malloc(MAXLEN + 4096);
	if (!a || !b || !c) {
		werr(r, "no memory");
		goto out;
	}
	if (fd < 0) {
		fd = open(w->dev, O_RDWR);
		own = 1;
		if (fd < 0) {
			werr(r, "open %s: %s", w->dev, strerror(errno));
			goto out;
		}
	}
	if (w->dev2) {
		fd2 = open(w->dev2, O_RDWR);
		if (fd2 < 0)
			werr(r, "open %s: %s", w->dev2, strerror(errno));
	}
	/* initialize the slice */
	fill_rand(&s, w->shadow, w->slice);
	if (pwrite(fd, w->shadow, w->slice, w->base) != (ssize_t)w->slice)
		werr(r, "initial pwrite: %s", strerror(errno));

	for (i = 0; i < OPS && now_s() < t_end; i++) {
		uint64_t len = 1 + rng_below(&s, rng_below(&s, 4) ?
						  2048 : MAXLEN);
		uint64_t off, mis = rng_below(&s, 4096);
		uint8_t *pa = a + rng_below(&s, 4096), *pb = b + mis;
		uint32_t kind = rng_below(&s, 8);
		uint64_t pat;

		if (len > w->slice)
			len = w->slice;
		off = rng_below(&s, w->slice - len + 1);
		r->ops++;
		switch (kind) {
		case 0:	/* H2D */
			fill_rand(&s, pa, len);
			e = do_h2d(fd, rq(&s, &w->info), pa, w->base + off,
				   len);
			if (e)
				werr(r, "H2D %" PRIu64 " at %#" PRIx64 ": %s",
				     len, w->base + off, strerror(e));
			else
				memcpy(w->shadow + off, pa, len);
			break;
		case 1:	/* D2H */
			e = do_d2h(fd, rq(&s, &w->info), pb, w->base + off,
				   len);
			if (e)
				werr(r, "D2H: %s", strerror(e));
			else if (memcmp(pb, w->shadow + off, len))
				werr(r, "D2H %" PRIu64 " at %#" PRIx64 ": data differs",
				     len, w->base + off);
			break;
		case 2:	/* pwrite + pread */
			fill_rand(&s, pa, len);
			if (pwrite(fd, pa, len, w->base + off) != (ssize_t)len) {
				werr(r, "pwrite: %s", strerror(errno));
				break;
			}
			memcpy(w->shadow + off, pa, len);
			off = rng_below(&s, w->slice - len + 1);
			if (pread(fd, pb, len, w->base + off) != (ssize_t)len)
				werr(r, "pread: %s", strerror(errno));
			else if (memcmp(pb, w->shadow + off, len))
				werr(r, "pread: data differs");
			break;
		case 3:	/* COPY */
			fill_rand(&s, pa, len);
			memset(pb, 0x5a, len + 16);
			op_init(&op, DMALAB_UOP_COPY, rq(&s, &w->info), len);
			op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)pa);
			op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)pb);
			e = submit_fd(fd, &op);
			if (e || !op_done_ok(&op))
				werr(r, "COPY: %s status %#x", strerror(e),
				     op.status);
			else if (memcmp(pa, pb, len) || pb[len] != 0x5a)
				werr(r, "COPY %" PRIu64 ": data differs", len);
			break;
		case 4:	/* FILL */
			pat = rng_next(&s);
			memset(pb, 0x5a, len + 16);
			op_init(&op, DMALAB_UOP_FILL, rq(&s, &w->info), len);
			op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)pb);
			op.pattern = pat;
			e = submit_fd(fd, &op);
			if (e || !op_done_ok(&op)) {
				werr(r, "FILL: %s status %#x", strerror(e),
				     op.status);
				break;
			}
			for (k = 0; k < len; k++)
				if (pb[k] != (uint8_t)(pat >> (8 * (k & 7))))
					break;
			if (k < len || pb[len] != 0x5a)
				werr(r, "FILL %" PRIu64 ": byte %u wrong", len,
				     k);
			break;
		case 5:	/* CRC32C */
			fill_rand(&s, pa, len);
			op_init(&op, DMALAB_UOP_CRC32C, rq(&s, &w->info), len);
			op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)pa);
			e = submit_fd(fd, &op);
			if (e || !op_done_ok(&op))
				werr(r, "CRC32C: %s status %#x", strerror(e),
				     op.status);
			else if (op.result != crc32c(pa, len))
				werr(r, "CRC32C %" PRIu64 ": %#x want %#x", len,
				     op.result, crc32c(pa, len));
			break;
		case 6: {	/* batch: H2D to disjoint parts, then D2H */
			unsigned int n = 2 + rng_below(&s, 6);
			uint64_t part = w->slice / n, plen;

			plen = part < 1024 ? part : 1 + rng_below(&s, 1024);
			fill_rand(&s, c, n * plen);
			for (k = 0; k < n; k++) {
				op_init(&ops[k], DMALAB_UOP_H2D,
					rq(&s, &w->info), plen);
				op_buf(&ops[k].src, DMALAB_BUF_USER,
				       (uintptr_t)(c + k * plen));
				op_buf(&ops[k].dst, DMALAB_BUF_DEVMEM,
				       w->base + k * part);
			}
			memset(&bt, 0, sizeof(bt));
			bt.size = sizeof(bt);
			bt.count = n;
			bt.ops = (uintptr_t)ops;
			if (ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &bt) ||
			    bt.completed != n) {
				werr(r, "batch H2D: %s, %u of %u completed",
				     strerror(errno), bt.completed, n);
				break;
			}
			for (k = 0; k < n; k++)
				memcpy(w->shadow + k * part, c + k * plen,
				       plen);
			for (k = 0; k < n; k++) {
				op_init(&ops[k], DMALAB_UOP_D2H,
					rq(&s, &w->info), plen);
				op_buf(&ops[k].src, DMALAB_BUF_DEVMEM,
				       w->base + k * part);
				op_buf(&ops[k].dst, DMALAB_BUF_USER,
				       (uintptr_t)(b + k * batch_stride(plen)));
			}
			memset(&bt, 0, sizeof(bt));
			bt.size = sizeof(bt);
			bt.count = n;
			bt.ops = (uintptr_t)ops;
			if (ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &bt) ||
			    bt.completed != n)
				werr(r, "batch D2H: %s, %u of %u completed",
				     strerror(errno), bt.completed, n);
			else
				for (k = 0; k < n; k++)
					if (memcmp(b + k * batch_stride(plen),
						   c + k * plen, plen)) {
						werr(r, "batch: part %u differs",
						     k);
						break;
					}
			break;
		}
		default:	/* cross-device copy, or another D2H */
			if (fd2 >= 0) {
				uint64_t o2 = w->base + off;

				/* our slice on dev -> same slice on dev2 */
				e = do_d2h(fd, rq(&s, &w->info), pb, o2, len);
				if (!e)
					e = do_h2d(fd2, DMALAB_QUEUE_ANY, pb,
						   o2, len);
				if (!e)
					e = do_d2h(fd2, DMALAB_QUEUE_ANY, pa,
						   o2, len);
				if (e)
					werr(r, "cross-device copy: %s",
					     strerror(e));
				else if (memcmp(pa, w->shadow + off, len))
					werr(r, "cross-device copy: data differs");
			} else {
				e = do_d2h(fd, rq(&s, &w->info), pb,
					   w->base + off, len);
				if (e)
					werr(r, "D2H: %s", strerror(e));
				else if (memcmp(pb, w->shadow + off, len))
					werr(r, "D2H: data differs");
			}
			break;
		}
	}
out:
	r->done = 1;
	if (own && fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	free(a);
	free(b);
	free(c);
	return NULL;
}

/* Open, map a coherent buffer, move data through it, unmap, close. */
static void *churn_main(void *arg)
{
	const char *dev = arg;
	uint64_t s = seed0 ^ 0xc0ffee;
	uint8_t src[3000];
	int i;

	for (i = 0; i < CHURN && now_s() < t_end; i++) {
		size_t csz = 4096 * (1 + rng_below(&s, 16));
		size_t len = 1 + rng_below(&s, sizeof(src));
		struct dmalab_op op;
		uint8_t *cb;
		int f, ok = 0;

		sh->churn_n++;
		f = open(dev, O_RDWR);
		if (f < 0)
			continue;
		cb = mmap(NULL, csz, PROT_READ | PROT_WRITE, MAP_SHARED, f,
			  (off_t)DMALAB_MMAP_COHERENT);
		if (cb != MAP_FAILED) {
			fill_rand(&s, src, len);
			op_init(&op, DMALAB_UOP_COPY, DMALAB_QUEUE_ANY, len);
			op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)src);
			op_buf(&op.dst, DMALAB_BUF_COHERENT, csz - len);
			ok = !submit_fd(f, &op) && op_done_ok(&op) &&
			     !memcmp(cb + csz - len, src, len);
			/* sometimes close the file before unmapping */
			if (i & 1) {
				close(f);
				f = -1;
			}
			munmap(cb, csz);
		}
		if (f >= 0)
			close(f);
		sh->churn_ok += ok;
	}
	return NULL;
}

/*
 * One process: nthr worker threads on dev (even ones share the process's
 * file), the churn thread when churn is set.
 */
static void proc_main(const char *dev, const char *dev2, int first_idx,
		      int nthr, uint64_t slice, uint8_t *shadows, int churn)
{
	pthread_t th[NTHR + 1];
	struct worker w[NTHR];
	int fd = open(dev, O_RDWR), i, n = 0;
	struct dmalab_info info;

	if (fd < 0 || dev_info(fd, &info)) {
		werr(&sh->w[first_idx], "open %s: %s", dev, strerror(errno));
		_exit(1);
	}
	for (i = 0; i < nthr; i++) {
		w[i].dev = dev;
		w[i].dev2 = dev2;
		w[i].fd = i % 2 ? -1 : fd;
		w[i].idx = first_idx + i;
		w[i].base = (uint64_t)w[i].idx % 16 * slice;
		w[i].slice = slice;
		w[i].shadow = shadows + w[i].base;
		w[i].info = info;
		if (!pthread_create(&th[n], NULL, worker_main, &w[i]))
			n++;
		else
			werr(&sh->w[w[i].idx], "pthread_create failed");
	}
	if (churn && !pthread_create(&th[n], NULL, churn_main, (void *)dev))
		n++;
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	close(fd);
	_exit(0);
}

static struct dmalab_stats stats_of(const char *dev)
{
	struct dmalab_stats st;
	int f = open(dev, O_RDWR);

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (f < 0 || ioctl(f, DMALAB_IOC_STATS, &st))
		memset(&st, 0xff, sizeof(st));
	if (f >= 0)
		close(f);
	return st;
}

/* Sum the results of slots [lo, hi); 1 if all is well. */
static int summarize(int lo, int hi, unsigned int *ops)
{
	int i, ok = 1;

	*ops = 0;
	for (i = lo; i < hi; i++) {
		struct wres *r = &sh->w[i];

		*ops += r->ops;
		if (r->errors || !r->done) {
			diag("worker %d: %u errors in %u ops%s, first: %s", i,
			     r->errors, r->ops, r->done ? "" : " (did not finish)",
			     r->first);
			ok = 0;
		}
	}
	return ok;
}

/* Wait for the children; 1 if all exited 0. */
static int reap(pid_t *pids, int n)
{
	int i, st, ok = 1;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0) {
			ok = 0;
			continue;
		}
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st)) {
			diag("child %d: status %#x", (int)pids[i], st);
			ok = 0;
		}
	}
	return ok;
}

/* Device memory slices equal what the workers last wrote. */
static int slices_ok(const char *dev, int lo, int hi, uint64_t slice,
		     const uint8_t *shadows)
{
	uint8_t *buf = malloc(slice);
	int f = open(dev, O_RDWR), i, ok = buf && f >= 0;

	for (i = lo; ok && i < hi; i++) {
		uint64_t base = (uint64_t)i % 16 * slice;

		if (pread(f, buf, slice, base) != (ssize_t)slice ||
		    memcmp(buf, shadows + base, slice)) {
			diag("%s: slice %d at %#" PRIx64 " differs", dev, i,
			     base);
			ok = 0;
		}
	}
	if (f >= 0)
		close(f);
	free(buf);
	return ok;
}

int main(int argc, char **argv)
{
	const char *dev0 = "/dev/dmalab0", *dev1 = "/dev/dmalab1";
	struct dmalab_stats a, b;
	struct dmalab_info info;
	pid_t pids[4];
	uint8_t *shadows, *shadows1;
	uint64_t slice, slice1 = 0;
	long long pins0, pins1;
	unsigned int ops;
	double t0 = now_s();
	int fd, i, ok;

	seed0 = seed_from_args(argc, argv);
	tap_plan(NTESTS);
	diag("dmalab_stress seed %" PRIu64 " (rerun: dmalab_stress %" PRIu64 ")",
	     seed0, seed0);
	fd = open(dev0, O_RDWR);
	if (fd < 0 || dev_info(fd, &info)) {
		printf("Bail out! cannot use %s\n", dev0);
		return 1;
	}
	close(fd);
	slice = info.devmem_size / 16 & ~4095ULL;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	shadows = mmap(NULL, 2 * info.devmem_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || shadows == MAP_FAILED || !slice) {
		printf("Bail out! no memory\n");
		return 1;
	}
	shadows1 = shadows + info.devmem_size;
	memset(sh, 0, sizeof(*sh));
	pins0 = pins_outstanding(NULL, NULL);
	diag("%u queues, slices of %" PRIu64 " bytes", info.num_queues,
	     slice);

	/* Phase 1: NPROC processes x NTHR threads on one device. */
	a = stats_of(dev0);
	t_end = now_s() + TIME_LIMIT;
	fflush(stdout);
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		if (!pids[i])
			proc_main(dev0, NULL, i * NTHR, NTHR, slice, shadows,
				  i == 0);
	}
	ok = reap(pids, NPROC);
	ok = summarize(0, NWORK, &ops) && ok;
	tap(ok, "%d processes x %d threads on %s: %u random ops, every result checked (%.1f s)",
	    NPROC, NTHR, dev0, ops, now_s() - t0);
	tap(sh->churn_n && sh->churn_ok == sh->churn_n,
	    "meanwhile %u of %u open/mmap coherent/COPY/munmap/close cycles worked",
	    sh->churn_ok, sh->churn_n);
	tap(slices_ok(dev0, 0, NWORK, slice, shadows),
	    "every thread's device-memory slice holds what it last wrote");
	b = stats_of(dev0);
	tap(b.submitted - a.submitted == b.completed - a.completed &&
	    b.timeouts == a.timeouts && b.cpl_errors == a.cpl_errors &&
	    b.queue_resets == a.queue_resets,
	    "STATS: %llu submitted, %llu completed, no errors, timeouts or resets",
	    (unsigned long long)(b.submitted - a.submitted),
	    (unsigned long long)(b.completed - a.completed));

	/* Phase 2: both devices at once. */
	if (access(dev1, F_OK)) {
		for (i = 0; i < 3; i++)
			tap_skip("%s does not exist (one device in this configuration)",
				 dev1);
	} else {
		struct dmalab_info info1;

		fd = open(dev1, O_RDWR);
		ok = fd >= 0 && !dev_info(fd, &info1);
		if (fd >= 0)
			close(fd);
		slice1 = ok ? (info1.devmem_size / 16 & ~4095ULL) : 0;
		/* both devices use the smaller slice so cross copies fit */
		if (slice1 > slice)
			slice1 = slice;
		memset(sh, 0, sizeof(*sh));
		t0 = now_s();
		t_end = t0 + TIME_LIMIT;
		fflush(stdout);
		/* two processes per device; half the threads copy across */
		for (i = 0; i < 4 && ok; i++) {
			pids[i] = fork();
			if (!pids[i])
				proc_main(i < 2 ? dev0 : dev1,
					  i % 2 ? (i < 2 ? dev1 : NULL) : NULL,
					  i * NTHR, NTHR, slice1,
					  i < 2 ? shadows : shadows1, 0);
		}
		ok = ok && reap(pids, 4);
		ok = summarize(0, 4 * NTHR, &ops) && ok;
		tap(ok, "both devices at once: 4 processes x %d threads, %u ops, cross-device copies (%.1f s)",
		    NTHR, ops, now_s() - t0);
		tap(ok && slices_ok(dev0, 0, 2 * NTHR, slice1, shadows),
		    "%s slices hold what their threads wrote", dev0);
		tap(ok && slices_ok(dev1, 2 * NTHR, 4 * NTHR, slice1,
				    shadows1),
		    "%s slices hold what their threads wrote", dev1);
	}
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0,
	    "no pinned page left behind (outstanding %lld before, %lld after)",
	    pins0, pins1);
	return tap_done();
}
