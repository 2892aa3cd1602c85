/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tap.h: the generic half of the helpers every guest test program shares
 * (the device half, which includes this, is dmalab_test.h): TAP output, a
 * seeded PRNG, CRC32C, guarded buffers and byte comparison, small
 * sysfs/procfs file helpers and the pin counters of /proc/vmstat.  Nothing
 * here knows the dmalab device.  Everything is static inline so that each
 * program uses only what it needs.
 */
#ifndef DMALAB_TAP_H
#define DMALAB_TAP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <time.h>
#include <unistd.h>

/* ---- TAP -------------------------------------------------------------- */

static int tap_no __attribute__((unused));
static int tap_failed __attribute__((unused));
static int tap_planned __attribute__((unused));

static inline void tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void __attribute__((format(printf, 2, 3)))
tap(int ok, const char *fmt, ...)
{
	va_list ap;

	tap_no++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", tap_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void __attribute__((format(printf, 1, 2)))
tap_skip(const char *fmt, ...)
{
	va_list ap;

	tap_no++;
	printf("ok %d # SKIP ", tap_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* n cases skipped for the same reason */
static inline void tap_skip_n(int n, const char *why)
{
	while (n-- > 0)
		tap_skip("%s", why);
}

static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* "Bail out! ..." and exit(1): the program cannot go on. */
static inline void __attribute__((format(printf, 1, 2), noreturn))
tap_bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

/* Print the summary line; the exit status of main(). */
static inline int tap_done(void)
{
	if (tap_no != tap_planned)
		printf("# planned %d tests but ran %d\n", tap_planned, tap_no);
	printf("# %d passed, %d failed\n", tap_no - tap_failed, tap_failed);
	fflush(stdout);
	return tap_failed || tap_no != tap_planned ? 1 : 0;
}

/* ---- PRNG (splitmix64), one state per user ---------------------------- */

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static inline void fill_rand(uint64_t *s, void *buf, size_t n)
{
	uint8_t *p = buf;
	uint64_t v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		v = rng_next(s);
		memcpy(p + i, &v, 8);
	}
	if (i < n) {
		v = rng_next(s);
		memcpy(p + i, &v, n - i);
	}
}

/* argv[1] if given, else something new every run. */
static inline uint64_t seed_from_args(int argc, char **argv)
{
	if (argc > 1)
		return strtoull(argv[1], NULL, 0);
	return (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
}

/* ---- CRC32C: Castagnoli, reflected 0x82F63B78, init ~0, xorout ~0 ----- */

static uint32_t crc32c_table[256] __attribute__((unused));

/*
 * Filled before main(), not lazily on first use: dmalab_stress computes
 * CRCs from many threads at once, and a thread that saw the table half
 * filled by another computed a wrong expected value.
 */
static void __attribute__((constructor, unused)) crc32c_init(void)
{
	uint32_t i, c;
	int k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
		crc32c_table[i] = c;
	}
}

static inline uint32_t crc32c(const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t crc = ~0u;
	size_t i;

	for (i = 0; i < n; i++)
		crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- buffers ---------------------------------------------------------- */

/*
 * Compare n bytes (volatile reads, so that it also serves mappings of device
 * memory, which must be read byte by byte); diagnoses the first difference.
 */
static inline int same(const volatile uint8_t *got, const uint8_t *want,
		       size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (got[i] != want[i]) {
			diag("%s: first difference at byte %zu of %zu: got %#x want %#x",
			     what, i, n, got[i], want[i]);
			return 0;
		}
	}
	return 1;
}

/* Whether all n bytes at p are v. */
static inline int all_bytes(const volatile uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

#define GUARD		64
#define GUARD_BYTE	0xa5

/* n bytes at p, mis bytes past GUARD guard bytes, GUARD guard bytes after. */
struct gbuf {
	uint8_t *raw;
	uint8_t *p;
	size_t n;
};

/* g->p, or NULL without memory (g->raw is then NULL: free() is safe). */
static inline uint8_t *gbuf_alloc(struct gbuf *g, size_t n, size_t mis)
{
	g->raw = malloc(n + 2 * GUARD + mis);
	if (!g->raw)
		return NULL;
	g->p = g->raw + GUARD + mis;
	g->n = n;
	memset(g->raw, GUARD_BYTE, n + 2 * GUARD + mis);
	return g->p;
}

static inline int gbuf_guards_ok(const struct gbuf *g)
{
	return all_bytes(g->p - GUARD, GUARD, GUARD_BYTE) &&
	       all_bytes(g->p + g->n, GUARD, GUARD_BYTE);
}

/* ---- files ------------------------------------------------------------ */

static inline int write_str(const char *path, const char *s)
{
	int f = open(path, O_WRONLY);
	ssize_t n;
	int e;

	if (f < 0)
		return errno;
	n = write(f, s, strlen(s));
	e = n == (ssize_t)strlen(s) ? 0 : (n < 0 ? errno : EIO);
	close(f);
	return e;
}

/* Read a small file into buf (NUL-terminated); length or -1. */
static inline ssize_t read_str(const char *path, char *buf, size_t sz)
{
	int f = open(path, O_RDONLY);
	ssize_t n;

	if (f < 0)
		return -1;
	n = read(f, buf, sz - 1);
	close(f);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* "VAL\n" to path (a module parameter, a debugfs knob); 0 or the errno,
 * which is diagnosed. */
static inline int write_ulong(const char *path, unsigned long val)
{
	char s[32];
	int e;

	snprintf(s, sizeof(s), "%lu\n", val);
	e = write_str(path, s);
	if (e)
		diag("write %s: %s", path, strerror(e));
	return e;
}

/* The same to the file name in the directory dir. */
static inline int write_ulong_at(const char *dir, const char *name,
				 unsigned long val)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return ENAMETOOLONG;
	return write_ulong(path, val);
}

/* The number in a small file (strtol base 0), -1 if unreadable or empty. */
static inline long read_long(const char *path)
{
	char s[32];

	if (read_str(path, s, sizeof(s)) <= 0)
		return -1;
	return strtol(s, NULL, 0);
}

/* Value of dmalab.KEY=VALUE on the kernel command line, or "" */
static inline void cmdline_get(const char *key, char *val, size_t sz)
{
	char buf[4096], *tok, *save = NULL;
	size_t kl = strlen(key);

	val[0] = 0;
	if (read_str("/proc/cmdline", buf, sizeof(buf)) < 0)
		return;
	for (tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		if (!strncmp(tok, key, kl) && tok[kl] == '=') {
			snprintf(val, sz, "%s", tok + kl + 1);
			return;
		}
	}
}

/* The VM configuration (dmalab.config=NAME), "default" when not given. */
static inline void vm_config_name(char *val, size_t sz)
{
	cmdline_get("dmalab.config", val, sz);
	if (!val[0])
		snprintf(val, sz, "default");
}

/* ---- pins of /proc/vmstat --------------------------------------------- */

/*
 * Fold the per-CPU deltas of the vm counters into the global ones: without
 * it /proc/vmstat may lag by a few pages per CPU.
 */
static inline void vmstat_refresh(void)
{
	int e = write_str("/proc/sys/vm/stat_refresh", "1");

	if (e)
		diag("stat_refresh: %s", strerror(e));
}

/*
 * nr_foll_pin_acquired - nr_foll_pin_released as /proc/vmstat shows it now
 * (no refresh), also stored in acq, rel
 */
static inline long long pins_read(long long *acq, long long *rel)
{
	char line[256];
	long long a = -1, r = -1, v;
	FILE *f = fopen("/proc/vmstat", "r");

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "nr_foll_pin_acquired %lld", &v) == 1)
				a = v;
			else if (sscanf(line, "nr_foll_pin_released %lld",
					&v) == 1)
				r = v;
		}
		fclose(f);
	}
	if (acq)
		*acq = a;
	if (rel)
		*rel = r;
	return a - r;
}

