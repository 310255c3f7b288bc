// SPDX-License-Identifier: GPL-2.0
/*
 * The discard queue's io_uring may carry discards and nothing else.
 * io_uring requests run in the kernel on the ring's behalf, unseen by
 * seccomp: if the ring accepted any opcode, a compromised mini-vmm could
 * open files or sockets through it that its filters forbid. So the ring is
 * created disabled and restricted (IORING_REGISTER_RESTRICTIONS) before its
 * first use: an IORING_OP_OPENAT on it must complete
 * with -EACCES, while discards still work. See docs/threat-model.md, "io_uring".
 */
#define _GNU_SOURCE
#include "devices/discard/queue.h"
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_SIZE (4u << 20)

static int run_sqe(struct discard_queue *dq, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int res;

	io_uring_sqe_set_data(sqe, NULL);
	CHECK(io_uring_submit(dq->ring) >= 0);
	CHECK_EQ(io_uring_wait_cqe(dq->ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(dq->ring, cqe);
	return res;
}

int main(void)
{
	struct discard_queue dq;
	struct io_uring_sqe *sqe;
	struct guest_mem mem;
	int res;

	CHECK_EQ(guest_mem__init(&mem, RAM_SIZE, GUEST_MEM_ANON), 0);
	if (discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL) < 0)
		SKIP("no io_uring discard queue on this host");
	CHECK(dq.ring != NULL);

	/* Opening a file through the ring: refused by the ring itself. */
	sqe = io_uring_get_sqe(dq.ring);
	CHECK(sqe != NULL);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	res = run_sqe(&dq, sqe);
	printf("IORING_OP_OPENAT on the discard ring: %s\n", res < 0 ? strerror(-res) : "opened");
	if (res >= 0)
		close(res);
	CHECK_EQ(res, -EACCES);

	/* A discard still goes through (the probe at init did one too). */
	sqe = io_uring_get_sqe(dq.ring);
	CHECK(sqe != NULL);
	io_uring_prep_madvise(sqe, mem.regions[0].hva, 4096, MADV_DONTNEED);
	res = run_sqe(&dq, sqe);
	printf("IORING_OP_MADVISE on the discard ring: %s\n", res < 0 ? strerror(-res) : "ok");
	CHECK_EQ(res, 0);

	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
	return testlib_done("fault_uring_restricted");
}
