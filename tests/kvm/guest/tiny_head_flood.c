// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_head_flood: the head re-publish flood of issue 12, item 1, done by a
 * guest against the real device. Every slot of a 256-entry inflate queue
 * names head 0, whose one descriptor holds the same PFN over and over;
 * avail->idx goes up by the queue size and the guest kicks, again and
 * again. Before the fix each kick made 256 reports of 16384 ops that the
 * device held at once (+772 MiB host RSS after three kicks).
 *
 * 1. The chain (64 KiB: 16384 copies of one PFN), three kicks of
 *    a ring's worth: every chain is over the per-chain limit (256 PFNs)
 *    and must come back at once with len 0.
 * 2. A chain Linux could send (1 KiB: 256 copies of one PFN): the first
 *    pop is taken (one merged op in flight); the next pop finds head 0
 *    still in flight, which is a broken ring: DEVICE_NEEDS_RESET and a
 *    configuration interrupt. The guest keeps re-publishing and kicking for
 *    AGAIN_MS; the device must do nothing more.
 * 3. After a reset the same device serves a well-behaved inflate and a
 *    report, which are discarded and acknowledged.
 *
 * The host side (tests/kvm/host/head_flood.sh) samples mini-vmm's memory
 * from /proc when the guest prints "ready" and "attack over"; the guest
 * waits at each for the host's answer, a balloon target of 1 then 2 MiB
 * (PATCH /balloon), so the readings are taken at those points.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_head_flood";

#define QUEUE_SIZE 256
#define BIG_PFNS   16384 /* the chain: one 64 KiB descriptor */
#define LINUX_PFNS 256	 /* VIRTIO_BALLOON_ARRAY_PFNS_MAX */
#define BIG_GPA	   (8 * TINY_MIB)
#define LINUX_GPA  (BIG_GPA + BIG_PFNS * 4)
#define VICTIM_GPA (16 * TINY_MIB) /* the one PFN of the flood */
#define GOOD_GPA   (20 * TINY_MIB) /* the well-behaved inflate after the reset */
#define GOOD_PAGES 4
#define REPORT_GPA (32 * TINY_MIB)
#define REPORT_LEN (2 * TINY_MIB)
#define KICKS	   3
#define AGAIN_MS   1000
#define SEED	   21

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);

static void fill_pfns(uint64_t gpa, unsigned int n, uint32_t pfn)
{
	uint64_t two = (uint64_t)pfn << 32 | pfn;

	for (unsigned int i = 0; i < n / 2; i++)
		ram_write64(gpa + 8 * i, two);
}

/* Every avail slot names head 0; avail->idx moves by a whole ring; kick. */
static void publish_ring_of_head0(struct tvq *q)
{
	for (unsigned int i = 0; i < q->size; i++)
		q->avail->ring[i] = 0;
	barrier();
	q->avail_idx = (uint16_t)(q->avail_idx + q->size);
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	tvq_kick(q);
}

static uint16_t used_idx(struct tvq *q)
{
	return *(volatile uint16_t *)&q->used->idx;
}

/* Tell the host side where we are; it answers with a new balloon target. */
static void wait_for_host(const char *what, uint32_t target_mib)
{
	tiny_printf("%s: %s\n", tiny_name, what);
	tvm_wait_balloon_target(target_mib * (TINY_MIB / TINY_PAGE_SIZE), what);
}

/* 1. The chain: over the per-chain limit, refused, every time. */
static void flood_big_chains(struct tvq *q)
{
	const struct tbuf buf = {BIG_GPA, BIG_PFNS * 4, false};
	struct tiny_wait w;
	uint32_t status;

	q->next_desc = 0;
	TINY_CHECK(tvq_add_chain(q, &buf, 1) == 0, "head is not descriptor 0");
	for (unsigned int k = 0; k < KICKS; k++) {
		publish_ring_of_head0(q);
		tiny_wait_start(&w, TVQ_WAIT_MS, TINY_STRIDE_POLL);
		while (used_idx(q) != q->avail_idx)
			if (tiny_wait_over(&w) && used_idx(q) != q->avail_idx)
				tiny_fail("kick %u of 256 x head 0 (16384 PFNs): %u of %u chains "
					  "handed back after %u ms (Status 0x%x)",
					  k + 1, (uint16_t)(used_idx(q) - q->used_seen), q->size,
					  w.waited_ms, tvm_read(VM_STATUS));
		for (unsigned int i = 0; i < q->size; i++, q->used_seen++) {
			struct vring_used_elem *e = &q->used->ring[q->used_seen % q->size];

			TINY_CHECK(e->id == 0 && e->len == 0,
				   "kick %u: used element %u is (id %u, len %u), expected (0, 0)",
				   k + 1, i, e->id, e->len);
		}
		status = tvm_read(VM_STATUS);
		TINY_CHECK(!(status & (VS_DEVICE_NEEDS_RESET | VS_FAILED)),
			   "kick %u: Status 0x%x after chains it should simply refuse", k + 1,
			   status);
	}
	tvm_write(VM_INTERRUPT_ACK, VM_INT_USED_RING);
	tiny_printf("%s: the issue's attack: %u kicks of %u x head 0 (%u copies of one PFN): "
		    "all %u handed back with len 0\n",
		    tiny_name, KICKS, q->size, BIG_PFNS, KICKS * q->size);
}

