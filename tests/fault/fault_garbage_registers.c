// SPDX-License-Identifier: GPL-2.0
/*
 * Garbage register writes while the queues are active, from two vCPU
 * threads at once, with a report in flight:
 *  1. everything but Status and QueueNotify (fixed pseudo-random offsets,
 *     widths and values over the whole window, config space included): the
 *     device stays at DRIVER_OK without NEEDS_RESET, the in-flight report
 *     completes, the next ones work, and the transport's counters show what
 *     was refused (bad accesses, queue writes outside the set-up window,
 *     feature writes after FEATURES_OK);
 *  2. then Status and QueueNotify too: whatever state that leaves the device
 *     in (FAILED, NEEDS_RESET, reset), nothing crashes or hangs, notifies for
 *     queues that do not exist are counted, and after a reset and a new
 *     handshake the guest carries on.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <string.h>

#define ACCESSES 20000

struct garbage_ctx {
	struct rig *r;
	uint64_t seed;
	bool wild; /* Status and QueueNotify as well */
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *garbage_thread(void *arg)
{
	static const uint32_t widths[] = {4, 4, 4, 4, 1, 2, 8, 3};
	struct garbage_ctx *g = arg;
	uint64_t s = g->seed;

	for (unsigned int i = 0; i < ACCESSES; i++) {
		uint64_t off = xorshift(&s) % 0x200, val = xorshift(&s);
		uint32_t len = widths[xorshift(&s) % 8];
		bool write = xorshift(&s) % 4 != 0;
		uint8_t buf[8];

		/* Mostly aligned register offsets, sometimes anything. */
		if (xorshift(&s) % 8)
			off &= ~3ULL;
		if (!g->wild && (off & ~3ULL) == VIRTIO_MMIO_STATUS)
			continue;
		if (!g->wild && (off & ~3ULL) == VIRTIO_MMIO_QUEUE_NOTIFY)
			continue;
		if (g->wild && (off & ~3ULL) == VIRTIO_MMIO_STATUS) {
			/* Steps of a handshake, resets, FAILED, or junk. */
			static const uint32_t steps[] = {0, 1, 3, 0xb, 0xf, 0x8f, 0x40};
			unsigned int k = xorshift(&s) % 8;

			if (k < 7)
				val = steps[k];
		}
		memcpy(buf, &val, sizeof(buf));
		virtio_mmio__io(&g->r->mmio, off, buf, len, write);
	}
	return NULL;
}

static void run_garbage(struct rig *r, bool wild, uint64_t seed)
{
	struct garbage_ctx g[2] = {{r, seed, wild}, {r, seed * 31 + 7, wild}};
	pthread_t t[2];

	for (unsigned int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, garbage_thread, &g[i]), 0);
	for (unsigned int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

int main(void)
{
	struct virtio_mmio_stats m0, m;
	struct balloon_stats bs;
	uint32_t id, len, status;
	struct rig r;
	int head;

	rig_watchdog(120, "fault_garbage_registers");
	rig_init(&r, DISCARD_ENGINE_URING);
	m0 = rig_mmio_stats(&r);

	/* A report in flight (held) while the garbage flies. */
	rig_set_hold(&r, true);
	{
		struct fake_buf b[] = {{r.pool, 8 * MiB, true}};

		rig_fill(&r, r.pool, 8 * MiB);
		head = fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 1);
	}
	rig_kick(&r, RIG_Q_REPORT);
	run_garbage(&r, false, 0x1234567);
	m = rig_mmio_stats(&r);
	status = rig_read32(&r, VIRTIO_MMIO_STATUS);
	printf("phase 1 (%u accesses from 2 threads, no Status/QueueNotify): status 0x%x; bad "
	       "accesses %llu, queue writes outside the window %llu, feature writes refused %llu, "
	       "bad queue selects %llu\n",
	       2 * ACCESSES, status, (unsigned long long)(m.bad_access - m0.bad_access),
	       (unsigned long long)(m.queue_write_outside_window - m0.queue_write_outside_window),
	       (unsigned long long)(m.features_write_refused - m0.features_write_refused),
	       (unsigned long long)(m.bad_queue_select - m0.bad_queue_select));
	CHECK_EQ(status, 0xf);
	CHECK(m.bad_access > m0.bad_access);
	CHECK(m.queue_write_outside_window > m0.queue_write_outside_window);
	CHECK(m.features_write_refused > m0.features_write_refused);
	CHECK_EQ(m.resets, m0.resets);
	rig_set_hold(&r, false);
	CHECK(rig_wait_used(&r, RIG_Q_REPORT, &id, &len, 5000));
	CHECK_EQ(id, head);
	CHECK_EQ(rig_check(&r, r.pool, 8 * MiB, false), 0);
	rig_expect_healthy(&r, r.pool + 8 * MiB, 4 * MiB);

	/* Phase 2: anything goes, with reports in flight. */
	rig_set_hold(&r, true);
	{
		struct fake_buf b[] = {{r.pool + 16 * MiB, 8 * MiB, true}};

		fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], b, 1);
	}
	rig_kick(&r, RIG_Q_REPORT);
	rig_set_hold(&r, false);
	m0 = rig_mmio_stats(&r);
	run_garbage(&r, true, 0xfeedface);
	m = rig_mmio_stats(&r);
	rig_stats(&r, &bs, NULL);
	status = rig_read32(&r, VIRTIO_MMIO_STATUS);
	printf("phase 2 (Status and QueueNotify too): status 0x%x; resets %llu, illegal status "
	       "transitions %llu, notifies for missing queues %llu, activations failed %llu, "
	       "broken rings %llu\n",
	       status, (unsigned long long)(m.resets - m0.resets),
	       (unsigned long long)(m.bad_status_transition - m0.bad_status_transition),
	       (unsigned long long)(m.bad_queue_select - m0.bad_queue_select),
	       (unsigned long long)(m.activate_failed - m0.activate_failed),
	       (unsigned long long)bs.broken_rings);
	CHECK(m.bad_status_transition > m0.bad_status_transition);
	CHECK(m.bad_queue_select > m0.bad_queue_select);

	/* The guest resets and starts over: everything works. */
	rig_handshake(&r);
	rig_expect_healthy(&r, r.pool + 32 * MiB, 4 * MiB);
	rig_stats(&r, &bs, NULL);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 0);
	rig_exit(&r);
	return testlib_done("fault_garbage_registers");
}
