// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring discard engine. See discard_queue.h for the contract and
 * docs/virtio-balloon.md for why each backend gets the method it gets.
 */
#define _GNU_SOURCE
#include "devices/discard_queue.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_REMOVE
#define MADV_REMOVE 9
#endif
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif

struct discard_op {
	struct discard_report *report;
	struct discard_op *next; /* deferred queue link */
	uint8_t *hva;		 /* madvise methods */
	int fd;			 /* punch-hole */
	uint64_t offset;	 /* punch-hole: offset in fd */
	uint64_t len;
	uint64_t start_ns;
	int res;   /* page worker: its result, read by the owner */
	bool noop; /* page worker: test hook inject_noop_ops */
};

struct discard_report {
	struct discard_report *next; /* finished list link */
	discard_done_fn done;
	void *cookie;
	uint64_t submit_ns;
	unsigned int ops_pending;
	struct discard_batch *batches; /* its page worker batches, if any */
	struct discard_result result;
	unsigned int nr_ops;
	struct discard_op ops[];
};

static const char *const method_names[] = {
	[DISCARD_METHOD_AUTO] = "auto",	    [DISCARD_METHOD_MADVISE] = "madvise",
	[DISCARD_METHOD_REMOVE] = "remove", [DISCARD_METHOD_PUNCH_HOLE] = "punch-hole",
	[DISCARD_METHOD_SYNC] = "sync",
};

const char *discard_method__name(enum discard_method method)
{
	if ((unsigned int)method >= sizeof(method_names) / sizeof(method_names[0]))
		return "unknown";
	return method_names[method];
}

int discard_method__parse(const char *s, enum discard_method *out)
{
	for (unsigned int i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (strcmp(s, method_names[i]) == 0) {
			*out = (enum discard_method)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *discard_queue__method_name(const struct discard_queue *dq)
{
	return discard_method__name(dq->method);
}

uint64_t discard_histogram__bucket_le_us(unsigned int i)
{
	if (i >= DISCARD_HIST_BUCKETS - 1)
		return UINT64_MAX;
	return 1ULL << i;
}

static void histogram_add(struct discard_histogram *h, uint64_t ns)
{
	uint64_t us = (ns + 999) / 1000;
	unsigned int i = 0;

	/* Smallest i with us <= 2^i, i.e. ceil(log2(us)). */
	if (us > 1)
		i = 64 - (unsigned int)__builtin_clzll(us - 1);
	if (i > DISCARD_HIST_BUCKETS - 1)
		i = DISCARD_HIST_BUCKETS - 1;
	h->buckets[i]++;
	h->count++;
	h->sum_ns += ns;
}

/* Poke our own eventfd: there is something for process_completions(). */
static void signal_owner(struct discard_queue *dq)
{
	uint64_t one = 1;

	if (write(dq->eventfd, &one, sizeof(one)) < 0) {
		/* Only fails if the counter would overflow: it is readable then anyway. */
	}
}

static void worker_start(struct discard_queue *dq); /* the page worker, below */

/* ---- the three methods as plain system calls ---- */

static int op_run_sync(enum discard_method method, const struct discard_op *op)
{
	int ret;

	switch (method) {
	case DISCARD_METHOD_MADVISE:
		ret = madvise(op->hva, op->len, MADV_DONTNEED);
		break;
	case DISCARD_METHOD_REMOVE:
		ret = madvise(op->hva, op->len, MADV_REMOVE);
		break;
	case DISCARD_METHOD_PUNCH_HOLE:
		ret = fallocate(op->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)op->offset, (off_t)op->len);
		break;
	default:
		return -EINVAL;
	}
	return ret < 0 ? -errno : 0;
}

static void op_prep_sqe(enum discard_method method, struct io_uring_sqe *sqe, struct discard_op *op)
{
	switch (method) {
	case DISCARD_METHOD_MADVISE:
		io_uring_prep_madvise(sqe, op->hva, (off_t)op->len, MADV_DONTNEED);
		break;
	case DISCARD_METHOD_REMOVE:
		io_uring_prep_madvise(sqe, op->hva, (off_t)op->len, MADV_REMOVE);
		break;
	default:
		io_uring_prep_fallocate(sqe, op->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)op->offset, (off_t)op->len);
		break;
	}
	io_uring_sqe_set_data(sqe, op);
}

/* ---- start-up: choose a method and prove it frees memory ---- */

/* A scratch object like the guest's backing, to try a method on. */
struct probe_obj {
	uint8_t *hva;
	uint64_t len;
	int fd;
};

static void probe_obj_destroy(struct probe_obj *p)
{
	if (p->hva)
		munmap(p->hva, p->len);
	if (p->fd >= 0)
		close(p->fd);
}

static int probe_obj_create(struct probe_obj *p, enum guest_mem_backend backend, uint64_t granule)
{
	unsigned int mfd_flags = MFD_CLOEXEC;
	void *hva;

	p->hva = NULL;
	p->fd = -1;
	p->len = granule;
	if (backend == GUEST_MEM_ANON || backend == GUEST_MEM_THP) {
		hva = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		if (hva == MAP_FAILED)
			return -errno;
		p->hva = hva;
		memset(p->hva, 0x5a, p->len);
		return 0;
	}
	if (backend == GUEST_MEM_HUGETLBFS) {
		/* The same huge page size as guest RAM, not the system default. */
		mfd_flags |= MFD_HUGETLB;
		if (granule == (2ULL << 20))
			mfd_flags |= MFD_HUGE_2MB;
		else if (granule == (1ULL << 30))
			mfd_flags |= MFD_HUGE_1GB;
	}
	p->fd = memfd_create("mini-vmm-discard-probe", mfd_flags);
	if (p->fd < 0)
		return -errno;
	/*
	 * Allocate with fallocate() rather than by touching: with no free huge
	 * page, touching a hugetlbfs mapping is SIGBUS, fallocate is -ENOSPC.
	 */
	if (ftruncate(p->fd, (off_t)p->len) < 0 || fallocate(p->fd, 0, 0, (off_t)p->len) < 0)
		goto err;
	hva = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (hva == MAP_FAILED)
		goto err;
	p->hva = hva;
	memset(p->hva, 0x5a, p->len);
	return 0;
err:;
	int err = -errno;

	probe_obj_destroy(p);
	return err;
}

/* Whether the probe object still holds memory: the file's blocks, or mincore. */
static bool probe_obj_resident(const struct probe_obj *p)
{
	unsigned char vec[1];
	struct stat st;

	if (p->fd >= 0)
		return fstat(p->fd, &st) == 0 && st.st_blocks > 0;
	return mincore(p->hva, 4096, vec) == 0 && (vec[0] & 1);
}

/* Run one op through the ring (or synchronously) and wait for it. */
static int run_one_blocking(struct discard_queue *dq, enum discard_method method,
			    struct discard_op *op)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	if (dq->sync)
		return op_run_sync(method, op);
	sqe = io_uring_get_sqe(&dq->ring);
	if (!sqe)
		return -EBUSY;
	op_prep_sqe(method, sqe, op);
	ret = io_uring_submit_and_wait(&dq->ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&dq->ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&dq->ring, cqe);
	return ret;
}

