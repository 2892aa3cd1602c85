// SPDX-License-Identifier: GPL-2.0-only
/*
 * host-memcpy: the host's memcpy throughput, the baseline of the benchmark
 * (./run-vm.sh bench) that the device's engine, which copies with the
 * host's memcpy, is measured against.  Measured just before and just
 * after the guest's run, in the benchmark's own trial format:
 *
 *   perf,host_memcpy_SIZE,TRIAL,MB/s,MB/s,,
 *
 * usage: host-memcpy TRIALS MIN_SECONDS FIRST_TRIAL SIZE...
 * (the trials after the boot are numbered on from those before it)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void size_name(size_t n, char *buf, size_t sz)
{
	if (n >= 1 << 20)
		snprintf(buf, sz, "%zuMiB", n >> 20);
	else if (n >= 1 << 10)
		snprintf(buf, sz, "%zuKiB", n >> 10);
	else
		snprintf(buf, sz, "%zuB", n);
}

int main(int argc, char **argv)
{
	int trials = argc > 1 ? atoi(argv[1]) : 5;
	double min_secs = argc > 2 ? atof(argv[2]) : 0.3;
	int first = argc > 3 ? atoi(argv[3]) : 0;

	for (int a = 4; a < argc; a++) {
		size_t len = strtoull(argv[a], NULL, 0);
		char *src = aligned_alloc(4096, len), *dst = aligned_alloc(4096, len);
		char name[32];

		if (!src || !dst || !len) {
			fprintf(stderr, "host-memcpy: no buffers of %zu bytes\n", len);
			return 1;
		}
		memset(src, 0x5a, len);
		memset(dst, 0, len);	/* fault the pages in */
		size_name(len, name, sizeof(name));
		for (int t = 0; t < trials; t++) {
			double t0 = now_s(), dt;
			uint64_t done = 0;

			do {
				memcpy(dst, src, len);
				__asm__ volatile("" : : "r"(dst) : "memory");
				done += len;
				dt = now_s() - t0;
			} while (dt < min_secs);
			printf("perf,host_memcpy_%s,%d,%.1f,MB/s,,\n", name,
			       first + t, done / dt / 1e6);
		}
		free(src);
		free(dst);
	}
	return 0;
}
