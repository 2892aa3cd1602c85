/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmatest_client.h: driving the kernel's own dmatest module (built from
 * Debian's linux-source, /lib/modules/dmatest.ko in the initramfs) against
 * a dmalab device's dmaengine channels, and reading its verdict from the
 * kernel log.  dmatest prints one "summary N tests, M failures" line per
 * thread when the thread ends; the lines of one run are the ones after a
 * mark written to the log before it starts.
 */
#ifndef DMALAB_DMATEST_CLIENT_H
#define DMALAB_DMATEST_CLIENT_H

#include "tap.h"

#include <dirent.h>
#include <sys/syscall.h>

#define DMATEST_KO	"/lib/modules/dmatest.ko"
#define DMATEST_PARAMS	"/sys/module/dmatest/parameters/"

static inline int dmatest_param(const char *name, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), DMATEST_PARAMS "%s", name);
	return write_str(path, val);
}

/* Load dmatest unless it is loaded: 0 or an errno. */
static inline int dmatest_load(void)
{
	int f = open(DMATEST_KO, O_RDONLY | O_CLOEXEC), e;

	if (f < 0)
		return errno;
	e = syscall(SYS_finit_module, f, "", 0) ? errno : 0;
	close(f);
	return e == EEXIST ? 0 : e;
}

/* Unload it, which releases its channels: 0 or an errno. */
static inline int dmatest_unload(void)
{
	return syscall(SYS_delete_module, "dmatest", O_NONBLOCK) ? errno : 0;
}

/*
 * Write mark to the kernel log, then start dmatest on every channel of the
 * device at bdf (other parameters as already set).  0 or an errno.
 */
static inline int dmatest_go(const char *bdf, const char *threads,
			     const char *iterations, const char *timeout_ms,
			     const char *mark)
{
	int e;

	klog_mark(mark);
	e = dmatest_param("device", bdf);
	e = e ?: dmatest_param("threads_per_chan", threads);
	e = e ?: dmatest_param("iterations", iterations);
	e = e ?: dmatest_param("timeout", timeout_ms);
	e = e ?: dmatest_param("run", "1");
	return e;
}

/*
 * The dmatest threads that printed their summary since mark; *failed of
 * them counted a failure or ran no test.  With verbose, every summary and
 * every result or error line is printed as a TAP diagnostic.
 */
static inline int dmatest_summaries(const char *mark, int verbose,
				    int *failed)
{
	char *log = klog_since(mark), *line, *save = NULL;
	int n = 0;

	*failed = 0;
	for (line = log ? strtok_r(log, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *msg = strstr(line, "dmatest: ");
		const char *sum = msg ? strstr(msg, "summary ") : NULL;
		unsigned long tests, fails;

		if (!msg)
			continue;
		if (sum && sscanf(sum, "summary %lu tests, %lu failures",
				  &tests, &fails) == 2) {
			n++;
			*failed += fails || !tests;
		} else if (!strstr(msg, "result") && !strstr(msg, "error")) {
			continue;
		}
		if (verbose)
			diag("%s", msg);
	}
	free(log);
	return n;
}

/*
 * The threads dmatest started since mark ("Started N threads using ..."):
 * when a run is started, its threads are created, but each counts as
 * running only once it has been scheduled, so "run" can read 0 before any
 * thread has begun.  These lines say how many summaries to wait for.
 */
static inline int dmatest_started(const char *mark)
{
	char *log = klog_since(mark), *line, *save = NULL;
	unsigned int threads;
	int n = 0;

	for (line = log ? strtok_r(log, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *msg = strstr(line, "dmatest: Started ");

		if (msg && sscanf(msg, "dmatest: Started %u threads",
				  &threads) == 1)
			n += threads;
	}
	free(log);
	return n;
}

/* dmatest's result lines since mark that say what (e.g. "data error"). */
static inline int dmatest_results(const char *mark, const char *what)
{
	char *log = klog_since(mark), *line, *save = NULL;
	int n = 0;

	for (line = log ? strtok_r(log, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		n += strstr(line, "dmatest: ") && strstr(line, "result #") &&
		     strstr(line, what);
	free(log);
	return n;
}

/*
 * Run dmatest on every channel of the device at bdf, one thread each, and
 * wait (up to a minute) until it has finished: the threads that reported
 * a summary, *failed of them with failures; -1 if dmatest could not run.
 */
static inline int dmatest_run(const char *bdf, const char *iterations,
			      const char *mark, int *failed)
{
	int e = dmatest_load(), n = 0;
	double t0;

	*failed = 0;
	e = e ?: dmatest_go(bdf, "1", iterations, "5000", mark);
	for (t0 = now_s(); !e && now_s() - t0 < 60; usleep(200000))
		if (read_long(DMATEST_PARAMS "run") == 0 &&
		    dmatest_summaries(mark, 0, failed) > 0)
			break;
	if (!e)
		n = dmatest_summaries(mark, 1, failed);
	dmatest_unload();
	return e ? -1 : n;
}

/* One TAP case: dmatest passes on the channels of bdf (after what). */
static inline void tap_dmatest(const char *bdf, const char *after,
			       const char *mark)
{
	int failed, n = dmatest_run(bdf, "20", mark, &failed);

	if (n < 0)
		tap_skip("dmatest unavailable");
	else
		tap(n > 0 && !failed,
		    "dmatest after %s: %d threads, %d with failures", after,
		    n, failed);
}

/* The dmaengine channels of the PCI device at bdf. */
static inline int dma_channels_of(const char *bdf)
{
	DIR *d = opendir("/sys/class/dma");
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *e;
	const char *base;
	int n = 0;
	ssize_t len;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/dma/%s/device",
			 e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		base = strrchr(link, '/');
		n += !strcmp(base ? base + 1 : link, bdf);
	}
	closedir(d);
	return n;
}

#endif /* DMALAB_DMATEST_CLIENT_H */