/*
 * Touch a probe page, discard it the way guest RAM would be, and check the
 * memory is really gone. 1 = verified, 0 = does not free memory (why in
 * *why), -errno = could not run the check at all.
 */
static int verify_method(struct discard_queue *dq, enum discard_method method, char *why,
			 size_t why_len)
{
	struct probe_obj p;
	struct discard_op op = {0};
	int ret;

	ret = probe_obj_create(&p, dq->mem->backend, dq->granule);
	if (ret < 0)
		return ret;
	if (!probe_obj_resident(&p)) {
		probe_obj_destroy(&p);
		return -EAGAIN; /* cannot tell gone from never there */
	}
	op.hva = p.hva;
	op.fd = p.fd;
	op.offset = 0;
	op.len = p.len;
	ret = run_one_blocking(dq, method, &op);
	if (ret < 0) {
		snprintf(why, why_len, "%s failed on a probe page: %s",
			 discard_method__name(method), strerror(-ret));
		ret = 0;
	} else if (probe_obj_resident(&p)) {
		snprintf(why, why_len, "%s succeeded but freed nothing on %s memory",
			 discard_method__name(method), guest_mem__backend_name(dq->mem->backend));
		ret = 0;
	} else {
		ret = 1;
	}
	probe_obj_destroy(&p);
	return ret;
}

static bool backend_has_fd(const struct guest_mem *mem)
{
	if (mem->nr_regions == 0)
		return false;
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		if (mem->regions[i].fd < 0)
			return false;
	return true;
}

/*
 * Whether `method` can work here before trying it: 0, or 0 < with *why set.
 * Checks the backend kind and, with io_uring, the kernel's opcode table.
 */
static int method_applicable(struct discard_queue *dq, struct io_uring_probe *probe,
			     enum discard_method method, char *why, size_t why_len)
{
	bool file_backed =
		dq->mem->backend == GUEST_MEM_MEMFD || dq->mem->backend == GUEST_MEM_HUGETLBFS;
	int opcode = method == DISCARD_METHOD_PUNCH_HOLE ? IORING_OP_FALLOCATE : IORING_OP_MADVISE;

	if (method == DISCARD_METHOD_PUNCH_HOLE && !backend_has_fd(dq->mem)) {
		snprintf(why, why_len, "punch-hole needs a file-backed backend (memfd, hugetlbfs)");
		return -EINVAL;
	}
	if (method == DISCARD_METHOD_REMOVE && !file_backed) {
		snprintf(why, why_len, "MADV_REMOVE works only on shared (memfd) mappings");
		return -EINVAL;
	}
	if (!dq->sync && probe && !io_uring_opcode_supported(probe, opcode)) {
		snprintf(why, why_len, "this kernel's io_uring lacks %s (use discard=sync)",
			 opcode == IORING_OP_FALLOCATE ? "IORING_OP_FALLOCATE"
						       : "IORING_OP_MADVISE");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Try the candidate methods for the backend in order; the first that is
 * applicable and frees a probe page wins. dq->reason records why.
 */
static int choose_method(struct discard_queue *dq, enum discard_method requested,
			 unsigned int flags)
{
	bool by_default = requested == DISCARD_METHOD_AUTO || requested == DISCARD_METHOD_SYNC;
	enum discard_method candidates[2];
	unsigned int nr = 0;
	struct io_uring_probe *probe = NULL;
	char why[160] = "";
	int ret = -EOPNOTSUPP;

	if (!by_default) {
		candidates[nr++] = requested;
	} else if (dq->mem->backend == GUEST_MEM_MEMFD || dq->mem->backend == GUEST_MEM_HUGETLBFS) {
		/* MADV_DONTNEED only unmaps shared memory: the page cache keeps it. */
		candidates[nr++] = DISCARD_METHOD_PUNCH_HOLE;
		candidates[nr++] = DISCARD_METHOD_REMOVE;
	} else {
		candidates[nr++] = DISCARD_METHOD_MADVISE;
	}
	if (!dq->sync) {
		probe = io_uring_get_probe_ring(&dq->ring);
		if (!probe)
			log_warn("discard: io_uring opcode probe unavailable; relying on the "
				 "probe page");
	}

	for (unsigned int i = 0; i < nr; i++) {
		const char *origin = !by_default ? "requested"
				     : i == 0	 ? "default for the backend"
						 : "fallback";
		enum discard_method m = candidates[i];
		int v = 1;

		ret = method_applicable(dq, probe, m, why, sizeof(why));
		if (ret < 0)
			continue;
		if (!(flags & DISCARD_QUEUE_F_NO_VERIFY))
			v = verify_method(dq, m, why, sizeof(why));
		if (v == 0) {
			if (i + 1 < nr)
				log_warn("discard: %s; trying the next method", why);
			ret = -EOPNOTSUPP;
			continue;
		}
		dq->method = m;
		if (flags & DISCARD_QUEUE_F_NO_VERIFY)
			snprintf(dq->reason, sizeof(dq->reason), "%s; not verified, by request",
				 origin);
		else if (v > 0)
			snprintf(dq->reason, sizeof(dq->reason),
				 "%s; verified: a probe page was freed", origin);
		else
			snprintf(dq->reason, sizeof(dq->reason),
				 "%s; NOT verified: no probe page could be allocated (%s)", origin,
				 strerror(-v));
		ret = 0;
		break;
	}
	if (ret < 0)
		log_error("discard=%s on %s guest RAM: %s", discard_method__name(requested),
			  guest_mem__backend_name(dq->mem->backend), why);
	if (probe)
		io_uring_free_probe(probe);
	return ret;
}

/*
 * The ring may only ever carry discards. io_uring requests are not checked
 * by seccomp (vmm/seccomp.c): unrestricted, the ring would let a compromised
 * mini-vmm open files or sockets its filters forbid. Registered while the
 * ring is still disabled, then the ring is enabled.
 */
static int restrict_ring(struct discard_queue *dq)
{
	struct io_uring_restriction res[] = {
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_MADVISE},
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE},
		{.opcode = IORING_RESTRICTION_SQE_OP,
		 .sqe_op = IORING_OP_NOP}, /* inject_noop_ops */
		/* Chains (ring_fill); IOSQE_ASYNC: straight to io-wq. */
		{.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
		 .sqe_flags = IOSQE_IO_LINK | IOSQE_ASYNC},
		{.opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_PROBE},
		{.opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_EVENTFD},
		{.opcode = IORING_RESTRICTION_REGISTER_OP,
		 .register_op = IORING_UNREGISTER_EVENTFD},
	};
	/*
	 * io_uring_register() rather than io_uring_register_restrictions() and
	 * io_uring_enable_rings(): Debian's liburing 2.3 declares those two but
	 * does not export them.
	 */
	int ret = io_uring_register(dq->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res,
				    sizeof(res) / sizeof(res[0]));

