// SPDX-License-Identifier: GPL-2.0
/*
 * The discard queue: reports from submit() to their done callback. A report
 * is validated as a whole, coalesced and planned into ops, its ops routed to
 * the page worker (worker.c) or the ring (ring.c), each completion checked
 * and a failure retried, and the callback called only once every op is done.
 * Also init and exit, which set up the method (method.c), the ring and the
 * worker. See devices/discard/queue.h for the contract.
 */
#define _GNU_SOURCE
#include "devices/discard/internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

uint64_t discard_histogram__bucket_le_us(unsigned int i)
{
	if (i >= DISCARD_HIST_BUCKETS - 1)
		return UINT64_MAX;
	return 1ULL << i;
}

unsigned int discard_histogram__bucket(uint64_t ns)
{
	uint64_t us = (ns + 999) / 1000;
	unsigned int i = 0;

	/* Smallest i with us <= 2^i, i.e. ceil(log2(us)). */
	if (us > 1)
		i = 64 - (unsigned int)__builtin_clzll(us - 1);
	if (i > DISCARD_HIST_BUCKETS - 1)
		i = DISCARD_HIST_BUCKETS - 1;
	return i;
}

void discard_histogram__add(struct discard_histogram *h, uint64_t ns)
{
	h->buckets[discard_histogram__bucket(ns)]++;
	h->count++;
	h->sum_ns += ns;
}

/* Poke our own eventfd: there is something for process_completions(). */
void discard_queue__signal_owner(struct discard_queue *dq)
{
	uint64_t one = 1;

	if (write(dq->eventfd, &one, sizeof(one)) < 0) {
		/* Only fails if the counter would overflow: it is readable then anyway. */
	}
}

int discard_queue__init(struct discard_queue *dq, const struct guest_mem *mem,
			enum discard_method method, enum discard_engine engine, unsigned int flags,
			const struct discard_worker_setup *setup)
{
	unsigned int workers = 0;
	int ret;

	memset(dq, 0, sizeof(*dq));
	dq->mem = mem;
	dq->eventfd = -1;
	dq->engine = engine;
	dq->granule = DISCARD_MIN_ALIGN;
	if (mem->backend == GUEST_MEM_HUGETLBFS && mem->page_size > DISCARD_MIN_ALIGN)
		dq->granule = mem->page_size;

	dq->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dq->eventfd < 0) {
		ret = -errno;
		log_error("discard queue: eventfd: %s", strerror(-ret));
		return ret;
	}
	if (dq->engine == DISCARD_ENGINE_URING) {
		ret = discard_ring__init(dq, &workers);
		if (ret < 0)
			goto err_eventfd;
	}
	ret = discard_method__choose(dq, method, flags);
	if (ret < 0)
		goto err_ring;
	/* After the probe, so that its completions do not poke the owner. */
	if (dq->engine == DISCARD_ENGINE_URING) {
		ret = discard_ring__watch(dq);
		if (ret < 0)
			goto err_ring;
	}
	if (dq->engine == DISCARD_ENGINE_URING && dq->granule < DISCARD_PAGE_OP_MAX)
		discard_worker__start(dq, setup);
	log_info("discard: %s guest RAM -> %s%s (%s)", guest_mem__backend_name(mem->backend),
		 discard_method__name(dq->method),
		 dq->engine == DISCARD_ENGINE_SYNC ? ", synchronous" : " via io_uring", dq->reason);
	if (dq->engine == DISCARD_ENGINE_URING)
		log_info("discard: io_uring workers: %u at most per submitting thread (0: the "
			 "kernel's default), SCHED_BATCH; ops linked in chains",
			 workers);
	return 0;

err_ring:
	discard_ring__exit(dq);
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

