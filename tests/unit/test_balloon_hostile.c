// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile guest against the balloon, on fake virtqueues (issue #12, items
 * 1 and 2): what it can make the host hold, and how long one callback can
 * last.
 *
 *  - head re-publish flood: every avail slot names head 0, again and again;
 *    the ring breaks at the second sighting (NEEDS_RESET), one report in
 *    flight, the heap does not grow;
 *  - repeated and neighbouring PFNs (and overlapping report buffers) make
 *    one op per run, each page once;
 *  - distinct chains flooding the queue with completions held: the discard
 *    queue's limits hold (ops, host memory), the chain over them waits, and
 *    once completions flow every chain gets its used entry exactly once,
 *    after its pages were discarded;
 *  - a ring kept full: one notify call does at most one budget and re-arms
 *    the queue; activation looks at no ring on the caller's (vCPU) thread;
 *    reset drains what is in flight, which the limits bound.
 */
#define _GNU_SOURCE
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"

#include <endian.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MiB	 (1ULL << 20)
#define RAM_SIZE (96 * MiB)
#define POOL	 (80 * MiB)
#define QSIZE	 BALLOON_QUEUE_SIZE

/* RAM_SIZE of fake RAM, a POOL of patterned pages, up to DRIVER_OK. */
static void rig_init(struct balloon_rig *r)
{
	struct balloon_config cfg;

	balloon_config__default(&cfg);
	balloon_rig__init(r, &cfg, RAM_SIZE, POOL);
}

/* A le32 PFN array in guest RAM. */
static uint64_t put_pfns(struct balloon_rig *r, const uint32_t *pfns, unsigned int n)
{
	return fake_ram__put_le32(&r->ram, pfns, n);
}

static bool page_discarded(struct balloon_rig *r, uint64_t gpa)
{
	return *(uint64_t *)fake_ram__hva(&r->ram, gpa, 8) == 0;
}

/* Heap bytes in use (main arena and mmapped chunks); 0 under ASan, which has its own. */
static uint64_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* ---- item 1: heads in flight, merged PFNs, the limits ---- */

static void test_head_republish_flood(void)
{
	static uint32_t pfns[BALLOON_MAX_PFNS_PER_CHAIN];
	struct balloon_rig r;
	struct fake_virtq *fq;
	uint64_t heap0, heap_max = 0, arr;
	uint32_t id = UINT32_MAX, len;

	rig_init(&r);
	balloon_rig__activate(&r);
	fq = &r.fq[0];
	/* One descriptor: the same PFN, as many times as a chain may hold. */
	for (unsigned int i = 0; i < BALLOON_MAX_PFNS_PER_CHAIN; i++)
		pfns[i] = (uint32_t)(r.pool >> 12);
	arr = put_pfns(&r, pfns, BALLOON_MAX_PFNS_PER_CHAIN);
	struct fake_buf buf[] = {{arr, BALLOON_MAX_PFNS_PER_CHAIN * 4, false}};
	int head = fake_virtq__add_chain(fq, buf, 1);

	r.faults.hold_completions = true;
	heap0 = heap_in_use();
	/* Every slot names head 0; avail->idx moves a whole ring per kick, three times. */
	for (unsigned int kick = 0; kick < 3; kick++) {
		for (unsigned int i = kick ? 0 : 1; i < QSIZE; i++)
			fake_virtq__publish(fq, (uint16_t)head);
		balloon_rig__notify_once(&r, 0);
		balloon_rig__run_renotified(&r, 1000);
		if (heap_in_use() > heap_max)
			heap_max = heap_in_use();
	}
	printf("head re-publish flood: %llu reports, %llu ops in flight, host memory %llu bytes "
	       "(queue), heap +%lld bytes\n",
	       (unsigned long long)r.b.dq.stats.reports_in_flight,
	       (unsigned long long)r.b.dq.stats.ops_in_flight,
	       (unsigned long long)r.b.dq.stats.mem_in_flight, (long long)(heap_max - heap0));
	CHECK(r.b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(r.b.stats.broken_rings >= 1); /* per notify call that finds it broken */
	CHECK_EQ(r.b.vdev.queues[0].stats.errors[VQ_ERR_HEAD_IN_FLIGHT], 1);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 1);
	CHECK_EQ(r.b.dq.stats.ops_in_flight, 1); /* 256 copies of one page: one op */
	CHECK(r.b.dq.stats.mem_in_flight <= BALLOON_MAX_MEM_IN_FLIGHT);
	if (heap0)
		CHECK(heap_max - heap0 <= BALLOON_MAX_MEM_IN_FLIGHT);
	/* The one report in flight still follows the rule once released. */
	r.faults.hold_completions = false;
	for (int i = 0; i < 200 && !fake_virtq__get_used(fq, &id, &len); i++)
		balloon_rig__pump(&r, 10);
	CHECK_EQ(id, head);
	CHECK(page_discarded(&r, r.pool));
	CHECK_EQ(r.b.dq.stats.mem_in_flight, 0);
	balloon_rig__exit(&r);
}

