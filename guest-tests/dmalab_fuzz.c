// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmalab_fuzz: a deterministic ioctl, read/write and mmap fuzzer.  With a
 * fixed seed (printed; argv[1] overrides it) it builds thousands of random
 * and boundary argument sets: wrong sizes, non-zero reserved and output
 * fields, bad opcodes, kinds and flags, zero and huge lengths, ranges that
 * wrap near 2^64, NULL, unmapped, kernel, non-canonical and read-only user
 * pointers where the device must write, oversized batches, bad queue
 * indices, unknown ioctl numbers, and mmap offsets and lengths around every
 * region.  A model of the uapi says which errors each argument set may
 * produce (any defect present may be the one reported; with none the call
 * must succeed and its results are checked).  Device memory is shadowed:
 * every successful write is recorded and every read is checked, and calls
 * that fail must not have changed it.  Finally a clean round trip must work
 * and the pinned-page counters of /proc/vmstat must balance.  Output is TAP,
 * one case per category with counts.
 *
 * Usage: dmalab_fuzz [seed] [device]   (as root)
 */
#include "dmalab_test.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#define NTESTS		16
#define DEFAULT_SEED	20240601ULL
#define PAGE		4096ULL
#define N_SUBMIT	4000
#define N_BATCH		400
/*
 * On a debug kernel (KASAN, DMA-API debug, lockdep) each random op costs
 * several times more; a quarter of them still reaches every path there,
 * and the full count runs on every other kernel.
 */
#define DEBUG_SHARE	4
#define CSZ		(64 * 1024ULL)	/* coherent buffer of fd_c */
#define ROS		(64 * 1024ULL)	/* read-only region */
#define RSIZE		(160ULL << 20)	/* PROT_NONE reservation */
#define MAXSHOW		10

/* Outcomes, as a bit mask: an errno class or a completed op. */
enum {
	O_OK = 1u << 0,		/* ioctl 0, status OK */
	O_STS = 1u << 1,	/* ioctl 0, status DEVMEM_RANGE */
	O_EINVAL = 1u << 2,
	O_EFAULT = 1u << 3,
	O_E2BIG = 1u << 4,
	O_ENOTTY = 1u << 5,
	O_ENOSPC = 1u << 6,
	O_EOVERFLOW = 1u << 7,
	O_ENOMEM = 1u << 8,
	O_OTHER = 1u << 9,
};
/* "Too big" (len above max_xfer, count above max_batch): the uapi promises a
 * bad-argument error; E2BIG is accepted as the more specific variant. */
#define O_TOOBIG	(O_EINVAL | O_E2BIG)
#define O_ERRNOS	(~(unsigned int)(O_OK | O_STS))

static unsigned int errno_bit(int e)
{
	switch (e) {
	case 0: return O_OK;
	case EINVAL: return O_EINVAL;
	case EFAULT: return O_EFAULT;
	case E2BIG: return O_E2BIG;
	case ENOTTY: return O_ENOTTY;
	case ENOSPC: return O_ENOSPC;
	case EOVERFLOW: return O_EOVERFLOW;
	case ENOMEM: return O_ENOMEM;
	default: return O_OTHER;
	}
}

static const char *outs(unsigned int m, char *buf, size_t sz)
{
	static const char *n[] = { "OK", "DEVMEM_RANGE", "EINVAL", "EFAULT",
				   "E2BIG", "ENOTTY", "ENOSPC", "EOVERFLOW",
				   "ENOMEM", "other" };
	size_t i, l = 0;

	buf[0] = 0;
	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		if (m & (1u << i))
			l += snprintf(buf + l, sz > l ? sz - l : 0, "%s%s",
				      l ? "|" : "", n[i]);
	return buf;
}

static const char *devpath;
static int fd, fd_c;		/* fd_c has a coherent buffer of CSZ */
/* STATS.timeouts before the fuzzer: earlier tests time out on purpose. */
static unsigned long long timeouts0;
static struct dmalab_info info;
static uint64_t rs;
static int share = 1;	/* DEBUG_SHARE on a debug kernel */
static uint8_t *shadow;
static uint8_t *R, *S, *RO, *NONE, *cbuf;
static uint64_t SS;		/* size of S */
static uint8_t *tmp;		/* scratch for checks */

/* Per category: cases run and mismatches. */
struct cat {
	const char *name;
	unsigned int n, bad, shown;
	unsigned int seen;	/* outcome bits observed */
};

static void __attribute__((format(printf, 4, 5)))
record(struct cat *c, unsigned int want, int got_errno_or_sts,
       const char *fmt, ...)
{
	unsigned int got = got_errno_or_sts < 0 ? O_STS :
			   errno_bit(got_errno_or_sts);
	char w[96], g[96], d[256];
	va_list ap;

	c->n++;
	c->seen |= got;
	if (got & want)
		return;
	c->bad++;
	if (c->shown++ >= MAXSHOW)
		return;
	va_start(ap, fmt);
	vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	diag("%s: %s: got %s (%s), want %s", c->name, d, outs(got, g, sizeof(g)),
	     got_errno_or_sts > 0 ? strerror(got_errno_or_sts) : "-",
	     outs(want, w, sizeof(w)));
}

/* A check that is not an errno (data, outputs) failed. */
static void __attribute__((format(printf, 2, 3)))
fail(struct cat *c, const char *fmt, ...)
{
	char d[256];
	va_list ap;

	c->bad++;
	if (c->shown++ >= MAXSHOW)
		return;
	va_start(ap, fmt);
	vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	diag("%s: %s", c->name, d);
}

static void report(struct cat *c)
{
	char s[96];

	tap(!c->bad && c->n, "%s: %u cases, %u unexpected (outcomes seen: %s)",
	    c->name, c->n, c->bad, outs(c->seen, s, sizeof(s)));
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rng_below(&rs, n)];
}

#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

static int chance(unsigned int permille)
{
	return rng_below(&rs, 1000) < permille;
}

/* ---- device memory shadow ------------------------------------------------ */

static int devmem_read(uint8_t *dst, uint64_t off, uint64_t len)
{
	uint64_t pos;

	for (pos = 0; pos < len;) {
		/* 128 KiB pieces: the fuzzer's own reads stay small */
		uint64_t n = len - pos > 131072 ? 131072 : len - pos;

		if (do_d2h(fd, DMALAB_QUEUE_ANY, dst + pos, off + pos, n))
			return -1;
		pos += n;
	}
	return 0;
}

/* 1 if device memory [off, off + len) equals the shadow */
static int devmem_matches(uint64_t off, uint64_t len)
{
	uint64_t i;

	if (devmem_read(tmp, off, len)) {
		diag("D2H of device memory failed");
		return 0;
	}
	if (!memcmp(tmp, shadow + off, len))
		return 1;
	for (i = 0; tmp[i] == shadow[off + i]; i++)
		;
	diag("device memory at %#" PRIx64 " is %#x, the shadow says %#x",
	     off + i, tmp[i], shadow[off + i]);
	return 0;
}

static int devmem_resync(void)
{
	return devmem_read(shadow, 0, info.devmem_size);
}

/* ---- the op model -------------------------------------------------------- */

/* Errors of the user range [addr, addr + len) for a host side. */
static unsigned int user_model(uint64_t addr, uint64_t len, int dev_writes)
{
	uint64_t end = addr + len;
	uintptr_t s = (uintptr_t)S, ro = (uintptr_t)RO;

	if (!len)
		return 0;
	if (end < addr || end == 0)
		return O_EINVAL | O_EFAULT;	/* wraps around 2^64 */
	if (addr >= s && end <= s + SS)
		return 0;
	if (addr >= ro && end <= ro + ROS)
		return dev_writes ? O_EFAULT : 0;
	return O_EFAULT;
}

static uint64_t gen_len(unsigned int bad)
{
	static const uint64_t small[] = { 1, 2, 7, 8, 9, 63, 64, 65, 511, 4095,
					  4096, 4097, 8191, 12288 };
	uint64_t big[] = { 0, info.max_xfer + 1ULL, 0x7fffffff, 0x80000000,
			   0xffffffff, info.max_xfer, SS, SS + 1,
			   info.devmem_size, info.devmem_size + 1 };
	unsigned int r = rng_below(&rs, 1000);

	if (r < bad)
		return PICK(big);
	if (r < 500)
		return 1 + rng_below(&rs, 8192);
	if (r < 900)
		return PICK(small);
	return 1 + rng_below(&rs, SS < info.devmem_size ? SS :
					info.devmem_size);
}

