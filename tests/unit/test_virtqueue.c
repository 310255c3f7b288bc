// SPDX-License-Identifier: GPL-2.0
/*
 * Split virtqueue, device side: direct, indirect and mixed chains, interrupt
 * suppression, and every bound a hostile driver could cross (each must cost
 * the right counter and nothing else), plus randomized rings.
 */
#include "fake_virtq.h"
#include "testlib.h"
#include "devices/virtqueue.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#define RAM_SIZE (256 * 1024)

/* 32 KiB: too big for the stack of every test, and one is enough. */
static struct vq_chain chain;

struct env {
	struct fake_ram ram;
	struct fake_virtq fq;
	struct virtqueue vq;
};

static void env_init(struct env *e, uint16_t size, bool event_idx, bool indirect)
{
	memset(&e->vq, 0, sizeof(e->vq));
	CHECK_EQ(fake_ram__init(&e->ram, FAKE_RAM_GPA, RAM_SIZE), 0);
	CHECK_EQ(fake_virtq__init(&e->fq, &e->ram, size), 0);
	CHECK_EQ(fake_virtq__activate(&e->fq, &e->vq, event_idx, indirect), 0);
}

static void env_exit(struct env *e)
{
	fake_ram__exit(&e->ram);
}

static uint64_t errors_total(const struct virtqueue *vq)
{
	uint64_t n = 0;

	for (int i = 0; i < VQ_ERR__COUNT; i++)
		n += vq->stats.errors[i];
	return n;
}

/* Exactly one error of kind `err` so far, and the chain came back REJECTED. */
static void expect_rejected(struct env *e, enum vq_error want)
{
	enum vq_error err = VQ_ERR_NONE;
	uint32_t id, len;

	CHECK_EQ(virtqueue__pop(&e->vq, &chain, &err), VQ_POP_REJECTED);
	CHECK_EQ(err, want);
	CHECK_EQ(e->vq.stats.errors[want], 1);
	CHECK_EQ(errors_total(&e->vq), 1);
	CHECK_EQ(e->vq.stats.chains_rejected, 1);
	CHECK_EQ(e->vq.stats.chains_popped, 0);
	CHECK(!e->vq.broken);
	CHECK(chain.head < e->fq.size);
	/* The driver gets its buffer back, with nothing written. */
	virtqueue__push(&e->vq, chain.head, 0);
	CHECK(fake_virtq__get_used(&e->fq, &id, &len));
	CHECK_EQ(id, chain.head);
	CHECK_EQ(len, 0);
}

