// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runs the kernel's own dmatest module against dmalab's dmaengine channels:
 * an outside judge of the provider.  dmatest copies between its own buffers
 * with verification on and counts mismatches; any failure it reports fails
 * this test.  Its summary lines are copied into the results.
 *
 * TAP output.  Needs /lib/modules/dmatest.ko in the initramfs.
 */
#include "dmatest_client.h"

#define THREADS		"2"
#define ITERATIONS	"200"
/* written to the kernel log before the run: its lines follow */
#define MARK		"dmalab_dmatest: starting dmatest"

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
	char dev[64], buf[8];
	int nchan, fd, n, summaries = 0, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(5);

	if (find_dmalab_dma_device(dev, sizeof(dev), &nchan)) {
		tap_skip("dmalab registers no dmaengine channels");
		tap_skip_n(4, "no channels");
		return tap_done();
	}
	tap(1, "dmalab device %s offers %d dmaengine channels", dev, nchan);

	n = dmatest_load();
	tap(n == 0, "load the upstream dmatest module (%s)", strerror(n));
	if (n)
		return tap_done();

	n = dmatest_param("test_buf_size", "65536");
	n = n ?: dmatest_go(dev, THREADS, ITERATIONS, "20000", MARK);
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
		fd = open(DMATEST_PARAMS "wait", O_RDONLY);
		if (fd >= 0) {
			if (read(fd, buf, sizeof(buf)) < 0)
				diag("dmatest wait: %s", strerror(errno));
			close(fd);
		}
		if (dmatest_summaries(MARK, 0, &bad) >= nchan * atoi(THREADS))
			break;
		sleep(1);
	}
	summaries = dmatest_summaries(MARK, 1, &bad);
	tap(summaries >= nchan * atoi(THREADS),
	    "dmatest reported a summary for every thread (%d)", summaries);
	tap(bad == 0, "dmatest reports 0 failures on every thread");
	dmatest_unload();
	return tap_done();
}
