// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_reporting: free page reporting end to end, the way Linux's
 * virtio_balloon + mm/page_reporting.c drive it (virtio 1.2 section 5.5.6.7):
 * VERSION_1|REPORTING, the reporting queue, chains of device-writable 2 MiB
 * buffers, up to 32 at once. The device must discard the reported memory
 * BEFORE it hands the chain back (so the pages read as zero once acked; a
 * late discard would zero memory the guest already reuses), must leave
 * everything else alone, must hand back every chain, even malformed ones
 * (len 0, with an interrupt), and must keep working afterwards: also through
 * a ring wrap and a reset after DEVICE_NEEDS_RESET.
 *
 * Phases: report 1 (8 MiB, 4 buffers), the big report (128 MiB, 32 buffers),
 * report 2 (malformed chains of every kind), report 3 (valid again), 40 wrap
 * reports, a corrupt avail ring, report 4 after the reset.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_reporting";

/* Guest-physical plan (needs 200 MiB of RAM; the test runs with 256 MiB). */
#define CHUNK	     (2 * TINY_MIB)  /* pageblock size: Linux reports in these units */
#define R1_GPA	     (16 * TINY_MIB) /* report 1: 4 chunks */
#define R1_LEN	     (8 * TINY_MIB)
#define KEPT_GPA     (32 * TINY_MIB) /* never reported: must keep its pattern */
#define KEPT_LEN     (2 * TINY_MIB)
#define RO_GPA	     (36 * TINY_MIB) /* offered as a device-READABLE buffer: must be kept */
#define RO_LEN	     (2 * TINY_MIB)
#define R3_GPA	     (40 * TINY_MIB) /* report 3 and the ring-wrap reports */
#define R3_LEN	     (4 * TINY_MIB)
#define BIG_GPA	     (64 * TINY_MIB) /* the big report: 32 buffers, a whole queue */
#define BIG_BUF	     (4 * TINY_MIB)
#define BIG_NR	     QUEUE_SIZE
#define RAM_NEEDED   (BIG_GPA + BIG_NR * BIG_BUF + 8 * TINY_MIB)
#define OUTSIDE_RAM  0x7f00000000UL /* far above any RAM the test gives the guest */
#define QUEUE_SIZE   32
#define WRAP_REPORTS 40 /* more than QUEUE_SIZE: the avail and used rings wrap */

#define SEED_R1	  1
#define SEED_KEPT 2
#define SEED_RO	  3
#define SEED_END  4
#define SEED_R1B  5
#define SEED_R3	  6

/* What we need; STATS_VQ is taken too when offered, as Linux does (it moves reporting_vq). */
static const uint64_t needed = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);
static uint64_t features;
static uint64_t ram_end;

static void setup_device(struct tvq *q, unsigned int slot)
{
	const unsigned int rvq = balloon_reporting_vq(features);

	tvm_negotiate_or_fail(features);
	/* inflateq and deflateq exist but stay unused, as in Linux with reporting only. */
	tvq_setup(q, slot, rvq, QUEUE_SIZE);
	tvm_driver_ok();
	TINY_CHECK((tvm_read(VM_INTERRUPT_STATUS) & VM_INT_USED_RING) == 0,
		   "InterruptStatus 0x%x before anything was reported",
		   tvm_read(VM_INTERRUPT_STATUS));
}

static void expect_kept(uint64_t gpa, uint64_t len, uint64_t seed, const char *what,
			const char *when)
{
	uint64_t bad = tiny_count_unpatterned(gpa, len, seed);

	TINY_CHECK(bad == 0, "%s: %lu of %lu pages of %s [0x%lx, +0x%lx) lost their data", when,
		   bad, len / TINY_PAGE_SIZE, what, gpa, len);
}

static void expect_zeroed(uint64_t gpa, uint64_t len, const char *when)
{
	uint64_t left = tiny_count_nonzero(gpa, len);

	TINY_CHECK(left == 0,
		   "%s: %lu of %lu reported pages [0x%lx, +0x%lx) still hold data after the "
		   "ack (discard not done, or done after the used element was published)",
		   when, left, len / TINY_PAGE_SIZE, gpa, len);
}

/*
 * Right after the ack, before anything else: one word at each end of every
 * reported buffer, last buffer first. A device that publishes the used
 * element before its discards complete is caught here if they are still in
 * flight; the full page-by-page check that follows takes milliseconds under
 * emulation, long enough for a late discard to finish unseen.
 */
