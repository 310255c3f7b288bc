// SPDX-License-Identifier: GPL-2.0
/*
 * bench-discard: the host side of free page reporting and inflate, without a
 * guest. Guest RAM comes from guest_mem__init (exactly what the VMM maps),
 * every page is touched, then the RAM is handed back in reports shaped like
 * Linux's, by several engines interleaved in one run:
 *
 *   uring xM  mini-vmm's discard queue as the balloon drives it: a "guest"
 *             thread kicks a notify eventfd (the ioeventfd), the device
 *             thread's event loop (base/event_loop.c) submits the report,
 *             completions come back on the queue's eventfd, the done callback
 *             acks (the irqfd). M reports in flight (1 = Linux today).
 *   sync xM   the same device thread making one madvise/fallocate per range
 *             inside the notify callback (what Firecracker, Cloud Hypervisor
 *             and QEMU do today).
 *   whole     the physical reference: one system call over each RAM region.
 *
 * Memory is re-touched (one word per 4 KiB page) before every run and
 * guest_mem__resident_bytes checks afterwards that it really left the host.
 * The targets (io_uring vs the synchronous loop) are printed PASS/MISS; the
 * exit status is 1 only for functional failures (memory not freed, a report
 * failing). See docs/benchmarks.md.
 */
#define _GNU_SOURCE
#include "devices/discard/queue.h"
#include "base/clock.h"
#include "base/event_loop.h"
#include "bench/hostile.h"
#include "base/guest_mem.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_REMOVE
#define MADV_REMOVE 9
#endif

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* The targets for the io_uring engine, relative to the sync loop. */
#define TARGET_THROUGHPUT_RATIO 0.9   /* at least this times the sync loop */
#define TARGET_P99_RATIO	1.0   /* per-report p99 no worse than sync */
#define TARGET_LOOP_BLOCK_US	100.0 /* the device loop never blocked longer */

#define MAX_BACKENDS 3
#define MAX_ERRORS   32

/* ---- workload shapes ---- */

struct shape {
	const char *name;
	uint64_t chunk;		 /* bytes per range */
	unsigned int per_report; /* ranges per report (chain) */
	bool adjacent;		 /* runs of adjacent blocks, not a random permutation */
	const char *what;
};

/*
 * Linux's mm/page_reporting.c isolates free pages of order >= pageblock_order
 * (9 on x86: 2 MiB; order 10 = 4 MiB is the largest) and hands the driver at
 * most PAGE_REPORTING_CAPACITY (32) per report. The balloon driver's inflate
 * sends up to VIRTIO_BALLOON_ARRAY_PFNS_MAX (256) 4 KiB PFNs per chain.
 * The plain shapes are a random permutation of RAM (a fragmented free list:
 * no engine gains from adjacent ranges). The -adjacent ones are what a free
 * list looks like after a large free (a process exits, a page cache is
 * dropped): the blocks come back merged at the largest orders, one after
 * the other, so a report hands over runs of physically adjacent blocks.
 * Runs are of random length (1 to 2 reports' worth of blocks), each in
 * ascending or descending address order at random (__free_one_page() adds a
 * merged block at the head or the tail of its free list), and the runs are
 * in random order.
 */
static const struct shape shapes[] = {
	{"report-2M", 2 * MiB, 32, false, "free page report, 32 x 2 MiB (order 9)"},
	{"report-4M", 4 * MiB, 32, false, "free page report, 32 x 4 MiB (order 10)"},
	{"inflate-4K", 4 * KiB, 256, false, "inflate chain, 256 scattered 4 KiB PFNs"},
	{"report-2M-adjacent", 2 * MiB, 32, true,
	 "free page report, 32 x 2 MiB in runs of adjacent blocks"},
	{"report-4M-adjacent", 4 * MiB, 32, true,
	 "free page report, 32 x 4 MiB in runs of adjacent blocks"},
};
#define NR_SHAPES   ((int)(sizeof(shapes) / sizeof(shapes[0])))
#define SHAPE_WHOLE (-1)

static const char *shape_name(int shape)
{
	return shape == SHAPE_WHOLE ? "whole-range" : shapes[shape].name;
}

/* One report as the guest posts it, and what became of it. */
struct bench_report {
	const struct discard_range *ranges;
	unsigned int n;
	uint64_t bytes;
	uint64_t notify_ns;  /* guest: just before the kick */
	uint64_t ack_ns;     /* device: when the used entry would be pushed */
	uint64_t service_ns; /* submit -> done (uring), or the syscall loop (sync) */
	uint64_t bytes_done;
	uint64_t bytes_failed;
};

struct workload {
	struct discard_range *ranges;
	size_t nr_ranges;
	struct bench_report *reports;
	unsigned int nr_reports;
};

/* ---- engines ---- */

enum engine_kind {
	ENGINE_SYNC,
	ENGINE_URING,
	ENGINE_WHOLE,
};

struct engine {
	enum engine_kind kind;
	unsigned int inflight;
};

static const char *engine_kind_name(enum engine_kind kind)
{
	switch (kind) {
	case ENGINE_SYNC:
		return "sync";
	case ENGINE_URING:
		return "uring";
	default:
		return "whole";
	}
}

static void engine_label(const struct engine *e, char *buf, size_t len)
{
	if (e->kind == ENGINE_WHOLE)
		snprintf(buf, len, "whole");
	else
		snprintf(buf, len, "%s x%u", engine_kind_name(e->kind), e->inflight);
}

/* ---- results ---- */

/* A growable array of durations. */
struct samples {
	uint64_t *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(s->v[0]));
		if (!s->v) {
			fprintf(stderr, "bench-discard: out of memory\n");
			exit(1);
		}
	}
	s->v[s->n++] = x;
}

struct result {
	enum guest_mem_backend backend;
	const char *method;
	int shape; /* index in shapes[], or SHAPE_WHOLE */
	struct engine engine;

	unsigned int runs;
	uint64_t bytes, ns;
	double gibps_min, gibps_max;
	struct samples lat, svc;   /* per report: kick -> ack, submit -> done */
	struct samples cb;	   /* every device-loop callback's wall time */
	uint64_t busy_ns;	   /* sum of cb: how long the loop was not free */
	uint64_t max_block_ns;	   /* the event loop's max_callback_ns */
	uint64_t max_submit_cb_ns; /* the longest notify callback */
	uint64_t max_reap_cb_ns;   /* the longest completion callback */
	uint64_t max_cb_cpu_ns;	   /* the most CPU time one callback used */
	uint64_t reap_callbacks;
	long loop_nivcsw;
	double cpu_s, loop_cpu_s;
	uint64_t bytes_expected, bytes_freed, bytes_acked_failed;
	uint64_t ops, deferrals, op_errors;
	long long
		flush_ipis; /* TLB-shootdown and function-call IPIs during the discards; -1: unknown
			     */
	bool freed_ok;

	/* derived by finish_result() */
	double gibps, p50_us, p99_us, max_us, svc_p50_us, svc_p99_us, cb_p99_us, busy_pct;
	const struct result *sync_peer; /* sync at the same inflight, for ratios */
};

struct opts {
	uint64_t size;
	unsigned int rounds;
	unsigned int inflight;
	enum guest_mem_backend backends[MAX_BACKENDS];
	unsigned int nr_backends;
	unsigned int shape_mask;  /* bit i: shapes[i] runs */
	unsigned int engine_mask; /* bit (enum engine_kind): that engine runs */
	bool json;
	const char *json_out; /* also write the JSON here */
	bool quiet;
	bool busy_guest; /* the guest thread spins instead of sleeping (a running vCPU) */
	uint64_t seed;
	bool hostile;		 /* --hostile: tools/bench/hostile.c instead */
	unsigned int hostile_ms; /* its run length */
};

