// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: split virtqueue chain parsing (devices/virtqueue.c), the code
 * that reads everything a guest driver writes into the descriptor table and
 * the available ring.
 *
 * Input:
 *   u8  log2 of the queue size (mod 11: 1..1024)
 *   u8  flags: bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 ring addresses
 *       from the input (3 x u64 guest-physical) instead of packed in RAM
 *   u16 n, then n bytes copied to the start of RAM (descriptors, rings,
 *       indirect tables, buffers: whatever the fuzzer puts there)
 *   u16 m, then m bytes copied to the second RAM region
 *   then steps until the input ends, each a u8 opcode:
 *     0 pop a chain (checked below), keep its head to push later
 *     1 patch: u16 RAM offset, u16 value (the guest changing rings meanwhile)
 *     2 push the oldest popped head back with a u32 length
 *     3 should_notify + pending
 *
 * Checked: no out-of-bounds access (ASan), no UB (UBSan), and every chain
 * handed out is sane: 1..size buffers, each non-empty and translated by
 * guest_mem__translate to exactly the pointer the device got, readable
 * buffers before writable ones, byte totals adding up; a rejected chain has a
 * head inside the queue; a broken queue stays broken.
 */
#include "fuzz_common.h"

#include "devices/virtqueue.h"

#include <string.h>

#define RAM_GPA	  0x10000ULL
#define RAM_SIZE  0x10000ULL /* holds the rings of a 1024-entry queue */
#define RAM2_GPA  0x30000ULL /* a second region after a hole: edges and gaps */
#define RAM2_SIZE 0x2000ULL
#define MAX_STEPS 4096

static struct fuzz_ram ram;
static struct vq_chain chain;
static uint16_t popped[VIRTQ_MAX_SIZE];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_ram__add(&ram, RAM_GPA, RAM_SIZE);
	fuzz_ram__add(&ram, RAM2_GPA, RAM2_SIZE);
	return 0;
}

static void check_chain(const struct virtqueue *vq, const struct vq_chain *c)
{
	uint64_t readable = 0, writable = 0;

	FUZZ_ASSERT(c->head < vq->size);
	FUZZ_ASSERT(c->nr_bufs >= 1 && c->nr_bufs <= vq->size);
	FUZZ_ASSERT(c->nr_readable <= c->nr_bufs);
	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const struct vq_buf *b = &c->bufs[i];

		FUZZ_ASSERT(b->len > 0);
		FUZZ_ASSERT(b->hva && b->hva == guest_mem__translate(&ram.mem, b->gpa, b->len));
		FUZZ_ASSERT(b->device_writable == (i >= c->nr_readable));
		if (b->device_writable)
			writable += b->len;
		else
			readable += b->len;
	}
	FUZZ_ASSERT(readable == c->readable_bytes);
	FUZZ_ASSERT(writable == c->writable_bytes);
}

static void patch_ram(uint16_t off, uint16_t val)
{
	uint8_t *p = ram.hva[0];

	if (off + 2u <= RAM_SIZE)
		memcpy(p + off, &val, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct virtqueue vq;
	unsigned int npopped = 0, first = 0;
	uint16_t qsize;
	uint8_t flags;
	const uint8_t *bytes;
	size_t len;
	bool broken = false;
	int ret;

	fuzz_ram__reset(&ram);
	qsize = (uint16_t)(1u << (fin_u8(&in) % 11));
	flags = fin_u8(&in);

	memset(&vq, 0, sizeof(vq));
	vq.size = qsize;
	if (flags & 4) {
		vq.desc_gpa = fin_u64(&in);
		vq.avail_gpa = fin_u64(&in);
		vq.used_gpa = fin_u64(&in);
	} else {
		/* Packed as a driver would: table, avail ring, used ring (4-aligned). */
		vq.desc_gpa = RAM_GPA;
		vq.avail_gpa = RAM_GPA + (uint64_t)qsize * VIRTQ_DESC_SIZE;
		vq.used_gpa = (vq.avail_gpa + VIRTQ_AVAIL_SIZE(qsize) + 3) & ~3ULL;
	}
	bytes = fin_bytes(&in, fin_u16(&in), &len);
	memcpy(ram.hva[0], bytes, len < RAM_SIZE ? len : RAM_SIZE);
	bytes = fin_bytes(&in, fin_u16(&in), &len);
	memcpy(ram.hva[1], bytes, len < RAM2_SIZE ? len : RAM2_SIZE);
	vq.ready = true;

	ret = virtqueue__activate(&vq, &ram.mem, flags & 1, flags & 2);
	if (ret < 0) {
		/* Refused rings are never used: pop must report nothing. */
		FUZZ_ASSERT(!vq.active);
		FUZZ_ASSERT(virtqueue__pop(&vq, &chain, NULL) == VQ_POP_EMPTY);
		return 0;
	}

	for (unsigned int step = 0; step < MAX_STEPS && !fin_empty(&in); step++) {
		enum vq_error err;
		enum vq_pop_result r;

		switch (fin_u8(&in) % 4) {
		case 0:
			r = virtqueue__pop(&vq, &chain, &err);
			if (broken)
				FUZZ_ASSERT(r == VQ_POP_BROKEN);
			if (r == VQ_POP_OK) {
				FUZZ_ASSERT(err == VQ_ERR_NONE);
				check_chain(&vq, &chain);
			} else if (r == VQ_POP_REJECTED) {
				FUZZ_ASSERT(err > VQ_ERR_NONE && err < VQ_ERR__COUNT);
				FUZZ_ASSERT(chain.head < vq.size);
			} else if (r == VQ_POP_BROKEN) {
				FUZZ_ASSERT(vq.broken);
				FUZZ_ASSERT(virtqueue__pending(&vq) == 0);
				broken = true;
			}
			if ((r == VQ_POP_OK || r == VQ_POP_REJECTED) && npopped - first < qsize)
				popped[npopped++ % qsize] = chain.head;
			break;
		case 1: {
			uint16_t off = fin_u16(&in);

			patch_ram(off, fin_u16(&in));
			break;
		}
		case 2:
			if (first != npopped)
				virtqueue__push(&vq, popped[first++ % qsize], fin_u32(&in));
			break;
		default:
			(void)virtqueue__should_notify(&vq);
			(void)virtqueue__pending(&vq);
			break;
		}
	}
	/* Per direction the counters add up. */
	FUZZ_ASSERT(vq.stats.used_pushed <= vq.stats.chains_popped + vq.stats.chains_rejected);
	return 0;
}