static void test_duplicate_pfns(void)
{
	static uint32_t pfns[BALLOON_MAX_PFNS_PER_CHAIN];
	struct balloon_rig r;
	uint64_t ops0, base;
	uint32_t id = UINT32_MAX, len;
	int head;

	rig_init(&r);
	balloon_rig__activate(&r);
	base = r.pool >> 12;
	/* 128 neighbouring pages, each twice, in a scrambled order: one op. */
	for (unsigned int i = 0; i < BALLOON_MAX_PFNS_PER_CHAIN; i++)
		pfns[i] = (uint32_t)(base + (i * 37) % 128);
	struct fake_buf buf[] = {{put_pfns(&r, pfns, BALLOON_MAX_PFNS_PER_CHAIN),
				  BALLOON_MAX_PFNS_PER_CHAIN * 4, false}};
	ops0 = r.b.dq.stats.ops;
	head = fake_virtq__add_chain(&r.fq[0], buf, 1);
	balloon_rig__notify_once(&r, 0);
	for (int i = 0; i < 200 && !fake_virtq__get_used(&r.fq[0], &id, &len); i++)
		balloon_rig__pump(&r, 10);
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.dq.stats.ops - ops0, 1);
	CHECK_EQ(r.b.stats.inflate_pages, 128);
	CHECK_EQ(r.b.stats.inflate_duplicate_pfns, 128);
	for (unsigned int i = 0; i < 128; i++)
		CHECK(page_discarded(&r, (base + i) << 12));
	CHECK(!page_discarded(&r, (base + 128) << 12));

	/* A report naming one 2 MiB range eight times, and ranges overlapping it: one op. */
	struct fake_buf rep[10];

	for (unsigned int i = 0; i < 8; i++)
		rep[i] = (struct fake_buf){r.pool + 4 * MiB, 2 * MiB, true};
	rep[8] = (struct fake_buf){r.pool + 5 * MiB, 2 * MiB, true};
	rep[9] = (struct fake_buf){r.pool + 3 * MiB, 1 * MiB, true};
	ops0 = r.b.dq.stats.ops;
	head = fake_virtq__add_indirect(&r.fq[2], rep, 10);
	balloon_rig__notify_once(&r, 2);
	for (int i = 0; i < 200 && !fake_virtq__get_used(&r.fq[2], &id, &len); i++)
		balloon_rig__pump(&r, 10);
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.dq.stats.ops - ops0, 1);
	CHECK_EQ(r.b.dq.stats.bytes_requested, 128 * 4096 + 4 * MiB);
	for (uint64_t a = r.pool + 3 * MiB; a < r.pool + 7 * MiB; a += 4096)
		CHECK(page_discarded(&r, a));
	CHECK(!page_discarded(&r, r.pool + 7 * MiB));
	balloon_rig__exit(&r);
}

/*
 * QSIZE inflate chains of PAGES scattered pages each (every other page: no
 * two neighbours), all different: PAGES ops a chain.
 */
enum { PAGES = 32 };

static uint64_t chain_page(struct balloon_rig *r, unsigned int chain, unsigned int i)
{
	return r->pool + ((uint64_t)chain * PAGES + i) * 2 * 4096;
}

static void add_scattered_chains(struct balloon_rig *r, int *heads)
{
	static uint32_t pfns[PAGES];

	for (unsigned int c = 0; c < QSIZE; c++) {
		for (unsigned int i = 0; i < PAGES; i++)
			pfns[i] = (uint32_t)(chain_page(r, c, i) >> 12);
		struct fake_buf buf[] = {{put_pfns(r, pfns, PAGES), PAGES * 4, false}};

		heads[c] = fake_virtq__add_chain(&r->fq[0], buf, 1);
	}
}

/* Used entries of the inflate queue: each chain once, and only with its pages gone. */
static unsigned int collect_used(struct balloon_rig *r, const int *heads, bool *seen)
{
	unsigned int got = 0;
	uint32_t id, len;

	while (fake_virtq__get_used(&r->fq[0], &id, &len)) {
		unsigned int c = 0;

		while (c < QSIZE && heads[c] != (int)id)
			c++;
		CHECK(c < QSIZE);
		CHECK(!seen[c]);
		seen[c] = true;
		for (unsigned int i = 0; i < PAGES; i++)
			CHECK(page_discarded(r, chain_page(r, c, i)));
		got++;
	}
	return got;
}

