/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tap.h: helpers shared by dmalab_integrity, dmalab_fuzz, dmalab_stress,
 * dmalab_reload and dmalab_hotunplug: TAP output, a seeded PRNG, CRC32C,
 * op builders, small sysfs/procfs helpers and the pin counters of
 * /proc/vmstat.  Everything is static inline so that each program uses only
 * what it needs.
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
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

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

static inline uint64_t seed_from_args(int argc, char **argv)
{
	if (argc > 1)
		return strtoull(argv[1], NULL, 0);
	return (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
}

/* ---- CRC32C: Castagnoli, reflected 0x82F63B78, init ~0, xorout ~0 ------ */

static uint32_t crc32c_table[256] __attribute__((unused));

static inline void crc32c_init(void)
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

	if (!crc32c_table[1])
		crc32c_init();
	for (i = 0; i < n; i++)
		crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- ops ----------------------------------------------------------------- */

static inline void op_init(struct dmalab_op *op, uint32_t opcode,
			   uint32_t queue, uint32_t len)
{
	memset(op, 0, sizeof(*op));
	op->opcode = opcode;
	op->queue = queue;
	op->len = len;
}

static inline void op_buf(struct dmalab_buf *b, uint32_t kind, uint64_t addr)
{
	b->kind = kind;
	b->addr = addr;
	b->rsvd = 0;
}

/*
 * SUBMIT; returns 0 or the errno.  *status receives the device status
 * (DMALAB_STS_OK and bytes == len is mapped to 0, anything else to -1 when
 * status is NULL).
 */
static inline int submit_fd(int fd, struct dmalab_op *op)
{
	return ioctl(fd, DMALAB_IOC_SUBMIT, op) ? errno : 0;
}

static inline int op_done_ok(const struct dmalab_op *op)
{
	return op->status == DMALAB_STS_OK && op->bytes == op->len;
}

static inline int dev_info(int fd, struct dmalab_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, DMALAB_IOC_INFO, info) ? errno : 0;
}

/* H2D len bytes of src to device memory at off; 0 or errno (EIO: status). */
static inline int do_h2d(int fd, uint32_t q, const void *src, uint64_t off,
			 uint32_t len)
{
	struct dmalab_op op;
	int e;

	op_init(&op, DMALAB_UOP_H2D, q, len);
	op_buf(&op.src, DMALAB_BUF_USER, (uintptr_t)src);
	op_buf(&op.dst, DMALAB_BUF_DEVMEM, off);
	e = submit_fd(fd, &op);
	if (!e && !op_done_ok(&op))
		e = EIO;
	return e;
}

static inline int do_d2h(int fd, uint32_t q, void *dst, uint64_t off,
			 uint32_t len)
{
	struct dmalab_op op;
	int e;

	op_init(&op, DMALAB_UOP_D2H, q, len);
	op_buf(&op.src, DMALAB_BUF_DEVMEM, off);
	op_buf(&op.dst, DMALAB_BUF_USER, (uintptr_t)dst);
	e = submit_fd(fd, &op);
	if (!e && !op_done_ok(&op))
		e = EIO;
	return e;
}

/* ---- files ------------------------------------------------------------- */

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

static inline void vm_config_name(char *val, size_t sz)
{
	cmdline_get("dmalab.config", val, sz);
	if (!val[0])
		snprintf(val, sz, "default");
}

/* nr_foll_pin_acquired - nr_foll_pin_released, also stored in acq, rel */
static inline long long pins_outstanding(long long *acq, long long *rel)
{
	char line[256];
	long long a = -1, r = -1, v;
	FILE *f;

	/* fold the per-CPU deltas so that the counters are exact */
	write_str("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/vmstat", "r");

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

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * PCI address (e.g. 0000:01:00.0) of the device behind /dev/NAME, from
 * /sys/class/misc/NAME/device; 0 or -1.
 */
static inline int misc_pci_addr(const char *name, char *bdf, size_t sz)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *s;
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/class/misc/%s/device", name);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = 0;
	s = strrchr(target, '/');
	s = s ? s + 1 : target;
	if (strlen(s) >= sz)
		return -1;
	memcpy(bdf, s, strlen(s) + 1);
	return 0;
}

#endif /* DMALAB_TAP_H */