/* 2. A chain the device takes: re-publishing it while in flight breaks the ring. */
static void flood_linux_chains(struct tvq *q)
{
	const struct tbuf buf = {LINUX_GPA, LINUX_PFNS * 4, false};
	uint16_t used0 = used_idx(q);
	unsigned int kicks = 1;
	struct tiny_wait w;
	uint32_t status, start;

	q->next_desc = 0;
	TINY_CHECK(tvq_add_chain(q, &buf, 1) == 0, "head is not descriptor 0");
	publish_ring_of_head0(q);
	tiny_wait_start(&w, TVQ_WAIT_MS, TINY_STRIDE_EXIT);
	while (!((status = tvm_read(VM_STATUS)) & VS_DEVICE_NEEDS_RESET))
		if (tiny_wait_over(&w) && !((status = tvm_read(VM_STATUS)) & VS_DEVICE_NEEDS_RESET))
			tiny_fail("256 x head 0 (256 PFNs) with head 0 in flight: Status 0x%x, no "
				  "DEVICE_NEEDS_RESET after %u ms; %u chains handed back",
				  status, w.waited_ms, (uint16_t)(used_idx(q) - used0));
	tvm_expect_interrupt(VM_INT_CONFIG, "DEVICE_NEEDS_RESET");
	tiny_printf("%s: 256 x head 0 (256 copies of one PFN): DEVICE_NEEDS_RESET (Status 0x%x) "
		    "and a config interrupt\n",
		    tiny_name, status);

	/* Again and again: a broken ring is not read any more. */
	start = tiny_now_ms();
	while (tiny_now_ms() - start < AGAIN_MS) {
		publish_ring_of_head0(q);
		kicks++;
	}
	status = tvm_read(VM_STATUS);
	TINY_CHECK(status & VS_DEVICE_NEEDS_RESET, "Status 0x%x: DEVICE_NEEDS_RESET went away",
		   status);
	/* At most the first chain (popped before the ring broke) comes back. */
	TINY_CHECK((uint16_t)(used_idx(q) - used0) <= 1,
		   "%u used elements after the ring broke (avail idx %u): the device kept going",
		   (uint16_t)(used_idx(q) - used0), q->avail_idx);
	tiny_printf("%s: %u kicks of a ring of head 0 in %u ms after: %u chain(s) handed back, "
		    "Status 0x%x\n",
		    tiny_name, kicks, AGAIN_MS, (uint16_t)(used_idx(q) - used0), status);
}

/* 3. The device after a reset: a well-behaved inflate and report. */
static void serve_after_reset(struct tvq *inflate, struct tvq *report)
{
	const struct tbuf pfn_buf = {LINUX_GPA, GOOD_PAGES * 4, false};
	const struct tbuf rep_buf = {REPORT_GPA, REPORT_LEN, true};
	uint32_t len;

	tvm_negotiate_or_fail(features); /* starts with a reset */
	tvq_setup(inflate, 0, 0, QUEUE_SIZE);
	tvq_setup(report, 1, balloon_reporting_vq(features), 32);
	tvm_driver_ok();

	for (unsigned int i = 0; i < GOOD_PAGES; i++)
		*(volatile uint32_t *)(LINUX_GPA + 4 * i) =
			(uint32_t)((GOOD_GPA >> BALLOON_PFN_SHIFT) + 2 * i);
	len = tvq_roundtrip(inflate, &pfn_buf, 1, "inflate after the reset");
	TINY_CHECK(len == 0, "inflate after the reset: used len %u", len);
	for (unsigned int i = 0; i < GOOD_PAGES; i++) {
		TINY_CHECK(tiny_count_nonzero(GOOD_GPA + 2 * i * TINY_PAGE_SIZE, TINY_PAGE_SIZE) ==
				   0,
			   "inflate after the reset: page %u not discarded", i);
		TINY_CHECK(tiny_count_unpatterned(GOOD_GPA + (2 * i + 1) * TINY_PAGE_SIZE,
						  TINY_PAGE_SIZE, SEED) == 0,
			   "inflate after the reset: page %u's neighbour lost its data", i);
	}

	(void)tvq_roundtrip(report, &rep_buf, 1, "report after the reset");
	TINY_CHECK(tiny_count_nonzero(REPORT_GPA, REPORT_LEN) == 0,
		   "report after the reset: not discarded");
	tiny_printf("%s: after a reset: inflate of %u pages and a 2 MiB report acked and "
		    "discarded\n",
		    tiny_name, GOOD_PAGES);
}

int tiny_main(const struct tiny_boot *boot)
{
	struct tvq inflate, report;

	TINY_CHECK(tiny_ram_contains(boot, BIG_GPA, REPORT_GPA + REPORT_LEN - BIG_GPA),
		   "guest RAM does not cover [8 MiB, 34 MiB): give more --memory");
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0, "no virtio-balloon found");
	tvm_negotiate_or_fail(features);
	tvq_setup(&inflate, 0, 0, QUEUE_SIZE);
	tvm_driver_ok();

	/* Everything the test touches is touched before the host's first reading. */
	fill_pfns(BIG_GPA, BIG_PFNS, VICTIM_GPA >> BALLOON_PFN_SHIFT);
	fill_pfns(LINUX_GPA, LINUX_PFNS, VICTIM_GPA >> BALLOON_PFN_SHIFT);
	tiny_fill_pages(VICTIM_GPA, TINY_PAGE_SIZE, SEED);
	tiny_fill_pages(GOOD_GPA, 2 * GOOD_PAGES * TINY_PAGE_SIZE, SEED);
	tiny_fill_pages(REPORT_GPA, REPORT_LEN, SEED);
	wait_for_host("ready", 1);

	flood_big_chains(&inflate);
	flood_linux_chains(&inflate);
	wait_for_host("attack over", 2);

	serve_after_reset(&inflate, &report);
	tiny_printf("PASS %s\n", tiny_name);
	tiny_exit(TINY_EXIT_PASS);
}
