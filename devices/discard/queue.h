/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The discard engine: gives guest-physical ranges back to the host through
 * io_uring (IORING_OP_MADVISE / IORING_OP_FALLOCATE), without blocking the
 * caller's event loop. Knows nothing about virtio: the balloon device and the
 * benchmarks both drive it.
 *
 * A "report" is one submit() call: a list of ranges, validated as a whole,
 * sorted by address and coalesced, cut into ops and put on the ring. Its done
 * callback fires from discard_queue__process_completions() only once EVERY op
 * of that report has completed (or failed and been retried), so the caller
 * may hand the memory back to its owner then and not earlier. Single-threaded:
 * the owner calls everything from one thread (or under its own lock).
 */
#ifndef MINI_VMM_DISCARD_QUEUE_H
#define MINI_VMM_DISCARD_QUEUE_H

#include "base/guest_mem.h"

#include <stdbool.h>
#include <stdint.h>

#define DISCARD_RING_ENTRIES 256
/*
 * Ops longer than this are split: IORING_OP_MADVISE carries its length in a
 * 32-bit field (liburing 2.3), and bounded ops keep per-op latency bounded.
 */
#define DISCARD_MAX_OP_BYTES (1ULL << 30)
/*
 * Work per event-loop callback is bounded: submit() and each
 * process_completions() put at most DISCARD_SUBMIT_BATCH ops on the ring and
 * reap at most DISCARD_REAP_BATCH completions; what is left waits for the
 * next turn (the queue pokes its own eventfd). An inflate chain of 256 pages
 * goes out in sixteen turns, not one.
 */
#define DISCARD_SUBMIT_BATCH 16
#define DISCARD_REAP_BATCH   32
/*
 * Ops shorter than this (inflate's 4 KiB pages) skip the ring: a page
 * worker thread frees up to DISCARD_PAGE_BATCH_OPS of them per system call
 * (process_madvise) and hands them back in one wake-up. See
 * docs/virtio-balloon.md, "Small discards: the page worker".
 */
#define DISCARD_PAGE_OP_MAX    (2ULL << 20)
#define DISCARD_PAGE_BATCH_OPS 256
/* Ranges must be aligned to the host's base page; hugetlbfs then rounds inward. */
#define DISCARD_MIN_ALIGN 4096ULL

/* What frees the memory. */
enum discard_method {
	DISCARD_METHOD_AUTO = 0,   /* the verified method for the backend */
	DISCARD_METHOD_MADVISE,	   /* madvise(MADV_DONTNEED) on the host mapping */
	DISCARD_METHOD_REMOVE,	   /* madvise(MADV_REMOVE): frees shared (memfd) backing */
	DISCARD_METHOD_PUNCH_HOLE, /* fallocate(PUNCH_HOLE | KEEP_SIZE) on the backing fd */
};

/* What runs it, whatever the method. */
enum discard_engine {
	DISCARD_ENGINE_URING = 0, /* the io_uring, and the page worker for small discards */
	DISCARD_ENGINE_SYNC,	  /* synchronous system calls inside submit(): no ring, no worker */
};

const char *discard_method__name(enum discard_method method);
/* "auto", "madvise", "remove", "punch-hole". 0 or -EINVAL. */
int discard_method__parse(const char *s, enum discard_method *out);
/* "io_uring" or "sync". */
const char *discard_engine__name(enum discard_engine engine);
/*
 * The value of discard= (the balloon's option): a method on the io_uring
 * engine, or "sync" for auto's method on the synchronous engine. 0 or -EINVAL.
 */
int discard_choice__parse(const char *s, enum discard_method *method, enum discard_engine *engine);

/* init() flags */
#define DISCARD_QUEUE_F_NO_VERIFY (1u << 0) /* skip the probe page (opcode probe still runs) */

struct discard_range {
	uint64_t gpa;
	uint64_t len;
};

/* What happened to one report; handed to its done callback. */
struct discard_result {
	uint64_t bytes_requested;
	uint64_t bytes_discarded;
	uint64_t bytes_skipped; /* hugetlbfs: partial huge pages left in place */
	uint64_t bytes_failed;	/* acknowledged without discard (op and retry failed) */
	uint32_t ops;
	uint32_t op_errors;
	uint64_t latency_ns; /* submit -> last op completed */
};

typedef void (*discard_done_fn)(void *cookie, const struct discard_result *res);

/*
 * Latency histogram with fixed log2 buckets: bucket i counts samples
 * <= 2^i microseconds (1 us .. 2^24 us ~ 16.8 s); the last bucket is +Inf.
 * Counts are per bucket (not cumulative); Prometheus output sums them up.
 */
