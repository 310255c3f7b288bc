// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal polling virtio-mmio driver for the tiny guests (virtio 1.2
 * sections 2.1-2.7, 3.1 and 4.2.3).
 */
#include "tiny_virtio.h"

uint64_t tvm_base;

/* Static rings: descriptor table, available and used ring, a page each. */
struct tvq_rings {
	struct vring_desc desc[TVQ_MAX_SIZE];
	uint8_t avail[TINY_PAGE_SIZE];
	uint8_t used[TINY_PAGE_SIZE];
} __attribute__((aligned(4096)));

_Static_assert(sizeof(struct vring_desc) * TVQ_MAX_SIZE <= TINY_PAGE_SIZE, "desc fits a page");
_Static_assert(6 + 2 * TVQ_MAX_SIZE <= TINY_PAGE_SIZE, "avail ring fits a page");
_Static_assert(6 + 8 * TVQ_MAX_SIZE <= TINY_PAGE_SIZE, "used ring fits a page");

static struct tvq_rings rings[TVQ_SLOTS];

int tvm_find(uint32_t device_id)
{
	for (unsigned int i = 0; i < TINY_VIRTIO_MMIO_NR; i++) {
		uint64_t base = TINY_VIRTIO_MMIO + i * TINY_VIRTIO_MMIO_SZ;

		/* Windows are allocated from the first one on: stop at the first gap. */
		if (mmio_read32(base + VM_MAGIC_VALUE) != VM_MAGIC)
			break;
		if (mmio_read32(base + VM_DEVICE_ID) == device_id) {
			tvm_base = base;
			return 0;
		}
	}
	return -1;
}

uint64_t tvm_device_features(void)
{
	uint64_t lo, hi;

	tvm_write(VM_DEVICE_FEATURES_SEL, 0);
	lo = tvm_read(VM_DEVICE_FEATURES);
	tvm_write(VM_DEVICE_FEATURES_SEL, 1);
	hi = tvm_read(VM_DEVICE_FEATURES);
	return lo | hi << 32;
}

void tvm_write_driver_features(uint64_t features)
{
	tvm_write(VM_DRIVER_FEATURES_SEL, 0);
	tvm_write(VM_DRIVER_FEATURES, (uint32_t)features);
	tvm_write(VM_DRIVER_FEATURES_SEL, 1);
	tvm_write(VM_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

static void tvm_reset(void)
{
	struct tiny_wait w;
	uint32_t status;

	/* 4.2.3.1: write 0, then wait for Status to read 0 (the reset is done). */
	tvm_write(VM_STATUS, 0);
	tiny_wait_start(&w, TVQ_WAIT_MS, TINY_STRIDE_EXIT);
	while ((status = tvm_read(VM_STATUS)) != 0)
		if (tiny_wait_over(&w) && (status = tvm_read(VM_STATUS)) != 0)
			tiny_fail("device reset: Status still reads 0x%x %u ms after writing 0",
				  status, w.waited_ms);
}

uint32_t tvm_negotiate(uint64_t features)
{
	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, read/write features, FEATURES_OK, re-read. */
	tvm_reset();
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE);
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER);
	(void)tvm_device_features();
	tvm_write_driver_features(features);
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK);
	return tvm_read(VM_STATUS);
}

void tvm_negotiate_or_fail(uint64_t features)
{
	uint32_t status = tvm_negotiate(features);

	TINY_CHECK(status == (VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK),
		   "features 0x%lx: Status reads 0x%x after FEATURES_OK, expected 0xb", features,
		   status);
}

uint64_t tvm_balloon_offering(uint64_t want, const char *lacking, const char *flag)
{
	uint64_t offered;

	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0,
		   "no virtio-balloon on virtio-mmio (was mini-vmm started with %s?)", flag);
	tvm_reset();
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE);
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER);
	offered = tvm_device_features();
	TINY_CHECK((offered & want) == want, "device offers 0x%lx, lacking %s", offered, lacking);
	return offered;
}

void tvq_slot_rings(unsigned int ring_slot, uint64_t *desc, uint64_t *avail, uint64_t *used)
{
	struct tvq_rings *r = &rings[ring_slot];

	*desc = (uint64_t)r->desc;
	*avail = (uint64_t)r->avail;
	*used = (uint64_t)r->used;
}

