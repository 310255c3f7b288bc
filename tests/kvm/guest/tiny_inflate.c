// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_inflate: the classic balloon (virtio 1.2 sections 5.5.6 and
 * 5.5.6.1) the way Linux's virtio_balloon drives it. The host asks for a
 * balloon size (num_pages, from --balloon size=...); the guest inflates that
 * many pages through the inflate queue, 256 le32 PFNs per buffer, and updates
 * actual. The device must discard inflated pages before it acks them (they
 * read as zero afterwards) and leave everything else alone; it must hand back
 * malformed inflate chains with len 0; after a deflate (allowed without a
 * target change since DEFLATE_ON_OOM is negotiated) the pages are usable again.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_inflate";

#define BALLOON_GPA  (16 * TINY_MIB) /* where the balloon's pages come from */
#define MAX_PAGES    4096	     /* 16 MiB: the most this test inflates */
#define KEPT_GPA     (40 * TINY_MIB) /* never inflated: must keep its pattern */
#define KEPT_LEN     (2 * TINY_MIB)
#define PFNS_PER_BUF 256 /* VIRTIO_BALLOON_ARRAY_PFNS_MAX in Linux */
#define QUEUE_SIZE   32
#define OUTSIDE_RAM  0x7f00000000UL
#define SEED_BALLOON 11
#define SEED_KEPT    12
#define SEED_REUSE   13
#define SEED_REFUSED 14

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
static uint32_t pfns[PFNS_PER_BUF];

/* The PFN of balloon page i; each chain lists its pages in a different order. */
static uint32_t balloon_pfn(unsigned int chain, unsigned int i)
{
	unsigned int base = chain * PFNS_PER_BUF;

	switch (chain % 3) {
	case 0: /* ascending: the device may merge them into one range */
		break;
	case 1: /* descending */
		i = PFNS_PER_BUF - 1 - i;
		break;
	default: /* evens, then odds */
		i = i < PFNS_PER_BUF / 2 ? 2 * i : 2 * (i - PFNS_PER_BUF / 2) + 1;
		break;
	}
	return (uint32_t)((BALLOON_GPA >> BALLOON_PFN_SHIFT) + base + i);
}

static uint32_t read_num_pages(void)
{
	uint32_t gen, num_pages;

	/* 4.2.2 / 2.5.1: re-read until ConfigGeneration is stable. */
	do {
		gen = tvm_read(VM_CONFIG_GENERATION);
		num_pages = tvm_read(VM_CONFIG + BALLOON_CFG_NUM_PAGES);
	} while (gen != tvm_read(VM_CONFIG_GENERATION));
	return num_pages;
}

static void set_actual(uint32_t actual)
{
	tvm_write(VM_CONFIG + BALLOON_CFG_ACTUAL, actual);
	TINY_CHECK(tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL) == actual,
		   "actual reads 0x%x after writing %u", tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL),
		   actual);
}

/* Send `n` PFNs of chain `chain` on queue q; return the used length. */
static uint32_t send_pfns(struct tvq *q, unsigned int chain, unsigned int n, const char *what)
{
	const struct tbuf buf = {(uint64_t)pfns, n * 4, false};

	for (unsigned int i = 0; i < n; i++)
		pfns[i] = balloon_pfn(chain, i);
	return tvq_roundtrip(q, &buf, 1, what);
}

static uint64_t count_pages(unsigned int chains, bool zero, uint64_t seed)
{
	uint64_t bad = 0;

	for (unsigned int c = 0; c < chains; c++)
		for (unsigned int i = 0; i < PFNS_PER_BUF; i++) {
			uint64_t gpa = (uint64_t)balloon_pfn(c, i) << BALLOON_PFN_SHIFT;

			bad += zero ? tiny_count_nonzero(gpa, TINY_PAGE_SIZE)
				    : tiny_count_unpatterned(gpa, TINY_PAGE_SIZE, seed);
		}
	return bad;
}