static uint64_t gen_user_addr(uint64_t len, unsigned int bad)
{
	uint64_t l = len < SS ? len : SS, r;

	if (!chance(bad)) {
		if (chance(850))
			return (uintptr_t)S + rng_below(&rs, SS - l + 1);
		l = len < ROS ? len : ROS;
		return (uintptr_t)RO + rng_below(&rs, ROS - l + 1);
	}
	r = rng_below(&rs, 8);
	switch (r) {
	case 0:	/* crosses the end of S into PROT_NONE: a partial pin */
		return (uintptr_t)S + SS - 1 - rng_below(&rs, l ? l : 1);
	case 1:
		return rng_below(&rs, 4096);			/* NULL page */
	case 2:
		return (uintptr_t)NONE + rng_below(&rs, 1 << 20);
	case 3:
		return 0xffff888000000000ULL + rng_below(&rs, 1ULL << 30);
	case 4:	/* around the top of user space / non-canonical */
		return 0x0000800000000000ULL - rng_below(&rs, 3 * PAGE) +
		       rng_below(&rs, 2 * PAGE);
	case 5:	/* wraps around 2^64 */
		return 0 - 1 - rng_below(&rs, 2 * len + 1);
	case 6:	/* just before the read-only region */
		return (uintptr_t)RO - 1 - rng_below(&rs, 64);
	default:
		return rng_next(&rs);
	}
}

static uint64_t gen_devmem_addr(uint64_t len, unsigned int bad)
{
	uint64_t sz = info.devmem_size, l = len < sz ? len : sz;

	if (!chance(bad))
		return rng_below(&rs, sz - l + 1);
	switch (rng_below(&rs, 6)) {
	case 0:
		return sz - l + 1 + rng_below(&rs, 8);
	case 1:
		return sz + rng_below(&rs, 4096);
	case 2:
		return 0 - 1 - rng_below(&rs, 2 * len + 1);
	case 3:
		return (1ULL << 63) + rng_below(&rs, 4096);
	case 4:
		return sz - 1;
	default:
		return rng_next(&rs);
	}
}

static uint64_t gen_coh_addr(uint64_t len, unsigned int bad)
{
	uint64_t l = len < CSZ ? len : CSZ;

	if (!chance(bad))
		return rng_below(&rs, CSZ - l + 1);
	switch (rng_below(&rs, 4)) {
	case 0:
		return CSZ - l + 1 + rng_below(&rs, 8);
	case 1:
		return CSZ + rng_below(&rs, 1 << 20);
	case 2:
		return 0 - 1 - rng_below(&rs, 2 * len + 1);
	default:
		return rng_next(&rs);
	}
}

/* Kinds of src/dst an opcode wants: 'U' host, 'D' devmem, 'N' none. */
static void wanted(uint32_t opc, char *src, char *dst)
{
	*src = *dst = 0;
	switch (opc) {
	case DMALAB_UOP_H2D: *src = 'U'; *dst = 'D'; break;
	case DMALAB_UOP_D2H: *src = 'D'; *dst = 'U'; break;
	case DMALAB_UOP_COPY: *src = 'U'; *dst = 'U'; break;
	case DMALAB_UOP_FILL: *src = 'N'; *dst = 'U'; break;
	case DMALAB_UOP_CRC32C: *src = 'U'; *dst = 'N'; break;
	}
}

static void gen_side(struct dmalab_buf *b, char want, uint64_t len,
		     unsigned int bad, int has_cbuf)
{
	/* 4 and up may be newer kinds (page buffer): not fuzzed here */
	static const uint64_t badkind[] = { 0, 1, 2, 3, 0x80, 0xff,
					    0x80000001, 0xffffffff };

	memset(b, 0, sizeof(*b));
	if (chance(bad / 2))
		b->kind = PICK(badkind);
	else if (want == 'U')
		b->kind = has_cbuf && chance(150) ? DMALAB_BUF_COHERENT :
						    DMALAB_BUF_USER;
	else if (want == 'D')
		b->kind = DMALAB_BUF_DEVMEM;
	else
		b->kind = DMALAB_BUF_NONE;
	switch (b->kind) {
	case DMALAB_BUF_USER:
		b->addr = gen_user_addr(len, bad);
		break;
	case DMALAB_BUF_DEVMEM:
		b->addr = gen_devmem_addr(len, bad);
		break;
	case DMALAB_BUF_COHERENT:
		b->addr = gen_coh_addr(len, bad);
		break;
	default:
		b->addr = chance(bad) ? 1 + rng_below(&rs, 1ULL << 40) : 0;
		break;
	}
	if (chance(bad / 4))
		b->rsvd = 1 + rng_below(&rs, 0xffffffff);
}

/* A random op; bad: per-mille chance of a defect per field. */
static void gen_op(struct dmalab_op *op, unsigned int bad, int has_cbuf)
{
	static const uint64_t badopc[] = { 0, 6, 7, 8, 0x11, 0x81, 0xff,
					   0x100, 0x80000001, 0xffffffff };
	static const uint64_t badflags[] = { 2, 4, 0x80, 0x8000, 1u << 31, 3,
					     0xffffffff, 0xfffffffe };
	char ws, wd;

	memset(op, 0, sizeof(*op));
	op->opcode = chance(bad) ? PICK(badopc) : 1 + rng_below(&rs, 5);
	op->len = gen_len(bad);
	if (chance(bad))
		op->flags = PICK(badflags);
	else if (chance(60))
		op->flags = DMALAB_OPF_NO_CHECK;
	if (chance(bad)) {
		uint64_t bq[] = { info.num_queues, info.num_queues + 1, 31, 32,
				  0x7fffffff, 0xfffffffe, 0x80000000 };

		op->queue = PICK(bq);
	} else {
		op->queue = chance(500) ? DMALAB_QUEUE_ANY :
					  rng_below(&rs, info.num_queues);
	}
	wanted(op->opcode, &ws, &wd);
	if (!ws) {	/* bad opcode: any sides */
		ws = "UDN"[rng_below(&rs, 3)];
		wd = "UDN"[rng_below(&rs, 3)];
	}
	gen_side(&op->src, ws, op->len, bad, has_cbuf);
	gen_side(&op->dst, wd, op->len, bad, has_cbuf);
	if (op->opcode == DMALAB_UOP_FILL)
		op->pattern = rng_next(&rs);
	else if (chance(bad / 2))
		op->pattern = 1 + rng_below(&rs, 0xffffffff);
	if (chance(bad / 4))
		op->rsvd = 1 + rng_below(&rs, 1000);
	if (chance(bad / 6))
		op->status = 1 + rng_below(&rs, 0x10);
	if (chance(bad / 6))
		op->bytes = 1 + rng_below(&rs, 0x1000);
	if (chance(bad / 6))
		op->result = 1 + rng_below(&rs, 0x1000);
	if (chance(bad / 6))
		op->queue_used = 1 + rng_below(&rs, 8);
}

/* Allowed outcomes of an op, per the uapi. */
static unsigned int op_model(const struct dmalab_op *op, int has_cbuf)
{
	unsigned int e = 0, sts = 0;
	const struct dmalab_buf *side[2] = { &op->src, &op->dst };
	char want[2];
	int i, opc_ok;

	if (op->flags & ~DMALAB_OPF_VALID)
		e |= O_EINVAL;
	if (op->rsvd || op->src.rsvd || op->dst.rsvd || op->status ||
	    op->bytes || op->result || op->queue_used)
		e |= O_EINVAL;
	if (!op->len)
		e |= O_EINVAL;
	if (op->len > info.max_xfer)
		e |= O_TOOBIG;
	if (op->queue != DMALAB_QUEUE_ANY && op->queue >= info.num_queues)
		e |= O_EINVAL;
	if (op->pattern && op->opcode != DMALAB_UOP_FILL)
		e |= O_EINVAL;
	wanted(op->opcode, &want[0], &want[1]);
	opc_ok = want[0] != 0;
	if (!opc_ok)
		e |= O_EINVAL;
	for (i = 0; i < 2; i++) {
		const struct dmalab_buf *b = side[i];
		int writes = i == 1;

		if (opc_ok) {
			char k = b->kind == DMALAB_BUF_USER ||
				 b->kind == DMALAB_BUF_COHERENT ? 'U' :
				 b->kind == DMALAB_BUF_DEVMEM ? 'D' :
				 b->kind == DMALAB_BUF_NONE ? 'N' : '?';

			if (k != want[i]) {
				e |= O_EINVAL;
				/* a driver may look at the buffer first */
				if (b->kind == DMALAB_BUF_USER)
					e |= user_model(b->addr, op->len, 1) |
					     user_model(b->addr, op->len, 0);
				continue;
			}
		}
		switch (b->kind) {
		case DMALAB_BUF_NONE:
			if (b->addr)
				e |= O_EINVAL;
			break;
		case DMALAB_BUF_DEVMEM:
			if (b->addr >= info.devmem_size ||
			    op->len > info.devmem_size - b->addr) {
				if (op->flags & DMALAB_OPF_NO_CHECK)
					sts = O_STS;
				else
					e |= O_EINVAL;
			}
			break;
		case DMALAB_BUF_USER:
			e |= user_model(b->addr, op->len, writes);
			if (!opc_ok)
				e |= user_model(b->addr, op->len, !writes);
			break;
		case DMALAB_BUF_COHERENT:
			if (!has_cbuf || b->addr > CSZ ||
			    op->len > CSZ - b->addr)
				e |= O_EINVAL;
			break;
		default:
			e |= O_EINVAL;
		}
	}
	if (e)
		return e;
	return sts ? sts : O_OK;
}