/* The queue still works after a rejected chain: the device carries on. */
static void expect_still_works(struct env *e)
{
	uint64_t b = fake_ram__alloc(&e->ram, 64, 8);
	struct fake_buf buf = {b, 64, true};
	int head = fake_virtq__add_chain(&e->fq, &buf, 1);
	enum vq_error err;

	CHECK_EQ(virtqueue__pop(&e->vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(chain.head, head);
	CHECK_EQ(chain.nr_bufs, 1);
	CHECK_EQ(chain.bufs[0].gpa, b);
}

static void check_buf(struct env *e, const struct vq_buf *vb, uint64_t gpa, uint32_t len, bool w)
{
	CHECK_EQ(vb->gpa, gpa);
	CHECK_EQ(vb->len, len);
	CHECK_EQ(vb->device_writable, w);
	CHECK(vb->hva == fake_ram__hva(&e->ram, gpa, len));
}

static void test_direct_chain(void)
{
	struct env e;
	uint64_t a, b, c;
	uint32_t id, len;
	enum vq_error err;
	int head;

	env_init(&e, 8, false, false);
	a = fake_ram__alloc(&e.ram, 100, 8);
	b = fake_ram__alloc(&e.ram, 200, 8);
	c = fake_ram__alloc(&e.ram, 50, 8);
	struct fake_buf bufs[] = {{a, 100, false}, {b, 200, true}, {c, 50, true}};

	CHECK_EQ(virtqueue__pending(&e.vq), 0);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_EMPTY);
	memcpy(fake_ram__hva(&e.ram, a, 5), "hello", 5);
	head = fake_virtq__add_chain(&e.fq, bufs, 3);
	CHECK_EQ(virtqueue__pending(&e.vq), 1);

	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(err, VQ_ERR_NONE);
	CHECK_EQ(chain.head, head);
	CHECK_EQ(chain.nr_bufs, 3);
	CHECK_EQ(chain.nr_readable, 1);
	CHECK_EQ(chain.readable_bytes, 100);
	CHECK_EQ(chain.writable_bytes, 250);
	check_buf(&e, &chain.bufs[0], a, 100, false);
	check_buf(&e, &chain.bufs[1], b, 200, true);
	check_buf(&e, &chain.bufs[2], c, 50, true);
	CHECK(memcmp(chain.bufs[0].hva, "hello", 5) == 0);
	memcpy(chain.bufs[1].hva, "world", 5);
	CHECK_EQ(virtqueue__pending(&e.vq), 0);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_EMPTY);

	CHECK(!fake_virtq__get_used(&e.fq, &id, &len));
	virtqueue__push(&e.vq, head, 5);
	CHECK(fake_virtq__get_used(&e.fq, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 5);
	CHECK(memcmp(fake_ram__hva(&e.ram, b, 5), "world", 5) == 0);
	CHECK_EQ(e.vq.stats.chains_popped, 1);
	CHECK_EQ(e.vq.stats.used_pushed, 1);
	CHECK_EQ(errors_total(&e.vq), 0);

	/* A chain of exactly the queue size is fine. */
	struct fake_buf full[8];
	for (int i = 0; i < 8; i++)
		full[i] = (struct fake_buf){fake_ram__alloc(&e.ram, 16, 8), 16, i >= 4};
	head = fake_virtq__add_chain(&e.fq, full, 8);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(chain.nr_bufs, 8);
	CHECK_EQ(chain.nr_readable, 4);
	virtqueue__push(&e.vq, head, 64);
	env_exit(&e);
}

/* Indices wrap at 2^16 and the rings at their size: run well past both. */
static void test_wraparound(void)
{
	struct env e;
	uint64_t b;
	enum vq_error err;
	uint32_t id, len;

	env_init(&e, 4, true, false);
	b = fake_ram__alloc(&e.ram, 32, 8);
	for (unsigned int i = 0; i < 70000; i++) {
		struct fake_buf bufs[2] = {{b, 16, false}, {b + 16, 16, true}};
		int h1 = fake_virtq__add_chain(&e.fq, bufs, 2);
		int h2 = fake_virtq__add_chain(&e.fq, bufs + 1, 1);

		CHECK_EQ(virtqueue__pending(&e.vq), 2);
		CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
		CHECK_EQ(chain.head, h1);
		virtqueue__push(&e.vq, chain.head, 16);
		CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
		CHECK_EQ(chain.head, h2);
		virtqueue__push(&e.vq, chain.head, 1);
		CHECK(fake_virtq__get_used(&e.fq, &id, &len));
		CHECK(id == (uint32_t)h1 && len == 16);
		CHECK(fake_virtq__get_used(&e.fq, &id, &len));
		CHECK(id == (uint32_t)h2 && len == 1);
	}
	CHECK_EQ(e.vq.last_avail_idx, (uint16_t)140000);
	CHECK_EQ(fake_virtq__used_idx(&e.fq), (uint16_t)140000);
	CHECK_EQ(e.vq.stats.chains_popped, 140000);
	CHECK_EQ(errors_total(&e.vq), 0);
	env_exit(&e);
}

static void test_indirect_chain(void)
{
	struct env e;
	uint64_t a, b, c, d;
	enum vq_error err;
	uint32_t id, len;
	int head;

	env_init(&e, 4, false, true);
	a = fake_ram__alloc(&e.ram, 10, 1);
	b = fake_ram__alloc(&e.ram, 20, 1);
	c = fake_ram__alloc(&e.ram, 30, 1);
	d = fake_ram__alloc(&e.ram, 40, 1);
	struct fake_buf bufs[] = {{a, 10, false}, {b, 20, false}, {c, 30, true}, {d, 40, true}};

	/* All four in one indirect table (as many as the queue size). */
	head = fake_virtq__add_indirect(&e.fq, bufs, 4);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(chain.head, head);
	CHECK_EQ(chain.nr_bufs, 4);
	CHECK_EQ(chain.nr_readable, 2);
	CHECK_EQ(chain.readable_bytes, 30);
	CHECK_EQ(chain.writable_bytes, 70);
	check_buf(&e, &chain.bufs[0], a, 10, false);
	check_buf(&e, &chain.bufs[1], b, 20, false);
	check_buf(&e, &chain.bufs[2], c, 30, true);
	check_buf(&e, &chain.bufs[3], d, 40, true);
	virtqueue__push(&e.vq, head, 70);
	CHECK(fake_virtq__get_used(&e.fq, &id, &len));
	CHECK(id == (uint32_t)head && len == 70);

	/* Mixed (2.7.5.3.2): two direct descriptors, then an indirect table of two. */
	head = fake_virtq__add_mixed(&e.fq, bufs, 2, bufs + 2, 2);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(chain.head, head);
	CHECK_EQ(chain.nr_bufs, 4);
	CHECK_EQ(chain.nr_readable, 2);
	check_buf(&e, &chain.bufs[0], a, 10, false);
	check_buf(&e, &chain.bufs[1], b, 20, false);
	check_buf(&e, &chain.bufs[2], c, 30, true);
	check_buf(&e, &chain.bufs[3], d, 40, true);

	/* A device-writable flag on the indirect descriptor itself is ignored (2.7.5.3.2). */
	uint64_t table = fake_ram__alloc(&e.ram, 16, 16);
	fake_virtq__write_desc(&e.fq, table, 0, d, 40, VIRTQ_DESC_F_WRITE, 0);
	fake_virtq__set_desc(&e.fq, 0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	fake_virtq__publish(&e.fq, 0);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(chain.nr_bufs, 1);
	check_buf(&e, &chain.bufs[0], d, 40, true);
	CHECK_EQ(errors_total(&e.vq), 0);
	CHECK_EQ(e.vq.stats.chains_popped, 3);
	env_exit(&e);
}

static void test_event_idx(void)
{
	struct env e;
	uint64_t b;
	enum vq_error err;

	env_init(&e, 16, true, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	struct fake_buf buf = {b, 64, true};

	/* The device asks to hear about each buffer it has not seen yet. */
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_EMPTY);
	CHECK_EQ(fake_virtq__avail_event(&e.fq), 0);
	for (int i = 0; i < 10; i++)
		fake_virtq__add_chain(&e.fq, &buf, 1);
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
		CHECK_EQ(fake_virtq__avail_event(&e.fq), i + 1);
	}
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_EMPTY);
	CHECK_EQ(fake_virtq__avail_event(&e.fq), 10);

	/* Nothing pushed: nothing to say. */
	CHECK(!virtqueue__should_notify(&e.vq));
	/* The first push after activation always interrupts. */
	virtqueue__push(&e.vq, 0, 1); /* used idx 1 */
	CHECK(virtqueue__should_notify(&e.vq));
	CHECK(!virtqueue__should_notify(&e.vq)); /* nothing new since */

	/* "Interrupt me once the used entry at index 5 is there" (used idx goes to 6). */
	fake_virtq__set_used_event(&e.fq, 5);
	for (int i = 2; i <= 5; i++) {
		virtqueue__push(&e.vq, 0, 1);
		CHECK(!virtqueue__should_notify(&e.vq));
	}
	CHECK_EQ(e.vq.stats.notifications_suppressed, 4);
	virtqueue__push(&e.vq, 0, 1); /* used idx 6: crosses 5 */
	CHECK(virtqueue__should_notify(&e.vq));

	/* A batch that jumps over used_event still interrupts, once. */
	fake_virtq__set_used_event(&e.fq, 8);
	for (int i = 0; i < 3; i++)
		virtqueue__push(&e.vq, 0, 1); /* 6 -> 9 */
	CHECK(virtqueue__should_notify(&e.vq));
	CHECK(!virtqueue__should_notify(&e.vq));

	/* used_event behind us (the driver is slow to update it): no interrupt. */
	virtqueue__push(&e.vq, 0, 1); /* 10 */
	CHECK(!virtqueue__should_notify(&e.vq));
	CHECK_EQ(e.vq.stats.notifications_suppressed, 5);

	/* used_event exactly at the previous used index. */
	fake_virtq__set_used_event(&e.fq, 10);
	virtqueue__push(&e.vq, 0, 1); /* 11 */
	CHECK(virtqueue__should_notify(&e.vq));

	/* NO_INTERRUPT is ignored when EVENT_IDX is negotiated. */
	fake_virtq__set_avail_flags(&e.fq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	fake_virtq__set_used_event(&e.fq, 11);
	virtqueue__push(&e.vq, 0, 1);
	CHECK(virtqueue__should_notify(&e.vq));
	env_exit(&e);
}

static void test_no_interrupt(void)
{
	struct env e;

	env_init(&e, 4, false, false);
	virtqueue__push(&e.vq, 1, 1);
	CHECK(virtqueue__should_notify(&e.vq));
	CHECK(!virtqueue__should_notify(&e.vq)); /* nothing new */

	fake_virtq__set_avail_flags(&e.fq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtqueue__push(&e.vq, 1, 1);
	CHECK(!virtqueue__should_notify(&e.vq));
	CHECK_EQ(e.vq.stats.notifications_suppressed, 1);

	fake_virtq__set_avail_flags(&e.fq, 0);
	/* used_event is not looked at without EVENT_IDX. */
	fake_virtq__set_used_event(&e.fq, 100);
	virtqueue__push(&e.vq, 2, 1);
	CHECK(virtqueue__should_notify(&e.vq));
	/* The device did not suppress avail notifications. */
	CHECK_EQ(fake_virtq__used_flags(&e.fq), 0);
	env_exit(&e);
}

static void test_head_out_of_range(void)
{
	struct env e;
	enum vq_error err;

	env_init(&e, 8, false, false);
	fake_virtq__publish(&e.fq, 8);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_BROKEN);
	CHECK_EQ(err, VQ_ERR_HEAD_OUT_OF_RANGE);
	CHECK_EQ(e.vq.stats.errors[VQ_ERR_HEAD_OUT_OF_RANGE], 1);
	CHECK_EQ(e.vq.stats.chains_rejected, 1);
	CHECK(e.vq.broken);
	CHECK_EQ(virtqueue__pending(&e.vq), 0);
	/* Stays broken, counted once, until the device is reset. */
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_BROKEN);
	CHECK_EQ(errors_total(&e.vq), 1);
	fake_virtq__publish(&e.fq, 0xffff);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_BROKEN);
	CHECK_EQ(errors_total(&e.vq), 1);

	/* Reset keeps the stats; a fresh ring works again. */
	struct fake_virtq fq2;
	CHECK_EQ(fake_virtq__init(&fq2, &e.ram, 8), 0);
	CHECK_EQ(fake_virtq__activate(&fq2, &e.vq, false, false), 0);
	CHECK(!e.vq.broken);
	CHECK_EQ(e.vq.stats.errors[VQ_ERR_HEAD_OUT_OF_RANGE], 1);
	e.fq = fq2;
	expect_still_works(&e);
	env_exit(&e);
}

