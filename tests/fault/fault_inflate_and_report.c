// SPDX-License-Identifier: GPL-2.0
/*
 * Inflate and free page reporting at the same time, from two vCPU threads,
 * with the device thread completing discards for both, and a kept set of
 * pages that neither touches:
 *  - vCPU 1 inflates 64 pages, waits for the acknowledgement, checks they are
 *    gone, deflates them and touches them again, ROUNDS times;
 *  - vCPU 2 reports two 2 MiB ranges, waits, checks they are gone, writes
 *    them again, ROUNDS times;
 *  - a third pass does the same with the inflated pages INSIDE the reported
 *    ranges (a hostile or confused guest): still no hang, no crash;
 *  - the kept set holds every word throughout; the counters add up to what
 *    both threads did.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <endian.h>
#include <string.h>

#define ROUNDS	      150
#define INFLATE_PAGES 64

struct vcpu_ctx {
	struct rig *r;
	uint64_t base; /* gpa of the thread's area */
	bool overlap;  /* inflate inside the reporting area */
	unsigned int done;
};

static void *inflater(void *arg)
{
	struct vcpu_ctx *v = arg;
	struct rig *r = v->r;
	uint64_t arr = fake_ram__alloc(&r->ram, INFLATE_PAGES * 4, 4);
	uint32_t *pfns = fake_ram__hva(&r->ram, arr, INFLATE_PAGES * 4);
	uint32_t id, len;

	for (unsigned int round = 0; round < ROUNDS; round++) {
		/* Every other page, so nothing coalesces into one range. */
		uint64_t first = v->base + (uint64_t)(round % 8) * INFLATE_PAGES * 2 * 4096;
		struct fake_buf b[] = {{arr, INFLATE_PAGES * 4, false}};
		int head;

		for (unsigned int i = 0; i < INFLATE_PAGES; i++) {
			uint64_t gpa = first + (uint64_t)i * 2 * 4096;

			rig_fill(r, gpa, 4096);
			pfns[i] = htole32((uint32_t)(gpa >> 12));
		}
		head = fake_virtq__add_chain(&r->fq[RIG_Q_INFLATE], b, 1);
		rig_kick(r, RIG_Q_INFLATE);
		CHECK(rig_wait_used(r, RIG_Q_INFLATE, &id, &len, 5000));
		CHECK_EQ(id, head);
		for (unsigned int i = 0; i < INFLATE_PAGES && !v->overlap; i++)
			CHECK_EQ(rig_check(r, first + (uint64_t)i * 2 * 4096, 4096, false), 0);
		/* Deflate the same pages and use them again. */
		head = fake_virtq__add_chain(&r->fq[RIG_Q_DEFLATE], b, 1);
		rig_kick(r, RIG_Q_DEFLATE);
		CHECK(rig_wait_used(r, RIG_Q_DEFLATE, &id, &len, 5000));
		CHECK_EQ(id, head);
		__atomic_fetch_add(&v->done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reporter(void *arg)
{
	struct vcpu_ctx *v = arg;
	struct rig *r = v->r;
	uint32_t id, len;

	for (unsigned int round = 0; round < ROUNDS; round++) {
		uint64_t a = v->base + (uint64_t)(round % 4) * 4 * MiB;
		struct fake_buf b[] = {{a, 2 * MiB, true}, {a + 2 * MiB, 2 * MiB, true}};
		int head;

		if (!v->overlap)
			rig_fill(r, a, 4 * MiB);
		head = fake_virtq__add_chain(&r->fq[RIG_Q_REPORT], b, 2);
		rig_kick(r, RIG_Q_REPORT);
		CHECK(rig_wait_used(r, RIG_Q_REPORT, &id, &len, 5000));
		CHECK_EQ(id, head);
		if (!v->overlap)
			CHECK_EQ(rig_check(r, a, 4 * MiB, false), 0);
		__atomic_fetch_add(&v->done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void run_both(struct rig *r, uint64_t inflate_base, uint64_t report_base, bool overlap,
		     uint64_t keep, uint64_t keep_len)
{
	struct vcpu_ctx vi = {r, inflate_base, overlap, 0}, vr = {r, report_base, overlap, 0};
	struct balloon_stats b0, b1;
	pthread_t ti, tr;

	rig_stats(r, &b0, NULL);
	CHECK_EQ(pthread_create(&ti, NULL, inflater, &vi), 0);
	CHECK_EQ(pthread_create(&tr, NULL, reporter, &vr), 0);
	/* The main thread watches the kept set while both run. */
	while (__atomic_load_n(&vi.done, __ATOMIC_RELAXED) < ROUNDS ||
	       __atomic_load_n(&vr.done, __ATOMIC_RELAXED) < ROUNDS)
		CHECK_EQ(rig_check(r, keep, keep_len, true), 0);
	pthread_join(ti, NULL);
	pthread_join(tr, NULL);
	rig_stats(r, &b1, NULL);
	printf("%s: %u inflate+deflate rounds (%llu pages), %u reports (%llu MiB) at once; kept "
	       "set intact\n",
	       overlap ? "overlapping" : "disjoint", vi.done,
	       (unsigned long long)(b1.inflate_pages - b0.inflate_pages), vr.done,
	       (unsigned long long)((b1.bytes_reported - b0.bytes_reported) >> 20));
	CHECK_EQ(b1.inflate_chains - b0.inflate_chains, ROUNDS);
	CHECK_EQ(b1.inflate_pages - b0.inflate_pages, ROUNDS * INFLATE_PAGES);
	CHECK_EQ(b1.deflate_chains - b0.deflate_chains, ROUNDS);
	CHECK_EQ(b1.deflate_pages - b0.deflate_pages, ROUNDS * INFLATE_PAGES);
	CHECK_EQ(b1.reports_done - b0.reports_done, ROUNDS);
	CHECK_EQ(b1.bytes_reported - b0.bytes_reported, ROUNDS * 4 * MiB);
	CHECK_EQ(b1.inflate_invalid_pfns, b0.inflate_invalid_pfns);
	CHECK_EQ(rig_check(r, keep, keep_len, true), 0);
}

int main(void)
{
	struct rig r;
	uint64_t keep;

	rig_watchdog(150, "fault_inflate_and_report");
	rig_init(&r, DISCARD_ENGINE_URING);
	keep = r.pool + 48 * MiB;
	rig_fill(&r, keep, 16 * MiB);
	/* Inflate in [pool, pool + 8 MiB), report in [pool + 16 MiB, pool + 32 MiB). */
	run_both(&r, r.pool, r.pool + 16 * MiB, false, keep, 16 * MiB);
	/* The inflated pages inside the reported ranges. */
	run_both(&r, r.pool + 16 * MiB, r.pool + 16 * MiB, true, keep, 16 * MiB);
	rig_expect_healthy(&r, r.pool + 40 * MiB, 4 * MiB);
	rig_exit(&r);
	return testlib_done("fault_inflate_and_report");
}