/*
 * The blocks of DMALAB_WRITE_GRAIN an op has the device write in user memory
 * or the page buffer; 0 when it writes none.  The end saturates at 2^64.
 */
static int write_blocks(const struct dmalab_op *op, uint64_t *first,
			uint64_t *last)
{
	uint64_t end = op->dst.addr + op->len - 1;

	if ((op->dst.kind != DMALAB_BUF_USER &&
	     op->dst.kind != DMALAB_BUF_PAGEBUF) || !op->len)
		return 0;
	if (end < op->dst.addr)
		end = UINT64_MAX;
	*first = op->dst.addr / DMALAB_WRITE_GRAIN;
	*last = end / DMALAB_WRITE_GRAIN;
	return 1;
}

/* Whether the device would write one block of one buffer for both ops. */
static int writes_overlap(const struct dmalab_op *a, const struct dmalab_op *b)
{
	uint64_t a0, a1, b0, b1;

	return a->dst.kind == b->dst.kind && write_blocks(a, &a0, &a1) &&
	       write_blocks(b, &b0, &b1) && a0 <= b1 && b0 <= a1;
}

/* The batch rule of the uapi: EINVAL when any two ops' writes overlap. */
static int batch_writes_overlap(const struct dmalab_op *ops, int n)
{
	int i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (writes_overlap(&ops[i], &ops[j]))
				return 1;
	return 0;
}

static const uint8_t *host_ptr(const struct dmalab_buf *b)
{
	if (b->kind == DMALAB_BUF_COHERENT)
		return cbuf + b->addr;
	return (const uint8_t *)(uintptr_t)b->addr;
}

/* Check the outputs and the effects of a completed single op. */
static void check_done(struct cat *c, const struct dmalab_op *in,
		       const struct dmalab_op *op, int want_sts)
{
	const uint8_t *src, *dst;
	uint64_t i;

	if (op->opcode != in->opcode || op->len != in->len ||
	    op->pattern != in->pattern || op->rsvd || op->src.rsvd ||
	    op->dst.rsvd || memcmp(&op->src, &in->src, sizeof(op->src)) ||
	    memcmp(&op->dst, &in->dst, sizeof(op->dst)))
		fail(c, "op %u: input fields changed on output", in->opcode);
	if (op->queue_used >= info.num_queues ||
	    (in->queue != DMALAB_QUEUE_ANY && op->queue_used != in->queue))
		fail(c, "op %u: queue_used %u (asked %#x)", in->opcode,
		     op->queue_used, in->queue);
	if (want_sts) {
		if (op->status != DMALAB_STS_DEVMEM_RANGE)
			fail(c, "op %u len %u: device range error, status %#x (want DEVMEM_RANGE)",
			     in->opcode, in->len, op->status);
		return;
	}
	if (op->status != DMALAB_STS_OK || op->bytes != in->len) {
		fail(c, "op %u len %u: status %#x bytes %u", in->opcode,
		     in->len, op->status, op->bytes);
		return;
	}
	if (in->opcode != DMALAB_UOP_CRC32C && op->result)
		fail(c, "op %u: result %#x, want 0", in->opcode, op->result);
	src = host_ptr(&in->src);
	dst = host_ptr(&in->dst);
	switch (in->opcode) {
	case DMALAB_UOP_H2D:
		memcpy(shadow + in->dst.addr, src, in->len);
		break;
	case DMALAB_UOP_D2H:
		if (memcmp(dst, shadow + in->src.addr, in->len))
			fail(c, "D2H of %u bytes at %#" PRIx64 ": data differs from the shadow",
			     in->len, (uint64_t)in->src.addr);
		break;
	case DMALAB_UOP_FILL:
		for (i = 0; i < in->len; i++)
			if (dst[i] != (uint8_t)(in->pattern >> (8 * (i & 7)))) {
				fail(c, "FILL of %u bytes: byte %" PRIu64 " wrong",
				     in->len, i);
				break;
			}
		break;
	case DMALAB_UOP_CRC32C:
		if (op->result != crc32c(src, in->len))
			fail(c, "CRC32C of %u bytes: %#x, want %#x", in->len,
			     op->result, crc32c(src, in->len));
		break;
	case DMALAB_UOP_COPY:
		/* only disjoint ranges have a defined result */
		if ((src + in->len <= dst || dst + in->len <= src) &&
		    memcmp(src, dst, in->len))
			fail(c, "COPY of %u bytes: data differs", in->len);
		break;
	}
}

static void test_submit(void)
{
	struct cat c = { .name = "SUBMIT: random and boundary ops" };
	struct cat cd = { .name = "SUBMIT: failed ops leave device memory alone" };
	struct dmalab_op in, op;
	unsigned int want;
	int i, e, use_c;

	for (i = 0; i < N_SUBMIT / share; i++) {
		use_c = chance(300);
		gen_op(&in, 70, use_c);
		want = op_model(&in, use_c);
		op = in;
		e = submit_fd(use_c ? fd_c : fd, &op);
		if (!e && op.status == DMALAB_STS_DEVMEM_RANGE &&
		    (want & O_STS))
			e = -1;
		record(&c, want, e,
		       "#%d opcode %#x flags %#x q %#x len %#x src %u:%#llx dst %u:%#llx%s",
		       i, in.opcode, in.flags, in.queue, in.len, in.src.kind,
		       (unsigned long long)in.src.addr, in.dst.kind,
		       (unsigned long long)in.dst.addr,
		       use_c ? " (file with coherent buffer)" : "");
		if (e <= 0 && (want & (O_OK | O_STS)))
			check_done(&c, &in, &op, e < 0);
		/* every 250 ops: device memory still matches the shadow */
		if (i % 250 == 249) {
			e = devmem_matches(0, info.devmem_size) ? 0 : EIO;
			record(&cd, O_OK, e, "device memory after op %d", i);
			if (e)
				devmem_resync();
		}
	}
	report(&c);
	report(&cd);
}

/* ---- batches ------------------------------------------------------------- */