static void expect_kept(const char *when)
{
	uint64_t bad = tiny_count_unpatterned(KEPT_GPA, KEPT_LEN, SEED_KEPT);

	TINY_CHECK(bad == 0, "%s: %lu pages of the kept area lost their data", when, bad);
}

/* Malformed inflate chains: handed back with len 0, nothing discarded. */
static void inflate_bad(struct tvq *inflate, uint64_t victim)
{
	struct tbuf buf = {(uint64_t)pfns, 4, true};
	uint32_t len;

	tiny_fill_pages(victim, TINY_PAGE_SIZE, SEED_REFUSED);
	pfns[0] = (uint32_t)(victim >> BALLOON_PFN_SHIFT);
	pfns[1] = (uint32_t)(victim >> BALLOON_PFN_SHIFT);

	/* The PFN array is driver -> device: a device-writable buffer is wrong. */
	len = tvq_roundtrip(inflate, &buf, 1, "inflate with a device-writable buffer");
	TINY_CHECK(len == 0, "inflate with a device-writable buffer: used len %u", len);
	tvm_expect_interrupt(VM_INT_USED_RING, "inflate with a device-writable buffer");
	/* A PFN array whose length is not a multiple of 4 bytes. */
	buf = (struct tbuf){(uint64_t)pfns, 6, false};
	len = tvq_roundtrip(inflate, &buf, 1, "inflate of 6 bytes");
	TINY_CHECK(len == 0, "inflate of 6 bytes: used len %u", len);
	/* The PFN array itself outside RAM. */
	buf = (struct tbuf){OUTSIDE_RAM, 4, false};
	len = tvq_roundtrip(inflate, &buf, 1, "inflate with the PFN array outside RAM");
	TINY_CHECK(len == 0, "inflate with the PFN array outside RAM: used len %u", len);
	tvm_expect_interrupt(VM_INT_USED_RING, "inflate with the PFN array outside RAM");

	TINY_CHECK(tiny_count_unpatterned(victim, TINY_PAGE_SIZE, SEED_REFUSED) == 0,
		   "a refused inflate chain discarded page 0x%lx", victim);
	TINY_CHECK((tvm_read(VM_STATUS) & VS_DEVICE_NEEDS_RESET) == 0,
		   "the device gave up on malformed inflate chains (Status 0x%x)",
		   tvm_read(VM_STATUS));
	tiny_printf("%s: malformed inflate chains handed back with len 0, nothing discarded\n",
		    tiny_name);
}

/* PFNs outside RAM are the driver's mistake: the chain still comes back. */
static void inflate_outside_ram(struct tvq *inflate)
{
	const struct tbuf buf = {(uint64_t)pfns, 2 * 4, false};

	pfns[0] = (uint32_t)(OUTSIDE_RAM >> BALLOON_PFN_SHIFT);
	pfns[1] = (uint32_t)(0xd0000000UL >> BALLOON_PFN_SHIFT); /* the device's own window */
	(void)tvq_roundtrip(inflate, &buf, 1, "inflate of PFNs outside RAM");
	TINY_CHECK(tvm_read(VM_MAGIC_VALUE) == VM_MAGIC,
		   "the device window reads 0x%x after inflating its PFN",
		   tvm_read(VM_MAGIC_VALUE));
	tiny_printf("%s: inflate of PFNs outside RAM handed back\n", tiny_name);
}