static int range_cmp(const void *a, const void *b)
{
	const struct discard_range *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/*
 * The report's ranges in address order, so that plan_report() coalesces
 * every run of adjacent ranges whatever order the guest listed them in: a
 * free list hands out a run of merged blocks in descending address order as
 * often as in ascending (mm/page_alloc.c adds a merged block at the head or
 * the tail of its list). The order of a report's discards does not matter:
 * it is acknowledged when all of them are done. Returns `ranges` when they
 * are sorted already, else a sorted copy in *copy for the caller to free;
 * without memory, `ranges` unsorted (coalesced less, still correct).
 */
static const struct discard_range *sort_ranges(const struct discard_range *ranges, unsigned int n,
					       struct discard_range **copy)
{
	unsigned int i;

	*copy = NULL;
	for (i = 1; i < n && ranges[i - 1].gpa <= ranges[i].gpa; i++)
		;
	if (i >= n)
		return ranges;
	*copy = malloc((size_t)n * sizeof(**copy));
	if (!*copy)
		return ranges;
	memcpy(*copy, ranges, (size_t)n * sizeof(**copy));
	qsort(*copy, n, sizeof(**copy), range_cmp);
	return *copy;
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
	discard_histogram__add(&dq->stats.report_latency, rep->result.latency_ns);
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
/*
 * An op that failed: counted and run once more, synchronously. If that
 * fails too, it is counted and logged as acknowledged without discard.
 * Returns the retry's result.
 */
static int retry_op(struct discard_queue *dq, const struct discard_op *op,
		    struct discard_result *res)
{
	int ret;

	dq->stats.op_errors++;
	res->op_errors++;
	dq->stats.sync_retries++;
	ret = discard_method__run_sync(dq->method, op);
	if (dq->faults && discard_fault__take(&dq->faults->inject_retry_failures))
		ret = -EIO;
	if (ret < 0) {
		dq->stats.acked_without_discard++;
		dq->stats.bytes_acked_without_discard += op->len;
		res->bytes_failed += op->len;
		log_ratelimited(LOG_WARN,
				"discard: %s of %llu bytes failed twice (%s); acknowledged without "
				"discard",
				discard_method__name(dq->method), (unsigned long long)op->len,
				strerror(-ret));
	}
	return ret;
}

void discard_op__complete(struct discard_queue *dq, struct discard_op *op, int res)
{
	struct discard_report *rep = op->report;

	if (res < 0 && retry_op(dq, op, &rep->result) < 0) {
		report_op_done(dq, rep);
		return;
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

/*
 * Whether a bounded turn left work that only this queue can move on: ops
 * that may go on the ring now, or completions not yet reaped. (Ops waiting
 * for a full ring need no poke: the ring's completions signal the eventfd.)
 */
static bool work_left(struct discard_queue *dq)
{
	if (discard_worker__has_done(dq))
		return true;
	return discard_ring__has_work(dq);
}

static bool goes_to_worker(const struct discard_queue *dq, const struct discard_op *op)
{
	return dq->worker && !(dq->faults && dq->faults->ring_only) &&
	       op->len < DISCARD_PAGE_OP_MAX;
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
		rep->mem += (uint64_t)nr_batches * sizeof(rep->batches[0]);
		dq->stats.mem_in_flight += (uint64_t)nr_batches * sizeof(rep->batches[0]);
	}
	nr_batches = 0;
	now = rep->batches ? clock__mono_ns() : 0;
	while (i < rep->nr_ops) {
		struct discard_batch *b;

		if (!rep->batches || !goes_to_worker(dq, &rep->ops[i])) {
			discard_ring__defer(dq, &rep->ops[i++]);
			nr_ring++;
			continue;
		}
		b = &rep->batches[nr_batches++];
		b->ops = &rep->ops[i];
		while (i < rep->nr_ops && b->n < DISCARD_PAGE_BATCH_OPS &&
		       goes_to_worker(dq, &rep->ops[i])) {
			struct discard_op *op = &rep->ops[i++];

			op->start_ns = now;
			if (dq->faults && discard_fault__take(&dq->faults->inject_noop_ops))
				op->noop = true;
			b->n++;
		}
		discard_worker__push(dq, b);
	}
	return nr_ring;
}

uint64_t discard_queue__report_mem(unsigned int nr_ops)
{
	/* A batch per op at most: runs of small ops are cut by ring ops between them. */
	return sizeof(struct discard_report) +
	       (uint64_t)nr_ops * (sizeof(struct discard_op) + sizeof(struct discard_batch));
}

/* Whether a report of nr_ops ops and `bytes` would take the queue past its limits. */
static bool over_limits(const struct discard_queue *dq, unsigned int nr_ops, uint64_t bytes)
{
	const struct discard_limits *l = &dq->limits;
	const struct discard_stats *s = &dq->stats;

	if (!s->reports_in_flight)
		return false;
	return (l->ops && s->ops_in_flight + nr_ops > l->ops) ||
	       (l->bytes && s->bytes_in_flight + bytes > l->bytes) ||
	       (l->mem && s->mem_in_flight + discard_queue__report_mem(nr_ops) > l->mem);
}

/* One op of discard_queue__run_now(): run, retried once, counted like any op. */
static void run_op_now(struct discard_queue *dq, struct discard_op *op, bool sample,
		       struct discard_result *res)
{
	uint64_t t0 = clock__mono_ns();
	int ret = discard_method__run_sync(dq->method, op);

	discard_histogram__add(&dq->stats.op_latency, clock__mono_ns() - t0);
	if (ret < 0 && retry_op(dq, op, res) < 0)
		return;
	if (sample && still_resident(op)) {
		dq->stats.ineffective_ops++;
		dq->stats.bytes_not_freed += op->len;
	} else {
		dq->stats.bytes_discarded += op->len;
		res->bytes_discarded += op->len;
	}
}

int discard_queue__run_now(struct discard_queue *dq, const struct discard_range *ranges,
			   unsigned int n, struct discard_result *res)
{
	struct discard_range *sorted;
	struct discard_op *ops;
	unsigned int invalid = 0, nr_ops;
	uint64_t t0 = clock__mono_ns();

	*res = (struct discard_result){0};
	for (unsigned int i = 0; i < n; i++) {
		if (!range_valid(dq, &ranges[i]))
			invalid++;
		else
			res->bytes_requested += ranges[i].len;
	}
	if (invalid) {
		dq->stats.invalid_ranges += invalid;
		dq->stats.reports_rejected++;
		return -EINVAL;
	}
	ranges = sort_ranges(ranges, n, &sorted);
	nr_ops = n ? plan_report(dq, ranges, n, NULL, NULL) : 0;
	ops = nr_ops ? calloc(nr_ops, sizeof(*ops)) : NULL;
	if (nr_ops && !ops) {
		free(sorted);
		return -ENOMEM;
	}
	if (n)
		plan_report(dq, ranges, n, ops, res);
	free(sorted);
	res->ops = nr_ops;
	dq->stats.reports++;
	dq->stats.ranges += n;
	dq->stats.ops += nr_ops;
	dq->stats.bytes_requested += res->bytes_requested;
	dq->stats.bytes_skipped += res->bytes_skipped;
	for (unsigned int i = 0; i < nr_ops; i++)
		run_op_now(dq, &ops[i], i == 0, res);
	free(ops);
	res->latency_ns = clock__mono_ns() - t0;
	discard_histogram__add(&dq->stats.report_latency, res->latency_ns);
	dq->stats.reports_completed++;
	return 0;
}

int discard_queue__submit(struct discard_queue *dq, const struct discard_range *ranges,
			  unsigned int n, discard_done_fn done, void *cookie)
{
	struct discard_range *sorted;
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
	ranges = sort_ranges(ranges, n, &sorted);
	nr_ops = n ? plan_report(dq, ranges, n, NULL, NULL) : 0;
	if (over_limits(dq, nr_ops, bytes)) {
		free(sorted);
		dq->stats.reports_over_limit++;
		return -EAGAIN;
	}
	rep = calloc(1, sizeof(*rep) + (size_t)nr_ops * sizeof(rep->ops[0]));
	if (!rep) {
		free(sorted);
		return -ENOMEM;
	}
	rep->mem = sizeof(*rep) + (uint64_t)nr_ops * sizeof(rep->ops[0]);
	rep->done = done;
	rep->cookie = cookie;
	rep->submit_ns = clock__mono_ns();
	rep->result.bytes_requested = bytes;
	if (n)
		plan_report(dq, ranges, n, rep->ops, &rep->result);
	free(sorted);
	rep->nr_ops = nr_ops;
	rep->result.ops = nr_ops;
	/* One extra count held by submit itself, dropped below: a report with
	 * no ops (all skipped) or with only synchronous ops finishes the same
	 * way as the others, through the finished list. */
	rep->ops_pending = nr_ops + 1;

	dq->stats.reports++;
	dq->stats.reports_in_flight++;
	dq->stats.bytes_in_flight += bytes;
	dq->stats.mem_in_flight += rep->mem;
	dq->stats.ranges += n;
	dq->stats.ops += nr_ops;
	dq->stats.bytes_requested += bytes;
	dq->stats.bytes_skipped += rep->result.bytes_skipped;
	dq->stats.ops_in_flight += nr_ops + 1;

	for (unsigned int i = 0; i < nr_ops; i++) {
		struct discard_op *op = &rep->ops[i];

		op->report = rep;
		if (dq->engine == DISCARD_ENGINE_SYNC) {
			uint64_t t0 = clock__mono_ns();
			int res = discard_method__run_sync(dq->method, op);

			discard_histogram__add(&dq->stats.op_latency, clock__mono_ns() - t0);
			discard_op__complete(dq, op, res);
		}
	}
	if (dq->engine == DISCARD_ENGINE_URING) {
		/* Small ops to the page worker, the rest to the ring. */
		nr_ring = route_ops(dq, rep);
		/* Behind older deferred ops (FIFO), one bounded batch this turn. */
		discard_ring__fill(dq, DISCARD_SUBMIT_BATCH);
		/* What is still deferred is the queue's tail: this report's ops last. */
		waiting = dq->nr_deferred < nr_ring ? dq->nr_deferred : nr_ring;
		if (dq->ops_in_ring >= DISCARD_RING_ENTRIES)
			dq->stats.sq_full_deferrals += waiting;
		else
			dq->stats.batch_deferrals += waiting;
		discard_ring__submit(dq);
	}
	report_op_done(dq, rep); /* submit's own count */
	if (dq->finished_head || work_left(dq))
		discard_queue__signal_owner(dq);
	return 0;
}

int discard_queue__process_completions(struct discard_queue *dq)
{
	struct discard_report *rep;
	uint64_t counter;
	int done = 0;

	if (dq->faults && dq->faults->hold_completions)
		return 0;
	if (read(dq->eventfd, &counter, sizeof(counter)) < 0) {
		/* EAGAIN: called without an event, fine. */
	}
	if (dq->ring) {
		discard_ring__warm_up_thread(dq);
		discard_ring__reap(dq, DISCARD_REAP_BATCH);
		discard_ring__fill(dq, DISCARD_SUBMIT_BATCH);
		discard_ring__submit(dq);
	}
	discard_worker__reap(dq, DISCARD_PAGE_BATCH_OPS);
	/* Detach first: a callback may submit a new report. */
	rep = dq->finished_head;
	dq->finished_head = dq->finished_tail = NULL;
	while (rep) {
		struct discard_report *next = rep->next;

		dq->stats.reports_in_flight--;
		dq->stats.bytes_in_flight -= rep->result.bytes_requested;
		dq->stats.mem_in_flight -= rep->mem;
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
		discard_queue__signal_owner(dq);
	return done;
}

void discard_queue__drain(struct discard_queue *dq)
{
	bool held = dq->faults && dq->faults->hold_completions;

	if (held)
		dq->faults->hold_completions = false;
	while (dq->stats.reports_in_flight) {
		if (dq->ring && dq->ops_in_ring) {
			discard_ring__wait(dq);
		} else if (dq->batches_in_worker && !discard_worker__has_done(dq)) {
			/* The worker pokes the eventfd when a batch is done. */
			struct pollfd pfd = {.fd = dq->eventfd, .events = POLLIN};

			poll(&pfd, 1, 100);
		}
		discard_queue__process_completions(dq);
	}
	if (held)
		dq->faults->hold_completions = true;
}

void discard_queue__exit(struct discard_queue *dq)
{
	if (!dq->mem)
		return;
	if (dq->eventfd >= 0)
		discard_queue__drain(dq);
	discard_worker__stop(dq); /* before the eventfd it writes to goes */
	discard_ring__exit(dq);
	if (dq->eventfd >= 0)
		close(dq->eventfd);
	dq->eventfd = -1;
	dq->mem = NULL;
}

/* ---- what the owner may read ---- */

void discard_queue__describe(const struct discard_queue *dq, struct discard_info *out)
{
	*out = (struct discard_info){
		.method = dq->method,
		.engine = dq->engine,
		.granule = dq->granule,
		.reason = dq->reason,
	};
}

int discard_queue__eventfd(const struct discard_queue *dq)
{
	return dq->eventfd;
}

const struct discard_stats *discard_queue__stats(const struct discard_queue *dq)
{
	return &dq->stats;
}
