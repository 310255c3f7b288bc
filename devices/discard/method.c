// SPDX-License-Identifier: GPL-2.0
/*
 * The discard methods (MADV_DONTNEED, MADV_REMOVE, fallocate PUNCH_HOLE):
 * their names, each as a plain system call and as an io_uring op, and at
 * init the choice of one for the guest RAM's backend, proven on a probe
 * page. docs/virtio-balloon.md says why each backend gets the method it gets.
 */
#define _GNU_SOURCE
#include "devices/discard/internal.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const method_names[] = {
	[DISCARD_METHOD_AUTO] = "auto",
	[DISCARD_METHOD_MADVISE] = "madvise",
	[DISCARD_METHOD_REMOVE] = "remove",
	[DISCARD_METHOD_PUNCH_HOLE] = "punch-hole",
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

const char *discard_engine__name(enum discard_engine engine)
{
	return engine == DISCARD_ENGINE_SYNC ? "sync" : "io_uring";
}

int discard_choice__parse(const char *s, enum discard_method *method, enum discard_engine *engine)
{
	if (strcmp(s, "sync") == 0) {
		*method = DISCARD_METHOD_AUTO;
		*engine = DISCARD_ENGINE_SYNC;
		return 0;
	}
	if (discard_method__parse(s, method) < 0)
		return -EINVAL;
	*engine = DISCARD_ENGINE_URING;
	return 0;
}

/* ---- the three methods as plain system calls ---- */

int discard_method__run_sync(enum discard_method method, const struct discard_op *op)
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

void discard_method__prep_sqe(enum discard_method method, struct io_uring_sqe *sqe,
			      struct discard_op *op)
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

void discard_probe__destroy(struct discard_probe *p)
{
	if (p->hva)
		munmap(p->hva, p->len);
	if (p->fd >= 0)
		close(p->fd);
}

int discard_probe__create(struct discard_probe *p, enum guest_mem_backend backend, uint64_t granule)
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

	discard_probe__destroy(p);
	return err;
}

/* Whether the probe object still holds memory: the file's blocks, or mincore. */
bool discard_probe__resident(const struct discard_probe *p)
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

	if (dq->engine == DISCARD_ENGINE_SYNC)
		return discard_method__run_sync(method, op);
	sqe = io_uring_get_sqe(dq->ring);
	if (!sqe)
		return -EBUSY;
	discard_method__prep_sqe(method, sqe, op);
	ret = io_uring_submit_and_wait(dq->ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(dq->ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(dq->ring, cqe);
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
	struct discard_probe p;
	struct discard_op op = {0};
	int ret;

	ret = discard_probe__create(&p, dq->mem->backend, dq->granule);
	if (ret < 0)
		return ret;
	if (!discard_probe__resident(&p)) {
		discard_probe__destroy(&p);
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
	} else if (discard_probe__resident(&p)) {
		snprintf(why, why_len, "%s succeeded but freed nothing on %s memory",
			 discard_method__name(method), guest_mem__backend_name(dq->mem->backend));
		ret = 0;
	} else {
		ret = 1;
	}
	discard_probe__destroy(&p);
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
	if (dq->engine == DISCARD_ENGINE_URING && probe &&
	    !io_uring_opcode_supported(probe, opcode)) {
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
int discard_method__choose(struct discard_queue *dq, enum discard_method requested,
			   unsigned int flags)
{
	bool by_default = requested == DISCARD_METHOD_AUTO;
	bool sync = dq->engine == DISCARD_ENGINE_SYNC;
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
	if (!sync) {
		probe = io_uring_get_probe_ring(dq->ring);
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
		log_error("discard=%s on %s guest RAM: %s",
			  sync && by_default ? "sync" : discard_method__name(requested),
			  guest_mem__backend_name(dq->mem->backend), why);
	if (probe)
		io_uring_free_probe(probe);
	return ret;
}
