// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_fileio: /dev/dmalabN as the file that benchmark and copy tools
 * (fio, dd, sendfile users) take it for.
 *
 *  - O_DIRECT: accepted at open and through fcntl(F_SETFL); an aligned
 *    transfer moves the caller's own pages (they are pinned, even with
 *    use_bounce=1) and every byte arrives; a misaligned offset, length or
 *    buffer is refused with EINVAL and moves nothing;
 *  - splice between a pipe and device memory, both ways, and sendfile
 *    between a file and device memory, both ways: kernel memory, which the
 *    driver bounces; every byte checked;
 *  - io_uring's fixed buffers (kernel memory too): WRITE_FIXED then
 *    READ_FIXED, every byte checked;
 *  - io_uring's polled completion (IORING_SETUP_IOPOLL, on an O_DIRECT
 *    file): writes then reads, several in flight, every byte checked;
 *  - fsync and fdatasync are a flush: with the queues stalled, an fsync
 *    after N libaio writes does not return; released, it returns 0, and
 *    then all N completions are already there and their data is in device
 *    memory.
 *
 * Output is TAP.  Usage: dmalab_fileio [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <libaio.h>
#include <liburing.h>
#include <pthread.h>
#include <sys/sendfile.h>

#define NTESTS		15
#define ALIGN		DMALAB_DIO_ALIGN
#define DIO_LEN		(64 * 1024)
#define DIO_OFF		4096		/* device memory [4K, 68K) */
#define SPLICE_LEN	60000		/* fits a default pipe (64 KiB) */
#define SPLICE_OFF	100003		/* device memory [~98K, ~156K) */
#define FILE_LEN	(300 * 1024 + 7)
#define FILE_OFF	160001		/* device memory [~156K, ~457K) */
#define FIXED_LEN	(48 * 1024 + 5)
#define FIXED_OFF	470000		/* device memory [~459K, ~507K) */
#define NAIO		8
#define AIO_LEN		(16 * 1024 + 11)
#define AIO_OFF		520000		/* device memory [~508K, ~640K) */
#define NIOPOLL		8
#define IOPOLL_LEN	(16 * 1024)
#define IOPOLL_OFF	(640 * 1024)	/* device memory [640K, 768K) */
#define DEVMEM_USED	(IOPOLL_OFF + NIOPOLL * IOPOLL_LEN)

static const char *dev;
static int fd;
static struct dmalab_info info;
static char faultdir[PATH_MAX];
static uint64_t rs;		/* the test's PRNG */

/* n random bytes, page aligned (as O_DIRECT wants them); bails out. */
static uint8_t *rand_buf(size_t n)
{
	void *p;

	if (posix_memalign(&p, 4096, n + 4096))
		tap_bail("out of memory");
	fill_rand(&rs, p, n + 4096);
	return p;
}

/* pread n bytes at off through fd and compare them with want. */
static int devmem_is(int f, uint64_t off, const uint8_t *want, size_t n,
		     const char *what)
{
	uint8_t *got = malloc(n);
	ssize_t r;
	int ok;

	if (!got)
		tap_bail("out of memory");
	r = pread(f, got, n, (off_t)off);
	if (r != (ssize_t)n) {
		diag("%s: pread(%zu @ %" PRIu64 ") = %zd (%s)", what, n, off,
		     r, r < 0 ? strerror(errno) : "short");
		free(got);
		return 0;
	}
	ok = same(got, want, n, what);
	free(got);
	return ok;
}

/* Is use_bounce=1 (read/write copy through the driver's bounce buffer)? */
static int use_bounce(void)
{
	char val[16];

	return read_str(DMALAB_PARAMS "use_bounce", val, sizeof(val)) > 0 &&
	       val[0] == '1';
}

/* Pins taken (nr_foll_pin_acquired) while f(arg) ran. */
static long long pins_taken(int (*f)(void *), void *arg, int *ret)
{
	long long a0, a1;

	pins_outstanding(&a0, NULL);
	*ret = f(arg);
	pins_outstanding(&a1, NULL);
	return a1 - a0;
}

struct xfer {
	int fd;
	void *buf;
	size_t len;
	off_t off;
};

static int do_pwrite(void *arg)
{
	struct xfer *x = arg;

	return pwrite(x->fd, x->buf, x->len, x->off) == (ssize_t)x->len;
}

static void test_odirect(void)
{
	uint8_t *w = rand_buf(DIO_LEN), *r = rand_buf(DIO_LEN);
	uint8_t *before = malloc(DIO_LEN);
	struct xfer x;
	long long pins_direct, pins_plain;
	int dfd, ok, wrote, e1, e2, e3, e4, e5;

	dfd = open(dev, O_RDWR | O_DIRECT);
	tap(dfd >= 0, "open with O_DIRECT accepted%s%s",
	    dfd < 0 ? ": " : "", dfd < 0 ? strerror(errno) : "");
	if (dfd < 0 || !before) {
		tap_skip_n(3, "no O_DIRECT file");
		goto out;
	}

	x = (struct xfer){ dfd, w, DIO_LEN, DIO_OFF };
	pins_direct = pins_taken(do_pwrite, &x, &wrote);
	ok = wrote && pread(dfd, r, DIO_LEN, DIO_OFF) == DIO_LEN &&
	     same(r, w, DIO_LEN, "O_DIRECT read of the O_DIRECT write") &&
	     devmem_is(fd, DIO_OFF, w, DIO_LEN, "buffered read of it");
	tap(ok, "O_DIRECT: %d bytes written at %d and read back, every byte",
	    DIO_LEN, DIO_OFF);

	/* The same write without O_DIRECT, for the pins it takes. */
	x.fd = fd;
	pins_plain = pins_taken(do_pwrite, &x, &wrote);
	diag("pins taken: O_DIRECT %lld, buffered %lld (use_bounce=%d)",
	     pins_direct, pins_plain, use_bounce());
	tap(wrote && pins_direct >= DIO_LEN / 4096 &&
	    (!use_bounce() || pins_plain == 0),
	    "O_DIRECT pins the caller's %d pages%s", DIO_LEN / 4096,
	    use_bounce() ? ", where use_bounce=1 copies without it" : "");

	/* Misaligned: offset, length, buffer; each way; nothing moves. */
	if (pread(fd, before, DIO_LEN, DIO_OFF) != DIO_LEN)
		diag("pread of device memory: %s", strerror(errno));
	errno = 0;
	e1 = pwrite(dfd, w, ALIGN, DIO_OFF + 1) < 0 ? errno : 0;
	e2 = pwrite(dfd, w, ALIGN + 1, DIO_OFF) < 0 ? errno : 0;
	e3 = pwrite(dfd, w + 8, ALIGN, DIO_OFF) < 0 ? errno : 0;
	e4 = pread(dfd, r + 8, ALIGN, DIO_OFF) < 0 ? errno : 0;
	e5 = pread(dfd, r, ALIGN, DIO_OFF + 256) < 0 ? errno : 0;
	ok = e1 == EINVAL && e2 == EINVAL && e3 == EINVAL && e4 == EINVAL &&
	     e5 == EINVAL;
	if (!ok)
		diag("errnos: offset %d length %d buffer %d read-buffer %d read-offset %d",
		     e1, e2, e3, e4, e5);
	ok &= devmem_is(fd, DIO_OFF, before, DIO_LEN,
			"device memory after refused writes");
	tap(ok, "O_DIRECT: a misaligned offset, length or buffer (grain %d) is EINVAL and moves nothing",
	    ALIGN);
	close(dfd);
out:
	free(w);
	free(r);
	free(before);
}

static void test_fcntl_direct(void)
{
	uint8_t *w = rand_buf(ALIGN * 2);
	int f = open(dev, O_RDWR), ok, on, misaligned_on, misaligned_off;

	if (f < 0)
		tap_bail("cannot open %s", dev);
	ok = fcntl(f, F_SETFL, O_DIRECT) == 0;
	on = (fcntl(f, F_GETFL) & O_DIRECT) != 0;
	misaligned_on = pwrite(f, w, 100, DIO_OFF) < 0 ? errno : 0;
	ok &= fcntl(f, F_SETFL, 0) == 0;
	misaligned_off = pwrite(f, w, 100, DIO_OFF) == 100 ? 0 : errno;
	diag("F_SETFL O_DIRECT: set %d, misaligned write %d; cleared: %d",
	     on, misaligned_on, misaligned_off);
	tap(ok && on && misaligned_on == EINVAL && !misaligned_off &&
	    devmem_is(fd, DIO_OFF, w, 100, "write after clearing O_DIRECT"),
	    "fcntl(F_SETFL) turns O_DIRECT and its rules on and off");
	close(f);
	free(w);
}

static void test_splice(void)
{
	uint8_t *w = rand_buf(SPLICE_LEN), *r = malloc(SPLICE_LEN);
	loff_t off = SPLICE_OFF;
	ssize_t n, got = 0;
	int p[2], ok;

	if (!r || pipe(p))
		tap_bail("pipe: %s", strerror(errno));
	ok = write(p[1], w, SPLICE_LEN) == SPLICE_LEN;
	while (ok && got < SPLICE_LEN) {
		n = splice(p[0], NULL, fd, &off, SPLICE_LEN - got, 0);
		if (n <= 0) {
			diag("splice pipe -> device: %zd (%s)", n,
			     n < 0 ? strerror(errno) : "end");
			ok = 0;
		}
		got += n > 0 ? n : 0;
	}
	tap(ok && off == SPLICE_OFF + SPLICE_LEN &&
	    devmem_is(fd, SPLICE_OFF, w, SPLICE_LEN, "spliced into device memory"),
	    "splice: %d bytes from a pipe into device memory at %d, every byte",
	    SPLICE_LEN, SPLICE_OFF);

	off = SPLICE_OFF;
	got = 0;
	ok = 1;
	while (ok && got < SPLICE_LEN) {
		n = splice(fd, &off, p[1], NULL, SPLICE_LEN - got, 0);
		if (n <= 0) {
			diag("splice device -> pipe: %zd (%s)", n,
			     n < 0 ? strerror(errno) : "end");
			ok = 0;
			break;
		}
		if (read(p[0], r + got, n) != n)
			ok = 0;
		got += n;
	}
	tap(ok && same(r, w, SPLICE_LEN, "spliced out of device memory"),
	    "splice: %d bytes from device memory at %d into a pipe, every byte",
	    SPLICE_LEN, SPLICE_OFF);
	close(p[0]);
	close(p[1]);
	free(w);
	free(r);
}

/* A file in the guest's RAM file system holding n bytes of buf. */
static int tmpfile_with(const uint8_t *buf, size_t n)
{
	char path[] = "/tmp/dmalab_fileio.XXXXXX";
	int f = mkstemp(path);

	if (f < 0)
		tap_bail("mkstemp: %s", strerror(errno));
	unlink(path);
	if (n && write(f, buf, n) != (ssize_t)n)
		tap_bail("write of a temporary file: %s", strerror(errno));
	return f;
}

/* sendfile() until len bytes moved from in to out; 1, or 0 (diagnosed). */
static int sendfile_all(int out, int in, off_t *off, size_t len,
			const char *what)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = sendfile(out, in, off, len - got);
		if (n <= 0) {
			diag("sendfile %s: %zd (%s)", what, n,
			     n < 0 ? strerror(errno) : "end");
			return 0;
		}
		got += n;
	}
	return 1;
}