static void test_limits_hold(void)
{
	static int heads[QSIZE];
	static bool seen[QSIZE];
	struct balloon_rig r;
	unsigned int got = 0;
	uint64_t heap0, heap;

	rig_init(&r);
	balloon_rig__activate(&r);
	r.faults.hold_completions = true;
	add_scattered_chains(&r, heads);
	heap0 = heap_in_use();
	balloon_rig__notify_once(&r, 0);
	/* The device thread's turns until it stops re-arming: the limits stop it. */
	CHECK(balloon_rig__run_renotified(&r, 1000) < 1000);
	heap = heap_in_use();
	printf("%u chains of %u pages, completions held: %llu chains in flight, %llu ops, host "
	       "memory %llu bytes (queue), heap +%lld; %llu held\n",
	       QSIZE, PAGES, (unsigned long long)r.b.dq.stats.reports_in_flight,
	       (unsigned long long)r.b.dq.stats.ops_in_flight,
	       (unsigned long long)r.b.dq.stats.mem_in_flight, (long long)(heap - heap0),
	       (unsigned long long)r.b.stats.chains_waited);
	CHECK(r.b.dq.stats.ops_in_flight <= BALLOON_MAX_OPS_IN_FLIGHT);
	CHECK(r.b.dq.stats.mem_in_flight <= BALLOON_MAX_MEM_IN_FLIGHT);
	if (heap0)
		CHECK(heap - heap0 <= BALLOON_MAX_MEM_IN_FLIGHT);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, BALLOON_MAX_OPS_IN_FLIGHT / PAGES);
	CHECK_EQ(r.b.stats.chains_waited, 1);
	CHECK(r.b.pending[BALLOON_Q_INFLATE].held);
	CHECK_EQ(collect_used(&r, heads, seen), 0); /* nothing before its discards */
	/* A kick while held pops nothing more. */
	uint16_t popped = r.b.vdev.queues[0].last_avail_idx;

	balloon_rig__notify_once(&r, 0);
	CHECK_EQ(r.b.vdev.queues[0].last_avail_idx, popped);

	/* Completions flow: the held chain and the rest go out, every chain comes back once. */
	r.faults.hold_completions = false;
	for (int i = 0; i < 2000 && got < QSIZE; i++) {
		balloon_rig__pump(&r, 10);
		got += collect_used(&r, heads, seen);
		CHECK(r.b.dq.stats.ops_in_flight <= BALLOON_MAX_OPS_IN_FLIGHT);
		CHECK(r.b.dq.stats.mem_in_flight <= BALLOON_MAX_MEM_IN_FLIGHT);
	}
	CHECK_EQ(got, QSIZE);
	CHECK_EQ(r.b.stats.inflate_pages, QSIZE * PAGES);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 0);
	CHECK_EQ(r.b.dq.stats.mem_in_flight, 0);
	CHECK(!r.b.pending[BALLOON_Q_INFLATE].held);
	/* The pages between the chains' were never named: intact. */
	CHECK(!page_discarded(&r, chain_page(&r, 0, 0) + 4096));
	balloon_rig__exit(&r);
}

/* ---- item 2: bounded work per callback, at activation, at reset ---- */

static void test_budget_and_rearm(void)
{
	static int heads[QSIZE];
	static bool seen[QSIZE];
	struct balloon_rig r;
	unsigned int got = 0, calls = 0;
	uint16_t before;

	rig_init(&r);
	balloon_rig__activate(&r);
	add_scattered_chains(&r, heads);
	r.renotify_calls = 0;
	balloon_rig__notify_once(&r, 0);
	/* One call: one budget, then the queue re-armed for the rest. */
	CHECK(r.b.vdev.queues[0].last_avail_idx <= BALLOON_NOTIFY_BUDGET_CHAINS);
	CHECK(r.b.dq.stats.ops <= BALLOON_NOTIFY_BUDGET_OPS + PAGES);
	CHECK_EQ(r.renotified[0], 1);
	CHECK_EQ(r.b.stats.notify_yields, 1);
	/*
	 * The device thread's later turns (re-armed by itself, or by the
	 * completions when the limits held a chain) do the same: no call
	 * takes more than its budget, and every chain comes back.
	 */
	for (int i = 0; i < 4000 && got < QSIZE; i++) {
		if (!r.renotified[0]) {
			balloon_rig__discards_turn(&r.b, 10);
		} else {
			r.renotified[0] = 0;
			before = r.b.vdev.queues[0].last_avail_idx;
			balloon_rig__notify_once(&r, 0);
			CHECK((uint16_t)(r.b.vdev.queues[0].last_avail_idx - before) <=
			      BALLOON_NOTIFY_BUDGET_CHAINS);
			calls++;
		}
		got += collect_used(&r, heads, seen);
	}
	printf("%u chains: %u notify calls after the first, %llu yields\n", QSIZE, calls,
	       (unsigned long long)r.b.stats.notify_yields);
	CHECK_EQ(got, QSIZE); /* nothing lost */
	CHECK(calls >= QSIZE * PAGES / BALLOON_NOTIFY_BUDGET_OPS - 1);
	balloon_rig__exit(&r);
}