	if (ret == 0)
		ret = io_uring_register(dq->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		log_error("discard queue: cannot restrict the io_uring to discards (%s): use "
			  "discard=sync",
			  strerror(-ret));
	return ret;
}

/*
 * Cap the ring's io-wq workers at half the host's CPUs (1 to 4). io_uring
 * otherwise starts up to 4 per CPU for discards, which then compete with the
 * vCPUs and the device loop for the CPUs and with each other for the guest
 * mm's locks: on a 2-CPU host 8 workers gave no more throughput than 1 and
 * cost the device loop its CPU. Set while the ring is still disabled (the
 * restrictions do not allow it later); applies to every thread that submits.
 */
static unsigned int limit_workers(struct discard_queue *dq)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = cpus > 1 ? (unsigned int)(cpus / 2) : 1;
	unsigned int limits[2];
	int ret;

	if (n > 4)
		n = 4;
	limits[0] = limits[1] = n; /* bounded, unbounded */
	ret = io_uring_register_iowq_max_workers(&dq->ring, limits);
	if (ret < 0) {
		log_warn("discard: cannot cap io_uring workers at %u (%s); the kernel's default "
			 "applies",
			 n, strerror(-ret));
		return 0;
	}
	return n;
}

int discard_queue__init(struct discard_queue *dq, const struct guest_mem *mem,
			enum discard_method method, unsigned int flags)
{
	unsigned int workers = 0;
	int ret;

	memset(dq, 0, sizeof(*dq));
	dq->mem = mem;
	dq->eventfd = -1;
	dq->sync = method == DISCARD_METHOD_SYNC;
	dq->granule = DISCARD_MIN_ALIGN;
	if (mem->backend == GUEST_MEM_HUGETLBFS && mem->page_size > DISCARD_MIN_ALIGN)
		dq->granule = mem->page_size;

	dq->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dq->eventfd < 0) {
		ret = -errno;
		log_error("discard queue: eventfd: %s", strerror(-ret));
		return ret;
	}
	if (!dq->sync) {
		/*
		 * SUBMIT_ALL: one bad SQE must not leave the rest unsubmitted.
		 * R_DISABLED: restricted to discards before its first use (restrict_ring).
		 */
		ret = io_uring_queue_init(DISCARD_RING_ENTRIES, &dq->ring,
					  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_R_DISABLED);
		if (ret == -EINVAL)
			ret = io_uring_queue_init(DISCARD_RING_ENTRIES, &dq->ring,
						  IORING_SETUP_R_DISABLED);
		if (ret < 0) {
			log_error("discard queue: io_uring unavailable (%s): use discard=sync for "
				  "synchronous discards, or enable io_uring "
				  "(/proc/sys/kernel/io_uring_disabled)",
				  strerror(-ret));
			goto err_eventfd;
		}
		dq->ring_ready = true;
		workers = limit_workers(dq);
		ret = restrict_ring(dq);
		if (ret < 0)
			goto err_ring;
	}
	ret = choose_method(dq, method, flags);
	if (ret < 0)
		goto err_ring;
	if (!dq->sync) {
		/* Registered after the probe so its completions do not poke the owner. */
		ret = io_uring_register_eventfd(&dq->ring, dq->eventfd);
		if (ret < 0) {
			log_error("discard queue: io_uring_register_eventfd: %s", strerror(-ret));
			goto err_ring;
		}
	}
	if (!dq->sync && dq->granule < DISCARD_PAGE_OP_MAX)
		worker_start(dq);
	log_info("discard: %s guest RAM -> %s%s (%s)", guest_mem__backend_name(mem->backend),
		 discard_method__name(dq->method), dq->sync ? ", synchronous" : " via io_uring",
		 dq->reason);
	if (!dq->sync)
		log_info("discard: io_uring workers: %u at most per submitting thread (0: the "
			 "kernel's default), SCHED_BATCH; ops linked in chains",
			 workers);
	return 0;

err_ring:
	if (dq->ring_ready)
		io_uring_queue_exit(&dq->ring);
	dq->ring_ready = false;
err_eventfd:
	close(dq->eventfd);
	dq->eventfd = -1;
	return ret;
}

/* ---- reports ---- */

static bool range_valid(const struct discard_queue *dq, const struct discard_range *r)
{
	if (r->len == 0 || ((r->gpa | r->len) & (DISCARD_MIN_ALIGN - 1)))
		return false;
	return guest_mem__find(dq->mem, r->gpa, r->len) != NULL;
}