static void test_batch(void)
{
	struct cat c = { .name = "SUBMIT_BATCH: random batches (checked before any op runs)" };
	static struct dmalab_op ops[DMALAB_MAX_BATCH + 1], in[DMALAB_MAX_BATCH];
	uint8_t marker[256];
	uint64_t moff = info.devmem_size - sizeof(marker);
	struct dmalab_batch b;
	unsigned int want, sts[DMALAB_MAX_BATCH], nok;
	int i, k, n, e, use_c, h2d;

	for (i = 0; i < N_BATCH / share; i++) {
		use_c = chance(300);
		n = chance(30) ? DMALAB_MAX_BATCH : 1 + (int)rng_below(&rs, 8);
		/* op 0 writes a fresh marker: it must not land on failure */
		fill_rand(&rs, marker, sizeof(marker));
		op_init(&in[0], DMALAB_UOP_H2D, DMALAB_QUEUE_ANY,
			sizeof(marker));
		op_buf(&in[0].src, DMALAB_BUF_USER, (uintptr_t)marker);
		op_buf(&in[0].dst, DMALAB_BUF_DEVMEM, moff);
		sts[0] = O_OK;
		want = 0;
		h2d = 1;
		for (k = 1; k < n; k++) {
			int tries = 0, j;

again:
			gen_op(&in[k], n > 8 ? 1 : 15, use_c);
			/* keep big batches cheap */
			if (n > 8 && in[k].len > 4096)
				in[k].len = 1 + in[k].len % 4096;
			/* big batches: mostly without overlapping writes */
			for (j = 1; n > 8 && j < k; j++)
				if (writes_overlap(&in[j], &in[k]) &&
				    tries++ < 16 && !chance(10))
					goto again;
			sts[k] = op_model(&in[k], use_c);
			if (sts[k] & O_ERRNOS)
				want |= sts[k];
			h2d |= in[k].opcode == DMALAB_UOP_H2D;
		}
		if (batch_writes_overlap(in, n))
			want |= O_EINVAL;
		if (!want)
			want = O_OK;
		memcpy(ops, in, n * sizeof(ops[0]));
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.count = n;
		b.ops = (uintptr_t)ops;
		e = ioctl(use_c ? fd_c : fd, DMALAB_IOC_SUBMIT_BATCH, &b) ?
		    errno : 0;
		record(&c, want, e, "batch #%d of %d ops", i, n);
		if (e) {
			/* nothing ran: device memory is unchanged */
			if (!devmem_matches(moff, sizeof(marker)))
				fail(&c, "batch #%d failed (%s) but its first op wrote device memory",
				     i, strerror(e));
			continue;
		}
		for (k = 0, nok = 0; k < n; k++) {
			if (ops[k].status == DMALAB_STS_OK &&
			    ops[k].bytes == ops[k].len)
				nok++;
			if (sts[k] == O_OK && (ops[k].status ||
					       ops[k].bytes != in[k].len))
				fail(&c, "batch #%d op %d: status %#x bytes %u",
				     i, k, ops[k].status, ops[k].bytes);
			if (sts[k] == O_STS &&
			    ops[k].status != DMALAB_STS_DEVMEM_RANGE)
				fail(&c, "batch #%d op %d: status %#x, want DEVMEM_RANGE",
				     i, k, ops[k].status);
			if (ops[k].queue_used >= info.num_queues ||
			    ops[k].rsvd)
				fail(&c, "batch #%d op %d: queue_used %u rsvd %#llx",
				     i, k, ops[k].queue_used,
				     (unsigned long long)ops[k].rsvd);
		}
		if (b.completed != nok)
			fail(&c, "batch #%d: completed %u, %u ops have status OK",
			     i, b.completed, nok);
		/* what the H2D ops wrote, in whatever order they ran */
		for (k = 0; h2d && k < n; k++)
			if (in[k].opcode == DMALAB_UOP_H2D &&
			    ops[k].status == DMALAB_STS_OK &&
			    devmem_read(shadow + in[k].dst.addr,
					in[k].dst.addr, in[k].len))
				fail(&c, "reading device memory back failed");
	}
	report(&c);
}

/* Batch headers and op arrays: sizes, counts, pointers, reserved fields. */
static void test_batch_header(void)
{
	struct cat c = { .name = "SUBMIT_BATCH: header fields and pointers" };
	struct dmalab_op good, *arr;
	struct dmalab_batch b, *rob;
	uint8_t buf[64];
	uint64_t ptrs[] = { 0, 16, (uintptr_t)NONE, 0xffff888000000000ULL,
			    0x0000800000000000ULL, 0 - 64ULL };
	uint64_t sizes[] = { 0, 1, 39, 41, 48, 80, 0xffffffff };
	uint64_t counts[] = { 0, DMALAB_MAX_BATCH + 1ULL, 1000, 0x7fffffff,
			      0xffffffff };
	unsigned int i;
	int e;

	op_init(&good, DMALAB_UOP_D2H, DMALAB_QUEUE_ANY, sizeof(buf));
	op_buf(&good.src, DMALAB_BUF_DEVMEM, 0);
	op_buf(&good.dst, DMALAB_BUF_USER, (uintptr_t)buf);
	/* an array of max_batch good ops whose end touches PROT_NONE */
	arr = (struct dmalab_op *)(S + SS) - DMALAB_MAX_BATCH;

#define B_RESET() do {						\
		memset(&b, 0, sizeof(b));			\
		b.size = sizeof(b);				\
		b.count = 1;					\
		b.ops = (uintptr_t)&good;			\
	} while (0)
#define B_TRY(want, what, ...) do {					\
		e = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, &b) ? errno : 0; \
		record(&c, want, e, what, __VA_ARGS__);			\
		good.status = good.bytes = good.queue_used = 0;		\
		good.result = 0;					\
	} while (0)

	B_RESET();
	B_TRY(O_OK, "%s", "a good batch");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		B_RESET();
		b.size = sizes[i];
		B_TRY(sizes[i] == sizeof(b) ? O_OK : O_EINVAL, "size %u",
		      b.size);
	}
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		B_RESET();
		b.count = counts[i];
		B_TRY(counts[i] ? O_TOOBIG : O_EINVAL, "count %u", b.count);
	}
	for (i = 0; i < 32; i++) {
		B_RESET();
		b.flags = 1u << i;
		B_TRY(O_EINVAL, "flags %#x", b.flags);
	}
	B_RESET();
	b.completed = 1;
	B_TRY(O_EINVAL, "%s", "completed 1 on input");
	for (i = 0; i < 2; i++) {
		B_RESET();
		b.rsvd[i] = 1ULL << (63 - i);
		B_TRY(O_EINVAL, "rsvd[%u]", i);
	}
	for (i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
		B_RESET();
		b.ops = ptrs[i];
		B_TRY(O_EFAULT, "ops = %#llx", (unsigned long long)ptrs[i]);
		B_RESET();
		b.ops = ptrs[i];
		b.count = DMALAB_MAX_BATCH;
		B_TRY(O_EFAULT, "%d ops at %#llx", DMALAB_MAX_BATCH,
		      (unsigned long long)ptrs[i]);
	}
	/*
	 * array running into PROT_NONE: only the last op is unreadable.  Its
	 * ops read buf (writing it 256 times at once is not allowed).
	 */
	for (i = 0; i < DMALAB_MAX_BATCH; i++) {
		op_init(&arr[i], DMALAB_UOP_H2D, DMALAB_QUEUE_ANY, sizeof(buf));
		op_buf(&arr[i].src, DMALAB_BUF_USER, (uintptr_t)buf);
		op_buf(&arr[i].dst, DMALAB_BUF_DEVMEM, 0);
	}
	B_RESET();
	b.ops = (uintptr_t)(arr + 1);
	b.count = DMALAB_MAX_BATCH;
	B_TRY(O_EFAULT, "%s", "op array crossing into an unmapped page");
	B_RESET();
	b.ops = (uintptr_t)arr;
	b.count = DMALAB_MAX_BATCH;
	B_TRY(O_OK, "%s", "op array ending at an unmapped page");
	/* two ops writing into user memory: one block apart or sharing one */
	{
		static const struct {
			uint32_t opc1;
			uint64_t off1, len1, off2, len2;
			unsigned int want;
			const char *what;
		} ov[] = {
			{ DMALAB_UOP_D2H, 0, 1, 64, 1, O_EINVAL,
			  "two D2H into one 128-byte block" },
			{ DMALAB_UOP_D2H, 0, 200, 255, 1, O_EINVAL,
			  "D2H into the last byte of another's block" },
			{ DMALAB_UOP_D2H, 0, 200, 256, 64, O_OK,
			  "D2H into the next block" },
			{ DMALAB_UOP_D2H, 0, 128, 128, 128, O_OK,
			  "two D2H, each in its own block" },
			{ DMALAB_UOP_FILL, 4096, 8192, 100, 4096, O_EINVAL,
			  "FILL and D2H overlapping by pages" },
			{ DMALAB_UOP_H2D, 0, 4096, 0, 4096, O_OK,
			  "H2D reading what a D2H writes" },
		};
		struct dmalab_op two[2];
		static uint8_t before[4096];

		for (i = 0; i < sizeof(ov) / sizeof(ov[0]); i++) {
			op_init(&two[0], ov[i].opc1, DMALAB_QUEUE_ANY,
				ov[i].len1);
			if (ov[i].opc1 == DMALAB_UOP_H2D) {
				op_buf(&two[0].src, DMALAB_BUF_USER,
				       (uintptr_t)S + ov[i].off1);
				op_buf(&two[0].dst, DMALAB_BUF_DEVMEM, 0);
			} else {
				if (ov[i].opc1 == DMALAB_UOP_D2H)
					op_buf(&two[0].src, DMALAB_BUF_DEVMEM,
					       0);
				op_buf(&two[0].dst, DMALAB_BUF_USER,
				       (uintptr_t)S + ov[i].off1);
			}
			op_init(&two[1], DMALAB_UOP_D2H, DMALAB_QUEUE_ANY,
				ov[i].len2);
			op_buf(&two[1].src, DMALAB_BUF_DEVMEM, 0);
			op_buf(&two[1].dst, DMALAB_BUF_USER,
			       (uintptr_t)S + ov[i].off2);
			B_RESET();
			b.ops = (uintptr_t)two;
			b.count = 2;
			if (ov[i].opc1 == DMALAB_UOP_H2D)
				memcpy(before, S + ov[i].off1, ov[i].len1);
			B_TRY(ov[i].want, "%s", ov[i].what);
			if (ov[i].opc1 != DMALAB_UOP_H2D || e)
				continue;
			/*
			 * The two ops run on two queues at once: device memory
			 * now holds the user's old bytes (the H2D ran first)
			 * or its own (the D2H ran first, and the H2D wrote
			 * back what it read).  Nothing else.
			 */
			if (devmem_read(tmp, 0, ov[i].len1)) {
				fail(&c, "%s: reading device memory back failed",
				     ov[i].what);
			} else if (!memcmp(tmp, before, ov[i].len1)) {
				memcpy(shadow, before, ov[i].len1);
			} else if (memcmp(tmp, shadow, ov[i].len1)) {
				fail(&c, "%s: device memory holds neither the user's old bytes nor its own",
				     ov[i].what);
				devmem_resync();
			}
		}
	}
	/* outputs cannot be written back: a read-only op array */
	B_RESET();
	b.ops = (uintptr_t)(RO + 8192);	/* random bytes: no valid op */
	b.count = 4;
	B_TRY(O_EINVAL | O_EFAULT, "%s", "read-only array of garbage");
	mprotect(RO, ROS, PROT_READ | PROT_WRITE);
	memcpy(RO + 2 * PAGE, &good, sizeof(good));
	mprotect(RO, ROS, PROT_READ);
	B_RESET();
	b.ops = (uintptr_t)(RO + 2 * PAGE);
	B_TRY(O_EFAULT, "%s", "valid op in a read-only array (outputs not writable)");
	/* a read-only batch header: completed cannot be written */
	mprotect(RO, ROS, PROT_READ | PROT_WRITE);
	B_RESET();
	memcpy(RO + 3 * PAGE, &b, sizeof(b));
	mprotect(RO, ROS, PROT_READ);
	e = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, RO + 3 * PAGE) ? errno : 0;
	record(&c, O_EFAULT, e, "%s", "read-only batch header");
	good.status = good.bytes = good.queue_used = good.result = 0;
	/* the batch header itself */
	e = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, NULL) ? errno : 0;
	record(&c, O_EFAULT, e, "%s", "NULL batch");
	e = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, NONE) ? errno : 0;
	record(&c, O_EFAULT, e, "%s", "unmapped batch");
	e = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, 0xffff888000000000ULL) ?
	    errno : 0;
	record(&c, O_EFAULT, e, "%s", "kernel address batch");
	/* header at the end of S: the tail of the struct is unmapped */
	rob = (struct dmalab_batch *)(S + SS - 24);
	e = ioctl(fd, DMALAB_IOC_SUBMIT_BATCH, rob) ? errno : 0;
	record(&c, O_EFAULT, e, "%s", "batch header crossing into PROT_NONE");
