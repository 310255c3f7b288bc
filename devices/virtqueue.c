// SPDX-License-Identifier: GPL-2.0
/*
 * Split virtqueue, device side (virtio 1.2 section 2.7).
 *
 * Everything in the rings is written by the guest and may change under us at
 * any moment. So: each shared field is read exactly once into a local and
 * only the local is checked and used (no TOCTOU); every index the guest hands
 * us is bounded before it is used; every buffer goes through
 * guest_mem__translate(), which checks addr + len for overflow; a chain may
 * not have more buffers than the queue has entries, which also ends loops.
 *
 * Ring memory is little-endian (2.4). The le*toh()/htole*() calls are no-ops
 * on x86 but say what the bytes are.
 */
#include "devices/virtqueue.h"

#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Byte offsets inside the available and used rings (2.7.6, 2.7.8). */
#define AVAIL_FLAGS	 0
#define AVAIL_IDX	 2
#define AVAIL_RING(i)	 (4 + 2 * (size_t)(i))
#define AVAIL_USED_EVENT AVAIL_RING /* used_event sits right after ring[size] */
#define USED_IDX	 2
#define USED_RING(i)	 (4 + VIRTQ_USED_ELEM_SIZE * (size_t)(i))
#define USED_AVAIL_EVENT USED_RING /* avail_event sits right after ring[size] */

/* Stop the compiler from re-reading guest memory instead of our local copy. */
#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

static const char *const error_names[VQ_ERR__COUNT] = {
	[VQ_ERR_NONE] = "none",
	[VQ_ERR_HEAD_OUT_OF_RANGE] = "head_out_of_range",
	[VQ_ERR_AVAIL_IDX_JUMP] = "avail_idx_jump",
	[VQ_ERR_NEXT_OUT_OF_RANGE] = "next_out_of_range",
	[VQ_ERR_CHAIN_TOO_LONG] = "chain_too_long",
	[VQ_ERR_BUF_OUT_OF_RAM] = "buf_out_of_ram",
	[VQ_ERR_ZERO_LEN] = "zero_len",
	[VQ_ERR_WRONG_ORDER] = "wrong_order",
	[VQ_ERR_BAD_INDIRECT] = "bad_indirect",
	[VQ_ERR_INDIRECT_NOT_NEGOTIATED] = "indirect_not_negotiated",
	[VQ_ERR_RING_OUT_OF_RAM] = "ring_out_of_ram",
	[VQ_ERR_BAD_RING_LAYOUT] = "bad_ring_layout",
	[VQ_ERR_HEAD_IN_FLIGHT] = "head_in_flight",
	[VQ_ERR_HOST_MEMORY] = "host_memory",
};

const char *virtqueue__error_name(enum vq_error err)
{
	if ((unsigned int)err >= VQ_ERR__COUNT || !error_names[err])
		return "unknown";
	return error_names[err];
}

static uint16_t *avail_u16(const struct virtqueue *vq, size_t off)
{
	return (uint16_t *)(vq->avail_hva + off);
}

static uint16_t *used_u16(const struct virtqueue *vq, size_t off)
{
	return (uint16_t *)(vq->used_hva + off);
}

/*
 * avail->idx, with acquire semantics: pairs with the driver's write barrier
 * (virtio_wmb() in Linux virtqueue_add_split) between filling avail->ring[]
 * (and the descriptors) and publishing the new avail->idx. Everything we read
 * after this load is at least as new as that index.
 */
static uint16_t read_avail_idx(const struct virtqueue *vq)
{
	return le16toh(__atomic_load_n(avail_u16(vq, AVAIL_IDX), __ATOMIC_ACQUIRE));
}

/*
 * EVENT_IDX (2.7.10): "notify me when you make the entry at last_avail_idx
 * available". A plain store; where it must be ordered against our next read
 * of avail->idx the caller adds a full barrier.
 */
static void publish_avail_event(struct virtqueue *vq)
{
	__atomic_store_n(used_u16(vq, USED_AVAIL_EVENT(vq->size)), htole16(vq->last_avail_idx),
			 __ATOMIC_RELAXED);
}

static bool is_aligned(uint64_t gpa, const void *hva, uint64_t align)
{
	/* The host pointer too: the atomics below need natural alignment. */
	return ((gpa | (uintptr_t)hva) & (align - 1)) == 0;
}