static void test_sendfile(void)
{
	uint8_t *w = rand_buf(FILE_LEN), *r = malloc(FILE_LEN);
	int src = tmpfile_with(w, FILE_LEN), dst = tmpfile_with(NULL, 0);
	off_t in_off = 0, dev_off = FILE_OFF;
	int ok = r != NULL;

	/* out: the device, at its file position */
	ok = ok && lseek(fd, FILE_OFF, SEEK_SET) == FILE_OFF &&
	     sendfile_all(fd, src, &in_off, FILE_LEN, "file -> device");
	tap(ok && lseek(fd, 0, SEEK_CUR) == FILE_OFF + FILE_LEN &&
	    devmem_is(fd, FILE_OFF, w, FILE_LEN, "sent into device memory"),
	    "sendfile: %d bytes of a file into device memory at %d, every byte, file position advanced",
	    FILE_LEN, FILE_OFF);

	ok = r != NULL &&
	     sendfile_all(dst, fd, &dev_off, FILE_LEN, "device -> file");
	ok = ok && pread(dst, r, FILE_LEN, 0) == FILE_LEN &&
	     same(r, w, FILE_LEN, "sent out of device memory");
	tap(ok && dev_off == FILE_OFF + FILE_LEN,
	    "sendfile: %d bytes of device memory at %d into a file, every byte",
	    FILE_LEN, FILE_OFF);
	close(src);
	close(dst);
	free(w);
	free(r);
}

