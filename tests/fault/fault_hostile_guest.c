// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile guest against the real device thread (issue #12, item 2).
 *
 *  1. Ring kept full: a "vCPU" thread hands every deflate chain back the
 *     moment it is used and kicks, so avail->idx stays a ring ahead of
 *     used->idx (the device acknowledges deflate at once). Meanwhile: an
 *     eventfd on the device loop standing for the signalfd is served within
 *     100 ms, a stats snapshot (what GET /balloon and GET /metrics take)
 *     gets vdev->lock within 100 ms, a well-behaved report is acknowledged,
 *     the loop's longest callback is printed, and stopping the loop (what
 *     SIGTERM does) ends the device thread within 1 s.
 *  2. Activate/reset loop: the inflate ring filled with chains of scattered
 *     pages, kicked, and the device reset at once, twenty times: each reset
 *     (on the "vCPU") drains what is in flight, which the discard queue's
 *     limits bound; nothing is left held afterwards and the device serves a
 *     report at the end.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <endian.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define QSIZE BALLOON_QUEUE_SIZE

static void test_ring_kept_full(void)
{
	static struct rig_feeder f;
	static struct rig_probe p;
	static struct rig r;
	uint64_t worst_probe = 0, worst_lock = 0, t0, t_stop, t_report;
	struct balloon_stats bs;

	rig_init(&r, DISCARD_ENGINE_URING);
	rig_probe__add(&p, &r);
	/* A full deflate ring: 256 chains of 256 PFNs each. */
	rig_fill_deflate_ring(&r);
	__atomic_store_n(&r.loop.max_callback_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r.max_notify_cpu_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r.notify_calls, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r.notify_over_100us, 0, __ATOMIC_RELAXED);
	rig_feeder__start(&f, &r);

	/* Two seconds of attack: the loop and the lock stay available. */
	t0 = rig_now_ms();
	while (rig_now_ms() - t0 < 2000) {
		uint64_t t = rig_now_ms(), lat;

		rig_stats(&r, &bs, NULL);
		if (rig_now_ms() - t > worst_lock)
			worst_lock = rig_now_ms() - t;
		lat = rig_probe__latency_ms(&p);
		if (lat > worst_probe)
			worst_probe = lat;
		usleep(5000);
	}
	/* A well-behaved queue is served all the same. */
	t_report = rig_now_ms();
	rig_expect_healthy(&r, r.pool + 32 * MiB, 2 * MiB);
	t_report = rig_now_ms() - t_report;

	/* SIGTERM: the signalfd callback stops the loop; the thread must end now. */
	t0 = rig_now_ms();
	event_loop__stop(&r.loop);
	pthread_join(r.device_thread, NULL);
	r.device_thread_running = false;
	t_stop = rig_now_ms() - t0;
	rig_feeder__stop(&f);
	rig_stats(&r, &bs, NULL);
	printf("ring kept full for 2 s: %llu chains re-published, %llu deflate chains, %llu "
	       "yields; loop's longest callback %.1f us (wall); notify calls %llu, %llu of them "
	       "over 100 us of CPU, longest %.1f us; signal served within %llu ms, lock within "
	       "%llu ms, report acknowledged in %llu ms, loop stopped in %llu ms\n",
	       (unsigned long long)atomic_load(&f.republished),
	       (unsigned long long)bs.deflate_chains, (unsigned long long)bs.notify_yields,
	       (double)__atomic_load_n(&r.loop.max_callback_ns, __ATOMIC_RELAXED) / 1e3,
	       (unsigned long long)r.notify_calls, (unsigned long long)r.notify_over_100us,
	       (double)__atomic_load_n(&r.max_notify_cpu_ns, __ATOMIC_RELAXED) / 1e3,
	       (unsigned long long)worst_probe, (unsigned long long)worst_lock,
	       (unsigned long long)t_report, (unsigned long long)t_stop);
	CHECK(atomic_load(&f.republished) > QSIZE); /* the attack really ran */
	CHECK(bs.notify_yields > 0);
	/*
	 * The targets are 100 ms for the signal and the lock, 100 us for a
	 * callback; wall-clock figures on a shared 2-CPU host include
	 * preemption by other processes (load 8 when this was written), so
	 * those are asserted with room and printed, and of the callbacks' own
	 * CPU time 99% must be within 100 us (rare outliers of a few ms are
	 * the host's: interrupts, steal). Without the budget one
	 * callback lasts as long as the attack: seconds.
	 */
	CHECK(worst_probe < 500);
	CHECK(worst_lock < 500);
	CHECK(t_report < 1000);
	CHECK(t_stop < 1000);
	CHECK(r.notify_over_100us * 100 <= r.notify_calls); /* 99% within the target */
	CHECK(__atomic_load_n(&r.max_notify_cpu_ns, __ATOMIC_RELAXED) < 50 * 1000 * 1000ULL);
	rig_probe__del(&p, &r);
	rig_exit(&r);
}

enum { PAGES = 32 };

static void test_activate_reset_loop(void)
{
	static struct rig r;
	static uint32_t pfns[PAGES];
	uint64_t worst = 0, t0;
	struct balloon_stats bs;
	struct discard_stats ds;

	rig_init(&r, DISCARD_ENGINE_URING);
	for (unsigned int round = 0; round < 20; round++) {
		for (unsigned int c = 0; c < QSIZE; c++) {
			uint64_t arr = fake_ram__alloc(&r.ram, sizeof(pfns), 4);

			for (unsigned int i = 0; i < PAGES; i++)
				pfns[i] = htole32((
					uint32_t)((r.pool + ((uint64_t)c * PAGES + i) * 2 * 4096) >>
						  12));
			memcpy(fake_ram__hva(&r.ram, arr, sizeof(pfns)), pfns, sizeof(pfns));
			struct fake_buf buf[] = {{arr, sizeof(pfns), false}};

			fake_virtq__add_chain(&r.fq[RIG_Q_INFLATE], buf, 1);
		}
		rig_kick(&r, RIG_Q_INFLATE);
		usleep(1000);
		t0 = rig_now_ms();
		rig_write32(&r, VIRTIO_MMIO_STATUS, 0);
		if (rig_now_ms() - t0 > worst)
			worst = rig_now_ms() - t0;
		rig_stats(&r, &bs, &ds);
		CHECK_EQ(ds.reports_in_flight, 0);
		CHECK_EQ(ds.mem_in_flight, 0);
		CHECK(ds.ops_in_flight == 0);
		rig_handshake(&r);
	}
	rig_stats(&r, &bs, &ds);
	printf("20 resets with the inflate ring full: worst %llu ms; %llu chains, %llu held at "
	       "the limits, %llu completions dropped\n",
	       (unsigned long long)worst, (unsigned long long)bs.inflate_chains,
	       (unsigned long long)bs.chains_waited,
	       (unsigned long long)bs.completions_after_reset);
	CHECK(worst < 1000);
	rig_expect_healthy(&r, r.pool, 2 * MiB);
	rig_exit(&r);
}

int main(void)
{
	rig_watchdog(120, "fault_hostile_guest");
	test_ring_kept_full();
	test_activate_reset_loop();
	return testlib_done("fault_hostile_guest");
}
