// SPDX-License-Identifier: GPL-2.0
/*
 * A full submission ring. The discard queue keeps at most
 * DISCARD_RING_ENTRIES (256) ops in the kernel; the rest wait in its deferred
 * queue and go out as completions free slots. Here:
 *  1. two reports of 200 separate pages each (400 ops > 256 slots; a chain
 *     holds at most a queue's worth, 256, of buffers);
 *  2. the ring full and its completions held, the guest's reporting queue
 *     filled to the last descriptor (850 ops waiting), while the guest keeps
 *     using the other queues: a deflate and a malformed report are answered
 *     at once, nothing of the held reports is;
 *  3. the hold released: every report acknowledged exactly once, only after
 *     its pages are gone, and nothing left in flight.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <endian.h>
#include <string.h>

#define PAGES_BIG 200

static void test_big_reports(struct rig *r)
{
	static struct fake_buf bufs[2][PAGES_BIG];
	struct discard_stats ds0, ds;
	uint32_t id, len;
	int head[2];
	bool seen[2] = {false, false};

	rig_stats(r, NULL, &ds0);
	for (unsigned int c = 0; c < 2; c++) {
		for (unsigned int i = 0; i < PAGES_BIG; i++) {
			bufs[c][i] = (struct fake_buf){
				r->pool + ((uint64_t)c * PAGES_BIG + i) * 2 * 4096, 4096, true};
			rig_fill(r, bufs[c][i].addr, 4096);
		}
		head[c] = fake_virtq__add_indirect(&r->fq[RIG_Q_REPORT], bufs[c], PAGES_BIG);
	}
	rig_kick(r, RIG_Q_REPORT);
	for (unsigned int n = 0; n < 2; n++) {
		CHECK(rig_wait_used(r, RIG_Q_REPORT, &id, &len, 10000));
		for (unsigned int c = 0; c < 2; c++) {
			if ((int)id != head[c])
				continue;
			CHECK(!seen[c]);
			seen[c] = true;
			for (unsigned int i = 0; i < PAGES_BIG; i++)
				CHECK_EQ(rig_check(r, bufs[c][i].addr, 4096, false), 0);
		}
	}
	CHECK(seen[0] && seen[1]);
	rig_stats(r, NULL, &ds);
	printf("two reports of %u pages: %llu ops, %llu waited for a ring slot, %llu for the next "
	       "loop turn\n",
	       PAGES_BIG, (unsigned long long)(ds.ops - ds0.ops),
	       (unsigned long long)(ds.sq_full_deferrals - ds0.sq_full_deferrals),
	       (unsigned long long)(ds.batch_deferrals - ds0.batch_deferrals));
	CHECK_EQ(ds.ops - ds0.ops, 2 * PAGES_BIG);
	/* Each submit puts at most DISCARD_SUBMIT_BATCH ops on the ring; the rest wait. */
	CHECK(ds.sq_full_deferrals - ds0.sq_full_deferrals + ds.batch_deferrals -
		      ds0.batch_deferrals >=
	      2 * (PAGES_BIG - DISCARD_SUBMIT_BATCH));
}