int tiny_main(const struct tiny_boot *boot)
{
	struct tvq inflate, deflate;
	uint32_t num_pages, chains, len;
	uint64_t offered, bad;

	TINY_CHECK(tiny_ram_contains(boot, BALLOON_GPA, KEPT_GPA + KEPT_LEN - BALLOON_GPA),
		   "guest RAM ends at 0x%lx; the test needs [16 MiB, 42 MiB): give --memory 64M",
		   boot->low_ram_end);
	offered = tvm_balloon_offering(features, "VERSION_1 or DEFLATE_ON_OOM", "--balloon");
	TINY_CHECK(!(offered & BIT64(VIRTIO_BALLOON_F_MUST_TELL_HOST)),
		   "MUST_TELL_HOST offered: this test reuses deflated pages right away");
	tvm_negotiate_or_fail(features);
	tvq_setup(&inflate, 0, 0, QUEUE_SIZE);
	tvq_setup(&deflate, 1, 1, QUEUE_SIZE);
	tvm_driver_ok();

	/* The host's target, in 4 KiB pages (5.5.4). */
	num_pages = read_num_pages();
	TINY_CHECK(num_pages > 0 && num_pages % PFNS_PER_BUF == 0 && num_pages <= MAX_PAGES,
		   "num_pages %u: run with --balloon size=N with N a multiple of 1 MiB up to 16M",
		   num_pages);
	chains = num_pages / PFNS_PER_BUF;
	tiny_printf("%s: host asks for %u pages (%u MiB)\n", tiny_name, num_pages, num_pages >> 8);
	TINY_CHECK(tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL) == 0, "actual is %u at start",
		   tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL));

	/* Inflate (5.5.6.1): pages with data, handed over 256 PFNs per chain. */
	for (unsigned int c = 0; c < chains; c++)
		for (unsigned int i = 0; i < PFNS_PER_BUF; i++)
			tiny_fill_pages((uint64_t)balloon_pfn(c, i) << BALLOON_PFN_SHIFT,
					TINY_PAGE_SIZE, SEED_BALLOON);
	tiny_fill_pages(KEPT_GPA, KEPT_LEN, SEED_KEPT);
	/* The page just above the balloon, too: a discard must not run past the PFNs. */
	tiny_fill_pages(BALLOON_GPA + (uint64_t)num_pages * TINY_PAGE_SIZE, TINY_PAGE_SIZE,
			SEED_KEPT);
	for (unsigned int c = 0; c < chains; c++) {
		len = send_pfns(&inflate, c, PFNS_PER_BUF, "inflate");
		TINY_CHECK(len == 0, "inflate chain %u: used len %u (device writes nothing)", c,
			   len);
		set_actual((c + 1) * PFNS_PER_BUF);
	}
	bad = count_pages(chains, true, 0);
	TINY_CHECK(bad == 0, "%lu of %u inflated pages still hold data after the ack", bad,
		   num_pages);
	expect_kept("inflate");
	TINY_CHECK(tiny_count_unpatterned(BALLOON_GPA + (uint64_t)num_pages * TINY_PAGE_SIZE,
					  TINY_PAGE_SIZE, SEED_KEPT) == 0,
		   "the page above the balloon lost its data");
	tvm_expect_interrupt(VM_INT_USED_RING, "inflate");
	tiny_printf("%s: inflated %u pages in %u chains, all zeroed, actual %u, kept intact\n",
		    tiny_name, num_pages, chains, tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL));

	inflate_bad(&inflate, KEPT_GPA + KEPT_LEN);
	inflate_outside_ram(&inflate);
	expect_kept("after the bad inflates");

	/* Deflate (5.5.6.2): the same PFNs come back; then the guest uses them. */
	for (unsigned int c = 0; c < chains; c++) {
		len = send_pfns(&deflate, c, PFNS_PER_BUF, "deflate");
		TINY_CHECK(len == 0, "deflate chain %u: used len %u", c, len);
		set_actual((chains - c - 1) * PFNS_PER_BUF);
	}
	for (unsigned int c = 0; c < chains; c++)
		for (unsigned int i = 0; i < PFNS_PER_BUF; i++)
			tiny_fill_pages((uint64_t)balloon_pfn(c, i) << BALLOON_PFN_SHIFT,
					TINY_PAGE_SIZE, SEED_REUSE);
	bad = count_pages(chains, false, SEED_REUSE);
	TINY_CHECK(bad == 0, "%lu of %u deflated pages do not keep new data", bad, num_pages);
	expect_kept("deflate");
	tiny_printf("%s: deflated %u pages, actual %u, pages reused and verified\n", tiny_name,
		    num_pages, tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL));
	TINY_CHECK(read_num_pages() == num_pages, "num_pages changed to %u", read_num_pages());

	tvm_write(VM_STATUS, 0);
	return 0;
}