/*
 * Turn one coalesced range into ops: round inward to the discard granule
 * (hugetlbfs frees whole huge pages only), then cut into bounded pieces.
 * With ops == NULL only counts. Returns the number of ops.
 */
static unsigned int plan_range(const struct discard_queue *dq, const struct discard_range *r,
			       struct discard_op *ops, struct discard_result *res)
{
	const struct guest_region *reg = guest_mem__find(dq->mem, r->gpa, r->len);
	uint64_t rel = r->gpa - reg->gpa;
	/* Align on the address the kernel will see: fd offset or host address. */
	uint64_t key = dq->method == DISCARD_METHOD_PUNCH_HOLE
			       ? reg->fd_offset + rel
			       : (uint64_t)(uintptr_t)(reg->hva + rel);
	uint64_t start = (key + dq->granule - 1) & ~(dq->granule - 1);
	uint64_t end = (key + r->len) & ~(dq->granule - 1);
	unsigned int nr = 0;

	if (end <= start) {
		if (res)
			res->bytes_skipped += r->len;
		return 0;
	}
	if (res)
		res->bytes_skipped += r->len - (end - start);
	rel += start - key;
	for (uint64_t off = 0; off < end - start; off += DISCARD_MAX_OP_BYTES, nr++) {
		uint64_t len = end - start - off;

		if (len > DISCARD_MAX_OP_BYTES)
			len = DISCARD_MAX_OP_BYTES;
		if (!ops)
			continue;
		ops[nr] = (struct discard_op){
			.hva = reg->hva + rel + off,
			.fd = reg->fd,
			.offset = reg->fd_offset + rel + off,
			.len = len,
		};
	}
	return nr;
}

/* Coalesce adjacent ranges (same region) and plan each run. Returns the op count. */
static unsigned int plan_report(const struct discard_queue *dq, const struct discard_range *ranges,
				unsigned int n, struct discard_op *ops, struct discard_result *res)
{
	struct discard_range cur = ranges[0];
	unsigned int nr = 0;

	for (unsigned int i = 1; i <= n; i++) {
		if (i < n && cur.gpa + cur.len == ranges[i].gpa &&
		    guest_mem__find(dq->mem, cur.gpa, cur.len + ranges[i].len)) {
			cur.len += ranges[i].len;
			continue;
		}
		nr += plan_range(dq, &cur, ops ? ops + nr : NULL, res);
		if (i < n)
			cur = ranges[i];
	}
	return nr;
}

static void report_op_done(struct discard_queue *dq, struct discard_report *rep)
{
	dq->stats.ops_in_flight--;
	if (--rep->ops_pending)
		return;
	rep->result.latency_ns = clock__mono_ns() - rep->submit_ns;
	histogram_add(&dq->stats.report_latency, rep->result.latency_ns);
	rep->next = NULL;
	if (dq->finished_tail)
		dq->finished_tail->next = rep;
	else
		dq->finished_head = rep;
	dq->finished_tail = rep;
}

/*
 * Reconcile a "successful" discard with the host's view: until the report is
 * acknowledged the guest cannot touch these pages (they are isolated in its
 * allocator, or in its balloon), so after a working discard its first and
 * last host pages are not resident. Two one-page mincore() calls keep this
 * cheap on the event loop; a method that silently frees nothing fails it.
 */
static bool still_resident(const struct discard_op *op)
{
	const uint64_t page = 4096;
	unsigned char first = 0, last = 0;

	if (mincore(op->hva, page, &first) < 0 ||
	    mincore(op->hva + op->len - page, page, &last) < 0)
		return false; /* cannot tell: do not accuse the method */
	return (first | last) & 1;
}

/*
 * An op came back with `res`. A failure is retried once synchronously;
 * if that fails too the range is acknowledged without discard: the guest
 * must never wait forever on host trouble.
 */
static void op_complete(struct discard_queue *dq, struct discard_op *op, int res)
{
	struct discard_report *rep = op->report;

	if (res < 0) {
		dq->stats.op_errors++;
		rep->result.op_errors++;
		dq->stats.sync_retries++;
		res = op_run_sync(dq->method, op);
		if (dq->inject_retry_failures) {
			dq->inject_retry_failures--;
			res = -EIO;
		}
		if (res < 0) {
			dq->stats.acked_without_discard++;
			dq->stats.bytes_acked_without_discard += op->len;
			rep->result.bytes_failed += op->len;
			log_ratelimited(LOG_WARN,
					"discard: %s of %llu bytes failed twice (%s); "
					"acknowledged without discard",
					discard_method__name(dq->method),
					(unsigned long long)op->len, strerror(-res));
			report_op_done(dq, rep);
			return;
		}
	}
	/*
	 * Sample the first op of each report: a method that frees nothing fails
	 * on every op, and checking all of them cost inflate (256 x 4 KiB ops a
	 * chain) half its loop-thread CPU (tools/bench-discard, perf).
	 */
	if (op == &rep->ops[0] && still_resident(op)) {
		dq->stats.ineffective_ops++;
		dq->stats.bytes_not_freed += op->len;
		log_ratelimited(LOG_WARN,
				"discard: %s said it freed %llu bytes at %p but they are still "
				"resident: this method frees nothing for this backend",
				discard_method__name(dq->method), (unsigned long long)op->len,
				(void *)op->hva);
	} else {
		dq->stats.bytes_discarded += op->len;
		rep->result.bytes_discarded += op->len;
	}
	report_op_done(dq, rep);
}

/* ---- the page worker: small discards, many per system call ---- */

/*
 * Discards shorter than DISCARD_PAGE_OP_MAX (inflate's 4 KiB pages, the odd
 * small report) do not go on the ring: one io_uring request per 4 KiB page
 * cost more than the madvise it carried (tools/bench-discard: 0.35-0.42x
 * the synchronous loop's throughput, and a TLB-shootdown IPI per page to
 * the device thread that reaped each completion). Instead a report's small
 * ops go, up to DISCARD_PAGE_BATCH_OPS at a time, to one worker thread,
 * which frees them with a single process_madvise() where the kernel accepts
 * it for the method (one mmap_lock round trip and, since Linux 6.16, one
 * TLB flush for the whole batch), else with one call per op, and hands the
 * batch back through the queue's eventfd: one wake-up per batch. The owner
 * then completes the ops exactly as it completes ring ops (failures retried,
 * report acknowledged only when all of its ops are done).
 */
