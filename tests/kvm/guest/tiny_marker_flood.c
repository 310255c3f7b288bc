// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_marker_flood: a guest that asks for host work as fast as it can
 * (issue 12, item 4). It writes progress markers to port 0xf5 in a loop for
 * FLOOD_MS, cycling through every phase so the reclaim tracker also makes
 * summaries, then resets and re-activates the balloon in a loop for
 * FLOOD_MS, then a working report round trip shows the device still serves
 * it. Each marker used to log a line and walk all guest RAM with mincore()
 * on the vCPU thread, each activation to log a line; run_tiny.sh checks
 * that mini-vmm's log stays bounded and the walks are rationed.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_marker_flood";

#define FLOOD_MS       2000
#define MIN_MARKERS    1000 /* fewer is no flood: even nested TCG does ~10x more */
#define REPORT_GPA     (32 * TINY_MIB)
#define PHASE_TOUCHED  1
#define PHASE_VERIFIED 4

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);

static unsigned int flood_markers(void)
{
	uint32_t start = tiny_now_ms();
	unsigned int n = 0;

	while (tiny_now_ms() - start < FLOOD_MS) {
		for (unsigned int i = 0; i < 64; i++, n++)
			tiny_marker((uint8_t)(PHASE_TOUCHED + n % PHASE_VERIFIED), n);
	}
	return n;
}

static unsigned int flood_activations(struct tvq *q, unsigned int rvq)
{
	uint32_t start = tiny_now_ms();
	unsigned int n = 0;

	while (tiny_now_ms() - start < FLOOD_MS) {
		tvm_negotiate_or_fail(features); /* starts with a reset */
		tvq_setup(q, 0, rvq, 32);
		tvm_driver_ok();
		n++;
	}
	return n;
}

int tiny_main(const struct tiny_boot *boot)
{
	const unsigned int rvq = balloon_reporting_vq(features);
	struct tbuf buf = {REPORT_GPA, 2 * TINY_MIB, true};
	unsigned int markers, activations;
	struct tvq q;

	TINY_CHECK(tiny_ram_contains(boot, REPORT_GPA, 2 * TINY_MIB),
		   "guest RAM does not cover the report: give more --memory");
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0, "no virtio-balloon found");

	markers = flood_markers();
	tiny_printf("%s: wrote %u markers in %u ms\n", tiny_name, markers, FLOOD_MS);
	TINY_CHECK(markers >= MIN_MARKERS, "only %u markers: not a flood", markers);

	activations = flood_activations(&q, rvq);
	tiny_printf("%s: activated the balloon %u times in %u ms\n", tiny_name, activations,
		    FLOOD_MS);
	TINY_CHECK(activations >= 20, "only %u activations: not a flood", activations);

	/* The device still works after both floods. */
	ram_write64(REPORT_GPA, 0x5a5a5a5a5a5a5a5aULL);
	tvq_roundtrip(&q, &buf, 1, "report after the floods");
	TINY_CHECK(ram_read64(REPORT_GPA) == 0, "the report after the floods was not discarded");
	tiny_printf("%s: report after the floods acked and zeroed\n", tiny_name);
	tiny_printf("PASS %s\n", tiny_name);
	tiny_exit(TINY_EXIT_PASS);
}
