// SPDX-License-Identifier: GPL-2.0
/*
 * The io_uring discard engine on real memory: for each backend, touched
 * memory inside the discarded ranges really leaves the host, memory outside
 * keeps its content; invalid ranges are refused and counted; the probe picks
 * the right method; a full ring defers instead of blocking; failed ops are
 * retried and never hang a report.
 */
#define _GNU_SOURCE
#include "devices/discard/queue.h"
#include "testlib.h"
#include "base/guest_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <linux/memfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

struct done_rec {
	unsigned int calls;
	struct discard_result res;
};

static void on_done(void *cookie, const struct discard_result *res)
{
	struct done_rec *d = cookie;

	d->calls++;
	d->res = *res;
}

/* Poll the eventfd like the device thread does until `d` has been called. */
static void wait_done(struct discard_queue *dq, struct done_rec *d)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!d->calls) {
		struct pollfd pfd = {.fd = dq->eventfd, .events = POLLIN};

		poll(&pfd, 1, 100);
		discard_queue__process_completions(dq);
		clock_gettime(CLOCK_MONOTONIC, &t);
		CHECK(t.tv_sec - t0.tv_sec < 20);
	}
}

static uint64_t resident(const void *hva, uint64_t len)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t pages = len / (uint64_t)psz, n = 0;
	unsigned char *vec = malloc(pages);

	CHECK(vec != NULL);
	CHECK_EQ(mincore((void *)hva, len, vec), 0);
	for (uint64_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n * (uint64_t)psz;
}