int virtqueue__activate(struct virtqueue *vq, const struct guest_mem *mem, bool event_idx,
			bool indirect_desc)
{
	uint16_t size = vq->size;
	uint8_t *desc, *avail, *used;

	vq->active = false;
	/* 2.7: the split ring's Queue Size is a power of two. */
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1))) {
		vq->stats.errors[VQ_ERR_BAD_RING_LAYOUT]++;
		log_ratelimited(LOG_WARN, "virtqueue: size %u is not a power of two in 1..%u", size,
				VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	desc = guest_mem__translate(mem, vq->desc_gpa, (uint64_t)size * VIRTQ_DESC_SIZE);
	avail = guest_mem__translate(mem, vq->avail_gpa, VIRTQ_AVAIL_SIZE(size));
	used = guest_mem__translate(mem, vq->used_gpa, VIRTQ_USED_SIZE(size));
	if (!desc || !avail || !used) {
		vq->stats.errors[VQ_ERR_RING_OUT_OF_RAM]++;
		log_ratelimited(LOG_WARN,
				"virtqueue: ring outside guest RAM (desc 0x%llx avail 0x%llx used "
				"0x%llx, size %u)",
				(unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
				(unsigned long long)vq->used_gpa, size);
		return -EINVAL;
	}
	/* 2.7 table "Virtqueue Part / Alignment": 16, 2 and 4 bytes. */
	if (!is_aligned(vq->desc_gpa, desc, VIRTQ_DESC_ALIGN) ||
	    !is_aligned(vq->avail_gpa, avail, VIRTQ_AVAIL_ALIGN) ||
	    !is_aligned(vq->used_gpa, used, VIRTQ_USED_ALIGN)) {
		vq->stats.errors[VQ_ERR_BAD_RING_LAYOUT]++;
		log_ratelimited(LOG_WARN,
				"virtqueue: misaligned ring (desc 0x%llx avail 0x%llx "
				"used 0x%llx)",
				(unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
				(unsigned long long)vq->used_gpa);
		return -EINVAL;
	}

	vq->mem = mem;
	vq->event_idx = event_idx;
	vq->indirect_desc = indirect_desc;
	vq->desc_hva = desc;
	vq->avail_hva = avail;
	vq->used_hva = used;
	/* The driver zeroes the rings before handing them over; we start at 0 too. */
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	memset(vq->heads_in_flight, 0, sizeof(vq->heads_in_flight));
	vq->active = true;
	return 0;
}

void virtqueue__reset(struct virtqueue *vq)
{
	struct vq_stats stats = vq->stats;

	memset(vq, 0, sizeof(*vq));
	vq->stats = stats;
}

/*
 * Copy descriptor `idx` out of a table in guest memory. Only the copy is
 * checked and used; the compiler barrier keeps the compiler from going back to
 * guest memory for a field later, where the guest may have rewritten it. An
 * indirect table need not be aligned, hence memcpy rather than atomics.
 */
static void read_desc(const uint8_t *table, uint32_t idx, struct virtq_desc *d)
{
	struct virtq_desc raw;

	memcpy(&raw, table + (size_t)idx * VIRTQ_DESC_SIZE, sizeof(raw));
	compiler_barrier();
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

/*
 * Walk the chain starting at `head` (< vq->size) into *chain: zero or more
 * direct descriptors, optionally ending in one indirect descriptor whose table
 * holds the rest (2.7.5.3.2: "The device MUST handle the case of zero or more
 * normal chained descriptors followed by a single descriptor with
 * flags&VIRTQ_DESC_F_INDIRECT").
 */
static enum vq_error walk_chain(struct virtqueue *vq, uint16_t head, struct vq_chain *chain)
{
	const uint8_t *table = vq->desc_hva;
	uint32_t table_size = vq->size;
	bool in_indirect = false, seen_writable = false;
	uint32_t idx = head;
	struct virtq_desc d;

	chain->head = head;
	chain->nr_bufs = 0;
	chain->nr_readable = 0;
	chain->readable_bytes = 0;
	chain->writable_bytes = 0;

	for (;;) {
		struct vq_buf *buf;
		void *hva;

		read_desc(table, idx, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: only if negotiated, one level, and never with NEXT. */
			if (!vq->indirect_desc)
				return VQ_ERR_INDIRECT_NOT_NEGOTIATED;
			if (in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return VQ_ERR_BAD_INDIRECT;
			/* A whole number of descriptors, at least one, at most the queue size. */
			if (d.len == 0 || d.len % VIRTQ_DESC_SIZE ||
			    d.len / VIRTQ_DESC_SIZE > vq->size)
				return VQ_ERR_BAD_INDIRECT;
			hva = guest_mem__translate(vq->mem, d.addr, d.len);
			if (!hva)
				return VQ_ERR_BUF_OUT_OF_RAM;
			/* We read the table: its pages present first (guest_mem.h). */
			if (guest_mem__prefault(vq->mem, d.addr, d.len) < 0)
				return VQ_ERR_HOST_MEMORY;
			/* 2.7.5.3.2: the WRITE flag of this descriptor is ignored. */
			table = hva;
			table_size = d.len / VIRTQ_DESC_SIZE;
			idx = 0;
			in_indirect = true;
			continue;
		}

		/* 2.7.5.3.1 / 2.7.5: no chain longer than the queue size. Ends loops too. */
		if (chain->nr_bufs >= vq->size)
			return VQ_ERR_CHAIN_TOO_LONG;
		if (d.len == 0)
			return VQ_ERR_ZERO_LEN;
		hva = guest_mem__translate(vq->mem, d.addr, d.len);
		if (!hva)
			return VQ_ERR_BUF_OUT_OF_RAM;
		/* 2.7.4.2: device-readable buffers first, then device-writable ones. */
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			seen_writable = true;
			chain->writable_bytes += d.len;
		} else {
			if (seen_writable)
				return VQ_ERR_WRONG_ORDER;
			chain->nr_readable++;
			chain->readable_bytes += d.len;
		}
		buf = &chain->bufs[chain->nr_bufs++];
		buf->gpa = d.addr;
		buf->len = d.len;
		buf->device_writable = d.flags & VIRTQ_DESC_F_WRITE;
		buf->hva = hva;

		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return VQ_ERR_NONE;
		if (d.next >= table_size)
			return VQ_ERR_NEXT_OUT_OF_RANGE;
		idx = d.next;
	}
}

/* The ring itself is unusable: count it once and stop using the queue. */
static enum vq_pop_result mark_broken(struct virtqueue *vq, enum vq_error e, enum vq_error *err)
{
	vq->broken = true;
	vq->stats.errors[e]++;
	vq->stats.chains_rejected++;
	*err = e;
	log_ratelimited(LOG_WARN,
			"virtqueue: ring broken (%s): avail idx %u, last seen %u, size %u",
			virtqueue__error_name(e), read_avail_idx(vq), vq->last_avail_idx, vq->size);
	return VQ_POP_BROKEN;
}

enum vq_pop_result virtqueue__pop(struct virtqueue *vq, struct vq_chain *chain, enum vq_error *err)
{
	enum vq_error dummy, e;
	uint16_t avail_idx, head;

	if (!err)
		err = &dummy;
	*err = VQ_ERR_NONE;
	if (!vq->active)
		return VQ_POP_EMPTY;
	if (vq->broken)
		return VQ_POP_BROKEN;

	avail_idx = read_avail_idx(vq);
	if (avail_idx == vq->last_avail_idx) {
		if (!vq->event_idx)
			return VQ_POP_EMPTY;
		/*
		 * Going idle: ask for a notification for the next buffer, then look
		 * once more. The full barrier orders our avail_event store before the
		 * re-read of avail->idx; it pairs with the driver's virtio_mb()
		 * between its avail->idx store and its avail_event read
		 * (virtqueue_kick_prepare_split). Either we see the new buffer here or
		 * the driver sees our avail_event and kicks.
		 */
		publish_avail_event(vq);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = read_avail_idx(vq);
		if (avail_idx == vq->last_avail_idx)
			return VQ_POP_EMPTY;
	}

	/* 2.7.6: the driver can be at most a full ring ahead of us. */
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->size)
		return mark_broken(vq, VQ_ERR_AVAIL_IDX_JUMP, err);
	/* Ordered after the avail->idx acquire above. Read once, then bounded. */
	head = le16toh(__atomic_load_n(
		avail_u16(vq, AVAIL_RING(vq->last_avail_idx & (vq->size - 1))), __ATOMIC_RELAXED));
	if (head >= vq->size)
		return mark_broken(vq, VQ_ERR_HEAD_OUT_OF_RANGE, err);
	/*
	 * A chain is the device's from the moment it is made available until
	 * it is used (2.7.13, 2.7.14): a head seen again before that is a
	 * driver bug, and serving it twice would let a guest have the device
	 * hold work for the same descriptors without bound.
	 */
	if (vq->heads_in_flight[head / 64] & (1ULL << (head % 64)))
		return mark_broken(vq, VQ_ERR_HEAD_IN_FLIGHT, err);
	vq->heads_in_flight[head / 64] |= 1ULL << (head % 64);

	vq->last_avail_idx++;
	if (vq->event_idx)
		publish_avail_event(vq);

	e = walk_chain(vq, head, chain);
	if (e != VQ_ERR_NONE) {
		vq->stats.errors[e]++;
		vq->stats.chains_rejected++;
		*err = e;
		log_ratelimited(LOG_WARN, "virtqueue: chain at head %u rejected: %s", head,
				virtqueue__error_name(e));
		return VQ_POP_REJECTED;
	}
	vq->stats.chains_popped++;
	return VQ_POP_OK;
}

int virtqueue__prefault_readable(const struct guest_mem *mem, const struct vq_chain *chain)
{
	const uint64_t ps = mem->page_size;
	uint64_t done_start = 1, done_end = 0; /* pages populated by the last call */

	if (!mem->prefault_reads)
		return 0;
	for (unsigned int i = 0; i < chain->nr_readable; i++) {
		const struct vq_buf *buf = &chain->bufs[i];
		uint64_t start = buf->gpa & ~(ps - 1), end = buf->gpa + buf->len;
		int ret;

		/* Inside RAM (translated by pop): gpa + len does not overflow. */
		if (start >= done_start && end <= done_end)
			continue;
		ret = guest_mem__prefault(mem, buf->gpa, buf->len);
		if (ret < 0)
			return ret;
		done_start = start;
		done_end = (end + ps - 1) & ~(ps - 1);
	}
	return 0;
}

void virtqueue__push(struct virtqueue *vq, uint16_t head, uint32_t written_len)
{
	uint32_t *elem;

	if (!vq->active)
		return;
	if (head >= vq->size) {
		/* A device model bug, not the guest's: heads come from virtqueue__pop(). */
		log_ratelimited(LOG_ERROR, "virtqueue: push of head %u >= size %u ignored", head,
				vq->size);
		return;
	}
	vq->heads_in_flight[head / 64] &= ~(1ULL << (head % 64));
	elem = (uint32_t *)(vq->used_hva + USED_RING(vq->used_idx & (vq->size - 1)));
	__atomic_store_n(&elem[0], htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&elem[1], htole32(written_len), __ATOMIC_RELAXED);
	vq->used_idx++;
	/*
	 * Release: the element (and whatever the device wrote into the buffers)
	 * is visible before the new used->idx. Pairs with the driver's
	 * virtio_rmb() after it reads used->idx (virtqueue_get_buf_ctx_split).
	 */
	__atomic_store_n(used_u16(vq, USED_IDX), htole16(vq->used_idx), __ATOMIC_RELEASE);
	vq->stats.used_pushed++;
}

bool virtqueue__should_notify(struct virtqueue *vq)
{
	uint16_t old, new, event, flags;
	bool valid, notify;

	if (!vq->active)
		return false;
	/*
	 * Full barrier: our used->idx store (push) must be globally visible
	 * before we read the driver's suppression state. Pairs with the
	 * driver's virtio_mb() between writing used_event / clearing
	 * NO_INTERRUPT and re-reading used->idx (virtqueue_enable_cb_delayed,
	 * virtqueue_poll). Without it each side could miss the other's update
	 * and the interrupt would be lost.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	old = vq->signalled_used;
	new = vq->used_idx;
	if (old == new)
		return false; /* nothing pushed since the last call (or since activation) */
	valid = vq->signalled_used_valid;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;

	if (vq->event_idx) {
		event = le16toh(__atomic_load_n(avail_u16(vq, AVAIL_USED_EVENT(vq->size)),
						__ATOMIC_RELAXED));
		/*
		 * 2.7.10 (vring_need_event): interrupt if used_event lies in
		 * [old, new), i.e. the used index crossed the point the driver asked
		 * about since our last check. The first time after activation we have
		 * no `old`, so notify.
		 */
		notify = !valid || (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	} else {
		flags = le16toh(__atomic_load_n(avail_u16(vq, AVAIL_FLAGS), __ATOMIC_RELAXED));
		/* 2.7.7.2: without EVENT_IDX the flag is only a hint, but we honour it. */
		notify = !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (!notify)
		vq->stats.notifications_suppressed++;
	return notify;
}

uint16_t virtqueue__pending(const struct virtqueue *vq)
{
	if (!vq->active || vq->broken)
		return 0;
	/* Can exceed vq->size if the driver is broken; virtqueue__pop() reports that. */
	return (uint16_t)(read_avail_idx(vq) - vq->last_avail_idx);
}