/* The same after a stat_refresh, so that the counters are exact. */
static inline long long pins_outstanding(long long *acq, long long *rel)
{
	write_str("/proc/sys/vm/stat_refresh", "1");
	return pins_read(acq, rel);
}

/* The process's VmPin (its mm's pinned_vm) in kB, or -1. */
static inline long vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * Pins are released by unpin_user_pages() when a request is freed, which for
 * abandoned requests happens in a work item: give it a moment.  Waits until
 * no more than want pins are outstanding (pins an earlier program left may
 * be released meanwhile: a program must only not add to them).
 */
static inline long long pins_settle(long long want)
{
	long long d = pins_outstanding(NULL, NULL);
	int i;

	for (i = 0; i < 50 && d > want; i++) {
		usleep(20000);
		d = pins_outstanding(NULL, NULL);
	}
	return d;
}

/* ---- time ------------------------------------------------------------- */

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- kernel log --------------------------------------------------------- */

/*
 * The kernel log is never cleared: guest/init checks all of it after the
 * tests.  A test that reads what the kernel printed during one step writes
 * a mark before it and reads what follows the last mark.
 */
static inline void klog_mark(const char *mark)
{
	int f = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (f < 0)
		return;
	if (write(f, mark, strlen(mark)) < 0)
		perror("/dev/kmsg");
	close(f);
}

/*
 * The kernel log after the last line holding mark (all of it if none), as
 * a string to free(); NULL if it cannot be read.
 */
static inline char *klog_since(const char *mark)
{
	int n = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *at, *next;

	if (n <= 0)
		return NULL;
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, n);
	buf[n > 0 ? n : 0] = 0;
	for (at = buf; (next = strstr(at, mark)); at = next + 1)
		;
	if (at != buf) {
		at = strchr(at, '\n');
		at = at ? at + 1 : buf + strlen(buf);
	}
	memmove(buf, at, strlen(at) + 1);
	return buf;
}

#endif /* DMALAB_TAP_H */
