// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_hinting: free page hinting (virtio 1.2 section 5.5.6.4) the way
 * Linux 6.1's driver makes a run. The host side (host/hinting.sh) starts a
 * run through the API (PATCH /balloon/hinting/start); the guest reads the
 * new command id from config space, sends it in a 4-byte device-readable
 * buffer, hints 4 MiB blocks as device-writable buffers, one chain each, and
 * ends with STOP. With acknowledge_on_stop the device answers DONE. Checked:
 * every hinted block reads zero once its used entry is there, DONE comes
 * only after, memory never hinted keeps its data, refused hints (unaligned)
 * and hints after DONE discard nothing, and hinted blocks are usable again.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_hinting";

#define HINT_GPA     (16 * TINY_MIB) /* the free blocks the guest hints */
#define BLOCK	     (4 * TINY_MIB)  /* Linux: order MAX_ORDER - 1 on x86 */
#define BLOCKS	     4
#define KEPT_GPA     (40 * TINY_MIB) /* never hinted: must keep its pattern */
#define KEPT_LEN     (2 * TINY_MIB)
#define QUEUE_SIZE   16
#define CFG_CMD_ID   8 /* free_page_hint_cmd_id */
#define CMD_STOP     0
#define CMD_DONE     1
#define SEED_HINT    21
#define SEED_KEPT    22
#define SEED_REUSE   23
#define SEED_REFUSED 24

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
static uint32_t cmd_buf;

static uint32_t read_cmd_id(void)
{
	uint32_t gen, id;

	do { /* 2.5.1: until ConfigGeneration is stable */
		gen = tvm_read(VM_CONFIG_GENERATION);
		id = tvm_read(VM_CONFIG + CFG_CMD_ID);
	} while (gen != tvm_read(VM_CONFIG_GENERATION));
	return id;
}

/* Wait for the command id to satisfy `want` (>= 2: any run id). */
static uint32_t wait_cmd_id(uint32_t want, const char *what)
{
	struct tiny_wait w;
	uint32_t id;

	tiny_wait_start(&w, TVQ_WAIT_MS, TINY_STRIDE_POLL);
	for (;;) {
		id = read_cmd_id();
		if (want >= 2 ? id >= 2 : id == want)
			return id;
		TINY_CHECK(!tiny_wait_over(&w), "%s: command id still %u after %u ms", what, id,
			   TVQ_WAIT_MS);
		cpu_relax();
	}
}

static uint32_t send_cmd(struct tvq *q, uint32_t id, const char *what)
{
	const struct tbuf buf = {(uint64_t)&cmd_buf, 4, false};

	cmd_buf = id;
	return tvq_roundtrip(q, &buf, 1, what);
}

static uint32_t send_hint(struct tvq *q, uint64_t gpa, uint32_t len, const char *what)
{
	const struct tbuf buf = {gpa, len, true};

	return tvq_roundtrip(q, &buf, 1, what);
}

static void expect_kept(const char *when)
{
	uint64_t bad = tiny_count_unpatterned(KEPT_GPA, KEPT_LEN, SEED_KEPT);

	TINY_CHECK(bad == 0, "%s: %lu pages of the kept area lost their data", when, bad);
}