static void test_avail_idx_jump(void)
{
	struct env e;
	enum vq_error err;

	/* Exactly a full ring ahead is legal. */
	env_init(&e, 8, false, false);
	for (uint16_t i = 0; i < 8; i++) {
		fake_virtq__set_desc(&e.fq, i, e.fq.desc_gpa, 16, 0, 0);
		fake_virtq__publish(&e.fq, i);
	}
	CHECK_EQ(virtqueue__pending(&e.vq), 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_EMPTY);
	env_exit(&e);

	/* One more is not. */
	env_init(&e, 8, true, false);
	fake_virtq__set_avail_idx(&e.fq, 9);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_BROKEN);
	CHECK_EQ(err, VQ_ERR_AVAIL_IDX_JUMP);
	CHECK_EQ(e.vq.stats.errors[VQ_ERR_AVAIL_IDX_JUMP], 1);
	CHECK_EQ(e.vq.stats.chains_rejected, 1);
	CHECK_EQ(errors_total(&e.vq), 1);
	CHECK(e.vq.broken);
	env_exit(&e);

	/* Going backwards is a jump of almost 2^16. */
	env_init(&e, 8, false, false);
	fake_virtq__set_avail_idx(&e.fq, 0xffff);
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_BROKEN);
	CHECK_EQ(e.vq.stats.errors[VQ_ERR_AVAIL_IDX_JUMP], 1);
	env_exit(&e);
}

