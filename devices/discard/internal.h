/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the discard engine's files share and nobody else sees: an op, a
 * report, a page worker batch, a probe object, and the functions one file
 * calls in another. devices/discard/queue.h is the engine's public contract.
 *
 *   queue.c   reports: submit, planning, routing, completion, the done
 *             callbacks, drain; init and exit
 *   method.c  the three discard methods as system calls and ring ops, and
 *             choosing and proving one at init
 *   ring.c    the io_uring: its restrictions and worker cap, ops in
 *             chains, the deferred queue, submit and reap
 *   worker.c  the page worker thread for small discards
 */
#ifndef MINI_VMM_DISCARD_INTERNAL_H
#define MINI_VMM_DISCARD_INTERNAL_H

#include "devices/discard/queue.h"

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_REMOVE
#define MADV_REMOVE 9
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
	bool noop; /* page worker: faults->inject_noop_ops */
};

struct discard_report {
	struct discard_report *next; /* finished list link */
	discard_done_fn done;
	void *cookie;
	uint64_t submit_ns;
	unsigned int ops_pending;
	struct discard_batch *batches; /* its page worker batches, if any */
	struct discard_result result;
	uint64_t mem; /* heap bytes counted in stats.mem_in_flight: the record and its batches */
	unsigned int nr_ops;
	struct discard_op ops[];
};

/* A run of small ops of one report, handed to the page worker (worker.c). */
struct discard_batch {
	struct discard_batch *next;
	struct discard_op *ops; /* consecutive ops of one report */
	unsigned int n;
};

/* A scratch object like the guest's backing, to try a method on. */
struct discard_probe {
	uint8_t *hva;
	uint64_t len;
	int fd;
};

/*
 * Fault injection: whether one of the next-N faults counted in *left (a
 * field of dq->faults) applies now; consumes it.
 */
static inline bool discard_fault__take(unsigned int *left)
{
	if (!*left)
		return false;
	(*left)--;
	return true;
}

/* queue.c */
void discard_histogram__add(struct discard_histogram *h, uint64_t ns);
void discard_queue__signal_owner(struct discard_queue *dq);
void discard_op__complete(struct discard_queue *dq, struct discard_op *op, int res);

/* method.c */
int discard_method__run_sync(enum discard_method method, const struct discard_op *op);
void discard_method__prep_sqe(enum discard_method method, struct io_uring_sqe *sqe,
			      struct discard_op *op);
int discard_probe__create(struct discard_probe *p, enum guest_mem_backend backend,
			  uint64_t granule);
void discard_probe__destroy(struct discard_probe *p);
bool discard_probe__resident(const struct discard_probe *p);
int discard_method__choose(struct discard_queue *dq, enum discard_method requested,
			   unsigned int flags);

/* ring.c */
/*
 * Create the ring, cap its io-wq workers (*workers: the cap, 0 for the
 * kernel's default), restrict it to discards and enable it. 0 or -errno,
 * logged with what to change.
 */
int discard_ring__init(struct discard_queue *dq, unsigned int *workers);
/* From now on completions poke dq->eventfd. 0 or -errno, logged. */
int discard_ring__watch(struct discard_queue *dq);
/* Free the ring (its ops must be done). Safe without one. */
void discard_ring__exit(struct discard_queue *dq);
void discard_ring__defer(struct discard_queue *dq, struct discard_op *op);
void discard_ring__fill(struct discard_queue *dq, unsigned int budget);
void discard_ring__submit(struct discard_queue *dq);
void discard_ring__warm_up_thread(struct discard_queue *dq);
void discard_ring__reap(struct discard_queue *dq, unsigned int budget);
/* Ops that may go on the ring now, or completions not reaped yet. */
bool discard_ring__has_work(struct discard_queue *dq);
/* Block until a completion is there (drain). */
void discard_ring__wait(struct discard_queue *dq);

/* worker.c */
/* setup: run first on the thread (NULL: nothing). */
void discard_worker__start(struct discard_queue *dq, const struct discard_worker_setup *setup);
void discard_worker__stop(struct discard_queue *dq);
void discard_worker__push(struct discard_queue *dq, struct discard_batch *b);
void discard_worker__reap(struct discard_queue *dq, unsigned int budget);
bool discard_worker__has_done(struct discard_queue *dq);

#endif