static struct result *results;
static unsigned int nr_results;
static char errors[MAX_ERRORS][200];
static unsigned int nr_errors;
static bool quiet;

static void add_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_error(const char *fmt, ...)
{
	va_list ap;
	char buf[200];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "bench-discard: ERROR: %s\n", buf);
	if (nr_errors < MAX_ERRORS)
		snprintf(errors[nr_errors], sizeof(errors[0]), "%s", buf);
	nr_errors++;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "bench-discard: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* CPU time of the calling thread: tells work in a callback from preemption. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double rusage_cpu_s(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/*
 * IPIs a remote TLB flush can cost, received so far on all CPUs: the "TLB:"
 * (shootdowns) and "CAL:" (function calls, which carry them) rows of
 * /proc/interrupts; -1 where neither row exists. System-wide: compare
 * engines within one quiet run. (A paravirtual guest may flush remote TLBs
 * by hypercall and count none: on the project's PVM machine TLB stays 0.)
 */
static long long flush_ipis(void)
{
	char line[4096];
	long long total = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "TLB:", 4) != 0 && strncmp(p, "CAL:", 4) != 0)
			continue;
		p += 4;
		if (total < 0)
			total = 0;
		for (;;) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "bench-discard: out of memory\n");
		exit(1);
	}
	return p;
}

/* ---- the device: an event loop thread like the balloon's ---- */

struct bench_dev {
	struct event_loop loop;
	int notify_fd; /* the guest's kick: the queue's ioeventfd */
	int ack_fd;    /* the used-buffer interrupt: the irqfd (blocking reads) */
	pthread_t thread;

	/* Round hand-over between the guest thread and the loop thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int round_seq, round_done;
	bool exiting;

	/* The current run: set by the guest thread while the loop is parked. */
	enum engine_kind kind;
	struct discard_queue *dq;
	enum discard_method method; /* dq's, for the synchronous engine */
	const struct guest_mem *mem;
	struct bench_report *reports;
	unsigned int nr_reports;
	unsigned int consumed; /* loop thread only */
	_Atomic unsigned int posted;
	_Atomic unsigned int acked;

	/* Measured on the loop thread during the run. */
	uint64_t max_submit_cb_ns, max_reap_cb_ns;	   /* wall time */
	uint64_t max_submit_cb_cpu_ns, max_reap_cb_cpu_ns; /* thread CPU time */
	uint64_t reap_callbacks;			   /* completion eventfd wake-ups */
	struct samples cb_ns;				   /* each callback's wall time */
	uint64_t busy_ns;				   /* their sum */
	uint64_t loop_max_callback_ns;
	double loop_cpu_s;
	long loop_nivcsw; /* involuntary context switches of the loop thread */
};

/* Record one callback's wall time; keep the worst wall and CPU time. */
static void cb_account(struct bench_dev *dev, uint64_t t0, uint64_t c0, uint64_t *max_ns,
		       uint64_t *max_cpu_ns)
{
	uint64_t dt = clock__mono_ns() - t0, dc = thread_cpu_ns() - c0;

	samples_add(&dev->cb_ns, dt);
	dev->busy_ns += dt;
	if (dt > *max_ns)
		*max_ns = dt;
	if (dc > *max_cpu_ns)
		*max_cpu_ns = dc;
}

/* The done callback of both engines: what the balloon's push + irqfd is. */
static void dev_ack(struct bench_dev *dev, struct bench_report *rep)
{
	uint64_t one = 1;

	rep->ack_ns = clock__mono_ns();
	/* Pairs with the guest's acquire load of `acked`: ack_ns etc. are visible. */
	atomic_fetch_add_explicit(&dev->acked, 1, memory_order_release);
	if (write(dev->ack_fd, &one, sizeof(one)) < 0) {
		/* Saturated counter: readable anyway. */
	}
}

/* The report cookie: the report and its device (the done callback needs both). */
struct report_cookie {
	struct bench_dev *dev;
	struct bench_report *rep;
};

static void on_uring_done(void *cookie, const struct discard_result *res)
{
	struct report_cookie *c = cookie;

	c->rep->service_ns = res->latency_ns;
	c->rep->bytes_done = res->bytes_discarded;
	/* Failed or skipped: either way not given back. */
	c->rep->bytes_failed = res->bytes_requested - res->bytes_discarded;
	dev_ack(c->dev, c->rep);
}

static int discard_one_sync(const struct guest_mem *mem, enum discard_method method,
			    const struct discard_range *r)
{
	const struct guest_region *reg = guest_mem__find(mem, r->gpa, r->len);
	uint64_t rel;
	int ret;

	if (!reg)
		return -EFAULT;
	rel = r->gpa - reg->gpa;
	switch (method) {
	case DISCARD_METHOD_MADVISE:
		ret = madvise(reg->hva + rel, r->len, MADV_DONTNEED);
		break;
	case DISCARD_METHOD_REMOVE:
		ret = madvise(reg->hva + rel, r->len, MADV_REMOVE);
		break;
	case DISCARD_METHOD_PUNCH_HOLE:
		ret = fallocate(reg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)(reg->fd_offset + rel), (off_t)r->len);
		break;
	default:
		return -EINVAL;
	}
	return ret < 0 ? -errno : 0;
}

/* The synchronous engine: one system call per range, in the device thread. */
static void sync_report(struct bench_dev *dev, struct bench_report *rep)
{
	uint64_t t0 = clock__mono_ns();

	for (unsigned int i = 0; i < rep->n; i++) {
		if (discard_one_sync(dev->mem, dev->method, &rep->ranges[i]) < 0)
			rep->bytes_failed += rep->ranges[i].len;
		else
			rep->bytes_done += rep->ranges[i].len;
	}
	rep->service_ns = clock__mono_ns() - t0;
}

static struct report_cookie *cookies;

/* queue_notify: take every report the guest made available, as the balloon does. */
static void on_notify(void *opaque, uint32_t events)
{
	struct bench_dev *dev = opaque;
	uint64_t t0 = clock__mono_ns(), c0 = thread_cpu_ns(), counter;
	unsigned int posted;

	(void)events;
	if (read(dev->notify_fd, &counter, sizeof(counter)) < 0) {
		/* EAGAIN: a kick already consumed with its report. */
	}
	/* Pairs with the guest's release store: the report is filled in. */
	posted = atomic_load_explicit(&dev->posted, memory_order_acquire);
	while (dev->consumed < posted) {
		unsigned int i = dev->consumed++;
		struct bench_report *rep = &dev->reports[i];

		if (dev->kind == ENGINE_SYNC) {
			sync_report(dev, rep);
			dev_ack(dev, rep);
			continue;
		}
		cookies[i] = (struct report_cookie){.dev = dev, .rep = rep};
		if (discard_queue__submit(dev->dq, rep->ranges, rep->n, on_uring_done,
					  &cookies[i]) < 0) {
			rep->bytes_failed = rep->bytes;
			dev_ack(dev, rep);
		}
	}
	cb_account(dev, t0, c0, &dev->max_submit_cb_ns, &dev->max_submit_cb_cpu_ns);
}

/* The discard queue's eventfd, as balloon_discard_event. */
static void on_completion(void *opaque, uint32_t events)
{
	struct bench_dev *dev = opaque;
	uint64_t t0 = clock__mono_ns(), c0 = thread_cpu_ns();

	(void)events;
	dev->reap_callbacks++;
	discard_queue__process_completions(dev->dq);
	cb_account(dev, t0, c0, &dev->max_reap_cb_ns, &dev->max_reap_cb_cpu_ns);
}

/*
 * The device thread: one event loop for the whole benchmark (io_uring's
 * io-wq belongs to the submitting thread, as in the VMM), stopped between
 * runs so that max_callback_ns is per run.
 */