static uint64_t fd_bytes(int fd)
{
	struct stat st;

	CHECK_EQ(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* A done callback that first checks every range of its report is gone. */
struct ack_check {
	struct done_rec d;
	const struct discard_range *ranges;
	unsigned int n;
	uint8_t *hva; /* guest RAM at gpa 0 */
	uint64_t resident_at_ack;
};

static void on_done_check(void *cookie, const struct discard_result *res)
{
	struct ack_check *c = cookie;

	for (unsigned int i = 0; i < c->n; i++)
		c->resident_at_ack += resident(c->hva + c->ranges[i].gpa, c->ranges[i].len);
	on_done(&c->d, res);
}

/* One word per 4 KiB page, derived from its address: cheap to write and check. */
static uint64_t pattern(uint64_t gpa)
{
	return (gpa * 0x9e3779b97f4a7c15ULL) | 1;
}

static void fill(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (uint64_t a = gpa; a < gpa + len; a += 4096) {
		uint64_t v = pattern(a);

		CHECK_EQ(guest_mem__write(mem, a, &v, sizeof(v)), 0);
	}
}

/* Filled anon RAM of `size` and a uring queue over it whose small ops stay on the ring. */
static uint8_t *ring_only_queue(struct discard_queue *dq, struct guest_mem *mem, uint64_t size,
				struct discard_faults *faults)
{
	CHECK_EQ(guest_mem__init(mem, size, GUEST_MEM_ANON), 0);
	CHECK_EQ(discard_queue__init(dq, mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	dq->faults = faults;
	faults->ring_only = true; /* sub-2 MiB ops would go to the page worker */
	fill(mem, 0, size);
	return guest_mem__translate(mem, 0, size);
}

/* Every page of [gpa, gpa+len) holds its pattern (intact) or zero (discarded). */
static void expect(struct guest_mem *mem, uint64_t gpa, uint64_t len, bool intact)
{
	for (uint64_t a = gpa; a < gpa + len; a += 4096) {
		uint64_t v;

		CHECK_EQ(guest_mem__read(mem, a, &v, sizeof(v)), 0);
		if (intact && v != pattern(a)) {
			fprintf(stderr, "page at %#llx lost its content\n", (unsigned long long)a);
			CHECK(0);
		}
		if (!intact && v != 0) {
			fprintf(stderr, "page at %#llx was not discarded\n", (unsigned long long)a);
			CHECK(0);
		}
	}
}

/*
 * Touch 32 MiB, discard four ranges (two of them adjacent: coalesced into
 * one op), and check RSS and content inside and outside.
 */
static void test_backend(enum guest_mem_backend backend, enum discard_method want)
{
	const uint64_t size = 32 * MiB;
	const struct discard_range ranges[] = {
		{4 * MiB, 2 * MiB},
		{10 * MiB, 4 * KiB},
		{20 * MiB, 4 * MiB},
		{24 * MiB, 4 * MiB}, /* adjacent to the previous one */
	};
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};
	uint8_t *hva;
	uint64_t total = 2 * MiB + 4 * KiB + 8 * MiB, before_fd = 0;

	fprintf(stderr, "-- %s\n", guest_mem__backend_name(backend));
	CHECK_EQ(guest_mem__init(&mem, size, backend), 0);
	hva = guest_mem__translate(&mem, 0, size);
	CHECK(hva != NULL);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	CHECK_EQ(dq.method, want);
	CHECK_EQ(dq.engine, DISCARD_ENGINE_URING);
	CHECK(strstr(dq.reason, "verified: a probe page was freed") != NULL);

	fill(&mem, 0, size);
	CHECK_EQ(resident(hva, size), size);
	if (mem.fd >= 0)
		before_fd = fd_bytes(mem.fd);

	CHECK_EQ(discard_queue__submit(&dq, ranges, 4, on_done, &d), 0);
	CHECK_EQ(d.calls, 0); /* never from inside submit() */
	wait_done(&dq, &d);
	CHECK_EQ(d.calls, 1);
	CHECK_EQ(d.res.bytes_requested, total);
	CHECK_EQ(d.res.bytes_discarded, total);
	CHECK_EQ(d.res.bytes_skipped, 0);
	CHECK_EQ(d.res.ops, 3); /* 20..24 and 24..28 MiB coalesced */
	CHECK_EQ(d.res.op_errors, 0);

	/*
	 * Private anonymous memory (anon, thp) under THP: khugepaged may
	 * collapse a huge page around the 4 KiB hole again at any moment,
	 * filling the hole with zeros (max_ptes_none), so there a range
	 * smaller than a huge page is checked by its content (below), not by
	 * RSS. Seen once in CI: the 4 KiB range resident again, on thp.
	 */
	bool collapsible = backend == GUEST_MEM_ANON || backend == GUEST_MEM_THP;

	for (unsigned int i = 0; i < 4; i++) {
		if (collapsible && ranges[i].len < 2 * MiB)
			continue;
		CHECK_EQ(resident(hva + ranges[i].gpa, ranges[i].len), 0);
	}
	if (collapsible)
		CHECK(resident(hva, size) <= size - total + 2 * MiB);
	else
		CHECK_EQ(resident(hva, size), size - total);
	if (mem.fd >= 0)
		CHECK_EQ(before_fd - fd_bytes(mem.fd), total);

	/* Outside: intact. Inside: zero on the next read (which faults pages back in). */
	expect(&mem, 0, 4 * MiB, true);
	expect(&mem, 6 * MiB, 4 * MiB, true);
	expect(&mem, 10 * MiB + 4 * KiB, 10 * MiB - 4 * KiB, true);
	expect(&mem, 28 * MiB, 4 * MiB, true);
	expect(&mem, 4 * MiB, 2 * MiB, false);
	expect(&mem, 10 * MiB, 4 * KiB, false);
	expect(&mem, 20 * MiB, 8 * MiB, false);

	CHECK_EQ(dq.stats.reports, 1);
	CHECK_EQ(dq.stats.reports_completed, 1);
	CHECK_EQ(dq.stats.ranges, 4);
	CHECK_EQ(dq.stats.ops, 3);
	CHECK_EQ(dq.stats.bytes_requested, total);
	CHECK_EQ(dq.stats.bytes_discarded, total);
	CHECK_EQ(dq.stats.reports_in_flight, 0);
	CHECK_EQ(dq.stats.ops_in_flight, 0);
	CHECK_EQ(dq.stats.report_latency.count, 1);
	CHECK_EQ(dq.stats.op_latency.count, 3);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/* Explicit methods: the probe refuses what cannot free memory on the backend. */
static void test_method_choice(void)
{
	struct discard_queue dq;
	struct guest_mem mem;
	enum discard_engine e;
	enum discard_method m;

	CHECK_EQ(discard_method__parse("punch-hole", &m), 0);
	CHECK_EQ(m, DISCARD_METHOD_PUNCH_HOLE);
	/* discard=sync is an engine, auto's method run synchronously, not a method. */
	CHECK(discard_method__parse("sync", &m) < 0);
	CHECK_EQ(discard_choice__parse("sync", &m, &e), 0);
	CHECK_EQ(m, DISCARD_METHOD_AUTO);
	CHECK_EQ(e, DISCARD_ENGINE_SYNC);
	CHECK_EQ(discard_choice__parse("remove", &m, &e), 0);
	CHECK_EQ(m, DISCARD_METHOD_REMOVE);
	CHECK_EQ(e, DISCARD_ENGINE_URING);
	CHECK(discard_method__parse("trim", &m) < 0);
	CHECK(discard_choice__parse("trim", &m, &e) < 0);
	CHECK(strcmp(discard_engine__name(DISCARD_ENGINE_URING), "io_uring") == 0);
	CHECK(strcmp(discard_method__name(DISCARD_METHOD_REMOVE), "remove") == 0);

	CHECK_EQ(guest_mem__init(&mem, 8 * MiB, GUEST_MEM_ANON), 0);
	CHECK(discard_queue__init(&dq, &mem, DISCARD_METHOD_PUNCH_HOLE, DISCARD_ENGINE_URING, 0,
				  NULL) < 0);
	CHECK(discard_queue__init(&dq, &mem, DISCARD_METHOD_REMOVE, DISCARD_ENGINE_URING, 0, NULL) <
	      0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_MADVISE, DISCARD_ENGINE_URING, 0,
				     NULL),
		 0);
	CHECK(strstr(dq.reason, "requested") != NULL);
	discard_queue__exit(&dq);
	discard_queue__exit(&dq); /* idempotent */
	guest_mem__exit(&mem);

	CHECK_EQ(guest_mem__init(&mem, 8 * MiB, GUEST_MEM_MEMFD), 0);
	/* MADV_DONTNEED on shared memory frees nothing: the probe page proves it. */
	CHECK(discard_queue__init(&dq, &mem, DISCARD_METHOD_MADVISE, DISCARD_ENGINE_URING, 0,
				  NULL) < 0);
	/* ...unless the caller insists on skipping the check. */
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_MADVISE, DISCARD_ENGINE_URING,
				     DISCARD_QUEUE_F_NO_VERIFY, NULL),
		 0);
	CHECK(strstr(dq.reason, "not verified") != NULL);
	discard_queue__exit(&dq);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_REMOVE, DISCARD_ENGINE_URING, 0,
				     NULL),
		 0);
	CHECK_EQ(dq.method, DISCARD_METHOD_REMOVE);
	{
		struct discard_range r = {1 * MiB, 1 * MiB};
		struct done_rec d = {0};
		uint64_t before;

		fill(&mem, 0, 4 * MiB);
		before = fd_bytes(mem.fd);
		CHECK_EQ(discard_queue__submit(&dq, &r, 1, on_done, &d), 0);
		wait_done(&dq, &d);
		CHECK_EQ(before - fd_bytes(mem.fd), 1 * MiB);
		expect(&mem, 0, 1 * MiB, true);
		expect(&mem, 1 * MiB, 1 * MiB, false);
		expect(&mem, 2 * MiB, 2 * MiB, true);
	}
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/* Bad ranges: the whole report is refused, counted, nothing discarded. */
static void test_invalid_ranges(void)
{
	const uint64_t rsz = 2 * MiB;
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};
	uint8_t *a, *b;

	/* Two regions adjacent in guest-physical space, apart in host space. */
	a = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED && b != MAP_FAILED);
	guest_mem__init_empty(&mem, 4096);
	CHECK_EQ(guest_mem__add_region(&mem, 0, a, rsz, -1, 0), 0);
	CHECK_EQ(guest_mem__add_region(&mem, rsz, b, rsz, -1, 0), 0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	fill(&mem, 0, 2 * rsz);

	const struct discard_range bad[] = {
		{0, 0},			    /* empty */
		{100, 4096},		    /* unaligned start */
		{4096, 100},		    /* unaligned length */
		{4 * MiB, 4096},	    /* past the end of RAM */
		{1 * MiB, 2 * MiB},	    /* spans two regions */
		{UINT64_MAX - 4095, 8192},  /* gpa + len overflows */
		{4096, UINT64_MAX - 4095},  /* so does this */
		{1ULL << 40, 1ULL << 30},   /* far outside */
		{rsz - 4096, 4096 + rsz},   /* one byte region a, the rest b */
		{2 * rsz - 4096, 2 * 4096}, /* crosses the end */
	};
	unsigned int nbad = sizeof(bad) / sizeof(bad[0]);

	for (unsigned int i = 0; i < nbad; i++) {
		struct discard_range two[2] = {{0, 4096}, bad[i]};

		CHECK_EQ(discard_queue__submit(&dq, &bad[i], 1, on_done, &d), -EINVAL);
		/* A good range next to a bad one does not get through either. */
		CHECK_EQ(discard_queue__submit(&dq, two, 2, on_done, &d), -EINVAL);
	}
	CHECK_EQ(dq.stats.invalid_ranges, 2 * nbad);
	CHECK_EQ(dq.stats.reports_rejected, 2 * nbad);
	CHECK_EQ(dq.stats.reports, 0);
	CHECK_EQ(discard_queue__process_completions(&dq), 0);
	CHECK_EQ(d.calls, 0);
	expect(&mem, 0, 2 * rsz, true);

	/* Adjacent in gpa but in two regions: valid, not coalesced across them. */
	const struct discard_range edge[] = {{1 * MiB, 1 * MiB}, {2 * MiB, 1 * MiB}};

	CHECK_EQ(discard_queue__submit(&dq, edge, 2, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.ops, 2);
	CHECK_EQ(d.res.bytes_discarded, 2 * MiB);
	CHECK_EQ(resident(a, rsz) + resident(b, rsz), 2 * MiB);
	expect(&mem, 0, 1 * MiB, true);
	expect(&mem, 1 * MiB, 2 * MiB, false);
	expect(&mem, 3 * MiB, 1 * MiB, true);

	/* An empty report is legal and completes like any other. */
	d.calls = 0;
	CHECK_EQ(discard_queue__submit(&dq, NULL, 0, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.ops, 0);
	discard_queue__exit(&dq);
	munmap(a, rsz);
	munmap(b, rsz);
}

/*
 * More ops than one turn may submit (and than the ring holds): the rest
 * waits in the deferred queue and goes out turn by turn, across several
 * reports in flight.
 */
static void test_deferred(void)
{
	enum { PER_REPORT = 300, REPORTS = 3 };
	const uint64_t size = 8 * MiB;
	static struct discard_range ranges[REPORTS][PER_REPORT];
	struct done_rec d[REPORTS] = {{0}};
	struct discard_faults faults = {0};
	struct discard_queue dq;
	struct guest_mem mem;
	uint8_t *hva;

	hva = ring_only_queue(&dq, &mem, size, &faults);
	/* Every other page: nothing coalesces, one op per range. */
	for (unsigned int r = 0; r < REPORTS; r++)
		for (unsigned int i = 0; i < PER_REPORT; i++)
			ranges[r][i] = (struct discard_range){
				.gpa = ((uint64_t)r * PER_REPORT + i) * 2 * 4096, .len = 4096};

	for (unsigned int r = 0; r < REPORTS; r++)
		CHECK_EQ(discard_queue__submit(&dq, ranges[r], PER_REPORT, on_done, &d[r]), 0);
	/* Each submit() put at most one batch on the ring. */
	CHECK(dq.ops_in_ring <= REPORTS * DISCARD_SUBMIT_BATCH);
	CHECK_EQ(dq.stats.sq_full_deferrals + dq.stats.batch_deferrals,
		 REPORTS * PER_REPORT - DISCARD_SUBMIT_BATCH); /* later reports queue behind */
	CHECK_EQ(dq.stats.reports_in_flight, REPORTS);
	discard_queue__drain(&dq);
	CHECK_EQ(dq.stats.reports_in_flight, 0);
	CHECK_EQ(dq.stats.ops_in_flight, 0);
	for (unsigned int r = 0; r < REPORTS; r++) {
		CHECK_EQ(d[r].calls, 1);
		CHECK_EQ(d[r].res.ops, PER_REPORT);
		CHECK_EQ(d[r].res.bytes_discarded, PER_REPORT * 4096);
	}
	CHECK_EQ(dq.stats.ops, REPORTS * PER_REPORT);
	CHECK_EQ(dq.stats.op_latency.count, REPORTS * PER_REPORT);
	for (uint64_t p = 0; p < REPORTS * PER_REPORT * 2; p++) {
		bool discarded = (p % 2) == 0;

		CHECK_EQ(resident(hva + p * 4096, 4096), discarded ? 0 : 4096);
	}
	for (uint64_t p = 0; p < REPORTS * PER_REPORT * 2; p++)
		expect(&mem, p * 4096, 4096, p % 2);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/*
 * Ranges listed out of address order are sorted and coalesced (80 pages in
 * adjacent pairs, each pair listed high page first: 40 ops), and a report is
 * still acknowledged only once every one of its coalesced ops completed: it
 * has more ops than a turn puts on the ring, so an acknowledgement that came
 * early would find pages of its report still resident. Two such reports in
 * flight at once, their pairs interleaved in RAM; the gaps keep their content.
 */
static void test_coalesced_ack(void)
{
	enum { PAIRS = 40, REPORTS = 2 };
	const uint64_t size = 4 * MiB, page = 4096;
	static struct discard_range ranges[REPORTS][2 * PAIRS];
	const struct discard_range desc[] = {{3 * MiB, 64 * KiB}, {3 * MiB - 64 * KiB, 64 * KiB}};
	struct ack_check c[REPORTS];
	struct discard_faults faults = {0};
	struct discard_result res;
	struct discard_queue dq;
	struct guest_mem mem;
	uint8_t *hva;

	hva = ring_only_queue(&dq, &mem, size, &faults);
	/* Pair p of report r: pages 3g and 3g + 1, g = p * REPORTS + r; page 3g + 2 is kept. */
	for (unsigned int r = 0; r < REPORTS; r++) {
		for (unsigned int i = 0; i < PAIRS; i++) {
			uint64_t g = (uint64_t)(PAIRS - 1 - i) * REPORTS + r;

			ranges[r][2 * i] = (struct discard_range){(3 * g + 1) * page, page};
			ranges[r][2 * i + 1] = (struct discard_range){3 * g * page, page};
		}
		c[r] = (struct ack_check){.ranges = ranges[r], .n = 2 * PAIRS, .hva = hva};
	}

	faults.hold_completions = true;
	for (unsigned int r = 0; r < REPORTS; r++)
		CHECK_EQ(discard_queue__submit(&dq, ranges[r], 2 * PAIRS, on_done_check, &c[r]), 0);
	CHECK_EQ(dq.stats.ops, REPORTS * PAIRS);
	CHECK(dq.nr_deferred > 0); /* not all of them on the ring yet */
	usleep(100 * 1000);
	CHECK_EQ(discard_queue__process_completions(&dq), 0);
	faults.hold_completions = false;
	for (unsigned int r = 0; r < REPORTS; r++)
		wait_done(&dq, &c[r].d);
	for (unsigned int r = 0; r < REPORTS; r++) {
		CHECK_EQ(c[r].d.calls, 1);
		CHECK_EQ(c[r].d.res.ops, PAIRS);
		CHECK_EQ(c[r].d.res.bytes_discarded, 2 * PAIRS * page);
		CHECK_EQ(c[r].resident_at_ack, 0);
	}
	for (uint64_t g = 0; g < REPORTS * PAIRS; g++) {
		expect(&mem, 3 * g * page, 2 * page, false);
		expect(&mem, (3 * g + 2) * page, page, true);
	}
	CHECK_EQ(dq.stats.reports_in_flight, 0);
	CHECK_EQ(dq.stats.ops_in_flight, 0);

	/* run_now() sorts too: two ranges listed high first, one op. */
	fill(&mem, 0, size);
	CHECK_EQ(discard_queue__run_now(&dq, desc, 2, &res), 0);
	CHECK_EQ(res.ops, 1);
	CHECK_EQ(res.bytes_discarded, 128 * KiB);
	expect(&mem, 3 * MiB - 64 * KiB, 128 * KiB, false);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/* A failed op is retried once synchronously; if that fails, acked without discard. */
static void test_failures(void)
{
	const struct discard_range r[] = {{0, 4096}, {2 * 4096, 4096}, {4 * 4096, 4096}};
	struct discard_faults faults = {0};
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};

	CHECK_EQ(guest_mem__init(&mem, 4 * MiB, GUEST_MEM_ANON), 0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	dq.faults = &faults;
	fill(&mem, 0, 4 * MiB);

	faults.inject_ring_failures = 2;
	CHECK_EQ(discard_queue__submit(&dq, r, 3, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.op_errors, 2);
	CHECK_EQ(d.res.bytes_discarded, 3 * 4096); /* the retries worked */
	CHECK_EQ(d.res.bytes_failed, 0);
	CHECK_EQ(dq.stats.op_errors, 2);
	CHECK_EQ(dq.stats.sync_retries, 2);
	CHECK_EQ(dq.stats.acked_without_discard, 0);
	expect(&mem, 0, 4096, false);

	fill(&mem, 0, 4 * MiB);
	d.calls = 0;
	faults.inject_ring_failures = 3;
	faults.inject_retry_failures = 1;
	CHECK_EQ(discard_queue__submit(&dq, r, 3, on_done, &d), 0);
	wait_done(&dq, &d); /* the report completes all the same */
	CHECK_EQ(d.res.op_errors, 3);
	CHECK_EQ(d.res.bytes_failed, 4096);
	CHECK_EQ(d.res.bytes_discarded, 2 * 4096);
	CHECK_EQ(dq.stats.acked_without_discard, 1);
	CHECK_EQ(dq.stats.bytes_acked_without_discard, 4096);
	CHECK_EQ(dq.stats.sync_retries, 5);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/*
 * A method that reports success but frees nothing is caught by the residency
 * check: its bytes are counted as not freed instead of discarded.
 */
static void test_ineffective_method(void)
{
	const struct discard_range r[] = {{0, 2 * MiB}, {2 * MiB, 2 * MiB}};
	struct discard_faults faults = {0};
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};

	CHECK_EQ(guest_mem__init(&mem, 8 * MiB, GUEST_MEM_ANON), 0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	dq.faults = &faults;
	fill(&mem, 0, 8 * MiB);
	faults.inject_noop_ops = 1; /* r[0] and r[1] are adjacent: one op */
	CHECK_EQ(discard_queue__submit(&dq, r, 2, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(dq.stats.ineffective_ops, 1);
	CHECK_EQ(dq.stats.bytes_not_freed, 4 * MiB);
	CHECK_EQ(dq.stats.bytes_discarded, 0);
	CHECK_EQ(d.res.bytes_discarded, 0);
	expect(&mem, 0, 4 * MiB, true); /* nothing was lost either */

	/* The next, real discard is counted as discarded, not as ineffective. */
	d.calls = 0;
	CHECK_EQ(discard_queue__submit(&dq, r, 2, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(dq.stats.ineffective_ops, 1);
	CHECK_EQ(dq.stats.bytes_discarded, 4 * MiB);
	expect(&mem, 0, 4 * MiB, false);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/* discard=sync: no io_uring, but done still comes from process_completions(). */
static void test_sync_and_hold(void)
{
	const struct discard_range r = {1 * MiB, 1 * MiB};
	struct discard_faults faults = {0};
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};
	struct pollfd pfd;

	CHECK_EQ(guest_mem__init(&mem, 4 * MiB, GUEST_MEM_MEMFD), 0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_SYNC, 0, NULL),
		 0);
	dq.faults = &faults;
	CHECK_EQ(dq.engine, DISCARD_ENGINE_SYNC);
	CHECK(dq.ring == NULL);
	CHECK_EQ(dq.method, DISCARD_METHOD_PUNCH_HOLE);
	fill(&mem, 0, 4 * MiB);

	faults.hold_completions = true;
	CHECK_EQ(discard_queue__submit(&dq, &r, 1, on_done, &d), 0);
	CHECK_EQ(d.calls, 0);
	pfd = (struct pollfd){.fd = dq.eventfd, .events = POLLIN};
	CHECK_EQ(poll(&pfd, 1, 0), 1); /* the owner is told */
	CHECK_EQ(discard_queue__process_completions(&dq), 0);
	CHECK_EQ(d.calls, 0);
	faults.hold_completions = false;
	CHECK_EQ(discard_queue__process_completions(&dq), 1);
	CHECK_EQ(d.calls, 1);
	CHECK_EQ(d.res.bytes_discarded, 1 * MiB);
	expect(&mem, 1 * MiB, 1 * MiB, false);
	expect(&mem, 2 * MiB, 2 * MiB, true);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);

	/* With io_uring: held completions keep the report open until released. */
	CHECK_EQ(guest_mem__init(&mem, 4 * MiB, GUEST_MEM_ANON), 0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	dq.faults = &faults;
	d.calls = 0;
	faults.hold_completions = true;
	CHECK_EQ(discard_queue__submit(&dq, &r, 1, on_done, &d), 0);
	usleep(200 * 1000); /* time for the op to complete in the kernel */
	CHECK_EQ(discard_queue__process_completions(&dq), 0);
	CHECK_EQ(d.calls, 0);
	CHECK_EQ(dq.stats.reports_in_flight, 1);
	faults.hold_completions = false;
	wait_done(&dq, &d);
	CHECK_EQ(dq.stats.reports_in_flight, 0);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
}

/* The signal mask of the thread named `comm`, from /proc; fails if there is none. */
static uint64_t thread_sigblk(const char *comm)
{
	char path[300], line[128];
	uint64_t mask = 0;
	bool found = false;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	CHECK(d != NULL);
	while (!found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(line, sizeof(line), f) && strncmp(line, comm, strlen(comm)) == 0;
		fclose(f);
		if (!found)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "r");
		CHECK(f != NULL);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %" SCNx64, &mask) == 1)
				break;
		fclose(f);
	}
	closedir(d);
	CHECK(found);
	return mask;
}

/*
 * Small ops go to the page worker in batches of at most
 * DISCARD_PAGE_BATCH_OPS, big ones to the ring, in the same report; a page
 * the kernel refuses (mlocked) in the middle of a batch fails alone, is
 * retried, acknowledged without discard and keeps its content; drain()
 * waits for batches still in the worker.
 */
static void test_page_worker(enum guest_mem_backend backend)
{
	enum { PAGES = 600, LOCKED = 300 };
	static struct discard_range r[PAGES + 1];
	const uint64_t size = 16 * MiB, big = 12 * MiB;
	struct discard_faults faults = {0};
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};
	uint8_t *hva;

	CHECK_EQ(guest_mem__init(&mem, size, backend), 0);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	dq.faults = &faults;
	CHECK(dq.worker != NULL);
	/* Born with every signal blocked: SIGTERM goes to the thread that handles it. */
	CHECK(thread_sigblk("discard-pages") & (1ULL << (SIGTERM - 1)));
	hva = guest_mem__translate(&mem, 0, size);
	fill(&mem, 0, size);
	/* Every other page of the first 4.7 MiB, then 2 MiB at 12 MiB. */
	for (unsigned int i = 0; i < PAGES; i++)
		r[i] = (struct discard_range){(uint64_t)i * 2 * 4096, 4096};
	r[PAGES] = (struct discard_range){big, 2 * MiB};
	CHECK_EQ(discard_queue__submit(&dq, r, PAGES + 1, on_done, &d), 0);
	CHECK_EQ(dq.stats.page_batches, 3); /* 256 + 256 + 88 */
	CHECK_EQ(dq.stats.page_batch_ops, PAGES);
	CHECK_EQ(dq.stats.ops, PAGES + 1);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.bytes_discarded, PAGES * 4096ULL + 2 * MiB);
	CHECK_EQ(d.res.op_errors, 0);
	for (unsigned int i = 0; i < PAGES; i++) {
		expect(&mem, (uint64_t)i * 2 * 4096, 4096, false);
		expect(&mem, (uint64_t)i * 2 * 4096 + 4096, 4096, true);
	}
	expect(&mem, big, 2 * MiB, false);
	expect(&mem, big + 2 * MiB, size - big - 2 * MiB, true);
	CHECK_EQ(dq.batches_in_worker, 0);

	/* One page in the middle of a batch cannot be discarded. */
	if (backend == GUEST_MEM_ANON) {
		fill(&mem, 0, size);
		/* The system call: ASan's mlock() interceptor does nothing. */
		CHECK_EQ(syscall(SYS_mlock, hva + (uint64_t)LOCKED * 2 * 4096, 4096), 0);
		d.calls = 0;
		CHECK_EQ(discard_queue__submit(&dq, r, PAGES, on_done, &d), 0);
		wait_done(&dq, &d);
		CHECK_EQ(d.res.op_errors, 1);
		CHECK_EQ(d.res.bytes_failed, 4096);
		CHECK_EQ(d.res.bytes_discarded, (PAGES - 1) * 4096ULL);
		CHECK_EQ(dq.stats.acked_without_discard, 1);
		expect(&mem, (uint64_t)LOCKED * 2 * 4096, 4096, true);
		expect(&mem, (uint64_t)(LOCKED - 1) * 2 * 4096, 4096, false);
		expect(&mem, (uint64_t)(LOCKED + 1) * 2 * 4096, 4096, false);
		CHECK_EQ(syscall(SYS_munlock, hva + (uint64_t)LOCKED * 2 * 4096, 4096), 0);
	}

	/* drain() waits for batches the worker still holds. */
	fill(&mem, 0, size);
	d.calls = 0;
	CHECK_EQ(discard_queue__submit(&dq, r, PAGES, on_done, &d), 0);
	discard_queue__drain(&dq);
	CHECK_EQ(d.calls, 1);
	CHECK_EQ(dq.stats.reports_in_flight, 0);
	CHECK_EQ(dq.stats.ops_in_flight, 0);
	expect(&mem, 0, 4096, false);

	/* Without the worker (test hook) the same report goes on the ring. */
	fill(&mem, 0, size);
	d.calls = 0;
	faults.ring_only = true;
	CHECK_EQ(discard_queue__submit(&dq, r, PAGES, on_done, &d), 0);
	CHECK_EQ(dq.stats.page_batches, backend == GUEST_MEM_ANON ? 9 : 6);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.bytes_discarded, PAGES * 4096ULL);
	expect(&mem, (uint64_t)(PAGES - 1) * 2 * 4096, 4096, false);
	discard_queue__exit(&dq);
	CHECK(dq.worker == NULL);
	guest_mem__exit(&mem);
}

static void test_histogram(void)
{
	CHECK_EQ(discard_histogram__bucket_le_us(0), 1);
	CHECK_EQ(discard_histogram__bucket_le_us(10), 1024);
	CHECK_EQ(discard_histogram__bucket_le_us(24), 1ULL << 24);
	CHECK(discard_histogram__bucket_le_us(DISCARD_HIST_BUCKETS - 1) == UINT64_MAX);
}

/* hugetlbfs needs free huge pages; as root, reserve some and put the value back. */
static long saved_nr_hugepages = -1;

static long read_nr_hugepages(void)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool write_nr_hugepages(long v)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

static void restore_hugepages(void)
{
	if (saved_nr_hugepages >= 0)
		write_nr_hugepages(saved_nr_hugepages);
}

static void test_hugetlbfs(void)
{
	const uint64_t size = 16 * MiB;
	/* 3 MiB .. 9 MiB: only the huge pages at 4 and 6 MiB are whole. */
	const struct discard_range r = {3 * MiB, 6 * MiB};
	struct discard_queue dq;
	struct guest_mem mem;
	struct done_rec d = {0};
	long nr;
	int fd;

	fd = memfd_create("probe", MFD_HUGETLB | MFD_HUGE_2MB);
	if (fd < 0) {
		fprintf(stderr, "SKIP hugetlbfs part: memfd_create(MFD_HUGETLB): %s\n",
			strerror(errno));
		return;
	}
	close(fd);
	nr = read_nr_hugepages();
	if (nr < 16) {
		saved_nr_hugepages = nr;
		atexit(restore_hugepages);
		if (!write_nr_hugepages(64) || read_nr_hugepages() < 16) {
			fprintf(stderr,
				"SKIP hugetlbfs part: /proc/sys/vm/nr_hugepages is %ld and could "
				"not be raised (need root and free memory)\n",
				nr);
			return;
		}
	}
	fprintf(stderr, "-- hugetlbfs\n");
	CHECK_EQ(guest_mem__init(&mem, size, GUEST_MEM_HUGETLBFS), 0);
	CHECK_EQ(mem.page_size, 2 * MiB);
	CHECK_EQ(discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0, NULL),
		 0);
	CHECK_EQ(dq.method, DISCARD_METHOD_PUNCH_HOLE);
	CHECK_EQ(dq.granule, 2 * MiB);
	fill(&mem, 0, size);
	CHECK_EQ(fd_bytes(mem.fd), size);

	CHECK_EQ(discard_queue__submit(&dq, &r, 1, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.bytes_discarded, 4 * MiB);
	CHECK_EQ(d.res.bytes_skipped, 2 * MiB);
	CHECK_EQ(dq.stats.bytes_skipped, 2 * MiB);
	CHECK_EQ(fd_bytes(mem.fd), size - 4 * MiB);
	expect(&mem, 0, 4 * MiB, true); /* 3..4 MiB: a partial huge page, kept */
	expect(&mem, 4 * MiB, 4 * MiB, false);
	expect(&mem, 8 * MiB, 8 * MiB, true);

	/* Smaller than a huge page: all skipped, the report still completes. */
	const struct discard_range small = {10 * MiB, 1 * MiB};

	d.calls = 0;
	CHECK_EQ(discard_queue__submit(&dq, &small, 1, on_done, &d), 0);
	wait_done(&dq, &d);
	CHECK_EQ(d.res.ops, 0);
	CHECK_EQ(d.res.bytes_skipped, 1 * MiB);
	expect(&mem, 8 * MiB, 8 * MiB, true);
	discard_queue__exit(&dq);
	guest_mem__exit(&mem);
	restore_hugepages();
	saved_nr_hugepages = -1;
}

int main(void)
{
	test_histogram();
	test_method_choice();
	test_backend(GUEST_MEM_ANON, DISCARD_METHOD_MADVISE);
	test_backend(GUEST_MEM_THP, DISCARD_METHOD_MADVISE);
	test_backend(GUEST_MEM_MEMFD, DISCARD_METHOD_PUNCH_HOLE);
	test_invalid_ranges();
	test_deferred();
	test_coalesced_ack();
	test_failures();
	test_page_worker(GUEST_MEM_ANON);
	test_page_worker(GUEST_MEM_MEMFD);
	test_ineffective_method();
	test_sync_and_hold();
	test_hugetlbfs();
	return testlib_done("test_discard_queue");
}