static void test_next_out_of_range(void)
{
	struct env e;
	uint64_t b;

	env_init(&e, 8, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	fake_virtq__set_desc(&e.fq, 3, b, 64, VIRTQ_DESC_F_NEXT, 8);
	fake_virtq__publish(&e.fq, 3);
	expect_rejected(&e, VQ_ERR_NEXT_OUT_OF_RANGE);
	CHECK_EQ(chain.head, 3);
	e.fq.next_desc = 4;
	expect_still_works(&e);
	env_exit(&e);

	env_init(&e, 8, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	fake_virtq__set_desc(&e.fq, 0, b, 64, VIRTQ_DESC_F_NEXT, 0xffff);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_NEXT_OUT_OF_RANGE);
	env_exit(&e);
}

static void test_loops_and_long_chains(void)
{
	struct env e;
	uint64_t b;

	/* a -> b -> a */
	env_init(&e, 8, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	fake_virtq__set_desc(&e.fq, 0, b, 64, VIRTQ_DESC_F_NEXT, 1);
	fake_virtq__set_desc(&e.fq, 1, b, 64, VIRTQ_DESC_F_NEXT, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_CHAIN_TOO_LONG);
	env_exit(&e);

	/* a -> a, in the biggest queue: still bounded. */
	env_init(&e, VIRTQ_MAX_SIZE, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	fake_virtq__set_desc(&e.fq, 5, b, 64, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	fake_virtq__publish(&e.fq, 5);
	expect_rejected(&e, VQ_ERR_CHAIN_TOO_LONG);
	env_exit(&e);

	/* No loop, but more buffers than the queue size: 3 direct + 2 indirect > 4. */
	env_init(&e, 4, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	struct fake_buf bufs[] = {{b, 8, false}, {b, 8, false}, {b, 8, false}};
	struct fake_buf ind[] = {{b, 8, true}, {b, 8, true}};
	fake_virtq__add_mixed(&e.fq, bufs, 3, ind, 2);
	expect_rejected(&e, VQ_ERR_CHAIN_TOO_LONG);
	env_exit(&e);

	/* A loop inside an indirect table. */
	env_init(&e, 4, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	uint64_t table = fake_ram__alloc(&e.ram, 32, 16);
	fake_virtq__write_desc(&e.fq, table, 0, b, 8, VIRTQ_DESC_F_NEXT, 1);
	fake_virtq__write_desc(&e.fq, table, 1, b, 8, VIRTQ_DESC_F_NEXT, 0);
	fake_virtq__set_desc(&e.fq, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_CHAIN_TOO_LONG);
	env_exit(&e);
}

static void test_buffers_outside_ram(void)
{
	static const struct {
		uint64_t addr_from_end; /* 0: use `addr` as is */
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{10, 0, 20},			  /* straddles the end of RAM */
		{0, 0, 16},			  /* below RAM (gpa 0 is not RAM) */
		{0, FAKE_RAM_GPA - 8, 16},	  /* straddles the start of RAM */
		{0, UINT64_MAX - 5, 100},	  /* addr + len overflows */
		{0, UINT64_MAX, 1},		  /* the very last byte */
		{0, FAKE_RAM_GPA, UINT32_MAX},	  /* far too long */
		{0, FAKE_RAM_GPA + RAM_SIZE, 1},  /* one past the end */
		{0, 0x8000000000000000ULL, 4096}, /* nowhere */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct env e;
		uint64_t addr;

		env_init(&e, 4, false, true);
		addr = cases[i].addr_from_end ? e.ram.gpa + e.ram.size - cases[i].addr_from_end
					      : cases[i].addr;
		struct fake_buf ok = {fake_ram__alloc(&e.ram, 8, 8), 8, false};
		struct fake_buf bad = {addr, cases[i].len, i & 1};
		/* Second in a direct chain, so the first was fine. */
		struct fake_buf bufs[] = {ok, bad};
		fake_virtq__add_chain(&e.fq, bufs, 2);
		expect_rejected(&e, VQ_ERR_BUF_OUT_OF_RAM);
		env_exit(&e);

		/* And inside an indirect table. */
		env_init(&e, 4, false, true);
		fake_virtq__add_indirect(&e.fq, &bad, 1);
		expect_rejected(&e, VQ_ERR_BUF_OUT_OF_RAM);
		env_exit(&e);
	}

	/* The indirect table itself outside RAM, or overflowing. */
	struct env e;
	env_init(&e, 4, false, true);
	fake_virtq__set_desc(&e.fq, 0, e.ram.gpa + e.ram.size - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_BUF_OUT_OF_RAM);
	env_exit(&e);
	env_init(&e, 4, false, true);
	fake_virtq__set_desc(&e.fq, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_BUF_OUT_OF_RAM);
	env_exit(&e);
}

static void test_zero_len_and_order(void)
{
	struct env e;
	uint64_t b;

	env_init(&e, 4, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	struct fake_buf zero[] = {{b, 8, false}, {b, 0, true}};
	fake_virtq__add_chain(&e.fq, zero, 2);
	expect_rejected(&e, VQ_ERR_ZERO_LEN);
	expect_still_works(&e);
	env_exit(&e);

	env_init(&e, 4, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	struct fake_buf order[] = {{b, 8, false}, {b, 8, true}, {b + 8, 8, false}};
	fake_virtq__add_chain(&e.fq, order, 3);
	expect_rejected(&e, VQ_ERR_WRONG_ORDER);
	env_exit(&e);

	/* Across the step into an indirect table too. */
	env_init(&e, 4, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	struct fake_buf w = {b, 8, true}, r = {b, 8, false};
	fake_virtq__add_mixed(&e.fq, &w, 1, &r, 1);
	expect_rejected(&e, VQ_ERR_WRONG_ORDER);
	env_exit(&e);
}

static void test_bad_indirect(void)
{
	struct env e;
	uint64_t b, table;

	/* Not negotiated. */
	env_init(&e, 4, false, false);
	b = fake_ram__alloc(&e.ram, 64, 8);
	struct fake_buf buf = {b, 8, true};
	fake_virtq__add_indirect(&e.fq, &buf, 1);
	expect_rejected(&e, VQ_ERR_INDIRECT_NOT_NEGOTIATED);
	env_exit(&e);

	/* Bad table lengths: empty, not a multiple of 16, more entries than the queue. */
	static const uint32_t bad_lens[] = {0, 8, 24, 17, 5 * 16, 0xfffffff0};
	for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		env_init(&e, 4, false, true);
		table = fake_ram__alloc(&e.ram, 5 * 16, 16);
		for (uint16_t j = 0; j < 5; j++)
			fake_virtq__write_desc(&e.fq, table, j, table, 8, 0, 0);
		fake_virtq__set_desc(&e.fq, 0, table, bad_lens[i], VIRTQ_DESC_F_INDIRECT, 0);
		fake_virtq__publish(&e.fq, 0);
		expect_rejected(&e, VQ_ERR_BAD_INDIRECT);
		env_exit(&e);
	}

	/* Nested: an indirect descriptor inside an indirect table. */
	env_init(&e, 4, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	table = fake_ram__alloc(&e.ram, 32, 16);
	uint64_t inner = fake_ram__alloc(&e.ram, 16, 16);
	fake_virtq__write_desc(&e.fq, inner, 0, b, 8, 0, 0);
	fake_virtq__write_desc(&e.fq, table, 0, b, 8, VIRTQ_DESC_F_NEXT, 1);
	fake_virtq__write_desc(&e.fq, table, 1, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__set_desc(&e.fq, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_BAD_INDIRECT);
	env_exit(&e);

	/* INDIRECT together with NEXT (2.7.5.3.1). */
	env_init(&e, 4, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	table = fake_ram__alloc(&e.ram, 16, 16);
	fake_virtq__write_desc(&e.fq, table, 0, b, 8, 0, 0);
	fake_virtq__set_desc(&e.fq, 0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	fake_virtq__set_desc(&e.fq, 1, b, 8, VIRTQ_DESC_F_WRITE, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_BAD_INDIRECT);
	env_exit(&e);

	/* next out of the indirect table's range (though inside the queue's). */
	env_init(&e, 8, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	table = fake_ram__alloc(&e.ram, 32, 16);
	fake_virtq__write_desc(&e.fq, table, 0, b, 8, VIRTQ_DESC_F_NEXT, 2);
	fake_virtq__write_desc(&e.fq, table, 1, b, 8, 0, 0);
	fake_virtq__set_desc(&e.fq, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&e.fq, 0);
	expect_rejected(&e, VQ_ERR_NEXT_OUT_OF_RANGE);
	env_exit(&e);

	/* An unaligned indirect table is fine (the spec asks for no alignment). */
	env_init(&e, 4, false, true);
	b = fake_ram__alloc(&e.ram, 64, 8);
	table = fake_ram__alloc(&e.ram, 17, 1) + 1;
	fake_virtq__write_desc(&e.fq, table, 0, b, 8, VIRTQ_DESC_F_WRITE, 0);
	fake_virtq__set_desc(&e.fq, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&e.fq, 0);
	enum vq_error err;
	CHECK_EQ(virtqueue__pop(&e.vq, &chain, &err), VQ_POP_OK);
	check_buf(&e, &chain.bufs[0], b, 8, true);
	env_exit(&e);
}

static void test_activate_bounds(void)
{
	struct fake_ram ram;
	struct fake_virtq fq;
	struct virtqueue vq;
	enum vq_error err;

	memset(&vq, 0, sizeof(vq));
	CHECK_EQ(fake_ram__init(&ram, FAKE_RAM_GPA, RAM_SIZE), 0);
	CHECK_EQ(fake_virtq__init(&fq, &ram, 16), 0);
	uint64_t end = ram.gpa + ram.size;

	/* Not activated: nothing happens. */
	CHECK_EQ(virtqueue__pop(&vq, &chain, &err), VQ_POP_EMPTY);
	virtqueue__push(&vq, 0, 0);
	CHECK(!virtqueue__should_notify(&vq));
	CHECK_EQ(virtqueue__pending(&vq), 0);
	CHECK_EQ(vq.stats.used_pushed, 0);

	struct {
		uint64_t *field;
		uint64_t value;
		enum vq_error err;
	} cases[] = {
		{&vq.desc_gpa, 0, VQ_ERR_RING_OUT_OF_RAM},
		{&vq.desc_gpa, end - 16 * 16 + 16, VQ_ERR_RING_OUT_OF_RAM},
		{&vq.desc_gpa, UINT64_MAX - 15, VQ_ERR_RING_OUT_OF_RAM},
		{&vq.avail_gpa, end - 6 - 2 * 16 + 2, VQ_ERR_RING_OUT_OF_RAM}, /* used_event out */
		{&vq.avail_gpa, UINT64_MAX - 1, VQ_ERR_RING_OUT_OF_RAM},
		{&vq.used_gpa, end - 6 - 8 * 16 + 2, VQ_ERR_RING_OUT_OF_RAM}, /* avail_event out */
		{&vq.used_gpa, FAKE_RAM_GPA - 4, VQ_ERR_RING_OUT_OF_RAM},
		{&vq.desc_gpa, 0, VQ_ERR_BAD_RING_LAYOUT}, /* misaligned: filled in below */
		{&vq.avail_gpa, 0, VQ_ERR_BAD_RING_LAYOUT},
		{&vq.used_gpa, 0, VQ_ERR_BAD_RING_LAYOUT},
	};
	cases[7].value = fq.desc_gpa + 8;
	cases[8].value = fq.avail_gpa + 1;
	cases[9].value = fq.used_gpa + 2;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		virtqueue__reset(&vq);
		memset(&vq.stats, 0, sizeof(vq.stats));
		fake_virtq__setup(&fq, &vq);
		*cases[i].field = cases[i].value;
		CHECK_EQ(virtqueue__activate(&vq, &ram.mem, false, false), -EINVAL);
		CHECK_EQ(vq.stats.errors[cases[i].err], 1);
		CHECK_EQ(errors_total(&vq), 1);
		CHECK(!vq.active);
		CHECK_EQ(virtqueue__pop(&vq, &chain, &err), VQ_POP_EMPTY);
	}

	/* Queue sizes: zero, not a power of two, too big. */
	static const uint16_t bad_sizes[] = {0, 3, 12, 2 * VIRTQ_MAX_SIZE, 0xffff};
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		virtqueue__reset(&vq);
		memset(&vq.stats, 0, sizeof(vq.stats));
		fake_virtq__setup(&fq, &vq);
		vq.size = bad_sizes[i];
		CHECK_EQ(virtqueue__activate(&vq, &ram.mem, false, false), -EINVAL);
		CHECK_EQ(vq.stats.errors[VQ_ERR_BAD_RING_LAYOUT], 1);
		CHECK(!vq.active);
	}

	/* A queue smaller than the rings the driver allocated is fine. */
	virtqueue__reset(&vq);
	fake_virtq__setup(&fq, &vq);
	vq.size = 1;
	CHECK_EQ(virtqueue__activate(&vq, &ram.mem, true, true), 0);
	CHECK(vq.active && vq.event_idx && vq.indirect_desc);

	/* Reset forgets the ring but keeps the stats. */
	vq.stats.errors[VQ_ERR_ZERO_LEN] = 7;
	virtqueue__reset(&vq);
	CHECK(!vq.active);
	CHECK_EQ(vq.size, 0);
	CHECK_EQ(vq.stats.errors[VQ_ERR_ZERO_LEN], 7);
	fake_ram__exit(&ram);
}

static void test_error_names(void)
{
	for (int i = 0; i < VQ_ERR__COUNT; i++) {
		const char *n = virtqueue__error_name(i);

		CHECK(n && strcmp(n, "unknown") != 0);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(n, virtqueue__error_name(j)) != 0);
	}
	CHECK(strcmp(virtqueue__error_name(VQ_ERR__COUNT), "unknown") == 0);
	CHECK(strcmp(virtqueue__error_name(-1), "unknown") == 0);
}

/* xorshift64*: fixed seed, same sequence everywhere. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t random_addr(const struct fake_ram *ram)
{
	switch (rnd() % 8) {
	case 0:
		return rnd(); /* anywhere */
	case 1:
		return ram->gpa + ram->size - rnd() % 64; /* near the end */
	case 2:
		return ram->gpa - rnd() % 64; /* near the start */
	case 3:
		return UINT64_MAX - rnd() % 64; /* near overflow */
	default:
		return ram->gpa + rnd() % ram->size; /* inside */
	}
}

static uint32_t random_len(void)
{
	switch (rnd() % 6) {
	case 0:
		return (uint32_t)rnd();
	case 1:
		return 0;
	case 2:
		return 16 * (1 + rnd() % 20); /* plausible indirect table */
	default:
		return 1 + rnd() % 512;
	}
}

/* Four 256-byte areas of random descriptors, for indirect descriptors to point at. */
static uint64_t random_tables;

static void random_desc(struct fake_virtq *fq, uint64_t table, uint16_t idx, uint16_t table_size)
{
	uint16_t flags = rnd() % 8;
	uint64_t addr = random_addr(fq->ram);

	/* Often point indirect descriptors at a real table. */
	if ((flags & VIRTQ_DESC_F_INDIRECT) && rnd() % 2)
		addr = random_tables + (rnd() % 4) * 256;
	fake_virtq__write_desc(fq, table, idx, addr, random_len(), flags,
			       rnd() % 4 ? rnd() % table_size : rnd());
}

static void check_popped_chain(const struct env *e, const struct vq_chain *c)
{
	const uint8_t *lo = e->ram.buf, *hi = e->ram.buf + e->ram.size;
	uint64_t rbytes = 0, wbytes = 0;

	CHECK(c->head < e->vq.size);
	CHECK(c->nr_bufs >= 1 && c->nr_bufs <= e->vq.size);
	CHECK(c->nr_readable <= c->nr_bufs);
	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const struct vq_buf *b = &c->bufs[i];
		const uint8_t *p = b->hva;

		CHECK(b->len > 0);
		CHECK(b->device_writable == (i >= c->nr_readable));
		CHECK(guest_mem__translate(&e->ram.mem, b->gpa, b->len) == b->hva);
		CHECK(p >= lo && p < hi && b->len <= (uint64_t)(hi - p));
		if (b->device_writable)
			wbytes += b->len;
		else
			rbytes += b->len;
	}
	CHECK_EQ(c->readable_bytes, rbytes);
	CHECK_EQ(c->writable_bytes, wbytes);
}

static void test_randomized(void)
{
	unsigned int outcome[4] = {0};
	struct env e;

	for (int round = 0; round < 3000; round++) {
		uint16_t size = 1 << (rnd() % 6);
		enum vq_error err;

		env_init(&e, size, rnd() % 2, rnd() % 4 != 0);
		random_tables = fake_ram__alloc(&e.ram, 1024, 16);
		for (uint16_t i = 0; i < 64; i++)
			random_desc(&e.fq, random_tables, i, 16);
		for (uint16_t i = 0; i < size; i++)
			random_desc(&e.fq, e.fq.desc_gpa, i, size);

		for (int step = 0; step < 20; step++) {
			enum vq_pop_result r;

			switch (rnd() % 8) {
			case 0:
				fake_virtq__set_avail_idx(&e.fq,
							  e.fq.avail_idx + rnd() % (size + 2));
				break;
			case 1: /* the guest rewrites descriptors behind our back */
				random_desc(&e.fq, e.fq.desc_gpa, rnd() % size, size);
				random_desc(&e.fq, random_tables, rnd() % 64, 16);
				break;
			default:
				fake_virtq__publish(&e.fq, rnd() % 16 ? rnd() % size : rnd());
				break;
			}
			r = virtqueue__pop(&e.vq, &chain, &err);
			CHECK(r <= VQ_POP_BROKEN);
			outcome[r]++;
			if (r == VQ_POP_OK) {
				CHECK_EQ(err, VQ_ERR_NONE);
				check_popped_chain(&e, &chain);
				virtqueue__push(&e.vq, chain.head, rnd() % 64);
			} else if (r == VQ_POP_REJECTED) {
				CHECK(err > VQ_ERR_NONE && err < VQ_ERR__COUNT);
				CHECK(chain.head < size);
				virtqueue__push(&e.vq, chain.head, 0);
			} else if (r == VQ_POP_BROKEN) {
				CHECK(e.vq.broken);
				break;
			}
			virtqueue__should_notify(&e.vq);
		}
		CHECK_EQ(errors_total(&e.vq), e.vq.stats.chains_rejected);
		env_exit(&e);
	}
	printf("randomized: %u empty, %u ok, %u rejected, %u broken\n", outcome[0], outcome[1],
	       outcome[2], outcome[3]);
	/* The generator must reach every outcome, or it tests less than it seems. */
	CHECK(outcome[VQ_POP_OK] > 1000);
	CHECK(outcome[VQ_POP_REJECTED] > 1000);
	CHECK(outcome[VQ_POP_BROKEN] > 100);
	CHECK(outcome[VQ_POP_EMPTY] > 100);
}

/*
 * A driver thread and a device thread on one ring, no locks: only the
 * acquire/release pairs and fences order what each side sees. Each chain
 * carries a sequence number the device must read intact (published before
 * avail->idx) and answers with a value the driver must read intact
 * (published before used->idx).
 */
#define THREAD_CHAINS	200000
#define THREAD_INFLIGHT 4 /* chains of 2 in a queue of 8 */

/* CHECK() counts into a plain global: off the main thread, check without counting. */
#define THREAD_CHECK(cond)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: device thread: CHECK failed: %s\n", __FILE__,      \
				__LINE__, #cond);                                                  \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

struct thread_env {
	struct env e;
	uint64_t rbuf[THREAD_INFLIGHT], wbuf[THREAD_INFLIGHT];
};

static void *device_thread(void *opaque)
{
	struct thread_env *t = opaque;
	static struct vq_chain c;
	uint64_t expected = 0;
	enum vq_error err;

	while (expected < THREAD_CHAINS) {
		enum vq_pop_result r = virtqueue__pop(&t->e.vq, &c, &err);
		uint64_t seq;

		if (r == VQ_POP_EMPTY) {
			sched_yield();
			continue;
		}
		THREAD_CHECK(r == VQ_POP_OK);
		THREAD_CHECK(c.nr_bufs == 2);
		THREAD_CHECK(c.nr_readable == 1);
		memcpy(&seq, c.bufs[0].hva, 8);
		THREAD_CHECK(seq == expected);
		seq = seq * 3 + 1;
		memcpy(c.bufs[1].hva, &seq, 8);
		virtqueue__push(&t->e.vq, c.head, 8);
		virtqueue__should_notify(&t->e.vq);
		expected++;
	}
	return NULL;
}

static void test_threads(void)
{
	static struct thread_env t;
	uint64_t done = 0, in_flight = 0;
	pthread_t dev;

	env_init(&t.e, 8, true, false);
	for (int i = 0; i < THREAD_INFLIGHT; i++) {
		t.rbuf[i] = fake_ram__alloc(&t.e.ram, 8, 8);
		t.wbuf[i] = fake_ram__alloc(&t.e.ram, 8, 8);
	}
	CHECK_EQ(pthread_create(&dev, NULL, device_thread, &t), 0);
	for (uint64_t seq = 0; done < THREAD_CHAINS;) {
		uint32_t id, len;

		if (seq < THREAD_CHAINS && in_flight < THREAD_INFLIGHT) {
			unsigned int slot = seq % THREAD_INFLIGHT;
			struct fake_buf b[2] = {{t.rbuf[slot], 8, false}, {t.wbuf[slot], 8, true}};

			memcpy(fake_ram__hva(&t.e.ram, t.rbuf[slot], 8), &seq, 8);
			CHECK_EQ(fake_virtq__add_chain(&t.e.fq, b, 2), 2 * slot);
			seq++;
			in_flight++;
			continue;
		}
		if (!fake_virtq__get_used(&t.e.fq, &id, &len)) {
			sched_yield();
			continue;
		}
		unsigned int slot = done % THREAD_INFLIGHT;
		uint64_t answer;

		CHECK_EQ(id, 2 * slot);
		CHECK_EQ(len, 8);
		memcpy(&answer, fake_ram__hva(&t.e.ram, t.wbuf[slot], 8), 8);
		CHECK_EQ(answer, done * 3 + 1);
		done++;
		in_flight--;
	}
	CHECK_EQ(pthread_join(dev, NULL), 0);
	CHECK_EQ(t.e.vq.stats.chains_popped, THREAD_CHAINS);
	CHECK_EQ(errors_total(&t.e.vq), 0);
	env_exit(&t.e);
}

int main(void)
{
	test_direct_chain();
	test_wraparound();
	test_indirect_chain();
	test_event_idx();
	test_no_interrupt();
	test_head_out_of_range();
	test_avail_idx_jump();
	test_next_out_of_range();
	test_loops_and_long_chains();
	test_buffers_outside_ram();
	test_zero_len_and_order();
	test_bad_indirect();
	test_activate_bounds();
	test_error_names();
	test_randomized();
	test_threads();
	return testlib_done("test_virtqueue");
}