#undef B_RESET
#undef B_TRY
	report(&c);
}

/* ---- INFO, STATS, QUEUE_RESET, unknown ioctls ----------------------------- */

static void test_small_ioctls(void)
{
	struct cat c = { .name = "INFO/STATS/QUEUE_RESET: sizes, queues and pointers" };
	uint64_t bad_ptrs[] = { 0, 8, (uintptr_t)NONE, 0xffff888000000000ULL,
				0x0000800000000000ULL, 0 - 8ULL,
				(uintptr_t)(S + SS - 4) };
	uint64_t sizes[] = { 0, 1, 4, 8, 87, 89, 96, 135, 137, 0x10000,
			     0x80000000, 0xffffffff };
	struct dmalab_info inf;
	struct dmalab_stats st;
	struct dmalab_queue_reset qr;
	unsigned int i;
	uint32_t q;
	int e;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(&inf, 0, sizeof(inf));
		inf.size = sizes[i];
		e = ioctl(fd, DMALAB_IOC_INFO, &inf) ? errno : 0;
		record(&c, O_EINVAL, e, "INFO size %u", inf.size);
		memset(&st, 0, sizeof(st));
		st.size = sizes[i];
		e = ioctl(fd, DMALAB_IOC_STATS, &st) ? errno : 0;
		record(&c, O_EINVAL, e, "STATS size %u", st.size);
	}
	for (i = 0; i < sizeof(bad_ptrs) / sizeof(bad_ptrs[0]); i++) {
		e = ioctl(fd, DMALAB_IOC_INFO, bad_ptrs[i]) ? errno : 0;
		record(&c, O_EFAULT, e, "INFO at %#llx",
		       (unsigned long long)bad_ptrs[i]);
		e = ioctl(fd, DMALAB_IOC_STATS, bad_ptrs[i]) ? errno : 0;
		record(&c, O_EFAULT, e, "STATS at %#llx",
		       (unsigned long long)bad_ptrs[i]);
		e = ioctl(fd, DMALAB_IOC_QUEUE_RESET, bad_ptrs[i]) ? errno : 0;
		record(&c, O_EFAULT, e, "QUEUE_RESET at %#llx",
		       (unsigned long long)bad_ptrs[i]);
		e = ioctl(fd, DMALAB_IOC_SUBMIT, bad_ptrs[i]) ? errno : 0;
		record(&c, O_EFAULT, e, "SUBMIT at %#llx",
		       (unsigned long long)bad_ptrs[i]);
	}
	/* valid input that cannot be written back */
	{
		struct dmalab_info *ri;
		struct dmalab_stats *rst;

		/* RO holds random bytes: put a valid header there first */
		mprotect(RO, ROS, PROT_READ | PROT_WRITE);
		ri = (struct dmalab_info *)RO;
		memset(ri, 0, sizeof(*ri));
		ri->size = sizeof(*ri);
		rst = (struct dmalab_stats *)(RO + 4096);
		memset(rst, 0, sizeof(*rst));
		rst->size = sizeof(*rst);
		mprotect(RO, ROS, PROT_READ);
		e = ioctl(fd, DMALAB_IOC_INFO, ri) ? errno : 0;
		record(&c, O_EFAULT, e, "%s", "INFO into read-only memory");
		e = ioctl(fd, DMALAB_IOC_STATS, rst) ? errno : 0;
		record(&c, O_EFAULT, e, "%s", "STATS into read-only memory");
	}
	/* queue indices */
	for (i = 0; i < 40; i++) {
		q = i < 8 ? info.num_queues + i :
		    i < 16 ? 0xffffffff - (i - 8) :
		    (uint32_t)rng_next(&rs) | 0x40;
		if (q < info.num_queues)
			continue;
		memset(&qr, 0, sizeof(qr));
		qr.queue = q;
		e = ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr) ? errno : 0;
		record(&c, O_EINVAL, e, "QUEUE_RESET queue %#x", q);
	}
	for (i = 0; i < 32; i++) {
		memset(&qr, 0, sizeof(qr));
		qr.rsvd = 1u << i;
		e = ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr) ? errno : 0;
		record(&c, O_EINVAL, e, "QUEUE_RESET rsvd %#x", qr.rsvd);
	}
	/* every queue can be reset while idle and then works */
	for (q = 0; q < info.num_queues; q++) {
		uint8_t w[100], r2[100];

		memset(&qr, 0, sizeof(qr));
		qr.queue = q;
		e = ioctl(fd, DMALAB_IOC_QUEUE_RESET, &qr) ? errno : 0;
		record(&c, O_OK, e, "QUEUE_RESET of idle queue %u", q);
		fill_rand(&rs, w, sizeof(w));
		e = do_h2d(fd, q, w, 4096 * q, sizeof(w));
		if (!e)
			e = do_d2h(fd, q, r2, 4096 * q, sizeof(r2));
		if (!e && memcmp(w, r2, sizeof(w)))
			e = EIO;
		record(&c, O_OK, e, "round trip on queue %u after its reset",
		       q);
		memcpy(shadow + 4096 * q, w, sizeof(w));
	}
	report(&c);
}

