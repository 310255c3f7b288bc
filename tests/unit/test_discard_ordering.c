// SPDX-License-Identifier: GPL-2.0
/*
 * The ordering rule of the balloon: a chain that asked for discards (a free
 * page report, an inflate) gets its used entry only after every discard of
 * that chain completed. The guest reuses a reported page as soon as it sees
 * the used entry; a discard landing later would zero live data.
 *
 * Proven with the discard queue's hold_completions hook (the kernel has done
 * the work, nobody has reaped it: no used entry may exist), with several
 * chains in flight, with chains finishing out of order (a big report stuck
 * behind a full ring), with failing ops, and with discard=sync.
 */
#define _GNU_SOURCE
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"

#include <endian.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB	 (1ULL << 20)
#define RAM_SIZE (48 * MiB)
#define POOL	 (40 * MiB)

/* The rig, activated with `engine`; the reporting queue is queue 2. */
static void rig_init(struct balloon_rig *r, enum discard_engine engine)
{
	struct balloon_config cfg;

	balloon_config__default(&cfg);
	cfg.discard_engine = engine;
	balloon_rig__init(r, &cfg, RAM_SIZE, POOL);
	balloon_rig__activate(r);
	CHECK_EQ(r->b.qidx[BALLOON_Q_REPORTING], 2);
}