int tiny_main(const struct tiny_boot *boot)
{
	struct tvq fpq;
	uint64_t bad;
	uint32_t id, len;

	TINY_CHECK(tiny_ram_contains(boot, HINT_GPA, KEPT_GPA + KEPT_LEN - HINT_GPA),
		   "guest RAM ends at 0x%lx; the test needs [16 MiB, 42 MiB): give --memory 64M",
		   boot->low_ram_end);
	tvm_balloon_offering(features, "FREE_PAGE_HINT (--balloon free-page-hinting=on?)",
			     "--balloon");
	tvm_negotiate_or_fail(features);
	/* No STATS_VQ: free_page_vq is queue 2 (5.5.2, absent queues take no index). */
	tvq_setup(&fpq, 0, 2, QUEUE_SIZE);
	tvm_driver_ok();
	TINY_CHECK(read_cmd_id() == CMD_STOP, "command id %u before any run", read_cmd_id());

	tiny_fill_pages(HINT_GPA, BLOCKS * BLOCK, SEED_HINT);
	tiny_fill_pages(KEPT_GPA, KEPT_LEN, SEED_KEPT);

	/* Hints before any run: acknowledged, nothing discarded. */
	len = send_hint(&fpq, HINT_GPA, BLOCK, "hint before a run");
	TINY_CHECK(len == 0, "hint before a run: used len %u", len);
	TINY_CHECK(tiny_count_unpatterned(HINT_GPA, BLOCK, SEED_HINT) == 0,
		   "a hint before any run was discarded");
	tiny_printf("%s: hint before a run kept\n", tiny_name);

	tiny_printf("%s: ready, waiting for a hinting run\n", tiny_name);
	id = wait_cmd_id(2, "start");
	tvm_expect_interrupt(VM_INT_CONFIG, "start");
	tiny_printf("%s: run %u started\n", tiny_name, id);

	/* Linux: the id first, as an outbuf; then the blocks, one inbuf each. */
	len = send_cmd(&fpq, id, "the run's id");
	TINY_CHECK(len == 0, "the run's id: used len %u", len);
	for (unsigned int i = 0; i < BLOCKS; i++) {
		uint64_t gpa = HINT_GPA + (uint64_t)i * BLOCK;

		len = send_hint(&fpq, gpa, BLOCK, "hint");
		TINY_CHECK(len == 0, "hint %u: used len %u", i, len);
		/* The rule: the used entry comes after the discard. */
		bad = tiny_count_nonzero(gpa, BLOCK);
		TINY_CHECK(bad == 0, "hint %u acknowledged with %lu pages not discarded", i, bad);
	}
	TINY_CHECK(read_cmd_id() == id, "command id %u before our STOP", read_cmd_id());

	/* A hostile hint: unaligned, refused, nothing discarded. */
	tiny_fill_pages(KEPT_GPA + KEPT_LEN, TINY_PAGE_SIZE, SEED_REFUSED);
	len = send_hint(&fpq, KEPT_GPA + KEPT_LEN + 512, 4096, "unaligned hint");
	TINY_CHECK(len == 0, "unaligned hint: used len %u", len);
	TINY_CHECK(tiny_count_unpatterned(KEPT_GPA + KEPT_LEN, TINY_PAGE_SIZE, SEED_REFUSED) == 0,
		   "an unaligned hint discarded its page");
	tiny_printf("%s: %u MiB hinted, each block zeroed when acknowledged; unaligned hint "
		    "refused\n",
		    tiny_name, (unsigned int)(BLOCKS * BLOCK / TINY_MIB));

	/* Our side is done: STOP; the host acknowledges with DONE. */
	len = send_cmd(&fpq, CMD_STOP, "STOP");
	TINY_CHECK(len == 0, "STOP: used len %u", len);
	wait_cmd_id(CMD_DONE, "DONE");
	tvm_expect_interrupt(VM_INT_CONFIG, "DONE");
	expect_kept("after DONE");
	tiny_printf("%s: DONE seen after STOP, kept intact\n", tiny_name);

	/* After DONE the pages are ours: a late hint must not discard anything. */
	tiny_fill_pages(HINT_GPA, BLOCKS * BLOCK, SEED_REUSE);
	len = send_hint(&fpq, HINT_GPA, BLOCK, "hint after DONE");
	TINY_CHECK(len == 0, "hint after DONE: used len %u", len);
	bad = tiny_count_unpatterned(HINT_GPA, BLOCKS * BLOCK, SEED_REUSE);
	TINY_CHECK(bad == 0, "%lu pages lost after DONE (a late hint was discarded?)", bad);
	tiny_printf("%s: hinted memory reused, late hint kept\n", tiny_name);

	/* The host side reads the status and the metrics, then lets us go. */
	tiny_printf("%s: checked, waiting for the host\n", tiny_name);
	tvm_wait_balloon_target(256, "the host's go-ahead");
	expect_kept("at the end");
	return TINY_EXIT_PASS;
}