void tvq_prepare(struct tvq *q, unsigned int ring_slot, unsigned int qidx, uint16_t size)
{
	struct tvq_rings *r = &rings[ring_slot];
	uint32_t max;

	TINY_CHECK(ring_slot < TVQ_SLOTS && size && size <= TVQ_MAX_SIZE && !(size & (size - 1)),
		   "tvq_setup: bad arguments (slot %u, size %u)", ring_slot, size);
	/* 4.2.3.2 */
	tvm_write(VM_QUEUE_SEL, qidx);
	TINY_CHECK(tvm_read(VM_QUEUE_READY) == 0, "queue %u: QueueReady is set before setup", qidx);
	max = tvm_read(VM_QUEUE_NUM_MAX);
	TINY_CHECK(max >= size, "queue %u: QueueNumMax %u, need %u", qidx, max, size);

	q->qidx = qidx;
	q->size = size;
	q->desc = r->desc;
	q->avail = (struct vring_avail *)r->avail;
	q->used = (struct vring_used *)r->used;
	q->next_desc = 0;
	q->avail_idx = 0;
	q->used_seen = 0;
	q->pending = 0;
	/* A new queue starts at index 0 on both sides (2.7.6, 2.7.8). */
	q->avail->flags = 0;
	q->avail->idx = 0;
	q->used->flags = 0;
	q->used->idx = 0;
	barrier();

	tvm_write(VM_QUEUE_NUM, size);
	tvm_write(VM_QUEUE_DESC_LOW, (uint32_t)(uint64_t)q->desc);
	tvm_write(VM_QUEUE_DESC_HIGH, (uint32_t)((uint64_t)q->desc >> 32));
	tvm_write(VM_QUEUE_DRIVER_LOW, (uint32_t)(uint64_t)q->avail);
	tvm_write(VM_QUEUE_DRIVER_HIGH, (uint32_t)((uint64_t)q->avail >> 32));
	tvm_write(VM_QUEUE_DEVICE_LOW, (uint32_t)(uint64_t)q->used);
	tvm_write(VM_QUEUE_DEVICE_HIGH, (uint32_t)((uint64_t)q->used >> 32));
}

void tvq_ready(struct tvq *q)
{
	tvm_write(VM_QUEUE_SEL, q->qidx);
	tvm_write(VM_QUEUE_READY, 1);
	TINY_CHECK(tvm_read(VM_QUEUE_READY) == 1, "queue %u: QueueReady does not read back 1",
		   q->qidx);
}

void tvq_setup(struct tvq *q, unsigned int ring_slot, unsigned int qidx, uint16_t size)
{
	tvq_prepare(q, ring_slot, qidx, size);
	tvq_ready(q);
}

void tvm_driver_ok(void)
{
	const uint32_t want = VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK;
	uint32_t status;

	tvm_write(VM_STATUS, want);
	status = tvm_read(VM_STATUS);
	TINY_CHECK(status == want, "DRIVER_OK: Status reads 0x%x, expected 0x%x", status, want);
}

uint16_t tvq_add_chain(struct tvq *q, const struct tbuf *bufs, unsigned int n)
{
	uint16_t head = q->next_desc;

	TINY_CHECK(n >= 1 && n <= q->size, "tvq_add_chain: %u buffers on a queue of %u", n,
		   q->size);
	for (unsigned int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % q->size);

		q->desc[d].addr = bufs[i].addr;
		q->desc[d].len = bufs[i].len;
		q->desc[d].flags = (bufs[i].device_writable ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		q->desc[d].next = (uint16_t)((d + 1) % q->size);
	}
	q->next_desc = (uint16_t)((head + n) % q->size);
	return head;
}

void tvq_publish(struct tvq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx % q->size] = head;
	/* 2.7.13.3.1: descriptors and the ring entry before the index (the device's
	 * acquire of avail->idx pairs with this; x86 keeps stores in order). */
	barrier();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	q->pending++;
	barrier();
}

void tvq_kick(struct tvq *q)
{
	/* 2.7.13.4: the index update is visible before the notification (an MMIO exit). */
	barrier();
	tvm_write(VM_QUEUE_NOTIFY, q->qidx);
}

