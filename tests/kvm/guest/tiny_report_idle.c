// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_report_idle: one free page report, then nothing, for tests that
 * watch mini-vmm from outside for a while (kvm/prometheus_two_vms: a
 * Prometheus server scraping two VMs). The guest writes 8 MiB, reports
 * them in one chain of four 2 MiB buffers, checks they read as zero once
 * acked, prints "reported", and halts with interrupts off: its vCPU then
 * blocks in KVM and costs the host nothing while it is observed. The host
 * ends it through the API (PUT /actions Shutdown: exit status 0).
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_report_idle";

#define CHUNK	   (2 * TINY_MIB)
#define REPORT_GPA (16 * TINY_MIB)
#define REPORT_LEN (8 * TINY_MIB)
#define QUEUE_SIZE 32
#define SEED	   7

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);

int tiny_main(const struct tiny_boot *boot)
{
	struct tbuf bufs[REPORT_LEN / CHUNK];
	struct tvq q;
	uint64_t left;

	TINY_CHECK(tiny_ram_contains(boot, REPORT_GPA, REPORT_LEN),
		   "guest RAM does not cover the report: give more --memory");
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0, "no virtio-balloon found");
	tvm_negotiate_or_fail(features);
	tvq_setup(&q, 0, balloon_reporting_vq(features), QUEUE_SIZE);
	tvm_driver_ok();

	/* Written first, so the host has the pages resident and really discards them. */
	tiny_fill_pages(REPORT_GPA, REPORT_LEN, SEED);
	for (unsigned int i = 0; i < REPORT_LEN / CHUNK; i++)
		bufs[i] = (struct tbuf){REPORT_GPA + i * CHUNK, CHUNK, true};
	(void)tvq_roundtrip(&q, bufs, REPORT_LEN / CHUNK, "the report");
	left = tiny_count_nonzero(REPORT_GPA, REPORT_LEN);
	TINY_CHECK(left == 0, "%lu words of the reported 8 MiB not zero once acked", left);
	tiny_printf("%s: reported 8 MiB, acked and zeroed; idle until shut down\n", tiny_name);

	/* IF is 0: nothing wakes this vCPU; mini-vmm's stop ends KVM_RUN with a signal. */
	for (;;)
		__asm__ volatile("cli; hlt");
}