struct discard_batch {
	struct discard_batch *next;
	struct discard_op *ops; /* consecutive ops of one report */
	unsigned int n;
};

/* A FIFO of batches; the worker's lock guards both of its FIFOs. */
struct batch_fifo {
	struct discard_batch *head, *tail;
};

static void batch_fifo_push(struct batch_fifo *f, struct discard_batch *b)
{
	b->next = NULL;
	if (f->tail)
		f->tail->next = b;
	else
		f->head = b;
	f->tail = b;
}

static struct discard_batch *batch_fifo_pop(struct batch_fifo *f)
{
	struct discard_batch *b = f->head;

	if (b) {
		f->head = b->next;
		if (!f->head)
			f->tail = NULL;
	}
	return b;
}

struct discard_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct batch_fifo todo; /* owner -> worker */
	struct batch_fifo done; /* worker -> owner */
	bool stop;
	/* Read-only once the thread runs. */
	enum discard_method method;
	int pidfd;     /* this process, for process_madvise(); -1: none */
	bool vectored; /* process_madvise() works for method */
	int owner_fd;  /* the queue's eventfd */
	int setup_ret; /* the thread's setup hook, reported back to init */
	bool setup_done;
};

static int (*worker_setup_hook)(int pidfd);

void discard_queue__set_worker_setup(int (*setup)(int pidfd))
{
	worker_setup_hook = setup;
}

static int madvise_advice(enum discard_method method)
{
	return method == DISCARD_METHOD_REMOVE ? MADV_REMOVE : MADV_DONTNEED;
}

static ssize_t sys_process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice)
{
#ifdef SYS_process_madvise
	return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0U);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Free ops[0..n) with process_madvise(), falling back to one call per op for
 * an op the kernel refused: it stops at the first iovec that fails and says
 * how many bytes it got through, so that op is run alone to learn its error
 * and the batch goes on after it.
 */
static void run_vectored(const struct discard_worker *w, struct discard_op *ops, unsigned int n)
{
	struct iovec iov[DISCARD_PAGE_BATCH_OPS];
	unsigned int i = 0;

	while (i < n) {
		unsigned int k = 0;
		ssize_t got;

		while (i + k < n && !ops[i + k].noop) {
			iov[k].iov_base = ops[i + k].hva;
			iov[k].iov_len = ops[i + k].len;
			k++;
		}
		if (k == 0) {
			ops[i++].res = 0; /* test hook: "succeeds", frees nothing */
			continue;
		}
		got = sys_process_madvise(w->pidfd, iov, k, madvise_advice(w->method));
		if (got < 0)
			got = 0;
		for (unsigned int j = 0; j < k; j++) {
			if ((uint64_t)got >= iov[j].iov_len) {
				got -= (ssize_t)iov[j].iov_len;
				ops[i + j].res = 0;
				continue;
			}
			/* The first op it did not get through: alone, for its error. */
			ops[i + j].res = op_run_sync(w->method, &ops[i + j]);
			k = j + 1;
			break;
		}
		i += k;
	}
}

static void run_batch(const struct discard_worker *w, struct discard_batch *b)
{
	if (w->vectored) {
		run_vectored(w, b->ops, b->n);
		return;
	}
	for (unsigned int i = 0; i < b->n; i++)
		b->ops[i].res = b->ops[i].noop ? 0 : op_run_sync(w->method, &b->ops[i]);
}