static void *dev_thread(void *arg)
{
	struct bench_dev *dev = arg;
	unsigned int seen = 0;

	for (;;) {
		struct rusage ru0, ru1;
		uint64_t counter;

		pthread_mutex_lock(&dev->lock);
		while (!dev->exiting && dev->round_seq == seen)
			pthread_cond_wait(&dev->cond, &dev->lock);
		if (dev->exiting) {
			pthread_mutex_unlock(&dev->lock);
			return NULL;
		}
		seen = dev->round_seq;
		pthread_mutex_unlock(&dev->lock);

		/* Outside the measured callbacks: the queue's first turn in this
		 * thread starts its io-wq worker (devices/discard/ring.c
		 * discard_ring__warm_up_thread). */
		if (dev->kind == ENGINE_URING)
			discard_queue__process_completions(dev->dq);
		getrusage(RUSAGE_THREAD, &ru0);
		event_loop__run(&dev->loop);
		/* The loop never reads its stop eventfd: clear it for the next run. */
		if (read(dev->loop.stop_fd, &counter, sizeof(counter)) < 0) {
			/* Already clear. */
		}

		getrusage(RUSAGE_THREAD, &ru1);
		pthread_mutex_lock(&dev->lock);
		dev->loop_cpu_s = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
				  (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
				  (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
				  (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
		dev->loop_nivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
		dev->loop_max_callback_ns = dev->loop.max_callback_ns;
		dev->round_done = seen;
		pthread_cond_broadcast(&dev->cond);
		pthread_mutex_unlock(&dev->lock);
	}
}

static int dev_init(struct bench_dev *dev)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->notify_fd = dev->ack_fd = -1;
	ret = event_loop__init(&dev->loop);
	if (ret < 0) {
		fprintf(stderr, "bench-discard: event_loop__init: %s\n", strerror(-ret));
		return ret;
	}
	dev->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->ack_fd = eventfd(0, EFD_CLOEXEC);
	if (dev->notify_fd < 0 || dev->ack_fd < 0) {
		fprintf(stderr, "bench-discard: eventfd: %s\n", strerror(errno));
		return -errno;
	}
	ret = event_loop__add(&dev->loop, dev->notify_fd, EPOLLIN, on_notify, dev);
	if (ret < 0) {
		fprintf(stderr, "bench-discard: event_loop__add: %s\n", strerror(-ret));
		return ret;
	}
	/* Room for the callbacks of a run, so the loop rarely reallocates. */
	dev->cb_ns.cap = 1 << 16;
	dev->cb_ns.v = xcalloc(dev->cb_ns.cap, sizeof(dev->cb_ns.v[0]));
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->cond, NULL);
	ret = pthread_create(&dev->thread, NULL, dev_thread, dev);
	if (ret) {
		fprintf(stderr, "bench-discard: pthread_create: %s\n", strerror(ret));
		return -ret;
	}
	pthread_setname_np(dev->thread, "device-loop"); /* for top and perf */
	return 0;
}

static void dev_exit(struct bench_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	dev->exiting = true;
	pthread_cond_broadcast(&dev->cond);
	pthread_mutex_unlock(&dev->lock);
	pthread_join(dev->thread, NULL);
	event_loop__exit(&dev->loop);
	close(dev->notify_fd);
	close(dev->ack_fd);
	free(dev->cb_ns.v);
}

/* Start the loop thread on a run (it is parked: nothing races with these writes). */
static void dev_start_run(struct bench_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	dev->loop.stopping = false;
	dev->loop.max_callback_ns = 0;
	dev->max_submit_cb_ns = dev->max_reap_cb_ns = 0;
	dev->max_submit_cb_cpu_ns = dev->max_reap_cb_cpu_ns = 0;
	dev->reap_callbacks = 0;
	dev->cb_ns.n = 0;
	dev->busy_ns = 0;
	dev->consumed = 0;
	atomic_store(&dev->posted, 0);
	atomic_store(&dev->acked, 0);
	dev->round_seq++;
	pthread_cond_broadcast(&dev->cond);
	pthread_mutex_unlock(&dev->lock);
}

static void dev_end_run(struct bench_dev *dev)
{
	event_loop__stop(&dev->loop);
	pthread_mutex_lock(&dev->lock);
	while (dev->round_done != dev->round_seq)
		pthread_cond_wait(&dev->cond, &dev->lock);
	pthread_mutex_unlock(&dev->lock);
}

/*
 * The guest: post reports keeping at most `inflight` unacknowledged (Linux's
 * page_reporting and inflate both wait for each chain's used entry, i.e. 1),
 * kicking once per report, sleeping on the interrupt in between. With
 * `busy` it spins on the acknowledgement count instead, like a vCPU that
 * keeps running guest code while the device works: its CPU then takes the
 * TLB-shootdown IPIs of every discard, whichever thread makes it.
 */
static void guest_drive(struct bench_dev *dev, unsigned int inflight, bool busy)
{
	unsigned int n = dev->nr_reports, posted = 0, acked = 0;
	uint64_t one = 1, counter;

	while (acked < n) {
		while (posted < n && posted - acked < inflight) {
			dev->reports[posted].notify_ns = clock__mono_ns();
			atomic_store_explicit(&dev->posted, ++posted, memory_order_release);
			if (write(dev->notify_fd, &one, sizeof(one)) < 0) {
				/* Saturated: readable anyway. */
			}
		}
		if (busy) {
			while (atomic_load_explicit(&dev->acked, memory_order_acquire) == acked)
				__builtin_ia32_pause();
		} else if (read(dev->ack_fd, &counter, sizeof(counter)) < 0 && errno != EINTR) {
			fprintf(stderr, "bench-discard: read(ack eventfd): %s\n", strerror(errno));
			exit(1);
		}
		acked = atomic_load_explicit(&dev->acked, memory_order_acquire);
	}
}

/* ---- guest RAM ---- */

/* One word per 4 KiB page: every page is backed again, cheaply. */
static void touch_all(const struct guest_mem *mem, uint64_t tag)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		for (uint64_t off = 0; off < r->size; off += 4 * KiB)
			*(volatile uint64_t *)(r->hva + off) = tag + off;
	}
}

/* The physical reference: one system call per RAM region. */
static int discard_whole(const struct guest_mem *mem, enum discard_method method)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		struct discard_range range = {.gpa = r->gpa, .len = r->size};
		int ret = discard_one_sync(mem, method, &range);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* One run of adjacent blocks of an -adjacent shape: ranges[first..first+n). */
struct run {
	size_t first, n;
	bool descending;
};

/*
 * Reorder w->ranges (in address order) as runs of adjacent blocks: random
 * lengths of 1 to 2 * per_report blocks, random direction, random order.
 */
static void workload_runs(struct workload *w, const struct shape *shape, uint64_t *seed)
{
	struct discard_range *sorted = xcalloc(w->nr_ranges, sizeof(sorted[0]));
	struct run *runs = xcalloc(w->nr_ranges, sizeof(runs[0]));
	size_t nr_runs = 0, k = 0;

	memcpy(sorted, w->ranges, w->nr_ranges * sizeof(sorted[0]));
	for (size_t i = 0; i < w->nr_ranges; i += runs[nr_runs++].n) {
		size_t n = 1 + (size_t)(xorshift64(seed) % (2 * shape->per_report));

		runs[nr_runs] = (struct run){
			.first = i,
			.n = n < w->nr_ranges - i ? n : w->nr_ranges - i,
			.descending = xorshift64(seed) & 1,
		};
	}
	for (size_t i = nr_runs; i > 1; i--) {
		size_t j = (size_t)(xorshift64(seed) % i);
		struct run t = runs[i - 1];

		runs[i - 1] = runs[j];
		runs[j] = t;
	}
	for (size_t i = 0; i < nr_runs; i++)
		for (size_t j = 0; j < runs[i].n; j++)
			w->ranges[k++] = sorted[runs[i].first +
						(runs[i].descending ? runs[i].n - 1 - j : j)];
	free(runs);
	free(sorted);
}

