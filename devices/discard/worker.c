// SPDX-License-Identifier: GPL-2.0
/*
 * The page worker: small discards, many per system call.
 *
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
#define _GNU_SOURCE
#include "devices/discard/internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

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
	int pidfd;			   /* this process, for process_madvise(); -1: none */
	bool vectored;			   /* process_madvise() works for method */
	int owner_fd;			   /* the queue's eventfd */
	struct discard_worker_setup setup; /* its owner's, run first on the thread */
	int setup_ret;			   /* what setup returned, reported back to init */
	bool setup_done;
};

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
			ops[i + j].res = discard_method__run_sync(w->method, &ops[i + j]);
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
		b->ops[i].res =
			b->ops[i].noop ? 0 : discard_method__run_sync(w->method, &b->ops[i]);
}

static void *worker_main(void *arg)
{
	struct discard_worker *w = arg;
	const struct sched_param param = {.sched_priority = 0};
	uint64_t one = 1;
	int ret = 0;

	/* Background work: never preempt the device loop or a vCPU (see submit_ring). */
	sched_setscheduler(0, SCHED_BATCH, &param);
	if (w->setup.fn)
		ret = w->setup.fn(w->setup.opaque, w->pidfd);
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
	struct discard_probe p;
	struct iovec iov;
	bool ok;

	if (pidfd < 0 || dq->method == DISCARD_METHOD_PUNCH_HOLE)
		return false;
	if (discard_probe__create(&p, dq->mem->backend, dq->granule) < 0)
		return false;
	iov.iov_base = p.hva;
	iov.iov_len = p.len;
	ok = discard_probe__resident(&p) &&
	     sys_process_madvise(pidfd, &iov, 1, madvise_advice(dq->method)) == (ssize_t)p.len &&
	     !discard_probe__resident(&p);
	discard_probe__destroy(&p);
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
 * Start the page worker. Without one (no memory, no thread, its setup
 * refused) every op goes on the ring: slower for 4 KiB pages, never wrong.
 */
void discard_worker__start(struct discard_queue *dq, const struct discard_worker_setup *setup)
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
	if (setup)
		w->setup = *setup;
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

void discard_worker__stop(struct discard_queue *dq)
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
void discard_worker__push(struct discard_queue *dq, struct discard_batch *b)
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
void discard_worker__reap(struct discard_queue *dq, unsigned int budget)
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
		 * b lives in its report: discard_op__complete() may finish the report,
		 * but it is freed only after this turn's reaping.
		 * One clock read per batch: its ops started and ended together.
		 */
		now = clock__mono_ns();
		for (unsigned int i = 0; i < b->n; i++) {
			struct discard_op *op = &b->ops[i];
			int res = op->res;

			if (dq->faults && discard_fault__take(&dq->faults->inject_ring_failures))
				res = -EIO;
			discard_histogram__add(&dq->stats.op_latency, now - op->start_ns);
			discard_op__complete(dq, op, res);
		}
		used += b->n;
	}
}

/* Whether finished batches wait for discard_worker__reap(). */
bool discard_worker__has_done(struct discard_queue *dq)
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