#define DISCARD_HIST_BUCKETS 26
struct discard_histogram {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t buckets[DISCARD_HIST_BUCKETS];
};

/* Upper bound of bucket i in microseconds; UINT64_MAX for the +Inf bucket. */
uint64_t discard_histogram__bucket_le_us(unsigned int i);
/* The bucket a sample of ns nanoseconds falls in (the API's request durations use it too). */
unsigned int discard_histogram__bucket(uint64_t ns);

/* Cumulative counters (gauges marked). Read under the owner's lock. */
struct discard_stats {
	uint64_t reports;		/* accepted by submit() */
	uint64_t reports_rejected;	/* submit() refused: an invalid range */
	uint64_t reports_completed;	/* done callback called */
	uint64_t ranges;		/* ranges in accepted reports, before coalescing */
	uint64_t ops;			/* ops issued (ring or sync) */
	uint64_t bytes_requested;	/* sum of accepted range lengths */
	uint64_t bytes_discarded;	/* really given back */
	uint64_t bytes_skipped;		/* hugetlbfs partial huge pages */
	uint64_t invalid_ranges;	/* outside RAM, unaligned, empty, overflowing */
	uint64_t op_errors;		/* ring ops that failed (cqe->res < 0) */
	uint64_t sync_retries;		/* failed ops retried synchronously */
	uint64_t acked_without_discard; /* ops whose retry failed too */
	uint64_t bytes_acked_without_discard;
	uint64_t ineffective_ops;    /* "succeeded" but the range is still resident (mincore) */
	uint64_t bytes_not_freed;    /* their bytes: not counted in bytes_discarded */
	uint64_t sq_full_deferrals;  /* ops that waited for a ring slot */
	uint64_t batch_deferrals;    /* ops that waited for the next loop turn (batch bound) */
	uint64_t page_batches;	     /* batches of small ops handed to the page worker */
	uint64_t page_batch_ops;     /* ops in them */
	uint64_t reports_over_limit; /* submit() refused: the queue's limits (-EAGAIN) */
	uint64_t reports_in_flight;  /* gauge */
	uint64_t ops_in_flight;	     /* gauge: on the ring or waiting for a slot */
	uint64_t bytes_in_flight;    /* gauge: bytes_requested of the reports in flight */
	uint64_t mem_in_flight;	     /* gauge: host heap bytes held for them (records, ops) */
	struct discard_histogram report_latency; /* submit -> done */
	struct discard_histogram op_latency;	 /* ring submit -> completion */
};

/*
 * What one queue may hold for its owner at once; 0: no limit. A report
 * that would take a gauge of struct discard_stats past its limit is
 * refused with -EAGAIN while another report is in flight (the owner waits
 * for completions and submits it again); with nothing in flight it is
 * taken, so one report too big for the limits cannot wait forever.
 */
struct discard_limits {
	uint64_t ops;	/* ops_in_flight */
	uint64_t bytes; /* bytes_in_flight: guest bytes under discard */
	uint64_t mem;	/* mem_in_flight, counted by discard_queue__report_mem() */
};

struct io_uring; /* <liburing.h>: only devices/discard/ needs it */
struct discard_op;
struct discard_report;
struct discard_batch;
struct discard_worker;

struct discard_queue {
	const struct guest_mem *mem;
	enum discard_method method; /* resolved: MADVISE, REMOVE or PUNCH_HOLE */
	enum discard_engine engine;
	uint64_t granule; /* discard granularity: 4 KiB, or the huge page size */
	char reason[160]; /* why this method (logged at init) */

	struct io_uring *ring; /* NULL: none (discard=sync, or not set up) */
	int eventfd;	       /* readable when there is something for process_completions() */
	unsigned int ops_in_ring;
	unsigned int nr_deferred;	/* ops in the deferred queue */
	unsigned int nops_in_ring;	/* warm-up NOPs not reaped yet */
	struct discard_worker *worker;	/* the page worker; NULL: every op on the ring */
	unsigned int batches_in_worker; /* handed over, not reaped yet */

	/* Ops waiting for a ring slot or the next turn, FIFO. */
	struct discard_op *deferred_head, *deferred_tail;
	/* Reports whose ops are all done, waiting for their callback. */
	struct discard_report *finished_head, *finished_tail;

	struct discard_stats stats;
	struct discard_limits limits; /* zero after init: set by the owner */

	struct discard_faults *faults; /* NULL (always, in mini-vmm): no fault injection */
};