/* All of RAM cut into the shape's chunks, shuffled, grouped into reports. */
static void workload_build(struct workload *w, const struct guest_mem *mem,
			   const struct shape *shape, uint64_t seed)
{
	size_t k = 0;

	w->nr_ranges = (size_t)(mem->ram_size / shape->chunk);
	w->ranges = xcalloc(w->nr_ranges, sizeof(w->ranges[0]));
	for (unsigned int i = 0; i < mem->nr_regions; i++)
		for (uint64_t off = 0; off + shape->chunk <= mem->regions[i].size;
		     off += shape->chunk)
			w->ranges[k++] = (struct discard_range){
				.gpa = mem->regions[i].gpa + off,
				.len = shape->chunk,
			};
	w->nr_ranges = k;
	seed = seed ? seed : 1;
	if (shape->adjacent) {
		workload_runs(w, shape, &seed);
	} else {
		for (size_t i = w->nr_ranges; i > 1; i--) {
			size_t j = (size_t)(xorshift64(&seed) % i);
			struct discard_range t = w->ranges[i - 1];

			w->ranges[i - 1] = w->ranges[j];
			w->ranges[j] = t;
		}
	}
	w->nr_reports = (unsigned int)((w->nr_ranges + shape->per_report - 1) / shape->per_report);
	w->reports = xcalloc(w->nr_reports, sizeof(w->reports[0]));
	for (unsigned int i = 0; i < w->nr_reports; i++) {
		size_t first = (size_t)i * shape->per_report;
		size_t n = w->nr_ranges - first;

		if (n > shape->per_report)
			n = shape->per_report;
		w->reports[i].ranges = &w->ranges[first];
		w->reports[i].n = (unsigned int)n;
		w->reports[i].bytes = n * shape->chunk;
	}
}

static void workload_free(struct workload *w)
{
	free(w->ranges);
	free(w->reports);
	memset(w, 0, sizeof(*w));
}

/* ---- runs ---- */

static struct result *result_get(enum guest_mem_backend backend, const char *method, int shape,
				 const struct engine *e)
{
	struct result *r;

	for (unsigned int i = 0; i < nr_results; i++) {
		r = &results[i];
		if (r->backend == backend && r->shape == shape && r->engine.kind == e->kind &&
		    r->engine.inflight == e->inflight)
			return r;
	}
	r = &results[nr_results++];
	memset(r, 0, sizeof(*r));
	r->backend = backend;
	r->method = method;
	r->shape = shape;
	r->engine = *e;
	r->freed_ok = true;
	return r;
}

struct run_ctx {
	const struct opts *o;
	struct bench_dev *dev;
	struct guest_mem *mem;
	struct discard_queue *dq;
	enum discard_method method; /* the one dq chose */
	unsigned int round;
};

/* Touch, measure, run, check. w == NULL: the whole-range reference. */
static void run_one(struct run_ctx *c, int shape, struct workload *w, const struct engine *e)
{
	const char *method = discard_method__name(c->method);
	const struct discard_stats *ds = discard_queue__stats(c->dq);
	struct result *r = result_get(c->mem->backend, method, shape, e);
	struct bench_dev *dev = c->dev;
	uint64_t before, after, t0, t1, expected = c->mem->ram_size, reported_done = 0;
	uint64_t ops0 = ds->ops, def0 = ds->sq_full_deferrals, err0 = ds->op_errors;
	double cpu0, cpu1, gibps;
	long long ipi0, ipi1;
	char label[32];
	int ret = 0;

	engine_label(e, label, sizeof(label));
	touch_all(c->mem, ((uint64_t)c->round << 40) | 0x5a5a);
	before = guest_mem__resident_bytes(c->mem);
	if (before != c->mem->ram_size)
		add_error("%s %s %s round %u: only %llu of %llu bytes resident after touching",
			  guest_mem__backend_name(c->mem->backend), shape_name(shape), label,
			  c->round + 1, (unsigned long long)before,
			  (unsigned long long)c->mem->ram_size);

	if (e->kind == ENGINE_WHOLE) {
		ipi0 = flush_ipis();
		cpu0 = rusage_cpu_s(RUSAGE_SELF);
		t0 = clock__mono_ns();
		ret = discard_whole(c->mem, c->method);
		t1 = clock__mono_ns();
		cpu1 = rusage_cpu_s(RUSAGE_SELF);
		ipi1 = flush_ipis();
		if (ret < 0)
			add_error("%s whole-range %s: %s", guest_mem__backend_name(c->mem->backend),
				  method, strerror(-ret));
		else
			reported_done = expected;
		r->max_block_ns = 0;
	} else {
		for (unsigned int i = 0; i < w->nr_reports; i++) {
			struct bench_report *rep = &w->reports[i];

			rep->notify_ns = rep->ack_ns = rep->service_ns = 0;
			rep->bytes_done = rep->bytes_failed = 0;
		}
		dev->kind = e->kind;
		dev->dq = c->dq;
		dev->method = c->method;
		dev->mem = c->mem;
		dev->reports = w->reports;
		dev->nr_reports = w->nr_reports;
		dev_start_run(dev);
		ipi0 = flush_ipis();
		cpu0 = rusage_cpu_s(RUSAGE_SELF);
		t0 = clock__mono_ns();
		guest_drive(dev, e->inflight, c->o->busy_guest);
		t1 = clock__mono_ns();
		cpu1 = rusage_cpu_s(RUSAGE_SELF);
		ipi1 = flush_ipis();
		dev_end_run(dev);

		for (unsigned int i = 0; i < w->nr_reports; i++) {
			const struct bench_report *rep = &w->reports[i];

			samples_add(&r->lat, rep->ack_ns - rep->notify_ns);
			samples_add(&r->svc, rep->service_ns);
			reported_done += rep->bytes_done;
			r->bytes_acked_failed += rep->bytes_failed;
		}
		if (dev->loop_max_callback_ns > r->max_block_ns)
			r->max_block_ns = dev->loop_max_callback_ns;
		if (dev->max_submit_cb_ns > r->max_submit_cb_ns)
			r->max_submit_cb_ns = dev->max_submit_cb_ns;
		if (dev->max_reap_cb_ns > r->max_reap_cb_ns)
			r->max_reap_cb_ns = dev->max_reap_cb_ns;
		if (dev->max_submit_cb_cpu_ns > r->max_cb_cpu_ns)
			r->max_cb_cpu_ns = dev->max_submit_cb_cpu_ns;
		if (dev->max_reap_cb_cpu_ns > r->max_cb_cpu_ns)
			r->max_cb_cpu_ns = dev->max_reap_cb_cpu_ns;
		r->reap_callbacks += dev->reap_callbacks;
		for (size_t i = 0; i < dev->cb_ns.n; i++)
			samples_add(&r->cb, dev->cb_ns.v[i]);
		r->busy_ns += dev->busy_ns;
		r->loop_nivcsw += dev->loop_nivcsw;
		r->loop_cpu_s += dev->loop_cpu_s;
		r->ops += ds->ops - ops0;
		r->deferrals += ds->sq_full_deferrals - def0;
		r->op_errors += ds->op_errors - err0;
		if (e->kind == ENGINE_SYNC)
			r->ops += expected / shapes[shape].chunk;
	}
	after = guest_mem__resident_bytes(c->mem);

	if (r->runs == 0)
		r->flush_ipis = 0;
	if (ipi0 < 0 || ipi1 < ipi0 || r->flush_ipis < 0)
		r->flush_ipis = -1;
	else
		r->flush_ipis += ipi1 - ipi0;
	r->runs++;
	r->bytes += expected;
	r->ns += t1 - t0;
	r->cpu_s += cpu1 - cpu0;
	r->bytes_expected += expected;
	r->bytes_freed += before > after ? before - after : 0;
	gibps = (double)expected / GiB / ((double)(t1 - t0) / 1e9);
	if (r->runs == 1 || gibps < r->gibps_min)
		r->gibps_min = gibps;
	if (gibps > r->gibps_max)
		r->gibps_max = gibps;
	if (after != 0 || before - after != expected || reported_done != expected) {
		r->freed_ok = false;
		add_error("%s %s %s round %u: expected %llu bytes freed; resident %llu -> %llu, "
			  "engine reported %llu discarded",
			  guest_mem__backend_name(c->mem->backend), shape_name(shape), label,
			  c->round + 1, (unsigned long long)expected, (unsigned long long)before,
			  (unsigned long long)after, (unsigned long long)reported_done);
	}
	if (e->kind == ENGINE_WHOLE)
		progress("[%s] round %u/%u %-18s %-9s %8.2f GiB/s",
			 guest_mem__backend_name(c->mem->backend), c->round + 1, c->o->rounds,
			 shape_name(shape), label, gibps);
	else
		progress("[%s] round %u/%u %-18s %-9s %8.2f GiB/s  loop block %8.1f us",
			 guest_mem__backend_name(c->mem->backend), c->round + 1, c->o->rounds,
			 shape_name(shape), label, gibps, (double)dev->loop_max_callback_ns / 1e3);
}