/*
 * Reserved fields of INFO and STATS: the uapi says every reserved field must
 * be zero on input (EINVAL otherwise).
 */
static void test_info_rsvd(void)
{
	struct cat c = { .name = "INFO/STATS: non-zero reserved fields on input are EINVAL (uapi)" };
	struct dmalab_info inf;
	struct dmalab_stats st;
	int i, e;

	for (i = 0; i < (int)(sizeof(inf.rsvd) / sizeof(inf.rsvd[0])); i++) {
		memset(&inf, 0, sizeof(inf));
		inf.size = sizeof(inf);
		inf.rsvd[i] = 1;
		e = ioctl(fd, DMALAB_IOC_INFO, &inf) ? errno : 0;
		record(&c, O_EINVAL, e, "INFO rsvd[%d] = 1", i);
	}
	for (i = 0; i < (int)(sizeof(st.rsvd) / sizeof(st.rsvd[0])); i++) {
		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		st.rsvd[i] = 1;
		e = ioctl(fd, DMALAB_IOC_STATS, &st) ? errno : 0;
		record(&c, O_EINVAL, e, "STATS rsvd[%d] = 1", i);
	}
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	st.rsvd0 = 1;
	e = ioctl(fd, DMALAB_IOC_STATS, &st) ? errno : 0;
	record(&c, O_EINVAL, e, "%s", "STATS rsvd0 = 1");
	/* and the outputs come back zeroed */
	memset(&inf, 0, sizeof(inf));
	inf.size = sizeof(inf);
	e = ioctl(fd, DMALAB_IOC_INFO, &inf) ? errno : 0;
	record(&c, O_OK, e, "%s", "INFO");
	for (i = 0; i < (int)(sizeof(inf.rsvd) / sizeof(inf.rsvd[0])); i++)
		if (inf.rsvd[i])
			e = -1;
	if (!e && (inf.api_version != DMALAB_UAPI_VERSION ||
		   inf.max_batch < 1 || inf.max_batch > DMALAB_MAX_BATCH))
		fail(&c, "INFO output: bad api_version %u / max_batch %u",
		     inf.api_version, inf.max_batch);
	if (e < 0)
		fail(&c, "INFO output: reserved fields not zeroed");
	report(&c);
}

/* The commands the uapi header defines (it grows: newer ones if present). */
static int known_cmd(unsigned long cmd)
{
	static const unsigned long cmds[] = {
		DMALAB_IOC_INFO, DMALAB_IOC_SUBMIT, DMALAB_IOC_SUBMIT_BATCH,
		DMALAB_IOC_STATS, DMALAB_IOC_QUEUE_RESET,
#ifdef DMALAB_IOC_SUBMIT_ASYNC
		DMALAB_IOC_SUBMIT_ASYNC,
#endif
#ifdef DMALAB_IOC_WAIT
		DMALAB_IOC_WAIT,
#endif
#ifdef DMALAB_IOC_REGISTER
		DMALAB_IOC_REGISTER, DMALAB_IOC_UNREGISTER,
#endif
#ifdef DMALAB_IOC_DMA_ADDRS
		DMALAB_IOC_DMA_ADDRS,
#endif
#ifdef DMALAB_IOC_TEST_STALE
		DMALAB_IOC_TEST_STALE,
#endif
#ifdef DMALAB_IOC_TEST_STREAM
		DMALAB_IOC_TEST_STREAM,
#endif
	};
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmd == cmds[i] ||
		    (_IOC_TYPE(cmd) == DMALAB_IOC_MAGIC &&
		     _IOC_NR(cmd) == _IOC_NR(cmds[i]) &&
		     _IOC_NR(cmds[i]) > 4))
			return 1;	/* newer numbers: only the basics here */
	return 0;
}

static void test_unknown_ioctls(void)
{
	struct cat c = { .name = "unknown ioctl numbers, wrong sizes and directions: ENOTTY" };
	/* magics the VFS does not handle itself */
	static const uint64_t magics[] = { DMALAB_IOC_MAGIC, DMALAB_IOC_MAGIC,
					   DMALAB_IOC_MAGIC, 0xdb, 0xd9, 0xab,
					   0x01, 0xee };
	static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE,
					     _IOC_READ | _IOC_WRITE };
	uint64_t big[64];
	unsigned long cmd;
	unsigned int nr, i;
	int e;

	/* every number of our magic, every direction, the real sizes */
	for (nr = 0; nr < 256; nr++) {
		for (i = 0; i < 4; i++) {
			static const unsigned int sz[] = { 0, 8, 40, 80, 88,
							   136, 1 };

			cmd = _IOC(dirs[i], DMALAB_IOC_MAGIC, nr,
				   sz[rng_below(&rs, 7)]);
			if (known_cmd(cmd))
				continue;
			memset(big, 0, sizeof(big));
			e = ioctl(fd, cmd, big) ? errno : 0;
			record(&c, O_ENOTTY, e, "cmd %#lx", cmd);
		}
	}
	/* the first five numbers with every other size and direction */
	for (nr = 0; nr < 5; nr++) {
		for (i = 0; i < 60; i++) {
			unsigned int s = i < 16 ? i * 8 : rng_below(&rs, 1 << 14);

			cmd = _IOC(dirs[rng_below(&rs, 4)], DMALAB_IOC_MAGIC,
				   nr, s);
			if (known_cmd(cmd))
				continue;
			memset(big, 0, sizeof(big));
			big[0] = 88;	/* a plausible size field */
			e = ioctl(fd, cmd, big) ? errno : 0;
			record(&c, O_ENOTTY, e, "cmd %#lx (nr %u, size %u)",
			       cmd, nr, s);
		}
	}
	/* random commands of other magics */
	for (i = 0; i < 600; i++) {
		cmd = _IOC(dirs[rng_below(&rs, 4)], PICK(magics),
			   rng_below(&rs, 256), rng_below(&rs, 1 << 14));
		if (known_cmd(cmd))
			continue;
		e = ioctl(fd, cmd, big) ? errno : 0;
		record(&c, O_ENOTTY, e, "cmd %#lx", cmd);
	}
	report(&c);
}

/* ---- read, write, lseek -------------------------------------------------- */

