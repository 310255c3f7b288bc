// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_huge_refault: on hugetlbfs guest RAM, a guest reports a huge page
 * and then hands the device buffers to READ inside it, never touching it
 * again itself: an inflate PFN array, an indirect descriptor table, a stats
 * buffer. The host side (host/huge_refault.sh) empties the host's huge page
 * pool in between. The device's read would fault that huge page back in
 * from an empty pool: SIGBUS, mini-vmm dead (exit 135). It must populate
 * first, fail, and refuse each chain with len 0; then serve well-behaved
 * ones (an inflate, a stats buffer, a report of another huge page).
 *
 * Everything the guest itself touches after the pool is emptied lies in
 * huge pages it touched before (its image, stack and rings in the first
 * 2 MiB, REPORT2_GPA): a new one would fail KVM's own fault.
 * Steps, each waiting for the host's balloon target (PATCH /balloon):
 * "reported" -> host empties the pool, target 1 MiB -> the attack and the
 * well-behaved chains, "attack over" -> host refills the pool, target 2 MiB
 * -> the guest checks the second report read as zero.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_huge_refault";

#define HUGE		       (2 * TINY_MIB)
#define VICTIM_GPA	       (16 * TINY_MIB) /* reported, then the buffers' home */
#define REPORT2_GPA	       (20 * TINY_MIB) /* reported once the pool is empty */
#define INFLATE_GPA	       (24 * TINY_MIB) /* the well-behaved inflate's page */
#define QUEUE_SIZE	       16
#define Q_INFLATE	       0
#define Q_STATS		       2
#define Q_REPORTING	       3
#define STAT_SIZE	       10 /* le16 tag, le64 value */
#define VIRTIO_F_INDIRECT_DESC 28
#define VRING_DESC_F_INDIRECT  4
#define SEED		       21

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_F_INDIRECT_DESC) |
				 BIT64(VIRTIO_BALLOON_F_STATS_VQ) |
				 BIT64(VIRTIO_BALLOON_F_REPORTING);
static uint32_t pfns[4];
static uint8_t stats_buf[STAT_SIZE];

/* Publish one chain of one buffer, `flags` on its descriptor; its used length. */
static uint32_t send_one(struct tvq *q, uint64_t addr, uint32_t len, uint16_t flags,
			 const char *what)
{
	const struct tbuf buf = {addr, len, (flags & VRING_DESC_F_WRITE) != 0};
	uint16_t head = tvq_add_chain(q, &buf, 1);
	uint32_t id, used_len;

	q->desc[head].flags = flags; /* before publication: the driver's to write */
	tvq_publish(q, head);
	tvq_kick(q);
	TINY_CHECK(tvq_wait_used(q, &id, &used_len, TVQ_WAIT_MS) == 0, "%s: no used element", what);
	TINY_CHECK(id == head, "%s: used element names head %u, sent %u", what, id, head);
	return used_len;
}

static void expect_alive(const char *when)
{
	uint32_t st = tvm_read(VM_STATUS);

	TINY_CHECK(st == (VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK),
		   "%s: Status 0x%x", when, st);
}

int tiny_main(const struct tiny_boot *boot)
{
	struct tvq inflate, stats, reporting;
	uint32_t len;

	TINY_CHECK(tiny_ram_contains(boot, VICTIM_GPA, INFLATE_GPA + HUGE - VICTIM_GPA),
		   "guest RAM ends at 0x%lx; give --memory 64M", boot->low_ram_end);
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0, "no virtio-balloon on virtio-mmio");
	tvm_negotiate_or_fail(features);
	/* Three ring slots: inflate, stats, reporting; the deflate queue stays unused. */
	tvq_setup(&inflate, 0, Q_INFLATE, QUEUE_SIZE);
	tvq_setup(&stats, 1, Q_STATS, QUEUE_SIZE);
	tvq_setup(&reporting, 2, Q_REPORTING, QUEUE_SIZE);
	tvm_driver_ok();

	/* Two huge pages in use, the first one reported: the host punches it out. */
	tiny_fill_pages(VICTIM_GPA, HUGE, SEED);
	tiny_fill_pages(REPORT2_GPA, HUGE, SEED);
	len = send_one(&reporting, VICTIM_GPA, HUGE, VRING_DESC_F_WRITE, "report");
	TINY_CHECK(len == 0, "report: used len %u", len);
	TINY_CHECK(tiny_count_nonzero(VICTIM_GPA, TINY_PAGE_SIZE) == 0,
		   "the reported huge page was not discarded");
	/* ...which just faulted it back in: report it once more, and never touch it again. */
	len = send_one(&reporting, VICTIM_GPA, HUGE, VRING_DESC_F_WRITE, "report again");
	tiny_printf("%s: reported the huge page at 0x%lx, waiting for the host\n", tiny_name,
		    VICTIM_GPA);
	tvm_wait_balloon_target(256, "the host emptying its huge page pool");

	/* The attack: buffers the device reads, inside the discarded huge page. */
	len = send_one(&inflate, VICTIM_GPA + 64, 16, 0, "inflate, PFN array in the hole");
	TINY_CHECK(len == 0, "inflate, PFN array in the hole: used len %u", len);
	len = send_one(&reporting, VICTIM_GPA + 4096, 16, VRING_DESC_F_INDIRECT,
		       "report, indirect table in the hole");
	TINY_CHECK(len == 0, "report, indirect table in the hole: used len %u", len);
	len = send_one(&stats, VICTIM_GPA + 8192, STAT_SIZE, 0, "stats buffer in the hole");
	TINY_CHECK(len == 0, "stats buffer in the hole: used len %u", len);
	expect_alive("after the attack");
	tiny_printf("%s: inflate, indirect table and stats in the hole: handed back, len 0\n",
		    tiny_name);

	/* Well-behaved chains, their buffers where the guest has memory. */
	pfns[0] = (uint32_t)(INFLATE_GPA >> BALLOON_PFN_SHIFT);
	len = send_one(&inflate, (uint64_t)pfns, 4, 0, "inflate");
	TINY_CHECK(len == 0, "inflate: used len %u", len);
	stats_buf[0] = 4; /* VIRTIO_BALLOON_S_MEMFREE, value 0 */
	len = send_one(&stats, (uint64_t)stats_buf, STAT_SIZE, 0, "stats");
	TINY_CHECK(len == 0, "stats: used len %u", len);
	len = send_one(&reporting, REPORT2_GPA, HUGE, VRING_DESC_F_WRITE, "report 2");
	TINY_CHECK(len == 0, "report 2: used len %u", len);
	expect_alive("after the well-behaved chains");
	tiny_printf("%s: attack over: inflate, stats and a report served after it\n", tiny_name);
	tvm_wait_balloon_target(512, "the host refilling its huge page pool");

	/* The pool has pages again: the second report was discarded. */
	TINY_CHECK(tiny_count_nonzero(REPORT2_GPA, HUGE) == 0,
		   "report 2: the huge page still holds data");
	tiny_printf("%s: report 2 discarded, reads zero\n", tiny_name);
	tvm_write(VM_STATUS, 0);
	return 0;
}