static int run_backend(const struct opts *o, struct bench_dev *dev, enum guest_mem_backend backend)
{
	struct engine engines[4];
	unsigned int nr_engines = 0;
	struct workload w[NR_SHAPES];
	struct guest_mem mem;
	struct discard_queue dq;
	struct discard_info info;
	struct run_ctx c = {.o = o, .dev = dev, .mem = &mem, .dq = &dq};
	const struct engine whole = {.kind = ENGINE_WHOLE, .inflight = 0};
	int ret;

	for (unsigned int i = 0; i < (o->inflight > 1 ? 2u : 1u); i++) {
		unsigned int inflight = i ? o->inflight : 1;

		if (o->engine_mask & (1u << ENGINE_SYNC))
			engines[nr_engines++] = (struct engine){ENGINE_SYNC, inflight};
		if (o->engine_mask & (1u << ENGINE_URING))
			engines[nr_engines++] = (struct engine){ENGINE_URING, inflight};
	}

	ret = guest_mem__init(&mem, o->size, backend);
	if (ret < 0) {
		add_error("guest_mem__init(%llu bytes, %s): %s", (unsigned long long)o->size,
			  guest_mem__backend_name(backend), strerror(-ret));
		return ret;
	}
	ret = discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL);
	if (ret < 0) {
		add_error("discard_queue__init on %s: %s", guest_mem__backend_name(backend),
			  strerror(-ret));
		guest_mem__exit(&mem);
		return ret;
	}
	discard_queue__describe(&dq, &info);
	c.method = info.method;
	/* Between runs the loop thread is parked: adding handlers is safe. */
	ret = event_loop__add(&dev->loop, discard_queue__eventfd(&dq), EPOLLIN, on_completion, dev);
	if (ret < 0) {
		add_error("event_loop__add: %s", strerror(-ret));
		goto out;
	}
	memset(w, 0, sizeof(w));
	for (int s = 0; s < NR_SHAPES; s++)
		if (o->shape_mask & (1u << s))
			workload_build(&w[s], &mem, &shapes[s], o->seed + (uint64_t)s);

	/*
	 * Interleaved: each round runs every engine once per shape, in an order
	 * rotated by the round, and the whole-range reference once.
	 */
	for (unsigned int round = 0; round < o->rounds; round++) {
		unsigned int nth = 0;

		c.round = round;
		for (int s = 0; s < NR_SHAPES; s++) {
			if (!(o->shape_mask & (1u << s)))
				continue;
			for (unsigned int k = 0; k < nr_engines; k++)
				run_one(&c, s, &w[s], &engines[(k + round) % nr_engines]);
			if ((o->engine_mask & (1u << ENGINE_WHOLE)) &&
			    nth++ == round % (unsigned int)__builtin_popcount(o->shape_mask))
				run_one(&c, SHAPE_WHOLE, NULL, &whole);
		}
	}

	for (int s = 0; s < NR_SHAPES; s++)
		workload_free(&w[s]);
	event_loop__del(&dev->loop, discard_queue__eventfd(&dq));
out:
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
	return ret;
}

/* ---- figures ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double percentile_us(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1e3;
}

static void finish_result(struct result *r)
{
	r->gibps = r->ns ? (double)r->bytes / GiB / ((double)r->ns / 1e9) : 0;
	if (r->lat.n) {
		qsort(r->lat.v, r->lat.n, sizeof(uint64_t), cmp_u64);
		qsort(r->svc.v, r->svc.n, sizeof(uint64_t), cmp_u64);
		r->p50_us = percentile_us(r->lat.v, r->lat.n, 50);
		r->p99_us = percentile_us(r->lat.v, r->lat.n, 99);
		r->max_us = (double)r->lat.v[r->lat.n - 1] / 1e3;
		r->svc_p50_us = percentile_us(r->svc.v, r->svc.n, 50);
		r->svc_p99_us = percentile_us(r->svc.v, r->svc.n, 99);
	}
	if (r->cb.n) {
		qsort(r->cb.v, r->cb.n, sizeof(uint64_t), cmp_u64);
		r->cb_p99_us = percentile_us(r->cb.v, r->cb.n, 99);
	}
	if (r->ns && r->engine.kind != ENGINE_WHOLE) {
		r->busy_pct = 100.0 * (double)r->busy_ns / (double)r->ns;
		/* The last callback ends a little after its ack stopped the clock. */
		if (r->busy_pct > 100.0)
			r->busy_pct = 100.0;
	}
	if (r->engine.kind == ENGINE_URING) {
		const struct engine sync = {.kind = ENGINE_SYNC, .inflight = r->engine.inflight};

		for (unsigned int i = 0; i < nr_results; i++)
			if (results[i].backend == r->backend && results[i].shape == r->shape &&
			    results[i].engine.kind == sync.kind &&
			    results[i].engine.inflight == sync.inflight)
				r->sync_peer = &results[i];
	}
}

/* The targets for the io_uring engine at one inflight value, worst case. */
struct verdict {
	bool present;
	double thr_ratio; /* min over backends and shapes */
	double p99_ratio; /* max */
	double block_us;  /* max */
	double cb_cpu_us; /* max: the engine's own work in one callback */
	const struct result *thr_at, *p99_at, *block_at, *cb_cpu_at;
};

static struct verdict verdict_for(unsigned int inflight, int only_backend)
{
	struct verdict v = {.thr_ratio = 0};

	for (unsigned int i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];
		double thr, p99;

		if (r->engine.kind != ENGINE_URING || r->engine.inflight != inflight ||
		    !r->sync_peer)
			continue;
		if (only_backend >= 0 && (int)r->backend != only_backend)
			continue;
		thr = r->sync_peer->gibps > 0 ? r->gibps / r->sync_peer->gibps : 0;
		p99 = r->sync_peer->p99_us > 0 ? r->p99_us / r->sync_peer->p99_us : 0;
		if (!v.present || thr < v.thr_ratio) {
			v.thr_ratio = thr;
			v.thr_at = r;
		}
		if (!v.present || p99 > v.p99_ratio) {
			v.p99_ratio = p99;
			v.p99_at = r;
		}
		if (!v.present || (double)r->max_block_ns / 1e3 > v.block_us) {
			v.block_us = (double)r->max_block_ns / 1e3;
			v.block_at = r;
		}
		if (!v.present || (double)r->max_cb_cpu_ns / 1e3 > v.cb_cpu_us) {
			v.cb_cpu_us = (double)r->max_cb_cpu_ns / 1e3;
			v.cb_cpu_at = r;
		}
		v.present = true;
	}
	return v;
}