int tvq_wait_used(struct tvq *q, uint32_t *id, uint32_t *len, uint32_t timeout_ms)
{
	volatile uint16_t *used_idx = &q->used->idx;
	struct vring_used_elem *e;
	struct tiny_wait w;

	tiny_wait_start(&w, timeout_ms, TINY_STRIDE_POLL);
	while (*used_idx == q->used_seen)
		if (tiny_wait_over(&w) && *used_idx == q->used_seen)
			return -1;
	/* Read the element only after seeing the index (pairs with the device's release). */
	barrier();
	e = &q->used->ring[q->used_seen % q->size];
	*id = *(volatile uint32_t *)&e->id;
	*len = *(volatile uint32_t *)&e->len;
	q->used_seen++;
	q->pending--;
	return 0;
}

void tvq_expect_no_used(struct tvq *q, uint32_t ms, const char *what)
{
	volatile uint16_t *used_idx = &q->used->idx;
	struct tiny_wait w;

	tiny_wait_start(&w, ms, TINY_STRIDE_POLL);
	do {
		TINY_CHECK(*used_idx == q->used_seen,
			   "%s: the device published a used element (used->idx %u, %u seen) "
			   "%u ms into a %u ms watch",
			   what, *used_idx, q->used_seen, tiny_now_ms() - w.start_ms, ms);
	} while (!tiny_wait_over(&w));
}

uint32_t tvq_roundtrip(struct tvq *q, const struct tbuf *bufs, unsigned int n, const char *what)
{
	uint16_t head = tvq_add_chain(q, bufs, n);
	uint32_t id, len;

	tvq_publish(q, head);
	tvq_kick(q);
	if (tvq_wait_used(q, &id, &len, TVQ_WAIT_MS) < 0)
		tiny_fail("%s: no used element after %u ms (used->idx %u, Status 0x%x)", what,
			  TVQ_WAIT_MS, q->used->idx, tvm_read(VM_STATUS));
	TINY_CHECK(id == head, "%s: used element names descriptor %u, submitted %u", what, id,
		   head);
	return len;
}

void tvm_expect_interrupt(uint32_t bits, const char *what)
{
	struct tiny_wait w;
	uint32_t isr;

	/* The device may publish the used index a moment before it raises the interrupt. */
	tiny_wait_start(&w, TVQ_WAIT_MS, TINY_STRIDE_EXIT);
	while (((isr = tvm_read(VM_INTERRUPT_STATUS)) & bits) != bits)
		if (tiny_wait_over(&w) && ((isr = tvm_read(VM_INTERRUPT_STATUS)) & bits) != bits)
			tiny_fail("%s: InterruptStatus 0x%x lacks 0x%x after %u ms", what, isr,
				  bits, w.waited_ms);
	tvm_write(VM_INTERRUPT_ACK, isr);
	isr = tvm_read(VM_INTERRUPT_STATUS);
	TINY_CHECK((isr & bits) == 0, "%s: InterruptStatus 0x%x after InterruptACK", what, isr);
}

uint32_t tvm_balloon_target(void)
{
	uint32_t gen, pages;

	do {
		gen = tvm_read(VM_CONFIG_GENERATION);
		pages = tvm_read(VM_CONFIG + BALLOON_CFG_NUM_PAGES);
	} while (gen != tvm_read(VM_CONFIG_GENERATION));
	return pages;
}

void tvm_wait_balloon_target(uint32_t pages, const char *what)
{
	struct tiny_wait w;

	/* One look every 5 ms: a vCPU spinning on the registers would contend for
	 * the device's lock with what the host side measures. */
	tiny_wait_start(&w, TVQ_WAIT_MS, 1);
	while (tvm_balloon_target() != pages) {
		uint32_t t = tiny_now_ms();

		while (tiny_now_ms() - t < 5)
			cpu_relax();
		if (tiny_wait_over(&w) && tvm_balloon_target() != pages)
			tiny_fail("%s: the balloon target is %u pages, waited %u ms for %u", what,
				  tvm_balloon_target(), w.waited_ms, pages);
	}
	tvm_write(VM_INTERRUPT_ACK, VM_INT_CONFIG);
}