static void test_rw(void)
{
	struct cat c = { .name = "pread/pwrite/lseek: offsets, lengths and buffers" };
	uint64_t sz = info.devmem_size;
	int64_t offs[] = { -1, -4096, INT64_MIN, 0, 1, (int64_t)sz - 1,
			   (int64_t)sz, (int64_t)sz + 1, 1LL << 40, 1LL << 62,
			   INT64_MAX, (int64_t)sz - 100 };
	uint64_t lens[] = { 0, 1, 100, 4097, sz, sz + 1, 1ULL << 40,
			    SSIZE_MAX };
	int i, w, e;

	for (i = 0; i < 400; i++) {
		int64_t off = chance(300) ?
			      offs[rng_below(&rs, sizeof(offs) / sizeof(offs[0]))] :
			      (int64_t)rng_below(&rs, sz);
		uint64_t len = chance(300) ? PICK(lens) :
			       1 + rng_below(&rs, 8192);
		int bufc = rng_below(&rs, 6);
		uint64_t n, mapped;
		unsigned int want;
		uint8_t *buf;
		ssize_t r;

		w = chance(500);
		n = off >= 0 && (uint64_t)off < sz ? sz - off : 0;
		if (len < n)
			n = len;
		switch (bufc) {
		case 0:
			buf = NULL;
			mapped = 0;
			break;
		case 1:		/* readable only */
			buf = RO;
			mapped = w ? ROS : 0;
			break;
		case 2:
			buf = NONE;
			mapped = 0;
			break;
		case 3:		/* only 64 bytes before PROT_NONE */
			buf = S + SS - 64;
			mapped = 64;
			break;
		default:
			buf = S;
			mapped = SS;
			break;
		}
		if (off < 0)
			want = O_EINVAL;
		else if (len && (uint64_t)off + len > (uint64_t)INT64_MAX)
			want = O_EINVAL;	/* pos + count overflows */
		else if (!len)
			want = O_OK;
		else if ((uint64_t)off >= sz)
			want = w ? O_ENOSPC : O_OK;
		else
			want = n <= mapped ? O_OK : O_EFAULT;
		/* the VFS checks huge counts itself (access_ok, pos + count) */
		if (len >= (1ULL << 40))
			want |= O_EFAULT | O_EINVAL;
		if (w)
			r = pwrite(fd, buf, len, off);
		else
			r = pread(fd, buf, len, off);
		e = r < 0 ? errno : 0;
		record(&c, want, e, "%s off %lld len %llu buffer class %d",
		       w ? "pwrite" : "pread", (long long)off,
		       (unsigned long long)len, bufc);
		if (e || !(want & O_OK))
			continue;
		if ((uint64_t)r != n) {
			fail(&c, "%s off %lld len %llu returned %zd, want %llu",
			     w ? "pwrite" : "pread", (long long)off,
			     (unsigned long long)len, r, (unsigned long long)n);
			continue;
		}
		if (r > 0 && w)
			memcpy(shadow + off, buf, r);
		else if (r > 0 && memcmp(buf, shadow + off, r)) {
			ssize_t k = 0;

			while (buf[k] == shadow[off + k])
				k++;
			fail(&c, "pread off %lld len %zd: data differs from byte %zd on: got %#x want %#x",
			     (long long)off, r, k, buf[k], shadow[off + k]);
			/* a second read tells the model's error from the read's */
			r = pread(fd, tmp, n, off);
			diag("read again: %zd bytes, %s the shadow", r,
			     r == (ssize_t)n && !memcmp(tmp, shadow + off, n) ?
			     "equal to" : "different from");
		}
	}
	/* lseek works like on a regular file of devmem_size bytes */
	{
		struct { int64_t off; int whence; } bad[] = {
			{ -1, SEEK_SET }, { (int64_t)sz + 1, SEEK_SET },
			{ INT64_MIN, SEEK_SET }, { INT64_MAX, SEEK_SET },
			{ -1, SEEK_CUR }, { (int64_t)sz + 1, SEEK_CUR },
			{ 1, SEEK_END }, { -(int64_t)sz - 1, SEEK_END },
			{ INT64_MAX, SEEK_END }, { 0, 17 }, { 0, -1 },
		};
		unsigned int k;
		off_t r;

		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			lseek(fd, 0, SEEK_SET);
			r = lseek(fd, bad[k].off, bad[k].whence);
			e = r < 0 ? errno : 0;
			record(&c, O_EINVAL, e, "lseek %lld whence %d",
			       (long long)bad[k].off, bad[k].whence);
		}
		r = lseek(fd, 0, SEEK_END);
		record(&c, O_OK, r == (off_t)sz ? 0 : EIO, "%s",
		       "lseek SEEK_END is the device memory size");
		r = lseek(fd, -10, SEEK_END);
		record(&c, O_OK, r == (off_t)sz - 10 ? 0 : EIO, "%s",
		       "lseek -10 from SEEK_END");
		lseek(fd, 0, SEEK_SET);
	}
	report(&c);
}

/* ---- mmap ---------------------------------------------------------------- */

static sigjmp_buf jb;

static void on_sigbus(int sig)
{
	siglongjmp(jb, sig);
}

/* Touch a mapping: 0 if it can be read (and written), else the signal. */
static int touch(volatile uint8_t *p, size_t len, int write)
{
	struct sigaction sa, o1, o2;
	int sig;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, &o1);
	sigaction(SIGSEGV, &sa, &o2);
	sig = sigsetjmp(jb, 1);
	if (!sig) {
		for (i = 0; i < len; i += PAGE) {
			uint8_t v = p[i];

			if (write)
				p[i] = v;
		}
	}
	sigaction(SIGBUS, &o1, NULL);
	sigaction(SIGSEGV, &o2, NULL);
	return sig;
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/*
 * The size of the user address space in bits: the highest 1 << bits whose
 * last page but one can be mapped (or is mapped already).  The kernel fails
 * an mmap longer than that with ENOMEM before the driver sees it.  It is 47
 * on x86_64 (where the last page is left out too) and 48 on a usual arm64
 * kernel: it depends on the architecture and on the kernel's configuration.
 */
static int user_va_bits(void)
{
	int bits;

	for (bits = 56; bits > 32; bits--) {
		uint64_t a = (1ULL << bits) - 2 * PAGE;
		void *p = mmap((void *)(uintptr_t)a, PAGE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);

		if (p != MAP_FAILED) {
			munmap(p, PAGE);
			if ((uintptr_t)p == a)
				return bits;
		} else if (errno == EEXIST) {
			return bits;
		}
	}
	return 47;
}

static void test_mmap(void)
{
	struct cat c = { .name = "mmap: offsets, lengths, flags" };
	uint64_t sz = info.devmem_size, C = DMALAB_MMAP_COHERENT;
	uint64_t offs[] = { 0, PAGE, sz - PAGE, sz, sz + PAGE, 1ULL << 39,
			    C - PAGE, C, C + PAGE, C + (1ULL << 39), C << 1,
			    1ULL << 62, (1ULL << 63) - PAGE, 1ULL << 63,
			    0 - PAGE, 1, C + 1, 100 };
	uint64_t lens[] = { PAGE, 2 * PAGE, sz, sz + PAGE, sz * 2, CSZ,
			    4ULL << 20, (4ULL << 20) + PAGE, 8ULL << 20, 0,
			    1ULL << 40, 1ULL << 47, 1ULL << 62, 0 - PAGE, 1 };
	static const int flagv[] = { MAP_SHARED, MAP_SHARED, MAP_PRIVATE,
				     MAP_SHARED_VALIDATE };
	uint64_t va_limit = (1ULL << user_va_bits()) - PAGE;
	unsigned int want;
	int i, e, f, fl, sig;
	void *p;

	diag("user address space: %#llx bytes", (unsigned long long)va_limit);
	for (i = 0; i < 600; i++) {
		uint64_t off = PICK(offs), len = PICK(lens);
		int fresh = chance(300);	/* a file without a buffer */
		uint64_t cb_size, la;

		fl = flagv[rng_below(&rs, 4)];
		if (chance(200)) {	/* random offsets in regions */
			off = (chance(500) ? C : 0) +
			      rng_below(&rs, 2 * sz) / PAGE * PAGE;
		}
		f = fresh ? open(devpath, O_RDWR) : fd_c;
		if (f < 0) {
			fail(&c, "open: %s", strerror(errno));
			break;
		}
		cb_size = fresh ? 0 : CSZ;
		/* the kernel's checks (do_mmap), then the driver's */
		la = (len + PAGE - 1) & ~(PAGE - 1);
		if (!len || off % PAGE)
			want = O_EINVAL;
		else if (!la)
			want = O_ENOMEM;
		else if ((off >> 12) + (la >> 12) < (off >> 12))
			want = O_EOVERFLOW;
		else if (la > va_limit)
			want = O_ENOMEM;
		else if ((off >> 12) > (~0ULL - la) >> 12)
			want = O_EOVERFLOW;	/* file_mmap_ok() */
		else if (fl == MAP_PRIVATE)
			want = O_EINVAL;
		else if (off < C)
			want = off + la <= sz ? O_OK : O_EINVAL;
#ifdef DMALAB_MMAP_PAGEBUF
		else if (off >= DMALAB_MMAP_PAGEBUF &&
			 off - DMALAB_MMAP_PAGEBUF < (1ULL << 40))
			want = off - DMALAB_MMAP_PAGEBUF + la <=
			       info.pagebuf_size ? O_OK : O_EINVAL;
#endif
		else if (off == C)
			want = cb_size ? (la <= cb_size ? O_OK : O_EINVAL) :
				(la <= info.coherent_max ?
				 O_OK | O_ENOMEM : O_EINVAL);
		else
			want = O_EINVAL;
		/* a writable private mapping is accounted before the driver
		 * sees it: more than the memory there is fails with ENOMEM */
		if (fl == MAP_PRIVATE && la >= (1ULL << 30) &&
		    want == O_EINVAL)
			want |= O_ENOMEM;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, fl, f,
			 (off_t)off);
		e = p == MAP_FAILED ? errno : 0;
		record(&c, want, e, "off %#llx len %#llx %s%s",
		       (unsigned long long)off, (unsigned long long)len,
		       fl == MAP_PRIVATE ? "MAP_PRIVATE" : "MAP_SHARED",
		       fresh ? " (new file)" : "");
		if (!e) {
			sig = touch(p, len, 1);
			if (sig)
				fail(&c, "mapping off %#llx len %#llx: signal %d on access",
				     (unsigned long long)off,
				     (unsigned long long)len, sig);
			else if (off < C && memcmp(p, shadow + off, 64))
				fail(&c, "device memory mapping at %#llx differs from the shadow",
				     (unsigned long long)off);
			munmap(p, len);
		}
		if (f != fd_c)
			close(f);
	}
	/* growing a mapping beyond its region */
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd_c, (off_t)C);
	if (p != MAP_FAILED) {
		void *q = mremap(p, PAGE, CSZ + PAGE, MREMAP_MAYMOVE);

		e = q == MAP_FAILED ? errno : 0;
		record(&c, O_EFAULT | O_EINVAL, e, "%s",
		       "mremap of a coherent mapping beyond the buffer");
		munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? PAGE :
						CSZ + PAGE);
	}
	p = mmap(NULL, sz, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		void *q = mremap(p, sz, sz + PAGE, MREMAP_MAYMOVE);

		e = q == MAP_FAILED ? errno : 0;
		record(&c, O_EFAULT | O_EINVAL, e, "%s",
		       "mremap of device memory beyond its end");
		munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? sz :
						sz + PAGE);
	}
	/* split a coherent mapping; the pieces keep working */
	p = mmap(NULL, CSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd_c,
		 (off_t)C);
	e = p == MAP_FAILED ? errno : 0;
	record(&c, O_OK, e, "%s", "coherent mapping to split");
	if (!e) {
		uint8_t *b = p;

		munmap(b + 4 * PAGE, 2 * PAGE);
		e = touch(b, 4 * PAGE, 1) || touch(b + 6 * PAGE,
						   CSZ - 6 * PAGE, 1);
		e = e || b[0] != cbuf[0] || b[CSZ - 1] != cbuf[CSZ - 1];
		record(&c, O_OK, e ? EIO : 0, "%s",
		       "both halves of a split coherent mapping alias the buffer");
		munmap(b, 4 * PAGE);
		munmap(b + 6 * PAGE, CSZ - 6 * PAGE);
	}
	report(&c);
}