static void expect_zeroed_now(const struct tbuf *bufs, unsigned int n, const char *when)
{
	uint64_t seen[2 * QUEUE_SIZE];

	TINY_CHECK(n <= QUEUE_SIZE, "expect_zeroed_now: %u buffers", n);
	for (unsigned int i = n; i-- > 0;) {
		seen[2 * i] = ram_read64(bufs[i].addr + bufs[i].len - 8);
		seen[2 * i + 1] = ram_read64(bufs[i].addr);
	}
	for (unsigned int i = 0; i < 2 * n; i++)
		TINY_CHECK(seen[i] == 0,
			   "%s: buffer %u still holds data right after the ack: the used element "
			   "was published before the discard completed",
			   when, i / 2);
}

/* Everything that must survive every report. */
static void expect_bystanders(uint64_t r1_seed, const char *when)
{
	expect_kept(KEPT_GPA, KEPT_LEN, SEED_KEPT, "the kept area", when);
	expect_kept(R1_GPA - TINY_PAGE_SIZE, TINY_PAGE_SIZE, SEED_KEPT, "the page below report 1",
		    when);
	expect_kept(R1_GPA + R1_LEN, TINY_PAGE_SIZE, SEED_KEPT, "the page above report 1", when);
	expect_kept(RO_GPA, RO_LEN, SEED_RO, "the read-only buffer", when);
	expect_kept(ram_end - TINY_MIB, TINY_MIB, SEED_END, "the last MiB of RAM", when);
	if (r1_seed)
		expect_kept(R1_GPA, R1_LEN, r1_seed, "report 1's area, refilled", when);
}

/* Report 1: 8 MiB in four 2 MiB device-writable buffers, one chain. */
static void report_valid(struct tvq *q)
{
	struct tbuf bufs[R1_LEN / CHUNK];
	uint32_t len;

	tiny_fill_pages(R1_GPA, R1_LEN, SEED_R1);
	tiny_fill_pages(R1_GPA - TINY_PAGE_SIZE, TINY_PAGE_SIZE, SEED_KEPT);
	tiny_fill_pages(R1_GPA + R1_LEN, TINY_PAGE_SIZE, SEED_KEPT);
	tiny_fill_pages(KEPT_GPA, KEPT_LEN, SEED_KEPT);
	tiny_fill_pages(RO_GPA, RO_LEN, SEED_RO);
	tiny_fill_pages(ram_end - TINY_MIB, TINY_MIB, SEED_END);
	expect_kept(R1_GPA, R1_LEN, SEED_R1, "report 1's area", "before report 1");

	for (unsigned int i = 0; i < R1_LEN / CHUNK; i++)
		bufs[i] = (struct tbuf){R1_GPA + i * CHUNK, CHUNK, true};
	len = tvq_roundtrip(q, bufs, R1_LEN / CHUNK, "report 1");
	expect_zeroed_now(bufs, R1_LEN / CHUNK, "report 1");
	expect_zeroed(R1_GPA, R1_LEN, "report 1");
	expect_bystanders(0, "report 1");
	tvm_expect_interrupt(VM_INT_USED_RING, "report 1");
	tiny_printf("%s: report 1 acked (used len %u), %lu MiB zeroed, kept intact\n", tiny_name,
		    len, R1_LEN / TINY_MIB);

	/* Reported pages belong to the guest again at once: they must take new data. */
	tiny_fill_pages(R1_GPA, R1_LEN, SEED_R1B);
	expect_kept(R1_GPA, R1_LEN, SEED_R1B, "report 1's area", "reuse after report 1");
	tiny_printf("%s: reported memory reused: %lu MiB rewritten and verified\n", tiny_name,
		    R1_LEN / TINY_MIB);
}

/*
 * Linux reports up to 32 buffers (PAGE_REPORTING_CAPACITY) at once: here 32
 * buffers of 4 MiB, a chain as long as the queue (2.7.5.2 allows that), and
 * 128 MiB of populated memory, so the discard takes milliseconds and an ack
 * sent before it completes would show in expect_zeroed_now().
 */
static void report_big(struct tvq *q)
{
	struct tbuf bufs[BIG_NR];

	tiny_fill_pages(BIG_GPA, BIG_NR * BIG_BUF, SEED_R3);
	tiny_fill_pages(BIG_GPA + BIG_NR * BIG_BUF, TINY_PAGE_SIZE, SEED_KEPT);
	for (unsigned int i = 0; i < BIG_NR; i++)
		bufs[i] = (struct tbuf){BIG_GPA + i * BIG_BUF, BIG_BUF, true};
	(void)tvq_roundtrip(q, bufs, BIG_NR, "big report");
	expect_zeroed_now(bufs, BIG_NR, "big report");
	expect_zeroed(BIG_GPA, BIG_NR * BIG_BUF, "big report");
	expect_kept(BIG_GPA + BIG_NR * BIG_BUF, TINY_PAGE_SIZE, SEED_KEPT,
		    "the page above the big report", "big report");
	expect_bystanders(SEED_R1B, "big report");
	tvm_expect_interrupt(VM_INT_USED_RING, "big report");
	tiny_printf("%s: big report acked: %u buffers (a whole queue), %lu MiB zeroed, kept "
		    "intact\n",
		    tiny_name, BIG_NR, BIG_NR * BIG_BUF / TINY_MIB);
}