static void test_activation_defers(void)
{
	static int heads[QSIZE];
	struct balloon_rig r;

	/* A guest fills the ring before DRIVER_OK. */
	rig_init(&r);
	add_scattered_chains(&r, heads);
	pthread_mutex_lock(&r.b.vdev.lock);
	CHECK_EQ(r.b.vdev.ops->activate(&r.b.vdev), 0);
	/* On the activating (vCPU) thread: nothing popped, every queue re-armed. */
	CHECK_EQ(r.b.vdev.queues[0].last_avail_idx, 0);
	CHECK_EQ(r.b.stats.inflate_chains, 0);
	CHECK_EQ(r.renotified[0], 1);
	CHECK_EQ(r.renotified[2], 1);
	pthread_mutex_unlock(&r.b.vdev.lock);
	balloon_rig__exit(&r);

	/* Without the wiring (the model alone): one budget there, no more. */
	rig_init(&r);
	add_scattered_chains(&r, heads);
	r.b.vdev.renotify = NULL;
	pthread_mutex_lock(&r.b.vdev.lock);
	CHECK_EQ(r.b.vdev.ops->activate(&r.b.vdev), 0);
	CHECK(r.b.vdev.queues[0].last_avail_idx <= BALLOON_NOTIFY_BUDGET_CHAINS);
	pthread_mutex_unlock(&r.b.vdev.lock);
	balloon_rig__exit(&r);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_reset_loop(void)
{
	static int heads[QSIZE];
	struct balloon_rig r;
	uint64_t worst = 0;

	rig_init(&r);
	balloon_rig__activate(&r);
	for (unsigned int round = 0; round < 20; round++) {
		uint64_t t0;

		/* Fill the discard queue to its limits, completions held, then reset. */
		r.faults.hold_completions = true;
		add_scattered_chains(&r, heads);
		balloon_rig__notify_once(&r, 0);
		balloon_rig__run_renotified(&r, 1000);
		CHECK(r.b.dq.stats.ops_in_flight <= BALLOON_MAX_OPS_IN_FLIGHT);
		t0 = now_ns();
		pthread_mutex_lock(&r.b.vdev.lock);
		r.b.vdev.ops->reset(&r.b.vdev);
		pthread_mutex_unlock(&r.b.vdev.lock);
		if (now_ns() - t0 > worst)
			worst = now_ns() - t0;
		CHECK_EQ(r.b.dq.stats.reports_in_flight, 0);
		CHECK_EQ(r.b.dq.stats.mem_in_flight, 0);
		CHECK(!r.b.pending[BALLOON_Q_INFLATE].held);
		/* The driver sets up fresh rings and DRIVER_OK again. */
		r.faults.hold_completions = false;
		/* The rig's RAM is a bump allocator: reuse what is past the pool. */
		r.ram.next = r.pool + POOL;
		for (unsigned int i = 0; i < 3; i++) {
			CHECK_EQ(fake_virtq__init(&r.fq[i], &r.ram, QSIZE), 0);
			CHECK_EQ(fake_virtq__activate(&r.fq[i], &r.b.vdev.queues[i], false, true),
				 0);
		}
		memset(r.renotified, 0, sizeof(r.renotified));
		balloon_rig__activate(&r);
	}
	printf("reset with the discard queue at its limits: worst %.1f ms over 20 rounds, %llu "
	       "completions dropped\n",
	       (double)worst / 1e6, (unsigned long long)r.b.stats.completions_after_reset);
	CHECK(r.b.stats.completions_after_reset >= 20);
	CHECK(worst < 1000000000ULL);
	balloon_rig__exit(&r);
}

int main(void)
{
	test_head_republish_flood();
	test_duplicate_pfns();
	test_limits_hold();
	test_budget_and_rearm();
	test_activation_defers();
	test_reset_loop();
	return testlib_done("test_balloon_hostile");
}
