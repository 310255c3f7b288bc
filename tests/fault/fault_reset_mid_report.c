// SPDX-License-Identifier: GPL-2.0
/*
 * A device reset in the middle of a report (the driver writes Status = 0
 * while discards are in flight, e.g. a guest kexec or driver unbind):
 *  1. io_uring, completions held: the reset waits for the discards already
 *     in the kernel (bounded), publishes nothing into the rings the driver
 *     just took back, counts them (completions_after_reset), and the device
 *     works again after the next handshake;
 *  2. 200 resets racing the device thread: each right after a kick, so the
 *     reset lands before, during or after the device takes the report;
 *     every report is either acknowledged or counted as dropped by the reset;
 *  3. discard=sync with slow discards: the reset waits for the batch the
 *     device thread is in (bounded), then the device works.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <string.h>
#include <unistd.h>

static void test_reset_while_held(void)
{
	struct balloon_stats bs;
	struct discard_stats ds;
	uint16_t used_before;
	uint64_t t0, t_reset;
	struct rig r;

	rig_init(&r, DISCARD_ENGINE_URING);
	rig_set_hold(&r, true);
	{
		struct fake_buf b[] = {{r.pool, 16 * MiB, true},
				       {r.pool + 20 * MiB, 8 * MiB, true}};

		fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 2);
	}
	rig_kick(&r, RIG_Q_REPORT);
	t0 = rig_now_ms();
	do {
		rig_stats(&r, &bs, &ds);
	} while (ds.reports_in_flight == 0 && rig_now_ms() - t0 < 2000);
	CHECK_EQ(ds.reports_in_flight, 1);
	used_before = fake_virtq__used_idx(&r.fq[RIG_Q_REPORT]);

	t0 = rig_now_ms();
	rig_write32(&r, VIRTIO_MMIO_STATUS, 0);
	t_reset = rig_now_ms() - t0;
	CHECK_EQ(rig_read32(&r, VIRTIO_MMIO_STATUS), 0);
	rig_stats(&r, &bs, &ds);
	printf("reset with a report in flight: took %llu ms; completions after reset %llu, "
	       "reports done %llu, in flight %llu\n",
	       (unsigned long long)t_reset, (unsigned long long)bs.completions_after_reset,
	       (unsigned long long)bs.reports_done, (unsigned long long)ds.reports_in_flight);
	CHECK(t_reset < 5000);
	CHECK_EQ(bs.completions_after_reset, 1);
	CHECK_EQ(bs.reports_done, 0);
	CHECK_EQ(ds.reports_in_flight, 0);
	CHECK_EQ(ds.ops_in_flight, 0);
	/* Nothing was written into the old rings after the reset. */
	CHECK(rig_no_used_for(&r, RIG_Q_REPORT, 100));
	CHECK_EQ(fake_virtq__used_idx(&r.fq[RIG_Q_REPORT]), used_before);
	/* A kick after the reset, before a new handshake, is ignored. */
	rig_kick(&r, RIG_Q_REPORT);
	CHECK(rig_no_used_for(&r, RIG_Q_REPORT, 50));

	rig_set_hold(&r, false);
	rig_handshake(&r);
	rig_expect_healthy(&r, r.pool + 32 * MiB, 4 * MiB);
	rig_exit(&r);
}

static void test_reset_races(void)
{
	enum { ROUNDS = 200 };
	struct balloon_stats bs;
	struct discard_stats ds;
	uint32_t id, len;
	unsigned int acked = 0;
	struct rig r;

	rig_init(&r, DISCARD_ENGINE_URING);
	for (unsigned int i = 0; i < ROUNDS; i++) {
		struct fake_buf b[] = {{r.pool + (i % 16) * 2 * MiB, 2 * MiB, true}};

		fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 1);
		rig_kick(&r, RIG_Q_REPORT);
		if (i % 3)
			usleep(i % 7 * 50); /* land the reset at different moments */
		rig_write32(&r, VIRTIO_MMIO_STATUS, 0);
		while (fake_virtq__get_used(&r.fq[RIG_Q_REPORT], &id, &len))
			acked++;
		rig_handshake(&r);
	}
	rig_stats(&r, &bs, &ds);
	printf("%u resets racing the device thread: %llu reports taken, %u acknowledged before "
	       "the reset, %llu dropped by it\n",
	       ROUNDS, (unsigned long long)bs.reports, acked,
	       (unsigned long long)bs.completions_after_reset);
	/* Each report taken is acknowledged or dropped by the reset, never both, never lost. */
	CHECK_EQ(bs.reports, bs.reports_done + bs.completions_after_reset);
	CHECK_EQ(bs.reports_done, acked);
	CHECK_EQ(ds.reports, ds.reports_completed);
	CHECK_EQ(ds.reports_in_flight, 0);
	CHECK(bs.reports <= ROUNDS);
	rig_expect_healthy(&r, r.pool + 40 * MiB, 4 * MiB);
	rig_exit(&r);
}

static void test_reset_during_slow_sync(void)
{
	struct balloon_stats bs;
	uint64_t t0, t_reset;
	struct rig r;

	rig_init(&r, DISCARD_ENGINE_SYNC);
	fault_inject.delay_ms = 50;
	for (unsigned int i = 0; i < 6; i++) {
		struct fake_buf b[] = {{r.pool + i * 2 * MiB, MiB, true}};

		fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 1);
	}
	rig_kick(&r, RIG_Q_REPORT);
	usleep(30 * 1000);
	t0 = rig_now_ms();
	rig_write32(&r, VIRTIO_MMIO_STATUS, 0);
	t_reset = rig_now_ms() - t0;
	fault_inject.delay_ms = 0;
	rig_stats(&r, &bs, NULL);
	printf("reset during slow synchronous discards: waited %llu ms; %llu reports taken, %llu "
	       "dropped by the reset\n",
	       (unsigned long long)t_reset, (unsigned long long)bs.reports,
	       (unsigned long long)bs.completions_after_reset);
	CHECK(t_reset < 6 * 50 + 2000);
	CHECK_EQ(bs.reports, bs.reports_done + bs.completions_after_reset);
	rig_handshake(&r);
	rig_expect_healthy(&r, r.pool + 40 * MiB, 4 * MiB);
	rig_exit(&r);
}

int main(void)
{
	rig_watchdog(150, "fault_reset_mid_report");
	test_reset_while_held();
	test_reset_races();
	test_reset_during_slow_sync();
	return testlib_done("fault_reset_mid_report");
}