static void *worker_main(void *arg)
{
	struct discard_worker *w = arg;
	const struct sched_param param = {.sched_priority = 0};
	uint64_t one = 1;
	int ret = 0;

	/* Background work: never preempt the device loop or a vCPU (see submit_ring). */
	sched_setscheduler(0, SCHED_BATCH, &param);
	if (worker_setup_hook)
		ret = worker_setup_hook(w->pidfd);
	pthread_mutex_lock(&w->lock);
	w->setup_ret = ret;
	w->setup_done = true;
	pthread_cond_broadcast(&w->wake);
	if (ret < 0) {
		pthread_mutex_unlock(&w->lock);
		return NULL;
	}
	for (;;) {
		struct discard_batch *b;

		while (!w->todo.head && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		b = batch_fifo_pop(&w->todo);
		if (!b)
			break; /* stopping, nothing left */
		pthread_mutex_unlock(&w->lock);

		run_batch(w, b);

		pthread_mutex_lock(&w->lock);
		batch_fifo_push(&w->done, b);
		pthread_mutex_unlock(&w->lock);
		if (write(w->owner_fd, &one, sizeof(one)) < 0) {
			/* Only on counter overflow: readable then anyway. */
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Whether process_madvise(method) frees a probe object like guest RAM's. */
static bool vectored_works(const struct discard_queue *dq, int pidfd)
{
	struct probe_obj p;
	struct iovec iov;
	bool ok;

	if (pidfd < 0 || dq->method == DISCARD_METHOD_PUNCH_HOLE)
		return false;
	if (probe_obj_create(&p, dq->mem->backend, dq->granule) < 0)
		return false;
	iov.iov_base = p.hva;
	iov.iov_len = p.len;
	ok = probe_obj_resident(&p) &&
	     sys_process_madvise(pidfd, &iov, 1, madvise_advice(dq->method)) == (ssize_t)p.len &&
	     !probe_obj_resident(&p);
	probe_obj_destroy(&p);
	return ok;
}

static void worker_destroy(struct discard_worker *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/*
 * Start the page worker. Without one (no memory, no thread, the setup hook
 * refused) every op goes on the ring: slower for 4 KiB pages, never wrong.
 */
static void worker_start(struct discard_queue *dq)
{
	struct discard_worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int ret;

	if (!w) {
		log_warn("discard: no page worker (out of memory); small discards go on the ring");
		return;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->method = dq->method;
	w->owner_fd = dq->eventfd;
#ifdef SYS_pidfd_open
	w->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0U);
#else
	w->pidfd = -1;
#endif
	w->vectored = vectored_works(dq, w->pidfd);
	/*
	 * Signals are not the worker's business: it is born with all of them
	 * blocked, so a process-directed one (SIGTERM) always reaches the
	 * thread that handles it (mini-vmm: the device loop's signalfd).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_warn("discard: no page worker (pthread_create: %s); small discards go on the "
			 "ring",
			 strerror(ret));
		worker_destroy(w);
		return;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->setup_done)
		pthread_cond_wait(&w->wake, &w->lock);
	ret = w->setup_ret;
	pthread_mutex_unlock(&w->lock);
	if (ret < 0) {
		log_warn("discard: no page worker (its setup failed: %s); small discards go on "
			 "the ring",
			 strerror(-ret));
		pthread_join(w->thread, NULL);
		worker_destroy(w);
		return;
	}
	pthread_setname_np(w->thread, "discard-pages");
	dq->worker = w;
	log_info("discard: page worker for discards under %llu KiB: %s", DISCARD_PAGE_OP_MAX >> 10,
		 w->vectored ? "process_madvise(), one call per batch"
			     : "one system call per op (process_madvise() unavailable for this "
			       "method)");
}

static void worker_stop(struct discard_queue *dq)
{
	struct discard_worker *w = dq->worker;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	worker_destroy(w);
	dq->worker = NULL;
}

/* Hand one batch to the worker. */
static void worker_push(struct discard_queue *dq, struct discard_batch *b)
{
	struct discard_worker *w = dq->worker;

	pthread_mutex_lock(&w->lock);
	batch_fifo_push(&w->todo, b);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	dq->batches_in_worker++;
	dq->stats.page_batches++;
	dq->stats.page_batch_ops += b->n;
}

/*
 * Complete the ops of finished batches, oldest first, up to `budget` ops
 * (whole batches: one is at most DISCARD_PAGE_BATCH_OPS). What is left stays
 * on the done list for the next turn.
 */
static void worker_reap(struct discard_queue *dq, unsigned int budget)
{
	struct discard_worker *w = dq->worker;
	unsigned int used = 0;

	if (!w || !dq->batches_in_worker)
		return;
	while (used < budget) {
		struct discard_batch *b;
		uint64_t now;

		pthread_mutex_lock(&w->lock);
		b = batch_fifo_pop(&w->done);
		pthread_mutex_unlock(&w->lock);
		if (!b)
			break;
		dq->batches_in_worker--;
		/*
		 * b lives in its report: op_complete() may finish the report,
		 * but it is freed only after this turn's reaping.
		 * One clock read per batch: its ops started and ended together.
		 */
		now = clock__mono_ns();
		for (unsigned int i = 0; i < b->n; i++) {
			struct discard_op *op = &b->ops[i];
			int res = op->res;

			if (dq->inject_ring_failures) {
				dq->inject_ring_failures--;
				res = -EIO;
			}
			histogram_add(&dq->stats.op_latency, now - op->start_ns);
			op_complete(dq, op, res);
		}
		used += b->n;
	}
}

/* Whether finished batches wait for worker_reap(). */
static bool worker_has_done(struct discard_queue *dq)
{
	struct discard_worker *w = dq->worker;
	bool any;

	if (!w || !dq->batches_in_worker)
		return false;
	pthread_mutex_lock(&w->lock);
	any = w->done.head != NULL;
	pthread_mutex_unlock(&w->lock);
	return any;
}

/*
 * Ops go on the ring in chains: consecutive ops of one report linked with
 * IOSQE_IO_LINK, so a chain costs one punt to io-wq and one worker runs its
 * ops back to back, instead of one hand-over and one wake-up per op. Every
 * op still posts its own CQE with its own result: not IOSQE_CQE_SKIP_SUCCESS,
 * because IORING_OP_MADVISE and IORING_OP_FALLOCATE do not mark a failed
 * request as failed, so with SKIP_SUCCESS a failed discard posts nothing and
 * the chain carries on (measured on 6.18: an mlocked range in the middle of
 * a chain vanished without a CQE; see docs/virtio-balloon.md). For the same
 * reason a failing op does not cancel the rest of its chain; if the kernel
 * does cancel (-ECANCELED), that op is retried like any failed one. Chains
 * end at a report boundary, at DISCARD_CHAIN_OPS ops or DISCARD_CHAIN_BYTES,
 * so one report's chains can still run on several workers.
 */
#define DISCARD_CHAIN_OPS   32
#define DISCARD_CHAIN_BYTES (16ULL << 20)

static void prep_op(struct discard_queue *dq, struct io_uring_sqe *sqe, struct discard_op *op)
{
	op->start_ns = clock__mono_ns();
	if (dq->inject_noop_ops) {
		/* Test hook: "succeed" without discarding, like a method that frees nothing. */
		dq->inject_noop_ops--;
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, op);
	} else {
		op_prep_sqe(dq->method, sqe, op);
	}
	/* Discards always block: skip the inline attempt that would just say -EAGAIN. */
	sqe->flags |= IOSQE_ASYNC;
}

static struct discard_op *deferred_pop(struct discard_queue *dq)
{
	struct discard_op *op = dq->deferred_head;

	dq->deferred_head = op->next;
	if (!dq->deferred_head)
		dq->deferred_tail = NULL;
	dq->nr_deferred--;
	return op;
}

/*
 * Move deferred ops (oldest first) onto the ring as chains, at most `budget`
 * ops and never more than DISCARD_RING_ENTRIES in the kernel at once (so the
 * CQ, twice that, cannot overflow).
 */
static void ring_fill(struct discard_queue *dq, unsigned int budget)
{
	unsigned int placed = 0;

	while (placed < budget && dq->deferred_head && dq->ops_in_ring < DISCARD_RING_ENTRIES) {
		struct discard_report *rep = dq->deferred_head->report;
		struct io_uring_sqe *last_sqe = NULL;
		unsigned int n = 0;
		uint64_t bytes = 0;

		while (placed < budget && dq->deferred_head && dq->deferred_head->report == rep &&
		       dq->ops_in_ring < DISCARD_RING_ENTRIES &&
		       (n == 0 || (n < DISCARD_CHAIN_OPS &&
				   bytes + dq->deferred_head->len <= DISCARD_CHAIN_BYTES))) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&dq->ring);
			struct discard_op *op;

			if (!sqe)
				break;
			op = deferred_pop(dq);
			prep_op(dq, sqe, op);
			sqe->flags |= IOSQE_IO_LINK;
			last_sqe = sqe;
			dq->ops_in_ring++;
			placed++;
			n++;
			bytes += op->len;
		}
		if (!last_sqe)
			break; /* no SQE: the next turn, after a submit */
		/* The chain's last op ends the link. */
		last_sqe->flags &= (uint8_t)~IOSQE_IO_LINK;
	}
}

/*
 * The first io_uring_enter() of each submitting thread runs with that thread
 * briefly in SCHED_BATCH. The ring's io-wq workers are created inside it, and
 * a new thread inherits its creator's policy: the workers are born
 * SCHED_BATCH, so waking one (every submission does) never preempts the
 * device loop or a vCPU sharing its CPU. Without it, on a 2-CPU host the loop
 * thread lost its CPU to the worker it had just woken for 1-5 ms per report
 * (tools/bench-discard with perf sched_switch: wall 1-5 ms, CPU 10-30 us).
 * Only the first submit: switching back to SCHED_OTHER is itself a point
 * where the scheduler may hand the CPU to the worker, and the worker, the
 * last of its kind, is kept by io-wq while the ring lives. The workers'
 * discards are background work; they still get their fair share of CPU.
 */
static __thread bool workers_born_batch;

static int submit_ring(struct discard_queue *dq)
{
	const struct sched_param param = {.sched_priority = 0};
	bool lowered = false;
	int ret;

	if (!workers_born_batch) {
		workers_born_batch = true;
		lowered = sched_getscheduler(0) == SCHED_OTHER &&
			  sched_setscheduler(0, SCHED_BATCH, &param) == 0;
	}
	ret = io_uring_submit(&dq->ring);
	if (lowered)
		sched_setscheduler(0, SCHED_OTHER, &param);
	return ret;
}

/*
 * Have the calling thread's io-wq worker born now, SCHED_BATCH, instead of
 * inside the first report: creating it costs ~150 us of CPU and, when the
 * policy is switched back, often the CPU for a scheduler slice (a 2-4 ms
 * callback in bench-discard). A NOP sent with IOSQE_ASYNC goes to io-wq,
 * which starts the worker; its CQE (no user data) is dropped by reap_ring.
 */
static void warm_up_thread(struct discard_queue *dq)
{
	struct io_uring_sqe *sqe;

	if (workers_born_batch || !dq->ring_ready)
		return;
	sqe = io_uring_get_sqe(&dq->ring);
	if (!sqe)
		return; /* the next submit does it */
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	sqe->flags |= IOSQE_ASYNC;
	dq->nops_in_ring++;
	submit_ring(dq);
}

static void ring_submit(struct discard_queue *dq)
{
	int ret;

	if (!io_uring_sq_ready(&dq->ring))
		return;
	ret = submit_ring(dq);
	if (ret < 0 && ret != -EINTR) {
		/* The SQEs stay in the SQ ring: the next call submits them again. */
		log_ratelimited(LOG_WARN, "discard: io_uring_submit: %s; will retry",
				strerror(-ret));
		signal_owner(dq);
	}
}

static void defer_op(struct discard_queue *dq, struct discard_op *op)
{
	op->next = NULL;
	if (dq->deferred_tail)
		dq->deferred_tail->next = op;
	else
		dq->deferred_head = op;
	dq->deferred_tail = op;
	dq->nr_deferred++;
}

/*
 * Whether a bounded turn left work that only this queue can move on: ops
 * that may go on the ring now, or completions not yet reaped. (Ops waiting
 * for a full ring need no poke: the ring's completions signal the eventfd.)
 */
static bool work_left(struct discard_queue *dq)
{
	if (worker_has_done(dq))
		return true;
	if (!dq->ring_ready)
		return false;
	return (dq->deferred_head && dq->ops_in_ring < DISCARD_RING_ENTRIES) ||
	       io_uring_cq_ready(&dq->ring) > 0;
}

static bool goes_to_worker(const struct discard_queue *dq, const struct discard_op *op)
{
	return dq->worker && !dq->ring_only && op->len < DISCARD_PAGE_OP_MAX;
}

/*
 * Send a new report's ops on their way: runs of small ops, cut at
 * DISCARD_PAGE_BATCH_OPS, to the page worker as batches; the others to the
 * ring's deferred queue. Returns how many went to the ring.
 */
static unsigned int route_ops(struct discard_queue *dq, struct discard_report *rep)
{
	unsigned int nr_batches = 0, nr_ring = 0, i = 0;
	uint64_t now;

	for (unsigned int j = 0, run = 0; j < rep->nr_ops; j++) {
		if (!goes_to_worker(dq, &rep->ops[j])) {
			run = 0;
			continue;
		}
		if (run++ % DISCARD_PAGE_BATCH_OPS == 0)
			nr_batches++;
	}
	if (nr_batches) {
		rep->batches = calloc(nr_batches, sizeof(rep->batches[0]));
		if (!rep->batches)
			nr_batches = 0; /* no memory for batches: all on the ring */
	}
	nr_batches = 0;
	now = rep->batches ? clock__mono_ns() : 0;
	while (i < rep->nr_ops) {
		struct discard_batch *b;

		if (!rep->batches || !goes_to_worker(dq, &rep->ops[i])) {
			defer_op(dq, &rep->ops[i++]);
			nr_ring++;
			continue;
		}
		b = &rep->batches[nr_batches++];
		b->ops = &rep->ops[i];
		while (i < rep->nr_ops && b->n < DISCARD_PAGE_BATCH_OPS &&
		       goes_to_worker(dq, &rep->ops[i])) {
			struct discard_op *op = &rep->ops[i++];

			op->start_ns = now;
			if (dq->inject_noop_ops) {
				dq->inject_noop_ops--;
				op->noop = true;
			}
			b->n++;
		}
		worker_push(dq, b);
	}
	return nr_ring;
}

int discard_queue__submit(struct discard_queue *dq, const struct discard_range *ranges,
			  unsigned int n, discard_done_fn done, void *cookie)
{
	struct discard_report *rep;
	unsigned int invalid = 0, nr_ops, nr_ring, waiting;
	uint64_t bytes = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (!range_valid(dq, &ranges[i]))
			invalid++;
		else
			bytes += ranges[i].len;
	}
	if (invalid) {
		dq->stats.invalid_ranges += invalid;
		dq->stats.reports_rejected++;
		return -EINVAL;
	}
	nr_ops = n ? plan_report(dq, ranges, n, NULL, NULL) : 0;
	rep = calloc(1, sizeof(*rep) + (size_t)nr_ops * sizeof(rep->ops[0]));
	if (!rep)
		return -ENOMEM;
	rep->done = done;
	rep->cookie = cookie;
	rep->submit_ns = clock__mono_ns();
	rep->result.bytes_requested = bytes;
	if (n)
		plan_report(dq, ranges, n, rep->ops, &rep->result);
	rep->nr_ops = nr_ops;
	rep->result.ops = nr_ops;
	/* One extra count held by submit itself, dropped below: a report with
	 * no ops (all skipped) or with only synchronous ops finishes the same
	 * way as the others, through the finished list. */
	rep->ops_pending = nr_ops + 1;

	dq->stats.reports++;
	dq->stats.reports_in_flight++;
	dq->stats.ranges += n;
	dq->stats.ops += nr_ops;
	dq->stats.bytes_requested += bytes;
	dq->stats.bytes_skipped += rep->result.bytes_skipped;
	dq->stats.ops_in_flight += nr_ops + 1;

	for (unsigned int i = 0; i < nr_ops; i++) {
		struct discard_op *op = &rep->ops[i];

		op->report = rep;
		if (dq->sync) {
			uint64_t t0 = clock__mono_ns();
			int res = op_run_sync(dq->method, op);

			histogram_add(&dq->stats.op_latency, clock__mono_ns() - t0);
			op_complete(dq, op, res);
		}
	}
	if (!dq->sync) {
		/* Small ops to the page worker, the rest to the ring. */
		nr_ring = route_ops(dq, rep);
		/* Behind older deferred ops (FIFO), one bounded batch this turn. */
		ring_fill(dq, DISCARD_SUBMIT_BATCH);
		/* What is still deferred is the queue's tail: this report's ops last. */
		waiting = dq->nr_deferred < nr_ring ? dq->nr_deferred : nr_ring;
		if (dq->ops_in_ring >= DISCARD_RING_ENTRIES)
			dq->stats.sq_full_deferrals += waiting;
		else
			dq->stats.batch_deferrals += waiting;
		ring_submit(dq);
	}
	report_op_done(dq, rep); /* submit's own count */
	if (dq->finished_head || work_left(dq))
		signal_owner(dq);
	return 0;
}

static void reap_ring(struct discard_queue *dq, unsigned int budget)
{
	struct io_uring_cqe *cqe;

	while (budget-- && (dq->ops_in_ring || dq->nops_in_ring) &&
	       io_uring_peek_cqe(&dq->ring, &cqe) == 0) {
		struct discard_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&dq->ring, cqe);
		if (!op) {
			dq->nops_in_ring--; /* warm_up_thread's NOP */
			continue;
		}
		if (dq->inject_ring_failures) {
			dq->inject_ring_failures--;
			res = -EIO;
		}
		dq->ops_in_ring--;
		histogram_add(&dq->stats.op_latency, clock__mono_ns() - op->start_ns);
		op_complete(dq, op, res);
	}
}

int discard_queue__process_completions(struct discard_queue *dq)
{
	struct discard_report *rep;
	uint64_t counter;
	int done = 0;

	if (dq->hold_completions)
		return 0;
	if (read(dq->eventfd, &counter, sizeof(counter)) < 0) {
		/* EAGAIN: called without an event, fine. */
	}
	if (dq->ring_ready) {
		warm_up_thread(dq);
		reap_ring(dq, DISCARD_REAP_BATCH);
		ring_fill(dq, DISCARD_SUBMIT_BATCH);
		ring_submit(dq);
	}
	worker_reap(dq, DISCARD_PAGE_BATCH_OPS);
	/* Detach first: a callback may submit a new report. */
	rep = dq->finished_head;
	dq->finished_head = dq->finished_tail = NULL;
	while (rep) {
		struct discard_report *next = rep->next;

		dq->stats.reports_in_flight--;
		dq->stats.reports_completed++;
		if (rep->done)
			rep->done(rep->cookie, &rep->result);
		free(rep->batches);
		free(rep);
		rep = next;
		done++;
	}
	/* Bounded turn: come back for the rest after the loop served others. */
	if (work_left(dq))
		signal_owner(dq);
	return done;
}

void discard_queue__drain(struct discard_queue *dq)
{
	bool held = dq->hold_completions;

	dq->hold_completions = false;
	while (dq->stats.reports_in_flight) {
		if (dq->ring_ready && dq->ops_in_ring) {
			struct io_uring_cqe *cqe;
			int ret = io_uring_wait_cqe(&dq->ring, &cqe);

			if (ret < 0 && ret != -EINTR && ret != -EAGAIN) {
				log_ratelimited(LOG_WARN, "discard: drain: io_uring_wait_cqe: %s",
						strerror(-ret));
				usleep(1000);
			}
		} else if (dq->batches_in_worker && !worker_has_done(dq)) {
			/* The worker pokes the eventfd when a batch is done. */
			struct pollfd pfd = {.fd = dq->eventfd, .events = POLLIN};

			poll(&pfd, 1, 100);
		}
		discard_queue__process_completions(dq);
	}
	dq->hold_completions = held;
}

void discard_queue__exit(struct discard_queue *dq)
{
	if (!dq->mem)
		return;
	if (dq->eventfd >= 0)
		discard_queue__drain(dq);
	worker_stop(dq); /* before the eventfd it writes to goes */
	if (dq->ring_ready) {
		io_uring_unregister_eventfd(&dq->ring);
		io_uring_queue_exit(&dq->ring);
		dq->ring_ready = false;
	}
	if (dq->eventfd >= 0)
		close(dq->eventfd);
	dq->eventfd = -1;
	dq->mem = NULL;
}