static const char *pass(bool ok)
{
	return ok ? "PASS" : "MISS";
}

static void print_where(char *buf, size_t len, const struct result *r)
{
	if (!r)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s %s", guest_mem__backend_name(r->backend),
			 shape_name(r->shape));
}

static double load_at_start;

static double load_now(void)
{
	double l[1] = {0};

	getloadavg(l, 1);
	return l[0];
}

static void print_table(const struct opts *o, double cpu_total_s)
{
	struct utsname u;

	uname(&u);
	printf("bench-discard: %.2f GiB guest RAM, %u round(s), reports in flight 1 and %u, "
	       "guest thread %s, %ld CPUs, Linux %s, load average %.2f at start, %.2f at end\n",
	       (double)o->size / GiB, o->rounds, o->inflight,
	       o->busy_guest ? "spinning (--busy-guest)" : "sleeping",
	       sysconf(_SC_NPROCESSORS_ONLN), u.release, load_at_start, load_now());
	for (int i = 0; i < NR_SHAPES; i++)
		if (o->shape_mask & (1u << i))
			printf("%-18s %s\n", shapes[i].name, shapes[i].what);
	printf("%-18s one system call per RAM region (the physical reference)\n", "whole-range");
	printf("p50/p99: per report, guest kick -> ack. block: the device loop's longest callback; "
	       "cb p99: p99 of its callbacks;\nbusy: share of the run the loop spent in "
	       "callbacks. CPU s: the process (io-wq included), loop s: the loop thread.\n"
	       "IPI/GiB: TLB-shootdown and function-call IPIs (/proc/interrupts TLB + CAL, all "
	       "CPUs)\nper GiB discarded.\n\n");
	printf("%-7s %-18s %-10s %-9s %6s %13s %6s %7s %7s %8s %7s %6s %6s %6s %7s  %s\n",
	       "backend", "shape", "method", "engine", "GiB/s", "(min-max)", "x sync", "p50 us",
	       "p99 us", "block us", "cb p99", "busy %", "CPU s", "loop s", "IPI/GiB", "freed");
	for (unsigned int i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];
		char label[32], range[32], ratio[16] = "-", p50[16] = "-", p99[16] = "-",
					   block[16] = "-", cbp99[16] = "-", busy[16] = "-",
					   loop[16] = "-", ipis[16] = "-";
		const struct result *base = NULL;

		engine_label(&r->engine, label, sizeof(label));
		snprintf(range, sizeof(range), "(%.2f-%.2f)", r->gibps_min, r->gibps_max);
		/* Ratios against the synchronous loop at the same inflight (whole: vs sync x1). */
		for (unsigned int j = 0; j < nr_results; j++)
			if (results[j].backend == r->backend &&
			    results[j].engine.kind == ENGINE_SYNC &&
			    (results[j].shape == r->shape ||
			     (r->shape == SHAPE_WHOLE && results[j].shape == 0)) &&
			    results[j].engine.inflight ==
				    (r->engine.kind == ENGINE_WHOLE ? 1 : r->engine.inflight))
				base = &results[j];
		if (base && base->gibps > 0)
			snprintf(ratio, sizeof(ratio), "%.2f", r->gibps / base->gibps);
		if (r->engine.kind != ENGINE_WHOLE) {
			snprintf(p50, sizeof(p50), "%.0f", r->p50_us);
			snprintf(p99, sizeof(p99), "%.0f", r->p99_us);
			snprintf(block, sizeof(block), "%.0f", (double)r->max_block_ns / 1e3);
			snprintf(cbp99, sizeof(cbp99), "%.0f", r->cb_p99_us);
			snprintf(busy, sizeof(busy), "%.1f", r->busy_pct);
			snprintf(loop, sizeof(loop), "%.2f", r->loop_cpu_s);
		}
		if (r->flush_ipis >= 0 && r->bytes)
			snprintf(ipis, sizeof(ipis), "%.0f",
				 (double)r->flush_ipis / ((double)r->bytes / GiB));
		printf("%-7s %-18s %-10s %-9s %6.2f %13s %6s %7s %7s %8s %7s %6s %6.2f %6s %7s  "
		       "%s\n",
		       guest_mem__backend_name(r->backend), shape_name(r->shape), r->method, label,
		       r->gibps, range, ratio, p50, p99, block, cbp99, busy, r->cpu_s, loop, ipis,
		       r->freed_ok ? "ok" : "MISMATCH");
	}
	printf("(whole-range: x sync is against sync x1 on report-2M)\n");

	printf("\ntargets for the io_uring engine vs the sync loop (same backend, shape and "
	       "reports in flight; worst case):\n");
	for (int k = 0; k < 2; k++) {
		unsigned int inflight = k == 0 ? 1 : o->inflight;
		struct verdict v;
		char a[48], b[48], c[48], d[48];

		if (k == 1 && o->inflight <= 1)
			break;
		v = verdict_for(inflight, -1);
		if (!v.present)
			continue;
		print_where(a, sizeof(a), v.thr_at);
		print_where(b, sizeof(b), v.p99_at);
		print_where(c, sizeof(c), v.block_at);
		print_where(d, sizeof(d), v.cb_cpu_at);
		printf("  %u in flight%s:\n", inflight, inflight == 1 ? " (Linux today)" : "");
		printf("    throughput >= %.2fx sync    %6.2fx  %-4s  (worst: %s)\n",
		       TARGET_THROUGHPUT_RATIO, v.thr_ratio,
		       pass(v.thr_ratio >= TARGET_THROUGHPUT_RATIO), a);
		printf("    report p99 <= %.2fx sync    %6.2fx  %-4s  (worst: %s)\n",
		       TARGET_P99_RATIO, v.p99_ratio, pass(v.p99_ratio <= TARGET_P99_RATIO), b);
		printf("    loop blocked <= %.0f us     %7.1f us %-4s  (worst: %s)\n",
		       TARGET_LOOP_BLOCK_US, v.block_us, pass(v.block_us <= TARGET_LOOP_BLOCK_US),
		       c);
		/* Not a target: tells the engine's work from preemption of the loop thread. */
		printf("    (most CPU in one callback %7.1f us       (worst: %s))\n", v.cb_cpu_us,
		       d);
	}
	printf("\nprocess CPU time: %.2f s (user+sys, all threads incl. io-wq workers)\n",
	       cpu_total_s);
	if (nr_errors) {
		printf("\n%u ERROR(S):\n", nr_errors);
		for (unsigned int i = 0; i < nr_errors && i < MAX_ERRORS; i++)
			printf("  %s\n", errors[i]);
	}
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_verdict(FILE *f, const struct verdict *v)
{
	fprintf(f,
		"{\"ratio_throughput_vs_sync\": %.4f, \"report_p99_ratio_vs_sync\": %.4f, "
		"\"max_loop_block_us\": %.1f, \"max_callback_cpu_us\": %.1f, "
		"\"throughput_pass\": %s, \"p99_pass\": %s, \"loop_block_pass\": %s}",
		v->thr_ratio, v->p99_ratio, v->block_us, v->cb_cpu_us,
		v->thr_ratio >= TARGET_THROUGHPUT_RATIO ? "true" : "false",
		v->p99_ratio <= TARGET_P99_RATIO ? "true" : "false",
		v->block_us <= TARGET_LOOP_BLOCK_US ? "true" : "false");
}