/* Submit a chain the device must refuse; it still comes back, with len 0. */
static void expect_refused(struct tvq *q, uint16_t head, const char *what)
{
	uint32_t id, len, status;

	tvq_publish(q, head);
	tvq_kick(q);
	if (tvq_wait_used(q, &id, &len, TVQ_WAIT_MS) < 0)
		tiny_fail("bad report (%s): not handed back after %u ms (used->idx %u, Status "
			  "0x%x): the driver would wait forever",
			  what, TVQ_WAIT_MS, q->used->idx, tvm_read(VM_STATUS));
	TINY_CHECK(id == head, "bad report (%s): used element names %u, submitted %u", what, id,
		   head);
	TINY_CHECK(len == 0, "bad report (%s): used len %u, expected 0", what, len);
	status = tvm_read(VM_STATUS);
	TINY_CHECK(!(status & (VS_DEVICE_NEEDS_RESET | VS_FAILED)),
		   "bad report (%s): the device gave up (Status 0x%x)", what, status);
	/* Linux sleeps until the used-buffer interrupt: a refused chain needs one too. */
	tvm_expect_interrupt(VM_INT_USED_RING, what);
	tiny_printf("%s: bad report (%s): handed back, len 0\n", tiny_name, what);
}

static void report_bad_one(struct tvq *q, uint64_t addr, uint32_t len, bool writable,
			   const char *what)
{
	const struct tbuf buf = {addr, len, writable};

	expect_refused(q, tvq_add_chain(q, &buf, 1), what);
}

/* Report 2: malformed chains of every kind. None may hang, none may do harm. */
static void report_bad(struct tvq *q)
{
	struct tbuf two[2];
	uint16_t head;

	report_bad_one(q, OUTSIDE_RAM, CHUNK, true, "address outside RAM");
	report_bad_one(q, 0xd0000000, CHUNK, true, "address in the MMIO hole");
	report_bad_one(q, ram_end - TINY_MIB, CHUNK, true, "buffer crossing the end of RAM");
	report_bad_one(q, 0xfffffffffff00000UL, CHUNK, true, "address + len wraps around 2^64");
	report_bad_one(q, RO_GPA, RO_LEN, false, "device-readable buffer");
	report_bad_one(q, R3_GPA, 0, true, "zero-length buffer");

	/* A good buffer followed by a bad one: the whole chain is refused. */
	two[0] = (struct tbuf){R3_GPA, CHUNK, true};
	two[1] = (struct tbuf){OUTSIDE_RAM, CHUNK, true};
	expect_refused(q, tvq_add_chain(q, two, 2), "good buffer then one outside RAM");

	/* A descriptor that chains to itself: the chain length is bounded (2.7.5.2). */
	head = tvq_add_chain(q, &two[0], 1);
	q->desc[head].flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE;
	q->desc[head].next = head;
	expect_refused(q, head, "descriptor loop");

	/* F_NEXT naming a descriptor past the table. */
	head = tvq_add_chain(q, &two[0], 1);
	q->desc[head].flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE;
	q->desc[head].next = 0x7fff;
	expect_refused(q, head, "next index out of range");

	/* F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (2.7.5.3.1). */
	head = tvq_add_chain(q, &two[0], 1);
	q->desc[head].flags = 4 /* VRING_DESC_F_INDIRECT */;
	q->desc[head].len = 16;
	expect_refused(q, head, "indirect descriptor not negotiated");

	expect_bystanders(SEED_R1B, "after the bad reports");
	tvm_write(VM_INTERRUPT_ACK, VM_INT_USED_RING);
	tiny_printf("%s: report 2 (malformed): all handed back with len 0, nothing discarded\n",
		    tiny_name);
}

/* Report 3, valid again: the device kept working. */
static void report_after_bad(struct tvq *q)
{
	const struct tbuf bufs[2] = {{R3_GPA, CHUNK, true}, {R3_GPA + CHUNK, CHUNK, true}};

	tiny_fill_pages(R3_GPA, R3_LEN, SEED_R3);
	(void)tvq_roundtrip(q, bufs, 2, "report 3");
	expect_zeroed_now(bufs, 2, "report 3");
	expect_zeroed(R3_GPA, R3_LEN, "report 3");
	expect_bystanders(SEED_R1B, "report 3");
	tvm_expect_interrupt(VM_INT_USED_RING, "report 3");
	tiny_printf("%s: report 3 acked, %lu MiB zeroed, kept intact: device still works\n",
		    tiny_name, R3_LEN / TINY_MIB);
}

