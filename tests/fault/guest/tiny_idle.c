// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_idle: brings the balloon up the way Linux does (reporting queue
 * ready, DRIVER_OK, one free page report acknowledged), says READY, then
 * halts with interrupts off so its vCPU sleeps in KVM_RUN until mini-vmm is
 * stopped from outside. tests/fault/privs_running.sh inspects the running
 * process meanwhile: capabilities, no_new_privs, the seccomp mode of every
 * thread.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_idle";

#define REPORT_GPA (16 * TINY_MIB)
#define REPORT_LEN (4 * TINY_MIB)

int tiny_main(const struct tiny_boot *boot)
{
	const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);
	struct tbuf buf = {REPORT_GPA, REPORT_LEN, true};
	struct tvq q;

	TINY_CHECK(tiny_ram_contains(boot, REPORT_GPA, REPORT_LEN),
		   "guest RAM does not cover [16 MiB, 20 MiB): give --memory 64M");
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0,
		   "no virtio-balloon (was mini-vmm started with --balloon-reporting?)");
	tvm_negotiate_or_fail(features);
	tvq_setup(&q, 0, balloon_reporting_vq(features), 32);
	tvm_driver_ok();
	tiny_fill_pages(REPORT_GPA, REPORT_LEN, 1);
	tvq_roundtrip(&q, &buf, 1, "a free page report");
	TINY_CHECK(tiny_count_nonzero(REPORT_GPA, REPORT_LEN) == 0, "reported pages not discarded");
	tiny_printf("READY %s\n", tiny_name);
	for (;;)
		asm volatile("cli; hlt");
}