static void print_json(FILE *f, const struct opts *o, double cpu_user_s, double cpu_sys_s)
{
	struct verdict v1 = verdict_for(1, -1), vn = verdict_for(o->inflight, -1);
	struct utsname u;

	uname(&u);
	fprintf(f, "{\n  \"tool\": \"bench-discard\",\n");
	fprintf(f, "  \"size_bytes\": %llu,\n  \"rounds\": %u,\n  \"inflight\": %u,\n",
		(unsigned long long)o->size, o->rounds, o->inflight);
	fprintf(f, "  \"busy_guest\": %s,\n", o->busy_guest ? "true" : "false");
	fprintf(f, "  \"nproc\": %ld,\n  \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_string(f, u.release);
	fprintf(f, ",\n  \"loadavg_start\": %.2f,\n  \"loadavg_end\": %.2f,\n", load_at_start,
		load_now());
	/* The headline: io_uring at 1 report in flight (Linux's driver), worst case. */
	fprintf(f, "  \"ratio_throughput_vs_sync\": %.4f,\n", v1.thr_ratio);
	fprintf(f, "  \"report_p99_ratio_vs_sync\": %.4f,\n", v1.p99_ratio);
	fprintf(f, "  \"max_loop_block_us\": %.1f,\n",
		v1.block_us > vn.block_us ? v1.block_us : vn.block_us);
	fprintf(f,
		"  \"targets\": {\"throughput_ratio_min\": %.2f, \"p99_ratio_max\": %.2f, "
		"\"loop_block_us_max\": %.0f},\n",
		TARGET_THROUGHPUT_RATIO, TARGET_P99_RATIO, TARGET_LOOP_BLOCK_US);
	fprintf(f, "  \"inflight_1\": ");
	json_verdict(f, &v1);
	fprintf(f, ",\n  \"inflight_n\": ");
	if (o->inflight > 1)
		json_verdict(f, &vn);
	else
		fprintf(f, "null");
	fprintf(f, ",\n  \"by_backend\": {");
	for (unsigned int b = 0; b < o->nr_backends; b++) {
		struct verdict vb1 = verdict_for(1, (int)o->backends[b]);
		struct verdict vbn = verdict_for(o->inflight, (int)o->backends[b]);

		fprintf(f, "%s\n    \"%s\": {\"inflight_1\": ", b ? "," : "",
			guest_mem__backend_name(o->backends[b]));
		json_verdict(f, &vb1);
		fprintf(f, ", \"inflight_n\": ");
		if (o->inflight > 1)
			json_verdict(f, &vbn);
		else
			fprintf(f, "null");
		fprintf(f, "}");
	}
	fprintf(f, "\n  },\n");
	fprintf(f, "  \"cpu\": {\"process_user_s\": %.3f, \"process_sys_s\": %.3f},\n", cpu_user_s,
		cpu_sys_s);
	fprintf(f, "  \"results\": [");
	for (unsigned int i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];

		fprintf(f,
			"%s\n    {\"backend\": \"%s\", \"method\": \"%s\", \"shape\": \"%s\", "
			"\"engine\": \"%s\", \"inflight\": %u, \"runs\": %u, \"bytes\": %llu, "
			"\"seconds\": %.6f, \"gib_per_s\": %.3f, \"gib_per_s_min\": %.3f, "
			"\"gib_per_s_max\": %.3f, ",
			i ? "," : "", guest_mem__backend_name(r->backend), r->method,
			shape_name(r->shape), engine_kind_name(r->engine.kind), r->engine.inflight,
			r->runs, (unsigned long long)r->bytes, (double)r->ns / 1e9, r->gibps,
			r->gibps_min, r->gibps_max);
		fprintf(f,
			"\"reports\": %zu, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, "
			"\"service_p50_us\": %.1f, \"service_p99_us\": %.1f, "
			"\"max_loop_block_us\": %.1f, \"max_submit_callback_us\": %.1f, "
			"\"max_completion_callback_us\": %.1f, \"max_callback_cpu_us\": %.1f, "
			"\"callback_p99_us\": %.1f, \"callbacks\": %zu, \"loop_busy_pct\": %.2f, "
			"\"completion_callbacks\": %llu, \"loop_involuntary_switches\": %ld, ",
			r->lat.n, r->p50_us, r->p99_us, r->max_us, r->svc_p50_us, r->svc_p99_us,
			(double)r->max_block_ns / 1e3, (double)r->max_submit_cb_ns / 1e3,
			(double)r->max_reap_cb_ns / 1e3, (double)r->max_cb_cpu_ns / 1e3,
			r->cb_p99_us, r->cb.n, r->busy_pct, (unsigned long long)r->reap_callbacks,
			r->loop_nivcsw);
		if (r->sync_peer)
			fprintf(f,
				"\"ratio_throughput_vs_sync\": %.4f, \"report_p99_ratio_vs_sync\": "
				"%.4f, ",
				r->sync_peer->gibps > 0 ? r->gibps / r->sync_peer->gibps : 0,
				r->sync_peer->p99_us > 0 ? r->p99_us / r->sync_peer->p99_us : 0);
		fprintf(f,
			"\"cpu_s\": %.4f, \"loop_cpu_s\": %.4f, \"flush_ipis\": %lld, "
			"\"ops\": %llu, "
			"\"sq_full_deferrals\": %llu, \"op_errors\": %llu, "
			"\"bytes_expected\": %llu, \"bytes_freed\": %llu, \"bytes_failed\": %llu, "
			"\"freed_ok\": %s}",
			r->cpu_s, r->loop_cpu_s, r->flush_ipis, (unsigned long long)r->ops,
			(unsigned long long)r->deferrals, (unsigned long long)r->op_errors,
			(unsigned long long)r->bytes_expected, (unsigned long long)r->bytes_freed,
			(unsigned long long)r->bytes_acked_failed, r->freed_ok ? "true" : "false");
	}
	fprintf(f, "\n  ],\n  \"errors\": [");
	for (unsigned int i = 0; i < nr_errors && i < MAX_ERRORS; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_string(f, errors[i]);
	}
	fprintf(f, "],\n  \"ok\": %s\n}\n", nr_errors ? "false" : "true");
}

/* ---- command line ---- */

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mult = KiB;
		end++;
		break;
	case 'm':
	case 'M':
		mult = MiB;
		end++;
		break;
	case 'g':
	case 'G':
		mult = GiB;
		end++;
		break;
	case 't':
	case 'T':
		mult = GiB * 1024;
		end++;
		break;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end || v == 0 || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int parse_shapes(const char *arg, unsigned int *mask)
{
	char buf[128], *save = NULL;

	if (strcmp(arg, "all") == 0) {
		*mask = (1u << NR_SHAPES) - 1;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	*mask = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < NR_SHAPES && strcmp(t, shapes[i].name) != 0; i++)
			;
		if (i == NR_SHAPES)
			return -EINVAL;
		*mask |= 1u << i;
	}
	return *mask ? 0 : -EINVAL;
}