static void test_uring_fixed(void)
{
	uint8_t *w = rand_buf(FIXED_LEN), *r = rand_buf(FIXED_LEN);
	struct iovec iov[2] = { { w, FIXED_LEN }, { r, FIXED_LEN } };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int ret, wres = 0, rres = 0;

	ret = io_uring_queue_init(4, &ring, 0);
	if (!ret)
		ret = io_uring_register_buffers(&ring, iov, 2);
	if (ret) {
		diag("io_uring: %s", strerror(-ret));
		tap_skip("io_uring with fixed buffers unavailable");
		goto out;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write_fixed(sqe, fd, w, FIXED_LEN, FIXED_OFF, 0);
	if (io_uring_submit(&ring) == 1 && !io_uring_wait_cqe(&ring, &cqe)) {
		wres = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, fd, r, FIXED_LEN, FIXED_OFF, 1);
	if (io_uring_submit(&ring) == 1 && !io_uring_wait_cqe(&ring, &cqe)) {
		rres = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	diag("io_uring fixed buffers: write %d, read %d", wres, rres);
	tap(wres == FIXED_LEN && rres == FIXED_LEN &&
	    same(r, w, FIXED_LEN, "READ_FIXED of WRITE_FIXED") &&
	    devmem_is(fd, FIXED_OFF, w, FIXED_LEN, "pread of WRITE_FIXED"),
	    "io_uring fixed buffers: WRITE_FIXED and READ_FIXED of %d bytes, every byte",
	    FIXED_LEN);
	io_uring_queue_exit(&ring);
out:
	free(w);
	free(r);
}

/* NIOPOLL io_uring ops of one kind on a polled ring, all in flight. */
static int uring_iopoll_all(struct io_uring *ring, int dfd, uint8_t *buf,
			    int write)
{
	struct io_uring_cqe *cqe;
	int ok = 1;

	for (int i = 0; i < NIOPOLL; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		uint8_t *b = buf + i * IOPOLL_LEN;
		off_t off = IOPOLL_OFF + i * IOPOLL_LEN;

		if (write)
			io_uring_prep_write(sqe, dfd, b, IOPOLL_LEN, off);
		else
			io_uring_prep_read(sqe, dfd, b, IOPOLL_LEN, off);
	}
	if (io_uring_submit(ring) != NIOPOLL)
		return 0;
	for (int i = 0; i < NIOPOLL; i++) {
		int ret = io_uring_wait_cqe(ring, &cqe);

		if (ret) {
			diag("io_uring_wait_cqe: %s", strerror(-ret));
			return 0;
		}
		if (cqe->res != IOPOLL_LEN) {
			diag("polled %s: %d (%s)", write ? "write" : "read",
			     cqe->res, cqe->res < 0 ? strerror(-cqe->res) : "short");
			ok = 0;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	return ok;
}

static void test_uring_iopoll(void)
{
	size_t n = NIOPOLL * IOPOLL_LEN;
	uint8_t *w = rand_buf(n), *r = rand_buf(n);
	struct io_uring ring;
	int dfd = open(dev, O_RDWR | O_DIRECT);
	int ret = dfd < 0 ? -errno :
		  io_uring_queue_init(NIOPOLL, &ring, IORING_SETUP_IOPOLL);
	int ok;

	if (ret) {
		diag("io_uring with IORING_SETUP_IOPOLL: %s", strerror(-ret));
		tap(0, "io_uring polled completion: a ring could be set up");
		goto out;
	}
	ok = uring_iopoll_all(&ring, dfd, w, 1) &&
	     uring_iopoll_all(&ring, dfd, r, 0);
	tap(ok && same(r, w, n, "polled reads of polled writes") &&
	    devmem_is(fd, IOPOLL_OFF, w, n, "pread of polled writes"),
	    "io_uring polled completion (IOPOLL): %d writes then %d reads of %d bytes in flight, every byte",
	    NIOPOLL, NIOPOLL, IOPOLL_LEN);
	io_uring_queue_exit(&ring);
out:
	if (dfd >= 0)
		close(dfd);
	free(w);
	free(r);
}

struct flusher {
	int fd;
	int ret;
	int err;
	volatile int done;
};

static void *flush_thread(void *arg)
{
	struct flusher *fl = arg;

	fl->ret = fsync(fl->fd);
	fl->err = errno;
	__atomic_store_n(&fl->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void stall(unsigned long mask)
{
	write_ulong_at(faultdir, "stall", mask);
}

static void test_fsync(int have_faults)
{
	struct iocb cb[NAIO], *cbp[NAIO];
	struct io_event ev[NAIO];
	struct timespec zero = { 0, 0 };
	struct flusher fl = { .fd = fd };
	uint8_t *w = rand_buf((size_t)NAIO * AIO_LEN);
	io_context_t ctx = 0;
	pthread_t t;
	double end;
	int i, n, ready, ok, blocked;

	tap(fsync(fd) == 0 && fdatasync(fd) == 0,
	    "fsync and fdatasync of an idle device return 0");
	if (!have_faults) {
		tap_skip_n(3, "no fault injection to stall the queues");
		goto out;
	}
	if (io_setup(NAIO, &ctx))
		tap_bail("io_setup: %s", strerror(errno));
	for (i = 0; i < NAIO; i++) {
		io_prep_pwrite(&cb[i], fd, w + (size_t)i * AIO_LEN, AIO_LEN,
			       AIO_OFF + (long long)i * AIO_LEN);
		cbp[i] = &cb[i];
	}
	stall(0xffffffffUL);
	n = io_submit(ctx, NAIO, cbp);
	if (pthread_create(&t, NULL, flush_thread, &fl))
		tap_bail("pthread_create failed");
	usleep(300000);
	blocked = !__atomic_load_n(&fl.done, __ATOMIC_SEQ_CST);
	ready = io_getevents(ctx, 0, NAIO, ev, &zero);
	tap(n == NAIO && blocked && ready == 0,
	    "fsync waits while %d writes submitted before it are stalled (submitted %d, fsync %s, completions %d)",
	    NAIO, n, blocked ? "waiting" : "returned", ready);
	stall(0);
	end = now_s() + 10;
	while (!__atomic_load_n(&fl.done, __ATOMIC_SEQ_CST) && now_s() < end)
		usleep(1000);
	if (!fl.done) {
		tap(0, "fsync returns once the queues run again (still waiting after 10 s)");
		tap_bail("fsync hangs");
	}
	pthread_join(t, NULL);
	/* Nothing waited for: every completion must be there already. */
	ready = io_getevents(ctx, 0, NAIO, ev, &zero);
	for (i = 0, ok = ready == NAIO; ok && i < NAIO; i++)
		ok = ev[i].res == AIO_LEN;
	diag("fsync returned %d (%s); completions ready at once: %d",
	     fl.ret, fl.ret ? strerror(fl.err) : "ok", ready);
	tap(fl.ret == 0 && ok,
	    "fsync returns 0 once released, with all %d completions already delivered",
	    NAIO);
	tap(devmem_is(fd, AIO_OFF, w, (size_t)NAIO * AIO_LEN,
		      "device memory after fsync"),
	    "after fsync the %d writes' bytes are in device memory", NAIO);
	io_destroy(ctx);
out:
	free(w);
}

int main(int argc, char **argv)
{
	int have_faults;

	dev = test_begin(argc, argv, "dmalab_fileio", NTESTS, &rs);
	fd = dev_open(dev, &info);
	if (fd < 0)
		tap_bail("cannot use %s", dev);
	if (info.devmem_size < DEVMEM_USED)
		tap_bail("device memory of %llu bytes: %d needed",
			 (unsigned long long)info.devmem_size, DEVMEM_USED);
	have_faults = (info.features & DMALAB_FEAT_DEBUG) &&
		      !dbg_path(dev, "fault", faultdir, sizeof(faultdir),
				W_OK);

	test_odirect();			/* 4 */
	test_fcntl_direct();		/* 1 */
	test_splice();			/* 2 */
	test_sendfile();		/* 2 */
	test_uring_fixed();		/* 1 */
	test_uring_iopoll();		/* 1 */
	test_fsync(have_faults);	/* 4 */
	close(fd);
	return tap_done();
}
