// SPDX-License-Identifier: GPL-2.0
/*
 * Slow completions.
 *  1. io_uring: completions held for a second (the kernel is slow to say the
 *     discards are done) while the guest keeps going: its register accesses
 *     stay fast (the device lock is not held across the wait), the other
 *     queues are served, no held report is acknowledged early; then every
 *     report is acknowledged once its discards complete.
 *  2. discard=sync with every madvise() taking 100 ms: the device thread is
 *     slow, and a vCPU touching the device's registers waits for the device
 *     lock for as long as one batch of discards takes (bounded, measured);
 *     nothing hangs, every report is acknowledged, the counters add up. This
 *     is why io_uring is the default.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <endian.h>
#include <string.h>
#include <unistd.h>

#define REPORTS 8

static void test_held_uring(void)
{
	struct balloon_stats bs0, bs;
	uint64_t t0, worst = 0, n_reads = 0;
	uint32_t id, len;
	bool seen[BALLOON_QUEUE_SIZE] = {false};
	unsigned int got = 0, deflates = 0;
	struct rig r;

	rig_init(&r, DISCARD_ENGINE_URING);
	rig_stats(&r, &bs0, NULL);
	rig_set_hold(&r, true);
	for (unsigned int i = 0; i < REPORTS; i++) {
		struct fake_buf b[] = {{r.pool + i * 4 * MiB, 4 * MiB, true}};

		rig_fill(&r, b[0].addr, b[0].len);
		fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 1);
		rig_kick(&r, RIG_Q_REPORT);
	}
	/* One second of a guest going on with its life while the completions wait. */
	t0 = rig_now_ms();
	while (rig_now_ms() - t0 < 1000) {
		uint64_t a = rig_now_ms();

		CHECK_EQ(rig_read32(&r, VIRTIO_MMIO_STATUS), 0xf);
		(void)rig_read32(&r, VIRTIO_MMIO_INTERRUPT_STATUS);
		if (rig_now_ms() - a > worst)
			worst = rig_now_ms() - a;
		n_reads++;
		if (n_reads % 200 == 0) {
			uint64_t arr = fake_ram__alloc(&r.ram, 4, 4);
			struct fake_buf d[] = {{arr, 4, false}};
			int dh;

			*(uint32_t *)fake_ram__hva(&r.ram, arr, 4) =
				htole32((uint32_t)((r.pool + 60 * MiB) >> 12));
			dh = fake_virtq__add_chain(&r.fq[RIG_Q_DEFLATE], d, 1);
			rig_kick(&r, RIG_Q_DEFLATE);
			CHECK(rig_wait_used(&r, RIG_Q_DEFLATE, &id, &len, 1000));
			CHECK_EQ(id, dh);
			deflates++;
		}
		CHECK(fake_virtq__used_idx(&r.fq[RIG_Q_REPORT]) == 0); /* nothing early */
		usleep(200);
	}
	rig_stats(&r, &bs, NULL);
	CHECK_EQ(bs.reports - bs0.reports, REPORTS);
	CHECK_EQ(bs.reports_done - bs0.reports_done, 0);
	printf("held 1 s: %llu register reads, slowest %llu ms; %u deflates served meanwhile\n",
	       (unsigned long long)n_reads, (unsigned long long)worst, deflates);
	CHECK(worst < 500); /* generous for a loaded machine; sync mode takes seconds */
	CHECK(deflates >= 1);

	rig_set_hold(&r, false);
	while (got < REPORTS && rig_wait_used(&r, RIG_Q_REPORT, &id, &len, 5000)) {
		CHECK(!seen[id]);
		seen[id] = true;
		got++;
	}
	CHECK_EQ(got, REPORTS);
	CHECK_EQ(rig_check(&r, r.pool, REPORTS * 4 * MiB, false), 0);
	rig_stats(&r, &bs, NULL);
	CHECK_EQ(bs.reports_done - bs0.reports_done, REPORTS);
	rig_expect_healthy(&r, r.pool + 40 * MiB, 2 * MiB);
	rig_exit(&r);
}

static void test_slow_sync(void)
{
	struct balloon_stats bs;
	struct discard_stats ds;
	uint32_t id, len;
	uint64_t t0, t_read, t_all;
	unsigned int got = 0;
	struct rig r;

	rig_init(&r, DISCARD_ENGINE_SYNC);
	fault_inject.delay_ms = 100;
	for (unsigned int i = 0; i < REPORTS; i++) {
		/* Two separate ranges per report: two slow calls each. */
		struct fake_buf b[] = {{r.pool + i * 4 * MiB, MiB, true},
				       {r.pool + i * 4 * MiB + 2 * MiB, MiB, true}};

		rig_fill(&r, b[0].addr, 4 * MiB);
		fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 2);
	}
	t0 = rig_now_ms();
	rig_kick(&r, RIG_Q_REPORT);
	usleep(20 * 1000); /* the device thread is now inside the slow discards */
	(void)rig_read32(&r, VIRTIO_MMIO_STATUS);
	t_read = rig_now_ms() - t0;
	while (got < REPORTS && rig_wait_used(&r, RIG_Q_REPORT, &id, &len, 10000))
		got++;
	t_all = rig_now_ms() - t0;
	fault_inject.delay_ms = 0;
	rig_stats(&r, &bs, &ds);
	printf("sync, 100 ms per madvise: %u reports in %llu ms; a register read during them "
	       "waited %llu ms for the device lock\n",
	       got, (unsigned long long)t_all, (unsigned long long)t_read);
	CHECK_EQ(got, REPORTS);
	CHECK_EQ(fault_inject.calls, 2 * REPORTS);
	CHECK(t_all >= 2 * REPORTS * 100);
	CHECK(t_read < 2 * REPORTS * 100 + 2000); /* bounded: one batch at most */
	CHECK_EQ(ds.op_errors, 0);
	CHECK_EQ(rig_check(&r, r.pool, REPORTS * 4 * MiB, false), REPORTS * 2 * MiB / 4096);
	rig_expect_healthy(&r, r.pool + 40 * MiB, 2 * MiB);
	rig_exit(&r);
}

int main(void)
{
	rig_watchdog(120, "fault_slow_completions");
	test_held_uring();
	test_slow_sync();
	return testlib_done("fault_slow_completions");
}
