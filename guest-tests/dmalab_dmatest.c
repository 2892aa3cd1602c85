// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runs the kernel's own dmatest module against dmalab's dmaengine channels:
 * an outside judge of the provider.  dmatest copies between its own buffers
 * with verification on and counts mismatches; any failure it reports fails
 * this test.  Its summary lines are copied into the results.
 *
 * TAP output.  Needs /lib/modules/dmatest.ko in the initramfs.
 */
#include "tap.h"

#include <dirent.h>
#include <sys/klog.h>
#include <sys/syscall.h>

#define DMATEST_KO	"/lib/modules/dmatest.ko"
#define PARAMS		"/sys/module/dmatest/parameters/"
#define THREADS		"2"
#define ITERATIONS	"200"
/* written to the kernel log before the run: its lines follow */
#define MARK		"dmalab_dmatest: starting dmatest"

static int write_param(const char *name, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PARAMS "%s", name);
	return write_str(path, val);
}

/* Find the PCI name of the first dmalab device that has dma channels. */
static int find_dmalab_dma_device(char *pci_name, size_t len, int *nchan)
{
	DIR *d = opendir("/sys/class/dma");
	struct dirent *e;

	*nchan = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[PATH_MAX], link[PATH_MAX], drv[PATH_MAX];
		ssize_t n;
		const char *base;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/dma/%s/device/driver",
			 e->d_name);
		n = readlink(path, drv, sizeof(drv) - 1);
		if (n < 0)
			continue;
		drv[n] = '\0';
		base = strrchr(drv, '/');
		if (!base || strcmp(base + 1, "dmalab"))
			continue;
		snprintf(path, sizeof(path), "/sys/class/dma/%s/device",
			 e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		base = strrchr(link, '/');
		base = base ? base + 1 : link;
		if (strlen(base) >= len)
			continue;
		if (*nchan == 0)
			strcpy(pci_name, base);
		if (!strcmp(pci_name, base))
			(*nchan)++;
	}
	closedir(d);
	return *nchan ? 0 : -ENOENT;
}

int main(void)
{
	char dev[64], *klog, *line, *save;
	int nchan, fd, n, summaries = 0, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(5);

	if (find_dmalab_dma_device(dev, sizeof(dev), &nchan)) {
		tap_skip("dmalab registers no dmaengine channels");
		tap_skip_n(4, "no channels");
		return tap_done();
	}
	tap(1, "dmalab device %s offers %d dmaengine channels", dev, nchan);

	fd = open(DMATEST_KO, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : (int)syscall(SYS_finit_module, fd, "", 0);
	tap(n == 0, "load the upstream dmatest module (%s)",
	    n ? strerror(errno) : "ok");
	if (fd >= 0)
		close(fd);
	if (n)
		return tap_done();

	klog_mark(MARK);
	n = write_param("device", dev);
	n = n ?: write_param("threads_per_chan", THREADS);
	n = n ?: write_param("iterations", ITERATIONS);
	n = n ?: write_param("test_buf_size", "65536");
	n = n ?: write_param("timeout", "20000");
	n = n ?: write_param("run", "1");
	tap(n == 0, "start dmatest: %s threads per channel, %s iterations, verify on",
	    THREADS, ITERATIONS);
	if (n)
		return tap_done();

	/*
	 * Reading "wait" blocks until every thread has finished -- but returns
	 * at once while the threads have not started running yet (dmatest
	 * counts a thread woken but not yet scheduled as not running), so
	 * read it again until every thread printed its summary (120 s).
	 */
	for (int tries = 0; tries < 120; tries++) {
		char buf[8];

		fd = open(PARAMS "wait", O_RDONLY);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf));
			close(fd);
		}
		klog = klog_since(MARK);
		summaries = 0;
		for (line = klog; line && (line = strstr(line, "dmatest: "));
		     line++) {
			char *eol = strchr(line, '\n');
			char *sum = strstr(line, "summary");

			if (sum && (!eol || sum < eol))
				summaries++;
		}
		free(klog);
		if (summaries >= nchan * atoi(THREADS))
			break;
		sleep(1);
	}
	summaries = 0;
	klog = klog_since(MARK);
	for (line = klog ? strtok_r(klog, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *s = strstr(line, "dmatest: ");
		unsigned long tests, fails;

		if (!s)
			continue;
		if (strstr(s, "summary")) {
			printf("# %s\n", s);
			if (sscanf(strstr(s, "summary"), "summary %lu tests, %lu failures",
				   &tests, &fails) == 2) {
				summaries++;
				if (fails || !tests)
					bad++;
			}
		} else if (strstr(s, "result") || strstr(s, "error")) {
			printf("# %s\n", s);
		}
	}
	free(klog);
	tap(summaries >= nchan * atoi(THREADS),
	    "dmatest reported a summary for every thread (%d)", summaries);
	tap(bad == 0, "dmatest reports 0 failures on every thread");
	syscall(SYS_delete_module, "dmatest", O_NONBLOCK);
	return tap_done();
}