static void test_full_and_held(struct rig *r)
{
	enum { SMALL = BALLOON_QUEUE_SIZE - 3, BIG = 3, BIG_PAGES = 200 };
	static struct fake_buf bufs[BIG_PAGES];
	static bool seen[BALLOON_QUEUE_SIZE];
	static int small_head[SMALL], big_head[BIG];
	uint64_t small_base = r->pool + 4 * MiB, big_base = r->pool + 8 * MiB;
	struct balloon_stats bs0, bs;
	struct discard_stats ds;
	uint32_t id, len;
	unsigned int got = 0;
	uint64_t t0;

	rig_stats(r, &bs0, NULL);
	rig_set_hold(r, true);
	/* 3 reports of 200 separate pages each, then single pages to the last descriptor. */
	for (unsigned int c = 0; c < BIG; c++) {
		for (unsigned int i = 0; i < BIG_PAGES; i++) {
			bufs[i] = (struct fake_buf){big_base + ((uint64_t)c * BIG_PAGES + i) * 8192,
						    4096, true};
			rig_fill(r, bufs[i].addr, 4096);
		}
		big_head[c] = fake_virtq__add_indirect(&r->fq[RIG_Q_REPORT], bufs, BIG_PAGES);
	}
	for (unsigned int i = 0; i < SMALL; i++) {
		struct fake_buf b[] = {{small_base + (uint64_t)i * 8192, 4096, true}};

		rig_fill(r, b[0].addr, 4096);
		small_head[i] = fake_virtq__add_chain(&r->fq[RIG_Q_REPORT], b, 1);
	}
	rig_kick(r, RIG_Q_REPORT);
	/* Wait until the device has taken them all. */
	t0 = rig_now_ms();
	do {
		rig_stats(r, &bs, &ds);
	} while (bs.reports - bs0.reports < SMALL + BIG && rig_now_ms() - t0 < 5000);
	CHECK_EQ(bs.reports - bs0.reports, SMALL + BIG);
	printf("ring full and held: %llu ops in flight, %llu waiting for a slot\n",
	       (unsigned long long)ds.ops_in_flight, (unsigned long long)ds.sq_full_deferrals);
	CHECK_EQ(r->b.dq.ops_in_ring, DISCARD_RING_ENTRIES);
	CHECK(ds.ops_in_flight >= SMALL + BIG * BIG_PAGES);

	/* The guest carries on: a deflate and a bad report are answered meanwhile. */
	{
		uint64_t arr = fake_ram__alloc(&r->ram, 8, 4);
		uint32_t *pfn = fake_ram__hva(&r->ram, arr, 8);
		struct fake_buf d[] = {{arr, 8, false}};
		int dh;

		pfn[0] = htole32((uint32_t)((r->pool + 60 * MiB) >> 12));
		pfn[1] = htole32((uint32_t)((r->pool + 60 * MiB) >> 12) + 1);
		dh = fake_virtq__add_chain(&r->fq[RIG_Q_DEFLATE], d, 1);
		rig_kick(r, RIG_Q_DEFLATE);
		CHECK(rig_wait_used(r, RIG_Q_DEFLATE, &id, &len, 2000));
		CHECK_EQ(id, dh);
	}
	CHECK(rig_no_used_for(r, RIG_Q_REPORT, 300)); /* held: nothing acknowledged */
	CHECK_EQ(rig_read32(r, VIRTIO_MMIO_STATUS), 0xf);

	rig_set_hold(r, false);
	t0 = rig_now_ms();
	while (got < SMALL + BIG && rig_now_ms() - t0 < 20000) {
		if (!rig_wait_used(r, RIG_Q_REPORT, &id, &len, 100))
			continue;
		CHECK(id < BALLOON_QUEUE_SIZE);
		CHECK(!seen[id]); /* exactly once */
		seen[id] = true;
		got++;
		/* Acknowledged => its pages are gone. */
		for (unsigned int c = 0; c < BIG; c++)
			if ((int)id == big_head[c])
				for (unsigned int i = 0; i < BIG_PAGES; i++)
					CHECK_EQ(rig_check(r,
							   big_base + ((uint64_t)c * BIG_PAGES +
								       i) * 8192,
							   4096, false),
						 0);
		for (unsigned int i = 0; i < SMALL; i++)
			if ((int)id == small_head[i])
				CHECK_EQ(rig_check(r, small_base + (uint64_t)i * 8192, 4096, false),
					 0);
	}
	rig_stats(r, &bs, &ds);
	printf("released: %u reports acknowledged in %llu ms; %llu ops waited for a slot in "
	       "all\n",
	       got, (unsigned long long)(rig_now_ms() - t0),
	       (unsigned long long)ds.sq_full_deferrals);
	CHECK_EQ(got, SMALL + BIG);
	CHECK_EQ(bs.reports_done - bs0.reports_done, SMALL + BIG);
	CHECK_EQ(ds.ops_in_flight, 0);
	CHECK_EQ(ds.reports_in_flight, 0);
	CHECK_EQ(r->b.dq.ops_in_ring, 0);
	CHECK(rig_no_used_for(r, RIG_Q_REPORT, 50));
}

int main(void)
{
	struct rig r;

	rig_watchdog(120, "fault_ring_full");
	rig_init(&r, DISCARD_ENGINE_URING);
	CHECK_EQ(r.b.dq.engine, DISCARD_ENGINE_URING);
	r.faults.ring_only = true; /* 4 KiB pages fill the ring, not the page worker */
	test_big_reports(&r);
	test_full_and_held(&r);
	rig_expect_healthy(&r, r.pool + 56 * MiB, 2 * MiB);
	rig_exit(&r);
	return testlib_done("fault_ring_full");
}