/* More reports than the queue has entries: indices and descriptors wrap. */
static void report_wrap(struct tvq *q)
{
	const struct tbuf buf = {R3_GPA, CHUNK, true};
	char what[] = "wrap report";

	for (unsigned int i = 0; i < WRAP_REPORTS; i++) {
		/* Every page populated: the discard has real work, a late one shows. */
		tiny_fill_pages(R3_GPA, CHUNK, SEED_R3 + i);
		(void)tvq_roundtrip(q, &buf, 1, what);
		expect_zeroed_now(&buf, 1, what);
		expect_zeroed(R3_GPA, TINY_PAGE_SIZE, what);
		expect_zeroed(R3_GPA + CHUNK - TINY_PAGE_SIZE, TINY_PAGE_SIZE, what);
	}
	expect_bystanders(SEED_R1B, "after the ring wrapped");
	tvm_write(VM_INTERRUPT_ACK, VM_INT_USED_RING);
	tiny_printf("%s: %u more reports through a %u-entry queue (avail idx %u): ring wrap ok\n",
		    tiny_name, WRAP_REPORTS, QUEUE_SIZE, q->avail_idx);
}

/*
 * A corrupt available ring (a head index past the queue) is not a bad chain
 * but a broken ring: the device sets DEVICE_NEEDS_RESET and, as DRIVER_OK is
 * set, sends a configuration change notification (2.1.2); it never hands the
 * bogus head back, neither before nor after. After a reset the device works
 * again.
 */
static void report_broken_ring(struct tvq *q)
{
	struct tiny_wait w;
	uint32_t status;

	tvq_publish(q, QUEUE_SIZE + 3);
	tvq_kick(q);
	tiny_wait_start(&w, TVQ_WAIT_MS, TINY_STRIDE_EXIT);
	while (!((status = tvm_read(VM_STATUS)) & VS_DEVICE_NEEDS_RESET)) {
		TINY_CHECK(*(volatile uint16_t *)&q->used->idx == q->used_seen,
			   "broken ring: the device published a used element for head %u",
			   QUEUE_SIZE + 3);
		if (tiny_wait_over(&w) && !((status = tvm_read(VM_STATUS)) & VS_DEVICE_NEEDS_RESET))
			tiny_fail("avail ring names descriptor %u of %u: Status 0x%x, no "
				  "DEVICE_NEEDS_RESET after %u ms",
				  QUEUE_SIZE + 3, QUEUE_SIZE, status, w.waited_ms);
	}
	/* The flag may come first and a bogus used element a moment later: watch a while. */
	tvq_expect_no_used(q, TVQ_QUIET_MS, "broken ring, after DEVICE_NEEDS_RESET");
	tvm_expect_interrupt(VM_INT_CONFIG, "DEVICE_NEEDS_RESET");
	tiny_printf("%s: corrupt avail ring: DEVICE_NEEDS_RESET (Status 0x%x), a config "
		    "interrupt, no used element in %u ms\n",
		    tiny_name, status, TVQ_QUIET_MS);

	setup_device(q, 1);
	tiny_fill_pages(R3_GPA, CHUNK, SEED_R3);
	{
		const struct tbuf buf = {R3_GPA, CHUNK, true};

		(void)tvq_roundtrip(q, &buf, 1, "report after reset");
	}
	expect_zeroed(R3_GPA, CHUNK, "report after reset");
	expect_bystanders(SEED_R1B, "report after reset");
	tvm_expect_interrupt(VM_INT_USED_RING, "report after reset");
	tiny_printf("%s: reset after DEVICE_NEEDS_RESET: report 4 acked, 2 MiB zeroed\n",
		    tiny_name);
}

int tiny_main(const struct tiny_boot *boot)
{
	struct tvq q;
	uint64_t offered;

	ram_end = boot->low_ram_end;
	TINY_CHECK(ram_end >= RAM_NEEDED && tiny_ram_contains(boot, R1_GPA, ram_end - R1_GPA),
		   "guest RAM ends at 0x%lx; the test needs [16 MiB, %lu MiB): give --memory 256M",
		   ram_end, RAM_NEEDED / TINY_MIB);
	offered = tvm_balloon_offering(needed, "VERSION_1 or REPORTING", "--balloon-reporting");
	features = needed | (offered & BIT64(VIRTIO_BALLOON_F_STATS_VQ));

	setup_device(&q, 0);
	tiny_printf("%s: negotiated 0x%lx, reporting queue %u with %u entries, RAM ends at 0x%lx\n",
		    tiny_name, features, balloon_reporting_vq(features), QUEUE_SIZE, ram_end);

	report_valid(&q);
	report_big(&q);
	report_bad(&q);
	report_after_bad(&q);
	report_wrap(&q);
	report_broken_ring(&q);

	tvm_write(VM_STATUS, 0);
	return 0;
}