static uint64_t resident(struct balloon_rig *r, uint64_t gpa, uint64_t len)
{
	static unsigned char vec[POOL / 4096];
	uint64_t n = 0;

	CHECK_EQ(mincore(fake_ram__hva(&r->ram, gpa, len), len, vec), 0);
	for (uint64_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n * 4096;
}

static void test_held_report(void)
{
	struct balloon_rig r;
	struct fake_virtq *rq;
	uint32_t id, len;
	int head, bad;

	rig_init(&r, DISCARD_ENGINE_URING);
	rq = &r.fq[2];
	struct fake_buf buf[] = {{r.pool, 4 * MiB, true}, {r.pool + 8 * MiB, 2 * MiB, true}};

	r.faults.hold_completions = true;
	head = fake_virtq__add_chain(rq, buf, 2);
	balloon_rig__kick(&r, 2);
	/* Give the kernel all the time it needs to finish the discards... */
	usleep(100 * 1000);
	for (int i = 0; i < 5; i++)
		balloon_rig__pump(&r, 20);
	/* ...still, nobody has seen them complete: no used entry. */
	CHECK_EQ(fake_virtq__used_idx(rq), 0);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 1);
	CHECK_EQ(r.b.stats.reports_done, 0);

	/* A refused chain meanwhile is not stuck behind the report. */
	struct fake_buf ro[] = {{r.pool + 20 * MiB, 4096, false}};

	bad = fake_virtq__add_chain(rq, ro, 1);
	balloon_rig__kick(&r, 2);
	CHECK(fake_virtq__get_used(rq, &id, &len));
	CHECK_EQ(id, bad);
	CHECK(!fake_virtq__get_used(rq, &id, &len));

	r.faults.hold_completions = false;
	for (int i = 0; i < 100 && fake_virtq__used_idx(rq) < 2; i++)
		balloon_rig__pump(&r, 20);
	CHECK(fake_virtq__get_used(rq, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK_EQ(resident(&r, r.pool, 4 * MiB), 0);
	CHECK_EQ(resident(&r, r.pool + 8 * MiB, 2 * MiB), 0);
	CHECK_EQ(resident(&r, r.pool + 4 * MiB, 4 * MiB), 4 * MiB);
	for (int i = 0; i < 5; i++)
		balloon_rig__pump(&r, 10);
	CHECK(!fake_virtq__get_used(rq, &id, &len)); /* exactly one entry */
	CHECK_EQ(r.b.stats.reports_done, 1);
	balloon_rig__exit(&r);
}

/* Several chains in flight on two queues: each gets exactly its own entry. */
static void test_several_in_flight(void)
{
	struct balloon_rig r;
	int heads[4], inflate_head;
	bool seen[BALLOON_QUEUE_SIZE] = {false};
	uint32_t id, len, pfns[3];
	unsigned int got = 0;

	rig_init(&r, DISCARD_ENGINE_URING);
	r.faults.hold_completions = true;
	for (unsigned int i = 0; i < 4; i++) {
		struct fake_buf b[] = {{r.pool + i * 4 * MiB, 2 * MiB, true},
				       {r.pool + i * 4 * MiB + 2 * MiB, 4096, true}};

		heads[i] = fake_virtq__add_chain(&r.fq[2], b, 2);
	}
	balloon_rig__kick(&r, 2);
	uint64_t arr = fake_ram__alloc(&r.ram, sizeof(pfns), 4);
	uint32_t *le = fake_ram__hva(&r.ram, arr, sizeof(pfns));

	for (unsigned int i = 0; i < 3; i++) {
		pfns[i] = (uint32_t)((r.pool + 30 * MiB) >> 12) + i * 2;
		le[i] = htole32(pfns[i]);
	}
	struct fake_buf ib[] = {{arr, sizeof(pfns), false}};
	inflate_head = fake_virtq__add_chain(&r.fq[0], ib, 1);
	balloon_rig__kick(&r, 0);
	usleep(50 * 1000);
	balloon_rig__pump(&r, 10);
	CHECK_EQ(fake_virtq__used_idx(&r.fq[2]), 0);
	CHECK_EQ(fake_virtq__used_idx(&r.fq[0]), 0);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 5);

	r.faults.hold_completions = false;
	for (int i = 0; i < 200 && got < 4; i++) {
		balloon_rig__pump(&r, 20);
		while (fake_virtq__get_used(&r.fq[2], &id, &len)) {
			CHECK(id < BALLOON_QUEUE_SIZE);
			CHECK(!seen[id]); /* never twice */
			seen[id] = true;
			got++;
		}
	}
	CHECK_EQ(got, 4);
	for (unsigned int i = 0; i < 4; i++) {
		CHECK(seen[heads[i]]);
		CHECK_EQ(resident(&r, r.pool + i * 4 * MiB, 2 * MiB + 4096), 0);
	}
	CHECK(fake_virtq__get_used(&r.fq[0], &id, &len));
	CHECK_EQ(id, inflate_head);
	for (unsigned int i = 0; i < 3; i++)
		CHECK_EQ(resident(&r, (uint64_t)pfns[i] << 12, 4096), 0);
	for (int i = 0; i < 5; i++)
		balloon_rig__pump(&r, 10);
	CHECK(!fake_virtq__get_used(&r.fq[2], &id, &len));
	CHECK(!fake_virtq__get_used(&r.fq[0], &id, &len));
	balloon_rig__exit(&r);
}

/*
 * Reports finishing out of order: a big one (more ops than the ring holds,
 * one 4 KiB buffer each) and a small one behind it. Whenever a used entry
 * appears, every page of that report must already be gone.
 */
static void test_out_of_order(void)
{
	enum { BIG = 200 };
	struct fake_buf big[BIG];
	struct balloon_rig r;
	uint32_t id, len;
	int big_head, small_head;
	bool big_done = false, small_done = false;

	rig_init(&r, DISCARD_ENGINE_URING);
	r.faults.ring_only = true; /* 4 KiB ops would go to the page worker */
	/* Every other page: nothing coalesces. 2 chains x 200 ops > 256 ring slots. */
	for (unsigned int i = 0; i < BIG; i++)
		big[i] = (struct fake_buf){r.pool + (uint64_t)i * 2 * 4096, 4096, true};
	big_head = fake_virtq__add_indirect(&r.fq[2], big, BIG);
	for (unsigned int i = 0; i < BIG; i++)
		big[i].addr += 4 * MiB;
	fake_virtq__add_indirect(&r.fq[2], big, BIG);
	struct fake_buf small[] = {{r.pool + 20 * MiB, 2 * MiB, true}};

	small_head = fake_virtq__add_chain(&r.fq[2], small, 1);
	balloon_rig__kick(&r, 2);
	CHECK(r.b.dq.stats.sq_full_deferrals + r.b.dq.stats.batch_deferrals > 0);
	for (int i = 0; i < 400 && r.b.stats.reports_done < 3; i++) {
		balloon_rig__pump(&r, 10);
		while (fake_virtq__get_used(&r.fq[2], &id, &len)) {
			if (id == (uint32_t)small_head) {
				CHECK_EQ(resident(&r, r.pool + 20 * MiB, 2 * MiB), 0);
				small_done = true;
			}
			if (id == (uint32_t)big_head) {
				for (unsigned int p = 0; p < BIG; p++)
					CHECK_EQ(
						resident(&r, r.pool + (uint64_t)p * 2 * 4096, 4096),
						0);
				big_done = true;
			}
		}
	}
	CHECK(big_done && small_done);
	CHECK_EQ(r.b.stats.reports_done, 3);
	balloon_rig__exit(&r);
}

/* Failing discards never hang the guest: acknowledged after the retry. */
static void test_failure_still_acked(void)
{
	struct balloon_rig r;
	uint32_t id, len;
	int head;

	rig_init(&r, DISCARD_ENGINE_URING);
	struct fake_buf buf[] = {{r.pool, 2 * MiB, true}};

	r.faults.inject_ring_failures = 1;
	r.faults.inject_retry_failures = 1;
	head = fake_virtq__add_chain(&r.fq[2], buf, 1);
	balloon_rig__kick(&r, 2);
	for (int i = 0; i < 100 && !fake_virtq__used_idx(&r.fq[2]); i++)
		balloon_rig__pump(&r, 20);
	CHECK(fake_virtq__get_used(&r.fq[2], &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.dq.stats.op_errors, 1);
	CHECK_EQ(r.b.dq.stats.acked_without_discard, 1);
	balloon_rig__exit(&r);
}

/* discard=sync: the syscalls run in queue_notify, the entry still waits for the loop. */
static void test_sync_method(void)
{
	struct balloon_rig r;
	uint32_t id, len;
	int head;

	rig_init(&r, DISCARD_ENGINE_SYNC);
	CHECK_EQ(r.b.dq.engine, DISCARD_ENGINE_SYNC);
	struct fake_buf buf[] = {{r.pool, 2 * MiB, true}};

	head = fake_virtq__add_chain(&r.fq[2], buf, 1);
	balloon_rig__kick(&r, 2);
	CHECK_EQ(fake_virtq__used_idx(&r.fq[2]), 0);
	CHECK_EQ(resident(&r, r.pool, 2 * MiB), 0); /* done synchronously */
	balloon_rig__pump(&r, 100);
	CHECK(fake_virtq__get_used(&r.fq[2], &id, &len));
	CHECK_EQ(id, head);
	balloon_rig__exit(&r);
}

int main(void)
{
	test_held_report();
	test_several_in_flight();
	test_out_of_order();
	test_failure_still_acked();
	test_sync_method();
	return testlib_done("test_discard_ordering");
}
