/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmalab_test.h: the device half of the helpers every guest test program
 * shares (it includes tap.h, the generic half): the layout checks of the
 * hardware and uapi structures, opening /dev/dmalabN with DMALAB_IOC_INFO,
 * op builders and SUBMIT helpers, STATS, and the sysfs / debugfs places of
 * a device.  Everything is static inline so that each program uses only
 * what it needs.
 */
#ifndef DMALAB_TEST_H
#define DMALAB_TEST_H

#include "tap.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "dmalab_hw.h"
#include "dmalab_uapi.h"

/* ---- layout ----------------------------------------------------------- */

/* The hardware layout (dmalab_hw.h). */
_Static_assert(sizeof(struct dmalab_desc) == 32, "descriptor size");
_Static_assert(sizeof(struct dmalab_cpl) == 32, "completion size");
_Static_assert(sizeof(struct dmalab_sg_entry) == 16, "SG entry size");
/* The uapi layout (the driver checks the same with BUILD_BUG_ON). */
_Static_assert(sizeof(struct dmalab_info) == 88, "dmalab_info size");
_Static_assert(sizeof(struct dmalab_buf) == 16, "dmalab_buf size");
_Static_assert(sizeof(struct dmalab_op) == 80, "dmalab_op size");
_Static_assert(sizeof(struct dmalab_batch) == 40, "dmalab_batch size");
_Static_assert(sizeof(struct dmalab_stats) == 136, "dmalab_stats size");
_Static_assert(sizeof(struct dmalab_queue_reset) == 8, "queue_reset size");
_Static_assert(sizeof(struct dmalab_async) == 96, "dmalab_async size");
_Static_assert(sizeof(struct dmalab_completion) == 40, "completion size");
_Static_assert(sizeof(struct dmalab_wait) == 48, "dmalab_wait size");
_Static_assert(sizeof(struct dmalab_register) == 32, "register size");
_Static_assert(sizeof(struct dmalab_dma_seg) == 24, "dma_seg size");
_Static_assert(sizeof(struct dmalab_dma_addrs) == 48, "dma_addrs size");
_Static_assert(sizeof(struct dmalab_test_stale) == 24, "test_stale size");
_Static_assert(sizeof(struct dmalab_test_stream) == 32, "test_stream size");

#define DMALAB_DEV		"/dev/dmalab0"
#define DMALAB_PARAMS		"/sys/module/dmalab/parameters/"
#define DMALAB_TIMEOUT_PARAM	DMALAB_PARAMS "timeout_ms"

/* ---- the device ------------------------------------------------------- */

static inline int dev_info(int fd, struct dmalab_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, DMALAB_IOC_INFO, info) ? errno : 0;
}

