// SPDX-License-Identifier: GPL-2.0
/*
 * The discard engine's io_uring: restricted to discards and its io-wq
 * workers capped before it is enabled; ops from the deferred queue placed
 * on it in linked chains, a bounded number per turn; submission with the
 * workers born SCHED_BATCH; completions reaped a bounded number per turn.
 */
#define _GNU_SOURCE
#include "devices/discard/internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif

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
		 .sqe_op = IORING_OP_NOP}, /* warm-up, faults->inject_noop_ops */
		/* Chains (discard_ring__fill); IOSQE_ASYNC: straight to io-wq. */
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
	int ret = io_uring_register(dq->ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res,
				    sizeof(res) / sizeof(res[0]));

	if (ret == 0)
		ret = io_uring_register(dq->ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
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
	ret = io_uring_register_iowq_max_workers(dq->ring, limits);
	if (ret < 0) {
		log_warn("discard: cannot cap io_uring workers at %u (%s); the kernel's default "
			 "applies",
			 n, strerror(-ret));
		return 0;
	}
	return n;
}

int discard_ring__init(struct discard_queue *dq, unsigned int *workers)
{
	struct io_uring *ring = calloc(1, sizeof(*ring));
	int ret;

	if (!ring) {
		log_error("discard queue: out of memory");
		return -ENOMEM;
	}
	/*
	 * SUBMIT_ALL: one bad SQE must not leave the rest unsubmitted.
	 * R_DISABLED: restricted to discards before its first use (restrict_ring).
	 */
	ret = io_uring_queue_init(DISCARD_RING_ENTRIES, ring,
				  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_R_DISABLED);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(DISCARD_RING_ENTRIES, ring, IORING_SETUP_R_DISABLED);
	if (ret < 0) {
		log_error("discard queue: io_uring unavailable (%s): use discard=sync for "
			  "synchronous discards, or enable io_uring "
			  "(/proc/sys/kernel/io_uring_disabled)",
			  strerror(-ret));
		free(ring);
		return ret;
	}
	dq->ring = ring;
	*workers = limit_workers(dq);
	ret = restrict_ring(dq);
	if (ret < 0)
		discard_ring__exit(dq);
	return ret;
}

int discard_ring__watch(struct discard_queue *dq)
{
	int ret = io_uring_register_eventfd(dq->ring, dq->eventfd);

	if (ret < 0)
		log_error("discard queue: io_uring_register_eventfd: %s", strerror(-ret));
	return ret;
}

void discard_ring__exit(struct discard_queue *dq)
{
	if (!dq->ring)
		return;
	io_uring_unregister_eventfd(dq->ring);
	io_uring_queue_exit(dq->ring);
	free(dq->ring);
	dq->ring = NULL;
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
	if (dq->faults && discard_fault__take(&dq->faults->inject_noop_ops)) {
		/* Fault injection: "succeed" without discarding, like a method that frees nothing.
		 */
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, op);
	} else {
		discard_method__prep_sqe(dq->method, sqe, op);
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
void discard_ring__fill(struct discard_queue *dq, unsigned int budget)
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
			struct io_uring_sqe *sqe = io_uring_get_sqe(dq->ring);
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
	ret = io_uring_submit(dq->ring);
	if (lowered)
		sched_setscheduler(0, SCHED_OTHER, &param);
	return ret;
}

/*
 * Have the calling thread's io-wq worker born now, SCHED_BATCH, instead of
 * inside the first report: creating it costs ~150 us of CPU and, when the
 * policy is switched back, often the CPU for a scheduler slice (a 2-4 ms
 * callback in bench-discard). A NOP sent with IOSQE_ASYNC goes to io-wq,
 * which starts the worker; its CQE (no user data) is dropped by discard_ring__reap.
 */
void discard_ring__warm_up_thread(struct discard_queue *dq)
{
	struct io_uring_sqe *sqe;

	if (workers_born_batch || !dq->ring)
		return;
	sqe = io_uring_get_sqe(dq->ring);
	if (!sqe)
		return; /* the next submit does it */
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	sqe->flags |= IOSQE_ASYNC;
	dq->nops_in_ring++;
	submit_ring(dq);
}

void discard_ring__submit(struct discard_queue *dq)
{
	int ret;

	if (!io_uring_sq_ready(dq->ring))
		return;
	ret = submit_ring(dq);
	if (ret < 0 && ret != -EINTR) {
		/* The SQEs stay in the SQ ring: the next call submits them again. */
		log_ratelimited(LOG_WARN, "discard: io_uring_submit: %s; will retry",
				strerror(-ret));
		discard_queue__signal_owner(dq);
	}
}

void discard_ring__defer(struct discard_queue *dq, struct discard_op *op)
{
	op->next = NULL;
	if (dq->deferred_tail)
		dq->deferred_tail->next = op;
	else
		dq->deferred_head = op;
	dq->deferred_tail = op;
	dq->nr_deferred++;
}

bool discard_ring__has_work(struct discard_queue *dq)
{
	if (!dq->ring)
		return false;
	return (dq->deferred_head && dq->ops_in_ring < DISCARD_RING_ENTRIES) ||
	       io_uring_cq_ready(dq->ring) > 0;
}

void discard_ring__wait(struct discard_queue *dq)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe(dq->ring, &cqe);

	if (ret < 0 && ret != -EINTR && ret != -EAGAIN) {
		log_ratelimited(LOG_WARN, "discard: drain: io_uring_wait_cqe: %s", strerror(-ret));
		usleep(1000);
	}
}

void discard_ring__reap(struct discard_queue *dq, unsigned int budget)
{
	struct io_uring_cqe *cqe;

	while (budget-- && (dq->ops_in_ring || dq->nops_in_ring) &&
	       io_uring_peek_cqe(dq->ring, &cqe) == 0) {
		struct discard_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(dq->ring, cqe);
		if (!op) {
			dq->nops_in_ring--; /* discard_ring__warm_up_thread's NOP */
			continue;
		}
		if (dq->faults && discard_fault__take(&dq->faults->inject_ring_failures))
			res = -EIO;
		dq->ops_in_ring--;
		discard_histogram__add(&dq->stats.op_latency, clock__mono_ns() - op->start_ns);
		discard_op__complete(dq, op, res);
	}
}
