// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_ring_full: a guest that keeps the reporting queue full (issue 12,
 * item 2): as soon as the device hands a chain back the guest publishes
 * it again, so avail->idx stays used->idx + 256 and the device always has
 * work. Before the fix one notify callback ran as long as the guest kept
 * feeding, with the device lock held: the signalfd (SIGTERM), /metrics and
 * the API all waited on the guest.
 *
 * The guest only makes the load; the host side (tests/kvm/host/ring_full.sh)
 * judges: it times GET /balloon and GET /metrics while the guest is idle
 * (it prints "idle" and polls the balloon's target, touching nothing else)
 * and, once it set the target to 1 MiB, while the guest floods
 * ("flooding"); then it sends SIGTERM and times the exit. The flood lasts
 * at most FLOOD_MS; a guest still running then prints FAIL.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_ring_full";

#define QUEUE_SIZE 256
#define BUF_GPA	   (16 * TINY_MIB) /* one 64 KiB buffer per descriptor: 16 MiB */
#define BUF_LEN	   (64 * 1024)
#define FLOOD_MS   120000

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);

int tiny_main(const struct tiny_boot *boot)
{
	volatile uint16_t *used_idx;
	uint64_t handed_back = 0;
	uint32_t start, last_print;
	struct tvq q;

	TINY_CHECK(tiny_ram_contains(boot, BUF_GPA, QUEUE_SIZE * BUF_LEN),
		   "guest RAM does not cover the buffers: give more --memory");
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0, "no virtio-balloon found");
	tvm_negotiate_or_fail(features);
	tvq_setup(&q, 0, balloon_reporting_vq(features), QUEUE_SIZE);
	tvm_driver_ok();
	used_idx = &q.used->idx;

	/* Descriptor i: its own 64 KiB buffer. All published: the ring is full. */
	for (unsigned int i = 0; i < QUEUE_SIZE; i++) {
		const struct tbuf buf = {BUF_GPA + i * BUF_LEN, BUF_LEN, true};

		(void)tvq_add_chain(&q, &buf, 1);
	}

	tiny_printf("%s: idle until the host sets the balloon's target\n", tiny_name);
	tvm_wait_balloon_target(TINY_MIB / TINY_PAGE_SIZE, "idle");

	tiny_printf("%s: flooding: avail->idx = used->idx + %u\n", tiny_name, QUEUE_SIZE);
	for (uint16_t h = 0; h < QUEUE_SIZE; h++)
		tvq_publish(&q, h);
	tvq_kick(&q);
	start = last_print = tiny_now_ms();
	for (;;) {
		uint16_t seen = *used_idx;
		uint32_t now;

		if (seen == q.used_seen) {
			cpu_relax();
			continue;
		}
		/* Read the elements only after seeing the index (pairs with the device's release).
		 */
		barrier();
		while (q.used_seen != seen) {
			uint32_t id =
				*(volatile uint32_t *)&q.used->ring[q.used_seen % QUEUE_SIZE].id;

			TINY_CHECK(id < QUEUE_SIZE, "used element names descriptor %u", id);
			q.used_seen++;
			q.pending--;
			handed_back++;
			tvq_publish(&q, (uint16_t)id); /* back at once: the ring stays full */
		}
		tvq_kick(&q);
		now = tiny_now_ms();
		if (now - last_print >= 2000) {
			uint32_t status = tvm_read(VM_STATUS);

			TINY_CHECK(!(status & (VS_DEVICE_NEEDS_RESET | VS_FAILED)),
				   "Status 0x%x while the ring is kept full", status);
			tiny_printf("%s: %lu chains handed back and re-published in %u ms\n",
				    tiny_name, handed_back, now - start);
			last_print = now;
		}
		if (now - start >= FLOOD_MS)
			tiny_fail("still flooding after %u ms: mini-vmm was not stopped", FLOOD_MS);
	}
}