/* ---- main ---------------------------------------------------------------- */

static int setup_memory(void)
{
	SS = (info.devmem_size > (1u << 20) ? info.devmem_size : 1u << 20) +
	     (64 << 10);
	R = mmap(NULL, RSIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (R == MAP_FAILED)
		return -1;
	S = R;
	NONE = R + (40ULL << 20);
	RO = R + (80ULL << 20);
	/* ranges from S or RO of up to 64 MiB stay inside R */
	if (SS > (32ULL << 20) ||
	    mprotect(S, SS, PROT_READ | PROT_WRITE) ||
	    mprotect(RO, ROS, PROT_READ | PROT_WRITE))
		return -1;
	fill_rand(&rs, S, SS);
	fill_rand(&rs, RO, ROS);
	mprotect(RO, ROS, PROT_READ);
	shadow = malloc(info.devmem_size);
	tmp = malloc(info.devmem_size + SS);
	return shadow && tmp ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *dev = argc > 2 ? argv[2] : "/dev/dmalab0";
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : DEFAULT_SEED;
	long long pins0, pins1, acq, rel;
	double t0 = now_s();
	uint8_t w[4321], r[4321];
	int e, i;

	rs = seed;
	devpath = dev;
	tap_plan(NTESTS);
	diag("dmalab_fuzz seed %" PRIu64 " device %s (rerun: dmalab_fuzz %" PRIu64 ")",
	     seed, dev, seed);
	fd = open(dev, O_RDWR);
	fd_c = open(dev, O_RDWR);
	if (fd < 0 || fd_c < 0 || dev_info(fd, &info)) {
		printf("Bail out! cannot use %s\n", dev);
		return 1;
	}
	cbuf = mmap(NULL, CSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd_c,
		    (off_t)DMALAB_MMAP_COHERENT);
	if (cbuf == MAP_FAILED || setup_memory()) {
		printf("Bail out! setup: %s\n", strerror(errno));
		return 1;
	}
	fill_rand(&rs, cbuf, CSZ);
	pins0 = pins_outstanding(NULL, NULL);
	{
		struct dmalab_stats st = { .size = sizeof(st) };

		if (!ioctl(fd, DMALAB_IOC_STATS, &st))
			timeouts0 = st.timeouts;
	}
	if (!access("/sys/kernel/debug/dma-api", F_OK))
		share = DEBUG_SHARE;
	diag("%d random ops and %d random batches%s", N_SUBMIT / share,
	     N_BATCH / share, share > 1 ? " (a share: DMA-API debug is on)" : "");
	diag("devmem %" PRIu64 " bytes, max_xfer %u, %u queues, max_batch %u",
	     (uint64_t)info.devmem_size, info.max_xfer, info.num_queues,
	     info.max_batch);

	/* 1: start from a known device memory */
	fill_rand(&rs, tmp, info.devmem_size);
	for (e = 0, i = 0; !e && (uint64_t)i < info.devmem_size; i += 65536)
		e = pwrite(fd, tmp + i, 65536, i) == 65536 ? 0 : errno ? errno : EIO;
	memcpy(shadow, tmp, info.devmem_size);
	tap(!e && devmem_matches(0, info.devmem_size),
	    "device memory filled with random data and shadowed");

	test_submit();		/* 2, 3 */
	test_batch();		/* 4 */
	test_batch_header();	/* 5 */
	test_small_ioctls();	/* 6 */
	test_info_rsvd();	/* 7 */
	test_unknown_ioctls();	/* 8 */
	test_rw();		/* 9 */
	test_mmap();		/* 10 */

	/* 11: device memory still holds exactly what succeeded */
	tap(devmem_matches(0, info.devmem_size),
	    "device memory matches the shadow after the fuzzing");
	/* 12: a clean round trip */
	fill_rand(&rs, w, sizeof(w));
	memset(r, 0, sizeof(r));
	e = do_h2d(fd, DMALAB_QUEUE_ANY, w, 1234, sizeof(w));
	if (!e)
		e = do_d2h(fd, DMALAB_QUEUE_ANY, r, 1234, sizeof(r));
	tap(!e && !memcmp(w, r, sizeof(w)),
	    "a valid H2D + D2H round trip still works (%s)",
	    e ? strerror(e) : "data equal");
	/* 13: and through pwrite/pread on a new file */
	{
		int f = open(dev, O_RDWR);

		memset(r, 0, sizeof(r));
		e = f < 0 || pwrite(f, w, sizeof(w), 99) != sizeof(w) ||
		    pread(f, r, sizeof(r), 99) != sizeof(r) ||
		    memcmp(w, r, sizeof(w));
		if (f >= 0)
			close(f);
		tap(!e, "pwrite/pread on a new file still work");
	}
	/* 14: stats are sane */
	{
		struct dmalab_stats st;

		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		e = ioctl(fd, DMALAB_IOC_STATS, &st) ? errno : 0;
		tap(!e && st.completed <= st.submitted &&
		    st.timeouts == timeouts0,
		    "STATS: submitted %llu, completed %llu, cpl_errors %llu, no new timeouts (%llu)",
		    (unsigned long long)st.submitted,
		    (unsigned long long)st.completed,
		    (unsigned long long)st.cpl_errors,
		    (unsigned long long)st.timeouts);
	}
	munmap(cbuf, CSZ);
	close(fd_c);
	close(fd);
	munmap(R, RSIZE);
	/* 15, 16: pins */
	pins1 = pins_settle(pins0);
	tap(pins1 <= pins0,
	    "no pinned page left behind by the fuzzed calls (outstanding %lld before, %lld after)",
	    pins0, pins1);
	pins_outstanding(&acq, &rel);
	if (pins0)
		tap_skip("/proc/vmstat: %lld pins were outstanding before dmalab_fuzz started (acquired %lld, released %lld now): an earlier program leaked them",
			 pins0, acq, rel);
	else
		tap(acq == rel,
		    "/proc/vmstat: nr_foll_pin_acquired %lld == nr_foll_pin_released %lld",
		    acq, rel);
	diag("dmalab_fuzz took %.1f s", now_s() - t0);
	free(shadow);
	free(tmp);
	return tap_done();
}