/* For profiling one engine alone; the comparison needs sync and uring. */
static int parse_engines(const char *arg, unsigned int *mask)
{
	static const enum engine_kind kinds[] = {ENGINE_SYNC, ENGINE_URING, ENGINE_WHOLE};
	char buf[64], *save = NULL;

	if (strcmp(arg, "all") == 0) {
		*mask = (1u << ENGINE_SYNC) | (1u << ENGINE_URING) | (1u << ENGINE_WHOLE);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	*mask = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned int i;

		for (i = 0; i < 3 && strcmp(t, engine_kind_name(kinds[i])) != 0; i++)
			;
		if (i == 3)
			return -EINVAL;
		*mask |= 1u << kinds[i];
	}
	return *mask ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-discard [--size SIZE] [--rounds N] [--backend anon|memfd|thp|all]\n"
		"                     [--inflight N] [--shape LIST] [--engine LIST] [--json]\n"
		"                     [--json-out FILE] [--seed N] [--busy-guest] [--quiet]\n"
		"       bench-discard --hostile [--run-ms MS] [--rounds N] [--json]\n"
		"                     [--json-out FILE] [--quiet]\n"
		"  --size SIZE     guest RAM per backend, a multiple of 4M (default 2G; K/M/G/T)\n"
		"  --rounds N      interleaved rounds (default 3)\n"
		"  --backend B     anon, memfd, thp, or all = anon and memfd (default all)\n"
		"  --inflight N    reports in flight for the second pair of runs (default 4;\n"
		"                  1 in flight, as Linux's driver does, is always run)\n"
		"  --shape LIST    report-2M,report-4M,inflate-4K,report-2M-adjacent,\n"
		"                  report-4M-adjacent or all (default all)\n"
		"  --engine LIST   sync,uring,whole or all (default all; one alone is for\n"
		"                  profiling: the ratios need sync and uring)\n"
		"  --json          JSON on stdout instead of the table\n"
		"  --json-out FILE also write the JSON to FILE\n"
		"  --seed N        shuffle seed for the report layout (default 1)\n"
		"  --busy-guest    the guest thread spins while it waits for an acknowledgement,\n"
		"                  like a running vCPU, instead of sleeping on the interrupt\n"
		"  --quiet         no progress on stderr\n"
		"  --hostile       instead: the balloon on a real device loop, a well-behaved\n"
		"                  guest's reports alone, under a guest keeping a ring full, and\n"
		"                  the same without the per-notify budget: callback times\n"
		"                  (tools/bench/hostile.c)\n"
		"  --run-ms MS     --hostile: each run's length (default 2000)\n"
		"Exit 0 unless something failed functionally (memory not freed, a discard\n"
		"failing); missed performance targets are reported, not failed.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"size", required_argument, NULL, 's'},
		{"rounds", required_argument, NULL, 'r'},
		{"backend", required_argument, NULL, 'b'},
		{"inflight", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"json-out", required_argument, NULL, 'o'},
		{"seed", required_argument, NULL, 'S'},
		{"shape", required_argument, NULL, 'p'},
		{"engine", required_argument, NULL, 'e'},
		{"quiet", no_argument, NULL, 'q'},
		{"busy-guest", no_argument, NULL, 'B'},
		{"hostile", no_argument, NULL, 'H'},
		{"run-ms", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *backend = "all";
	unsigned int seed = 1;
	int c;

	*o = (struct opts){
		.size = 2 * GiB, .rounds = 3, .inflight = 4, .seed = 1, .hostile_ms = 2000};
	o->shape_mask = (1u << NR_SHAPES) - 1;
	o->engine_mask = (1u << ENGINE_SYNC) | (1u << ENGINE_URING) | (1u << ENGINE_WHOLE);
	while ((c = getopt_long(argc, argv, "s:r:b:n:jo:S:p:e:qBHm:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &o->size) < 0 || o->size % (4 * MiB)) {
				fprintf(stderr,
					"bench-discard: --size %s: a multiple of 4M expected\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			if (parse_uint(optarg, 1000, &o->rounds) < 0) {
				fprintf(stderr, "bench-discard: --rounds %s: 1..1000 expected\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			backend = optarg;
			break;
		case 'n':
			if (parse_uint(optarg, 256, &o->inflight) < 0) {
				fprintf(stderr, "bench-discard: --inflight %s: 1..256 expected\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'B':
			o->busy_guest = true;
			break;
		case 'H':
			o->hostile = true;
			break;
		case 'm':
			if (parse_uint(optarg, 600000, &o->hostile_ms) < 0 || o->hostile_ms < 100) {
				fprintf(stderr,
					"bench-discard: --run-ms %s: 100..600000 expected\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			o->json_out = optarg;
			break;
		case 'S':
			if (parse_uint(optarg, UINT32_MAX, &seed) < 0) {
				fprintf(stderr, "bench-discard: --seed %s: a positive integer\n",
					optarg);
				return -EINVAL;
			}
			o->seed = seed;
			break;
		case 'p':
			if (parse_shapes(optarg, &o->shape_mask) < 0) {
				fprintf(stderr,
					"bench-discard: --shape %s: a comma-separated list of "
					"report-2M, report-4M, inflate-4K, report-2M-adjacent, "
					"report-4M-adjacent, or all\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'e':
			if (parse_engines(optarg, &o->engine_mask) < 0) {
				fprintf(stderr,
					"bench-discard: --engine %s: a comma-separated list of "
					"sync, uring, whole, or all\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench-discard: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (strcmp(backend, "all") == 0) {
		o->backends[o->nr_backends++] = GUEST_MEM_ANON;
		o->backends[o->nr_backends++] = GUEST_MEM_MEMFD;
	} else {
		enum guest_mem_backend b;

		/* hugetlbfs frees whole huge pages only: the 4 KiB shape cannot be freed. */
		if (guest_mem__parse_backend(backend, &b) < 0 || b == GUEST_MEM_HUGETLBFS) {
			fprintf(stderr, "bench-discard: --backend %s: anon, memfd, thp or all\n",
				backend);
			return -EINVAL;
		}
		o->backends[o->nr_backends++] = b;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_dev dev;
	struct opts o;
	struct rusage ru;
	unsigned int max_reports = 0;
	double user_s, sys_s;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (o.hostile) {
		struct hostile_opts ho = {.run_ms = o.hostile_ms,
					  .rounds = o.rounds,
					  .json = o.json,
					  .json_out = o.json_out,
					  .quiet = o.quiet};

		log__set_level(LOG_WARN);
		return bench_hostile__run(&ho);
	}
	quiet = o.quiet;
	load_at_start = load_now();
	log__set_level(o.quiet ? LOG_WARN : LOG_INFO);

	/* One result per backend x (shapes x 4 engines + whole). */
	results = xcalloc((size_t)o.nr_backends * (NR_SHAPES * 4 + 1), sizeof(results[0]));
	for (int s = 0; s < NR_SHAPES; s++) {
		uint64_t n = (o.size / shapes[s].chunk + shapes[s].per_report - 1) /
			     shapes[s].per_report;

		if (n > max_reports)
			max_reports = (unsigned int)n;
	}
	cookies = xcalloc(max_reports, sizeof(cookies[0]));
	if (dev_init(&dev) < 0)
		return 1;

	for (unsigned int b = 0; b < o.nr_backends; b++) {
		progress("%s: %.2f GiB, %u round(s)", guest_mem__backend_name(o.backends[b]),
			 (double)o.size / GiB, o.rounds);
		run_backend(&o, &dev, o.backends[b]);
	}
	dev_exit(&dev);

	for (unsigned int i = 0; i < nr_results; i++)
		finish_result(&results[i]);
	getrusage(RUSAGE_SELF, &ru);
	user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (o.json)
		print_json(stdout, &o, user_s, sys_s);
	else
		print_table(&o, user_s + sys_s);
	if (o.json_out) {
		FILE *f = fopen(o.json_out, "w");

		if (!f || (print_json(f, &o, user_s, sys_s), fclose(f)) != 0) {
			fprintf(stderr, "bench-discard: writing %s: %s\n", o.json_out,
				strerror(errno));
			return 1;
		}
	}
	for (unsigned int i = 0; i < nr_results; i++) {
		free(results[i].lat.v);
		free(results[i].svc.v);
		free(results[i].cb.v);
	}
	free(results);
	free(cookies);
	return nr_errors ? 1 : 0;
}