/* open(dev, O_RDWR) and DMALAB_IOC_INFO; the fd, or -1 (errno set). */
static inline int dev_open(const char *dev, struct dmalab_info *info)
{
	int fd = open(dev, O_RDWR), e;

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return -1;
	e = dev_info(fd, info);
	if (e) {
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * The start of a program run as PROG [seed] [device]: the seed (also to
 * *rs, the program's PRNG), the plan and a line naming both; the device.
 */
static inline const char *test_begin(int argc, char **argv, const char *prog,
				     int ntests, uint64_t *rs)
{
	const char *dev = argc > 2 ? argv[2] : DMALAB_DEV;

	*rs = seed_from_args(argc, argv);
	tap_plan(ntests);
	diag("%s seed %" PRIu64 " device %s", prog, *rs, dev);
	return dev;
}

/* DMALAB_IOC_STATS; a failure is diagnosed (the counters then read 0). */
static inline struct dmalab_stats dev_stats(int fd)
{
	struct dmalab_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (ioctl(fd, DMALAB_IOC_STATS, &st))
		diag("STATS: %s", strerror(errno));
	return st;
}

/* DMALAB_IOC_STATS into *st, its counters printed; 0 or the errno. */
static inline int dev_stats_diag(int fd, struct dmalab_stats *st)
{
	int e;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	e = ioctl(fd, DMALAB_IOC_STATS, st) ? errno : 0;
	diag("stats: submitted %llu completed %llu cpl_errors %llu irqs %llu err_irqs %llu timeouts %llu resets %llu hw_descs %llu hw_bytes %llu",
	     (unsigned long long)st->submitted,
	     (unsigned long long)st->completed,
	     (unsigned long long)st->cpl_errors,
	     (unsigned long long)st->irqs,
	     (unsigned long long)st->err_irqs,
	     (unsigned long long)st->timeouts,
	     (unsigned long long)st->queue_resets,
	     (unsigned long long)st->hw_descs,
	     (unsigned long long)st->hw_bytes);
	return e;
}

/* Since st0: ops were submitted, every one completed, none timed out. */
static inline int stats_all_done(const struct dmalab_stats *st,
				 const struct dmalab_stats *st0)
{
	return st->submitted > st0->submitted &&
	       st->completed - st0->completed ==
	       st->submitted - st0->submitted &&
	       st->timeouts == st0->timeouts;
}

/* ---- ops -------------------------------------------------------------- */

static inline void op_init(struct dmalab_op *op, uint32_t opcode,
			   uint32_t queue, uint32_t len)
{
	memset(op, 0, sizeof(*op));
	op->opcode = opcode;
	op->queue = queue;
	op->len = len;
}

/*
 * The distance between two destinations of one batch: the device may not
 * write two ops' data into one DMALAB_WRITE_GRAIN block (see the uapi).
 */
static inline uint64_t batch_stride(uint64_t len)
{
	return (len + DMALAB_WRITE_GRAIN - 1) & ~(uint64_t)(DMALAB_WRITE_GRAIN - 1);
}

static inline void op_buf(struct dmalab_buf *b, uint32_t kind, uint64_t addr)
{
	b->kind = kind;
	b->addr = addr;
	b->rsvd = 0;
}

/* op_init() with both buffers. */
static inline void op_xfer(struct dmalab_op *op, uint32_t opcode,
			   uint32_t queue, uint32_t len, uint32_t skind,
			   uint64_t saddr, uint32_t dkind, uint64_t daddr)
{
	op_init(op, opcode, queue, len);
	op_buf(&op->src, skind, saddr);
	op_buf(&op->dst, dkind, daddr);
}

/* SUBMIT; 0 or the errno. */
static inline int submit_fd(int fd, struct dmalab_op *op)
{
	return ioctl(fd, DMALAB_IOC_SUBMIT, op) ? errno : 0;
}

/* SUBMIT; the ioctl's result, a failure diagnosed. */
static inline int submit_diag(int fd, struct dmalab_op *op)
{
	int r = ioctl(fd, DMALAB_IOC_SUBMIT, op);

	if (r)
		diag("SUBMIT opcode %u len %u: %s", op->opcode, op->len,
		     strerror(errno));
	return r;
}

static inline int op_done_ok(const struct dmalab_op *op)
{
	return op->status == DMALAB_STS_OK && op->bytes == op->len;
}

/* SUBMIT of a transfer; 0 or the errno, EIO for a bad status or byte count. */
static inline int op_run(int fd, uint32_t opcode, uint32_t len, uint32_t skind,
			 uint64_t saddr, uint32_t dkind, uint64_t daddr)
{
	struct dmalab_op op;
	int e;

	op_xfer(&op, opcode, DMALAB_QUEUE_ANY, len, skind, saddr, dkind,
		daddr);
	e = submit_fd(fd, &op);
	if (!e && !op_done_ok(&op)) {
		diag("opcode %u: status %#x bytes %u of %u", opcode,
		     op.status, op.bytes, len);
		e = EIO;
	}
	return e;
}

/*
 * Drop CAP_IPC_LOCK from the effective, permitted and inheritable sets, so
 * that RLIMIT_MEMLOCK binds (in a child: it cannot be taken back); 0 or -1.
 */
static inline int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~(1U << CAP_IPC_LOCK);
	d[0].permitted &= ~(1U << CAP_IPC_LOCK);
	d[0].inheritable &= ~(1U << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

/* WAIT for one async op of len bytes: 1 if it completed OK, every byte. */
static inline int wait_one_ok(int fd, uint32_t len)
{
	struct dmalab_completion c;
	struct dmalab_wait w = {
		.size = sizeof(w), .max = 1, .min = 1,
		.cpls = (uintptr_t)&c, .timeout_ms = 20000,
	};

	return !ioctl(fd, DMALAB_IOC_WAIT, &w) && w.count == 1 && !c.error &&
	       c.status == DMALAB_STS_OK && c.bytes == len;
}

/* SUBMIT; 1 if the op completed with DMALAB_STS_OK and every byte moved. */
static inline int submit_ok(int fd, struct dmalab_op *op)
{
	if (submit_diag(fd, op))
		return 0;
	if (!op_done_ok(op)) {
		diag("opcode %u: status %#x bytes %u of %u", op->opcode,
		     op->status, op->bytes, op->len);
		return 0;
	}
	return 1;
}

/* H2D len bytes of src to device memory at off; 0 or errno (EIO: status). */
static inline int do_h2d(int fd, uint32_t q, const void *src, uint64_t off,
			 uint32_t len)
{
	struct dmalab_op op;
	int e;

	op_xfer(&op, DMALAB_UOP_H2D, q, len, DMALAB_BUF_USER, (uintptr_t)src,
		DMALAB_BUF_DEVMEM, off);
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

	op_xfer(&op, DMALAB_UOP_D2H, q, len, DMALAB_BUF_DEVMEM, off,
		DMALAB_BUF_USER, (uintptr_t)dst);
	e = submit_fd(fd, &op);
	if (!e && !op_done_ok(&op))
		e = EIO;
	return e;
}

/* ---- sysfs and debugfs ------------------------------------------------ */

/*
 * H2D random bytes (from *rs) through SUBMIT on queue q into device memory
 * at off, D2H them back, compare; 1 if all is well.
 */
static inline int op_roundtrip(int fd, uint32_t q, uint64_t off, size_t len,
			       uint64_t *rs)
{
	uint8_t *w = malloc(len), *r = calloc(1, len);
	int e = w && r ? 0 : ENOMEM, ok = 0;

	if (!e) {
		fill_rand(rs, w, len);
		e = do_h2d(fd, q, w, off, len);
	}
	if (!e)
		e = do_d2h(fd, q, r, off, len);
	if (e)
		diag("SUBMIT on queue %u: %s", q, strerror(e));
	else
		ok = same(r, w, len, "D2H after H2D");
	free(w);
	free(r);
	return ok;
}

/* "dmalab0" of "/dev/dmalab0" */
/*
 * Value of key in dmalab.expect=KEY:VALUE,... to val ("" if absent): what
 * scripts/vm-configs.sh says this configuration must show.
 */
static inline void expect_get(const char *key, char *val, size_t sz)
{
	char raw[256], *tok, *save = NULL;
	size_t kl = strlen(key);

	val[0] = 0;
	cmdline_get("dmalab.expect", raw, sizeof(raw));
	for (tok = strtok_r(raw, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (!strncmp(tok, key, kl) && tok[kl] == ':')
			snprintf(val, sz, "%s", tok + kl + 1);
}

/* The tracefs directory, mounted if it was not; NULL if there is none. */
static inline const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	if (!mount("tracefs", dirs[0], "tracefs", 0, NULL))
		return dirs[0];
	return NULL;
}

static inline int trace_write(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int e;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	e = write_str(path, val);
	if (e)
		diag("%s: %s", path, strerror(e));
	return !e;
}

/*
 * Start tracing events (NULL-terminated, "group/event") from an empty
 * trace buffer; 1 on success.
 */
static inline int trace_start(const char *dir, const char *const *events)
{
	char path[PATH_MAX], file[128];
	int ok;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "w");	/* opening it for writing, truncated, clears it */
	if (f)
		fclose(f);
	ok = f && trace_write(dir, "tracing_on", "0");
	for (; ok && *events; events++) {
		snprintf(file, sizeof(file), "events/%s/enable", *events);
		ok = trace_write(dir, file, "1");
	}
	return ok && trace_write(dir, "tracing_on", "1");
}

/*
 * Stop tracing, turn the events of group off, and return what the trace
 * holds (NUL-terminated, to free; NULL if unreadable), its length to *n.
 */
static inline char *trace_stop(const char *dir, const char *group, size_t *n)
{
	char path[PATH_MAX], file[128], *trace = NULL;
	FILE *f;

	trace_write(dir, "tracing_on", "0");
	snprintf(file, sizeof(file), "events/%s/enable", group);
	trace_write(dir, file, "0");
	*n = 0;
	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "r");
	if (f) {
		trace = calloc(1, 1 << 18);
		*n = trace ? fread(trace, 1, (1 << 18) - 1, f) : 0;
		fclose(f);
	}
	return trace;
}

/* Whether the driver reaps completions by polling (poll_us > 0). */
static inline int polling_mode(void)
{
	return read_long(DMALAB_PARAMS "poll_us") > 0;
}

static inline const char *dev_name(const char *dev)
{
	const char *s = strrchr(dev, '/');

	return s ? s + 1 : dev;
}

/* Path of sysfs attribute attr of the PCI device behind dev (/dev/NAME). */
static inline const char *dev_attr_path(const char *dev, const char *attr,
					char *buf, size_t sz)
{
	snprintf(buf, sz, "/sys/class/misc/%s/device/%s", dev_name(dev), attr);
	return buf;
}

/* That attribute as a number, or -1. */
static inline long dev_attr_long(const char *dev, const char *attr)
{
	char path[PATH_MAX];

	return read_long(dev_attr_path(dev, attr, path, sizeof(path)));
}

/* Write a number to it; 0 or -1. */
static inline int dev_attr_set(const char *dev, const char *attr,
			       unsigned long val)
{
	char path[PATH_MAX];

	return write_ulong(dev_attr_path(dev, attr, path, sizeof(path)), val);
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

/*
 * Register reg of the port BAR of the PCI device bdf, read through its
 * sysfs resource file (an inl on x86); 0 or -errno.
 */
static inline int pio_reg_read(const char *bdf, uint32_t reg, uint32_t *val)
{
	char path[PATH_MAX];
	int f, ok;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 bdf, DMALAB_BAR_PIO);
	f = open(path, O_RDONLY);
	if (f < 0)
		return -errno;
	ok = pread(f, val, 4, reg) == 4;
	close(f);
	return ok ? 0 : -EIO;
}

/*
 * The debugfs directory of the device behind the file dev
 * (/sys/kernel/debug/dmalab/<pci>), or its subdirectory sub if not NULL,
 * to out; 0 if access(mode) allows it, else -1.
 */
static inline int dbg_path(const char *dev, const char *sub, char *out,
			   size_t sz, int mode)
{
	char bdf[64];

	if (misc_pci_addr(dev_name(dev), bdf, sizeof(bdf)))
		return -1;
	snprintf(out, sz, "/sys/kernel/debug/dmalab/%s%s%s", bdf,
		 sub ? "/" : "", sub ? sub : "");
	return access(out, mode) ? -1 : 0;
}

/*
 * Open dev with DMALAB_IOC_INFO and find its PCI address, for the tests that
 * work on the PCI function (remove, reset, sleep); bails out if either fails.
 */
static inline int dev_open_pci(const char *dev, char *bdf, size_t sz,
			       struct dmalab_info *info)
{
	int fd;

	if (misc_pci_addr(dev_name(dev), bdf, sz))
		tap_bail("cannot use %s", dev);
	fd = dev_open(dev, info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	return fd;
}

/* Print the function's reset methods (what sysfs "reset" would use). */
static inline void diag_reset_methods(const char *dev, const char *bdf)
{
	char path[PATH_MAX], methods[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_method",
		 bdf);
	if (read_str(path, methods, sizeof(methods)) <= 0)
		snprintf(methods, sizeof(methods), "none");
	methods[strcspn(methods, "\n")] = 0;
	diag("%s at %s, reset methods: %s", dev, bdf, methods);
}

/* Touch p in a child: the signal that killed it, 0 if none. */
static inline int touch_in_child(volatile uint8_t *p)
{
	pid_t pid = fork();
	int st;

	if (!pid) {
		signal(SIGBUS, SIG_DFL);
		(void)p[0];
		p[1] = 1;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static inline void child_on_usr1(int sig)
{
	(void)sig;
}

/*
 * Fork a child that runs fn(arg) and exits with its result.  It returns
 * once the child is about to call fn, so that the caller can then stall,
 * signal or kill the device under it.  SIGUSR1 interrupts the child's
 * system calls (a handler without SA_RESTART).  Returns the pid, or -1.
 */
static inline pid_t child_start(int (*fn)(void *), void *arg)
{
	struct sigaction sa;
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = child_on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(255);
		_exit(fn(arg));
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

/* The exit status of a child_start() child (its fn result), or -1. */
static inline int child_wait(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A one-page D2H on a queue, to run in a child_start() child. */
struct child_d2h {
	int fd;
	uint32_t queue;
};

/* child_start() fn: 0, or the errno of DMALAB_IOC_SUBMIT. */
static inline int child_submit_d2h(void *arg)
{
	const struct child_d2h *c = arg;
	static uint8_t buf[4096];
	struct dmalab_op op;

	op_xfer(&op, DMALAB_UOP_D2H, c->queue, sizeof(buf),
		DMALAB_BUF_DEVMEM, 0, DMALAB_BUF_USER, (uintptr_t)buf);
	return ioctl(c->fd, DMALAB_IOC_SUBMIT, &op) ? errno : 0;
}

#endif /* DMALAB_TEST_H */