/*
 * Fault injection, for the tests and the fuzzers (docs/fuzzing.md): point
 * dq->faults at one after init. The owner's thread (or lock) guards it, as
 * it guards the queue.
 */
struct discard_faults {
	bool hold_completions;		    /* process_completions() reaps nothing while set */
	bool ring_only;			    /* small ops go on the ring too (no page worker) */
	unsigned int inject_ring_failures;  /* fail the next N ring or page worker ops (-EIO) */
	unsigned int inject_retry_failures; /* fail the next N synchronous retries */
	unsigned int inject_noop_ops;	    /* the next N ops do nothing (ring: IORING_OP_NOP) */
};

/*
 * What a queue's page worker thread runs first, given by the queue's owner
 * at init: fn(opaque, pidfd), with the pidfd the worker will pass to
 * process_madvise() (-1: none) (mini-vmm: drop the thread's capabilities and
 * install its seccomp filter, allowing that pidfd only). A negative return
 * stops that thread and its queue sends small ops to the ring instead.
 * fn NULL: nothing.
 */
struct discard_worker_setup {
	int (*fn)(void *opaque, int pidfd);
	void *opaque;
};

/*
 * Choose and verify the discard method for mem->backend (see
 * docs/virtio-balloon.md), set up the engine (the ring, the page worker,
 * which runs *setup first; setup may be NULL) and the eventfd. Logs the
 * choice. Returns 0, or -errno with a log line saying what to change (e.g.
 * -ENOSYS "io_uring unavailable: use discard=sync").
 */
int discard_queue__init(struct discard_queue *dq, const struct guest_mem *mem,
			enum discard_method method, enum discard_engine engine, unsigned int flags,
			const struct discard_worker_setup *setup);

/* Drains, then frees everything. Safe on a zeroed or failed-init queue. */
void discard_queue__exit(struct discard_queue *dq);

/*
 * Host heap bytes a report of `nr_ops` ops holds at most while in flight
 * (its record, its ops, its page worker batches): what submit() checks
 * against limits.mem.
 */
uint64_t discard_queue__report_mem(unsigned int nr_ops);

/*
 * Submit one report. Every range must be non-empty, aligned to
 * DISCARD_MIN_ALIGN and lie inside one RAM region; else nothing is submitted,
 * the bad ranges are counted and -EINVAL returned (done is not called).
 * Over dq->limits with another report in flight: -EAGAIN, nothing
 * submitted, counted in reports_over_limit.
 * On 0, done(cookie, result) is called later from process_completions()
 * (or drain()), never from inside submit(). Never blocks: at most
 * DISCARD_SUBMIT_BATCH ops go on the ring per call; the rest (and any that
 * find the ring full) wait in a queue and go out on later turns.
 */
/*
 * Discard ranges now, on the calling thread, and return once every op has
 * run (a failed op is retried once, as on the ring): for work that must be
 * finished before the guest goes on (free page hints: a hinted block whose
 * discard lands after the guest took it back loses data;
 * devices/balloon_hinting.c). No ring, no page worker, no limits: nothing
 * stays in flight. The ranges follow submit()'s rules (-EINVAL, counted,
 * nothing done). On 0, *res holds the result; the stats count it as one
 * report submitted and completed. May block for as long as the discards take.
 */
int discard_queue__run_now(struct discard_queue *dq, const struct discard_range *ranges,
			   unsigned int n, struct discard_result *res);

int discard_queue__submit(struct discard_queue *dq, const struct discard_range *ranges,
			  unsigned int n, discard_done_fn done, void *cookie);

/*
 * Reap completions without blocking, refill the ring from the deferred
 * queue, call the done callback of every finished report. Returns the
 * number of reports finished. Call when eventfd is readable.
 */
int discard_queue__process_completions(struct discard_queue *dq);

/* Block until nothing is in flight (reset, shutdown). Ignores faults->hold_completions. */
void discard_queue__drain(struct discard_queue *dq);

/* What init chose, fixed from then on (logged then; the API reports it). */
struct discard_info {
	enum discard_method method; /* resolved: MADVISE, REMOVE or PUNCH_HOLE */
	enum discard_engine engine;
	uint64_t granule;   /* discard granularity: 4 KiB, or the huge page size */
	const char *reason; /* why this method; lives as long as the queue */
};

void discard_queue__describe(const struct discard_queue *dq, struct discard_info *out);
/* Readable when there is something for process_completions(): the owner watches it. */
int discard_queue__eventfd(const struct discard_queue *dq);
/* The counters, read under the owner's lock. */
const struct discard_stats *discard_queue__stats(const struct discard_queue *dq);

#endif
